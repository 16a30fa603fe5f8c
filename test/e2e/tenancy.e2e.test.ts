import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LocalRuntime } from '../../bin/local/runtime.js';
import {
  Api,
  eventually,
  setupOrg,
  startRuntime,
  token,
  uniqueOrg,
  type DemoOrg,
  type HttpResult,
} from '../support/e2e.js';

interface Conv {
  id: string;
  org: string;
  status: string;
  version: number;
  updatedAt: string;
}

let rt: LocalRuntime;
let api: Api;
/** org A: the demo org with conversations */
let a: DemoOrg;
/** org B: another tenant with its own q1 and agent, but no alice */
let orgB: string;
let adminB: Api;
let agentB: Api;
/** a token of org B whose subject is "alice", like A's agent */
let aliceOfB: Api;
let activeA: Conv;
let openA: Conv;
beforeAll(async () => {
  rt = await startRuntime();
  api = new Api(rt.url);
  a = await setupOrg(api);
  expect((await a.admin.put('/v1/admin/queues/qa-only', { name: 'Only in A' })).status).toBe(200);
  orgB = uniqueOrg();
  adminB = api.as(await token(orgB, 'admin', ['admin', 'supervisor']));
  expect((await adminB.put('/v1/admin/queues/q1', { name: 'B queue 1' })).status).toBe(200);
  expect(
    (await adminB.put('/v1/admin/agents/agent-b', { name: 'B agent', queues: ['q1'], capacity: { default: 3 } }))
      .status,
  ).toBe(200);
  agentB = api.as(await token(orgB, 'agent-b', ['agent']));
  aliceOfB = api.as(await token(orgB, 'alice', ['agent', 'supervisor']));

  // org A: one Active conversation (alice) and one Open in q1
  const alice = await a.agent('alice');
  for (const th of ['th-a1', 'th-a2']) {
    expect(
      (await api.webhook(a.channel.chat, { eventId: `e-${th}`, type: 'conversation.started', threadId: th }, a.secret))
        .status,
    ).toBe(202);
  }
  const [c1, c2] = await eventually(async () => {
    const items = (await a.admin.get<{ items: Conv[] }>('/v1/queues/q1/open-items')).body.items;
    return items.length === 2 ? items : undefined;
  });
  activeA = (await alice.post<Conv>(`/v1/conversations/${(c1 as Conv).id}/actions/accept`)).body;
  openA = c2 as Conv;
});
afterAll(() => rt?.stop());

function expect404(r: HttpResult): void {
  expect(r.status).toBe(404);
  expect(r.contentType).toMatch(/^application\/problem\+json/);
  expect(r.body).toMatchObject({
    status: 404,
    type: expect.any(String),
    title: expect.any(String),
    detail: expect.any(String),
  });
  // the answer does not leak the other org's data (ids the caller sent may be echoed)
  expect(r.body).not.toHaveProperty('org');
  expect(r.body).not.toHaveProperty('items');
  expect(JSON.stringify(r.body)).not.toContain(a.secret);
}

const snapshot = async (id: string) => ({
  conversation: (await a.admin.get(`/v1/conversations/${id}`)).body,
  events: (await a.admin.get<{ items: unknown[] }>(`/v1/conversations/${id}/events`)).body.items,
});

