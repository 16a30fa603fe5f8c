import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LocalRuntime } from '../../bin/local/runtime.js';
import { Api, eventually, ok, RUNTIMES, setupOrg, startRuntime, type DemoOrg } from '../support/e2e.js';

/** A-1 assignment methods over HTTP on the local runtime (sources and bundles): configuration, routing, validation. */

let rt: LocalRuntime;
let api: Api;

type Conv = { id: string; status: string; primaryAgentId?: string };

const CHAT_WS = {
  name: 'chat',
  mode: 'live',
  capacity: { units: 1 },
  allowedPresences: ['Available', 'Busy'],
  wrapUp: { blockCapacity: 'always' },
  defaultQueueId: 'q1',
  distribution: 'push',
};

let n = 0;
async function offeredTo(o: DemoOrg): Promise<string | undefined> {
  const threadId = `as-${++n}`;
  await ok(
    api.webhook(o.channel.chat, { eventId: `e-${threadId}`, type: 'conversation.started', threadId }, o.secret),
    202,
  );
  const c = await eventually(
    async () =>
      (await o.admin.get<{ items: Conv[] }>(`/v1/conversations?channelId=${o.channel.chat}&threadId=${threadId}`)).body
        .items[0],
  );
  await rt.settle();
  return (await ok(o.admin.get<Conv>(`/v1/conversations/${c.id}`))).primaryAgentId;
}

describe.each(RUNTIMES)('A-1 over HTTP, on $on', ({ bundles }) => {
  beforeAll(async () => {
    rt = await startRuntime({ tickMs: 3_600_000, bundles });
    api = new Api(rt.url);
  });
  afterAll(() => rt?.stop());

  it('A-1: a round-robin workstream spreads chats that most-capacity would give to one agent; the read shows the method', async () => {
    // Prepare: alice has room for 3, bob for 2 (setupOrg)
    const o = await setupOrg(api);
    await ok(o.admin.put('/v1/admin/workstreams/ws-chat', { ...CHAT_WS, assignment: 'round-robin' }));
    for (const id of ['alice', 'bob']) await ok((await o.agent(id)).post('/v1/agents/me/sign-in'));
    await rt.settle();

    // Act
    const first = await offeredTo(o);
    const second = await offeredTo(o);

    // Assess: most-capacity would offer alice both (3 then 2 free, ties to the longest idle)
    expect([first, second].sort()).toEqual(['alice', 'bob']);
    expect(await ok(o.admin.get('/v1/admin/workstreams/ws-chat'))).toMatchObject({ assignment: 'round-robin' });
  });

  it('A-1 / RL-4: an unknown assignment method is 400 and the workstream is unchanged (most-capacity when unset)', async () => {
    // Prepare
    const o = await setupOrg(api);

    // Act + Assess
    for (const assignment of ['random', '', 3, null, 'Round-Robin']) {
      const r = await o.admin.put('/v1/admin/workstreams/ws-chat', { ...CHAT_WS, assignment });
      expect(r.status, JSON.stringify(assignment)).toBe(400);
      expect(r.contentType).toContain('application/problem+json');
    }
    expect(await ok(o.admin.get('/v1/admin/workstreams/ws-chat'))).toMatchObject({
      assignment: 'most-capacity',
      distribution: 'pick',
    });
  });
});
