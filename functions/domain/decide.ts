import { overflowActionOf } from './overflow.js';
import { participantsAfter } from './visibility.js';
import { ForbiddenActionError, TransitionConflictError } from './errors.js';
import {
  DEFAULT_PREFERRED_AGENT_TIMEOUT_SECONDS,
  DEFAULT_PRIORITY,
  enqueuedAtOf,
  modeOf,
  type Actor,
  type Agent,
  type Channel,
  type Conversation,
  type HistoryEvent,
  type Preference,
  type Skills,
  type Workstream,
} from './model.js';
import { LEFT_BEFORE_START, type EarlyEnd } from './early-end.js';
import { TRANSITIONS, type Action, type TransitionRule } from './transitions.js';
import { addSeconds, DISPATCH_RETRY_SECONDS } from './timers.js';
import { relaxTimer, requirementKey } from './skills.js';
import type { Decision, TimerRequest, Write } from './writes.js';
import type { DecideInput, Draft, EffectContext } from './effects/context.js';
import { effectsOf } from './effects/rule-effects.js';

export type { DecideInput } from './effects/context.js';

const offerMatches = (rule: TransitionRule, c: Conversation): boolean =>
  rule.offer === undefined || (rule.offer === 'pending' ? c.accepted === false : c.accepted !== false);

const partyMatches = (rule: TransitionRule, c: Conversation): boolean =>
  rule.party === undefined || rule.party === (c.primaryKind ?? 'agent');

const pendingMatches = (rule: TransitionRule, c: Conversation): boolean =>
  rule.pending === undefined || rule.pending === (c.pendingTransfer !== undefined);

const isPrimary = (c: Conversation, actor: Actor): boolean =>
  c.primaryKind !== 'external' && c.primaryAgentId !== undefined && c.primaryAgentId === actor.id;

type WhoCheck = (rule: TransitionRule, c: Conversation, actor: Actor, action: Action, agent?: Agent) => void;

/** Keyed by `TransitionRule.who`: the acting agent's standing in the conversation the rule asks for. */
const WHO_CHECKS: Record<NonNullable<TransitionRule['who']>, WhoCheck> = {
  primary: (_rule, c, actor, action) => {
    if (!isPrimary(c, actor))
      throw new ForbiddenActionError(`T-13: only the primary agent may ${action.type} this conversation`, c.status);
  },
  //
  'queue-member': (_rule, c, actor, _action, agent) => {
    if (!(agent?.queues.includes(c.queueId) ?? false))
      throw new ForbiddenActionError(`R-4: agent ${actor.id} is not a member of queue ${c.queueId}`, c.status);
  },
  // X-3 / S-4
  'transfer-receiver': (rule, c, actor, action) => {
    if (c.pendingTransfer?.to !== actor.id)
      throw new ForbiddenActionError(
        `${rule.id}: only the receiver of the pending transfer may ${action.type} it`,
        c.status,
      );
  },
  // S-2
  'not-primary': (rule, c, actor, action) => {
    if (c.primaryAgentId === actor.id)
      throw new ForbiddenActionError(
        `${rule.id}: a supervisor cannot ${action.type} a conversation assigned to them`,
        c.status,
      );
  },
};

/**
 * T-13: no rule for the actor's role. The role may take this action elsewhere (another status, mode or
 * channel): a conflict with this conversation's state. A role that never takes it is forbidden.
 */
function refuseRole(c: Conversation, actor: Actor, action: Action): never {
  const target = action.type === 'transfer' || action.type === 'assign' ? action.target.kind : undefined;
  const roleEverDoes = TRANSITIONS.some(
    (r) => r.action === action.type && r.role === actor.role && (r.target === undefined || r.target === target),
  );
  if (roleEverDoes)
    throw new TransitionConflictError(
      c.status,
      `T-13: a ${actor.role} cannot ${action.type} a ${c.status} ${c.channelKind} conversation`,
    );
  throw new ForbiddenActionError(`T-13: a ${actor.role} may not ${action.type} this conversation`, c.status);
}

