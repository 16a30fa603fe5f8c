import { describe, expect, it } from 'vitest';
import { CapacityExceededError, ForbiddenActionError, TransitionConflictError } from '../../functions/domain/errors.js';
import type { Actor, ChannelKind, Conversation } from '../../functions/domain/model.js';
import type { Action } from '../../functions/domain/transitions.js';
import { performAction } from '../../functions/use-cases/conversation-action.use-case.js';
import { handleCustomerEvent } from '../../functions/use-cases/customer-event.use-case.js';
import { ledgerOf, makeFixture, type Fixture, type FixtureOptions } from '../support/fixture.js';

const agent = (id: string): Actor => ({ role: 'agent', id });
const system: Actor = { role: 'system', id: 'timer' };
const customer: Actor = { role: 'customer', id: 'cust-1' };

const act = (f: Fixture, actor: Actor, c: Conversation, action: Action) =>
  performAction(f.deps, { org: f.org, conversationId: c.id, actor, action }).then((r) => r.conversation);
const used = async (f: Fixture, id: string, pool = 'default') => (await ledgerOf(f, id)).pools[pool]?.used;

/** Prepare: an org with agent alice (3 units in q1) and a conversation picked by her. */
async function activeFor(kind: ChannelKind, options: FixtureOptions = {}) {
  const f = await makeFixture(options);
  await f.addAgent('alice');
  const c = await act(f, agent('alice'), await f.start(kind), { type: 'accept' });
  return { f, c };
}

/** Asserts the refusal names the current status and that nothing was written (T-13). */
async function expectRefused(
  f: Fixture,
  c: Conversation,
  actor: Actor,
  action: Action,
  type: typeof TransitionConflictError | typeof ForbiddenActionError,
) {
  const before = await f.conversation(c.id);
  const events = await f.store.listEvents(f.org, c.id);
  const err = await act(f, actor, c, action).catch((e: unknown) => e);
  expect(err).toBeInstanceOf(type);
  expect((err as TransitionConflictError).currentStatus).toBe(before.status);
  expect(await f.conversation(c.id)).toEqual(before);
  expect(await f.store.listEvents(f.org, c.id)).toHaveLength(events.length);
}

