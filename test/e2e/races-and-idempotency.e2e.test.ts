import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LocalRuntime } from '../../bin/local/runtime.js';
import { Api, eventually, setupOrg, startRuntime, token, type DemoOrg } from '../support/e2e.js';

interface Conv {
  id: string;
  status: string;
  queueId: string;
  primaryAgentId?: string;
  version: number;
}
interface Ev {
  action: string;
  from: string | null;
  to: string;
  actor: string;
}

let rt: LocalRuntime;
let api: Api;
let seq = 0;
beforeAll(async () => {
  rt = await startRuntime();
  api = new Api(rt.url);
});
afterAll(() => rt?.stop());

/** A new Open chat conversation in q1 of the org. */
async function openChat(o: DemoOrg): Promise<Conv> {
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
const eventsOf = async (o: DemoOrg, id: string): Promise<Ev[]> =>
  (await o.admin.get<{ items: Ev[] }>(`/v1/conversations/${id}/events`)).body.items;
const usedOf = async (o: DemoOrg, agentId: string): Promise<number | undefined> =>
  (await o.admin.get<{ capacity: Record<string, { used: number }> }>(`/v1/agents/${agentId}`)).body.capacity.default
    ?.used;

describe('RL-2: of concurrent conflicting actions exactly one wins', () => {
  it('RL-2 / T-1 / RL-3: 10 agents accept one Open conversation at once: one 200, nine 409 naming Active; one allocation', async () => {
    // Prepare: ten agents of q1, configured over HTTP
    const o = await setupOrg(api);
    const ids = Array.from({ length: 10 }, (_, i) => `racer-${i}`);
    for (const id of ids) {
      expect(
        (await o.admin.put(`/v1/admin/agents/${id}`, { name: id, queues: ['q1'], capacity: { default: 2 } })).status,
      ).toBe(200);
    }
    const agents = await Promise.all(ids.map(async (id) => api.as(await token(o.org, id, ['agent']))));
    const c = await openChat(o);

    // Act
    const results = await Promise.all(
      agents.map((a) => a.post<Conv & { currentStatus?: string }>(`/v1/conversations/${c.id}/actions/accept`)),
    );

    // Assess
    const winners = results.filter((r) => r.status === 200);
    const losers = results.filter((r) => r.status !== 200);
    expect(winners).toHaveLength(1);
    expect(losers.map((r) => r.status)).toEqual(Array(9).fill(409));
    for (const r of losers) {
      expect(r.contentType).toMatch(/^application\/problem\+json/);
      expect(r.body).toMatchObject({
        status: 409,
        currentStatus: 'Active',
        type: expect.any(String),
        title: expect.any(String),
        detail: expect.any(String),
      });
    }
    const winner = ids[results.findIndex((r) => r.status === 200)] as string;
    expect(winners[0]?.body).toMatchObject({ status: 'Active', primaryAgentId: winner, version: 2 });
    expect((await o.admin.get(`/v1/conversations/${c.id}`)).body).toMatchObject({
      status: 'Active',
      primaryAgentId: winner,
      version: 2,
    });
    const events = await eventsOf(o, c.id);
    expect(events.map((e) => [e.to, e.actor])).toEqual([
      ['Open', expect.any(String)],
      ['Active', winner],
    ]);
    // RL-3 / C-6: only the winner holds capacity
    const used = await Promise.all(ids.map((id) => usedOf(o, id)));
    expect(used).toEqual(ids.map((id) => (id === winner ? 1 : 0)));
  });

  it('RL-2: the primary ending and releasing at once: exactly one wins, the other names the new status', async () => {
    // Prepare
    const o = await setupOrg(api);
    const alice = await o.agent('alice');
    const c = await openChat(o);
    await alice.post(`/v1/conversations/${c.id}/actions/accept`);

    // Act
    const [end, release] = await Promise.all([
      alice.post(`/v1/conversations/${c.id}/actions/end`),
      alice.post(`/v1/conversations/${c.id}/actions/release`),
    ]);

    // Assess
    const statuses = [end.status, release.status].sort();
    expect(statuses).toEqual([200, 409]);
    const final = (await o.admin.get<Conv>(`/v1/conversations/${c.id}`)).body;
    const loser = end.status === 409 ? end : release;
    expect(loser.body).toMatchObject({ currentStatus: final.status });
    expect(final.status).toBe(end.status === 200 ? 'WrapUp' : 'Open');
    expect((await eventsOf(o, c.id)).length).toBe(3);
    // wrap-up blocks capacity ("always"); a release frees it
    expect(await usedOf(o, 'alice')).toBe(final.status === 'WrapUp' ? 1 : 0);
  });
});

describe('Idempotency-Key on conversation actions', () => {
  it('Idempotency-Key: a repeated accept with the same key returns the first result; the version and history do not move', async () => {
    // Prepare
    const o = await setupOrg(api);
    const alice = await o.agent('alice');
    const c = await openChat(o);
    const key = { 'idempotency-key': 'accept-once-1' };

    // Act
    const first = await alice.post<Conv>(`/v1/conversations/${c.id}/actions/accept`, undefined, key);
    const second = await alice.post<Conv>(`/v1/conversations/${c.id}/actions/accept`, undefined, key);
    const withEmptyBody = await alice.post<Conv>(`/v1/conversations/${c.id}/actions/accept`, {}, key);

    // Assess
    expect(first.status).toBe(200);
    expect(first.body).toMatchObject({ status: 'Active', primaryAgentId: 'alice', version: 2 });
    expect(second.status).toBe(200);
    expect(second.body).toEqual(first.body);
    expect(withEmptyBody.status).toBe(200);
    expect(withEmptyBody.body).toEqual(first.body);
    expect((await alice.get<Conv>(`/v1/conversations/${c.id}`)).body.version).toBe(first.body.version);
    expect((await eventsOf(o, c.id)).filter((e) => e.action === 'accept')).toHaveLength(1);
    expect(await usedOf(o, 'alice')).toBe(1);
    // without the key, the same request is a new one and is refused by the transition table (T-13)
    const fresh = await alice.post(`/v1/conversations/${c.id}/actions/accept`);
    expect(fresh.status).toBe(409);
    expect(fresh.body).toMatchObject({ currentStatus: 'Active' });
  });

  it('Idempotency-Key: the key is scoped to its caller: another agent with the same key is a new request', async () => {
    // Prepare
    const o = await setupOrg(api);
    const alice = await o.agent('alice');
    const bob = await o.agent('bob');
    const c = await openChat(o);
    const key = { 'idempotency-key': 'shared-key-1' };
    expect((await alice.post(`/v1/conversations/${c.id}/actions/accept`, undefined, key)).status).toBe(200);

    // Act
    const r = await bob.post(`/v1/conversations/${c.id}/actions/accept`, undefined, key);

    // Assess
    expect(r.status).toBe(409);
    expect(r.body).toMatchObject({ currentStatus: 'Active' });
    expect((await o.admin.get<Conv>(`/v1/conversations/${c.id}`)).body.primaryAgentId).toBe('alice');
  });

  it('Idempotency-Key: the same key with a different transfer body is 422 (IETF Idempotency-Key draft) and changes nothing; with the same body it replays', async () => {
    // Prepare: alice's Active conversation, transferred to q2 with a key (T-4c)
    const o = await setupOrg(api);
    const alice = await o.agent('alice');
    const c = await openChat(o);
    await alice.post(`/v1/conversations/${c.id}/actions/accept`);
    const key = { 'idempotency-key': 'transfer-1' };
    const first = await alice.post<Conv>(`/v1/conversations/${c.id}/actions/transfer`, { queueId: 'q2' }, key);
    expect(first.status).toBe(200);
    expect(first.body).toMatchObject({ status: 'Open', queueId: 'q2' });

    // Act
    const changed = await alice.post(`/v1/conversations/${c.id}/actions/transfer`, { queueId: 'q1' }, key);
    const replay = await alice.post<Conv>(`/v1/conversations/${c.id}/actions/transfer`, { queueId: 'q2' }, key);

    // Assess
    expect(changed.status).toBe(422);
    expect(changed.contentType).toMatch(/^application\/problem\+json/);
    expect(changed.body).toMatchObject({
      status: 422,
      type: 'urn:problem:idempotency-key-reused',
      title: expect.any(String),
      detail: expect.any(String),
    });
    expect(replay.status).toBe(200);
    expect(replay.body).toEqual(first.body);
    const now = (await o.admin.get<Conv>(`/v1/conversations/${c.id}`)).body;
    expect(now).toMatchObject({ status: 'Open', queueId: 'q2', version: first.body.version });
    expect((await eventsOf(o, c.id)).filter((e) => e.action === 'transfer')).toHaveLength(1);
  });

  it('Idempotency-Key: two identical keyed accepts at once apply once (200, or 409 while the first is in progress)', async () => {
    // Prepare
    const o = await setupOrg(api);
    const alice = await o.agent('alice');
    const c = await openChat(o);
    const key = { 'idempotency-key': 'concurrent-1' };

    // Act
    const results = await Promise.all(
      [1, 2, 3].map(() => alice.post<Conv>(`/v1/conversations/${c.id}/actions/accept`, undefined, key)),
    );

    // Assess
    const ok = results.filter((r) => r.status === 200);
    expect(ok.length).toBeGreaterThanOrEqual(1);
    for (const r of results) expect([200, 409]).toContain(r.status);
    for (const r of ok) expect(r.body).toEqual(ok[0]?.body);
    expect((await eventsOf(o, c.id)).filter((e) => e.action === 'accept')).toHaveLength(1);
    expect(await usedOf(o, 'alice')).toBe(1);
  });

  it('RL-4: a malformed Idempotency-Key is 400 and nothing happens', async () => {
    // Prepare
    const o = await setupOrg(api);
    const alice = await o.agent('alice');
    const c = await openChat(o);

    // Act
    const r = await alice.post(`/v1/conversations/${c.id}/actions/accept`, undefined, {
      'idempotency-key': 'has spaces and ünïcode',
    });

    // Assess
    expect(r.status).toBe(400);
    expect(r.contentType).toMatch(/^application\/problem\+json/);
    expect((r.body.errors as { field: string }[])[0]?.field).toBe('header.Idempotency-Key');
    expect((await o.admin.get<Conv>(`/v1/conversations/${c.id}`)).body).toMatchObject({ status: 'Open', version: 1 });
  });
});
