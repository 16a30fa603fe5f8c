import { describe, expect, it } from 'vitest';
import { ulid } from 'ulid';
import { ForbiddenActionError, TransitionConflictError } from '../../functions/domain/errors.js';
import { effectivePriority, type Actor, type Conversation } from '../../functions/domain/model.js';
import type { Caller } from '../../functions/use-cases/caller.js';
import { signIn, signOut } from '../../functions/use-cases/agent-presence.use-case.js';
import { openItems } from '../../functions/use-cases/conversation-reads.use-case.js';
import { performAction } from '../../functions/use-cases/conversation-action.use-case.js';
import { handleCustomerEvent } from '../../functions/use-cases/customer-event.use-case.js';
import { makeFixture, SUPERVISOR_GATES_ON, type Fixture } from '../support/fixture.js';

/** through the use cases on DynamoDB Local: routing rules set priority, supervisors change it, queues serve by it. */

const SUE: Actor = { role: 'supervisor', id: 'sue' };

async function org(supervisorAssign = true): Promise<Fixture> {
  const f = await makeFixture();
  await f.store.putSettings({ org: f.org, ...SUPERVISOR_GATES_ON, supervisorAssign });
  await f.setWorkstream('chat', {
    routingRules: [{ when: { field: 'tier', equals: 'gold' }, queueId: 'q2', priority: 9 }],
  });
  return f;
}

async function starts(f: Fixture, context?: Record<string, string>): Promise<Conversation> {
  const r = await handleCustomerEvent(f.deps, f.org, f.channelId('chat'), {
    eventId: ulid(),
    type: 'conversation.started',
    threadId: `t-${ulid()}`,
    ...(context ? { context } : {}),
  });
  if (r.outcome !== 'created') throw new Error(`expected a new conversation, got ${r.outcome}`);
  return r.conversation;
}

describe('Q-1: priority', () => {
  it('Q-1: a conversation gets the priority of the routing rule that chose its queue, else 5', async () => {
    // Prepare
    const f = await org();

    // Act
    const gold = await starts(f, { tier: 'gold' });
    const plain = await starts(f);

    // Assess: stored as decided, read back the same
    expect(await f.conversation(gold.id)).toMatchObject({ queueId: 'q2', priority: 9 });
    expect(await f.conversation(plain.id)).toMatchObject({ queueId: 'q1', priority: 5 });
  });

  it('Q-1: a supervisor prioritizes an Open conversation: it stays Open in its queue, the history keeps both priorities', async () => {
    // Prepare
    const f = await org();
    const c = await starts(f);

    // Act
    const r = await performAction(f.deps, {
      org: f.org,
      conversationId: c.id,
      actor: SUE,
      action: { type: 'prioritize', priority: 8 },
    });

    // Assess
    expect(r.rule).toBe('Q-1');
    const after = await f.conversation(c.id);
    expect(after).toMatchObject({ status: 'Open', queueId: 'q1', priority: 8, version: c.version + 1 });
    expect(after.statusSince).toBe(c.statusSince); // the wait is not reset
    const last = (await f.store.listEvents(f.org, c.id)).at(-1);
    expect(last).toMatchObject({ action: 'prioritize', from: 'Open', to: 'Open', role: 'supervisor' });
    expect(last?.details).toMatchObject({ priority: 8, fromPriority: 5 });
  });

  it('Q-1: prioritize is refused on a conversation that is not Open (naming its status), and while supervisorAssign is off; nothing changes', async () => {
    // Prepare: an Active conversation (alice picked it) and an Open one in an org with the setting off
    const f = await org();
    await f.addAgent('alice');
    await signIn(f.deps, f.org, 'alice');
    const active = await starts(f);
    await performAction(f.deps, {
      org: f.org,
      conversationId: active.id,
      actor: { role: 'agent', id: 'alice' },
      action: { type: 'accept' },
    });
    const off = await org(false);
    const open = await starts(off);

    // Act
    const notOpen = await performAction(f.deps, {
      org: f.org,
      conversationId: active.id,
      actor: SUE,
      action: { type: 'prioritize', priority: 2 },
    }).catch((e: unknown) => e);
    const gated = await performAction(off.deps, {
      org: off.org,
      conversationId: open.id,
      actor: SUE,
      action: { type: 'prioritize', priority: 2 },
    }).catch((e: unknown) => e);

    // Assess
    expect(notOpen).toBeInstanceOf(TransitionConflictError);
    expect((notOpen as TransitionConflictError).currentStatus).toBe('Active');
    expect((await f.conversation(active.id)).priority).toBe(5);
    expect(gated).toBeInstanceOf(ForbiddenActionError);
    expect(String(gated)).toContain('supervisorAssign');
    expect(await off.conversation(open.id)).toEqual(open);
  });
});

