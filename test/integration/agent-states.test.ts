import { describe, expect, it } from 'vitest';
import { setPresence, signIn } from '../../functions/use-cases/agent-presence.use-case.js';
import { listAgentStates } from '../../functions/use-cases/agent-reads.use-case.js';
import { performAction } from '../../functions/use-cases/conversation-action.use-case.js';
import { makeFixture, type Fixture } from '../support/fixture.js';

/** MX-2 agent states through the use cases and the stream follow-ups, on DynamoDB Local. */

const supervisor = (f: Fixture) => ({ org: f.org, id: 'sue', roles: ['supervisor' as const] });

const list = (f: Fixture, query: { queueId?: string; limit?: number; cursor?: string } = {}) =>
  listAgentStates(f.deps, supervisor(f), { limit: query.limit ?? 50, ...query });

describe('MX-2: agent states', () => {
  it('MX-2: each agent with presence and since when, signed in, capacity per pool and conversations held', async () => {
    // Prepare: alice holds one conversation of her one unit (Busy), bob is Available, carol signed out
    const f = await makeFixture();
    await f.addAgent('alice', { default: 1 });
    await f.addAgent('bob', { default: 2 });
    await f.addAgent('carol', { default: 2 }, ['q2']);
    await signIn(f.deps, f.org, 'alice');
    await signIn(f.deps, f.org, 'bob');
    const availableAt = f.clock.now().toISOString();
    f.clock.advance(30);
    const c = await f.start('chat');
    await performAction(f.deps, {
      org: f.org,
      conversationId: c.id,
      actor: { role: 'agent', id: 'alice' },
      action: { type: 'accept' },
    });
    const busyAt = f.clock.now().toISOString();

    // Act
    const page = await list(f);

    // Assess
    const byId = Object.fromEntries(page.items.map((i) => [i.agent.id, i]));
    expect(page.items.map((i) => i.agent.id)).toEqual(['alice', 'bob', 'carol']);
    expect(byId.alice).toMatchObject({
      conversations: 1,
      agent: { signedIn: true, presenceShown: 'Busy', presenceSince: busyAt, pools: { default: { used: 1, max: 1 } } },
    });
    expect(byId.bob).toMatchObject({
      conversations: 0,
      agent: { presenceShown: 'Available', presenceSince: availableAt },
    });
    expect(byId.carol?.agent.signedIn ?? false).toBe(false);
  });

  it('MX-2: a manual presence moves presenceSince; the same presence again does not', async () => {
    // Prepare
    const f = await makeFixture();
    await f.addAgent('alice');
    await signIn(f.deps, f.org, 'alice');
    f.clock.advance(10);
    await setPresence(f.deps, f.org, 'alice', 'Away');
    const awayAt = f.clock.now().toISOString();

    // Act
    f.clock.advance(10);
    await setPresence(f.deps, f.org, 'alice', 'Away');
    const [item] = (await list(f)).items;

    // Assess
    expect(item?.agent).toMatchObject({ presenceShown: 'Away', presenceSince: awayAt });
  });

  it('MX-2: a queue lists its members only, page by page with a cursor; an unknown queue is 404', async () => {
    // Prepare: 5 members of q1, 2 agents of q2 only
    const f = await makeFixture();
    for (const id of ['a1', 'a2', 'a3', 'a4', 'a5']) await f.addAgent(id);
    for (const id of ['b1', 'b2']) await f.addAgent(id, { default: 1 }, ['q2']);

    // Act
    const first = await list(f, { queueId: 'q1', limit: 2 });
    const second = await list(f, {
      queueId: 'q1',
      limit: 2,
      ...(first.nextCursor ? { cursor: first.nextCursor } : {}),
    });
    const third = await list(f, {
      queueId: 'q1',
      limit: 2,
      ...(second.nextCursor ? { cursor: second.nextCursor } : {}),
    });
    const all = await list(f, { limit: 100 });

    // Assess
    expect([first, second, third].flatMap((p) => p.items.map((i) => i.agent.id))).toEqual([
      'a1',
      'a2',
      'a3',
      'a4',
      'a5',
    ]);
    expect(third.nextCursor).toBeUndefined();
    expect(all.items).toHaveLength(7);
    await expect(list(f, { queueId: 'nope' })).rejects.toMatchObject({ name: 'NotFoundError' });
  });
});
