import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LocalRuntime } from '../../bin/local/runtime.js';
import { Api, eventually, ok, setupOrg, startRuntime, type DemoOrg } from '../support/e2e.js';

/** over HTTP on the local runtime: routing rules, the prioritize action, the order of open items, validation (RL-4). */

interface Conv {
  id: string;
  status: string;
  queueId: string;
  priority: number;
  effectivePriority?: number;
  enqueuedAt?: string;
  version: number;
}

let rt: LocalRuntime;
let api: Api;
beforeAll(async () => {
  rt = await startRuntime({ tickMs: 3_600_000 });
  api = new Api(rt.url);
});
afterAll(() => rt?.stop());

const SETTINGS = {
  supervisorMonitor: false,
  supervisorAssign: true,
  supervisorTransfer: false,
  forceClose: false,
  agentEndMessagingSession: false,
};

let n = 0;
async function customerStarts(o: DemoOrg, context?: Record<string, string>): Promise<Conv> {
  const threadId = `pr-${++n}`;
  await ok(
    api.webhook(
      o.channel.chat,
      { eventId: `e-${++n}`, type: 'conversation.started', threadId, ...(context ? { context } : {}) },
      o.secret,
    ),
    202,
  );
  return eventually(
    async () =>
      (await o.admin.get<{ items: Conv[] }>(`/v1/conversations?channelId=${o.channel.chat}&threadId=${threadId}`)).body
        .items?.[0],
  );
}

async function org(): Promise<DemoOrg> {
  const o = await setupOrg(api);
  await ok(o.admin.put('/v1/admin/settings', SETTINGS));
  await ok(
    o.admin.put('/v1/admin/workstreams/ws-chat', {
      name: 'chat',
      mode: 'live',
      capacity: { units: 1 },
      allowedPresences: ['Available', 'Busy'],
      wrapUp: { blockCapacity: 'always' },
      defaultQueueId: 'q1',
      routingRules: [{ when: { field: 'tier', equals: 'gold' }, queueId: 'q2', priority: 10 }],
    }),
  );
  return o;
}

const prioritize = (as: Api, id: string, body: unknown) =>
  as.post<Conv>(`/v1/conversations/${id}/actions/prioritize`, body);

describe('Q-1: priority over HTTP', () => {
  it('Q-1: the read shows the routing rule priority (else 5); a supervisor prioritizes an Open conversation', async () => {
    // Prepare
    const o = await org();
    const gold = await customerStarts(o, { tier: 'gold' });
    const plain = await customerStarts(o);

    // Act
    const r = await ok(prioritize(o.admin, plain.id, { priority: 7 }));

    // Assess
    expect(gold).toMatchObject({ queueId: 'q2', priority: 10 });
    expect(r).toMatchObject({ status: 'Open', priority: 7 });
    expect(await ok(o.admin.get<Conv>(`/v1/conversations/${plain.id}`))).toMatchObject({ priority: 7 });
    const events = (
      await ok(o.admin.get<{ items: { action: string; details?: object }[] }>(`/v1/conversations/${plain.id}/events`))
    ).items;
    expect(events.at(-1)).toMatchObject({ action: 'prioritize', details: { priority: 7, fromPriority: 5 } });
  });

  it('Q-1 / RL-4: a priority outside 1..10, not an integer, missing or with extra fields is 400 and writes nothing; an agent is 403; not Open is 409', async () => {
    // Prepare
    const o = await org();
    const c = await customerStarts(o);
    const alice = await o.agent('alice');
    await ok(alice.post('/v1/agents/me/sign-in'));

    // Act + Assess: each bad body
    for (const body of [
      { priority: 0 },
      { priority: 11 },
      { priority: 5.5 },
      { priority: '5' },
      {},
      { priority: 5, x: 1 },
    ]) {
      const r = await prioritize(o.admin, c.id, body);
      expect(r.status, JSON.stringify(body)).toBe(400);
      expect(r.contentType).toContain('application/problem+json');
    }
    expect((await prioritize(alice, c.id, { priority: 9 })).status).toBe(403);
    expect(await ok(o.admin.get<Conv>(`/v1/conversations/${c.id}`))).toMatchObject({ priority: 5, version: c.version });

    // not Open: 409 naming the status
    await ok(alice.post(`/v1/conversations/${c.id}/actions/accept`));
    const refused = await prioritize(o.admin, c.id, { priority: 9 });
    expect(refused.status).toBe(409);
    expect(refused.body).toMatchObject({ currentStatus: 'Active' });
  });

  it('Q-1 / RL-4: a routing rule priority outside 1..10 is 400 and the workstream is unchanged', async () => {
    // Prepare
    const o = await org();

    // Act
    const r = await o.admin.put('/v1/admin/workstreams/ws-chat', {
      name: 'chat',
      mode: 'live',
      capacity: { units: 1 },
      allowedPresences: ['Available'],
      wrapUp: { blockCapacity: 'always' },
      defaultQueueId: 'q1',
      routingRules: [{ when: { field: 'tier', equals: 'gold' }, queueId: 'q2', priority: 11 }],
    });

    // Assess
    expect(r.status).toBe(400);
    const ws = await ok(
      o.admin.get<{ routingRules: { priority?: number }[]; allowedPresences: string[] }>(
        '/v1/admin/workstreams/ws-chat',
      ),
    );
    expect(ws.routingRules[0]?.priority).toBe(10);
    expect(ws.allowedPresences).toEqual(['Available', 'Busy']);
  });
});