/** Finds the one rule that allows this action, or throws the refusal T-13 / T-11 ask for. */
export function findRule(c: Conversation, actor: Actor, action: Action, agent?: Agent): TransitionRule {
  if (c.status === 'Closed') {
    throw new TransitionConflictError(
      'Closed',
      `T-11: a Closed conversation cannot be changed (${action.type} refused)`,
    );
  }
  const shaped = TRANSITIONS.filter(
    (r) =>
      r.action === action.type &&
      r.from === c.status &&
      r.modes.includes(c.mode) &&
      (r.kinds === undefined || r.kinds.includes(c.channelKind)) &&
      (r.target === undefined ||
        ((action.type === 'transfer' || action.type === 'assign') && action.target.kind === r.target)) &&
      (r.overflow === undefined || (action.type === 'overflow' && overflowActionOf(action.then) === r.overflow)) &&
      offerMatches(r, c) &&
      partyMatches(r, c) &&
      pendingMatches(r, c),
  );
  if (shaped.length === 0) {
    const offer = c.status === 'Active' && c.accepted === false ? ' (offer not accepted yet)' : '';
    throw new TransitionConflictError(
      c.status,
      `T-13: ${action.type} is not allowed on a ${c.status}${offer} ${c.channelKind} conversation`,
    );
  }
  const rule = shaped.find((r) => r.role === actor.role) ?? refuseRole(c, actor, action);
  if (rule.who) WHO_CHECKS[rule.who](rule, c, actor, action, agent);
  return rule;
}

/**
 * The decision function: (conversation, actor, action, config, now) -> the writes of one transaction.
 * Pure: no I/O, no clock. Every refusal is a typed error naming the current status.
 */
export function decide(input: DecideInput): Decision {
  const { conversation: c, actor, action } = input;
  const rule = findRule(c, actor, action, input.agent);
  const version = c.version + 1;
  const ctx: EffectContext = {
    input,
    rule,
    c,
    actor,
    action,
    ws: input.workstream,
    now: input.now,
    at: input.now.toISOString(),
    version,
  };
  const effects = effectsOf(rule);
  // all checks first: a refused action gets the same first refusal whatever the effects would have done
  for (const effect of effects) effect.check?.(ctx);
  const draft = effects.reduce((d, effect) => effect.apply(ctx, d), startDraft(ctx));
  return assemble(ctx, draft);
}

function startDraft({ rule, c, at, version }: EffectContext): Draft {
  return {
    next: {
      ...c,
      status: rule.to,
      statusReason: rule.reason,
      statusSince: rule.to === c.status ? c.statusSince : at,
      updatedAt: at,
      version,
    },
    capacityWrites: [],
    timers: [],
    notifications: [],
    details: {},
  };
}

/** E-1: one history event per change, its seq the version the change writes. */
function historyEvent({ rule, c, actor, action, at, version }: EffectContext, d: Draft): HistoryEvent {
  return {
    org: c.org,
    conversationId: c.id,
    seq: version,
    at,
    actor: actor.id,
    role: actor.role,
    action: action.type,
    from: c.status,
    to: rule.to,
    reason: `${rule.id}: ${rule.reason}`,
    version,
    ...(Object.keys(d.details).length ? { details: { ...d.details } } : {}),
  };
}

/** One transaction: the conversation (only from the version and status read, RL-2), its event, capacity, outbox. */
function assemble(ctx: EffectContext, draft: Draft): Decision {
  const { c, at, version, input } = ctx;
  const participants = participantsAfter(c, draft.next);
  const withParticipants = participants ? { ...draft.next, participants } : draft.next;
  const d: Draft = { ...draft, next: inQueue(c, withParticipants, ctx.ws, at) };
  const event = historyEvent(ctx, d);
  // E-2: notifications go out through the outbox, so they exist iff the change committed
  const timers: TimerRequest[] = [
    ...d.timers,
    ...relaxTimer(c, { ...d.next, version }, ctx.ws, ctx.now),
    ...d.notifications.map((n): TimerRequest => ({
      kind: 'notify',
      org: c.org,
      conversationId: c.id,
      version,
      at,
      key: n.type,
      notification: n,
    })),
  ];
  const agentsAfter = [input.agent, input.targetAgent]
    .flatMap((a) => (a ? [applyPoolWrites(a, d.capacityWrites)] : []))
    .filter((a): a is Agent => a !== null);
  return {
    rule: ctx.rule.id,
    conversation: d.next,
    event,
    writes: [
      { type: 'conversation', item: d.next, expect: { version: c.version, status: c.status } },
      { type: 'event', event },
      ...d.capacityWrites,
      ...timers.map((timer): Write => ({ type: 'timer', timer })),
      // the membership the rule relied on still holds when the change commits
      ...(ctx.rule.who === 'queue-member'
        ? [{ type: 'member-check', org: c.org, queueId: c.queueId, agentId: ctx.actor.id } as const]
        : []),
    ],
    timers,
    notifications: [...d.notifications],
    ...(d.unitsOverCapacity !== undefined ? { unitsOverCapacity: d.unitsOverCapacity } : {}),
    ...(agentsAfter.length ? { agentsAfter } : {}),
  };
}

