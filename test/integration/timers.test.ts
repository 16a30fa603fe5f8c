import { describe, expect, it, vi } from 'vitest';
import { TransitionConflictError } from '../../functions/domain/errors.js';
import type { Actor, ChannelKind, Conversation } from '../../functions/domain/model.js';
import { addSeconds, PRESENCE_GRACE_SECONDS, timerName } from '../../functions/domain/timers.js';
import type { Action } from '../../functions/domain/transitions.js';
import type { TimerRequest } from '../../functions/domain/writes.js';
import type { Commits } from '../../functions/ports/repositories.js';
import type { Scheduler } from '../../functions/ports/scheduler.js';
import type { DueTimer } from '../../functions/ports/due-timer.js';
import { setConnection, setPresence, signIn } from '../../functions/use-cases/agent-presence.use-case.js';
import { performAction } from '../../functions/use-cases/conversation-action.use-case.js';
import { handleCustomerEvent } from '../../functions/use-cases/customer-event.use-case.js';
import type { EngineDeps } from '../../functions/use-cases/engine.js';
import { fireTimer, sweepDueTimers, type FiredTimer } from '../../functions/use-cases/timers.use-case.js';
import { ledgerOf, makeFixture, orgOutbox, type Fixture, type FixtureOptions } from '../support/fixture.js';

/**
 * Timers on DynamoDB Local (TM-1..TM-5, C-3, T-8, T-4a, P-4, C-6), through the use cases.
 *
 * The design under test (ARCHITECTURE "Timers"): a timer is an outbox item committed in the SAME
 * transaction as the change that arms it; the scheduler is only asked for a precise trigger after the
 * commit, and the sweeper fires whatever outbox item is due. When a timer fires, it re-checks the
 * state it was armed for, so a timer fired twice, late, or after its subject moved on changes nothing.
 *
 * The table is shared by every integration test file running at the same time, and the production
 * sweeper serves all orgs. A test must fire only its own org's timers, so sweeps here go through an
 * org-scoped view of the same outbox (`orgOutbox`); firing itself is the real `fireTimer`.
 */

const alice: Actor = { role: 'agent', id: 'alice' };
const system: Actor = { role: 'system', id: 'timer' };
/** later than any timer a test arms: "everything still in the outbox" */
const END_OF_TIME = new Date('2999-01-01T00:00:00.000Z');
/** large enough that other orgs' earlier items in the shared table cannot push ours out of a listing */
const LISTING_LIMIT = 10_000;

const act = (
  f: Fixture,
  actor: Actor,
  c: Conversation,
  action: Action,
  deps: EngineDeps = f.deps,
): Promise<Conversation> =>
  performAction(deps, { org: f.org, conversationId: c.id, actor, action }).then((r) => r.conversation);

const used = async (f: Fixture, agentId = 'alice'): Promise<number | undefined> =>
  (await ledgerOf(f, agentId)).pools.default?.used;

/** The outbox items of this fixture's org (optionally of one conversation or agent), due or not. */
async function outbox(f: Fixture, subject: { conversationId?: string; agentId?: string } = {}): Promise<DueTimer[]> {
  const all = await f.store.listDueTimers(END_OF_TIME, LISTING_LIMIT);
  return all.filter(
    (t) =>
      t.org === f.org &&
      (subject.conversationId === undefined || t.conversationId === subject.conversationId) &&
      (subject.agentId === undefined || t.agentId === subject.agentId),
  );
}

/** The one outbox item of a kind for a subject (fails the test if there is not exactly one). */
async function onlyTimer(
  f: Fixture,
  kind: TimerRequest['kind'],
  subject: { conversationId?: string; agentId?: string },
): Promise<DueTimer> {
  const items = (await outbox(f, subject)).filter((t) => t.kind === kind);
  expect(items, `${kind} outbox items for ${JSON.stringify(subject)}`).toHaveLength(1);
  return items[0] as DueTimer;
}

const sweep = (f: Fixture, deps: EngineDeps = f.deps): Promise<FiredTimer[]> => sweepDueTimers(deps, orgOutbox(f));

/** Everything a stale timer must leave untouched. */
async function snapshot(f: Fixture, c: Conversation) {
  return {
    conversation: await f.conversation(c.id),
    events: await f.store.listEvents(f.org, c.id),
    ledger: await ledgerOf(f, 'alice'),
    outbox: await outbox(f, { conversationId: c.id }),
  };
}