describe('transitions on DynamoDB Local', () => {
  it('T-1 / R-4: an agent picks an Open conversation of their queue; capacity is reserved (C-2)', async () => {
    const { f, c } = await activeFor('chat');
    expect(c).toMatchObject({
      status: 'Active',
      primaryAgentId: 'alice',
      accepted: true,
      allocation: { agentId: 'alice', pool: 'default', units: 1 },
    });
    expect(await used(f, 'alice')).toBe(1);
  });

  it('T-1 / R-4 / T-13: an agent outside the queue cannot pick (403 naming Open)', async () => {
    const f = await makeFixture();
    await f.addAgent('outsider', { default: 3 }, ['q2']);
    const c = await f.start('chat');
    await expectRefused(f, c, agent('outsider'), { type: 'accept' }, ForbiddenActionError);
  });

  it('T-1 / R-3: an offer reserves capacity unaccepted; the agent accepts it', async () => {
    const f = await makeFixture();
    await f.addAgent('alice');
    const offered = await act(f, system, await f.start('sms'), { type: 'offer', agentId: 'alice' });
    expect(offered).toMatchObject({ status: 'Active', primaryAgentId: 'alice', accepted: false });
    expect(await used(f, 'alice')).toBe(1);
    await expectRefused(f, offered, agent('alice'), { type: 'end' }, TransitionConflictError);
    const accepted = await act(f, agent('alice'), offered, { type: 'accept' });
    expect(accepted).toMatchObject({ status: 'Active', accepted: true });
    expect(await used(f, 'alice')).toBe(1);
  });

  it('R-3: a rejected or expired offer returns to Open and releases the capacity', async () => {
    const f = await makeFixture();
    await f.addAgent('alice');
    await f.addAgent('bob');
    const c = await act(f, system, await f.start('chat'), { type: 'offer', agentId: 'alice' });
    const rejected = await act(f, agent('alice'), c, { type: 'reject' });
    expect(rejected).toMatchObject({ status: 'Open' });
    expect(rejected.primaryAgentId).toBeUndefined();
    const again = await act(f, system, rejected, { type: 'offer', agentId: 'bob' });
    const expired = await act(f, system, again, { type: 'offer-expired' });
    expect(expired.status).toBe('Open');
    expect([await used(f, 'alice'), await used(f, 'bob')]).toEqual([0, 0]);
  });

  it('T-2: a live chat customer who leaves before assignment closes it (ended and disconnected)', async () => {
    const f = await makeFixture();
    for (const type of ['customer.ended', 'customer.disconnected'] as const) {
      const c = await f.start('chat');
      const r = await handleCustomerEvent(f.deps, f.org, f.channelId('chat'), {
        eventId: `e-${type}`,
        type,
        threadId: c.threadId,
      });
      expect(r).toMatchObject({ outcome: 'transitioned', rule: 'T-2' });
      expect((await f.conversation(c.id)).status).toBe('Closed');
    }
  });

  it('T-3a: the agent selects End -> WrapUp', async () => {
    const { f, c } = await activeFor('whatsapp');
    expect(await act(f, agent('alice'), c, { type: 'end' })).toMatchObject({
      status: 'WrapUp',
      primaryAgentId: 'alice',
    });
  });

  it('T-3b / T-3c: the chat customer ends or is disconnected -> WrapUp', async () => {
    for (const [type, rule] of [
      ['customer.ended', 'T-3b'],
      ['customer.disconnected', 'T-3c'],
    ] as const) {
      const { f, c } = await activeFor('chat');
      const r = await handleCustomerEvent(f.deps, f.org, f.channelId('chat'), {
        eventId: 'e1',
        type,
        threadId: c.threadId,
      });
      expect(r).toMatchObject({ outcome: 'transitioned', rule });
      expect((await f.conversation(c.id)).status).toBe('WrapUp');
    }
  });

  it('T-4a / C-4: the reconnect timeout sends Active back to Open and releases at once', async () => {
    const { f, c } = await activeFor('chat');
    const open = await act(f, system, c, { type: 'reconnect-timeout' });
    expect(open.status).toBe('Open');
    expect(open.primaryAgentId).toBeUndefined();
    expect(await used(f, 'alice')).toBe(0);
  });

  it('T-4b / C-4: the agent releases to the queue', async () => {
    const { f, c } = await activeFor('record');
    expect((await act(f, agent('alice'), c, { type: 'release' })).status).toBe('Open');
    expect(await used(f, 'alice')).toBe(0);
  });

  it('T-4c / X-4 / C-4: transfer to another queue goes Open there; the same queue is refused', async () => {
    const { f, c } = await activeFor('sms');
    await expect(
      act(f, agent('alice'), c, { type: 'transfer', target: { kind: 'queue', queueId: 'q1' } }),
    ).rejects.toThrow(/another queue/);
    const moved = await act(f, agent('alice'), c, { type: 'transfer', target: { kind: 'queue', queueId: 'q2' } });
    expect(moved).toMatchObject({ status: 'Open', queueId: 'q2' });
    expect(await used(f, 'alice')).toBe(0);
  });

  it('T-4d: X on an Active live chat sends it back to Open', async () => {
    const { f, c } = await activeFor('chat');
    expect((await act(f, agent('alice'), c, { type: 'close' })).status).toBe('Open');
    expect(await used(f, 'alice')).toBe(0);
  });

  it('T-5 / C-2: X on a persistent conversation goes Waiting and frees capacity; never for chat or voice', async () => {
    const { f, c } = await activeFor('sms');
    const waiting = await act(f, agent('alice'), c, { type: 'close' });
    expect(waiting).toMatchObject({ status: 'Waiting', primaryAgentId: 'alice' });
    expect(waiting.allocation).toBeUndefined();
    expect(await used(f, 'alice')).toBe(0);
    const voice = await activeFor('voice');
    await expectRefused(voice.f, voice.c, agent('alice'), { type: 'close' }, TransitionConflictError);
  });

  it('T-6a: resolving a record closes it', async () => {
    const { f, c } = await activeFor('record');
    expect((await act(f, agent('alice'), c, { type: 'resolve' })).status).toBe('Closed');
    expect(await used(f, 'alice')).toBe(0);
  });

  it('T-6b: the chat customer leaves before the agent accepted -> Closed, capacity released', async () => {
    const f = await makeFixture();
    await f.addAgent('alice');
    const c = await act(f, system, await f.start('chat'), { type: 'offer', agentId: 'alice' });
    const r = await handleCustomerEvent(f.deps, f.org, f.channelId('chat'), {
      eventId: 'e1',
      type: 'customer.ended',
      threadId: c.threadId,
    });
    expect(r).toMatchObject({ outcome: 'transitioned', rule: 'T-6b' });
    expect((await f.conversation(c.id)).status).toBe('Closed');
    expect(await used(f, 'alice')).toBe(0);
  });

  it('T-7: End or X in WrapUp closes and releases what is still held', async () => {
    for (const action of ['end', 'close'] as const) {
      const { f, c } = await activeFor('chat');
      const wrap = await act(f, agent('alice'), c, { type: 'end' });
      expect(await used(f, 'alice')).toBe(1);
      expect((await act(f, agent('alice'), wrap, { type: action })).status).toBe('Closed');
      expect(await used(f, 'alice')).toBe(0);
    }
  });

  it('T-8: the inactivity timeout closes a Waiting conversation', async () => {
    const { f, c } = await activeFor('sms');
    const waiting = await act(f, agent('alice'), c, { type: 'close' });
    expect((await act(f, system, waiting, { type: 'inactivity-timeout' })).status).toBe('Closed');
  });

  it('T-9: the agent resumes a Waiting conversation, capacity reserved again', async () => {
    const { f, c } = await activeFor('whatsapp');
    const waiting = await act(f, agent('alice'), c, { type: 'close' });
    const resumed = await act(f, agent('alice'), waiting, { type: 'resume' });
    expect(resumed).toMatchObject({ status: 'Active', primaryAgentId: 'alice' });
    expect(await used(f, 'alice')).toBe(1);
  });

  it('T-10: the customer writes again on Waiting -> Open in its queue', async () => {
    const { f, c } = await activeFor('sms');
    await act(f, agent('alice'), c, { type: 'close' });
    const r = await handleCustomerEvent(f.deps, f.org, f.channelId('sms'), {
      eventId: 'm1',
      type: 'message.received',
      threadId: c.threadId,
      message: { text: 'hi' },
    });
    expect(r).toMatchObject({ outcome: 'transitioned', rule: 'T-10' });
    expect(await f.conversation(c.id)).toMatchObject({ status: 'Open', queueId: 'q1' });
  });

  it('T-11: nothing changes a Closed conversation; a new message on the thread starts a new one', async () => {
    const { f, c } = await activeFor('record');
    const closed = await act(f, agent('alice'), c, { type: 'resolve' });
    for (const action of [{ type: 'accept' }, { type: 'resume' }, { type: 'release' }, { type: 'end' }] as Action[]) {
      await expectRefused(f, closed, agent('alice'), action, TransitionConflictError);
    }
    await expectRefused(f, closed, system, { type: 'inactivity-timeout' }, TransitionConflictError);
    const r = await handleCustomerEvent(f.deps, f.org, f.channelId('record'), {
      eventId: 'm2',
      type: 'message.received',
      threadId: c.threadId,
    });
    expect(r.outcome).toBe('created');
    expect(r.outcome === 'created' && r.conversation.id).not.toBe(c.id);
    expect((await f.conversation(c.id)).status).toBe('Closed');
  });

  it('T-12: voice transfer to an external number stays Active with the external party, agent released', async () => {
    const { f, c } = await activeFor('voice');
    const ext = await act(f, agent('alice'), c, {
      type: 'transfer',
      target: { kind: 'external', number: '+14255550100' },
    });
    expect(ext).toMatchObject({ status: 'Active', primaryAgentId: '+14255550100', primaryKind: 'external' });
    expect(ext.allocation).toBeUndefined();
    expect(await used(f, 'alice')).toBe(0);
    await expectRefused(f, ext, agent('alice'), { type: 'end' }, ForbiddenActionError);
  });

  it('T-12: voice transfer to an agent keeps it Active with the receiver; capacity moves at once', async () => {
    const { f, c } = await activeFor('voice');
    await f.addAgent('bob');
    const moved = await act(f, agent('alice'), c, { type: 'transfer', target: { kind: 'agent', agentId: 'bob' } });
    expect(moved).toMatchObject({ status: 'Active', primaryAgentId: 'bob', allocation: { agentId: 'bob' } });
    expect([await used(f, 'alice'), await used(f, 'bob')]).toEqual([0, 1]);
    expect((await act(f, agent('bob'), moved, { type: 'end' })).status).toBe('WrapUp');
  });

  it('T-12 / T-4c: voice transfer to a queue goes Open there with the agent released', async () => {
    const { f, c } = await activeFor('voice');
    expect(
      await act(f, agent('alice'), c, { type: 'transfer', target: { kind: 'queue', queueId: 'q2' } }),
    ).toMatchObject({ status: 'Open', queueId: 'q2' });
    expect(await used(f, 'alice')).toBe(0);
  });

  it('T-13: actions not allowed from the status, mode or actor are refused naming the status, nothing written', async () => {
    const { f, c } = await activeFor('chat');
    await f.addAgent('bob');
    await expectRefused(f, c, agent('alice'), { type: 'resume' }, TransitionConflictError);
    await expectRefused(f, c, agent('alice'), { type: 'resolve' }, TransitionConflictError);
    await expectRefused(f, c, agent('alice'), { type: 'accept' }, TransitionConflictError);
    await expectRefused(f, c, agent('bob'), { type: 'end' }, ForbiddenActionError);
    await expectRefused(f, c, agent('bob'), { type: 'release' }, ForbiddenActionError);
    await expectRefused(f, c, customer, { type: 'end' }, ForbiddenActionError);
  });
});