/** what an Open conversation's place in its queue is computed from (`queueOrder`). */
const queued = (ws: Workstream, enqueuedAt: string): Pick<Conversation, 'enqueuedAt' | 'priorityAgingSeconds'> => ({
  enqueuedAt,
  ...(ws.priorityAgingSeconds ? { priorityAgingSeconds: ws.priorityAgingSeconds } : {}),
});

/** an offer not accepted yet is still part of the wait in the queue */
const waiting = (c: Conversation): boolean => c.status === 'Open' || (c.status === 'Active' && c.accepted === false);

/**
 * a conversation that stays in its queue keeps its wait: changes while Open (K-3: nothing but a
 * queue move resets it), and a push offer that comes back rejected or expired (the customer did not
 * stop waiting). One that enters Open otherwise, or another queue, starts waiting now. The aging
 * setting is the workstream's as of this change. Once the wait is over neither is kept.
 */
function inQueue(c: Conversation, next: Conversation, ws: Workstream, at: string): Conversation {
  const { enqueuedAt: _e, priorityAgingSeconds: _a, requirements, preference, overflowed, ...kept } = next;
  // K-2, A-2: a requirement and a preferred agent belong to the queue the routing rule chose: another
  // queue takes any of its agents
  const same = next.queueId === c.queueId;
  const rest = {
    ...kept,
    ...(requirements && same ? { requirements } : {}),
    ...(preference && same ? { preference } : {}),
  };
  if (!waiting(next)) return rest;
  const stays = waiting(c) && c.queueId === next.queueId;
  // O-1: the wait-time rules that acted belong to this wait
  return { ...rest, ...(stays && overflowed ? { overflowed } : {}), ...queued(ws, stays ? enqueuedAtOf(c) : at) };
}

/** The agent's pools once the decision's capacity writes commit; null when they do not touch this agent. */
function applyPoolWrites(agent: Agent, writes: readonly Write[]): Agent | null {
  let touched = false;
  const pools = Object.fromEntries(Object.entries(agent.pools).map(([k, p]) => [k, { ...p }]));
  for (const w of writes) {
    if ((w.type !== 'pool-consume' && w.type !== 'pool-release') || w.agentId !== agent.id) continue;
    const p = pools[w.pool];
    if (!p) continue;
    p.used += w.type === 'pool-consume' ? w.units : -w.units;
    touched = true;
  }
  return touched ? { ...agent, pools } : null;
}

export interface OpenInput {
  org: string;
  id: string;
  ticketId: string;
  channel: Channel;
  workstream: Workstream;
  threadId: string;
  queueId: string;
  customerId?: string;
  actor: Actor;
  /** the thread's previous conversation, which this one replaces as the thread's current one */
  previousConversationId: string | null;
  /** which routing rule chose the queue */
  reason: string;
  /** set by that routing rule (else the default) */
  priority?: number;
  /** K-2: the skills that routing rule requires */
  requires?: Skills;
  /** the agent it waits for first (the rule's `last`, or the context's), when there is one */
  preferredAgent?: { agentId: string; source: Preference['source'] };
  now: Date;
  /** T-2: the customer already left (an end that arrived first): the conversation is created Closed */
  leftBeforeStart?: Pick<EarlyEnd, 'endedAt' | 'action'>;
}