const eventsOf = async (f: Fixture, c: Conversation, action: string) =>
  (await f.store.listEvents(f.org, c.id)).filter((e) => e.action === action);

/** Prepare: an org whose agent alice (3 units in q1) has picked a conversation of the kind. */
async function activeFor(kind: ChannelKind, options: FixtureOptions = {}): Promise<{ f: Fixture; c: Conversation }> {
  const f = await makeFixture(options);
  await f.addAgent('alice');
  const c = await act(f, alice, await f.start(kind), { type: 'accept' });
  return { f, c };
}

/** Prepare: alice signed in and connected, with an Active live chat. */
async function connectedWithChat(options: FixtureOptions = {}): Promise<{ f: Fixture; c: Conversation }> {
  const f = await makeFixture(options);
  await f.addAgent('alice');
  await signIn(f.deps, f.org, 'alice');
  const c = await act(f, alice, await f.start('chat'), { type: 'accept' });
  return { f, c };
}

let messages = 0;
const customerWrites = (f: Fixture, c: Conversation) =>
  handleCustomerEvent(f.deps, f.org, f.channelId(c.channelKind), {
    eventId: `m${++messages}`,
    type: 'message.received',
    threadId: c.threadId,
    message: { text: 'hello again' },
  });

/** Commits that go through `around` (fault injection on the one write path). */
function commitsWith(f: Fixture, around: (commit: Commits['commit']) => Commits['commit']): Commits {
  return { commit: around((writes) => f.deps.commits.commit(writes)) };
}

describe('TM-1 / C-3: the wrap-up release timer', () => {
  it('TM-1 / C-3: End with a 5-minute wrap-up writes one outbox item due at +5 min; the sweeper releases the pool when due, not before', async () => {
    // Prepare
    const { f, c } = await activeFor('chat', { wrapUp: 5 });
    const endedAt = f.clock.now();

    // Act
    const wrap = await act(f, alice, c, { type: 'end' });

    // Assess: the timer is in the outbox, committed with the change
    expect(wrap).toMatchObject({ status: 'WrapUp', wrapUpReleaseAt: addSeconds(endedAt, 300) });
    const items = await outbox(f, { conversationId: c.id });
    expect(items).toEqual([
      {
        name: timerName({
          kind: 'wrapup-release',
          org: f.org,
          conversationId: c.id,
          version: wrap.version,
          at: '2026-03-02T09:05:00.000Z',
        }),
        kind: 'wrapup-release',
        org: f.org,
        conversationId: c.id,
        version: wrap.version,
        at: '2026-03-02T09:05:00.000Z',
      },
    ]);
    expect(await used(f)).toBe(1);

    // Act + Assess: one second before it is due, the sweeper fires nothing
    f.clock.advance(299);
    expect(await sweep(f)).toEqual([]);
    expect(await used(f)).toBe(1);
    expect(await outbox(f, { conversationId: c.id })).toHaveLength(1);

    // Act + Assess: at the due time it releases the pool, once, and the item is gone
    f.clock.advance(1);
    const fired = await sweep(f);
    expect(fired).toEqual([
      expect.objectContaining({ kind: 'wrapup-release', conversationId: c.id, outcome: 'applied' }),
    ]);
    expect(await used(f)).toBe(0);
    expect(await f.store.listAllocations(f.org, 'alice')).toEqual([]);
    const after = await f.conversation(c.id);
    expect(after.status).toBe('WrapUp');
    expect(after.allocation).toBeUndefined();
    expect(await eventsOf(f, c, 'wrapup-release')).toHaveLength(1);
    expect(await outbox(f, { conversationId: c.id })).toEqual([]);
  });

  it('TM-1 / C-3 / TM-5: a wrap-up timer the scheduler delivers a fraction of a second early (at() has no milliseconds) still releases the pool', async () => {
    // Prepare: the change happens at a non-whole second, as with the system clock
    const f = await makeFixture({ wrapUp: 5 });
    await f.addAgent('alice');
    const c = await act(f, alice, await f.start('chat'), { type: 'accept' });
    f.clock.advance(0.5);
    const wrap = await act(f, alice, c, { type: 'end' });
    // due times are rounded up to the whole second, so `at()` (no milliseconds) is never early
    expect(wrap.wrapUpReleaseAt).toBe('2026-03-02T09:05:01.000Z');
    const timer = await onlyTimer(f, 'wrapup-release', { conversationId: c.id });

    // Act: EventBridge fires `at(2026-03-02T09:05:00)` at 09:05:00.2; the timers handler fires it, then
    // deletes the outbox item it was delivered for (functions/handlers/sqs/timers.handler.ts applyTimer)
    f.clock.advance(299.7);
    const early = await fireTimer(f.deps, timer);
    if (!early.keep) await f.store.deleteTimer(timer.org, timer.name);

    // Assess: it was re-armed, so an outbox item must still be there for the sweeper ...
    expect(early.outcome).toBe('re-armed');
    expect(await outbox(f, { conversationId: c.id }), 'the re-armed wrap-up timer is still in the outbox').toHaveLength(
      1,
    );
    // ... and once due, the capacity is released (C-3)
    f.clock.advance(60);
    await sweep(f);
    expect(await used(f)).toBe(0);
  });
});

