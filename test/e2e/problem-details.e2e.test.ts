import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LocalRuntime } from '../../bin/local/runtime.js';
import { signLocalToken } from '../../bin/local/token.js';
import { Api, eventually, setupOrg, startRuntime, type DemoOrg, type HttpResult } from '../support/e2e.js';

interface Conv {
  id: string;
  status: string;
  version: number;
  primaryAgentId?: string;
}
interface FieldError {
  field: string;
  message: string;
}

let rt: LocalRuntime;
let api: Api;
let o: DemoOrg;
let alice: Api;
let bob: Api;
let seq = 0;
beforeAll(async () => {
  rt = await startRuntime();
  api = new Api(rt.url);
  o = await setupOrg(api);
  alice = await o.agent('alice');
  bob = await o.agent('bob');
});
afterAll(() => rt?.stop());

/** API.md conventions: application/problem+json with type, title, status, detail (+ extras). */
function expectProblem(r: HttpResult, status: number, extra: Record<string, unknown> = {}): void {
  expect({ status: r.status, body: r.body }).toMatchObject({ status, body: { status } });
  expect(r.contentType).toMatch(/^application\/problem\+json\b/);
  expect(r.body).toMatchObject({
    type: expect.any(String),
    title: expect.any(String),
    status,
    detail: expect.any(String),
    ...extra,
  });
  expect(String(r.body.detail).length).toBeGreaterThan(0);
}

/** A new Open chat conversation in q1. */
async function openChat(): Promise<Conv> {
  const threadId = `th-${++seq}`;
  expect(
    (await api.webhook(o.channel.chat, { eventId: `ev-${seq}`, type: 'conversation.started', threadId }, o.secret))
      .status,
  ).toBe(202);
  return eventually(
    async () =>
      (await o.admin.get<{ items?: Conv[] }>(`/v1/conversations?channelId=${o.channel.chat}&threadId=${threadId}`)).body
        .items?.[0],
  );
}

const snapshot = async (id: string) => ({
  conversation: (await o.admin.get(`/v1/conversations/${id}`)).body,
  events: ((await o.admin.get<{ items: unknown[] }>(`/v1/conversations/${id}/events`)).body.items ?? []).length,
});

