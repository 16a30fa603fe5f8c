import { describe, expect, it } from 'vitest';
import type { AssignmentMethod } from '../../functions/domain/model.js';
import { signIn } from '../../functions/use-cases/agent-presence.use-case.js';
import { performAction } from '../../functions/use-cases/conversation-action.use-case.js';
import { makeFixture, type Fixture } from '../support/fixture.js';

/** A-1 assignment methods through the use cases and the stream follow-ups, on DynamoDB Local. */

async function pushOrg(assignment?: AssignmentMethod): Promise<Fixture> {
  const f = await makeFixture();
  await f.setWorkstream('chat', { distribution: 'push', ...(assignment ? { assignment } : {}) });
  return f;
}

/** Agents signed in one after the other (a second apart), each with its capacity. */
async function agents(f: Fixture, capacities: Record<string, number>): Promise<void> {
  for (const [id, units] of Object.entries(capacities)) {
    await f.addAgent(id, { default: units });
    await signIn(f.deps, f.org, id);
    f.clock.advance(1);
  }
}

/** `n` chats, a second apart: who each was offered to. */
async function offers(f: Fixture, n: number): Promise<(string | undefined)[]> {
  const out: (string | undefined)[] = [];
  for (let i = 0; i < n; i++) {
    const c = await f.start('chat');
    out.push((await f.conversation(c.id)).primaryAgentId);
    f.clock.advance(1);
  }
  return out;
}

describe('A-1: assignment methods', () => {
  it('A-1: most-capacity (the default) gives every chat to the agent with the most room; round-robin spreads them', async () => {
    // Prepare: alice has room for 5, bob and carol for 2
    const capacities = { alice: 5, bob: 2, carol: 2 };
    const mostCapacity = await pushOrg();
    await agents(mostCapacity, capacities);
    const roundRobin = await pushOrg('round-robin');
    await agents(roundRobin, capacities);

    // Act
    const byCapacity = await offers(mostCapacity, 3);
    const byTurn = await offers(roundRobin, 4);

    // Assess: 5, 4, 3 free beat 2; round-robin: never assigned first (by id on a tie), then least recently
    expect(byCapacity).toEqual(['alice', 'alice', 'alice']);
    expect(byTurn).toEqual(['alice', 'bob', 'carol', 'alice']);
  });

  it('A-1: round-robin offers a newly signed-in agent (never assigned) first', async () => {
    // Prepare
    const f = await pushOrg('round-robin');
    await agents(f, { alice: 5, bob: 5 });
    await offers(f, 2);
    await agents(f, { dave: 2 });

    // Act
    const next = await offers(f, 2);

    // Assess: dave, then alice (assigned before bob); most-capacity would pick alice (4 free) first
    expect(next).toEqual(['dave', 'alice']);
  });

  it('A-1: least-active picks the agent holding the fewest conversations, where most-capacity picks the most room', async () => {
    // Prepare: alice (room for 10) already holds 2 chats she accepted; bob (room for 2) holds none
    const setup = async (assignment: AssignmentMethod): Promise<Fixture> => {
      const f = await pushOrg(assignment);
      await agents(f, { alice: 10 });
      for (const c of await Promise.all([f.start('chat'), f.start('chat')]))
        await performAction(f.deps, {
          org: f.org,
          conversationId: c.id,
          actor: { role: 'agent', id: 'alice' },
          action: { type: 'accept' },
        });
      await agents(f, { bob: 2 });
      return f;
    };
    const byCapacity = await setup('most-capacity');
    const byActivity = await setup('least-active');

    // Act
    const [toMost] = await offers(byCapacity, 1);
    const [toLeast] = await offers(byActivity, 1);

    // Assess: 8 free beats 2 free; 0 held beats 2 held
    expect(toMost).toBe('alice');
    expect(toLeast).toBe('bob');
  });

  it('A-1: least-active breaks a tie on conversations held by the longest idle, and skips agents without room for the cost', async () => {
    // Prepare: voice costs 2 units; carol has 1 unit (listed, but no room for 2), bob 4, alice 5
    const f = await makeFixture();
    await f.setWorkstream('voice', {
      distribution: 'push',
      assignment: 'least-active',
      capacity: { pool: 'default', units: 2 },
    });
    await agents(f, { carol: 1, bob: 4, alice: 5 });

    // Act
    const c = await f.start('voice');

    // Assess: carol never fits; bob signed in before alice, so he has been idle longer (most-capacity: alice)
    expect((await f.conversation(c.id)).primaryAgentId).toBe('bob');
  });
});