describe('TM-5: timers fire at least once, possibly late or twice; a stale timer changes nothing', () => {
  it('TM-5 / C-6: the same wrap-up timer fired twice releases once; the second firing is stale', async () => {
    // Prepare
    const { f, c } = await activeFor('chat', { wrapUp: 5 });
    await act(f, alice, c, { type: 'end' });
    const timer = await onlyTimer(f, 'wrapup-release', { conversationId: c.id });
    f.clock.advance(300);

    // Act
    const first = await fireTimer(f.deps, timer);
    const second = await fireTimer(f.deps, timer);

    // Assess
    expect([first.outcome, second.outcome]).toEqual(['applied', 'stale']);
    expect(await used(f)).toBe(0);
    expect(await eventsOf(f, c, 'wrapup-release')).toHaveLength(1);
  });

  it('TM-5 / C-6 / RL-2: the same wrap-up timer delivered twice at once (schedule and sweeper) releases once', async () => {
    // Prepare
    const { f, c } = await activeFor('whatsapp', { wrapUp: 5 });
    await act(f, alice, c, { type: 'end' });
    const timer = await onlyTimer(f, 'wrapup-release', { conversationId: c.id });
    f.clock.advance(300);

    // Act
    const outcomes = await Promise.all([fireTimer(f.deps, timer), fireTimer(f.deps, timer)]);

    // Assess
    expect(outcomes.map((o) => o.outcome).sort()).toEqual(['applied', 'stale']);
    expect(await used(f)).toBe(0);
    expect(await eventsOf(f, c, 'wrapup-release')).toHaveLength(1);
  });

  it('TM-5 / T-7: a wrap-up timer that fires after the conversation Closed is stale and writes nothing', async () => {
    // Prepare
    const { f, c } = await activeFor('chat', { wrapUp: 5 });
    const wrap = await act(f, alice, c, { type: 'end' });
    const timer = await onlyTimer(f, 'wrapup-release', { conversationId: c.id });
    expect((await act(f, alice, wrap, { type: 'end' })).status).toBe('Closed');
    f.clock.advance(300);
    const before = await snapshot(f, c);

    // Act
    const fired = await fireTimer(f.deps, timer);

    // Assess
    expect(fired.outcome).toBe('stale');
    expect(await snapshot(f, c)).toEqual(before);
    expect(before.conversation.version).toBe(wrap.version + 1);
    expect(await used(f)).toBe(0);
  });

  it('TM-5 / T-10: an inactivity timer that fires after the customer wrote again (Waiting -> Open) is stale and writes nothing', async () => {
    // Prepare
    const { f, c } = await activeFor('sms');
    await act(f, alice, c, { type: 'close' });
    const timer = await onlyTimer(f, 'inactivity-timeout', { conversationId: c.id });
    expect(await customerWrites(f, c)).toMatchObject({ outcome: 'transitioned', rule: 'T-10' });
    f.clock.advance(3600);
    const before = await snapshot(f, c);

    // Act
    const fired = await fireTimer(f.deps, timer);

    // Assess
    expect(fired.outcome).toBe('stale');
    expect(await snapshot(f, c)).toEqual(before);
    expect(before.conversation.status).toBe('Open');
  });

  it('TM-5 / R-3: an offer-expiry timer that fires after the offer was accepted is stale and writes nothing', async () => {
    // Prepare
    const f = await makeFixture();
    await f.addAgent('alice');
    const offered = await act(f, system, await f.start('sms'), { type: 'offer', agentId: 'alice' });
    const timer = await onlyTimer(f, 'offer-expiry', { conversationId: offered.id });
    expect(timer).toMatchObject({ version: offered.version, at: addSeconds(f.clock.now(), 60) });
    await act(f, alice, offered, { type: 'accept' });
    f.clock.advance(60);
    const before = await snapshot(f, offered);

    // Act
    const fired = await fireTimer(f.deps, timer);

    // Assess
    expect(fired.outcome).toBe('stale');
    expect(await snapshot(f, offered)).toEqual(before);
    expect(before.conversation).toMatchObject({ status: 'Active', accepted: true, primaryAgentId: 'alice' });
    expect(await used(f)).toBe(1);
  });

  it('R-3 / TM-5: an unanswered offer expires when its timer is swept; the capacity goes back', async () => {
    // Prepare
    const f = await makeFixture();
    await f.addAgent('alice');
    const offered = await act(f, system, await f.start('chat'), { type: 'offer', agentId: 'alice' });

    // Act
    f.clock.advance(60);
    const fired = await sweep(f);

    // Assess
    expect(fired).toEqual([
      expect.objectContaining({ kind: 'offer-expiry', conversationId: offered.id, outcome: 'applied' }),
    ]);
    const after = await f.conversation(offered.id);
    expect(after.status).toBe('Open');
    expect(after.primaryAgentId).toBeUndefined();
    expect(await used(f)).toBe(0);
  });

  it('TM-5 / T-8: an inactivity timer delivered 15 minutes late still closes exactly once', async () => {
    // Prepare: Waiting at 09:00, inactivity timeout 3600 s -> due 10:00
    const { f, c } = await activeFor('sms');
    const waiting = await act(f, alice, c, { type: 'close' });
    const timer = await onlyTimer(f, 'inactivity-timeout', { conversationId: c.id });
    expect(timer).toMatchObject({ version: waiting.version, at: '2026-03-02T10:00:00.000Z' });

    // Act: the sweeper only gets to it at 10:15
    f.clock.advance(3600 + 15 * 60);
    const fired = await sweep(f);

    // Assess
    expect(fired).toEqual([expect.objectContaining({ kind: 'inactivity-timeout', outcome: 'applied' })]);
    const closed = await f.conversation(c.id);
    expect(closed).toMatchObject({ status: 'Closed', version: waiting.version + 1 });
    expect(await eventsOf(f, c, 'inactivity-timeout')).toEqual([
      expect.objectContaining({ from: 'Waiting', to: 'Closed', reason: expect.stringMatching(/^T-8/) }),
    ]);
    expect(await outbox(f, { conversationId: c.id })).toEqual([]);

    // Act + Assess: the scheduler's own (even later) delivery of the same timer changes nothing
    f.clock.advance(600);
    expect((await fireTimer(f.deps, timer)).outcome).toBe('stale');
    expect(await sweep(f)).toEqual([]);
    expect(await f.conversation(c.id)).toEqual(closed);
    expect(await eventsOf(f, c, 'inactivity-timeout')).toHaveLength(1);
  });

  it('TM-2 / T-8: an inactivity timer whose conversation left Waiting and came back later does not close it early; the new due time does', async () => {
    // Prepare: Waiting at 09:00 (due 10:00); at 09:30 the customer writes, alice picks it and closes it again
    const { f, c } = await activeFor('sms');
    await act(f, alice, c, { type: 'close' });
    const first = await onlyTimer(f, 'inactivity-timeout', { conversationId: c.id });
    f.clock.advance(1800);
    await customerWrites(f, c);
    await act(f, alice, await f.conversation(c.id), { type: 'accept' });
    const again = await act(f, alice, await f.conversation(c.id), { type: 'close' });
    expect(again).toMatchObject({ status: 'Waiting', statusSince: '2026-03-02T09:30:00.000Z' });

    // Act: 10:00, the first timer is due
    f.clock.advance(1800);
    const atTen = await sweep(f);

    // Assess: not closed early
    expect(atTen).toEqual([
      expect.objectContaining({ name: first.name, outcome: expect.stringMatching(/^(re-armed|stale)$/) }),
    ]);
    expect(await f.conversation(c.id)).toMatchObject({ status: 'Waiting', version: again.version });
    expect((await outbox(f, { conversationId: c.id })).map((t) => t.at)).toEqual(['2026-03-02T10:30:00.000Z']);

    // Act + Assess: 10:30, the timeout counted from the last activity has passed
    f.clock.advance(1800);
    const atHalfPast = await sweep(f);
    expect(atHalfPast).toEqual([expect.objectContaining({ kind: 'inactivity-timeout', outcome: 'applied' })]);
    expect((await f.conversation(c.id)).status).toBe('Closed');
    expect(await eventsOf(f, c, 'inactivity-timeout')).toHaveLength(1);
    expect(await outbox(f, { conversationId: c.id })).toEqual([]);
  });
});

