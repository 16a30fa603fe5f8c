import middy from '@middy/core';
import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2, Context } from 'aws-lambda';
import { NotFoundError } from '../../domain/errors.js';
import type { Route } from './http-handler.js';
import { problemResponse, toProblem } from './problem.js';

/**
 * Liveness. It answers without touching any data, so unlike the other groups it does not go
 * through http-handler.ts and the runtime wiring (AWS clients, Powertools): its bundle stays small
 * (test/infra/bundles.test.ts holds it to 64 KiB) and its cold start short. Errors are
 * problem+json all the same.
 */
export const healthRoutes: Route[] = [
  { auth: 'none', method: 'GET', path: '/health', handle: async () => ({ status: 200, body: { ok: true } }) },
];

const NO_CLAIMS = { sub: '', org: '', roles: [] };

export const handler = middy(
  async (event: APIGatewayProxyEventV2, context: Context): Promise<APIGatewayProxyStructuredResultV2> => {
    const route = healthRoutes.find((r) => `${r.method} ${r.path}` === event.routeKey);
    if (!route) throw new NotFoundError('route', event.routeKey);
    const res = await route.handle(
      {
        claims: NO_CLAIMS,
        params: {},
        query: {},
        headers: {},
        rawBody: '',
        json: undefined,
        context,
      },
      undefined,
    );
    return { statusCode: res.status, headers: { 'content-type': 'application/json' }, body: JSON.stringify(res.body) };
  },
).use({
  onError: async (request) => {
    const p = toProblem(request.error);
    // no Powertools logger here: with the function's JSON log format, Lambda logs this as level ERROR
    if (p.status >= 500) console.error('request failed', request.error);
    request.response = problemResponse(p);
  },
});

/** The same handler for the local runtime, which builds every group from its configuration. */
export const createHandler = (_config?: unknown): typeof handler => handler;
