import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LocalRuntime } from '../../bin/local/runtime.js';
import { Api, eventually, ok, RUNTIMES, setupOrg, startRuntime, type DemoOrg } from '../support/e2e.js';

/** A-2 preferred agent over HTTP on the local runtime (sources and bundles): the rule, the context, the read, the timeout, RL-4. */

let rt: LocalRuntime;
let api: Api;

type Conv = {
  id: string;
  status: string;
  primaryAgentId?: string;
  preferredAgentId?: string;
  preferredUntil?: string;
  createdAt: string;
};

const CHAT_WS = {
  name: 'chat',
  mode: 'live',
  capacity: { units: 1 },
  allowedPresences: ['Available', 'Busy'],
  wrapUp: { blockCapacity: 'never' },
  defaultQueueId: 'q1',
  distribution: 'push',
  preferredAgentTimeoutSeconds: 40,
  routingRules: [{ when: { field: 'returning', equals: 'yes' }, preferredAgent: 'last' }],
};

async function starts(o: DemoOrg, threadId: string, context: Record<string, string> = {}): Promise<Conv> {
  await ok(
    api.webhook(
      o.channel.chat,
      { eventId: `e-${threadId}-${Object.keys(context).join()}`, type: 'conversation.started', threadId, context },
      o.secret,
    ),
    202,
  );
  const c = await eventually(async () => {
    const items = (
      await o.admin.get<{ items: Conv[] }>(`/v1/conversations?channelId=${o.channel.chat}&threadId=${threadId}`)
    ).body.items;
    return items.find((x) => x.status !== 'Closed');
  });
  await rt.settle();
  return ok(o.admin.get<Conv>(`/v1/conversations/${c.id}`));
}

describe.each(RUNTIMES)('A-2 over HTTP, on $on', ({ bundles }) => {
  beforeAll(async () => {
    rt = await startRuntime({ tickMs: 3_600_000, bundles });
    api = new Api(rt.url);
  });
  afterAll(() => rt?.stop());

  it('A-2: a returning customer waits for the agent of the last conversation (read shows her); after the timeout anyone takes it', async () => {
    // Prepare: alice (room for 3) handles the thread's first chat; bob joins with room for 2
    const o = await setupOrg(api);
    await ok(o.admin.put('/v1/admin/workstreams/ws-chat', CHAT_WS));
    expect(await ok(o.admin.get('/v1/admin/workstreams/ws-chat'))).toMatchObject({
      preferredAgentTimeoutSeconds: 40,
      routingRules: [{ queueId: 'q1', preferredAgent: 'last' }],
    });
    const alice = await o.agent('alice');
    await ok(alice.post('/v1/agents/me/sign-in'));
    await rt.settle();
    const first = await starts(o, 'pa-1');
    expect(first.primaryAgentId).toBe('alice');
    for (const action of ['accept', 'end', 'close'])
      await ok(alice.post(`/v1/conversations/${first.id}/actions/${action}`));
    // alice is busy with another chat of her own; bob is free
    const busy = await starts(o, 'pa-2', { preferredAgentId: 'alice' });
    const aliceReads = await ok(
      o.admin.put('/v1/admin/agents/alice', { name: 'Alice', queues: ['q1'], capacity: { default: 1 } }),
    );
    expect(aliceReads).toMatchObject({ capacity: { default: { max: 1, used: 1 } } });
    await ok((await o.agent('bob')).post('/v1/agents/me/sign-in'));
    await rt.settle();

    // Act 1: the customer comes back on the first thread
    const second = await starts(o, 'pa-1', { returning: 'yes' });

    // Assess 1: it waits for alice, not bob
    expect(busy.primaryAgentId).toBe('alice');
    expect(second).toMatchObject({ status: 'Open', preferredAgentId: 'alice' });
    // the timeout from its creation, on whole seconds as timers are
    const window = Date.parse(second.preferredUntil ?? '') - Date.parse(second.createdAt);
    expect(window).toBeGreaterThanOrEqual(40_000);
    expect(window).toBeLessThan(41_000);

    // Act 2: the window passes
    await ok(api.post('/_local/clock', { advanceSeconds: 41 }));
    await rt.settle();

    // Assess 2
    expect(await ok(o.admin.get<Conv>(`/v1/conversations/${second.id}`))).toMatchObject({
      status: 'Active',
      primaryAgentId: 'bob',
      preferredAgentId: 'alice',
    });
  });

  it('A-2 / RL-4: a bad preferredAgent or timeout is 400, and nothing is written', async () => {
    // Prepare
    const o = await setupOrg(api);

    // Act + Assess
    for (const ws of [
      { ...CHAT_WS, preferredAgentTimeoutSeconds: -1 },
      { ...CHAT_WS, preferredAgentTimeoutSeconds: 2.5 },
      { ...CHAT_WS, preferredAgentTimeoutSeconds: '30' },
      { ...CHAT_WS, routingRules: [{ when: { field: 'x', equals: 'y' }, preferredAgent: 'first' }] },
      { ...CHAT_WS, routingRules: [{ when: { field: 'x', equals: 'y' }, preferredAgent: true }] },
    ]) {
      const r = await o.admin.put('/v1/admin/workstreams/ws-chat', ws);
      expect(r.status, JSON.stringify(ws)).toBe(400);
      expect(r.contentType).toContain('application/problem+json');
    }
    expect(await ok(o.admin.get('/v1/admin/workstreams/ws-chat'))).toMatchObject({
      preferredAgentTimeoutSeconds: 30,
      distribution: 'pick',
    });
  });
});
