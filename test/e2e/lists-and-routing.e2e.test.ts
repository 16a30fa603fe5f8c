import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LocalRuntime } from '../../bin/local/runtime.js';
import { Api, eventually, setupOrg, startRuntime, type DemoOrg } from '../support/e2e.js';

interface Conv {
  id: string;
  status: string;
  queueId: string;
  channelId: string;
  threadId: string;
  primaryAgentId?: string;
  createdAt: string;
}
interface Page {
  items: Conv[];
  nextCursor?: string;
}
interface Ev {
  to: string;
  reason?: string;
}

let rt: LocalRuntime;
let api: Api;
let seq = 0;
beforeAll(async () => {
  rt = await startRuntime();
  api = new Api(rt.url);
});
afterAll(() => rt?.stop());

/** Starts a conversation on the thread and waits until it exists. */
async function start(
  o: DemoOrg,
  kind: keyof DemoOrg['channel'],
  threadId: string,
  context?: Record<string, string>,
): Promise<Conv> {
  const r = await api.webhook(
    o.channel[kind],
    { eventId: `ev-${++seq}`, type: 'conversation.started', threadId, ...(context ? { context } : {}) },
    o.secret,
  );
  expect(r.status).toBe(202);
  return eventually(
    async () =>
      (await o.admin.get<Page>(`/v1/conversations?channelId=${o.channel[kind]}&threadId=${threadId}`)).body.items?.[0],
  );
}

/** Follows nextCursor until it is absent; every page must be 200 and hold at most `limit` items. */
async function allPages(
  as: Api,
  path: string,
  limit: number,
): Promise<{ ids: string[]; pages: number; items: Conv[] }> {
  const items: Conv[] = [];
  let cursor: string | undefined;
  let pages = 0;
  do {
    const sep = path.includes('?') ? '&' : '?';
    const r = await as.get<Page>(`${path}${sep}limit=${limit}${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`);
    expect(r.status, `page ${pages + 1} of ${path}: ${JSON.stringify(r.body)}`).toBe(200);
    expect(r.body.items.length).toBeLessThanOrEqual(limit);
    items.push(...r.body.items);
    cursor = r.body.nextCursor;
    pages += 1;
    expect(pages).toBeLessThan(50);
  } while (cursor);
  return { ids: items.map((c) => c.id), pages, items };
}

const sorted = (ids: string[]): string[] => [...ids].sort();