describe('capacity on DynamoDB Local', () => {
  it('C-1: the workstream names the pool and the units; an agent without that pool cannot take it', async () => {
    const f = await makeFixture();
    await f.setWorkstream('voice', { capacity: { pool: 'voice', units: 2 } });
    await f.addAgent('alice', { default: 3, voice: 2 });
    await f.addAgent('bob', { default: 3 });
    const c = await act(f, agent('alice'), await f.start('voice'), { type: 'accept' });
    expect(c.allocation).toMatchObject({ pool: 'voice', units: 2 });
    expect(await ledgerOf(f, 'alice')).toMatchObject({
      pools: { voice: { used: 2 }, default: { used: 0 } },
      allocated: { voice: 2 },
    });
    await expect(act(f, agent('bob'), await f.start('voice'), { type: 'accept' })).rejects.toBeInstanceOf(
      CapacityExceededError,
    );
  });

  it('C-2: Active consumes; Open, Waiting and Closed consume none', async () => {
    const { f, c } = await activeFor('sms');
    expect(await used(f, 'alice')).toBe(1);
    const waiting = await act(f, agent('alice'), c, { type: 'close' });
    expect(await used(f, 'alice')).toBe(0);
    const active = await act(f, agent('alice'), waiting, { type: 'resume' });
    await act(f, agent('alice'), active, { type: 'release' });
    expect(await used(f, 'alice')).toBe(0);
    expect(await f.store.listAllocations(f.org, 'alice')).toEqual([]);
  });

  it('C-3: "always" holds the capacity through WrapUp until Closed', async () => {
    const { f, c } = await activeFor('chat', { wrapUp: 'always' });
    const wrap = await act(f, agent('alice'), c, { type: 'end' });
    expect(await used(f, 'alice')).toBe(1);
    await act(f, agent('alice'), wrap, { type: 'close' });
    expect(await used(f, 'alice')).toBe(0);
  });

  it('C-3: "never" releases on entering WrapUp, and closing releases nothing more', async () => {
    const { f, c } = await activeFor('chat', { wrapUp: 'never' });
    const wrap = await act(f, agent('alice'), c, { type: 'end' });
    expect(wrap.allocation).toBeUndefined();
    expect(await used(f, 'alice')).toBe(0);
    await act(f, agent('alice'), wrap, { type: 'close' });
    expect(await used(f, 'alice')).toBe(0);
  });

  it('C-3 / C-6: N minutes holds, the timer releases once, and a later close releases nothing more', async () => {
    const { f, c } = await activeFor('chat', { wrapUp: 5 });
    const wrap = await act(f, agent('alice'), c, { type: 'end' });
    expect(wrap.wrapUpReleaseAt).toBe(new Date(f.clock.now().getTime() + 5 * 60_000).toISOString());
    expect(await used(f, 'alice')).toBe(1);
    f.clock.advance(300);
    const released = await act(f, system, wrap, { type: 'wrapup-release' });
    expect(released).toMatchObject({ status: 'WrapUp' });
    expect(await used(f, 'alice')).toBe(0);
    await expectRefused(f, released, system, { type: 'wrapup-release' }, TransitionConflictError);
    await act(f, agent('alice'), released, { type: 'close' });
    expect(await used(f, 'alice')).toBe(0);
  });

  it('C-4: release to queue and transfer free the capacity at once', async () => {
    const { f, c } = await activeFor('chat');
    const c2 = await act(f, agent('alice'), await f.start('chat'), { type: 'accept' });
    expect(await used(f, 'alice')).toBe(2);
    await act(f, agent('alice'), c, { type: 'release' });
    expect(await used(f, 'alice')).toBe(1);
    await act(f, agent('alice'), c2, { type: 'transfer', target: { kind: 'queue', queueId: 'q2' } });
    expect(await used(f, 'alice')).toBe(0);
  });

  it('C-5: a full pool refuses the next conversation with a conflict, nothing written', async () => {
    const f = await makeFixture({ units: 2 });
    await f.addAgent('alice', { default: 3 });
    await act(f, agent('alice'), await f.start('chat'), { type: 'accept' });
    const second = await f.start('chat');
    const err = await act(f, agent('alice'), second, { type: 'accept' }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(CapacityExceededError);
    expect((err as CapacityExceededError).currentStatus).toBe('Open');
    expect(await f.conversation(second.id)).toMatchObject({ status: 'Open', version: 1 });
    expect(await used(f, 'alice')).toBe(2);
  });

  it('C-6: releasing the same allocation twice releases it once', async () => {
    const { f, c } = await activeFor('chat');
    const open = await act(f, agent('alice'), c, { type: 'release' });
    await expectRefused(f, open, agent('alice'), { type: 'release' }, TransitionConflictError);
    expect(await used(f, 'alice')).toBe(0);
  });

  it('C-7 / RL-3: remaining = max - allocations, and changing the maximum keeps the used units', async () => {
    const { f } = await activeFor('chat');
    await act(f, agent('alice'), await f.start('chat'), { type: 'accept' });
    await f.addAgent('alice', { default: 5 });
    const ledger = await ledgerOf(f, 'alice');
    expect(ledger.pools.default).toMatchObject({ max: 5, used: 2 });
    expect(ledger.allocated.default).toBe(2);
    await f.addAgent('alice', { default: 1 });
    await expect(act(f, agent('alice'), await f.start('chat'), { type: 'accept' })).rejects.toBeInstanceOf(
      CapacityExceededError,
    );
  });
});

describe('history (E-1)', () => {
  it('E-1: every change appends one event with actor, role, action, from, to, reason, version', async () => {
    const { f, c } = await activeFor('sms');
    const waiting = await act(f, agent('alice'), c, { type: 'close' });
    await handleCustomerEvent(f.deps, f.org, f.channelId('sms'), {
      eventId: 'm1',
      type: 'message.received',
      threadId: c.threadId,
    });
    const events = await f.store.listEvents(f.org, c.id);
    expect(
      events.map(({ seq, actor, role, action, from, to, version }) => ({
        seq,
        actor,
        role,
        action,
        from,
        to,
        version,
      })),
    ).toEqual([
      {
        seq: 1,
        actor: 'thread:' + c.threadId,
        role: 'customer',
        action: 'created',
        from: null,
        to: 'Open',
        version: 1,
      },
      { seq: 2, actor: 'alice', role: 'agent', action: 'accept', from: 'Open', to: 'Active', version: 2 },
      { seq: 3, actor: 'alice', role: 'agent', action: 'close', from: 'Active', to: 'Waiting', version: 3 },
      {
        seq: 4,
        actor: 'thread:' + c.threadId,
        role: 'customer',
        action: 'customer-message',
        from: 'Waiting',
        to: 'Open',
        version: 4,
      },
    ]);
    expect(events[2]?.reason).toMatch(/^T-5/);
    expect(events.every((e) => typeof e.at === 'string' && e.at.endsWith('Z'))).toBe(true);
    expect(waiting.version).toBe(3);
  });
});

describe('customer events', () => {
  it('RL-1 (thread mapping): a second conversation.started on a thread with an open conversation changes nothing', async () => {
    const f = await makeFixture();
    const c = await f.start('chat', 'thread-x');
    const r = await handleCustomerEvent(f.deps, f.org, f.channelId('chat'), {
      eventId: 'dup',
      type: 'conversation.started',
      threadId: 'thread-x',
    });
    expect(r).toMatchObject({ outcome: 'ignored', conversationId: c.id });
    expect(await f.store.getThreadConversationId(f.org, f.channelId('chat'), 'thread-x')).toBe(c.id);
  });

  it('R-1: routing rules pick the queue on context variables, else the default queue', async () => {
    const f = await makeFixture();
    await f.setWorkstream('chat', { routingRules: [{ when: { field: 'lang', equals: 'fr' }, queueId: 'q2' }] });
    const start = (threadId: string, context: Record<string, string>) =>
      handleCustomerEvent(f.deps, f.org, f.channelId('chat'), {
        eventId: threadId,
        type: 'conversation.started',
        threadId,
        context,
      });
    expect(await start('a', { lang: 'fr' })).toMatchObject({ outcome: 'created', conversation: { queueId: 'q2' } });
    expect(await start('b', { lang: 'en' })).toMatchObject({ outcome: 'created', conversation: { queueId: 'q1' } });
  });
});

describe('voice transfer to an external number, then the caller hangs up', () => {
  it('T-12: the call closes (no agent is left to wrap up), it does not get stuck in WrapUp', async () => {
    const { f, c } = await activeFor('voice');
    await act(f, agent('alice'), c, { type: 'transfer', target: { kind: 'external', number: '+14255550100' } });
    const r = await handleCustomerEvent(f.deps, f.org, f.channelId('voice'), {
      eventId: 'hangup',
      type: 'customer.disconnected',
      threadId: c.threadId,
    });
    expect(r).toMatchObject({ outcome: 'transitioned', rule: 'T-12' });
    expect(await f.conversation(c.id)).toMatchObject({ status: 'Closed', primaryKind: 'external' });
    expect(await used(f, 'alice')).toBe(0);
  });
});

describe('inbound event receipts', () => {
  it('RL-1: the same channel event applied twice takes effect once', async () => {
    const { f, c } = await activeFor('chat');
    const ev = { eventId: 'same-1', type: 'customer.ended' as const, threadId: c.threadId };
    expect(await handleCustomerEvent(f.deps, f.org, f.channelId('chat'), ev)).toMatchObject({
      outcome: 'transitioned',
      rule: 'T-3b',
    });
    expect(await handleCustomerEvent(f.deps, f.org, f.channelId('chat'), ev)).toEqual({ outcome: 'duplicate' });
    const start = { eventId: 'start-1', type: 'conversation.started' as const, threadId: 'fresh' };
    const [a, b] = await Promise.all([
      handleCustomerEvent(f.deps, f.org, f.channelId('sms'), start),
      handleCustomerEvent(f.deps, f.org, f.channelId('sms'), start),
    ]);
    expect([a.outcome, b.outcome].sort()).toEqual(['created', 'duplicate']);
    expect(await f.store.listEvents(f.org, c.id)).toHaveLength(3);
  });
});
