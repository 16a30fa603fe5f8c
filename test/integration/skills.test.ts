import { ulid } from 'ulid';
import { describe, expect, it } from 'vitest';
import type { Conversation, Skills, Workstream } from '../../functions/domain/model.js';
import { signIn } from '../../functions/use-cases/agent-presence.use-case.js';
import { performAction } from '../../functions/use-cases/conversation-action.use-case.js';
import { handleCustomerEvent } from '../../functions/use-cases/customer-event.use-case.js';
import { sweepDueTimers } from '../../functions/use-cases/timers.use-case.js';
import { makeFixture, orgOutbox, SUPERVISOR_GATES_ON, type Fixture } from '../support/fixture.js';

/** K-1..K-5 through the use cases and the stream follow-ups, on DynamoDB Local. */

/** A push chat workstream whose rule sends `need: billing` to q1 with a billing requirement. */
async function skilledOrg(patch: Partial<Workstream> = {}, requires: Skills = { billing: 3 }): Promise<Fixture> {
  const f = await makeFixture();
  await f.setWorkstream('chat', {
    distribution: 'push',
    routingRules: [{ when: { field: 'need', equals: 'billing' }, queueId: 'q1', requires }],
    ...patch,
  });
  return f;
}

/** An agent of q1 with skills, signed in (room for `units`). */
async function agent(f: Fixture, id: string, skills: Skills, units = 3): Promise<void> {
  await f.store.putAgent({
    org: f.org,
    id,
    name: id,
    queues: ['q1'],
    bot: false,
    capacity: { default: units },
    skills,
  });
  await signIn(f.deps, f.org, id);
  f.clock.advance(1);
}

async function starts(f: Fixture, context: Record<string, string> = { need: 'billing' }): Promise<Conversation> {
  const r = await handleCustomerEvent(f.deps, f.org, f.channelId('chat'), {
    eventId: ulid(),
    type: 'conversation.started',
    threadId: `t-${ulid()}`,
    context,
  });
  if (r.outcome !== 'created') throw new Error(`expected a new conversation, got ${r.outcome}`);
  return r.conversation;
}

const release = async (f: Fixture, agentId: string, conversationId: string): Promise<void> => {
  const actor = { role: 'agent' as const, id: agentId };
  for (const type of ['accept', 'end', 'close'] as const)
    await performAction(f.deps, { org: f.org, conversationId, actor, action: { type } });
};

