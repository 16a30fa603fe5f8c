import { describe, expect, it } from 'vitest';
import { decide } from '../../functions/domain/decide.js';
import { CapacityExceededError, TransitionConflictError } from '../../functions/domain/errors.js';
import type { ActorRole, ChannelKind, Conversation } from '../../functions/domain/model.js';
import type { Action } from '../../functions/domain/transitions.js';
import { CommitConflict } from '../../functions/ports/storage-types.js';
import { performAction, type ActionResult } from '../../functions/use-cases/conversation-action.use-case.js';
import { ledgerOf, makeFixture, type Fixture } from '../support/fixture.js';

/**
 * Races on DynamoDB Local (RL-2, RL-3, C-5, C-6). Every contender goes through performAction, i.e. the
 * real load -> decide -> one TransactWriteItems -> retry-on-conflict path; nothing is mocked.
 */

const act = (
  f: Fixture,
  actorId: string,
  conversationId: string,
  action: Action,
  role: ActorRole = 'agent',
): Promise<ActionResult> => performAction(f.deps, { org: f.org, conversationId, actor: { role, id: actorId }, action });

const fulfilled = <T>(results: PromiseSettledResult<T>[]): T[] =>
  results.flatMap((r) => (r.status === 'fulfilled' ? [r.value] : []));
const rejections = <T>(results: PromiseSettledResult<T>[]): unknown[] =>
  results.flatMap((r) => (r.status === 'rejected' ? [r.reason as unknown] : []));

/** The pool counter and the allocation items of one agent, side by side (RL-3). */
async function capacityOf(
  f: Fixture,
  agentId: string,
): Promise<{ used: number; max: number; allocatedUnits: number; conversations: string[] }> {
  const ledger = await ledgerOf(f, agentId);
  const allocations = await f.store.listAllocations(f.org, agentId);
  return {
    used: ledger.pools.default?.used ?? Number.NaN,
    max: ledger.pools.default?.max ?? Number.NaN,
    allocatedUnits: ledger.allocated.default ?? 0,
    conversations: allocations.map((a) => a.conversationId).sort(),
  };
}

/**
 * RL-3 / C-2 / C-5 across a set of agents and conversations: each pool's used units equal its
 * allocations, stay within 0..max, and every allocation belongs to a conversation that says it holds
 * it (and vice versa).
 */
async function expectLedgerConsistent(f: Fixture, agentIds: string[], conversationIds: string[]): Promise<void> {
  const held = new Map<string, string>();
  for (const id of conversationIds) {
    const c = await f.conversation(id);
    if (c.allocation) held.set(id, c.allocation.agentId);
    if (c.status === 'Open' || c.status === 'Waiting' || c.status === 'Closed')
      expect(c.allocation, `${id} is ${c.status}`).toBeUndefined();
  }
  const allocated = new Map<string, string>();
  for (const agentId of agentIds) {
    const cap = await capacityOf(f, agentId);
    expect(cap.used, `RL-3 ${agentId}`).toBe(cap.allocatedUnits);
    expect(cap.used, `C-5 ${agentId}`).toBeGreaterThanOrEqual(0);
    expect(cap.used, `C-5 ${agentId}`).toBeLessThanOrEqual(cap.max);
    for (const c of cap.conversations) allocated.set(c, agentId);
  }
  expect(Object.fromEntries(allocated)).toEqual(Object.fromEntries(held));
}

/** How many history events of a conversation released capacity (decide() records `details.released`). */
const releasesOf = async (f: Fixture, conversationId: string): Promise<number> =>
  (await f.store.listEvents(f.org, conversationId)).filter((e) => e.details?.released !== undefined).length;

/** A conversation accepted by `agentId` (Active, holding one allocation). */
async function activeFor(f: Fixture, agentId: string, kind: ChannelKind = 'chat'): Promise<Conversation> {
  const c = await f.start(kind);
  return (await act(f, agentId, c.id, { type: 'accept' })).conversation;
}