describe('400 invalid input (RL-4), as problem+json', () => {
  it('RL-4: a malformed JSON body is 400 and writes nothing', async () => {
    // Prepare
    const c = await openChat();
    const before = await snapshot(c.id);

    // Act
    const action = await alice.call('POST', `/v1/conversations/${c.id}/actions/accept`, '{"oops":', {
      'content-type': 'application/json',
    });
    const admin = await o.admin.call('PUT', '/v1/admin/queues/q9', '{not json', { 'content-type': 'application/json' });

    // Assess
    expectProblem(action, 400);
    expectProblem(admin, 400);
    expect(await snapshot(c.id)).toEqual(before);
    expectProblem(await o.admin.get('/v1/admin/queues/q9'), 404);
  });

  it('RL-4: a schema error is 400 with errors [{ field, message }] naming each field', async () => {
    // Act
    const r = await o.admin.put('/v1/admin/agents/zed', {
      name: '',
      queues: 'q1',
      capacity: { default: -1 },
      extra: true,
    });

    // Assess
    expectProblem(r, 400);
    const errors = r.body.errors as FieldError[];
    expect(Array.isArray(errors)).toBe(true);
    for (const e of errors) expect(e).toEqual({ field: expect.any(String), message: expect.any(String) });
    const fields = errors.map((e) => e.field);
    expect(fields).toEqual(expect.arrayContaining(['name', 'queues', 'capacity.default']));
    expectProblem(await o.admin.get('/v1/agents/zed'), 404);
  });

  it('RL-4: an action body that the action does not take is 400 and changes nothing', async () => {
    // Prepare
    const c = await openChat();
    const before = await snapshot(c.id);

    // Act
    const r = await alice.post(`/v1/conversations/${c.id}/actions/accept`, { agentId: 'bob' });
    const transfer = await alice.post(`/v1/conversations/${c.id}/actions/transfer`, { queueId: 'q2', agentId: 'bob' });

    // Assess
    expectProblem(r, 400);
    expectProblem(transfer, 400);
    expect(await snapshot(c.id)).toEqual(before);
  });

  it('RL-4: a path id outside [A-Za-z0-9_-]{1,64} is 400 naming the path parameter', async () => {
    // Act
    const bad = await alice.get('/v1/conversations/bad$id');
    const long = await alice.get(`/v1/conversations/${'x'.repeat(65)}`);
    const action = await alice.post('/v1/conversations/bad$id/actions/accept');
    const unknownAction = await alice.post('/v1/conversations/abc/actions/dance');

    // Assess
    expectProblem(bad, 400);
    expect(bad.body.errors).toEqual([{ field: 'path.id', message: expect.any(String) }]);
    expectProblem(long, 400);
    expectProblem(action, 400);
    expectProblem(unknownAction, 400);
    expect((unknownAction.body.errors as FieldError[])[0]?.field).toBe('path.action');
  });

  it('finding 1 (one request kills the local server): a malformed percent-escape in the path is 400, and the server keeps serving', async () => {
    // Act: escapes that decodeURIComponent refuses, on a JWT route and on the (unauthenticated) webhook route
    const lone = await alice.get('/v1/conversations/%');
    const truncated = await api.post('/v1/webhooks/%E0%A4%A', { eventId: 'e', type: 'conversation.started' });
    const overlong = await alice.get('/v1/conversations/%C0%AF/events');

    // Assess
    for (const r of [lone, truncated, overlong]) {
      expectProblem(r, 400, { type: 'urn:problem:validation' });
      expect(r.body.errors).toEqual([{ field: 'path', message: expect.any(String) }]);
    }
    expect((await o.admin.get('/v1/queues/q1/open-items')).status).toBe(200);
  });

  it('finding 7 (prototype keys): __proto__, constructor and prototype keys of record fields are 400 and write nothing', async () => {
    // Act: raw bodies (a JavaScript object literal would turn "__proto__" into a prototype, not a key)
    const contact = await o.admin.put(
      '/v1/admin/contacts/proto-c1',
      '{"kind":"contact","name":"C","attributes":{"constructor":"y"}}',
    );
    const contactProto = await o.admin.put(
      '/v1/admin/contacts/proto-c2',
      '{"kind":"contact","name":"C","attributes":{"__proto__":"y"}}',
    );
    const agent = await o.admin.put(
      '/v1/admin/agents/proto-a1',
      '{"name":"A","queues":["q1"],"capacity":{"__proto__":3}}',
    );
    const agentPrototype = await o.admin.put(
      '/v1/admin/agents/proto-a2',
      '{"name":"A","queues":["q1"],"capacity":{"prototype":3}}',
    );

    // Assess: refused, and nothing stored
    for (const r of [contact, contactProto, agent, agentPrototype])
      expectProblem(r, 400, { type: 'urn:problem:validation' });
    expect((contact.body.errors as FieldError[])[0]?.field).toBe('attributes');
    expect((agent.body.errors as FieldError[])[0]?.field).toBe('capacity');
    expect((await o.admin.get('/v1/admin/contacts/proto-c1')).status).toBe(404);
    expect((await o.admin.get('/v1/admin/contacts/proto-c2')).status).toBe(404);
    expect((await o.admin.get('/v1/agents/proto-a1')).status).toBe(404);
    expect((await o.admin.get('/v1/agents/proto-a2')).status).toBe(404);
  });

  it('RL-4: a bad query (limit=0, unknown parameter, bad status) is 400 naming the query field', async () => {
    // Act
    const zero = await o.admin.get('/v1/conversations?limit=0');
    const tooMany = await o.admin.get('/v1/queues/q1/open-items?limit=101');
    const unknown = await o.admin.get('/v1/conversations?colour=blue');
    const status = await o.admin.get('/v1/conversations?status=Pending');
    const threadOnly = await o.admin.get('/v1/conversations?threadId=th-1');

    // Assess
    expectProblem(zero, 400);
    expect((zero.body.errors as FieldError[]).map((e) => e.field)).toEqual(['query.limit']);
    expectProblem(tooMany, 400);
    expectProblem(unknown, 400);
    expectProblem(status, 400);
    expect((status.body.errors as FieldError[]).map((e) => e.field)).toEqual(['query.status']);
    expectProblem(threadOnly, 400);
  });

  it('RL-4: a cursor the list did not return is 400', async () => {
    // Prepare: a real cursor, then tampered ones
    const forged = Buffer.from(JSON.stringify({ p: 0, k: { PK: 'ORG#other#CONV#x', SK: 'CONV' } })).toString(
      'base64url',
    );

    // Act
    const garbage = await o.admin.get('/v1/conversations?cursor=not-a-cursor');
    const outOfRange = await o.admin.get(
      `/v1/conversations?cursor=${Buffer.from(JSON.stringify({ p: 99 })).toString('base64url')}`,
    );
    const otherOrg = await o.admin.get(`/v1/conversations?cursor=${forged}`);
    const queue = await o.admin.get('/v1/queues/q1/open-items?cursor=%%%');

    // Assess
    for (const r of [garbage, outOfRange, otherOrg]) {
      expectProblem(r, 400);
      expect((r.body.errors as FieldError[]).map((e) => e.field)).toEqual(['cursor']);
    }
    expectProblem(queue, 400);
  });

  it('RL-4: a cursor returned by one list is 400 on another list (never a 500)', async () => {
    // Prepare: a genuine next cursor of the all-statuses list
    await openChat();
    await openChat();
    const page = await o.admin.get<{ nextCursor?: string }>('/v1/conversations?limit=1');
    expect(page.status).toBe(200);
    const cursor = encodeURIComponent(page.body.nextCursor as string);

    // Act
    const otherStatus = await o.admin.get(`/v1/conversations?status=Active&limit=1&cursor=${cursor}`);
    const otherQueue = await o.admin.get(`/v1/conversations?queueId=q2&limit=1&cursor=${cursor}`);
    const openItems = await o.admin.get(`/v1/queues/q1/open-items?limit=1&cursor=${cursor}`);

    // Assess
    for (const r of [otherStatus, otherQueue, openItems]) expectProblem(r, 400);
  });
});

