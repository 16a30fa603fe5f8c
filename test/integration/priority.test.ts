import { describe, expect, it } from 'vitest';
import { ulid } from 'ulid';
import { ForbiddenActionError, TransitionConflictError } from '../../functions/domain/errors.js';
import type { Actor, Conversation } from '../../functions/domain/model.js';
import { signIn } from '../../functions/use-cases/agent-presence.use-case.js';
import { performAction } from '../../functions/use-cases/conversation-action.use-case.js';
import { handleCustomerEvent } from '../../functions/use-cases/customer-event.use-case.js';
import { makeFixture, type Fixture } from '../support/fixture.js';

/** Q-1 priority through the use cases on DynamoDB Local: routing rules set it, supervisors change it. */

const SUE: Actor = { role: 'supervisor', id: 'sue' };

async function org(supervisorAssign = true): Promise<Fixture> {
  const f = await makeFixture();
  await f.store.putSettings({
    org: f.org,
    supervisorMonitor: true,
    supervisorAssign,
    supervisorTransfer: true,
    forceClose: true,
    agentEndMessagingSession: true,
  });
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