describe('K-1, K-2, K-4: skills decide who is offered a conversation', () => {
  it('K-2, K-4: a conversation that requires billing 3 goes to the agent who has it, never to one below it, even with more room', async () => {
    // Prepare: bob has billing 2 and room for 10; alice billing 4 and room for 1
    const f = await skilledOrg();
    await agent(f, 'bob', { billing: 2 }, 10);
    await agent(f, 'alice', { billing: 4, french: 1 }, 1);

    // Act
    const first = await starts(f);
    const second = await starts(f);

    // Assess: alice (the only one who meets it) is offered the first; the second waits for her, not bob
    expect(await f.conversation(first.id)).toMatchObject({
      status: 'Active',
      primaryAgentId: 'alice',
      requirements: { skills: { billing: 3 }, step: 0 },
    });
    expect(await f.conversation(second.id)).toMatchObject({ status: 'Open', requirements: { step: 0 } });
    // a conversation without a requirement goes to bob, who has the most room
    const plain = await starts(f, {});
    expect((await f.conversation(plain.id)).primaryAgentId).toBe('bob');
    expect((await f.conversation(plain.id)).requirements).toBeUndefined();
  });

  it('K-4: when capacity frees, the agent is offered only conversations whose requirement she meets, in Q-2 order among those', async () => {
    // Prepare: bob (billing 1) busy with a plain chat; a billing chat then a plain chat wait
    const f = await skilledOrg();
    await agent(f, 'bob', { billing: 1 }, 1);
    const held = await starts(f, {});
    const billing = await starts(f);
    f.clock.advance(1);
    const plain = await starts(f, {});
    expect((await f.conversation(billing.id)).status).toBe('Open');

    // Act: bob finishes his chat
    await release(f, 'bob', held.id);

    // Assess: the older billing chat is passed over (he does not meet it); he gets the plain one
    expect((await f.conversation(plain.id)).primaryAgentId).toBe('bob');
    expect((await f.conversation(billing.id)).status).toBe('Open');
  });

  it('K-1, K-4: an agent whose skills are raised is offered the waiting conversation she now meets', async () => {
    // Prepare
    const f = await skilledOrg();
    await agent(f, 'carol', { billing: 2 });
    const c = await starts(f);
    expect((await f.conversation(c.id)).status).toBe('Open');

    // Act: an admin raises her billing level (the agent change reaches the index and dispatch by the stream)
    await f.store.putAgent({
      org: f.org,
      id: 'carol',
      name: 'carol',
      queues: ['q1'],
      bot: false,
      capacity: { default: 3 },
      skills: { billing: 3 },
    });

    // Assess
    expect((await f.conversation(c.id)).primaryAgentId).toBe('carol');
  });

  it('K-2: a requirement added by a workstream PUT re-indexes the agents already signed in (the registry follow-up)', async () => {
    // Prepare: dave signs in before any requirement exists; then the rule gains one
    const f = await makeFixture();
    await f.setWorkstream('chat', { distribution: 'push' });
    await agent(f, 'dave', { spanish: 5 });
    await f.setWorkstream('chat', {
      distribution: 'push',
      routingRules: [{ when: { field: 'lang', equals: 'es' }, queueId: 'q1', requires: { spanish: 4 } }],
    });

    // Act
    const c = await starts(f, { lang: 'es' });

    // Assess: his entry under spanish=4 exists without any change of his own
    expect(await f.conversation(c.id)).toMatchObject({ primaryAgentId: 'dave', requirements: { step: 0 } });
  });

  it('K-2: moving the conversation to another queue drops its requirement', async () => {
    // Prepare
    const f = await skilledOrg();
    await f.store.putSettings({ org: f.org, ...SUPERVISOR_GATES_ON });
    const c = await starts(f);

    // Act
    await performAction(f.deps, {
      org: f.org,
      conversationId: c.id,
      actor: { role: 'supervisor', id: 'sue' },
      action: { type: 'assign', target: { kind: 'queue', queueId: 'q2' } },
    });

    // Assess
    const moved = await f.conversation(c.id);
    expect(moved).toMatchObject({ status: 'Open', queueId: 'q2' });
    expect(moved.requirements).toBeUndefined();
  });
});

