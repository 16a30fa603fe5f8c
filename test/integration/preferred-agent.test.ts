import { ulid } from 'ulid';
import { describe, expect, it } from 'vitest';
import type { Conversation, Workstream } from '../../functions/domain/model.js';
import { signIn } from '../../functions/use-cases/agent-presence.use-case.js';
import { configureContact } from '../../functions/use-cases/admin.use-case.js';
import { performAction } from '../../functions/use-cases/conversation-action.use-case.js';
import { handleCustomerEvent, type CustomerEvent } from '../../functions/use-cases/customer-event.use-case.js';
import { sweepDueTimers } from '../../functions/use-cases/timers.use-case.js';
import { makeFixture, orgOutbox, type Fixture } from '../support/fixture.js';

/** A-2 preferred agent through the use cases and the stream follow-ups, on DynamoDB Local. */

/** A push chat workstream; `returning: yes` asks for the last agent. */
async function org(patch: Partial<Workstream> = {}): Promise<Fixture> {
  const f = await makeFixture();
  await f.setWorkstream('chat', {
    distribution: 'push',
    routingRules: [{ when: { field: 'returning', equals: 'yes' }, queueId: 'q1', preferredAgent: 'last' }],
    ...patch,
  });
  return f;
}

async function agent(f: Fixture, id: string, units: number): Promise<void> {
  await f.store.putAgent({ org: f.org, id, name: id, queues: ['q1'], bot: false, capacity: { default: units } });
  await signIn(f.deps, f.org, id);
  f.clock.advance(1);
}

async function starts(f: Fixture, fields: Partial<CustomerEvent> = {}): Promise<Conversation> {
  const r = await handleCustomerEvent(f.deps, f.org, f.channelId('chat'), {
    eventId: ulid(),
    type: 'conversation.started',
    threadId: `t-${ulid()}`,
    ...fields,
  });
  if (r.outcome !== 'created') throw new Error(`expected a new conversation, got ${r.outcome}`);
  return r.conversation;
}

const act = (f: Fixture, agentId: string, conversationId: string, type: 'accept' | 'end' | 'close' | 'reject') =>
  performAction(f.deps, { org: f.org, conversationId, actor: { role: 'agent', id: agentId }, action: { type } });

const finish = async (f: Fixture, agentId: string, conversationId: string): Promise<void> => {
  for (const type of ['accept', 'end', 'close'] as const) await act(f, agentId, conversationId, type);
};