describe('401 no or bad credentials (RL-5 for webhooks)', () => {
  it('401: no token, a malformed token, a token signed with another secret, an expired token', async () => {
    // Prepare
    const wrongSecret = await signLocalToken(
      { org: o.org, sub: 'alice', roles: ['agent'] },
      { secret: 'not-the-local-secret' },
    );
    const expired = await signLocalToken({ org: o.org, sub: 'alice', roles: ['agent'] }, { expiresIn: '-1m' });

    // Act
    const none = await api.get('/v1/agents/me');
    const garbage = await api.as('not.a.jwt').get('/v1/agents/me');
    const forged = await api.as(wrongSecret).get('/v1/agents/me');
    const old = await api.as(expired).get('/v1/agents/me');
    const adminRoute = await api.put('/v1/admin/queues/qx', { name: 'x' });
    const basic = await api.call('GET', '/v1/agents/me', undefined, { authorization: 'Basic YWxpY2U6c2VjcmV0' });

    // Assess
    for (const r of [none, garbage, forged, old, adminRoute, basic]) expectProblem(r, 401);
    expectProblem(await o.admin.get('/v1/admin/queues/qx'), 404);
  });

  it('401: a token without the org claim is refused', async () => {
    // Prepare: a validly signed token (issuer, audience, expiry as the local server wants) without the org claim
    const { SignJWT } = await import('jose');
    const noOrg = await new SignJWT({ roles: ['agent'] })
      .setProtectedHeader({ alg: 'HS256' })
      .setSubject('alice')
      .setIssuer('urn:contact-center-engine:local')
      .setAudience('contact-center-engine')
      .setExpirationTime('1h')
      .sign(new TextEncoder().encode('local-dev-secret'));

    // Act
    const r = await api.as(noOrg).get('/v1/agents/me');

    // Assess: refused by the handler for the claim, not by the local server for the token
    expectProblem(r, 401);
    expect(String(r.body.detail)).toMatch(/sub, org and roles/);
  });

  it('RL-5: a webhook with a missing, malformed or wrong signature is 401', async () => {
    // Prepare
    const event = { eventId: 'sig-1', type: 'conversation.started', threadId: 'th-sig' };

    // Act
    const missing = await api.call('POST', `/v1/webhooks/${o.channel.chat}`, JSON.stringify(event), {});
    const malformed = await api.webhook(o.channel.chat, event, o.secret, 'md5=abc');
    const wrong = await api.webhook(o.channel.chat, event, 'another-secret-0123456789');

    // Assess
    for (const r of [missing, malformed, wrong]) expectProblem(r, 401);
  });
});

