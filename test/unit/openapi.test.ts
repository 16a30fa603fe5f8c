import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { ACTIONS } from '../../functions/handlers/http/conversations.handler.js';
import { ROUTES, routeKey } from '../../functions/handlers/http/route-table.js';

/**
 * openapi.yaml and ROUTES (route-table.ts: the list the CDK stack declares in API Gateway, and
 * which the handlers implement) must describe the same routes, both ways, with the same
 * authentication.
 */

type SecurityRequirement = Record<string, string[]>;

interface Operation {
  operationId?: string;
  tags?: string[];
  security?: SecurityRequirement[];
  'x-local-only'?: boolean;
  'x-roles'?: string[];
}

interface Parameter {
  name: string;
  in: string;
  schema?: { enum?: string[] };
}

interface OpenApiDoc {
  openapi: string;
  paths: Record<string, Record<string, Operation | Parameter[] | undefined>>;
  components?: { securitySchemes?: Record<string, { type?: string; scheme?: string }> };
}

const HTTP_METHODS = ['get', 'put', 'post', 'delete', 'patch', 'options', 'head', 'trace'] as const;

const doc = parse(readFileSync(new URL('../../openapi.yaml', import.meta.url), 'utf8')) as OpenApiDoc;

interface DocumentedOperation {
  key: string;
  path: string;
  method: string;
  op: Operation;
}

const operations: DocumentedOperation[] = Object.entries(doc.paths ?? {}).flatMap(([path, item]) =>
  HTTP_METHODS.filter((m) => item[m] !== undefined).map((m) => ({
    key: `${m.toUpperCase()} ${path}`,
    path,
    method: m,
    op: item[m] as Operation,
  })),
);
const documented = new Map(operations.map((o) => [o.key, o]));
const routes = new Map(ROUTES.map((r) => [routeKey(r), r]));

const list = (keys: readonly string[]): string => keys.map((k) => `\n  - ${k}`).join('');

describe('openapi.yaml', () => {
  it('is OpenAPI 3.1.x', () => {
    expect(doc.openapi, 'the openapi field').toMatch(/^3\.1\.\d+$/);
  });

  it('documents every route of ROUTES with the same method', () => {
    const missing = [...routes.keys()].filter((k) => !documented.has(k));
    expect(missing, `routes in ROUTES but not in openapi.yaml:${list(missing)}`).toEqual([]);
  });

  it('documents no route that ROUTES lacks (except x-local-only ones)', () => {
    const extra = operations.filter((o) => o.op['x-local-only'] !== true && !routes.has(o.key)).map((o) => o.key);
    expect(
      extra,
      `operations in openapi.yaml but not in ROUTES (mark local-only ones x-local-only: true):${list(extra)}`,
    ).toEqual([]);
  });

  it('declares bearerAuth on jwt routes and no security on public ones', () => {
    const scheme = doc.components?.securitySchemes?.bearerAuth;
    expect(scheme, 'components.securitySchemes.bearerAuth').toMatchObject({ type: 'http', scheme: 'bearer' });
    const wrong = ROUTES.flatMap((r) => {
      const o = documented.get(routeKey(r));
      if (!o) return [];
      const security = o.op.security;
      const ok =
        r.auth === 'jwt'
          ? security !== undefined && security.some((s) => 'bearerAuth' in s)
          : Array.isArray(security) && security.length === 0;
      return ok
        ? []
        : [
            `${routeKey(r)} (auth ${r.auth}; expected ${r.auth === 'jwt' ? 'security: [{ bearerAuth: [] }]' : 'security: []'}, got ${JSON.stringify(security)})`,
          ];
    });
    expect(wrong, `operations whose security differs from ROUTES:${list(wrong)}`).toEqual([]);
  });

  it('tags each operation with its route group and lists the same roles', () => {
    const wrong = ROUTES.flatMap((r) => {
      const o = documented.get(routeKey(r));
      if (!o) return [];
      const problems: string[] = [];
      if (!o.op.tags?.includes(r.group))
        problems.push(`${routeKey(r)}: tags ${JSON.stringify(o.op.tags)} lack the group "${r.group}"`);
      const roles = [...(r.roles ?? [])].sort();
      const documentedRoles = [...(o.op['x-roles'] ?? [])].sort();
      if (JSON.stringify(roles) !== JSON.stringify(documentedRoles))
        problems.push(
          `${routeKey(r)}: x-roles ${JSON.stringify(documentedRoles)}, ROUTES roles ${JSON.stringify(roles)}`,
        );
      return problems;
    });
    expect(wrong, `operations out of step with ROUTES:${list(wrong)}`).toEqual([]);
  });

  it('gives each operation a unique operationId', () => {
    const ids = operations.map((o) => o.op.operationId);
    const missing = operations.filter((o) => !o.op.operationId).map((o) => o.key);
    const duplicated = ids.filter((id, i) => id !== undefined && ids.indexOf(id) !== i).map(String);
    expect(
      [...missing, ...duplicated],
      `operations without or with a duplicated operationId:${list([...missing, ...duplicated])}`,
    ).toEqual([]);
  });

  it('lists the conversation actions of ACTIONS', () => {
    const path = '/v1/conversations/{id}/actions/{action}';
    const item = doc.paths[path] ?? {};
    const params = [
      ...((item.parameters as Parameter[] | undefined) ?? []),
      ...((item.post as { parameters?: Parameter[] } | undefined)?.parameters ?? []),
    ];
    const resolved = params.map((p) => {
      const ref = (p as { $ref?: string }).$ref;
      return ref
        ? (ref
            .slice(2)
            .split('/')
            .reduce<unknown>((o, k) => (o as Record<string, unknown> | undefined)?.[k], doc) as Parameter)
        : p;
    });
    const action = resolved.find((p) => p.in === 'path' && p.name === 'action');
    expect([...(action?.schema?.enum ?? [])].sort(), `the action enum of ${path}`).toEqual([...ACTIONS].sort());
  });
});
