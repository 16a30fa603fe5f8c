import { decodeJwt } from 'jose';
import { execFile } from 'node:child_process';
import { createHmac } from 'node:crypto';
import { connect } from 'node:net';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LocalRuntime } from '../../bin/local/runtime.js';
import { signLocalToken } from '../../bin/local/token.js';
import { Api, setupOrg, startRuntime, type DemoOrg, type HttpResult } from '../support/e2e.js';

/**
 * Finding 6 (RL-11, RL-12): the local server stands in for API Gateway's JWT authorizer, so it must
 * refuse at least what the authorizer refuses: tokens without `exp`, `iat`/`nbf` in the future, the
 * wrong issuer or audience, oversized or duplicated Authorization headers, and roles claims whose
 * elements could turn into other roles. Every refusal is 4xx problem+json and writes nothing.
 */

const SECRET = 'local-dev-secret';
const ISSUER = 'urn:contact-center-engine:local';
const AUDIENCE = 'contact-center-engine';

let rt: LocalRuntime;
let api: Api;
let o: DemoOrg;
let seq = 0;

beforeAll(async () => {
  rt = await startRuntime();
  api = new Api(rt.url);
  o = await setupOrg(api);
});
afterAll(() => rt?.stop());

const nowSeconds = (): number => Math.floor(Date.now() / 1000);

/**
 * An HS256 token signed with the local secret, by hand (so that any claim value can be sent). By
 * default everything the local server wants (iss, aud, iat, exp in an hour) with `claims` on top; a
 * claim given as undefined is left out.
 */
async function mint(claims: Record<string, unknown>, key: string = SECRET): Promise<string> {
  const all: Record<string, unknown> = {
    sub: 'admin',
    org: o.org,
    roles: ['admin'],
    iss: ISSUER,
    aud: AUDIENCE,
    iat: nowSeconds(),
    exp: nowSeconds() + 3600,
    ...claims,
  };
  const payload = Object.fromEntries(Object.entries(all).filter(([, v]) => v !== undefined));
  const part = (v: unknown): string => Buffer.from(JSON.stringify(v)).toString('base64url');
  const signed = `${part({ alg: 'HS256', typ: 'JWT' })}.${part(payload)}`;
  return `${signed}.${createHmac('sha256', key).update(signed).digest('base64url')}`;
}

function expectProblem(r: HttpResult, status: number, what: string): void {
  expect(r.status, `${what}: ${JSON.stringify(r.body)}`).toBe(status);
  expect(r.contentType, what).toMatch(/^application\/problem\+json/);
  expect(r.body, what).toMatchObject({ status, type: expect.any(String), title: expect.any(String) });
  expect(String(r.body.detail).length, what).toBeGreaterThan(0);
}

/**
 * An admin write (PUT of a new queue) with these request headers: it must be refused with `status`,
 * and the queue must not exist afterwards (read with a proper admin token).
 */
async function expectRefusedWrite(headers: Record<string, string>, status: number, what: string): Promise<void> {
  const id = `q-refused-${++seq}`;
  const r = await api.call('PUT', `/v1/admin/queues/${id}`, { name: what.slice(0, 100) }, headers);
  expectProblem(r, status, what);
  expect((await o.admin.get(`/v1/admin/queues/${id}`)).status, `${what}: nothing written`).toBe(404);
}

const bearer = (token: string): Record<string, string> => ({ authorization: `Bearer ${token}` });

/** An admin write with a token that must pass: the control for each refusal. */
async function expectAcceptedWrite(token: string, what: string): Promise<void> {
  const id = `q-accepted-${++seq}`;
  const r = await api.call('PUT', `/v1/admin/queues/${id}`, { name: 'accepted' }, bearer(token));
  expect(r.status, `${what}: ${JSON.stringify(r.body)}`).toBe(200);
}

/** One raw HTTP/1.1 exchange (fetch cannot send a header twice): status, content type and body. */
function rawRequest(
  url: string,
  head: string[],
  body = '',
): Promise<{ status: number; contentType: string; body: string }> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve, reject) => {
    const socket = connect(Number(port), hostname);
    let data = '';
    socket.setEncoding('utf8');
    socket.on('data', (d: string) => (data += d));
    socket.on('error', reject);
    socket.on('end', () => {
      const [top = '', body = ''] = data.split('\r\n\r\n');
      const status = Number(/^HTTP\/1\.1 (\d{3})/.exec(top)?.[1]);
      const contentType = /\r\ncontent-type: ([^\r]*)/i.exec(top)?.[1] ?? '';
      resolve({ status, contentType, body });
    });
    socket.write(
      `${[...head, `content-length: ${Buffer.byteLength(body)}`, 'connection: close'].join('\r\n')}\r\n\r\n${body}`,
    );
  });
}

