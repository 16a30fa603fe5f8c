import { canTake, wrapUpEffect } from './capacity.js';
import { CapacityExceededError, ForbiddenActionError, NotImplementedError, TransitionConflictError, ValidationError } from './errors.js';
import { modeOf, type Actor, type Agent, type Channel, type Conversation, type HistoryEvent, type Workstream } from './model.js';
import { TRANSITIONS, targetAgentOf, type Action, type TransitionRule } from './transitions.js';
import { addSeconds, DISPATCH_RETRY_SECONDS } from './timers.js';
import type { Decision, TimerRequest, Write } from './writes.js';

export interface DecideInput {
  conversation: Conversation;
  actor: Actor;
  action: Action;
  /** the conversation's workstream as configured now (R-5: config applies to the next decision) */
  workstream: Workstream;
  /** the acting agent, needed when the rule reserves capacity for them or checks membership */
  agent?: Agent;
  /** the receiving agent of an offer or a voice transfer (T-12) */
  targetAgent?: Agent;
  now: Date;
}

const offerMatches = (rule: TransitionRule, c: Conversation): boolean =>
  rule.offer === undefined || (rule.offer === 'pending' ? c.accepted === false : c.accepted !== false);

const partyMatches = (rule: TransitionRule, c: Conversation): boolean => rule.party === undefined || rule.party === (c.primaryKind ?? 'agent');

const isPrimary = (c: Conversation, actor: Actor): boolean =>
  c.primaryKind !== 'external' && c.primaryAgentId !== undefined && c.primaryAgentId === actor.id;

/** Finds the one rule that allows this action, or throws the refusal T-13 / T-11 ask for. */
export function findRule(c: Conversation, actor: Actor, action: Action, agent?: Agent): TransitionRule {
  if (c.status === 'Closed') {
    throw new TransitionConflictError('Closed', `T-11: a Closed conversation cannot be changed (${action.type} refused)`);
  }
  if (action.type === 'transfer' && action.target.kind === 'agent' && c.channelKind !== 'voice' && c.status === 'Active' && actor.role === 'agent') {
    if (!isPrimary(c, actor)) throw new ForbiddenActionError('X-1: only the primary agent may transfer this conversation', c.status);
    throw new NotImplementedError('transfer to an agent on messaging channels (X-3 offer) is not available yet');
  }
  const shaped = TRANSITIONS.filter(
    (r) =>
      r.action === action.type &&
      r.from === c.status &&
      r.modes.includes(c.mode) &&
      (r.kinds === undefined || r.kinds.includes(c.channelKind)) &&
      (r.target === undefined || (action.type === 'transfer' && action.target.kind === r.target)) &&
      offerMatches(r, c) &&
      partyMatches(r, c),
  );
  if (shaped.length === 0) {
    const offer = c.status === 'Active' && c.accepted === false ? ' (offer not accepted yet)' : '';
    throw new TransitionConflictError(c.status, `T-13: ${action.type} is not allowed on a ${c.status}${offer} ${c.channelKind} conversation`);
  }
  const rule = shaped.find((r) => r.role === actor.role);
  if (!rule) {
    throw new ForbiddenActionError(`T-13: a ${actor.role} may not ${action.type} this conversation`, c.status);
  }
  if (rule.who === 'primary' && !isPrimary(c, actor)) {
    throw new ForbiddenActionError(`T-13: only the primary agent may ${action.type} this conversation`, c.status);
  }
  if (rule.who === 'queue-member' && !(agent?.queues.includes(c.queueId) ?? false)) {
    throw new ForbiddenActionError(`R-4: agent ${actor.id} is not a member of queue ${c.queueId}`, c.status);
  }
  return rule;
}


/**
 * The decision function: (conversation, actor, action, config, now) -> the writes of one transaction.
 * Pure: no I/O, no clock. Every refusal is a typed error naming the current status.
 */
