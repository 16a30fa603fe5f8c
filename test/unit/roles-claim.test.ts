import type { APIGatewayProxyEventV2 } from 'aws-lambda';
import { describe, expect, it, vi } from 'vitest';
import { lambdaContext } from '../../bin/local/http-server.js';
import { claimsFrom, parseRolesClaim } from '../../functions/handlers/http/auth.js';
import { httpGroup, ok, type Route } from '../../functions/handlers/http/http-handler.js';
import { UnauthorizedError } from '../../functions/handlers/http/problem.js';
import { createObservability } from '../../functions/handlers/observability.js';

/**
 * Finding 6 (RL-12): the roles claim, as the local server hands it (the token's JSON array) and as
 * API Gateway's JWT authorizer hands it to the deployed handlers (a string such as "[agent admin]").
 */

describe('finding 6 / RL-12: parseRolesClaim', () => {
  it('finding 6: a JSON array of role names, or the bracketed string of the authorizer', () => {
    expect(parseRolesClaim(['agent', 'supervisor'])).toEqual({ ok: true, roles: ['agent', 'supervisor'], unknown: [] });
    expect(parseRolesClaim('[agent supervisor]')).toEqual({ ok: true, roles: ['agent', 'supervisor'], unknown: [] });
    expect(parseRolesClaim('[admin]')).toEqual({ ok: true, roles: ['admin'], unknown: [] });
    expect(parseRolesClaim([])).toEqual({ ok: true, roles: [], unknown: [] });
    expect(parseRolesClaim('[]')).toEqual({ ok: true, roles: [], unknown: [] });
  });

  it('finding 6: unknown role names are set apart (dropped), not refused', () => {
    expect(parseRolesClaim(['agent', 'superuser', 'Admin'])).toEqual({
      ok: true,
      roles: ['agent'],
      unknown: ['superuser', 'Admin'],
    });
    expect(parseRolesClaim('[billing:read agent]')).toEqual({ ok: true, roles: ['agent'], unknown: ['billing:read'] });
  });

  it('finding 6: an element with a separator (space, comma, bracket), empty or not a string is refused', () => {
    const refused: unknown[] = [
      ['read admin'],
      ['agent', 'read admin'],
      ['read,admin'],
      ['[admin]'],
      ['admin]'],
      ['read\nadmin'],
      ['read\u00a0admin'],
      ['admin\u0000'],
      [''],
      ['x'.repeat(65)],
      ['agent', 1],
      [null],
      [['admin']],
      '[read,admin]',
      '[agent  admin]',
      '[ admin]',
      '[[admin]]',
      '[agent] [admin]',
    ];
    for (const claim of refused) expect(parseRolesClaim(claim), JSON.stringify(claim)).toMatchObject({ ok: false });
  });

  it('finding 6: any other form of the claim is refused: a bare string, a list in a string, an object, nothing', () => {
    for (const claim of ['admin', 'agent,admin', 'agent admin', '', { admin: true }, 1, true, null, undefined])
      expect(parseRolesClaim(claim), JSON.stringify(claim)).toMatchObject({ ok: false });
  });
});

describe('finding 6 / RL-12: claimsFrom (the deployed handlers)', () => {
  const base = { sub: 'alice', org: 'acme' };

  it('finding 6: refuses a roles claim whose elements could split into others (401)', () => {
    for (const roles of ['[read,admin]', ['read admin'], 'admin', undefined])
      expect(() => claimsFrom({ ...base, roles }), JSON.stringify(roles)).toThrow(UnauthorizedError);
  });

  it('finding 6: drops unknown roles and reports them to the caller to log', () => {
    const onUnknown = vi.fn();
    expect(claimsFrom({ ...base, roles: '[agent superuser]' }, onUnknown)).toEqual({ ...base, roles: ['agent'] });
    expect(onUnknown).toHaveBeenCalledWith({ ...base, roles: ['superuser'] });
    onUnknown.mockClear();
    expect(claimsFrom({ ...base, roles: ['supervisor'] }, onUnknown)).toEqual({ ...base, roles: ['supervisor'] });
    expect(onUnknown).not.toHaveBeenCalled();
  });
});

describe('finding 6 / RL-12: a deployed HTTP handler given the authorizer claims API Gateway passes on', () => {
  const route: Route = {
    auth: 'jwt',
    method: 'GET',
    path: '/v1/agents/{id}',
    handle: async ({ claims }) => ok({ roles: claims.roles }),
  };
  const obs = createObservability({
    serviceName: 'roles-claim-test',
    metricsNamespace: 'Test',
    metrics: false,
    tracing: false,
    logLevel: 'WARN',
  });
  const handler = httpGroup([route], {}, obs);
  const event = (claims: Record<string, unknown>) =>
    ({
      version: '2.0',
      routeKey: 'GET /v1/agents/{id}',
      rawPath: '/v1/agents/me',
      headers: {},
      pathParameters: { id: 'me' },
      isBase64Encoded: false,
      requestContext: { authorizer: { jwt: { claims, scopes: [] } } },
    }) as unknown as APIGatewayProxyEventV2;

  it('finding 6: "[agent superuser]" gives the agent role; the unknown role is logged', async () => {
    // Prepare
    const warn = vi.spyOn(obs.logger, 'warn').mockImplementation(() => undefined);

    // Act
    const out = await handler(event({ sub: 'alice', org: 'acme', roles: '[agent superuser]' }), lambdaContext('t'));

    // Assess
    expect({ status: out.statusCode, body: JSON.parse(String(out.body)) }).toEqual({
      status: 200,
      body: { roles: ['agent'] },
    });
    expect(warn).toHaveBeenCalledWith(expect.stringMatching(/unknown roles/), {
      sub: 'alice',
      org: 'acme',
      roles: ['superuser'],
    });
    warn.mockRestore();
  });

  it('finding 6: "[read,admin]" (an element with a comma) is a 401 problem+json, not admin', async () => {
    // Act
    const out = await handler(event({ sub: 'alice', org: 'acme', roles: '[read,admin]' }), lambdaContext('t'));

    // Assess
    expect(out.statusCode).toBe(401);
    expect(out.headers).toMatchObject({ 'content-type': 'application/problem+json' });
    expect(JSON.parse(String(out.body))).toMatchObject({ status: 401, type: 'urn:problem:unauthorized' });
  });
});
