import { describe, expect, it } from 'vitest';
import type { Conversation } from '../../functions/domain/model.js';
import type { OverflowRule } from '../../functions/domain/overflow.js';
import { conversationMarker } from '../../functions/domain/metrics.js';
import { runFollowUps } from '../../functions/follow-ups/run-follow-ups.js';
import { countChange } from '../../functions/use-cases/metrics.use-case.js';
import { setPresence, signIn } from '../../functions/use-cases/agent-presence.use-case.js';
import { performAction } from '../../functions/use-cases/conversation-action.use-case.js';
import { fireTimer, sweepDueTimers } from '../../functions/use-cases/timers.use-case.js';
import { makeFixture, orgOutbox, SUPERVISOR_GATES_ON, type Fixture } from '../support/fixture.js';

/**
 * O-1, O-2 overflow through the use cases and the stream follow-ups, on DynamoDB Local: enter-time
 * `closed` with each action, wait-time rules by outbox timers (TM-5), and no loop between two queues.
 */

const CLOSED_HOURS = { timeZone: 'Europe/Paris', weekly: {} };
const OPEN_HOURS = {
  timeZone: 'Europe/Paris',
  weekly: Object.fromEntries(['mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun'].map((d) => [d, [['00:00', '24:00']]])),
};

async function org(queues: Record<string, { hours?: 'open' | 'closed'; overflow?: OverflowRule[] }>): Promise<Fixture> {
  const f = await makeFixture();
  await f.store.putHours({ org: f.org, id: 'closed', ...CLOSED_HOURS });
  await f.store.putHours({ org: f.org, id: 'open', ...OPEN_HOURS });
  for (const [id, q] of Object.entries(queues))
    await f.store.putQueue({
      org: f.org,
      id,
      name: id,
      ...(q.hours ? { hoursId: q.hours } : {}),
      ...(q.overflow ? { overflow: q.overflow } : {}),
    });
  return f;
}

const events = async (f: Fixture, id: string) =>
  (await f.store.listEvents(f.org, id)).map((e) => ({ rule: e.reason?.split(':')[0], to: e.to, details: e.details }));

const sweep = (f: Fixture) => sweepDueTimers(f.deps, orgOutbox(f));

describe('O-1: enter-time overflow when the queue is closed', () => {
  it('O-1: transferToQueue moves it to the other queue (reason overflow); the history shows the move and its rule', async () => {
    // Prepare
    const f = await org({ q1: { hours: 'closed', overflow: [{ when: 'closed', then: { transferToQueue: 'q2' } }] } });

    // Act
    const c = await f.start('chat');

    // Assess
    expect(await f.conversation(c.id)).toMatchObject({ status: 'Open', queueId: 'q2', statusReason: 'overflow' });
    expect(await events(f, c.id)).toEqual([
      expect.objectContaining({ to: 'Open' }),
      { rule: 'O-1', to: 'Open', details: { toQueue: 'q2', overflowRule: 0, when: 'closed' } },
    ]);
  });

  it('O-1: close closes it (reason overflow) and holds no capacity; setPriority keeps it in the queue with its wait', async () => {
    // Prepare
    const f = await org({
      q1: { hours: 'closed', overflow: [{ when: 'closed', then: { close: true } }] },
      q2: { hours: 'closed', overflow: [{ when: 'closed', then: { setPriority: 9 } }] },
    });
    await f.setWorkstream('sms', { defaultQueueId: 'q2' });

    // Act
    const closed = await f.start('chat');
    const prioritized = await f.start('sms');

    // Assess
    expect(await f.conversation(closed.id)).toMatchObject({
      status: 'Closed',
      statusReason: 'overflow',
      queueId: 'q1',
    });
    expect((await f.conversation(closed.id)).allocation).toBeUndefined();
    const p = await f.conversation(prioritized.id);
    expect(p).toMatchObject({ status: 'Open', queueId: 'q2', priority: 9, enqueuedAt: prioritized.enqueuedAt });
    expect((await events(f, prioritized.id))[1]).toEqual({
      rule: 'O-1',
      to: 'Open',
      details: { overflowRule: 0, when: 'closed', priority: 9, fromPriority: 5 },
    });
  });

  it('O-1: an open queue (hours open around the clock, or none) does not overflow; a push queue offers as before', async () => {
    // Prepare
    const f = await org({ q1: { hours: 'open', overflow: [{ when: 'closed', then: { close: true } }] } });
    await f.setWorkstream('chat', { distribution: 'push' });
    await f.addAgent('alice', { default: 2 });
    await signIn(f.deps, f.org, 'alice');

    // Act
    const c = await f.start('chat');

    // Assess
    expect(await f.conversation(c.id)).toMatchObject({ status: 'Active', primaryAgentId: 'alice', queueId: 'q1' });
  });

  it('O-2: two closed queues that overflow into each other move a conversation once, and it stays', async () => {
    // Prepare
    const f = await org({
      q1: { hours: 'closed', overflow: [{ when: 'closed', then: { transferToQueue: 'q2' } }] },
      q2: { hours: 'closed', overflow: [{ when: 'closed', then: { transferToQueue: 'q1' } }] },
    });

    // Act
    const c = await f.start('chat');
    f.clock.advance(5);
    await sweep(f);
    await f.settle();

    // Assess
    expect(await f.conversation(c.id)).toMatchObject({ status: 'Open', queueId: 'q2' });
    expect((await events(f, c.id)).map((e) => e.rule)).toEqual(['R-1', 'O-1']);
  });
});