const CHAT_WS = {
  name: 'chat',
  mode: 'live',
  capacity: { units: 1 },
  allowedPresences: ['Available', 'Busy'],
  wrapUp: { blockCapacity: 'always' },
  defaultQueueId: 'q1',
  routingRules: Array.from({ length: 10 }, (_, i) => ({
    when: { field: 'p', equals: String(i + 1) },
    queueId: 'q1',
    priority: i + 1,
  })),
};

describe('Q-2: order of service over HTTP', () => {
  it('Q-2: open items are highest effective priority first, then longest waiting; the read shows effectivePriority with aging', async () => {
    // Prepare: aging 60 s; a 5 waits 130 s before a 7 and an 8 arrive
    const o = await org();
    await ok(o.admin.put('/v1/admin/workstreams/ws-chat', { ...CHAT_WS, priorityAgingSeconds: 60 }));
    const old5 = await customerStarts(o, { p: '5' });
    await ok(api.post('/_local/clock', { advanceSeconds: 130 }));
    const new7 = await customerStarts(o, { p: '7' });
    const new8 = await customerStarts(o, { p: '8' });

    // Act
    const page = await ok(o.admin.get<{ items: Conv[] }>('/v1/queues/q1/open-items?limit=50'));
    const read = await ok(o.admin.get<Conv>(`/v1/conversations/${old5.id}`));

    // Assess: 8 > 5 + 130/60 > 7
    expect(page.items.map((c) => c.id)).toEqual([new8.id, old5.id, new7.id]);
    expect(read).toMatchObject({ priority: 5, effectivePriority: 7, enqueuedAt: old5.enqueuedAt });
    expect(page.items.map((c) => c.effectivePriority)).toEqual([8, 7, 7]);
    expect(await ok(o.admin.get<{ priorityAgingSeconds?: number }>('/v1/admin/workstreams/ws-chat'))).toMatchObject({
      priorityAgingSeconds: 60,
    });
  });

  it('Q-2 / Idempotency-Key: a keyed prioritize replayed after aging raised the priority answers the first body', async () => {
    // Prepare: aging 10 s; a supervisor prioritizes with a key
    const o = await org();
    await ok(o.admin.put('/v1/admin/workstreams/ws-chat', { ...CHAT_WS, priorityAgingSeconds: 10 }));
    const c = await customerStarts(o);
    const key = { 'Idempotency-Key': `prio-${c.id}` };
    const first = await ok(o.admin.post<Conv>(`/v1/conversations/${c.id}/actions/prioritize`, { priority: 6 }, key));

    // Act: the retry comes 35 s later, when the read shows a higher effective priority
    await ok(api.post('/_local/clock', { advanceSeconds: 35 }));
    const replay = await ok(o.admin.post<Conv>(`/v1/conversations/${c.id}/actions/prioritize`, { priority: 6 }, key));
    const read = await ok(o.admin.get<Conv>(`/v1/conversations/${c.id}`));

    // Assess: the same answer, as of the change; the read is as of now
    expect(replay).toEqual(first);
    expect(read.effectivePriority).toBeGreaterThan(first.effectivePriority ?? 0);
  });

  it('Q-2 / RL-4: priorityAgingSeconds that is not a whole number of seconds from 1 up is 400 and the workstream is unchanged', async () => {
    // Prepare
    const o = await org();

    // Act + Assess
    for (const priorityAgingSeconds of [0, -60, 1.5, '60', null, 100_000_001]) {
      const r = await o.admin.put('/v1/admin/workstreams/ws-chat', { ...CHAT_WS, priorityAgingSeconds });
      expect(r.status, JSON.stringify(priorityAgingSeconds)).toBe(400);
      expect(r.contentType).toContain('application/problem+json');
    }
    const ws = await ok(
      o.admin.get<{ priorityAgingSeconds?: number; routingRules: unknown[] }>('/v1/admin/workstreams/ws-chat'),
    );
    expect(ws.priorityAgingSeconds).toBeUndefined();
    expect(ws.routingRules).toHaveLength(1);
  });
});
