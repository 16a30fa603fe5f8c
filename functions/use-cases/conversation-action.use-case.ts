import { createHash } from 'node:crypto';
import { decide } from '../domain/decide.js';
import {
  CapacityExceededError,
  ConflictError,
  DomainError,
  DuplicateRequestError,
  ForbiddenActionError,
  IdempotencyKeyReusedError,
  NotFoundError,
  PreconditionFailedError,
  RaceLostError,
  TransitionConflictError,
} from '../domain/errors.js';
import type { MessageDraft, MessageLog } from '../domain/messages.js';
import type { Actor, Agent, Conversation, HistoryEvent, OrgSettings, Workstream } from '../domain/model.js';
import { visibleToAgent } from '../domain/visibility.js';
import { TRIGGER_EVENTS, triggerTimers } from '../domain/triggers.js';
import { targetAgentOf, targetQueueOf, type Action } from '../domain/transitions.js';
import type { Decision, Write } from '../domain/writes.js';
import type { CommitConflict, StoredReceipt, Versioned } from '../ports/storage-types.js';
import { configCacheOf } from './config-cache.js';
import { retryOnConflict, type EngineDeps } from './engine.js';
import { addMessages } from './message-writes.js';

export interface ActionCommand {
  org: string;
  conversationId: string;
  /** who acts; a function picks among the caller's roles once the conversation is read */
  actor: Actor | ((c: Conversation) => Actor);
  /** with a role-picking actor: the caller's agent id, read alongside the conversation */
  actorAgentId?: string;
  /**
   * RL-7: the caller is this agent and nothing more (no supervisor or admin role): a conversation she
   * may not see (`visibleToAgent`, on her record as read with it) is not found for her, whatever the action.
   */
  visibleTo?: string;
  action: Action;
  /**
   * RL-8 (`If-Match`): the conversation versions the client acted on. The decision is made only if
   * the conversation read is at one of them; its transaction is conditioned on that version, so a
   * change that commits in between is a lost race, and the retry's read is refused (412).
   */
  ifMatch?: readonly number[];
  /** the client's Idempotency-Key, scoped to the caller: its receipt commits with the change */
  idempotencyKey?: string;
  /** the authenticated caller (API `sub`), whatever role they act in: the owner of the Idempotency-Key */
  callerId?: string;
  /** writes that must commit with the change, such as an inbound event's receipt (RL-1) */
  extraWrites?: readonly Write[];
  /**
   * TM-5: the fact a timer was armed for, checked on every read of the conversation (a retry after a
   * lost race included): a reason string means the subject moved on and the action is refused.
   */
  guard?: (c: Conversation, log?: MessageLog) => string | undefined;
  /** MS-1: messages the change appends to the transcript, first (a customer's text), with the same receipt */
  messages?: readonly MessageDraft[];
  /** MS-3: the decision depends on the transcript's last reply: the transaction checks it as read */
  proveReplies?: boolean;
  /**
   * What the caller read consistently just before, to decide on instead of reading it again: the
   * router's offer has the conversation and the candidate (whole, every pool) in hand. Only the first
   * attempt uses it; the transaction's conditions prove it (the conversation's version, the pool,
   * the agent's `stateVersion`), and a retry reads fresh.
   */
  known?: { conversation: Conversation; agents: Record<string, Agent> };
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
    case 'prioritize':
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
 * Settings a decision needs: an S-1 / M-2 gate for some caller (a transfer is gated for supervisors,
 * so its decision reads them whoever acts), and the presence of a target agent.
 */
const readsSettings = (action: Action): boolean =>
  gateOf(action, { role: 'supervisor', id: '' }) !== undefined || targetAgentOf(action) !== undefined;

/** What one decision is made on, read in one round trip when the configuration is cached. */
interface ActionState {
  conversation: Conversation;
  workstream: Versioned<Workstream>;
  settings?: Versioned<OrgSettings>;
  agents: Record<string, Agent | undefined>;
  receipt?: StoredReceipt;
  /** MS-1: the transcript's log, read with the conversation (absent on a `known` decision) */
  log?: MessageLog;
}

/**
 * Every conversation action (agent, customer, timer): read (one BatchGetItem with configuration
 * warm) -> decide (pure domain) -> commit ONE transaction -> answer. The transaction carries, as
 * conditions, everything the decision assumed: the conversation's version and status, capacity,
 * membership, the target queue's existence and the configuration versions (R-5). Refusals are the
 * domain's typed errors; a lost race is decided again on fresh state, and one that keeps losing is
 * a RaceLostError (409, retryable).
 */
export async function performAction(deps: EngineDeps, cmd: ActionCommand): Promise<ActionResult> {
  const keyed = cmd.idempotencyKey ? keyedRequest(cmd, cmd.idempotencyKey) : undefined;
  return retryOnConflict(
    deps,
    (n) => attemptAction(deps, cmd, keyed, n),
    async (last: CommitConflict) => {
      const current = await deps.conversations.getConversation(cmd.org, cmd.conversationId);
      throw new RaceLostError(
        current?.status ?? 'Open',
        `RL-2: ${cmd.action.type} lost repeated races with concurrent changes; the conversation is now ${current?.status}; retry`,
        { cause: last },
      );
    },
  );
}

async function attemptAction(
  deps: EngineDeps,
  cmd: ActionCommand,
  keyed: KeyedRequest | undefined,
  attempt: number,
): Promise<ActionResult> {
  const fresh = attempt > 1;
  const state =
    cmd.known && !fresh && !keyed
      ? await knownState(deps, cmd, cmd.known)
      : await readActionState(deps, cmd, keyed, fresh);
  const { conversation } = state;
  if (cmd.visibleTo && !visibleToAgent(conversation, cmd.visibleTo, agentIn(state, cmd.visibleTo)?.queues ?? []))
    throw new NotFoundError('conversation', cmd.conversationId);
  if (state.receipt && keyed) return replayReceipt(state.receipt, keyed);
  if (cmd.ifMatch && !cmd.ifMatch.includes(conversation.version))
    throw new PreconditionFailedError(conversation.status, conversation.version);
  const moved = cmd.guard?.(conversation, state.log);
  if (moved) throw new TransitionConflictError(conversation.status, `TM-5: ${moved}`);
  let decided: { actor: Actor; decision: Decision };
  try {
    decided = decideAs(deps, cmd, state);
  } catch (err) {
    // R-5: a refusal is a decision too: one made on cached configuration is made again on a fresh read
    if (!fresh && err instanceof DomainError) return attemptAction(deps, cmd, keyed, attempt + 1);
    throw err;
  }
  const { decision } = decided;
  await addTriggers(deps, cmd.org, conversation, decision, fresh);
  await addMessages(deps, decision, {
    before: conversation,
    action: cmd.action,
    drafts: cmd.messages ?? [],
    ...(state.log ? { log: state.log } : {}),
    agents: state.agents,
    workstream: state.workstream.value,
    fresh,
  });
  const receipt = keyed ? [keyReceipt(deps, keyed, decision)] : [];
  try {
    await deps.commits.commit([...decision.writes, ...assumptions(cmd, state), ...(cmd.extraWrites ?? []), ...receipt]);
  } catch (err) {
    throw onCommitFailure(deps, err, cmd, state);
  }
  // availability, dispatch, schedules and notifications follow from the committed change (the stream)
  return resultOf(decision);
}

/** An agent the state read, by id: own entries only (an id may be "constructor" or "toString"). */
const agentIn = (state: Pick<ActionState, 'agents'>, id: string): Agent | undefined =>
  Object.hasOwn(state.agents, id) ? state.agents[id] : undefined;

/** Who acts, the S-1 / M-2 gate, then the pure decision. */
function decideAs(deps: EngineDeps, cmd: ActionCommand, state: ActionState): { actor: Actor; decision: Decision } {
  const { conversation } = state;
  const actor = typeof cmd.actor === 'function' ? cmd.actor(conversation) : cmd.actor;
  const gate = gateOf(cmd.action, actor);
  if (gate && state.settings && !state.settings.value[gate]) {
    throw new ForbiddenActionError(`S-1: the org setting ${gate} is off`, conversation.status);
  }
  return { actor, decision: decideOn(deps, cmd, state, actor) };
}

function decideOn(deps: EngineDeps, cmd: ActionCommand, state: ActionState, actor: Actor): Decision {
  const agent = actor.role === 'agent' ? agentIn(state, actor.id) : undefined;
  const targetId = targetAgentOf(cmd.action);
  const targetAgent = targetId ? agentIn(state, targetId) : undefined;
  if (targetId && !targetAgent) throw new NotFoundError('agent', targetId);
  return decide({
    conversation: state.conversation,
    actor,
    action: cmd.action,
    workstream: state.workstream.value,
    ...(agent ? { agent } : {}),
    ...(targetAgent ? { targetAgent } : {}),
    ...(state.settings ? { settings: state.settings.value } : {}),
    now: deps.clock.now(),
  });
}

/** M-3: the org's triggers listening to this event add their outbox items to the same transaction. */
async function addTriggers(
  deps: EngineDeps,
  org: string,
  before: Conversation,
  decision: Decision,
  fresh: boolean,
): Promise<void> {
  if (!TRIGGER_EVENTS.has(decision.event.action)) return;
  const triggers = await triggersOf(deps, org, fresh);
  // R-5: the list decided on (cached or not) is proven current by the transaction, matched or not
  decision.writes.push({
    type: 'config-current',
    org,
    entity: 'triggers',
    id: org,
    version: triggers.version,
    spread: before.id,
  });
  const triggered = triggerTimers(
    triggers.value,
    decision.event.action,
    before,
    decision.conversation,
    decision.event.at,
  );
  decision.timers.push(...triggered);
  decision.writes.push(...triggered.map((timer): Write => ({ type: 'timer', timer })));
}

/** The facts the decision assumed that it does not write: proven by conditions in the same transaction. */
function assumptions(cmd: ActionCommand, state: ActionState): Write[] {
  const org = cmd.org;
  const toQueue = targetQueueOf(cmd.action);
  const log = state.log;
  return [
    ...(cmd.proveReplies && log
      ? [
          {
            type: 'reply-check',
            org,
            conversationId: cmd.conversationId,
            replySeq: log.replySeq,
            seq: log.seq,
          } as const,
        ]
      : []),
    {
      type: 'config-current',
      org,
      entity: 'workstream',
      id: state.workstream.value.id,
      version: state.workstream.version,
      spread: cmd.conversationId,
    },
    ...(state.settings
      ? [
          {
            type: 'config-current',
            org,
            entity: 'settings',
            id: org,
            version: state.settings.version,
            spread: cmd.conversationId,
          } as const,
        ]
      : []),
    ...(toQueue !== undefined ? [{ type: 'queue-exists', org, queueId: toQueue } as const] : []),
  ];
}

/**
 * The first round trip reads the conversation, the agents (with the pools of the org's known
 * workstreams), the key's receipt and uncached settings together. Only a cold cache (a workstream
 * not seen yet, or a pool it did not know) costs a second one.
 */
async function readActionState(
  deps: EngineDeps,
  cmd: ActionCommand,
  keyed: KeyedRequest | undefined,
  fresh: boolean,
): Promise<ActionState> {
  const cache = configCacheOf(deps);
  const actorId =
    typeof cmd.actor === 'function' ? cmd.actorAgentId : cmd.actor.role === 'agent' ? cmd.actor.id : undefined;
  const agentIds = [...new Set([actorId, targetAgentOf(cmd.action)].filter((a): a is string => !!a))];
  const wantsSettings = readsSettings(cmd.action);
  const cachedSettings = wantsSettings && !fresh ? cache.get('settings', cmd.org, cmd.org) : undefined;
  const pools = [...cache.poolNamesOf(cmd.org)];
  const read = await deps.decisions.readActionState(cmd.org, {
    conversationId: cmd.conversationId,
    agents: agentIds.map((id) => ({ id, pools })),
    ...(keyed ? { receiptKey: keyed.receiptKey } : {}),
    settings: wantsSettings && !cachedSettings,
    log: true,
  });
  const conversation = read.conversation;
  if (!conversation) throw new NotFoundError('conversation', cmd.conversationId);
  if (read.settings) cache.set('settings', cmd.org, cmd.org, read.settings);
  const settings = cachedSettings ?? read.settings;
  const workstream = await workstreamOf(deps, cmd.org, conversation.workstreamId, fresh);
  const agents = await withPool(deps, cmd.org, read.agents, workstream.value.capacity.pool, pools);
  return {
    conversation,
    workstream,
    agents,
    ...(settings ? { settings } : {}),
    ...(read.receipt ? { receipt: read.receipt } : {}),
    ...(read.log ? { log: read.log } : {}),
  };
}

/** The decision's state from what the caller read (`known`), with configuration from the cache. */
async function knownState(
  deps: EngineDeps,
  cmd: ActionCommand,
  known: NonNullable<ActionCommand['known']>,
): Promise<ActionState> {
  const wantsSettings = readsSettings(cmd.action);
  const [workstream, settings] = await Promise.all([
    workstreamOf(deps, cmd.org, known.conversation.workstreamId),
    wantsSettings ? settingsOf(deps, cmd.org) : undefined,
  ]);
  return { conversation: known.conversation, workstream, agents: known.agents, ...(settings ? { settings } : {}) };
}

/** The cached workstream, or a fresh read (cold cache, or a retry after a failed config check). */
export async function workstreamOf(
  deps: EngineDeps,
  org: string,
  id: string,
  fresh = false,
): Promise<Versioned<Workstream>> {
  return configCacheOf(deps).through('workstream', org, id, fresh, async () => {
    const read = await deps.configuration.getWorkstreamVersioned(org, id);
    if (!read) throw new NotFoundError('workstream', id);
    return read;
  });
}

/** M-3: the org's cached trigger list, or a fresh read. */
const triggersOf = (deps: EngineDeps, org: string, fresh: boolean) =>
  configCacheOf(deps).through('triggers', org, org, fresh, () => deps.configuration.listTriggersVersioned(org));

/** The cached org settings, or a fresh read. */
export const settingsOf = (deps: EngineDeps, org: string, fresh = false): Promise<Versioned<OrgSettings>> =>
  configCacheOf(deps).through('settings', org, org, fresh, () => deps.configuration.getSettingsVersioned(org));

/** Agents read without the workstream's pool (it was not known yet): read again, whole. */
async function withPool(
  deps: EngineDeps,
  org: string,
  agents: Record<string, Agent | undefined>,
  pool: string,
  asked: readonly string[],
): Promise<Record<string, Agent | undefined>> {
  if (asked.includes(pool)) return agents;
  const ids = Object.keys(agents);
  const whole = await Promise.all(ids.map((id) => deps.agents.getAgent(org, id)));
  return Object.fromEntries(ids.map((id, i) => [id, whole[i]]));
}

/**
 * A cancelled transaction: a failed configuration check drops the cached entry and decides again;
 * a missing target queue is 404; the rest is classified (capacity is final, races are retried).
 */
function onCommitFailure(deps: EngineDeps, err: unknown, cmd: ActionCommand, state: ActionState): unknown {
  const conflict = err as CommitConflict;
  if (conflict?.name !== 'CommitConflict') return err;
  const failed = (type: Write['type']): boolean =>
    conflict.failures.some((f) => f.write.type === type && f.code === 'ConditionalCheckFailed');
  if (failed('config-current')) {
    const cache = configCacheOf(deps);
    cache.drop('workstream', cmd.org, state.workstream.value.id);
    cache.drop('settings', cmd.org, cmd.org);
    cache.drop('triggers', cmd.org, cmd.org);
    cache.drop('templates', cmd.org, cmd.org);
    return conflict;
  }
  const toQueue = targetQueueOf(cmd.action);
  if (toQueue !== undefined && failed('queue-exists') && !failed('conversation')) {
    return new NotFoundError('queue', toQueue);
  }
  // R-4: the acting agent left the queue since the read: decided again, the fresh read refuses it
  if (cmd.action.type !== 'offer' && failed('member-check')) return conflict;
  // another request with the same Idempotency-Key committed first: the retry reads its receipt
  if (conflict.failures.some((f) => f.write.type === 'receipt' && isKeyReceipt(f.write.key))) return conflict;
  return classify(err, state.conversation);
}

const resultOf = (decision: Decision): ActionResult => ({
  conversation: decision.conversation,
  event: decision.event,
  rule: decision.rule,
  ...(decision.unitsOverCapacity !== undefined ? { unitsOverCapacity: decision.unitsOverCapacity } : {}),
});

// ---- Idempotency-Key (IETF draft): one receipt, committed with the change, replayed on a retry ----

/** How long an Idempotency-Key's receipt is kept (expired by the table's TTL). */
export const IDEMPOTENCY_RECEIPT_TTL_SECONDS = 24 * 3600;

export interface KeyedRequest {
  receiptKey: string;
  /** what the request asks: the same key for another conversation, action or body is refused (422) */
  fingerprint: string;
}

const KEY_RECEIPT_PREFIX = 'idem#';
export const isKeyReceipt = (key: string): boolean => key.startsWith(KEY_RECEIPT_PREFIX);

/** The key is the caller's own: scoped to org (the receipt's partition) and the acting user. */
function keyedRequest(cmd: ActionCommand, key: string): KeyedRequest {
  const caller = cmd.callerId ?? (typeof cmd.actor === 'function' ? (cmd.actorAgentId ?? '') : cmd.actor.id);
  return keyedFor(caller, key, [cmd.conversationId, canonical(cmd.action)]);
}

/** An Idempotency-Key's receipt key (the caller's own) and the fingerprint of what the request asks (`what`). */
export function keyedFor(caller: string, key: string, what: unknown): KeyedRequest {
  return {
    receiptKey: `${KEY_RECEIPT_PREFIX}${createHash('sha256').update(`${caller}\u0000${key}`).digest('base64url')}`,
    fingerprint: createHash('sha256').update(JSON.stringify(what)).digest('base64url'),
  };
}

/** JSON with sorted keys, so the same action is the same fingerprint whatever the body's key order. */
function canonical(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(canonical);
  if (v && typeof v === 'object') {
    return Object.fromEntries(
      Object.entries(v as Record<string, unknown>)
        .sort(([a], [b]) => a.localeCompare(b))
        .map(([k, x]) => [k, canonical(x)]),
    );
  }
  return v;
}

function keyReceipt(deps: EngineDeps, keyed: KeyedRequest, decision: Decision): Write {
  return keyedReceipt(deps, decision.conversation.org, keyed, resultOf(decision));
}

/** An Idempotency-Key's receipt: what the request was and its first result, committed with its change. */
export function keyedReceipt(deps: Pick<EngineDeps, 'clock'>, org: string, keyed: KeyedRequest, result: object): Write {
  return {
    type: 'receipt',
    org,
    key: keyed.receiptKey,
    expiresAt: Math.floor(deps.clock.now().getTime() / 1000) + IDEMPOTENCY_RECEIPT_TTL_SECONDS,
    fingerprint: keyed.fingerprint,
    result: result as Record<string, unknown>,
  };
}

/** The key was used before: the same request gets the first result again; another request is 422. */
export function replayReceipt<T = ActionResult>(receipt: StoredReceipt, keyed: KeyedRequest): T {
  if (receipt.fingerprint !== keyed.fingerprint || !receipt.result) {
    throw new IdempotencyKeyReusedError(
      'this Idempotency-Key was already used for a different request (another conversation, action or body)',
    );
  }
  return receipt.result as unknown as T;
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
 * primary agent's (X-1) unless the caller is a supervisor who is not the primary (S-4); everything
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
      case 'prioritize':
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