/** q1 closes an entering conversation when one already waits */
const closesWhenOneWaits = (f: Fixture) =>
  f.store.putQueue({
    org: f.org,
    id: 'q1',
    name: 'q1',
    overflow: [{ when: { queueSizeAtLeast: 1 }, then: { close: true } }],
  });

/** the counters' follow-up of the change that created `c` (as the stream consumer runs it) */
const countEntry = (f: Fixture, c: Conversation) =>
  countChange(f.deps, {
    org: f.org,
    marker: conversationMarker(c.id, c.version),
    subject: c.id,
    change: { kind: 'conversation', after: c },
  });

describe("O-1: enter-time overflow on the queue's counters (MX-1)", () => {
  it('O-1: noAgentsSignedIn moves a conversation on while no member is signed in, and not once one is', async () => {
    // Prepare: alice is q1's only member, signed out
    const f = await org({ q1: { overflow: [{ when: 'noAgentsSignedIn', then: { transferToQueue: 'q2' } }] } });
    await f.addAgent('alice');

    // Act
    const alone = await f.start('chat');
    await signIn(f.deps, f.org, 'alice');
    const staffed = await f.start('chat');

    // Assess
    expect(await f.conversation(alone.id)).toMatchObject({ queueId: 'q2', statusReason: 'overflow' });
    expect(await events(f, alone.id)).toContainEqual({
      rule: 'O-1',
      to: 'Open',
      details: { toQueue: 'q2', overflowRule: 0, when: 'noAgentsSignedIn' },
    });
    expect(await f.conversation(staffed.id)).toMatchObject({ queueId: 'q1', status: 'Open' });
  });

  it('O-1: queueSizeAtLeast counts the others already waiting: the third of a queue of 2 is closed', async () => {
    // Prepare: close when 2 already wait; nobody takes anything
    const f = await org({ q1: { overflow: [{ when: { queueSizeAtLeast: 2 }, then: { close: true } }] } });

    // Act
    const [a, b, c] = [await f.start('chat'), await f.start('chat'), await f.start('chat')];

    // Assess
    expect((await f.conversation(a.id)).status).toBe('Open');
    expect((await f.conversation(b.id)).status).toBe('Open');
    expect(await f.conversation(c.id)).toMatchObject({ status: 'Closed', statusReason: 'overflow' });
    expect(await events(f, c.id)).toContainEqual({
      rule: 'O-1',
      to: 'Closed',
      details: { overflowRule: 0, when: 'queueSizeAtLeast 2' },
    });
  });

  it('O-1: queueSizeAtLeast judges by the entering change, even when a later change is not counted yet', async () => {
    // Prepare: follow-ups by hand; the entry is counted, then a supervisor prioritizes it (not followed up)
    const f = await makeFixture({ settle: 'manual' });
    await f.store.putSettings({ org: f.org, ...SUPERVISOR_GATES_ON });
    await closesWhenOneWaits(f);
    const first = await f.start('chat');
    const entry = await f.takePending();
    await countEntry(f, first);
    await performAction(f.deps, {
      org: f.org,
      conversationId: first.id,
      actor: { role: 'supervisor', id: 'sue' },
      action: { type: 'prioritize', priority: 6 },
    });
    await f.takePending();

    // Act: the entry's follow-ups run now
    await runFollowUps(f.deps, entry);

    // Assess: alone in the queue, it stays
    expect((await f.conversation(first.id)).status).toBe('Open');
  });

  it('O-1: queueSizeAtLeast leaves the entering conversation out, whichever of its follow-ups runs first', async () => {
    // Prepare: follow-ups by hand, so the entry's own count can be applied before or after the overflow check
    const f = await makeFixture({ settle: 'manual' });
    await closesWhenOneWaits(f);
    const first = await f.start('chat');
    const records = await f.takePending();

    // Act: the counters' follow-up of its own entry first, then the batch (the entry's overflow check)
    await countEntry(f, await f.conversation(first.id));
    await runFollowUps(f.deps, records);

    // Assess: alone in the queue, it is not "1 already waiting"; counted once
    expect((await f.conversation(first.id)).status).toBe('Open');
    expect((await f.deps.queueStats.counts(f.org, 'q1')).Open).toBe(1);
  });
});