describe("RL-6: no token of one org reads or changes another org's data", () => {
  it("RL-6: org B gets 404 for org A's conversation: read, events, consult candidates, and every action; nothing changes", async () => {
    // Prepare
    const before = [await snapshot(activeA.id), await snapshot(openA.id)];

    // Act
    const reads = [
      await adminB.get(`/v1/conversations/${activeA.id}`),
      await agentB.get(`/v1/conversations/${activeA.id}`),
      await adminB.get(`/v1/conversations/${activeA.id}/events`),
      await agentB.get(`/v1/conversations/${openA.id}/events`),
      await adminB.get(`/v1/conversations/${openA.id}/consult-candidates`),
    ];
    const actions = [
      await agentB.post(`/v1/conversations/${openA.id}/actions/accept`),
      await aliceOfB.post(`/v1/conversations/${activeA.id}/actions/end`),
      await aliceOfB.post(`/v1/conversations/${activeA.id}/actions/close`),
      await aliceOfB.post(`/v1/conversations/${activeA.id}/actions/release`),
      await aliceOfB.post(`/v1/conversations/${activeA.id}/actions/transfer`, { queueId: 'q1' }),
      await agentB.post(`/v1/conversations/${openA.id}/actions/accept`, undefined, {
        'idempotency-key': 'cross-org-1',
      }),
    ];

    // Assess
    for (const r of [...reads, ...actions]) expect404(r);
    expect([await snapshot(activeA.id), await snapshot(openA.id)]).toEqual(before);
    expect(
      (await agentB.get<{ capacity: Record<string, { used: number }> }>('/v1/agents/me')).body.capacity.default?.used,
    ).toBe(0);
  });

  it("RL-6: org B gets 404 for org A's queue and agents; its own same-named queue shows none of A's items", async () => {
    // Act
    const queueOnlyInA = await adminB.get('/v1/queues/qa-only/open-items');
    const aliceOfA = await adminB.get('/v1/agents/alice');
    const me = await aliceOfB.get('/v1/agents/me');
    const adminReads = [
      await adminB.get('/v1/admin/workstreams/ws-chat'),
      await adminB.get(`/v1/admin/channels/${a.channel.chat}`),
      await adminB.get('/v1/admin/queues/qa-only'),
    ];
    const sameNamedQueue = await adminB.get<{ items: Conv[] }>('/v1/queues/q1/open-items');
    const workItems = await aliceOfB.get<{ items: Conv[] }>('/v1/agents/me/work-items');

    // Assess
    for (const r of [queueOnlyInA, aliceOfA, me, ...adminReads]) expect404(r);
    expect(sameNamedQueue.status).toBe(200);
    expect(sameNamedQueue.body.items).toEqual([]);
    expect(workItems.status).toBe(200);
    expect(workItems.body.items).toEqual([]);
    // A still sees its own
    expect((await a.admin.get<{ items: Conv[] }>('/v1/queues/q1/open-items')).body.items.map((c) => c.id)).toEqual([
      openA.id,
    ]);
  });

  it("RL-6: an org B listing sees none of org A's conversations, whatever the filters", async () => {
    // Act
    const lists = await Promise.all(
      [
        '/v1/conversations',
        '/v1/conversations?status=Open',
        '/v1/conversations?status=Active',
        '/v1/conversations?queueId=q1',
        '/v1/conversations?agentId=alice',
        `/v1/conversations?channelId=${a.channel.chat}`,
        `/v1/conversations?channelId=${a.channel.chat}&threadId=th-a1`,
      ].map((p) => adminB.get<{ items: Conv[]; nextCursor?: string }>(p)),
    );
    const asAliceOfB = await aliceOfB.get<{ items: Conv[] }>('/v1/conversations');

    // Assess
    for (const r of [...lists, asAliceOfB]) {
      expect(r.status).toBe(200);
      expect(r.body.items).toEqual([]);
      expect(r.body).not.toHaveProperty('nextCursor');
    }
    // A's own admin sees both
    expect((await a.admin.get<{ items: Conv[] }>('/v1/conversations')).body.items.map((c) => c.id).sort()).toEqual(
      [activeA.id, openA.id].sort(),
    );
  });

  it("RL-6: a cursor from org A's listing cannot continue a listing in org B", async () => {
    // Prepare: a page of org A with a next cursor
    const page = await a.admin.get<{ items: Conv[]; nextCursor?: string }>('/v1/conversations?limit=1');
    expect(page.status).toBe(200);
    expect(page.body.items).toHaveLength(1);
    const cursor = page.body.nextCursor;
    expect(cursor).toEqual(expect.any(String));

    // Act
    const r = await adminB.get<{ items?: Conv[] }>(
      `/v1/conversations?limit=1&cursor=${encodeURIComponent(cursor as string)}`,
    );

    // Assess: refused (400) or, at most, an empty page; never A's items
    expect(JSON.stringify(r.body)).not.toContain(a.org);
    expect(r.status).toBe(400);
  });

  it("RL-6: PUT of a channel id registered by org A is 409 for org B; A's channel, secret and routing are untouched", async () => {
    // Prepare: org B has a workstream a chat channel could use
    expect(
      (
        await adminB.put('/v1/admin/workstreams/ws-chat', {
          name: 'B chat',
          mode: 'live',
          capacity: { units: 1 },
          allowedPresences: ['Available'],
          wrapUp: { blockCapacity: 'never' },
          defaultQueueId: 'q1',
        })
      ).status,
    ).toBe(200);
    const bSecret = 'org-b-secret-0123456789';

    // Act
    const r = await adminB.put(`/v1/admin/channels/${a.channel.chat}`, {
      kind: 'chat',
      workstreamId: 'ws-chat',
      secret: bSecret,
    });

    // Assess: 409 problem+json, nothing of B written for that id
    expect(r.status).toBe(409);
    expect(r.contentType).toMatch(/^application\/problem\+json/);
    expect(r.body).toMatchObject({
      status: 409,
      type: expect.any(String),
      title: expect.any(String),
      detail: expect.any(String),
    });
    expect404(await adminB.get(`/v1/admin/channels/${a.channel.chat}`));
    // B's secret does not open A's channel; A's secret still does, and the event lands in A
    const forged = await api.webhook(
      a.channel.chat,
      { eventId: 'b-1', type: 'conversation.started', threadId: 'th-b' },
      bSecret,
    );
    expect(forged.status).toBe(401);
    expect(
      (await api.webhook(a.channel.chat, { eventId: 'a-3', type: 'conversation.started', threadId: 'th-a3' }, a.secret))
        .status,
    ).toBe(202);
    const landed = await eventually(
      async () =>
        (await a.admin.get<{ items: Conv[] }>(`/v1/conversations?channelId=${a.channel.chat}&threadId=th-a3`)).body
          .items[0],
    );
    expect(landed.org).toBe(a.org);
    await rt.drain();
    expect((await adminB.get<{ items: Conv[] }>('/v1/conversations')).body.items).toEqual([]);
    expect(
      (await a.admin.get<{ items: Conv[] }>(`/v1/conversations?channelId=${a.channel.chat}&threadId=th-b`)).body.items,
    ).toEqual([]);
  });

  it('RL-6: the same configuration ids in two orgs are separate records', async () => {
    // Act: B configures a queue with the id of A's
    expect((await adminB.put('/v1/admin/queues/qa-only', { name: 'B takes the name' })).status).toBe(200);

    // Assess
    expect((await a.admin.get('/v1/admin/queues/qa-only')).body).toMatchObject({ name: 'Only in A' });
    expect((await adminB.get('/v1/admin/queues/qa-only')).body).toMatchObject({ name: 'B takes the name' });
    expect((await adminB.get<{ items: Conv[] }>('/v1/queues/qa-only/open-items')).body.items).toEqual([]);
  });
});