describe('finding 6 / RL-11: the local JWT check is at least as strict as the JWT authorizer', () => {
  it('finding 6: a token as `npm run token` and the tests mint it (iss, aud, iat, exp) is accepted', async () => {
    // Prepare
    const token = await signLocalToken({ org: o.org, sub: 'admin', roles: ['admin'] });

    // Act, Assess
    expect(decodeJwt(token)).toMatchObject({ iss: ISSUER, aud: AUDIENCE, exp: expect.any(Number) });
    await expectAcceptedWrite(token, 'signLocalToken');
    await expectAcceptedWrite(await mint({}), 'minted with every claim');
  });

  it('finding 6: a token without exp is 401, or with exp already past (no skew for expiry)', async () => {
    await expectRefusedWrite(bearer(await mint({ exp: undefined })), 401, 'no exp');
    await expectRefusedWrite(bearer(await mint({ exp: nowSeconds() - 5 })), 401, 'exp 5 s ago');
    await expectRefusedWrite(bearer(await mint({ exp: 'tomorrow' })), 401, 'exp not a number');
  });

  it('finding 6: iat or nbf more than 60 s in the future is 401; a little ahead (clock skew) is accepted', async () => {
    await expectRefusedWrite(bearer(await mint({ iat: nowSeconds() + 120 })), 401, 'iat in 2 minutes');
    await expectRefusedWrite(bearer(await mint({ nbf: nowSeconds() + 120 })), 401, 'nbf in 2 minutes');
    await expectRefusedWrite(bearer(await mint({ iat: 'now' })), 401, 'iat not a number');
    await expectAcceptedWrite(await mint({ iat: nowSeconds() + 20, nbf: nowSeconds() + 20 }), 'iat and nbf 20 s ahead');
    await expectAcceptedWrite(await mint({ iat: undefined, nbf: nowSeconds() - 60 }), 'no iat, nbf past');
  });

  it('finding 6: a wrong or missing iss or aud is 401', async () => {
    await expectRefusedWrite(bearer(await mint({ iss: 'local' })), 401, 'iss local (the old token script)');
    await expectRefusedWrite(bearer(await mint({ iss: undefined })), 401, 'no iss');
    await expectRefusedWrite(bearer(await mint({ aud: 'another-api' })), 401, 'wrong aud');
    await expectRefusedWrite(bearer(await mint({ aud: undefined })), 401, 'no aud');
    // API Gateway's client_id stands for aud only in AWS; locally aud is required
    await expectRefusedWrite(bearer(await mint({ aud: undefined, client_id: AUDIENCE })), 401, 'client_id, no aud');
    await expectAcceptedWrite(await mint({ aud: ['another-api', AUDIENCE] }), 'aud list holding the audience');
  });

  it('finding 6: a token signed with another key or algorithm is still 401', async () => {
    await expectRefusedWrite(bearer(await mint({}, 'not-the-local-secret')), 401, 'another key');
    const [header, payload] = (await mint({})).split('.');
    const none = `${Buffer.from('{"alg":"none"}').toString('base64url')}.${payload}.`;
    expect(header).toBeTruthy();
    await expectRefusedWrite(bearer(none), 401, 'alg none');
  });

  it('finding 6: an Authorization header over 10 KiB is 431 problem+json, even around a valid token', async () => {
    // Prepare: a genuine admin token made large by a claim; garbage of the same size; past node's 16 KiB
    const big = await mint({ pad: 'x'.repeat(8_000) });
    expect(big.length).toBeGreaterThan(10 * 1024);

    // Act, Assess
    await expectRefusedWrite(bearer(big), 431, 'valid but 11 KiB');
    await expectRefusedWrite({ authorization: `Bearer ${'a'.repeat(10 * 1024)}` }, 431, 'garbage over 10 KiB');
    // exactly at the limit: not too large (and not a token: 401)
    await expectRefusedWrite({ authorization: `Bearer ${'a'.repeat(10 * 1024 - 7)}` }, 401, 'garbage of 10 KiB');
    // past node:http's own header limit: node answers before the server sees the request, as problem+json too
    const huge = await rawRequest(rt.url, [
      `PUT /v1/admin/queues/q-huge HTTP/1.1`,
      `host: ${new URL(rt.url).host}`,
      `authorization: Bearer ${'a'.repeat(20 * 1024)}`,
    ]);
    expect(huge.status).toBe(431);
    expect(huge.contentType).toMatch(/^application\/problem\+json/);
    expect(JSON.parse(huge.body)).toMatchObject({ status: 431, type: 'urn:problem:header-too-large' });
    expect((await o.admin.get('/v1/admin/queues/q-huge')).status).toBe(404);
  });

  it('finding 6: two Authorization headers are 400 problem+json, whichever token comes first', async () => {
    // Prepare: a genuine admin token, and a second header (node:http would keep only the first)
    const good = await mint({});
    const body = JSON.stringify({ name: 'twice' });
    const send = (first: string, second: string) =>
      rawRequest(
        rt.url,
        [
          'PUT /v1/admin/queues/q-twice HTTP/1.1',
          `host: ${new URL(rt.url).host}`,
          `authorization: ${first}`,
          `Authorization: ${second}`,
          'content-type: application/json',
        ],
        body,
      );

    // Act
    const results = [
      await send(`Bearer ${good}`, 'Bearer garbage'),
      await send('Bearer garbage', `Bearer ${good}`),
      await send(`Bearer ${good}`, `Bearer ${good}`),
    ];

    // Assess
    for (const r of results) {
      expect(r.status, r.body).toBe(400);
      expect(r.contentType).toMatch(/^application\/problem\+json/);
      expect(JSON.parse(r.body)).toMatchObject({
        status: 400,
        type: 'urn:problem:validation',
        errors: [{ field: 'header.Authorization' }],
      });
    }
    expect((await o.admin.get('/v1/admin/queues/q-twice')).status).toBe(404);
  });
});

