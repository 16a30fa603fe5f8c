import { ulid } from 'ulid';
import { describe, expect, it } from 'vitest';
import type { Conversation, Membership } from '../../functions/domain/model.js';
import { signIn } from '../../functions/use-cases/agent-presence.use-case.js';
import { performAction } from '../../functions/use-cases/conversation-action.use-case.js';
import { handleCustomerEvent } from '../../functions/use-cases/customer-event.use-case.js';
import { configureAgent } from '../../functions/use-cases/admin.use-case.js';
import { sweepDueTimers } from '../../functions/use-cases/timers.use-case.js';
import { ConflictError, ValidationError } from '../../functions/domain/errors.js';
import { MAX_QUEUE_DELAYS } from '../../functions/domain/profiles.js';
import { makeFixture, orgOutbox, type Fixture } from '../support/fixture.js';

/** Q-3 routing profiles (membership priority and delay) through the use cases and the stream follow-ups, on DynamoDB Local. */

/** A push chat workstream: `queue: q2` goes to q2, the rest to q1. */
async function org(): Promise<Fixture> {
  const f = await makeFixture();
  await f.setWorkstream('chat', {
    distribution: 'push',
    routingRules: [{ when: { field: 'queue', equals: 'q2' }, queueId: 'q2' }],
  });
  return f;
}

/** An agent of q1 and q2 with a routing profile, signed in unless asked not to be. */
async function agent(
  f: Fixture,
  id: string,
  memberships: Record<string, Membership>,
  { units = 1, signedIn = true }: { units?: number; signedIn?: boolean } = {},
): Promise<void> {
  await f.store.putAgent({
    org: f.org,
    id,
    name: id,
    queues: ['q1', 'q2'],
    memberships,
    bot: false,
    capacity: { default: units },
  });
  if (signedIn) await signIn(f.deps, f.org, id);
  f.clock.advance(1);
}

async function starts(f: Fixture, queue: 'q1' | 'q2'): Promise<Conversation> {
  const r = await handleCustomerEvent(f.deps, f.org, f.channelId('chat'), {
    eventId: ulid(),
    type: 'conversation.started',
    threadId: `t-${ulid()}`,
    context: { queue },
  });
  if (r.outcome !== 'created') throw new Error(`expected a new conversation, got ${r.outcome}`);
  return r.conversation;
}

const release = async (f: Fixture, agentId: string, conversationId: string): Promise<void> => {
  const actor = { role: 'agent' as const, id: agentId };
  for (const type of ['accept', 'end', 'close'] as const)
    await performAction(f.deps, { org: f.org, conversationId, actor, action: { type } });
};

const sweep = (f: Fixture) => sweepDueTimers(f.deps, orgOutbox(f));

describe('Q-3: membership priority', () => {
  it('Q-3: an agent who frees capacity is offered work from her first-priority queue, though older work waits in her second', async () => {
    // Prepare: alice has q2 first and q1 second; she is busy; an older chat waits in q1, a newer one in q2
    const f = await org();
    await agent(f, 'alice', { q1: { priority: 2, delaySeconds: 0 } });
    const held = await starts(f, 'q1');
    const older = await starts(f, 'q1');
    f.clock.advance(60);
    const newer = await starts(f, 'q2');

    // Act
    await release(f, 'alice', held.id);

    // Assess
    expect(await f.conversation(newer.id)).toMatchObject({ status: 'Active', primaryAgentId: 'alice' });
    expect((await f.conversation(older.id)).status).toBe('Open');
  });

  it('Q-3: with nothing eligible in her first-priority queue, she is offered work from the next level', async () => {
    // Prepare: the same profile; only q1 has work
    const f = await org();
    await agent(f, 'alice', { q1: { priority: 2, delaySeconds: 0 } });
    const held = await starts(f, 'q1');
    const waiting = await starts(f, 'q1');

    // Act
    await release(f, 'alice', held.id);

    // Assess
    expect(await f.conversation(waiting.id)).toMatchObject({ status: 'Active', primaryAgentId: 'alice' });
  });

  it('Q-3: without a profile (every queue priority 1) the order is Q-2 across her queues: the older first', async () => {
    // Prepare
    const f = await org();
    await agent(f, 'alice', {});
    const held = await starts(f, 'q1');
    const older = await starts(f, 'q1');
    f.clock.advance(60);
    await starts(f, 'q2');

    // Act
    await release(f, 'alice', held.id);

    // Assess
    expect(await f.conversation(older.id)).toMatchObject({ status: 'Active', primaryAgentId: 'alice' });
  });
});

