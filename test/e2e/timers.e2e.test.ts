import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LocalRuntime } from '../../bin/local/runtime.js';
import { Api, eventually, setupOrg, startRuntime, type DemoOrg } from '../support/e2e.js';

/** Timers through the local runtime over HTTP, with the virtual clock (POST /_local/clock). */
let rt: LocalRuntime;
let api: Api;
beforeAll(async () => {
  // No real-time ticking: only the virtual clock moves timers here, so "not before" is exact.
  rt = await startRuntime({ tickMs: 3_600_000 });
  api = new Api(rt.url);
});
afterAll(() => rt?.stop());

type Conv = { id: string; status: string; threadId: string };
type Fired = { name: string; kind: string; conversationId?: string; agentId?: string; outcome: string };

const advance = async (seconds: number) => {
  const r = await api.post<{ now: string; fired: Fired[] }>('/_local/clock', { advanceSeconds: seconds });
  expect(r.status).toBe(200);
  return r.body.fired;
};

let thread = 0;
/** a customer starts a conversation on the channel, and the agent picks it */
async function picked(o: DemoOrg, kind: 'chat' | 'sms', agentId = 'alice'): Promise<{ c: Conv; agent: Api }> {
  const agent = await o.agent(agentId);
  const threadId = `th-${++thread}`;
  expect(
    (
      await api.webhook(
        o.channel[kind],
        { eventId: `start-${threadId}`, type: 'conversation.started', threadId },
        o.secret,
      )
    ).status,
  ).toBe(202);
  const c = await eventually(
    async () =>
      (await o.admin.get<{ items: Conv[] }>(`/v1/conversations?channelId=${o.channel[kind]}&threadId=${threadId}`)).body
        .items[0],
  );
  const r = await agent.post<Conv>(`/v1/conversations/${c.id}/actions/accept`);
  expect(r.status).toBe(200);
  return { c: r.body, agent };
}

const used = async (agent: Api) =>
  (await agent.get<{ capacity: { default: { used: number } } }>('/v1/agents/me')).body.capacity.default.used;
const statusOf = async (o: DemoOrg, id: string) => (await o.admin.get<Conv>(`/v1/conversations/${id}`)).body.status;

