import { decide } from '../domain/decide.js';
import { CapacityExceededError, ConflictError, DuplicateRequestError, NotFoundError, TransitionConflictError } from '../domain/errors.js';
import type { Actor, Agent, Conversation, HistoryEvent } from '../domain/model.js';
import { targetAgentOf, type Action } from '../domain/transitions.js';
import type { Write } from '../domain/writes.js';
import type { CommitConflict } from '../ports/conversation-store.js';
import { armTimers, requestToken, retryOnConflict, runAfterCommit, type EngineDeps } from './engine.js';

export interface ActionCommand {
  org: string;
  conversationId: string;
  actor: Actor;
  action: Action;
  /** the client's Idempotency-Key: becomes the transaction's ClientRequestToken */
  idempotencyKey?: string;
  /** writes that must commit with the change, such as an inbound event's receipt (RL-1) */
  extraWrites?: readonly Write[];
}

export interface ActionResult {
  conversation: Conversation;
  event: HistoryEvent;
  rule: string;
}

/**
 * Every conversation action (agent, customer, timer): load -> decide -> commit in one transaction
 * -> arm timers. Refusals are the domain's typed errors; lost races are re-decided on fresh state.
 */
export async function performAction(deps: EngineDeps, cmd: ActionCommand): Promise<ActionResult> {
  const { store } = deps;
  const load = async (): Promise<Conversation> => {
    const c = await store.getConversation(cmd.org, cmd.conversationId);
    if (!c) throw new NotFoundError('conversation', cmd.conversationId);
    return c;
  };
  const loadAgent = async (id: string): Promise<Agent> => {
    const a = await store.getAgent(cmd.org, id);
    if (!a) throw new NotFoundError('agent', id);
    return a;
  };

  if (cmd.action.type === 'transfer' && cmd.action.target.kind === 'queue' && !(await store.getQueue(cmd.org, cmd.action.target.queueId))) {
    throw new NotFoundError('queue', cmd.action.target.queueId);
  }

  const attempt = async (): Promise<ActionResult> => {
    const conversation = await load();
    const workstream = await store.getWorkstream(cmd.org, conversation.workstreamId);
    if (!workstream) throw new NotFoundError('workstream', conversation.workstreamId);
    const agent = cmd.actor.role === 'agent' ? await store.getAgent(cmd.org, cmd.actor.id) : undefined;
    const targetId = targetAgentOf(cmd.action);
    const targetAgent = targetId ? await loadAgent(targetId) : undefined;
    const decision = decide({
      conversation,
      actor: cmd.actor,
      action: cmd.action,
      workstream,
      ...(agent ? { agent } : {}),
      ...(targetAgent ? { targetAgent } : {}),
      now: deps.clock.now(),
    });
    const token = cmd.idempotencyKey ? requestToken([cmd.org, cmd.conversationId, cmd.idempotencyKey, conversation.version]) : undefined;
    try {
      await store.commit([...decision.writes, ...(cmd.extraWrites ?? [])], token ? { idempotencyToken: token } : {});
    } catch (err) {
      throw classify(err, conversation);
    }
    await armTimers(deps, decision.timers);
    await runAfterCommit(deps, decision);
    return { conversation: decision.conversation, event: decision.event, rule: decision.rule };
  };

  return retryOnConflict(deps, attempt, async (last: CommitConflict) => {
    const current = await load();
    throw new TransitionConflictError(current.status, `RL-2: ${cmd.action.type} lost a race with a concurrent change; the conversation is now ${current.status}`, {
      cause: last,
    });
  });
}

/**
 * A failed capacity condition is final (C-5) unless the conversation itself also moved, in which
 * case deciding again on the new state gives the right answer. Everything else is a lost race.
 */
export function classify(err: unknown, decidedOn?: Conversation): unknown {
  const conflict = err as CommitConflict;
  if (conflict?.name !== 'CommitConflict') return err;
  if (conflict.failures.some((f) => f.write.type === 'receipt' && f.code === 'ConditionalCheckFailed')) {
    return new DuplicateRequestError('RL-1: this event was already applied', { cause: err });
  }
  const conversationMovedToo = conflict.failures.some((f) => f.write.type === 'conversation');
  if (!conversationMovedToo && conflict.failures.some((f) => (f.write.type === 'agent-assigned' || f.write.type === 'member-check') && f.code === 'ConditionalCheckFailed')) {
    return new ConflictError("R-2: the agent's presence or queue membership changed; the offer was not made", { cause: err });
  }
  if (!decidedOn) return err;
  const conversationMoved = conflict.failures.some((f) => f.write.type === 'conversation');
  const pool = conflict.failures.find((f) => f.write.type === 'pool-consume' && f.code === 'ConditionalCheckFailed');
  if (pool && !conversationMoved && pool.write.type === 'pool-consume') {
    return new CapacityExceededError(decidedOn.status, pool.write.agentId, pool.write.pool, pool.write.units);
  }
  return err;
}