export function decide(input: DecideInput): Decision {
  const { conversation: c, actor, action, workstream: ws, now } = input;
  const rule = findRule(c, actor, action, input.agent);
  const at = now.toISOString();
  const version = c.version + 1;
  const next: Conversation = {
    ...c,
    status: rule.to,
    statusReason: rule.reason,
    statusSince: rule.to === c.status ? c.statusSince : at,
    updatedAt: at,
    version,
  };
  const capacityWrites: Write[] = [];
  const timers: TimerRequest[] = [];
  const details: Record<string, string | number | boolean> = {};

  if (action.type === 'transfer' && action.target.kind === 'queue') {
    if (action.target.queueId === c.queueId) {
      throw new ValidationError('T-4c: a transfer must name another queue', [{ field: 'queueId', message: 'is the current queue' }]);
    }
    next.queueId = action.target.queueId;
    details.toQueue = action.target.queueId;
  }

  const release = (): void => {
    const held = next.allocation;
    if (!held) return;
    capacityWrites.push(
      { type: 'allocation-delete', org: c.org, agentId: held.agentId, conversationId: c.id },
      { type: 'pool-release', org: c.org, agentId: held.agentId, pool: held.pool, units: held.units },
    );
    details.released = `${held.agentId}/${held.pool}/${held.units}`;
    delete next.allocation;
    delete next.wrapUpReleaseAt;
  };
  const allocate = (agent: Agent | undefined): void => {
    if (!agent) throw new ValidationError('an agent is required to reserve capacity');
    const { pool, units } = ws.capacity;
    if (!canTake(agent, pool, units)) throw new CapacityExceededError(c.status, agent.id, pool, units);
    capacityWrites.push(
      { type: 'pool-consume', org: c.org, agentId: agent.id, pool, units },
      { type: 'allocation-put', org: c.org, agentId: agent.id, conversationId: c.id, pool, units, since: at },
    );
    next.allocation = { agentId: agent.id, pool, units, since: at };
    details.allocated = `${agent.id}/${pool}/${units}`;
  };

  switch (rule.capacity) {
    case 'allocate':
      allocate(input.agent);
      break;
    case 'release':
      if (rule.action === 'wrapup-release' && !c.allocation) {
        throw new TransitionConflictError(c.status, 'C-6: the wrap-up capacity was already released');
      }
      if (rule.action === 'wrapup-release' && c.wrapUpReleaseAt && Date.parse(c.wrapUpReleaseAt) > now.getTime()) {
        throw new TransitionConflictError(c.status, `C-3: the wrap-up capacity block lasts until ${c.wrapUpReleaseAt}`);
      }
      release();
      break;
    case 'wrap-up-policy': {
      const effect = wrapUpEffect(ws.wrapUp.blockCapacity);
      details.wrapUpPolicy = String(ws.wrapUp.blockCapacity);
      if (effect.release) release();
      else if (effect.releaseAfterMinutes !== undefined && next.allocation) {
        next.wrapUpReleaseAt = addSeconds(now, effect.releaseAfterMinutes * 60);
        timers.push({ kind: 'wrapup-release', org: c.org, conversationId: c.id, version, at: next.wrapUpReleaseAt });
      }
      break;
    }
    case 'move-to-target': {
      const target = targetAgentOf(action);
      if (!target || input.targetAgent?.id !== target) throw new ValidationError('a target agent is required', [{ field: 'agentId', message: 'is required' }]);
      if (target === c.primaryAgentId) {
        throw new ValidationError(`${rule.id}: the conversation must go to another agent`, [{ field: 'agentId', message: 'is the current primary' }]);
      }
      release();
      allocate(input.targetAgent);
      break;
    }
    case 'keep':
      break;
  }

  switch (rule.primary) {
    case 'actor':
      next.primaryAgentId = actor.id;
      next.primaryKind = 'agent';
      next.accepted = true;
      break;
    case 'clear':
      delete next.primaryAgentId;
      delete next.primaryKind;
      delete next.accepted;
      break;
    case 'target-agent':
    case 'offered-agent':
      next.primaryAgentId = targetAgentOf(action) as string;
      next.primaryKind = 'agent';
      next.accepted = rule.primary === 'target-agent';
      break;
    case 'external':
      if (action.type === 'transfer' && action.target.kind === 'external') {
        next.primaryAgentId = action.target.number;
        next.primaryKind = 'external';
        next.accepted = true;
      }
      break;
    case 'keep':
      if (rule.action === 'accept') next.accepted = true;
      break;
  }

  if (rule.action === 'reject' || rule.action === 'offer-expired') {
    // the next offer goes to someone else first; the list is bounded
    const who = c.primaryAgentId as string;
    next.declinedBy = [...(c.declinedBy ?? []).filter((a) => a !== who), who].slice(-20);
  }
  if (ws.distribution === 'push' && rule.to === 'Open' && c.status !== 'Open') {
    // R-3 safety net: if the immediate dispatch after the commit does not happen, the sweeper does it
    timers.push({ kind: 'dispatch', org: c.org, conversationId: c.id, version, at: addSeconds(now, DISPATCH_RETRY_SECONDS) });
  }
  if (ws.distribution === 'push' && next.allocation === undefined && c.allocation) {
    timers.push({ kind: 'dispatch', org: c.org, agentId: c.allocation.agentId, version, at: addSeconds(now, DISPATCH_RETRY_SECONDS) });
  }
  if (rule.action === 'offer') {
    timers.push({ kind: 'offer-expiry', org: c.org, conversationId: c.id, version, at: addSeconds(now, ws.offerTimeoutSeconds ?? 60) });
  }
  if (rule.to === 'Waiting') {
    timers.push({ kind: 'inactivity-timeout', org: c.org, conversationId: c.id, version, at: addSeconds(now, ws.waitingInactivityTimeoutSeconds) });
  }

  const event: HistoryEvent = {
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
    ...(Object.keys(details).length ? { details } : {}),
  };
  return {
    rule: rule.id,
    conversation: next,
    event,
    writes: [
      { type: 'conversation', item: next, expect: { version: c.version, status: c.status } },
      { type: 'event', event },
      ...capacityWrites,
      ...timers.map((timer): Write => ({ type: 'timer', timer })),
    ],
    timers,
  };
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
  reason: string;
  now: Date;
}

