import { canTake, unitsOver, wrapUpEffect } from './capacity.js';
import { presenceOf } from './presence.js';
import { CapacityExceededError, ForbiddenActionError, TransitionConflictError, ValidationError } from './errors.js';
import {
  modeOf,
  type Actor,
  type Agent,
  type Channel,
  type Conversation,
  type HistoryEvent,
  type Notification,
  type OrgSettings,
  type Workstream,
} from './model.js';
import { TRANSITIONS, targetAgentOf, targetQueueOf, type Action, type TransitionRule } from './transitions.js';
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
  /** the receiving agent of an offer, a transfer (T-12, X-3, S-4), an assignment (S-3) or a consult */
  targetAgent?: Agent;
  /** org settings, for presence checks on the target agent (S-3, S-4, X-2) */
  settings?: Pick<OrgSettings, 'defaultPresence'>;
  now: Date;
}

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

  const toQueue = targetQueueOf(action);
  if (toQueue !== undefined) {
    if (toQueue === c.queueId)
      throw new ValidationError(`${rule.id}: the conversation must go to another queue`, [
        { field: 'queueId', message: 'is the current queue' },
      ]);
    next.queueId = toQueue;
    details.toQueue = toQueue;
  }
  const notifications: Notification[] = [];
  const notify = (
    type: Notification['type'],
    recipients: Notification['recipients'],
    data: Record<string, string> = {},
  ): void => {
    const unique = recipients.filter(
      (r, i) => r.id && recipients.findIndex((o) => o.kind === r.kind && o.id === r.id) === i,
    );
    if (unique.length)
      notifications.push({
        id: `${c.id}.v${version}.${type}`,
        org: c.org,
        conversationId: c.id,
        type,
        recipients: unique,
        at,
        version,
        data,
      });
  };
  const customerOf = { kind: 'customer' as const, id: c.customerId ?? `thread:${c.threadId}` };
  const primaryOf =
    c.primaryAgentId && c.primaryKind !== 'external' ? [{ kind: 'agent' as const, id: c.primaryAgentId }] : [];

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
  const override = action.type === 'assign' && action.override === true;
  let unitsOverCapacity: number | undefined;
  const allocate = (agent: Agent | undefined): void => {
    if (!agent) throw new ValidationError('an agent is required to reserve capacity');
    const { pool, units } = ws.capacity;
    if (override) {
      // S-3: the supervisor passes over capacity; the units over are reported and recorded
      unitsOverCapacity = unitsOver(agent, pool, units);
      details.unitsOverCapacity = unitsOverCapacity;
    } else if (!canTake(agent, pool, units)) throw new CapacityExceededError(c.status, agent.id, pool, units);
    capacityWrites.push(
      {
        type: 'pool-consume',
        org: c.org,
        agentId: agent.id,
        pool,
        units,
        ...(override ? { override: { expectUsed: agent.pools[pool]?.used ?? 0 } } : {}),
      },
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
      if (rule.action === 'wrapup-release' && !c.wrapUpReleaseAt) {
        throw new TransitionConflictError(
          c.status,
          'C-3: no minutes policy releases this capacity (always holds it until Closed)',
        );
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
    case 'move-to-actor':
      release();
      allocate(input.agent);
      break;
    case 'move-to-target': {
      const target = targetAgentOf(action);
      if (!target || input.targetAgent?.id !== target)
        throw new ValidationError('a target agent is required', [{ field: 'agentId', message: 'is required' }]);
      if (target === c.primaryAgentId) {
        throw new ValidationError(`${rule.id}: the conversation must go to another agent`, [
          { field: 'agentId', message: 'is the current primary' },
        ]);
      }
      if (rule.id === 'S-3' && !override) requireAllowedPresence(input, ws, rule.id);
      release();
      allocate(input.targetAgent);
      break;
    }
    case 'keep':
      break;
  }

  switch (rule.effect) {
    case 'monitor':
      next.monitoredBy = addOnce(c.monitoredBy, actor.id);
      break;
    case 'join':
      next.supervisors = addOnce(c.supervisors, actor.id);
      notify('supervisor.joined', [...primaryOf, customerOf], { supervisorId: actor.id });
      break;
    case 'request-transfer': {
      const to = targetAgentOf(action) as string;
      if (to === c.primaryAgentId)
        throw new ValidationError(`${rule.id}: the transfer must name another agent`, [
          { field: 'agentId', message: 'is the current primary' },
        ]);
      if (!input.targetAgent || input.targetAgent.id !== to)
        throw new ValidationError('a target agent is required', [{ field: 'agentId', message: 'is required' }]);
      if (actor.role === 'supervisor') {
        // S-4: messaging only, not escalated, to a human agent of the same queue with an allowed presence
        if (c.escalatedTo)
          throw new TransitionConflictError(
            c.status,
            `S-4: the conversation was escalated to ${c.escalatedTo}; supervisor transfer is for messaging only`,
          );
        if (input.targetAgent.bot)
          throw new ForbiddenActionError('S-4: the receiver must be an agent, not a bot', c.status);
        if (!input.targetAgent.queues.includes(c.queueId))
          throw new ForbiddenActionError(`S-4: the receiver must be a member of queue ${c.queueId}`, c.status);
        requireAllowedPresence(input, ws, rule.id);
      }
      next.pendingTransfer = {
        to,
        by: actor.id,
        byRole: actor.role === 'supervisor' ? 'supervisor' : 'agent',
        from: c.primaryAgentId as string,
        at,
      };
      details.transferTo = to;
      notify('transfer.requested', [{ kind: 'agent', id: to }], { from: c.primaryAgentId ?? '', by: actor.id });
      break;
    }
    case 'complete-transfer': {
      const p = c.pendingTransfer as NonNullable<Conversation['pendingTransfer']>;
      // S-4: the original agent stays on as a consultant; the receiver is primary now
      next.consultants =
        p.byRole === 'supervisor'
          ? addOnce(
              c.consultants.filter((x) => x !== actor.id),
              p.from,
            )
          : c.consultants.filter((x) => x !== actor.id);
      delete next.pendingTransfer;
      details.transferFrom = p.from;
      notify(
        'transfer.accepted',
        [
          { kind: 'agent', id: p.from },
          { kind: p.byRole, id: p.by },
        ],
        { to: actor.id },
      );
      break;
    }
    case 'decline-transfer': {
      const p = c.pendingTransfer as NonNullable<Conversation['pendingTransfer']>;
      delete next.pendingTransfer;
      notify(
        'transfer.rejected',
        [
          { kind: 'agent', id: p.from },
          { kind: p.byRole, id: p.by },
        ],
        { to: actor.id },
      );
      break;
    }
    case 'consult': {
      // an agent of the queue with an allowed presence and the capacity it would cost
      const t = input.targetAgent;
      if (!t || t.id === c.primaryAgentId)
        throw new ValidationError('X-2: consult another agent', [
          { field: 'agentId', message: 'is the primary or unknown' },
        ]);
      if (c.consultants.includes(t.id))
        throw new ValidationError('X-2: already a consultant', [
          { field: 'agentId', message: 'is already a consultant' },
        ]);
      if (t.bot || !t.queues.includes(c.queueId))
        throw new ForbiddenActionError(`X-2: the consultant must be an agent of queue ${c.queueId}`, c.status);
      requireAllowedPresence(input, ws, rule.id);
      if (!canTake(t, ws.capacity.pool, ws.capacity.units))
        throw new CapacityExceededError(c.status, t.id, ws.capacity.pool, ws.capacity.units);
      next.consultants = addOnce(c.consultants, t.id);
      details.consultant = t.id;
      break;
    }
    case 'force-close':
      // S-5: every participant, including the receiver of a transfer still pending, which ends here
      notify(
        'conversation.force-closed',
        [
          customerOf,
          ...primaryOf,
          ...c.consultants.map((id) => ({ kind: 'agent' as const, id })),
          ...(c.pendingTransfer ? [{ kind: 'agent' as const, id: c.pendingTransfer.to }] : []),
          ...(c.supervisors ?? []).map((id) => ({ kind: 'supervisor' as const, id })),
        ],
        { reason: 'ended by supervisor', supervisorId: actor.id },
      );
      delete next.pendingTransfer;
      break;
    case 'end-session':
      if (c.session.status === 'ended')
        throw new TransitionConflictError(c.status, 'M-2: the messaging session already ended');
      // M-2: the messaging channel is off for this conversation, the ticket goes on by email; M-5: no customer notice
      next.session = { status: 'ended', endReason: 'ended-by-agent' };
      next.ticket = { ...c.ticket, channel: 'email' };
      break;
    case 'move-queue':
    case undefined:
      break;
  }

  // X-3 / S-4: a pending transfer lives only while the conversation keeps its status and primary
  if (c.pendingTransfer && rule.effect !== 'request-transfer' && (rule.primary !== 'keep' || rule.to !== c.status))
    delete next.pendingTransfer;

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
  if (ws.distribution === 'push' && rule.to === 'Open' && (c.status !== 'Open' || next.queueId !== c.queueId)) {
    // R-3 safety net: if the immediate dispatch after the commit does not happen, the sweeper does it
    timers.push({
      kind: 'dispatch',
      org: c.org,
      conversationId: c.id,
      version,
      at: addSeconds(now, DISPATCH_RETRY_SECONDS),
    });
  }
  if (ws.distribution === 'push' && next.allocation === undefined && c.allocation) {
    timers.push({
      kind: 'dispatch',
      org: c.org,
      agentId: c.allocation.agentId,
      version,
      at: addSeconds(now, DISPATCH_RETRY_SECONDS),
    });
  }
  if (rule.action === 'offer') {
    timers.push({
      kind: 'offer-expiry',
      org: c.org,
      conversationId: c.id,
      agentId: next.primaryAgentId as string,
      version,
      at: addSeconds(now, ws.offerTimeoutSeconds ?? 60),
      subjectSince: next.statusSince,
    });
  }
  if (rule.to === 'Waiting') {
    timers.push({
      kind: 'inactivity-timeout',
      org: c.org,
      conversationId: c.id,
      version,
      at: addSeconds(now, ws.waitingInactivityTimeoutSeconds),
    });
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
  for (const n of notifications)
    timers.push({ kind: 'notify', org: c.org, conversationId: c.id, version, at, key: n.type, notification: n });
  const agentsAfter = [input.agent, input.targetAgent]
    .flatMap((a) => (a ? [applyPoolWrites(a, capacityWrites)] : []))
    .filter((a): a is Agent => a !== null);
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
    notifications,
    ...(unitsOverCapacity !== undefined ? { unitsOverCapacity } : {}),
    ...(agentsAfter.length ? { agentsAfter } : {}),
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

const addOnce = (list: readonly string[] | undefined, id: string): string[] => [
  ...(list ?? []).filter((x) => x !== id),
  id,
];

/** R-2 / S-3 / S-4 / X-2: the target agent's presence must be one the workstream allows. */
function requireAllowedPresence(input: DecideInput, ws: Workstream, rule: string): void {
  const t = input.targetAgent;
  if (!t) throw new ValidationError('a target agent is required', [{ field: 'agentId', message: 'is required' }]);
  const { presence } = presenceOf(t, input.settings ?? {}, input.now);
  if (!ws.allowedPresences.includes(presence)) {
    throw new ForbiddenActionError(
      `${rule}: agent ${t.id} is ${presence}, which workstream ${ws.id} does not allow`,
      input.conversation.status,
    );
  }
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
    ticket: {
      id: input.ticketId,
      channel: modeOf(input.channel.kind) === 'persistent' ? 'messaging' : input.channel.kind,
      status: 'open',
    },
    statusSince: at,
    createdAt: at,
    updatedAt: at,
    version: 1,
  };
  const timers: TimerRequest[] =
    input.workstream.distribution === 'push'
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