describe('TM-3 / T-4a: the agent reconnect timeout', () => {
  it('TM-3 / T-4a / TM-5: a reconnect-timeout timer after the agent reconnected is stale; the conversation stays Active', async () => {
    // Prepare
    const { f, c } = await connectedWithChat();
    await setConnection(f.deps, f.org, 'alice', false);
    const epoch = (await f.store.getAgent(f.org, 'alice'))?.connectionEpoch;
    const timer = await onlyTimer(f, 'reconnect-timeout', { conversationId: c.id });
    expect(timer).toMatchObject({ agentId: 'alice', version: epoch, at: addSeconds(f.clock.now(), 120) });
    f.clock.advance(30);
    await setConnection(f.deps, f.org, 'alice', true);
    f.clock.advance(90);
    const before = await snapshot(f, c);

    // Act
    const fired = await fireTimer(f.deps, timer);
    const swept = await sweep(f);

    // Assess
    expect(fired.outcome).toBe('stale');
    expect(swept.filter((t) => t.kind === 'reconnect-timeout').map((t) => t.outcome)).toEqual(['stale']);
    expect(await snapshot(f, c)).toEqual({ ...before, outbox: [] });
    expect(before.conversation).toMatchObject({ status: 'Active', primaryAgentId: 'alice' });
    expect(await used(f)).toBe(1);
  });

  it('TM-3 / TM-5: after reconnect and a second disconnect, the first timer does not cut the second one short', async () => {
    // Prepare: disconnect at 0 s (due 120 s), reconnect at 60 s, disconnect again at 90 s (due 210 s)
    const { f, c } = await connectedWithChat();
    await setConnection(f.deps, f.org, 'alice', false);
    f.clock.advance(60);
    await setConnection(f.deps, f.org, 'alice', true);
    f.clock.advance(30);
    await setConnection(f.deps, f.org, 'alice', false);

    // Act + Assess: at 120 s the first timer is stale
    f.clock.advance(30);
    const early = await sweep(f);
    expect(early.filter((t) => t.kind === 'reconnect-timeout').map((t) => t.outcome)).toEqual(['stale']);
    expect((await f.conversation(c.id)).status).toBe('Active');

    // Act + Assess: at 210 s the second one applies T-4a
    f.clock.advance(90);
    const late = await sweep(f);
    expect(late.filter((t) => t.kind === 'reconnect-timeout').map((t) => t.outcome)).toEqual(['applied']);
    expect((await f.conversation(c.id)).status).toBe('Open');
    expect(await used(f)).toBe(0);
  });

  it("TM-3 / T-4a / C-4: a disconnect longer than the workstream's agentReconnectTimeoutSeconds sends Active back to Open and releases capacity", async () => {
    // Prepare: this workstream waits 300 s for the agent
    const f = await makeFixture();
    await f.setWorkstream('chat', { agentReconnectTimeoutSeconds: 300 });
    await f.addAgent('alice');
    await signIn(f.deps, f.org, 'alice');
    const c = await act(f, alice, await f.start('chat'), { type: 'accept' });

    // Act: disconnected, and never back
    await setConnection(f.deps, f.org, 'alice', false);
    expect((await onlyTimer(f, 'reconnect-timeout', { conversationId: c.id })).at).toBe(addSeconds(f.clock.now(), 300));
    f.clock.advance(299);
    await sweep(f);

    // Assess: not before the workstream's timeout
    expect(await f.conversation(c.id)).toMatchObject({ status: 'Active', primaryAgentId: 'alice' });
    expect(await used(f)).toBe(1);

    // Act + Assess: at the timeout
    f.clock.advance(1);
    const fired = await sweep(f);
    expect(fired).toEqual([expect.objectContaining({ kind: 'reconnect-timeout', outcome: 'applied' })]);
    const open = await f.conversation(c.id);
    expect(open.status).toBe('Open');
    expect(open.primaryAgentId).toBeUndefined();
    expect(open.allocation).toBeUndefined();
    expect(await used(f)).toBe(0);
    expect(await eventsOf(f, c, 'reconnect-timeout')).toEqual([
      expect.objectContaining({ from: 'Active', to: 'Open', reason: expect.stringMatching(/^T-4a/) }),
    ]);
  });
});

