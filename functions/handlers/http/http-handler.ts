import middy from '@middy/core';
import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2, Context } from 'aws-lambda';
import type * as z from 'zod/mini';
import { NotFoundError, ValidationError } from '../../domain/errors.js';
import { firstMalformedString } from '../../use-cases/ingest-webhook.use-case.js';
import { observability, type Observability } from '../observability.js';
import { claimsFrom, idSchema, requireRole, type Claims, type Role } from './auth.js';
import { problemResponse, toProblem, zodFieldErrors } from './problem.js';
// types only: the route table's data stays out of the bundles
import type { RouteSpec } from './route-table.js';

export type { Method } from './route-table.js';

export interface RouteRequest {
  claims: Claims;
  params: Record<string, string>;
  query: Record<string, string | undefined>;
  headers: Record<string, string | undefined>;
  rawBody: string;
  /** parsed JSON, or undefined for an empty body */
  json: unknown;
  context: Context;
}

export interface RouteResponse {
  status: number;
  /** undefined: no body (304) */
  body: unknown;
  headers?: Record<string, string>;
}

/**
 * A route's implementation, in its group's handler module. Method, path, auth and roles repeat the
 * route's entry in route-table.ts (API Gateway enforces that one, the handler this one); a unit test
 * keeps the two equal, so the bundle needs no table and the stack no handler. `R`: what the group's
 * handlers use (its store, the engine's dependencies...), built by its handler factory.
 */
export interface Route<R = unknown> extends Pick<RouteSpec, 'method' | 'path' | 'auth'> {
  /** any of these roles (jwt routes) */
  roles?: readonly Role[];
  /** false: the handler reads `rawBody` itself (webhooks verify the signature before parsing) */
  parseJson?: boolean;
  handle(req: RouteRequest, rt: R): Promise<RouteResponse>;
}

/** API Gateway's routeKey of a route, which the handlers dispatch on: `GET /v1/conversations/{id}`. */
export const routeKey = (r: Pick<Route, 'method' | 'path'>): string => `${r.method} ${r.path}`;

/** Parses with a schema; failures are 400 with the field errors (RL-4). */
export function parse<S extends z.ZodMiniType>(schema: S, value: unknown, where = ''): z.infer<S> {
  const r = schema.safeParse(value);
  if (!r.success)
    throw new ValidationError(
      `the request ${where || 'body'} is not valid`,
      zodFieldErrors(r.error, where === 'body' ? '' : where),
    );
  return r.data;
}

const lowerHeaders = (h: APIGatewayProxyEventV2['headers'] | undefined): Record<string, string | undefined> =>
  Object.fromEntries(Object.entries(h ?? {}).map(([k, v]) => [k.toLowerCase(), v]));

function rawBodyOf(event: APIGatewayProxyEventV2): string {
  if (!event.body) return '';
  return event.isBase64Encoded ? Buffer.from(event.body, 'base64').toString('utf8') : event.body;
}

/**
 * One Lambda handler for a group of routes, dispatched on API Gateway's routeKey, each route called
 * with `rt`. Middleware first: logging context, then problem+json for every error (the one place
 * errors become HTTP).
 */
export function httpGroup<R>(routes: readonly Route<R>[], rt: R, obs: Observability) {
  const { logger } = obs;
  const table = new Map(routes.map((r) => [routeKey(r), r]));
  const base = async (event: APIGatewayProxyEventV2, context: Context): Promise<APIGatewayProxyStructuredResultV2> => {
    const route = table.get(event.routeKey);
    if (!route) throw new NotFoundError('route', event.routeKey);
    const params: Record<string, string> = {};
    for (const [k, v] of Object.entries(event.pathParameters ?? {})) params[k] = parse(idSchema, v ?? '', `path.${k}`);
    const claims =
      route.auth === 'jwt'
        ? claimsFrom(
            (event.requestContext as { authorizer?: { jwt?: { claims?: unknown } } }).authorizer?.jwt?.claims,
            (dropped) => logger.warn('RL-12: unknown roles dropped from the token', dropped),
          )
        : { sub: '', org: '', roles: [] };
    if (route.auth === 'jwt' && route.roles) requireRole(claims, ...route.roles);
    const rawBody = rawBodyOf(event);
    let json: unknown;
    if (rawBody.trim() !== '' && route.method !== 'GET' && route.parseJson !== false) {
      json = parseJsonBody(rawBody);
    }
    logger.appendKeys({ org: claims.org || undefined, route: event.routeKey, conversationId: params.id });
    const res = await route.handle(
      {
        claims,
        params,
        query: event.queryStringParameters ?? {},
        headers: lowerHeaders(event.headers),
        rawBody,
        json,
        context,
      },
      rt,
    );
    if (res.body === undefined) return { statusCode: res.status, headers: { ...res.headers } };
    return {
      statusCode: res.status,
      headers: { 'content-type': 'application/json', ...res.headers },
      body: JSON.stringify(res.body),
    };
  };
  return middy(base)
    .use(observability(obs))
    .use({
      after: async (request) => {
        if (request.event.routeKey.includes('/actions/') && request.response?.statusCode === 200)
          obs.count('Transitions');
      },
      onError: async (request) => {
        const p = toProblem(request.error);
        if (p.status >= 500 && p.status !== 501) logger.error('request failed', { error: request.error as Error });
        if (p.status === 409) obs.count('Conflicts');
        request.response = problemResponse(p);
      },
    });
}

export const ok = (body: unknown, status = 200, headers?: Record<string, string>): RouteResponse => ({
  status,
  body,
  ...(headers ? { headers } : {}),
});

/** JSON bodies: malformed JSON, or strings that are not well-formed Unicode, are 400 (RL-4). */
export function parseJsonBody(rawBody: string): unknown {
  let json: unknown;
  try {
    json = JSON.parse(rawBody);
  } catch {
    throw new ValidationError('the body is not valid JSON', [{ field: '(body)', message: 'malformed JSON' }]);
  }
  const bad = firstMalformedString(json);
  if (bad)
    throw new ValidationError('the body nests too deep or has a string that is not well-formed Unicode', [
      { field: bad, message: 'nested deeper than 32 levels, or contains a lone surrogate' },
    ]);
  return json;
}