describe('concurrency on DynamoDB Local', () => {
  it('RL-2: 12 agents accept the same Open conversation at once -> exactly one succeeds', async () => {
    // Prepare
    const f = await makeFixture();
    const agents = Array.from({ length: 12 }, (_, i) => `agent-${String(i + 1).padStart(2, '0')}`);
    await Promise.all(agents.map((a) => f.addAgent(a, { default: 3 }, ['q1'])));
    const c = await f.start('chat');

    // Act
    const results = await Promise.allSettled(agents.map((a) => act(f, a, c.id, { type: 'accept' })));

    // Assess
    const wins = fulfilled(results);
    expect(wins).toHaveLength(1);
    const winner = agents[results.findIndex((r) => r.status === 'fulfilled')] as string;
    const losses = rejections(results);
    expect(losses).toHaveLength(11);
    for (const err of losses) {
      expect(err).toBeInstanceOf(TransitionConflictError);
      expect((err as TransitionConflictError).currentStatus).toBe('Active');
    }
    const stored = await f.conversation(c.id);
    expect(stored).toMatchObject({
      status: 'Active',
      primaryAgentId: winner,
      version: 2,
      allocation: { agentId: winner, pool: 'default', units: 1 },
    });
    for (const a of agents) {
      const cap = await capacityOf(f, a);
      expect(cap, a).toMatchObject(
        a === winner
          ? { used: 1, allocatedUnits: 1, conversations: [c.id] }
          : { used: 0, allocatedUnits: 0, conversations: [] },
      );
    }
    const events = await f.store.listEvents(f.org, c.id);
    expect(events.map((e) => [e.seq, e.to, e.actor])).toEqual([
      [1, 'Open', `thread:${c.threadId}`],
      [2, 'Active', winner],
    ]);
  });

  it('C-5: one agent with 3 units accepts 8 conversations at once -> exactly 3 succeed', async () => {
    // Prepare
    const f = await makeFixture();
    await f.addAgent('solo', { default: 3 }, ['q1']);
    const conversations: Conversation[] = [];
    for (let i = 0; i < 8; i++) conversations.push(await f.start('chat'));

    // Act
    const results = await Promise.allSettled(conversations.map((c) => act(f, 'solo', c.id, { type: 'accept' })));

    // Assess
    const wins = fulfilled(results)
      .map((r) => r.conversation.id)
      .sort();
    expect(wins).toHaveLength(3);
    const losses = rejections(results);
    expect(losses).toHaveLength(5);
    for (const err of losses) {
      // Not enough capacity is a CapacityExceededError, never a "lost race" conflict: nobody else touched these conversations.
      expect(err).toBeInstanceOf(CapacityExceededError);
      expect(err).toMatchObject({ currentStatus: 'Open', agentId: 'solo', pool: 'default', units: 1 });
    }
    const cap = await capacityOf(f, 'solo');
    expect(cap).toEqual({ used: 3, max: 3, allocatedUnits: 3, conversations: wins });
    for (const c of conversations) {
      const stored = await f.conversation(c.id);
      if (wins.includes(c.id)) expect(stored).toMatchObject({ status: 'Active', primaryAgentId: 'solo', version: 2 });
      else expect(stored, 'a refused accept changes nothing (T-13)').toEqual(c);
    }
  });

  it('RL-3: allocations equal pool counters after concurrent accepts and mixed concurrent end/close/release', async () => {
    // Prepare: three agents with mixed capacities racing for ten conversations of four kinds.
    const f = await makeFixture();
    const agents = { ann: 2, bob: 3, cyd: 4 };
    const agentIds = Object.keys(agents);
    for (const [id, max] of Object.entries(agents)) await f.addAgent(id, { default: max }, ['q1', 'q2']);
    const kinds: ChannelKind[] = [
      'chat',
      'voice',
      'sms',
      'record',
      'chat',
      'whatsapp',
      'voice',
      'sms',
      'record',
      'chat',
    ];
    const conversations: Conversation[] = [];
    for (const kind of kinds) conversations.push(await f.start(kind));
    const ids = conversations.map((c) => c.id);

    // Act 1: every agent tries to accept every conversation at once.
    const accepts = await Promise.allSettled(
      agentIds.flatMap((a) => ids.map((id) => act(f, a, id, { type: 'accept' }))),
    );

    // Assess 1: each conversation has at most one winner, every agent is full or holds everything it won.
    const accepted = fulfilled(accepts);
    expect(new Set(accepted.map((r) => r.conversation.id)).size).toBe(accepted.length);
    expect(accepted.length).toBe(Math.min(ids.length, 2 + 3 + 4));
    for (const err of rejections(accepts))
      expect(
        [TransitionConflictError, CapacityExceededError].some((t) => err instanceof t),
        String(err),
      ).toBe(true);
    await expectLedgerConsistent(f, agentIds, ids);

    // Act 2: every agent fires a mixed bag of end / close / release / transfer at every conversation at once;
    // only the primary's first valid action may change a conversation.
    const actions: Action[] = [
      { type: 'end' },
      { type: 'close' },
      { type: 'release' },
      { type: 'transfer', target: { kind: 'queue', queueId: 'q2' } },
    ];
    const mixed = await Promise.allSettled(
      agentIds.flatMap((a, i) =>
        ids.flatMap((id, j) =>
          [actions[(i + j) % 4] as Action, actions[(i + j + 1) % 4] as Action].map((x) => act(f, a, id, x)),
        ),
      ),
    );

    // Assess 2
    expect(fulfilled(mixed).length).toBeGreaterThan(0);
    await expectLedgerConsistent(f, agentIds, ids);

    // Act 3: the WrapUp ones are closed by End and X at once, the Open ones are accepted again at once.
    const again = await Promise.allSettled(
      agentIds.flatMap((a) =>
        ids.flatMap((id) => [
          act(f, a, id, { type: 'end' }),
          act(f, a, id, { type: 'close' }),
          act(f, a, id, { type: 'accept' }),
        ]),
      ),
    );

    // Assess 3
    expect(fulfilled(again).length).toBeGreaterThan(0);
    await expectLedgerConsistent(f, agentIds, ids);
    for (const id of ids) {
      const c = await f.conversation(id);
      const events = await f.store.listEvents(f.org, id);
      expect(events.map((e) => e.seq)).toEqual(Array.from({ length: c.version }, (_, i) => i + 1));
    }
  });

  it('C-6: releasing the same allocation twice sequentially releases it once', async () => {
    // Prepare
    const f = await makeFixture();
    await f.addAgent('alice', { default: 1 });
    const c = await activeFor(f, 'alice');
    expect((await capacityOf(f, 'alice')).used).toBe(1);

    // Act
    await act(f, 'alice', c.id, { type: 'release' });
    const second = act(f, 'alice', c.id, { type: 'release' });

    // Assess
    await expect(second).rejects.toBeInstanceOf(TransitionConflictError);
    await expect(second).rejects.toMatchObject({ currentStatus: 'Open' });
    expect(await capacityOf(f, 'alice')).toMatchObject({ used: 0, allocatedUnits: 0, conversations: [] });
    expect(await f.conversation(c.id)).toMatchObject({ status: 'Open', version: 3 });
    expect(await releasesOf(f, c.id)).toBe(1);
  });

  it('C-6, C-3: the N-minute wrap-up release, repeated, then End releases the allocation once', async () => {
    // Prepare
    const f = await makeFixture({ wrapUp: 5 });
    await f.addAgent('alice', { default: 1 });
    const c = await activeFor(f, 'alice', 'sms');
    await act(f, 'alice', c.id, { type: 'end' });
    expect((await capacityOf(f, 'alice')).used, 'C-3: held while the block lasts').toBe(1);
    f.clock.advance(5 * 60);

    // Act
    await act(f, 'timer', c.id, { type: 'wrapup-release' }, 'system');
    const duplicate = act(f, 'timer', c.id, { type: 'wrapup-release' }, 'system');
    await expect(duplicate).rejects.toBeInstanceOf(TransitionConflictError);
    await act(f, 'alice', c.id, { type: 'end' });

    // Assess
    await expect(duplicate).rejects.toMatchObject({ currentStatus: 'WrapUp' });
    expect(await capacityOf(f, 'alice')).toMatchObject({ used: 0, allocatedUnits: 0, conversations: [] });
    expect(await f.conversation(c.id)).toMatchObject({ status: 'Closed', version: 5 });
    expect(await releasesOf(f, c.id)).toBe(1);
  });

  it('C-6: a stale decision committed again (duplicate delivery) cannot release twice', async () => {
    // Prepare: a release decided on the Active snapshot, as a retried Lambda would hold it.
    const f = await makeFixture();
    await f.addAgent('alice', { default: 2 });
    const c = await activeFor(f, 'alice');
    const ws = await f.store.getWorkstream(f.org, c.workstreamId);
    if (!ws) throw new Error('workstream missing');
    const decision = decide({
      conversation: c,
      actor: { role: 'agent', id: 'alice' },
      action: { type: 'release' },
      workstream: ws,
      now: f.clock.now(),
    });
    await f.store.commit(decision.writes);
    await activeFor(f, 'alice');

    // Act
    const replay = f.store.commit(decision.writes);

    // Assess
    await expect(replay).rejects.toBeInstanceOf(CommitConflict);
    const cap = await capacityOf(f, 'alice');
    expect(cap).toMatchObject({ used: 1, allocatedUnits: 1 });
    expect(cap.conversations).not.toContain(c.id);
    expect(await f.conversation(c.id)).toMatchObject({ status: 'Open', version: 3 });
  });

  it('C-6, RL-2: 5 concurrent release / close by the primary release once', async () => {
    // Prepare
    const f = await makeFixture();
    await f.addAgent('alice', { default: 3 });
    const c = await activeFor(f, 'alice');
    const actions: Action[] = [
      { type: 'release' },
      { type: 'close' },
      { type: 'release' },
      { type: 'close' },
      { type: 'release' },
    ];

    // Act
    const results = await Promise.allSettled(actions.map((a) => act(f, 'alice', c.id, a)));

    // Assess
    expect(fulfilled(results)).toHaveLength(1);
    for (const err of rejections(results)) {
      expect(err).toBeInstanceOf(TransitionConflictError);
      expect((err as TransitionConflictError).currentStatus).toBe('Open');
    }
    expect(await capacityOf(f, 'alice')).toMatchObject({ used: 0, allocatedUnits: 0, conversations: [] });
    expect(await f.conversation(c.id)).toMatchObject({ status: 'Open', version: 3 });
    expect(await releasesOf(f, c.id)).toBe(1);
  });

  it('C-6, RL-2: release, transfer and reconnect timeout racing on one Active conversation release once', async () => {
    // Prepare
    const f = await makeFixture();
    await f.addAgent('alice', { default: 3 }, ['q1', 'q2']);
    const c = await activeFor(f, 'alice', 'sms');

    // Act
    const results = await Promise.allSettled([
      act(f, 'alice', c.id, { type: 'release' }),
      act(f, 'alice', c.id, { type: 'transfer', target: { kind: 'queue', queueId: 'q2' } }),
      act(f, 'scheduler', c.id, { type: 'reconnect-timeout' }, 'system'),
      act(f, 'alice', c.id, { type: 'close' }),
      act(f, 'scheduler', c.id, { type: 'reconnect-timeout' }, 'system'),
    ]);

    // Assess
    const wins = fulfilled(results);
    expect(wins).toHaveLength(1);
    const to = wins[0]?.conversation.status;
    expect(['Open', 'Waiting']).toContain(to);
    for (const err of rejections(results)) {
      expect(err).toBeInstanceOf(TransitionConflictError);
      expect((err as TransitionConflictError).currentStatus).toBe(to);
    }
    expect(await capacityOf(f, 'alice')).toMatchObject({ used: 0, allocatedUnits: 0, conversations: [] });
    expect(await f.conversation(c.id)).toMatchObject({ status: to, version: 3 });
    expect(await releasesOf(f, c.id)).toBe(1);
  });

  it('C-6, C-3, RL-2: 5 concurrent End on a WrapUp that holds capacity close it and release once', async () => {
    // Prepare
    const f = await makeFixture({ wrapUp: 'always' });
    await f.addAgent('alice', { default: 3 });
    const c = await activeFor(f, 'alice');
    await act(f, 'alice', c.id, { type: 'end' });
    expect((await capacityOf(f, 'alice')).used).toBe(1);

    // Act
    const results = await Promise.allSettled(Array.from({ length: 5 }, () => act(f, 'alice', c.id, { type: 'end' })));

    // Assess
    expect(fulfilled(results)).toHaveLength(1);
    for (const err of rejections(results)) {
      expect(err).toBeInstanceOf(TransitionConflictError);
      expect((err as TransitionConflictError).currentStatus).toBe('Closed');
    }
    expect(await capacityOf(f, 'alice')).toMatchObject({ used: 0, allocatedUnits: 0, conversations: [] });
    expect(await f.conversation(c.id)).toMatchObject({ status: 'Closed', version: 4 });
    expect(await releasesOf(f, c.id)).toBe(1);
  });

  it('C-6, C-3, TM-5: duplicate wrap-up release timers racing End and X release once', async () => {
    // Prepare
    const f = await makeFixture({ wrapUp: 10 });
    await f.addAgent('alice', { default: 3 });
    const c = await activeFor(f, 'alice', 'voice');
    await act(f, 'alice', c.id, { type: 'end' });
    expect((await capacityOf(f, 'alice')).used).toBe(1);
    f.clock.advance(10 * 60);

    // Act
    const results = await Promise.allSettled([
      act(f, 'timer', c.id, { type: 'wrapup-release' }, 'system'),
      act(f, 'alice', c.id, { type: 'end' }),
      act(f, 'timer', c.id, { type: 'wrapup-release' }, 'system'),
      act(f, 'alice', c.id, { type: 'close' }),
      act(f, 'timer', c.id, { type: 'wrapup-release' }, 'system'),
    ]);

    // Assess: at most one timer release, then at most one close, never a second release.
    const wins = fulfilled(results);
    expect(wins.filter((r) => r.rule === 'C-3').length).toBeLessThanOrEqual(1);
    expect(wins.filter((r) => r.rule === 'T-7')).toHaveLength(1);
    for (const err of rejections(results)) expect(err).toBeInstanceOf(TransitionConflictError);
    expect(await capacityOf(f, 'alice')).toMatchObject({ used: 0, allocatedUnits: 0, conversations: [] });
    expect(await f.conversation(c.id)).toMatchObject({ status: 'Closed', version: 3 + wins.length });
    expect(await releasesOf(f, c.id)).toBe(1);
  });
});
