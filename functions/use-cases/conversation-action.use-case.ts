import { decide } from '../domain/decide.js';
import {
  CapacityExceededError,
  ConflictError,
  DuplicateRequestError,
  ForbiddenActionError,
  NotFoundError,
  TransitionConflictError,
} from '../domain/errors.js';
import type { Actor, Agent, Conversation, HistoryEvent, OrgSettings } from '../domain/model.js';
import { TRIGGER_EVENTS, triggerTimers } from '../domain/triggers.js';
import { targetAgentOf, targetQueueOf, type Action } from '../domain/transitions.js';
import type { Write } from '../domain/writes.js';
import type { CommitConflict } from '../ports/conversation-store.js';
import { armTimers, requestToken, retryOnConflict, runAfterCommit, type EngineDeps } from './engine.js';

export interface ActionCommand {
  org: string;
  conversationId: string;
  /** who acts; a function picks among the caller's roles once the conversation is read */
  actor: Actor | ((c: Conversation) => Actor);
  /** with a role-picking actor: the caller's agent id, read alongside the conversation */
  actorAgentId?: string;
  action: Action;
  /** the client's Idempotency-Key: becomes the transaction's ClientRequestToken */
  idempotencyKey?: string;
  /** writes that must commit with the change, such as an inbound event's receipt (RL-1) */
  extraWrites?: readonly Write[];
  /**
   * TM-5: the fact a timer was armed for, checked on every read of the conversation (a retry after a
   * lost race included): a reason string means the subject moved on and the action is refused.
   */
  guard?: (c: Conversation) => string | undefined;
}

export interface ActionResult {
  conversation: Conversation;
  event: HistoryEvent;
  rule: string;
  /** S-3 */
  unitsOverCapacity?: number;
}

/** S-1 / M-2: the org setting each gated action needs. */
function gateOf(
  action: Action,
  actor: Actor,
):
  | keyof Pick<
      OrgSettings,
      'supervisorMonitor' | 'supervisorAssign' | 'supervisorTransfer' | 'forceClose' | 'agentEndMessagingSession'
    >
  | undefined {
  switch (action.type) {
    case 'monitor':
    case 'join':
      return 'supervisorMonitor';
    case 'assign':
      return 'supervisorAssign';
    case 'force-close':
      return 'forceClose';
    case 'end-session':
      return 'agentEndMessagingSession';
    case 'transfer':
      return actor.role === 'supervisor' ? 'supervisorTransfer' : undefined;
    default:
      return undefined;
  }
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

  const toQueue = targetQueueOf(cmd.action);
  if (toQueue !== undefined && !(await store.getQueue(cmd.org, toQueue))) throw new NotFoundError('queue', toQueue);

  const keyReceiptKey = cmd.idempotencyKey
    ? `idem#${cmd.conversationId}#${cmd.action.type}#${requestToken([typeof cmd.actor === 'function' ? (cmd.actorAgentId ?? '') : cmd.actor.id, cmd.idempotencyKey])}`
    : undefined;
  if (keyReceiptKey && (await store.hasReceipt(cmd.org, keyReceiptKey))) return replay();

  const attempt = async (): Promise<ActionResult> => {
    // Independent reads go out together: the acting agent (known, or the caller's id when the role is
    // picked after the conversation is read) with the conversation; then the workstream, the target
    // agent and the settings (only for gated or targeted actions).
    const agentId =
      typeof cmd.actor === 'function' ? cmd.actorAgentId : cmd.actor.role === 'agent' ? cmd.actor.id : undefined;
    const [conversation, prefetched] = await Promise.all([
      load(),
      agentId ? store.getAgent(cmd.org, agentId) : undefined,
    ]);
    const moved = cmd.guard?.(conversation);
    if (moved) throw new TransitionConflictError(conversation.status, `TM-5: ${moved}`);
    const actor = typeof cmd.actor === 'function' ? cmd.actor(conversation) : cmd.actor;
    const gate = gateOf(cmd.action, actor);
    const targetId = targetAgentOf(cmd.action);
    const [workstream, settings, targetAgent] = await Promise.all([
      store.getWorkstream(cmd.org, conversation.workstreamId),
      gate || targetId ? store.getSettings(cmd.org) : undefined,
      targetId ? loadAgent(targetId) : undefined,
    ]);
    if (!workstream) throw new NotFoundError('workstream', conversation.workstreamId);
    if (gate && settings && !settings[gate]) {
      throw new ForbiddenActionError(`S-1: the org setting ${gate} is off`, conversation.status);
    }
    const agent =
      actor.role === 'agent'
        ? prefetched?.id === actor.id
          ? prefetched
          : await store.getAgent(cmd.org, actor.id)
        : undefined;
    const decision = decide({
      conversation,
      actor,
      action: cmd.action,
      workstream,
      ...(agent ? { agent } : {}),
      ...(targetAgent ? { targetAgent } : {}),
      ...(settings ? { settings } : {}),
      now: deps.clock.now(),
    });
    // M-3: the org's triggers listening to this event add their outbox items to the same transaction
    const triggered = TRIGGER_EVENTS.has(decision.event.action)
      ? triggerTimers(
          await store.listTriggers(cmd.org),
          decision.event.action,
          conversation,
          decision.conversation,
          decision.event.at,
        )
      : [];
    if (triggered.length) {
      decision.timers.push(...triggered);
      decision.writes.push(...triggered.map((timer): Write => ({ type: 'timer', timer })));
    }
    const token = cmd.idempotencyKey
      ? requestToken([cmd.org, cmd.conversationId, cmd.idempotencyKey, conversation.version])
      : undefined;
    // The key's receipt commits with the change: a retry after the function died between the commit
    // and its answer finds it and replays instead of applying the action to the new state.
    const keyReceipt: Write[] = keyReceiptKey
      ? [
          {
            type: 'receipt',
            org: cmd.org,
            key: keyReceiptKey,
            expiresAt: Math.floor(deps.clock.now().getTime() / 1000) + IDEMPOTENCY_RECEIPT_TTL_SECONDS,
          },
        ]
      : [];
    try {
      await store.commit(
        [...decision.writes, ...(cmd.extraWrites ?? []), ...keyReceipt],
        token ? { idempotencyToken: token } : {},
      );
    } catch (err) {
      throw classify(err, conversation);
    }
    await armTimers(deps, decision.timers);
    await runAfterCommit(deps, decision);
    return {
      conversation: decision.conversation,
      event: decision.event,
      rule: decision.rule,
      ...(decision.unitsOverCapacity !== undefined ? { unitsOverCapacity: decision.unitsOverCapacity } : {}),
    };
  };

  /** the action with this key already committed: answer with the conversation as it stands */
  async function replay(): Promise<ActionResult> {
    const conversation = await load();
    const events = await store.listEvents(cmd.org, cmd.conversationId);
    return { conversation, event: events.at(-1) as HistoryEvent, rule: 'idempotent-replay' };
  }

  try {
    return await retryOnConflict(deps, attempt, async (last: CommitConflict) => {
      const current = await load();
      throw new TransitionConflictError(
        current.status,
        `RL-2: ${cmd.action.type} lost a race with a concurrent change; the conversation is now ${current.status}`,
        {
          cause: last,
        },
      );
    });
  } catch (err) {
    if (keyReceiptKey && err instanceof DuplicateRequestError) return replay();
    throw err;
  }
}