describe('S-6: conversation lists with filters and cursor pagination', () => {
  let o: DemoOrg;
  let alice: Api;
  let bob: Api;
  /** every conversation of the org, by name */
  const c: Record<string, Conv> = {};

  beforeAll(async () => {
    // Prepare: 7 conversations: 5 chats in q1, 1 billing chat in q2 (R-1), 1 sms in q1
    o = await setupOrg(api);
    alice = await o.agent('alice');
    bob = await o.agent('bob');
    for (const n of [1, 2, 3, 4, 5]) c[`chat${n}`] = await start(o, 'chat', `th-chat-${n}`);
    c.billing = await start(o, 'chat', 'th-billing', { topic: 'billing' });
    c.sms = await start(o, 'sms', 'th-sms');
    // alice: chat1, chat2 Active; bob: billing Active, chat3 WrapUp; chat4, chat5, sms stay Open
    for (const [who, id] of [
      [alice, c.chat1],
      [alice, c.chat2],
      [bob, c.billing],
      [bob, c.chat3],
    ] as const) {
      expect((await who.post(`/v1/conversations/${(id as Conv).id}/actions/accept`)).status).toBe(200);
    }
    expect((await bob.post(`/v1/conversations/${(c.chat3 as Conv).id}/actions/end`)).body).toMatchObject({
      status: 'WrapUp',
    });
  });

  const ids = (...names: string[]): string[] => sorted(names.map((n) => (c[n] as Conv).id));

  it('S-6: limit=3 and nextCursor until absent return every conversation exactly once', async () => {
    // Act
    const { ids: seen, pages } = await allPages(o.admin, '/v1/conversations', 3);

    // Assess
    expect(new Set(seen).size).toBe(seen.length);
    expect(sorted(seen)).toEqual(ids('chat1', 'chat2', 'chat3', 'chat4', 'chat5', 'billing', 'sms'));
    expect(pages).toBeGreaterThanOrEqual(3);
  });

  it('S-6: a page size of 1 also walks the whole list without duplicates', async () => {
    // Act
    const { ids: seen } = await allPages(o.admin, '/v1/conversations', 1);

    // Assess
    expect(seen).toHaveLength(7);
    expect(sorted(seen)).toEqual(ids('chat1', 'chat2', 'chat3', 'chat4', 'chat5', 'billing', 'sms'));
  });

  it('S-6: status filter, paginated', async () => {
    // Act
    const open = await allPages(o.admin, '/v1/conversations?status=Open', 2);
    const active = await allPages(o.admin, '/v1/conversations?status=Active', 2);
    const wrapUp = await allPages(o.admin, '/v1/conversations?status=WrapUp', 3);
    const closed = await allPages(o.admin, '/v1/conversations?status=Closed', 3);

    // Assess
    expect(sorted(open.ids)).toEqual(ids('chat4', 'chat5', 'sms'));
    expect(open.items.every((x) => x.status === 'Open')).toBe(true);
    expect(sorted(active.ids)).toEqual(ids('chat1', 'chat2', 'billing'));
    expect(wrapUp.ids).toEqual(ids('chat3'));
    expect(closed.ids).toEqual([]);
  });

  it('S-6: queueId, agentId and channelId filters, alone and combined', async () => {
    // Act
    const q2 = await allPages(o.admin, '/v1/conversations?queueId=q2', 3);
    const q1 = await allPages(o.admin, '/v1/conversations?queueId=q1', 3);
    const q1Open = await allPages(o.admin, '/v1/conversations?queueId=q1&status=Open', 3);
    const ofAlice = await allPages(o.admin, '/v1/conversations?agentId=alice', 3);
    const ofBob = await allPages(o.admin, '/v1/conversations?agentId=bob', 1);
    const bobWrapUp = await allPages(o.admin, '/v1/conversations?agentId=bob&status=WrapUp', 3);
    const sms = await allPages(o.admin, `/v1/conversations?channelId=${o.channel.sms}`, 3);
    const chatQ1Open = await allPages(
      o.admin,
      `/v1/conversations?channelId=${o.channel.chat}&queueId=q1&status=Open`,
      3,
    );

    // Assess
    expect(q2.ids).toEqual(ids('billing'));
    expect(sorted(q1.ids)).toEqual(ids('chat1', 'chat2', 'chat3', 'chat4', 'chat5', 'sms'));
    expect(sorted(q1Open.ids)).toEqual(ids('chat4', 'chat5', 'sms'));
    expect(sorted(ofAlice.ids)).toEqual(ids('chat1', 'chat2'));
    expect(ofAlice.items.every((x) => x.primaryAgentId === 'alice')).toBe(true);
    expect(sorted(ofBob.ids)).toEqual(ids('billing', 'chat3'));
    expect(bobWrapUp.ids).toEqual(ids('chat3'));
    expect(sms.ids).toEqual(ids('sms'));
    expect(sorted(chatQ1Open.ids)).toEqual(ids('chat4', 'chat5'));
  });

  it('S-6: an agent sees only their own conversations; asking for another agent is 403', async () => {
    // Act
    const own = await allPages(alice, '/v1/conversations', 1);
    const ownExplicit = await allPages(alice, '/v1/conversations?agentId=alice', 3);
    const ownOpen = await alice.get<Page>('/v1/conversations?status=Open');
    const other = await alice.get('/v1/conversations?agentId=bob');

    // Assess
    expect(sorted(own.ids)).toEqual(ids('chat1', 'chat2'));
    expect(sorted(ownExplicit.ids)).toEqual(ids('chat1', 'chat2'));
    expect(ownOpen.body.items).toEqual([]);
    expect(other.status).toBe(403);
    expect(other.contentType).toMatch(/^application\/problem\+json/);
    expect(other.body).toMatchObject({
      status: 403,
      type: expect.any(String),
      title: expect.any(String),
      detail: expect.any(String),
    });
  });

  it('R-4: the open items of a queue are oldest first and paginate', async () => {
    // Act
    const q1 = await allPages(alice, '/v1/queues/q1/open-items', 1);

    // Assess
    expect(q1.ids).toEqual(['chat4', 'chat5', 'sms'].map((n) => (c[n] as Conv).id));
    expect(q1.items.map((x) => x.createdAt)).toEqual([...q1.items.map((x) => x.createdAt)].sort());
  });

  it("S-6: my work items are the caller's Active, WrapUp and Waiting conversations", async () => {
    // Act
    const mine = await bob.get<Page>('/v1/agents/me/work-items');

    // Assess
    expect(sorted(mine.body.items.map((x) => x.id))).toEqual(ids('billing', 'chat3'));
    expect(sorted(mine.body.items.map((x) => x.status))).toEqual(['Active', 'WrapUp']);
  });
});