describe('Q-3: membership delay', () => {
  it('Q-3: a new conversation is not offered to a member with a delay until it has waited that long, then it is, by her delay timer', async () => {
    // Prepare: bob, signed in with room, has a 30 s delay in q1
    const f = await org();
    await agent(f, 'bob', { q1: { priority: 1, delaySeconds: 30 } });

    // Act
    const c = await starts(f, 'q1');
    f.clock.advance(20);
    await sweep(f);
    const early = await f.conversation(c.id);
    f.clock.advance(10);
    await sweep(f);

    // Assess: Open at 20 s; offered to bob once 30 s passed, with its wait kept
    expect(early.status).toBe('Open');
    expect(await f.conversation(c.id)).toMatchObject({ status: 'Active', primaryAgentId: 'bob' });
  });

  it('Q-3: an undelayed member is chosen before a delayed one with more room, and the delayed one is still reached', async () => {
    // Prepare: bob (delay 30, room 5) and carol (no delay, room 1)
    const f = await org();
    await agent(f, 'bob', { q1: { priority: 1, delaySeconds: 30 } }, { units: 5 });
    await agent(f, 'carol', {}, { units: 1 });

    // Act
    const first = await starts(f, 'q1');
    const second = await starts(f, 'q1');
    f.clock.advance(30);
    await sweep(f);

    // Assess
    expect((await f.conversation(first.id)).primaryAgentId).toBe('carol');
    expect((await f.conversation(second.id)).primaryAgentId).toBe('bob');
  });

  it('Q-3: an agent who signs in is not offered a conversation younger than her delay, and is offered it when it has waited that long', async () => {
    // Prepare: a chat has waited 10 s in q1 when dave (delay 30 there) signs in
    const f = await org();
    await agent(f, 'dave', { q1: { priority: 1, delaySeconds: 30 } }, { signedIn: false });
    const c = await starts(f, 'q1');
    f.clock.advance(10);

    // Act
    await signIn(f.deps, f.org, 'dave');
    const early = await f.conversation(c.id);
    f.clock.advance(20);
    await sweep(f);

    // Assess
    expect(early.status).toBe('Open');
    expect(await f.conversation(c.id)).toMatchObject({ status: 'Active', primaryAgentId: 'dave' });
  });

  it('Q-3: a delay in one queue does not hold back her other queue', async () => {
    // Prepare
    const f = await org();
    await agent(f, 'erin', { q1: { priority: 1, delaySeconds: 600 } });

    // Act
    const c = await starts(f, 'q2');

    // Assess
    expect((await f.conversation(c.id)).primaryAgentId).toBe('erin');
  });

  it(`Q-3, SC-2: a queue takes at most ${MAX_QUEUE_DELAYS} distinct member delays: another is 400 and writes nothing`, async () => {
    // Prepare: agents with delays 1..MAX in q1
    const f = await org();
    for (let d = 1; d <= MAX_QUEUE_DELAYS; d++) await agent(f, `a${d}`, { q1: { priority: 1, delaySeconds: d } });

    // Act
    const config = (delaySeconds: number) => ({
      org: f.org,
      id: 'late',
      name: 'late',
      queues: ['q1'],
      memberships: { q1: { priority: 1, delaySeconds } },
      bot: false,
      capacity: { default: 1 },
    });
    const refused = await configureAgent(f.deps, config(MAX_QUEUE_DELAYS + 1)).catch((e: unknown) => e);
    const raced = await f.store.putAgent(config(MAX_QUEUE_DELAYS + 2)).catch((e: unknown) => e);
    await configureAgent(f.deps, config(3));

    // Assess: refused by the check, and by the transaction (a race past the check); a delay in use is fine
    expect(refused).toBeInstanceOf(ValidationError);
    expect((refused as ValidationError).errors[0]?.field).toBe('queues.0.delaySeconds');
    expect(raced).toBeInstanceOf(ConflictError);
    expect((await f.store.getAgent(f.org, 'late'))?.memberships).toEqual({ q1: { priority: 1, delaySeconds: 3 } });
    expect(await f.store.getQueueDelays(f.org, 'q1')).toEqual(
      Array.from({ length: MAX_QUEUE_DELAYS }, (_, i) => i + 1),
    );
  });
});