/** How long an Idempotency-Key's receipt is kept (as Powertools keeps the first result). */
export const IDEMPOTENCY_RECEIPT_TTL_SECONDS = 24 * 3600;

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
  if (
    !conversationMovedToo &&
    conflict.failures.some(
      (f) =>
        (f.write.type === 'agent-assigned' || f.write.type === 'member-check') && f.code === 'ConditionalCheckFailed',
    )
  ) {
    return new ConflictError("R-2: the agent's presence or queue membership changed; the offer was not made", {
      cause: err,
    });
  }
  if (!decidedOn) return err;
  const conversationMoved = conflict.failures.some((f) => f.write.type === 'conversation');
  const pool = conflict.failures.find((f) => f.write.type === 'pool-consume' && f.code === 'ConditionalCheckFailed');
  if (pool && !conversationMoved && pool.write.type === 'pool-consume') {
    return new CapacityExceededError(decidedOn.status, pool.write.agentId, pool.write.pool, pool.write.units);
  }
  return err;
}

/**
 * Who a caller acts as (API): supervisor actions need the supervisor role; a transfer is the
 * primary agent's unless the caller is a supervisor who is not the primary (S-4); everything
 * else is an agent action.
 */
export function apiActor(sub: string, roles: readonly string[], action: Action): (c: Conversation) => Actor {
  return (c) => {
    const agent = roles.includes('agent');
    const supervisor = roles.includes('supervisor');
    switch (action.type) {
      case 'monitor':
      case 'join':
      case 'assign':
      case 'force-close':
        if (!supervisor)
          throw new ForbiddenActionError(`the ${action.type} action needs the supervisor role`, c.status);
        return { role: 'supervisor', id: sub };
      case 'transfer':
        if (supervisor && (!agent || c.primaryAgentId !== sub)) return { role: 'supervisor', id: sub };
        break;
      default:
        break;
    }
    if (!agent) throw new ForbiddenActionError(`the ${action.type} action needs the agent role`, c.status);
    return { role: 'agent', id: sub };
  };
}