/** A new conversation enters Open in its routed queue, with its session and ticket (M-1). */
export function openConversation(input: OpenInput): Decision {
  const at = input.now.toISOString();
  const conversation: Conversation = {
    org: input.org,
    id: input.id,
    channelId: input.channel.id,
    channelKind: input.channel.kind,
    mode: modeOf(input.channel.kind),
    threadId: input.threadId,
    status: 'Open',
    statusReason: input.reason,
    queueId: input.queueId,
    workstreamId: input.workstream.id,
    ...(input.customerId ? { customerId: input.customerId } : {}),
    consultants: [],
    session: { status: 'active' },
    ticket: { id: input.ticketId, channel: modeOf(input.channel.kind) === 'persistent' ? 'messaging' : input.channel.kind, status: 'open' },
    statusSince: at,
    createdAt: at,
    updatedAt: at,
    version: 1,
  };
  const timers: TimerRequest[] =
    input.workstream.distribution === 'push' ? [{ kind: 'dispatch', org: input.org, conversationId: input.id, version: 1, at: addSeconds(input.now, DISPATCH_RETRY_SECONDS) }] : [];
  const event: HistoryEvent = {
    org: input.org,
    conversationId: input.id,
    seq: 1,
    at,
    actor: input.actor.id,
    role: input.actor.role,
    action: 'created',
    from: null,
    to: 'Open',
    reason: input.reason,
    version: 1,
    details: { queueId: input.queueId },
  };
  return {
    rule: 'R-1',
    conversation,
    event,
    writes: [
      { type: 'conversation', item: conversation, expect: 'absent' },
      { type: 'event', event },
      { type: 'thread', org: input.org, channelId: input.channel.id, threadId: input.threadId, conversationId: input.id, previous: input.previousConversationId },
      ...timers.map((timer): Write => ({ type: 'timer', timer })),
    ],
    timers,
  };
}
