import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LocalRuntime } from '../../bin/local/runtime.js';
import { Api, eventually, ok, RUNTIMES, setupOrg, startRuntime, type DemoOrg } from '../support/e2e.js';

/** Q-3 routing profiles over HTTP on the local runtime (sources and bundles): configuration, priority, delay, validation. */

let rt: LocalRuntime;
let api: Api;

type Conv = { id: string; status: string; primaryAgentId?: string; queueId: string };

const CHAT_WS = {
  name: 'chat',
  mode: 'live',
  capacity: { units: 1 },
  allowedPresences: ['Available', 'Busy'],
  wrapUp: { blockCapacity: 'always' },
  defaultQueueId: 'q1',
  distribution: 'push',
  routingRules: [{ when: { field: 'topic', equals: 'billing' }, queueId: 'q2' }],
};

let n = 0;
async function starts(o: DemoOrg, context: Record<string, string> = {}): Promise<Conv> {
  const threadId = `rp-${++n}`;
  await ok(
    api.webhook(
      o.channel.chat,
      { eventId: `e-${threadId}`, type: 'conversation.started', threadId, context },
      o.secret,
    ),
    202,
  );
  const c = await eventually(
    async () =>
      (await o.admin.get<{ items: Conv[] }>(`/v1/conversations?channelId=${o.channel.chat}&threadId=${threadId}`)).body
        .items[0],
  );
  await rt.settle();
  return ok(o.admin.get<Conv>(`/v1/conversations/${c.id}`));
}

describe.each(RUNTIMES)('Q-3 over HTTP, on $on', ({ bundles }) => {
  beforeAll(async () => {
    rt = await startRuntime({ tickMs: 3_600_000, bundles });
    api = new Api(rt.url);
  });
  afterAll(() => rt?.stop());

  it('Q-3: the profile is stored and read back; a delayed member is offered a chat only after its delay; freed, she takes her first-priority queue first', async () => {
    // Prepare: carol has q2 first, q1 second with a 30 s delay; room for 1
    const o = await setupOrg(api);
    await ok(o.admin.put('/v1/admin/workstreams/ws-chat', CHAT_WS));
    await ok(o.admin.put('/v1/admin/agents/alice', { name: 'Alice', queues: ['q2'], capacity: { default: 1 } }));
    await ok(o.admin.put('/v1/admin/agents/bob', { name: 'Bob', queues: ['q2'], capacity: { default: 1 } }));
    const carol = await ok(
      o.admin.put('/v1/admin/agents/carol', {
        name: 'Carol',
        queues: [{ id: 'q1', priority: 2, delaySeconds: 30 }, { id: 'q2' }],
        capacity: { default: 1 },
      }),
    );
    expect(carol).toMatchObject({
      queues: ['q1', 'q2'],
      memberships: [
        { id: 'q1', priority: 2, delaySeconds: 30 },
        { id: 'q2', priority: 1, delaySeconds: 0 },
      ],
    });
    await ok((await o.agent('carol')).post('/v1/agents/me/sign-in'));
    await rt.settle();

    // Act 1: a chat enters q1, where carol (the only member) has a 30 s delay
    const first = await starts(o);
    await ok(api.post('/_local/clock', { advanceSeconds: 20 }));
    await rt.settle();
    const at20 = await ok(o.admin.get<Conv>(`/v1/conversations/${first.id}`));
    await ok(api.post('/_local/clock', { advanceSeconds: 11 }));
    await rt.settle();

    // Assess 1
    expect(first.status).toBe('Open');
    expect(at20.status).toBe('Open');
    expect(await ok(o.admin.get<Conv>(`/v1/conversations/${first.id}`))).toMatchObject({
      status: 'Active',
      primaryAgentId: 'carol',
    });

    // Act 2: she accepts it; an older chat waits in q1 (past her delay), a newer one in q2; she finishes hers
    const me = await o.agent('carol');
    await ok(me.post(`/v1/conversations/${first.id}/actions/accept`));
    const older = await starts(o);
    await ok(api.post('/_local/clock', { advanceSeconds: 60 }));
    const newer = await starts(o, { topic: 'billing' });
    for (const action of ['end', 'close']) await ok(me.post(`/v1/conversations/${first.id}/actions/${action}`));
    await rt.settle();

    // Assess 2: her first-priority queue's chat, though the other waited longer
    expect(await ok(o.admin.get<Conv>(`/v1/conversations/${newer.id}`))).toMatchObject({ primaryAgentId: 'carol' });
    expect((await ok(o.admin.get<Conv>(`/v1/conversations/${older.id}`))).status).toBe('Open');
  });

  it('Q-3 / RL-4: bad priorities and delays, unknown fields and a queue listed twice are 400, and nothing is written', async () => {
    // Prepare
    const o = await setupOrg(api);
    const agent = { name: 'Alice', capacity: { default: 3 } };

    // Act + Assess
    for (const queues of [
      [{ id: 'q1', priority: 0 }],
      [{ id: 'q1', priority: 10 }],
      [{ id: 'q1', priority: 1.5 }],
      [{ id: 'q1', delaySeconds: -1 }],
      [{ id: 'q1', delaySeconds: 86_401 }],
      [{ id: 'q1', delaySeconds: '5' }],
      [{ id: 'q1', weight: 2 }],
      [{ priority: 1 }],
      ['q1', { id: 'q1', priority: 2 }],
      [{ id: 'nope', priority: 2 }],
    ]) {
      const r = await o.admin.put('/v1/admin/agents/alice', { ...agent, queues });
      expect(r.status, JSON.stringify(queues)).toBe(400);
      expect(r.contentType).toContain('application/problem+json');
    }
    expect(await ok(o.admin.get('/v1/admin/agents/alice'))).toMatchObject({
      queues: ['q1'],
      memberships: [{ id: 'q1', priority: 1, delaySeconds: 0 }],
    });
  });
});