describe('A-2: preferred agent', () => {
  it('A-2: the agent the context names is offered it first, though another has more room; the read shows her', async () => {
    // Prepare
    const f = await org();
    await agent(f, 'alice', 5);
    await agent(f, 'bob', 1);

    // Act
    const c = await starts(f, { context: { preferredAgentId: 'bob' } });

    // Assess
    const read = await f.conversation(c.id);
    expect(read).toMatchObject({
      status: 'Active',
      primaryAgentId: 'bob',
      preference: { agentId: 'bob', source: 'context' },
    });
    expect(Date.parse(read.preference?.until ?? '') - Date.parse(read.createdAt)).toBe(30_000);
  });

  it('A-2: while the preferred agent has no room it waits for her, not for anyone; after the timeout it goes to another agent', async () => {
    // Prepare: bob is full; alice has room
    const f = await org({ preferredAgentTimeoutSeconds: 45 });
    await agent(f, 'alice', 5);
    await agent(f, 'bob', 1);
    await starts(f, { context: { preferredAgentId: 'bob' } });

    // Act
    const c = await starts(f, { context: { preferredAgentId: 'bob' } });
    f.clock.advance(44);
    await sweepDueTimers(f.deps, orgOutbox(f));
    const during = await f.conversation(c.id);
    f.clock.advance(1);
    await sweepDueTimers(f.deps, orgOutbox(f));

    // Assess
    expect(during.status).toBe('Open');
    expect(await f.conversation(c.id)).toMatchObject({ status: 'Active', primaryAgentId: 'alice' });
  });

  it('A-2: she gets it when she frees capacity within the window; another agent freeing capacity does not take it', async () => {
    // Prepare: alice and bob both full; a chat waits for bob
    const f = await org();
    await agent(f, 'alice', 1);
    await agent(f, 'bob', 1);
    const aliceHeld = await starts(f, { context: { preferredAgentId: 'alice' } });
    const bobHeld = await starts(f, { context: { preferredAgentId: 'bob' } });
    const c = await starts(f, { context: { preferredAgentId: 'bob' } });

    // Act 1: alice frees capacity first
    await finish(f, 'alice', aliceHeld.id);
    const afterAlice = await f.conversation(c.id);
    // Act 2: then bob
    await finish(f, 'bob', bobHeld.id);

    // Assess
    expect(afterAlice.status).toBe('Open');
    expect(await f.conversation(c.id)).toMatchObject({ status: 'Active', primaryAgentId: 'bob' });
  });

  it('A-2: preferredAgent "last" prefers the primary agent of the thread\'s previous conversation', async () => {
    // Prepare: carol handled the thread's first conversation
    const f = await org();
    await agent(f, 'carol', 1);
    const threadId = `t-${ulid()}`;
    const first = await starts(f, { threadId });
    expect((await f.conversation(first.id)).primaryAgentId).toBe('carol');
    await finish(f, 'carol', first.id);
    await agent(f, 'dave', 9);

    // Act: the customer comes back on the same thread
    const second = await starts(f, { threadId, context: { returning: 'yes' } });

    // Assess: carol, though dave has more room
    expect(await f.conversation(second.id)).toMatchObject({
      primaryAgentId: 'carol',
      preference: { agentId: 'carol', source: 'last' },
    });
  });

  it('A-2: preferredAgent "last" follows an identified customer across threads (and channels)', async () => {
    // Prepare
    const f = await org();
    await configureContact(f.deps, {
      org: f.org,
      id: 'ann',
      kind: 'contact',
      name: 'Ann',
      phone: '+14251234567',
      attributes: {},
    });
    await agent(f, 'erin', 1);
    const customer = { id: 'c-ann', phone: '+14251234567' };
    const first = await starts(f, { customer });
    await finish(f, 'erin', first.id);
    await agent(f, 'frank', 9);

    // Act: a new thread, same customer
    const second = await starts(f, { customer, context: { returning: 'yes' } });
    const stranger = await starts(f, { customer: { id: 'c-x', phone: '+14250000000' }, context: { returning: 'yes' } });

    // Assess: Ann waits for erin; a customer with no earlier conversation has no preference
    expect(await f.conversation(second.id)).toMatchObject({ customerId: 'ann', primaryAgentId: 'erin' });
    expect((await f.conversation(stranger.id)).preference).toBeUndefined();
    expect((await f.conversation(stranger.id)).primaryAgentId).toBe('frank');
  });

  it('A-2: when the preferred agent rejects the offer, the preference ends at once and it goes to another agent', async () => {
    // Prepare
    const f = await org();
    await agent(f, 'alice', 5);
    await agent(f, 'bob', 1);
    const c = await starts(f, { context: { preferredAgentId: 'bob' } });
    expect((await f.conversation(c.id)).primaryAgentId).toBe('bob');

    // Act
    await act(f, 'bob', c.id, 'reject');

    // Assess
    expect(await f.conversation(c.id)).toMatchObject({ status: 'Active', primaryAgentId: 'alice' });
  });

  it('A-2: preferredAgentTimeoutSeconds 0 turns the preference off', async () => {
    // Prepare
    const f = await org({ preferredAgentTimeoutSeconds: 0 });
    await agent(f, 'alice', 5);
    await agent(f, 'bob', 1);

    // Act
    const c = await starts(f, { context: { preferredAgentId: 'bob' } });

    // Assess
    expect(await f.conversation(c.id)).toMatchObject({ primaryAgentId: 'alice' });
    expect((await f.conversation(c.id)).preference).toBeUndefined();
  });
});