describe('TM-1 / TM-5: the transactional outbox (a crash or a scheduler fault after the commit loses no timer)', () => {
  it('TM-1 / TM-5: a scheduler that fails after the commit: End still succeeds, the outbox item exists, the sweeper applies it', async () => {
    // Prepare: the engine's scheduler (asked by the stream's follow-ups) is throttled
    const schedule = vi
      .fn<Scheduler['schedule']>()
      .mockRejectedValue(Object.assign(new Error('Rate exceeded'), { name: 'ThrottlingException' }));
    const warn = vi.fn();
    const { f, c } = await activeFor('chat', { wrapUp: 5, scheduler: { schedule }, log: { warn } });
    const deps: EngineDeps = f.deps;

    // Act
    const wrap = await act(f, alice, c, { type: 'end' }, deps);

    // Assess: the action succeeded, the scheduler was asked once and failed, the item is in the outbox
    expect(wrap.status).toBe('WrapUp');
    expect(schedule).toHaveBeenCalledTimes(1);
    expect(schedule.mock.calls[0]?.[0]).toEqual([
      {
        kind: 'wrapup-release',
        org: f.org,
        conversationId: c.id,
        version: wrap.version,
        at: '2026-03-02T09:05:00.000Z',
      },
    ]);
    expect(warn).toHaveBeenCalledTimes(1);
    expect(await onlyTimer(f, 'wrapup-release', { conversationId: c.id })).toMatchObject({
      at: '2026-03-02T09:05:00.000Z',
    });

    // Act + Assess: the sweeper fires it when due
    f.clock.advance(300);
    expect(await sweep(f, deps)).toEqual([expect.objectContaining({ kind: 'wrapup-release', outcome: 'applied' })]);
    expect(await used(f)).toBe(0);
    expect(await outbox(f, { conversationId: c.id })).toEqual([]);
  });

  it('TM-1 / TM-5: a crash right after the commit (the scheduler is never called) loses nothing: the sweeper applies the committed timer', async () => {
    // Prepare: the process dies as soon as the transaction returns
    const { f, c } = await activeFor('chat', { wrapUp: 5 });
    const schedule = vi.fn<Scheduler['schedule']>().mockResolvedValue();
    const crash = new Error('Lambda runtime exited right after TransactWriteItems');
    const commits = commitsWith(f, (commit) => async (writes) => {
      await commit(writes);
      throw crash;
    });
    const crashing: EngineDeps = { ...f.deps, commits, scheduler: { schedule } };

    // Act
    const outcome = await act(f, alice, c, { type: 'end' }, crashing).catch((e: unknown) => e);

    // Assess: the caller saw the crash, the scheduler never ran, yet the change and its timer committed
    expect(outcome).toBe(crash);
    expect(schedule).not.toHaveBeenCalled();
    const wrap = await f.conversation(c.id);
    expect(wrap.status).toBe('WrapUp');
    expect(await onlyTimer(f, 'wrapup-release', { conversationId: c.id })).toMatchObject({
      version: wrap.version,
      at: '2026-03-02T09:05:00.000Z',
    });

    // Act + Assess: a healthy sweeper fires it once due
    f.clock.advance(300);
    expect(await sweep(f)).toEqual([expect.objectContaining({ kind: 'wrapup-release', outcome: 'applied' })]);
    expect(await used(f)).toBe(0);
    expect(await eventsOf(f, c, 'wrapup-release')).toHaveLength(1);
  });

  it('TM-5 / RL-2 / T-13: a change that does not commit (lost race, refused action) leaves no timer item and schedules nothing', async () => {
    // Prepare: between End's decision and its commit, alice's own release to the queue commits first
    const { f, c } = await activeFor('chat', { wrapUp: 5 });
    const schedule = vi.fn<Scheduler['schedule']>().mockResolvedValue();
    let raced = false;
    const commits = commitsWith(f, (commit) => async (writes) => {
      if (!raced && writes.some((w) => w.type === 'timer')) {
        raced = true;
        await act(f, alice, c, { type: 'release' });
      }
      return commit(writes);
    });
    const racing: EngineDeps = { ...f.deps, commits, scheduler: { schedule } };

    // Act
    const lost = await act(f, alice, c, { type: 'end' }, racing).catch((e: unknown) => e);

    // Assess: End was cancelled with its timer, then refused on the fresh state (Open)
    expect(raced).toBe(true);
    expect(lost).toBeInstanceOf(TransitionConflictError);
    expect((lost as TransitionConflictError).currentStatus).toBe('Open');
    expect(await outbox(f, { conversationId: c.id })).toEqual([]);
    expect(schedule).not.toHaveBeenCalled();
    expect(await used(f)).toBe(0);

    // Act + Assess: a plainly refused action (End on a Closed conversation) writes no timer either
    const other = await act(f, alice, await f.start('chat'), { type: 'accept' });
    const closed = await act(f, alice, await act(f, alice, other, { type: 'end' }), { type: 'end' });
    const itemsBefore = await outbox(f, { conversationId: other.id });
    await expect(act(f, alice, closed, { type: 'end' }, racing)).rejects.toBeInstanceOf(TransitionConflictError);
    expect(await outbox(f, { conversationId: other.id })).toEqual(itemsBefore);
    expect(schedule).not.toHaveBeenCalled();
  });
});