/** the preference holds for the workstream's timeout from now (0: none). */
function preferenceOf(input: OpenInput): Pick<Conversation, 'preference'> {
  const timeout = input.workstream.preferredAgentTimeoutSeconds ?? DEFAULT_PREFERRED_AGENT_TIMEOUT_SECONDS;
  if (!input.preferredAgent || timeout <= 0 || input.workstream.distribution !== 'push') return {};
  return { preference: { ...input.preferredAgent, until: addSeconds(input.now, timeout) } };
}

function openedConversation(input: OpenInput, at: string): Conversation {
  const mode = modeOf(input.channel.kind);
  const closed = input.leftBeforeStart !== undefined;
  return {
    org: input.org,
    id: input.id,
    channelId: input.channel.id,
    channelKind: input.channel.kind,
    mode,
    threadId: input.threadId,
    status: closed ? 'Closed' : 'Open',
    statusReason: closed ? LEFT_BEFORE_START : input.reason,
    queueId: input.queueId,
    workstreamId: input.workstream.id,
    ...(input.customerId ? { customerId: input.customerId } : {}),
    priority: input.priority ?? DEFAULT_PRIORITY,
    ...(closed ? {} : queued(input.workstream, at)),
    ...(input.requires && !closed ? { requirements: { skills: input.requires, step: 0 } } : {}),
    ...(closed ? {} : preferenceOf(input)),
    consultants: [],
    session: { status: 'active' },
    // a persistent channel's ticket is a messaging ticket whatever the channel (M-2 may turn it to email)
    ticket: { id: input.ticketId, channel: mode === 'persistent' ? 'messaging' : input.channel.kind, status: 'open' },
    statusSince: at,
    createdAt: at,
    updatedAt: at,
    version: 1,
  };
}

/** E-1: the first event of a conversation, which has no status before it. */
function createdEvent(input: OpenInput, at: string): HistoryEvent {
  const left = input.leftBeforeStart;
  return {
    org: input.org,
    conversationId: input.id,
    seq: 1,
    at,
    actor: input.actor.id,
    role: input.actor.role,
    action: 'created',
    from: null,
    to: left ? 'Closed' : 'Open',
    reason: left ? `T-2: ${LEFT_BEFORE_START}` : input.reason,
    version: 1,
    details: {
      queueId: input.queueId,
      ...(input.requires && !left ? { requires: requirementKey(input.requires) } : {}),
      ...(input.preferredAgent && !left ? { preferredAgentId: input.preferredAgent.agentId } : {}),
      ...(left ? { routing: input.reason, customerLeftAt: left.endedAt, customerAction: left.action } : {}),
    },
  };
}

/**
 * A new conversation enters Open in its routed queue, with its session and ticket (M-1). When
 * the customer already left (T-2, `leftBeforeStart`), it is created Closed instead: in its queue for
 * the record, holding no capacity, with nothing to dispatch.
 */
export function openConversation(input: OpenInput): Decision {
  const at = input.now.toISOString();
  const conversation = openedConversation(input, at);
  // R-3 safety net, as in decide(): the outbox dispatches if the commit's own dispatch does not happen
  const timers: TimerRequest[] =
    input.workstream.distribution === 'push' && conversation.status === 'Open'
      ? [
          {
            kind: 'dispatch',
            org: input.org,
            conversationId: input.id,
            version: 1,
            at: addSeconds(input.now, DISPATCH_RETRY_SECONDS),
          },
        ]
      : [];
  timers.push(...relaxTimer(undefined, conversation, input.workstream, input.now));
  const event = createdEvent(input, at);
  return {
    rule: input.leftBeforeStart ? 'T-2' : 'R-1',
    conversation,
    event,
    writes: [
      { type: 'conversation', item: conversation, expect: 'absent' },
      { type: 'event', event },
      {
        type: 'thread',
        org: input.org,
        channelId: input.channel.id,
        threadId: input.threadId,
        conversationId: input.id,
        previous: input.previousConversationId,
      },
      ...timers.map((timer): Write => ({ type: 'timer', timer })),
    ],
    timers,
    notifications: [],
  };
}
