import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LocalRuntime } from '../../bin/local/runtime.js';
import { Api, eventually, RUNTIMES, setupOrg, startRuntime, type DemoOrg } from '../support/e2e.js';

// the runtime of the describe block running (one at a time: on the sources, then on the bundles)
let rt: LocalRuntime;
let api: Api;

type Conv = { id: string; status: string; primaryAgentId?: string; accepted?: boolean };

async function pushChat(o: DemoOrg): Promise<void> {
  const ws = (await o.admin.get<Record<string, unknown>>('/v1/admin/workstreams/ws-chat')).body;
  const { org: _org, id: _id, ...body } = ws;
  expect(
    (await o.admin.put('/v1/admin/workstreams/ws-chat', { ...body, distribution: 'push', offerTimeoutSeconds: 60 }))
      .status,
  ).toBe(200);
}

let n = 0;
async function customerStarts(o: DemoOrg): Promise<Conv> {
  const threadId = `push-${++n}`;
  expect(
    (await api.webhook(o.channel.chat, { eventId: `e-${threadId}`, type: 'conversation.started', threadId }, o.secret))
      .status,
  ).toBe(202);
  return eventually(
    async () =>
      (await o.admin.get<{ items: Conv[] }>(`/v1/conversations?channelId=${o.channel.chat}&threadId=${threadId}`)).body
        .items[0],
  );
}

describe.each(RUNTIMES)('push distribution over HTTP, on $on', ({ bundles }) => {
  beforeAll(async () => {
    rt = await startRuntime({ tickMs: 3_600_000, bundles });
    api = new Api(rt.url);
  });
  afterAll(() => rt?.stop());

  it('R-3: a new conversation is offered to the signed-in agent with most remaining capacity; reject/expiry re-offer to the next', async () => {
    const o = await setupOrg(api);
    await pushChat(o);
    const alice = await o.agent('alice'); // 3 units
    const bob = await o.agent('bob'); // 2 units
    await alice.post('/v1/agents/me/sign-in');
    await bob.post('/v1/agents/me/sign-in');
    await rt.settle(); // their availability entries are written (the sign-ins' follow-ups)

    const c = await customerStarts(o);
    const offered = await eventually(async () => {
      const r = (await o.admin.get<Conv>(`/v1/conversations/${c.id}`)).body;
      return r.status === 'Active' ? r : undefined;
    });
    expect(offered).toMatchObject({ primaryAgentId: 'alice', accepted: false });

    expect((await alice.post<Conv>(`/v1/conversations/${c.id}/actions/reject`)).status).toBe(200);
    await rt.settle(); // the reject's follow-ups: the conversation back in Open is offered again
    expect((await o.admin.get<Conv>(`/v1/conversations/${c.id}`)).body).toMatchObject({
      status: 'Active',
      primaryAgentId: 'bob',
      accepted: false,
    });

    const fired = (
      await api.post<{ fired: { kind: string; conversationId?: string; outcome: string }[] }>('/_local/clock', {
        advanceSeconds: 61,
      })
    ).body.fired;
    // alice's offer (v2) expired as an answered offer: stale; bob's (v4) applies
    expect(
      fired
        .filter((f) => f.conversationId === c.id && f.kind === 'offer-expiry')
        .map((f) => f.outcome)
        .sort(),
    ).toEqual(['applied', 'stale']);
    // bob let it expire: back to alice (everyone declined: start over, longest ago first)
    expect((await o.admin.get<Conv>(`/v1/conversations/${c.id}`)).body).toMatchObject({
      status: 'Active',
      primaryAgentId: 'alice',
      accepted: false,
    });
    expect((await alice.post<Conv>(`/v1/conversations/${c.id}/actions/accept`)).body).toMatchObject({
      status: 'Active',
      accepted: true,
    });
  });
});