describe('P-4 / TM-4: the presence grace', () => {
  it('P-4 / TM-4 / TM-5: a disconnect arms presence-grace at +150 s for the new connection epoch; fired after a reconnect it is stale', async () => {
    // Prepare
    const f = await makeFixture();
    await f.addAgent('alice');
    await signIn(f.deps, f.org, 'alice');
    await setPresence(f.deps, f.org, 'alice', 'Away');
    const disconnectedAt = f.clock.now();

    // Act
    await setConnection(f.deps, f.org, 'alice', false);

    // Assess: one grace timer for the epoch the disconnect created
    const agent = await f.store.getAgent(f.org, 'alice');
    expect(agent).toMatchObject({ connected: false, presenceOverride: 'Away' });
    const timer = await onlyTimer(f, 'presence-grace', { agentId: 'alice' });
    expect(timer).toMatchObject({
      kind: 'presence-grace',
      org: f.org,
      agentId: 'alice',
      version: agent?.connectionEpoch,
      at: addSeconds(disconnectedAt, PRESENCE_GRACE_SECONDS),
    });
    expect(timer.at).toBe('2026-03-02T09:02:30.000Z');

    // Act: back within the grace; the timer fires anyway
    f.clock.advance(60);
    await setConnection(f.deps, f.org, 'alice', true);
    f.clock.advance(PRESENCE_GRACE_SECONDS);
    const fired = await fireTimer(f.deps, timer);

    // Assess: stale, and the manual presence is kept (P-4: under 150 s the agent keeps their presence)
    expect(fired.outcome).toBe('stale');
    expect(await f.store.getAgent(f.org, 'alice')).toMatchObject({ connected: true, presenceOverride: 'Away' });
  });

  it('P-4 / P-3 / TM-4: still disconnected after 150 s, the grace timer clears the manual presence', async () => {
    // Prepare
    const f = await makeFixture();
    await f.addAgent('alice');
    await signIn(f.deps, f.org, 'alice');
    await setPresence(f.deps, f.org, 'alice', 'BusyDND');
    await setConnection(f.deps, f.org, 'alice', false);
    const epoch = (await f.store.getAgent(f.org, 'alice'))?.connectionEpoch;

    // Act + Assess: not before the grace (the sign-in's dispatch retry, R-3, is due before it)
    f.clock.advance(PRESENCE_GRACE_SECONDS - 1);
    expect((await sweep(f)).filter((t) => t.kind !== 'dispatch')).toEqual([]);
    expect((await f.store.getAgent(f.org, 'alice'))?.presenceOverride).toBe('BusyDND');

    // Act + Assess: at the grace, the override goes
    f.clock.advance(1);
    const fired = await sweep(f);
    expect(fired).toEqual([expect.objectContaining({ kind: 'presence-grace', agentId: 'alice', outcome: 'applied' })]);
    const agent = await f.store.getAgent(f.org, 'alice');
    expect(agent).toMatchObject({ connected: false, connectionEpoch: epoch });
    expect(agent?.presenceOverride).toBeUndefined();
    expect(await outbox(f, { agentId: 'alice' })).toEqual([]);
  });
});