describe('403 role, setting or actor not allowed', () => {
  it('403: an agent calling an admin route', async () => {
    // Act
    const put = await alice.put('/v1/admin/queues/q3', { name: 'mine' });
    const get = await alice.get('/v1/admin/settings');
    const other = await alice.get('/v1/agents/bob');

    // Assess
    for (const r of [put, get, other]) expectProblem(r, 403);
    expectProblem(await o.admin.get('/v1/admin/queues/q3'), 404);
  });

  it('403 / T-13: an agent ending a conversation whose primary is someone else; nothing changes', async () => {
    // Prepare: alice's Active conversation
    const c = await openChat();
    expect((await alice.post(`/v1/conversations/${c.id}/actions/accept`)).status).toBe(200);
    const before = await snapshot(c.id);

    // Act
    const r = await bob.post(`/v1/conversations/${c.id}/actions/end`);

    // Assess
    expectProblem(r, 403, { currentStatus: 'Active' });
    expect(await snapshot(c.id)).toEqual(before);
  });
});

describe('404 unknown id or route', () => {
  it('404: unknown conversation (read, events, action), unknown queue, unknown agent', async () => {
    // Act
    const conv = await alice.get('/v1/conversations/nope-000');
    const events = await alice.get('/v1/conversations/nope-000/events');
    const action = await alice.post('/v1/conversations/nope-000/actions/accept');
    const queue = await alice.get('/v1/queues/no-such-queue/open-items');
    const agent = await o.admin.get('/v1/agents/no-such-agent');
    const transfer = await (async () => {
      const c = await openChat();
      await alice.post(`/v1/conversations/${c.id}/actions/accept`);
      return alice.post(`/v1/conversations/${c.id}/actions/transfer`, { queueId: 'no-such-queue' });
    })();

    // Assess
    for (const r of [conv, events, action, queue, agent, transfer]) expectProblem(r, 404);
  });

  it('404: a webhook for an unknown channel, and an unknown route', async () => {
    // Act
    const webhook = await api.webhook(
      'no-such-channel',
      { eventId: 'x1', type: 'conversation.started', threadId: 't' },
      o.secret,
    );
    const route = await alice.get('/v1/nothing-here');
    const method = await alice.call('DELETE', '/v1/conversations/abc');
    const root = await api.get('/');

    // Assess
    for (const r of [webhook, route, method, root]) expectProblem(r, 404);
  });
});

describe('409 transition not allowed (T-13, T-11) with currentStatus', () => {
  it('T-13: end on an Open conversation is 409 naming Open; nothing changes', async () => {
    // Prepare
    const c = await openChat();
    const before = await snapshot(c.id);

    // Act
    const r = await alice.post(`/v1/conversations/${c.id}/actions/end`);

    // Assess
    expectProblem(r, 409, { currentStatus: 'Open' });
    expect(await snapshot(c.id)).toEqual(before);
  });

  it('T-11: close (and any other action) on a Closed conversation is 409 naming Closed', async () => {
    // Prepare: a conversation taken all the way to Closed
    const c = await openChat();
    await alice.post(`/v1/conversations/${c.id}/actions/accept`);
    await alice.post(`/v1/conversations/${c.id}/actions/end`);
    expect((await alice.post(`/v1/conversations/${c.id}/actions/close`)).body).toMatchObject({ status: 'Closed' });
    const before = await snapshot(c.id);

    // Act
    const close = await alice.post(`/v1/conversations/${c.id}/actions/close`);
    const accept = await bob.post(`/v1/conversations/${c.id}/actions/accept`);
    const resume = await alice.post(`/v1/conversations/${c.id}/actions/resume`);

    // Assess
    for (const r of [close, accept, resume]) expectProblem(r, 409, { currentStatus: 'Closed' });
    expect(await snapshot(c.id)).toEqual(before);
  });
});

describe('403 for a disabled org setting', () => {
  it('S-1 / S-5: force-close while the forceClose setting is off answers 403 naming the setting, and changes nothing', async () => {
    // Prepare
    const c = await openChat();
    const before = await snapshot(c.id);

    // Act
    const r = await o.admin.post(`/v1/conversations/${c.id}/actions/force-close`);

    // Assess
    expectProblem(r, 403);
    expect(String(r.body.detail)).toContain('forceClose');
    expect(await snapshot(c.id)).toEqual(before);
  });
});