describe('K-3: relaxation', () => {
  const STEPS: Partial<Workstream> = {
    skillRelaxation: [
      { afterSeconds: 60, requires: { billing: 1 } },
      { afterSeconds: 120, requires: {} },
    ],
  };

  it('K-3: after each step time the requirement relaxes, the queue and the wait stay, and a now eligible agent is offered it', async () => {
    // Prepare: erin has billing 1, nobody meets billing 3
    const f = await skilledOrg(STEPS);
    await f.store.putAgent({
      org: f.org,
      id: 'erin',
      name: 'erin',
      queues: ['q1'],
      bot: false,
      capacity: { default: 0 },
      skills: { billing: 1 },
    });
    const c = await starts(f);

    // Act 1: 59 s: nothing due
    f.clock.advance(59);
    await sweepDueTimers(f.deps, orgOutbox(f));
    expect((await f.conversation(c.id)).requirements).toEqual({ skills: { billing: 3 }, step: 0 });

    // Act 2: 60 s: step 1
    f.clock.advance(1);
    await sweepDueTimers(f.deps, orgOutbox(f));
    const relaxed = await f.conversation(c.id);
    expect(relaxed).toMatchObject({
      status: 'Open',
      queueId: 'q1',
      enqueuedAt: c.enqueuedAt,
      requirements: { skills: { billing: 1 }, step: 1 },
    });
    const events = await f.store.listEvents(f.org, c.id);
    expect(events.at(-1)).toMatchObject({
      action: 'relax',
      reason: 'K-3: skill requirement relaxed',
      details: { step: 1, fromStep: 0, requires: 'billing=1', fromRequires: 'billing=3' },
    });

    // Act 3: erin gets room and signs in: she meets step 1's requirement
    await f.store.putAgent({
      org: f.org,
      id: 'erin',
      name: 'erin',
      queues: ['q1'],
      bot: false,
      capacity: { default: 2 },
      skills: { billing: 1 },
    });
    await signIn(f.deps, f.org, 'erin');

    // Assess
    expect(await f.conversation(c.id)).toMatchObject({ primaryAgentId: 'erin', requirements: { step: 1 } });
  });

  it('K-3: a conversation that waited past both steps relaxes to "any agent" and is offered to an agent without the skill', async () => {
    // Prepare: frank has no skills and room
    const f = await skilledOrg(STEPS);
    await agent(f, 'frank', {});
    const c = await starts(f);

    // Act: the sweep comes late, after both step times: the last due step applies at once
    f.clock.advance(200);
    const fired = await sweepDueTimers(f.deps, orgOutbox(f));

    // Assess
    expect(fired.filter((t) => t.kind === 'relax' && t.outcome === 'applied')).toHaveLength(1);
    expect(await f.conversation(c.id)).toMatchObject({
      primaryAgentId: 'frank',
      requirements: { skills: {}, step: 2 },
    });
  });

  it('K-3 / TM-5: a relaxation timer of a conversation that was taken meanwhile changes nothing', async () => {
    // Prepare
    const f = await skilledOrg(STEPS);
    const c = await starts(f);
    await agent(f, 'gina', { billing: 5 });
    expect((await f.conversation(c.id)).primaryAgentId).toBe('gina');
    await performAction(f.deps, {
      org: f.org,
      conversationId: c.id,
      actor: { role: 'agent', id: 'gina' },
      action: { type: 'accept' },
    });
    const before = await f.conversation(c.id);

    // Act
    f.clock.advance(300);
    const fired = await sweepDueTimers(f.deps, orgOutbox(f));

    // Assess
    expect(fired.filter((t) => t.kind === 'relax').map((t) => t.outcome)).toEqual(['stale']);
    expect((await f.conversation(c.id)).version).toBe(before.version);
  });

  it('K-3: a step the configuration moved later is re-armed for its new time, not applied early', async () => {
    // Prepare
    const f = await skilledOrg(STEPS);
    const c = await starts(f);
    await f.setWorkstream('chat', {
      skillRelaxation: [{ afterSeconds: 90, requires: { billing: 1 } }],
    });

    // Act
    f.clock.advance(60);
    const early = await sweepDueTimers(f.deps, orgOutbox(f));
    f.clock.advance(30);
    await sweepDueTimers(f.deps, orgOutbox(f));

    // Assess
    expect(early.filter((t) => t.kind === 'relax').map((t) => t.outcome)).toEqual(['re-armed']);
    expect((await f.conversation(c.id)).requirements).toEqual({ skills: { billing: 1 }, step: 1 });
  });
});

describe('K-4: pick is not restricted by skills', () => {
  it('K-4: an agent of the queue may pick a conversation whose requirement she does not meet', async () => {
    // Prepare: a pick workstream with a requirement
    const f = await skilledOrg({ distribution: 'pick' });
    await agent(f, 'hana', {});
    const c = await starts(f);

    // Act
    await performAction(f.deps, {
      org: f.org,
      conversationId: c.id,
      actor: { role: 'agent', id: 'hana' },
      action: { type: 'accept' },
    });

    // Assess: taken, and the history says she did not meet the requirement
    expect(await f.conversation(c.id)).toMatchObject({ status: 'Active', primaryAgentId: 'hana' });
    expect((await f.store.listEvents(f.org, c.id)).at(-1)).toMatchObject({
      action: 'accept',
      details: { requirementMet: false, requires: 'billing=3' },
    });
  });
});