describe('R-1: routing rules pick the queue', () => {
  it("R-1: context {topic:'billing'} lands in q2 by the routing rule; other contexts and none go to the default q1", async () => {
    // Prepare
    const o = await setupOrg(api);
    const alice = await o.agent('alice');

    // Act
    const billing = await start(o, 'chat', 'th-r1', { topic: 'billing' });
    const sales = await start(o, 'chat', 'th-r2', { topic: 'sales' });
    const none = await start(o, 'chat', 'th-r3');
    const caseMismatch = await start(o, 'chat', 'th-r4', { Topic: 'billing' });
    const smsBilling = await start(o, 'sms', 'th-r5', { topic: 'billing', lang: 'fr' });

    // Assess
    expect([billing, sales, none, caseMismatch, smsBilling].map((x) => x.queueId)).toEqual([
      'q2',
      'q1',
      'q1',
      'q1',
      'q2',
    ]);
    const first = async (id: string) =>
      (await o.admin.get<{ items: Ev[] }>(`/v1/conversations/${id}/events`)).body.items[0];
    expect((await first(billing.id))?.reason).toMatch(/R-1: routing rule 1/);
    expect((await first(sales.id))?.reason).toMatch(/R-1: default queue/);
    expect(sorted((await o.admin.get<Page>('/v1/queues/q2/open-items')).body.items.map((x) => x.id))).toEqual(
      sorted([billing.id, smsBilling.id]),
    );
    // alice is not in q2: she may not pick the billing one, nor even see it (RL-7: 404); bob (q1, q2) may
    const refused = await alice.post(`/v1/conversations/${billing.id}/actions/accept`);
    expect(refused.status).toBe(404);
    expect((await (await o.agent('bob')).post(`/v1/conversations/${billing.id}/actions/accept`)).status).toBe(200);
  });

  it('R-1 / R-5: rules are evaluated in order (first match wins), and a rule change applies to the next conversation', async () => {
    // Prepare: a third queue and a workstream whose two rules both match {topic: billing, lang: fr}
    const o = await setupOrg(api);
    expect((await o.admin.put('/v1/admin/queues/q3', { name: 'French' })).status).toBe(200);
    const ws = (rules: { field: string; equals: string; queueId: string }[]) =>
      o.admin.put('/v1/admin/workstreams/ws-chat', {
        name: 'chat',
        mode: 'live',
        capacity: { units: 1 },
        allowedPresences: ['Available', 'Busy'],
        wrapUp: { blockCapacity: 'always' },
        defaultQueueId: 'q1',
        routingRules: rules.map((r) => ({ when: { field: r.field, equals: r.equals }, queueId: r.queueId })),
      });
    const both = { topic: 'billing', lang: 'fr' };
    expect(
      (
        await ws([
          { field: 'topic', equals: 'billing', queueId: 'q2' },
          { field: 'lang', equals: 'fr', queueId: 'q3' },
        ])
      ).status,
    ).toBe(200);

    // Act
    const before = await start(o, 'chat', 'th-o1', both);
    const frOnly = await start(o, 'chat', 'th-o2', { lang: 'fr' });
    expect(
      (
        await ws([
          { field: 'lang', equals: 'fr', queueId: 'q3' },
          { field: 'topic', equals: 'billing', queueId: 'q2' },
        ])
      ).status,
    ).toBe(200);
    const after = await start(o, 'chat', 'th-o3', both);

    // Assess
    expect([before.queueId, frOnly.queueId, after.queueId]).toEqual(['q2', 'q3', 'q3']);
    // the earlier conversation stays where it was routed
    expect((await o.admin.get<Conv>(`/v1/conversations/${before.id}`)).body.queueId).toBe('q2');
  });
});