describe('finding 6 / RL-12: the roles claim is a list of role names, nothing that could split into others', () => {
  it('finding 6: role elements with a space, comma or bracket are 401 ("read admin" never becomes admin)', async () => {
    for (const roles of [
      ['read admin'],
      ['agent', 'read admin'],
      ['read,admin'],
      ['[admin]'],
      ['admin]'],
      ['read\tadmin'],
      [''],
      ['agent', 1],
      ['agent', null],
      'admin',
      'agent,admin',
      '[read,admin]',
      '[agent  admin]',
      { admin: true },
      undefined,
    ])
      await expectRefusedWrite(bearer(await mint({ roles })), 401, `roles ${JSON.stringify(roles)}`);
  });

  it("finding 6: a JSON array of names and the authorizer's bracketed string both give the roles", async () => {
    // Act: alice lists bob's conversations, which only a supervisor (or admin) may do
    const asArray = await api
      .as(await mint({ sub: 'alice', roles: ['agent', 'supervisor'] }))
      .get('/v1/conversations?agentId=bob');
    const asString = await api
      .as(await mint({ sub: 'alice', roles: '[agent supervisor]' }))
      .get('/v1/conversations?agentId=bob');
    const agentOnly = await api.as(await mint({ sub: 'alice', roles: '[agent]' })).get('/v1/conversations?agentId=bob');

    // Assess
    expect([asArray.status, asString.status]).toEqual([200, 200]);
    expectProblem(agentOnly, 403, 'agent only');
    await expectAcceptedWrite(await mint({ roles: '[admin]' }), 'bracketed admin');
  });

  it('finding 6: unknown roles are dropped: the known ones stay, a token of unknown roles only has none', async () => {
    // Act
    const me = await api.as(await mint({ sub: 'alice', roles: ['agent', 'superuser'] })).get('/v1/agents/me');

    // Assess
    expect(me.status).toBe(200);
    await expectRefusedWrite(bearer(await mint({ roles: ['superuser', 'root'] })), 403, 'unknown roles only');
    await expectRefusedWrite(bearer(await mint({ roles: ['Admin'] })), 403, 'Admin (case matters)');
  });
});

describe('finding 6: issuer and audience are configurable (LOCAL_JWT_ISSUER, LOCAL_JWT_AUDIENCE)', () => {
  it('finding 6: `npm run token` signs with LOCAL_JWT_ISSUER and LOCAL_JWT_AUDIENCE, and exp', async () => {
    // Act: the token script, with the variables set
    const { stdout } = await promisify(execFile)(
      'npm',
      ['run', '-s', 'token', '--', '--org', 'acme', '--sub', 'alice', '--roles', 'agent,supervisor'],
      {
        cwd: new URL('../..', import.meta.url).pathname,
        env: { ...process.env, LOCAL_JWT_ISSUER: 'https://idp.example.com/', LOCAL_JWT_AUDIENCE: 'engine-api' },
      },
    );

    // Assess
    const claims = decodeJwt(stdout.trim());
    expect(claims).toMatchObject({
      iss: 'https://idp.example.com/',
      aud: 'engine-api',
      sub: 'alice',
      org: 'acme',
      roles: ['agent', 'supervisor'],
    });
    expect(claims.exp).toBeGreaterThan(nowSeconds());
  });

  it('finding 6: a runtime with another issuer and audience accepts its tokens and refuses the defaults', async () => {
    // Prepare
    const jwt = { issuer: 'https://idp.example.com/', audience: 'engine-api' };
    const other = await startRuntime({ jwt });
    try {
      const otherApi = new Api(other.url);
      const org = `${o.org}-x`;

      // Act
      const theirs = await otherApi
        .as(await signLocalToken({ org, sub: 'admin', roles: ['admin'] }, jwt))
        .put('/v1/admin/queues/q1', { name: 'x' });
      const defaults = await otherApi
        .as(await signLocalToken({ org, sub: 'admin', roles: ['admin'] }))
        .put('/v1/admin/queues/q2', { name: 'x' });

      // Assess
      expect(theirs.status).toBe(200);
      expectProblem(defaults, 401, 'default issuer and audience');
      expect(
        (
          await otherApi
            .as(await signLocalToken({ org, sub: 'admin', roles: ['admin'] }, jwt))
            .get('/v1/admin/queues/q2')
        ).status,
      ).toBe(404);
    } finally {
      await other.stop();
    }
  });
});