describe('O-1: wait-time overflow by outbox timers', () => {
  const WAIT_RULES: OverflowRule[] = [
    { when: { waitedSecondsAtLeast: 60 }, then: { setPriority: 8 } },
    { when: { waitedSecondsAtLeast: 120 }, then: { transferToQueue: 'q2' } },
  ];

  it('O-1 / TM-5: each threshold acts once when it passes, in order; a timer fired early or twice changes nothing', async () => {
    // Prepare
    const f = await org({ q1: { overflow: WAIT_RULES }, q2: {} });
    const c = await f.start('chat');

    // Act 1: 59 s
    f.clock.advance(59);
    await sweep(f);
    const before = await f.conversation(c.id);
    // Act 2: 60 s, and the same timer fired again
    f.clock.advance(1);
    const due = await orgOutbox(f).listDueTimers(f.clock.now(), 10);
    const fired = await Promise.all(due.map((t) => fireTimer(f.deps, t)));
    await Promise.all(due.map((t) => fireTimer(f.deps, t)));
    await f.settle();
    const at60 = await f.conversation(c.id);
    // Act 3: 120 s
    f.clock.advance(60);
    await sweep(f);
    await f.settle();
    const at120 = await f.conversation(c.id);

    // Assess
    expect(before).toMatchObject({ priority: 5, version: c.version });
    expect(fired.map((x) => x.outcome)).toEqual(['applied']);
    expect(at60).toMatchObject({ status: 'Open', queueId: 'q1', priority: 8, enqueuedAt: c.enqueuedAt });
    expect(at120).toMatchObject({ status: 'Open', queueId: 'q2', statusReason: 'overflow' });
    expect((await events(f, c.id)).map((e) => [e.rule, e.details?.when])).toEqual([
      ['R-1', undefined],
      ['O-1', 'waitedSecondsAtLeast 60'],
      ['O-1', 'waitedSecondsAtLeast 120'],
    ]);
  });

  it('O-1 / TM-5: a conversation taken before the threshold is left alone when the timer fires', async () => {
    // Prepare
    const f = await org({ q1: { overflow: WAIT_RULES } });
    await f.addAgent('alice');
    await signIn(f.deps, f.org, 'alice');
    const c = await f.start('chat');

    // Act
    await performAction(f.deps, {
      org: f.org,
      conversationId: c.id,
      actor: { role: 'agent', id: 'alice' },
      action: { type: 'accept' },
    });
    f.clock.advance(130);
    const fired = await sweep(f);

    // Assess
    expect(fired.filter((x) => x.kind === 'overflow').map((x) => x.outcome)).toEqual(['stale']);
    expect(await f.conversation(c.id)).toMatchObject({ status: 'Active', queueId: 'q1', primaryAgentId: 'alice' });
  });

  it('O-2: two queues whose wait-time rules transfer into each other move a conversation once; the next rule still acts', async () => {
    // Prepare: q1 -> q2 after 10 s; q2 -> q1 after 10 s, else closes after 60 s
    const f = await org({
      q1: { overflow: [{ when: { waitedSecondsAtLeast: 10 }, then: { transferToQueue: 'q2' } }] },
      q2: {
        overflow: [
          { when: { waitedSecondsAtLeast: 10 }, then: { transferToQueue: 'q1' } },
          { when: { waitedSecondsAtLeast: 60 }, then: { close: true } },
        ],
      },
    });
    const c = await f.start('chat');

    // Act: past q1's threshold, then past q2's first one, then its second
    f.clock.advance(11);
    await sweep(f);
    f.clock.advance(11);
    const back = await sweep(f);
    const atQ2 = await f.conversation(c.id);
    f.clock.advance(60);
    await sweep(f);

    // Assess: moved once, not back; the close rule acted
    expect(back.filter((x) => x.kind === 'overflow').map((x) => [x.outcome, x.detail])).toEqual([
      ['re-armed', expect.stringContaining('O-2: overflow moved it out of q1 before')],
    ]);
    expect(atQ2).toMatchObject({ status: 'Open', queueId: 'q2' });
    expect(await f.conversation(c.id)).toMatchObject({ status: 'Closed', statusReason: 'overflow' });
    expect((await events(f, c.id)).map((e) => [e.rule, e.details?.when, e.to])).toEqual([
      ['R-1', undefined, 'Open'],
      ['O-1', 'waitedSecondsAtLeast 10', 'Open'],
      ['O-1', 'waitedSecondsAtLeast 60', 'Closed'],
    ]);
  });

  it('O-2: moved by a wait-time rule, the new queue does not move it on entry, but its own wait-time rules apply', async () => {
    // Prepare: q2 is closed (its enter rule would close) and closes after 30 s of waiting
    const f = await org({
      q1: { overflow: [{ when: { waitedSecondsAtLeast: 10 }, then: { transferToQueue: 'q2' } }] },
      q2: {
        hours: 'closed',
        overflow: [
          { when: 'closed', then: { close: true } },
          { when: { waitedSecondsAtLeast: 30 }, then: { close: true } },
        ],
      },
    });
    const c = await f.start('chat');

    // Act
    f.clock.advance(10);
    await sweep(f);
    await f.settle();
    const moved = await f.conversation(c.id);
    f.clock.advance(30);
    await sweep(f);
    await f.settle();

    // Assess
    expect(moved).toMatchObject({ status: 'Open', queueId: 'q2' });
    expect(await f.conversation(c.id)).toMatchObject({ status: 'Closed', statusReason: 'overflow', queueId: 'q2' });
    expect((await events(f, c.id)).map((e) => e.details?.when)).toEqual([
      undefined,
      'waitedSecondsAtLeast 10',
      'waitedSecondsAtLeast 30',
    ]);
  });

  it('O-1: a new priority on entry keeps the conversation in its queue: it is offered, and its wait-time rules still apply', async () => {
    // Prepare: q1 closed sets priority 9 on entry, and moves to q2 after 60 s; push, alice has room but is Away
    const f = await org({
      q1: {
        hours: 'closed',
        overflow: [
          { when: 'closed', then: { setPriority: 9 } },
          { when: { waitedSecondsAtLeast: 60 }, then: { transferToQueue: 'q2' } },
        ],
      },
      q2: {},
    });
    await f.setWorkstream('chat', { distribution: 'push' });
    await f.addAgent('alice', { default: 2 });
    await signIn(f.deps, f.org, 'alice');

    // Act 1
    const offered = await f.start('chat');
    await setPresence(f.deps, f.org, 'alice', 'Away');
    const waits = await f.start('chat');

    // Assess 1: the first was offered to alice at its new priority; the second waits at 9
    expect(await f.conversation(offered.id)).toMatchObject({ status: 'Active', primaryAgentId: 'alice', priority: 9 });
    expect(await f.conversation(waits.id)).toMatchObject({ status: 'Open', priority: 9, queueId: 'q1' });

    // Act 2
    f.clock.advance(60);
    await sweep(f);
    await f.settle();

    // Assess 2
    expect(await f.conversation(waits.id)).toMatchObject({ status: 'Open', queueId: 'q2' });
  });

  it('O-1 / TM-5: a threshold that passes while an offer is pending is checked again, and acts once the offer is gone', async () => {
    // Prepare: push with a 60 s offer; after 40 s of wait the conversation moves to q2
    const f = await org({
      q1: { overflow: [{ when: { waitedSecondsAtLeast: 40 }, then: { transferToQueue: 'q2' } }] },
      q2: {},
    });
    await f.setWorkstream('chat', { distribution: 'push', offerTimeoutSeconds: 60 });
    await f.addAgent('alice');
    f.clock.advance(30);
    const c = await f.start('chat');
    await signIn(f.deps, f.org, 'alice');
    expect(await f.conversation(c.id)).toMatchObject({ status: 'Active', accepted: false });

    // Act: the threshold passes during the offer; alice goes Away; the offer expires; the re-check comes
    f.clock.advance(41);
    const during = await sweep(f);
    await setPresence(f.deps, f.org, 'alice', 'Away');
    f.clock.advance(30);
    await sweep(f);
    f.clock.advance(10);
    await sweep(f);
    await f.settle();

    // Assess
    expect(during.filter((x) => x.kind === 'overflow').map((x) => x.outcome)).toEqual(['re-armed']);
    expect(await f.conversation(c.id)).toMatchObject({ status: 'Open', queueId: 'q2' });
  });
});
