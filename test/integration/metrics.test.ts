import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { COUNTED_STATUSES } from '../../functions/domain/metrics.js';
import { runFollowUps } from '../../functions/follow-ups/run-follow-ups.js';
import { setPresence, signIn, signOut } from '../../functions/use-cases/agent-presence.use-case.js';
import { performAction } from '../../functions/use-cases/conversation-action.use-case.js';
import { handleCustomerEvent } from '../../functions/use-cases/customer-event.use-case.js';
import { readQueueMetrics } from '../../functions/use-cases/metrics.use-case.js';
import { makeFixture, type Fixture } from '../support/fixture.js';

/** MX-1 queue metrics from the stream follow-ups' counters, on DynamoDB Local. */

const metrics = (f: Fixture, queueId = 'q1') => readQueueMetrics(f.deps, f.org, queueId);

/** what the lists show: conversations of the queue by status, read page by page */
async function listed(f: Fixture, queueId: string): Promise<Record<string, number>> {
  const out: Record<string, number> = {};
  for (const status of COUNTED_STATUSES) {
    let cursor: string | undefined;
    let n = 0;
    do {
      const page = await f.deps.lists.listConversations(
        f.org,
        { queueId, status },
        { limit: 100, ...(cursor ? { cursor } : {}) },
      );
      n += page.items.length;
      cursor = page.nextCursor;
    } while (cursor);
    out[status] = n;
  }
  return out;
}

const act = (f: Fixture, agentId: string, conversationId: string, type: 'accept' | 'end' | 'close' | 'release') =>
  performAction(f.deps, { org: f.org, conversationId, actor: { role: 'agent', id: agentId }, action: { type } });