describe('timers over HTTP with the virtual clock', () => {
  it('C-3 / TM-1: a 5-minute wrap-up keeps the capacity at 2 minutes, releases it at 5, once even if the agent closes after', async () => {
    const o = await setupOrg(api, { wrapUp: 5 });
    const { c, agent } = await picked(o, 'chat');
    expect((await agent.post<Conv>(`/v1/conversations/${c.id}/actions/end`)).body.status).toBe('WrapUp');
    expect(await used(agent)).toBe(1);

    expect((await advance(120)).filter((f) => f.conversationId === c.id)).toEqual([]);
    expect(await used(agent)).toBe(1);

    const fired = (await advance(181)).filter((f) => f.conversationId === c.id);
    expect(fired).toMatchObject([{ kind: 'wrapup-release', outcome: 'applied' }]);
    expect(await used(agent)).toBe(0);
    expect(await statusOf(o, c.id)).toBe('WrapUp');

    expect((await agent.post<Conv>(`/v1/conversations/${c.id}/actions/close`)).body.status).toBe('Closed');
    expect(await used(agent)).toBe(0);
    const events = (
      await agent.get<{ items: { details?: { released?: string } }[] }>(`/v1/conversations/${c.id}/events`)
    ).body.items;
    expect(events.filter((e) => e.details?.released)).toHaveLength(1);
    expect((await advance(600)).filter((f) => f.conversationId === c.id)).toEqual([]);
  });

  it('T-8 / TM-2: Waiting closes after the inactivity timeout and not before; a customer message in between restarts the count', async () => {
    const o = await setupOrg(api);
    const ws = (await o.admin.get<Record<string, unknown>>('/v1/admin/workstreams/ws-sms')).body;
    const { org: _org, id: _id, ...body } = ws;
    expect(
      (await o.admin.put('/v1/admin/workstreams/ws-sms', { ...body, waitingInactivityTimeoutSeconds: 600 })).status,
    ).toBe(200);

    const { c, agent } = await picked(o, 'sms');
    expect((await agent.post<Conv>(`/v1/conversations/${c.id}/actions/close`)).body.status).toBe('Waiting');
    // the virtual clock also runs in real time: keep a margin below the 600 s on a loaded machine
    await advance(590);
    expect(await statusOf(o, c.id)).toBe('Waiting');

    // the customer writes at ~590 s: T-10 back to Open; the agent takes it and parks it again
    expect(
      (
        await api.webhook(
          o.channel.sms,
          { eventId: 'msg-1', type: 'message.received', threadId: c.threadId, message: { text: 'still there?' } },
          o.secret,
        )
      ).status,
    ).toBe(202);
    await eventually(async () => (await statusOf(o, c.id)) === 'Open');
    await agent.post(`/v1/conversations/${c.id}/actions/accept`);
    expect((await agent.post<Conv>(`/v1/conversations/${c.id}/actions/close`)).body.status).toBe('Waiting');

    // 600 s after the first Waiting, but only 300 s after the second: not closed
    await advance(300);
    expect(await statusOf(o, c.id)).toBe('Waiting');
    const fired = (await advance(301)).filter((f) => f.conversationId === c.id && f.outcome === 'applied');
    expect(fired).toMatchObject([{ kind: 'inactivity-timeout' }]);
    expect(await statusOf(o, c.id)).toBe('Closed');
  });

  it('T-4a / TM-3: an agent disconnected past the reconnect timeout loses their Active conversations to Open, capacity released', async () => {
    const o = await setupOrg(api);
    const { c, agent } = await picked(o, 'chat');
    await agent.post('/v1/agents/me/sign-in');
    expect((await agent.post('/v1/agents/me/connection', { connected: false })).status).toBe(200);
    // the virtual clock also runs in real time: keep a margin below the 120 s on a loaded machine
    await advance(110);
    expect(await statusOf(o, c.id)).toBe('Active');
    await advance(11);
    expect(await statusOf(o, c.id)).toBe('Open');
    expect(await used(agent)).toBe(0);
  });

  it('T-4a / TM-3: an agent who reconnects in time keeps their conversations', async () => {
    const o = await setupOrg(api);
    const { c, agent } = await picked(o, 'chat');
    await agent.post('/v1/agents/me/sign-in');
    await agent.post('/v1/agents/me/connection', { connected: false });
    await advance(100);
    await agent.post('/v1/agents/me/connection', { connected: true });
    const fired = (await advance(300)).filter((f) => f.conversationId === c.id);
    expect(fired).toMatchObject([{ kind: 'reconnect-timeout', outcome: 'stale' }]);
    expect(await statusOf(o, c.id)).toBe('Active');
    expect(await used(agent)).toBe(1);
  });

  it('P-4 / TM-4 / P-3: presence is kept within 150 s of a disconnect and computed again after (manual override cleared)', async () => {
    const o = await setupOrg(api);
    const alice = await o.agent('alice');
    await alice.post('/v1/agents/me/sign-in');
    expect((await alice.put('/v1/agents/me/presence', { presence: 'Away' })).body).toMatchObject({
      presence: 'Away',
      presenceSource: 'manual',
    });
    await alice.post('/v1/agents/me/connection', { connected: false });
    // the virtual clock also runs in real time: keep a margin below 150 s for a loaded machine
    await advance(140);
    expect((await alice.get('/v1/agents/me')).body).toMatchObject({
      presence: 'Away',
      presenceSource: 'manual',
      connected: false,
    });
    const fired = (await advance(11)).filter((f) => f.agentId === 'alice' && f.kind === 'presence-grace');
    expect(fired).toMatchObject([{ outcome: 'applied' }]);
    expect((await alice.get('/v1/agents/me')).body).toMatchObject({
      presence: 'Available',
      presenceSource: 'computed',
    });
    await alice.post('/v1/agents/me/connection', { connected: true });
    expect((await alice.get('/v1/agents/me')).body).toMatchObject({
      presence: 'Available',
      presenceSource: 'computed',
      connected: true,
    });
  });

  it('P-4 / TM-4: a reconnect within 150 s keeps the manual presence', async () => {
    const o = await setupOrg(api);
    const alice = await o.agent('alice');
    await alice.post('/v1/agents/me/sign-in');
    await alice.put('/v1/agents/me/presence', { presence: 'BusyDND' });
    await alice.post('/v1/agents/me/connection', { connected: false });
    await advance(100);
    await alice.post('/v1/agents/me/connection', { connected: true });
    expect((await advance(100)).filter((f) => f.agentId === 'alice')).toMatchObject([
      { kind: 'presence-grace', outcome: 'stale' },
    ]);
    expect((await alice.get('/v1/agents/me')).body).toMatchObject({ presence: 'BusyDND', presenceSource: 'manual' });
  });

  it('POST /_local/clock rejects a bad body with problem+json', async () => {
    const r = await api.post('/_local/clock', { advanceSeconds: -1 });
    expect(r.status).toBe(400);
    expect(r.contentType).toContain('application/problem+json');
  });
});
