import { build } from 'esbuild';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { ROUTE_GROUPS, ROUTES, routeKey, type RouteSpec } from '../../functions/handlers/http/route-table.js';
import type { Route } from '../../functions/handlers/http/http-handler.js';
import { ROUTE_GROUPS as IMPLEMENTED } from '../../functions/handlers/http/routes.js';

/**
 * route-table.ts is the data the CDK stack deploys (API Gateway routes, the JWT authorizer);
 * each `<group>.handler.ts` carries the implementations and enforces auth and roles at run time.
 * They must agree route by route.
 */
const ROOT = fileURLToPath(new URL('../../', import.meta.url));

const shape = (r: Pick<RouteSpec, 'method' | 'path' | 'auth' | 'roles'> | Route) => ({
  route: routeKey(r),
  auth: r.auth,
  roles: [...(r.roles ?? [])].sort(),
});
const byRoute = (a: { route: string }, b: { route: string }) => a.route.localeCompare(b.route);

describe('route-table.ts', () => {
  it('lists each route once', () => {
    const keys = ROUTES.map(routeKey);
    expect(keys.filter((k, i) => keys.indexOf(k) !== i)).toEqual([]);
  });

  it('has one handler module per group', () => {
    expect(Object.keys(IMPLEMENTED).sort()).toEqual([...ROUTE_GROUPS].sort());
  });

  it.each(ROUTE_GROUPS)(
    '%s.handler.ts implements exactly the routes listed for its group, with the same auth and roles',
    (group) => {
      const listed = ROUTES.filter((r) => r.group === group)
        .map(shape)
        .sort(byRoute);
      const implemented = IMPLEMENTED[group].routes.map(shape).sort(byRoute);
      expect(implemented).toEqual(listed);
    },
  );

  it('jwt routes name their roles; public routes have none', () => {
    const wrong = ROUTES.filter((r) => (r.auth === 'jwt') !== (r.roles !== undefined && r.roles.length > 0));
    expect(wrong.map(routeKey)).toEqual([]);
  });

  it('imports no code, and the CDK app reaches no handler through it (data-only modules)', async () => {
    // The app's module graph as esbuild resolves it, packages left out: our own modules only.
    const { metafile } = await build({
      entryPoints: [`${ROOT}lib/app.ts`],
      bundle: true,
      write: false,
      metafile: true,
      platform: 'node',
      format: 'esm',
      packages: 'external',
      logLevel: 'error',
      absWorkingDir: ROOT,
    });
    const functionsModules = Object.keys(metafile.inputs)
      .filter((p) => p.startsWith('functions/'))
      .sort();
    expect(functionsModules).toEqual([
      'functions/adapters/dynamodb/table-definition.ts',
      // the stream event source's filter criteria
      'functions/follow-ups/followed-types.ts',
      'functions/handlers/http/route-table.ts',
    ]);
  });
});