describe('MX-1: queue metrics', () => {
  it('MX-1: counts by status equal the lists; agents signed in and by presence among the members', async () => {
    // Prepare: three chats in q1; alice takes one and ends it, takes another; bob goes Away; carol (q2) signs in
    const f = await makeFixture();
    await f.addAgent('alice', { default: 3 });
    await f.addAgent('bob');
    await f.addAgent('carol', { default: 1 }, ['q2']);
    for (const id of ['alice', 'bob', 'carol']) await signIn(f.deps, f.org, id);
    await setPresence(f.deps, f.org, 'bob', 'Away');
    const [a, b] = [await f.start('chat'), await f.start('chat'), await f.start('chat')];
    await act(f, 'alice', (a as { id: string }).id, 'accept');
    await act(f, 'alice', (a as { id: string }).id, 'end');
    await act(f, 'alice', (b as { id: string }).id, 'accept');

    // Act
    const m = await metrics(f);

    // Assess
    expect(m.counts).toMatchObject({ Open: 1, Active: 1, WrapUp: 1, Waiting: 0 });
    expect(await listed(f, 'q1')).toEqual({ Open: 1, Active: 1, WrapUp: 1, Waiting: 0 });
    expect(m.counts).toMatchObject({ signedIn: 2, Available: 1, Away: 1, Busy: 0, BusyDND: 0 });
    expect((await metrics(f, 'q2')).counts).toMatchObject({ signedIn: 1, Available: 1 });
  });

  it('MX-1: answered, abandoned, average wait and service level over the last hour; the oldest Open wait', async () => {
    // Prepare: service level 20 s; one answered after 10 s, one after 30 s, one abandoned, one still waiting
    const f = await makeFixture();
    await f.store.putQueue({ org: f.org, id: 'q1', name: 'Queue 1', serviceLevelSeconds: 20 });
    await f.addAgent('alice', { default: 5 });
    await signIn(f.deps, f.org, 'alice');
    const fast = await f.start('chat');
    const slow = await f.start('chat');
    const gone = await f.start('chat', 'gone');
    f.clock.advance(10);
    await act(f, 'alice', fast.id, 'accept');
    f.clock.advance(20);
    await act(f, 'alice', slow.id, 'accept');
    await handleCustomerEvent(f.deps, f.org, f.channelId('chat'), {
      eventId: 'left',
      type: 'customer.ended',
      threadId: 'gone',
    });
    const waiting = await f.start('chat');
    f.clock.advance(5);

    // Act
    const m = await metrics(f);
    f.clock.advance(3600);
    const later = await metrics(f);

    // Assess
    expect(m.lastHour).toEqual({ answered: 2, abandoned: 1, waitMs: 40_000, withinServiceLevel: 1 });
    expect(m.oldestOpenSince).toBe(waiting.enqueuedAt);
    expect((await f.conversation(gone.id)).status).toBe('Closed');
    expect(later.lastHour).toEqual({ answered: 0, abandoned: 0, waitMs: 0, withinServiceLevel: 0 });
    expect(later.counts).toMatchObject({ Open: 1, Active: 2 });
  });

  it('MX-1: a stream batch delivered again counts nothing twice', async () => {
    // Prepare: follow-ups by hand
    const f = await makeFixture({ settle: 'manual' });
    await f.addAgent('alice');
    const c = await f.start('chat');
    await f.settle();
    await act(f, 'alice', c.id, 'accept');
    const records = await f.takePending();

    // Act: the same records twice, then once more after a crash-like retry
    await runFollowUps(f.deps, records);
    await runFollowUps(f.deps, records);
    await runFollowUps(f.deps, records);

    // Assess
    expect((await metrics(f)).counts).toMatchObject({ Open: 0, Active: 1 });
  });

  it('MX-1: after a random mix of changes, the counts equal the lists at a quiet moment', async () => {
    const step = fc.oneof(
      fc.record({ t: fc.constant('start' as const) }),
      fc.record({
        t: fc.constantFrom('accept', 'end', 'close', 'release', 'transfer') as fc.Arbitrary<string>,
        i: fc.nat(20),
      }),
      fc.record({ t: fc.constantFrom('sign-in', 'sign-out', 'away') as fc.Arbitrary<string>, agent: fc.nat(2) }),
    );
    await fc.assert(
      fc.asyncProperty(fc.array(step, { minLength: 5, maxLength: 25 }), async (steps) => {
        const f = await makeFixture();
        const agents = ['alice', 'bob', 'carol'];
        for (const id of agents) await f.addAgent(id, { default: 3 }, ['q1', 'q2']);
        const ids: string[] = [];
        for (const s of steps) {
          try {
            if (s.t === 'start') ids.push((await f.start('chat')).id);
            else if ('i' in s && ids.length) {
              const id = ids[s.i % ids.length] as string;
              if (s.t === 'transfer')
                await performAction(f.deps, {
                  org: f.org,
                  conversationId: id,
                  actor: { role: 'supervisor', id: 'sue' },
                  action: { type: 'assign', target: { kind: 'queue', queueId: 'q2' } },
                });
              else await act(f, 'alice', id, s.t as 'accept' | 'end' | 'close' | 'release');
            } else if ('agent' in s) {
              const id = agents[s.agent] as string;
              if (s.t === 'sign-in') await signIn(f.deps, f.org, id);
              else if (s.t === 'sign-out') await signOut(f.deps, f.org, id);
              else await setPresence(f.deps, f.org, id, 'Away');
            }
          } catch {
            // refused by the rules (409, 403): nothing changed, nothing to count
          }
        }
        await f.settle();
        for (const q of ['q1', 'q2']) {
          const m = await metrics(f, q);
          const counts = Object.fromEntries(COUNTED_STATUSES.map((s) => [s, m.counts[s]]));
          expect(counts).toEqual(await listed(f, q));
          const members = await Promise.all(agents.map((id) => f.store.getAgent(f.org, id)));
          expect(m.counts.signedIn).toBe(members.filter((a) => a?.signedIn).length);
        }
      }),
      { numRuns: 6 },
    );
  });
});