/** A routing rule per priority level: context `p` gives the conversation that priority, all in q1. */
const BY_LEVEL = Array.from({ length: 10 }, (_, i) => ({
  when: { field: 'p', equals: String(i + 1) },
  queueId: 'q1',
  priority: i + 1,
}));

const ALICE: Actor = { role: 'agent', id: 'alice' };
const SUPERVISOR: Caller = { org: '', id: 'sue', roles: ['supervisor'] };

/** The queue's open items as the API lists them, ids only. */
async function openIds(f: Fixture, queueId = 'q1'): Promise<string[]> {
  const page = await openItems(f.deps, { ...SUPERVISOR, org: f.org }, queueId, { limit: 100 });
  return page.items.map((c) => c.id);
}

/** One conversation at priority `p`, after `afterSeconds` more of the test's clock. */
async function arrives(f: Fixture, p: number, afterSeconds = 1): Promise<Conversation> {
  f.clock.advance(afterSeconds);
  return starts(f, { p: String(p) });
}

describe('Q-2: order of service', () => {
  it('Q-2: the open items list highest priority first, then longest waiting', async () => {
    // Prepare
    const f = await org();
    await f.setWorkstream('chat', { routingRules: BY_LEVEL });
    const a5 = await arrives(f, 5);
    const b9 = await arrives(f, 9);
    const c5 = await arrives(f, 5);
    const d1 = await arrives(f, 1);
    const e9 = await arrives(f, 9);

    // Act
    const ids = await openIds(f);

    // Assess
    expect(ids).toEqual([b9.id, e9.id, a5.id, c5.id, d1.id]);
  });

  it('Q-2: with priorityAgingSeconds, each period waited adds 1: an old conversation passes newer, higher ones, and the read shows it', async () => {
    // Prepare: aging 60 s; a 5 waits 130 s (effective 7.17), then a 7 and an 8 arrive
    const f = await org();
    await f.setWorkstream('chat', { routingRules: BY_LEVEL, priorityAgingSeconds: 60 });
    const old5 = await arrives(f, 5);
    const new7 = await arrives(f, 7, 130);
    const new8 = await arrives(f, 8);

    // Act
    const ids = await openIds(f);

    // Assess: 8 > 7.17 > 7; the list's order holds as time passes (a static key)
    expect(ids).toEqual([new8.id, old5.id, new7.id]);
    f.clock.advance(600);
    expect(await openIds(f)).toEqual([new8.id, old5.id, new7.id]);
    const stored = await f.conversation(old5.id);
    expect(stored).toMatchObject({ enqueuedAt: old5.createdAt, priorityAgingSeconds: 60 });
    // at 731 s waited: 5 + floor(731 / 60) = 17
    expect(effectivePriority(stored, f.clock.now())).toBe(17);
  });

  it('Q-2: prioritize moves a conversation in the order and keeps its wait; without aging the same order holds', async () => {
    // Prepare
    const f = await org();
    await f.setWorkstream('chat', { routingRules: BY_LEVEL });
    const first = await arrives(f, 5);
    const second = await arrives(f, 5);
    const third = await arrives(f, 5);

    // Act: the last one is raised to 6, the first one lowered to 4 and then back to 5
    for (const [c, priority] of [
      [third, 6],
      [first, 4],
      [first, 5],
    ] as const)
      await performAction(f.deps, {
        org: f.org,
        conversationId: c.id,
        actor: SUE,
        action: { type: 'prioritize', priority },
      });

    // Assess: back at 5, the first is still the longest waiting of its level
    expect(await openIds(f)).toEqual([third.id, first.id, second.id]);
    expect((await f.conversation(first.id)).enqueuedAt).toBe(first.createdAt);
  });

  it('Q-2: an offer rejected or let expire goes back to its place: the wait is not reset', async () => {
    // Prepare: push; alice is offered the older of two equal conversations and rejects it
    const f = await org();
    await f.setWorkstream('chat', { routingRules: BY_LEVEL, distribution: 'push' });
    const older = await arrives(f, 5);
    const newer = await arrives(f, 5);
    await f.addAgent('alice', { default: 1 });
    await signIn(f.deps, f.org, 'alice');
    expect(await f.conversation(older.id)).toMatchObject({ status: 'Active', primaryAgentId: 'alice' });
    await signOut(f.deps, f.org, 'alice');

    // Act
    f.clock.advance(5);
    await performAction(f.deps, { org: f.org, conversationId: older.id, actor: ALICE, action: { type: 'reject' } });

    // Assess
    expect(await f.conversation(older.id)).toMatchObject({ status: 'Open', enqueuedAt: older.createdAt });
    expect(await openIds(f)).toEqual([older.id, newer.id]);
  });

  it('Q-2: push routing follows the same order: an agent with freed capacity gets the highest effective priority', async () => {
    // Prepare: four wait before anyone is signed in
    const f = await org();
    await f.setWorkstream('chat', { routingRules: BY_LEVEL, distribution: 'push', wrapUp: { blockCapacity: 'never' } });
    const low = await arrives(f, 2);
    const mid = await arrives(f, 6);
    const high = await arrives(f, 9);
    const mid2 = await arrives(f, 6);
    await f.addAgent('alice', { default: 1 });

    // Act: she signs in, then finishes each conversation she is offered
    await signIn(f.deps, f.org, 'alice');
    const served: string[] = [];
    for (let i = 0; i < 4; i++) served.push(await serveOffer(f));

    // Assess
    expect(served).toEqual([high.id, mid.id, mid2.id, low.id]);
  });

  it('Q-2: no starvation: under a steady stream of priority 10 work, a priority 1 conversation is served within its aging bound', async () => {
    // Prepare: aging 60 s; alice serves one conversation every 30 s, and a new 10 arrives every 30 s
    const starving = async (aging: number | undefined): Promise<number | undefined> => {
      const f = await org();
      await f.setWorkstream('chat', {
        routingRules: BY_LEVEL,
        distribution: 'push',
        wrapUp: { blockCapacity: 'never' },
        ...(aging ? { priorityAgingSeconds: aging } : {}),
      });
      const low = await arrives(f, 1);
      await arrives(f, 10);
      await arrives(f, 10);
      await f.addAgent('alice', { default: 1 });
      await signIn(f.deps, f.org, 'alice');
      // Act
      for (let step = 0; step < 30; step++) {
        const served = await serveOffer(f);
        if (served === low.id) return (f.clock.now().getTime() - Date.parse(low.createdAt)) / 1000;
        await arrives(f, 10, 30);
      }
      return undefined;
    };

    // Assess: 1 + w/60 passes 10 + w'/60 once it waited 9 x 60 s longer than the newest 10 (w' < 60 s)
    const waited = await starving(60);
    expect(waited).toBeDefined();
    expect(waited).toBeLessThanOrEqual(9 * 60 + 2 * 30 + 10);
    // without aging it is still waiting after the same time
    expect(await starving(undefined)).toBeUndefined();
  }, 120_000);
});

/** alice accepts the offer she holds, ends it (wrap-up releases her capacity) and closes it: returns its id. */
async function serveOffer(f: Fixture): Promise<string> {
  const offer = (await f.deps.lists.listWorkItems(f.org, 'alice')).find((c) => c.accepted === false);
  if (!offer) throw new Error('alice holds no offer');
  for (const type of ['accept', 'end', 'close'] as const)
    await performAction(f.deps, { org: f.org, conversationId: offer.id, actor: ALICE, action: { type } });
  return offer.id;
}
