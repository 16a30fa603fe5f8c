import type { ActorRole, ChannelKind, Mode, Status } from './model.js';
import type { OverflowAction, OverflowThen } from './overflow.js';

/**
 * The transition table (SPEC T-1..T-12, C-3) as data. `decide()` only interprets it; adding a rule
 * is adding a row. Anything without a row is refused (T-13), and Closed has no outgoing rows (T-11).
 */

export type ActionType =
  | 'offer'
  | 'accept'
  | 'reject'
  | 'offer-expired'
  | 'end'
  | 'close'
  | 'release'
  | 'transfer'
  | 'resolve'
  | 'resume'
  | 'customer-ended'
  | 'customer-disconnected'
  | 'customer-message'
  | 'reconnect-timeout'
  | 'inactivity-timeout'
  | 'wrapup-release'
  | 'monitor'
  | 'join'
  | 'assign'
  | 'consult'
  | 'force-close'
  | 'end-session'
  | 'reassign'
  | 'prioritize'
  | 'relax'
  | 'overflow'
  | 'agent-not-responding';

export type TransferTarget =
  { kind: 'queue'; queueId: string } | { kind: 'agent'; agentId: string } | { kind: 'external'; number: string };

export type Action =
  | { type: Exclude<ActionType, 'transfer' | 'offer' | 'assign' | 'consult' | 'reassign' | 'prioritize' | 'overflow'> }
  /** O-1: the queue's overflow rule `rule` (its index) matched `when` and does `then` */
  | { type: 'overflow'; rule: number; when: string; then: OverflowThen }
  /** a supervisor sets the priority of an Open conversation */
  | { type: 'prioritize'; priority: number }
  | { type: 'transfer'; target: TransferTarget }
  /** push routing reserves the agent's capacity and waits for their acceptance */
  | { type: 'offer'; agentId: string }
  /** S-3: `override` passes over presence and capacity, reporting the units over */
  | {
      type: 'assign';
      target: { kind: 'agent'; agentId: string } | { kind: 'queue'; queueId: string };
      override?: boolean;
    }
  | { type: 'consult'; agentId: string }
  /** M-3: a trigger sends the ticket to a queue */
  | { type: 'reassign'; queueId: string };

/** The agent an action hands the conversation to (offer, transfer, assign) or adds (consult), if any. */
export const targetAgentOf = (action: Action): string | undefined => {
  switch (action.type) {
    case 'offer':
    case 'consult':
      return action.agentId;
    case 'transfer':
    case 'assign':
      return action.target.kind === 'agent' ? action.target.agentId : undefined;
    default:
      return undefined;
  }
};

/** The queue an action moves the conversation to, if any. */
export const targetQueueOf = (action: Action): string | undefined => {
  if (action.type === 'reassign') return action.queueId;
  if (action.type === 'overflow' && 'transferToQueue' in action.then) return action.then.transferToQueue;
  if ((action.type === 'transfer' || action.type === 'assign') && action.target.kind === 'queue')
    return action.target.queueId;
  return undefined;
};

/** What happens to the capacity the conversation holds (C-2, C-3, C-4). */
export type CapacityEffect =
  /** reserve units in the acting agent's pool (C-2) */
  | 'allocate'
  /** release the held allocation, if any, exactly once (C-4, C-6) */
  | 'release'
  | 'keep'
  /** entering WrapUp: the workstream's block policy decides (C-3) */
  | 'wrap-up-policy'
  /** release what is held (if anything) and reserve for the receiving agent (R-3 offer, T-12, S-3) */
  | 'move-to-target'
  /** X-3 / S-4: the receiver accepts: release the original agent's units, reserve the receiver's */
  | 'move-to-actor';

/** Changes beyond status, primary and capacity. */
export type Effect =
  | 'monitor'
  | 'join'
  | 'move-queue'
  | 'request-transfer'
  | 'complete-transfer'
  | 'decline-transfer'
  | 'consult'
  | 'force-close'
  | 'end-session'
  | 'set-priority'
  | 'relax'
  | 'overflow'
  | 'not-responding';

/** Who becomes the primary agent. */
export type PrimaryEffect = 'actor' | 'keep' | 'clear' | 'target-agent' | 'offered-agent' | 'external';

export interface TransitionRule {
  id: string;
  action: ActionType;
  role: ActorRole;
  from: Status;
  to: Status;
  modes: readonly Mode[];
  /** narrows `modes` to some channel kinds */
  kinds?: readonly ChannelKind[];
  /** the acting agent must be the primary, a member of the queue, the receiver of the pending transfer, or (supervisors) not the primary */
  who?: 'primary' | 'queue-member' | 'transfer-receiver' | 'not-primary';
  /** whether a transfer to an agent is pending (X-3, S-4); undefined matches both */
  pending?: boolean;
  effect?: Effect;
  /** on Active: whether the push offer was accepted; undefined matches both */
  offer?: 'accepted' | 'pending';
  /** who the primary is: an agent, or an external party after a voice transfer (T-12); undefined matches both */
  party?: 'agent' | 'external';
  target?: TransferTarget['kind'];
  /** O-1: which overflow action the rule is for */
  overflow?: OverflowAction;
  capacity: CapacityEffect;
  primary: PrimaryEffect;
  reason: string;
}

const ALL: readonly Mode[] = ['live', 'persistent', 'record'];
const LIVE: readonly Mode[] = ['live'];
const PERSISTENT: readonly Mode[] = ['persistent'];
const NOT_RECORD: readonly Mode[] = ['live', 'persistent'];
const OPEN_STATUSES = ['Open', 'Active', 'WrapUp', 'Waiting'] as const;
/** every kind but voice, whose transfers are T-12 */
const NOT_VOICE: readonly ChannelKind[] = [
  'chat',
  'sms',
  'whatsapp',
  'facebook',
  'teams',
  'wechat',
  'line',
  'messaging',
  'record',
];

export const TRANSITIONS: readonly TransitionRule[] = [
  // T-1: pick from the open items of one's queues, or accept a push assignment.
  {
    id: 'T-1',
    action: 'accept',
    role: 'agent',
    from: 'Open',
    to: 'Active',
    modes: ALL,
    who: 'queue-member',
    capacity: 'allocate',
    primary: 'actor',
    reason: 'picked by agent',
  },
  {
    id: 'T-1',
    action: 'accept',
    role: 'agent',
    from: 'Active',
    to: 'Active',
    modes: ALL,
    who: 'primary',
    offer: 'pending',
    capacity: 'keep',
    primary: 'keep',
    reason: 'assignment accepted by agent',
  },
  // a push assignment is an offer: Active for the agent, capacity reserved, `accepted: false`.
  {
    id: 'R-3',
    action: 'offer',
    role: 'system',
    from: 'Open',
    to: 'Active',
    modes: ALL,
    capacity: 'move-to-target',
    primary: 'offered-agent',
    reason: 'assigned by routing',
  },
  {
    id: 'R-3',
    action: 'reject',
    role: 'agent',
    from: 'Active',
    to: 'Open',
    modes: ALL,
    who: 'primary',
    offer: 'pending',
    capacity: 'release',
    primary: 'clear',
    reason: 'assignment rejected by agent',
  },
  {
    id: 'R-3',
    action: 'offer-expired',
    role: 'system',
    from: 'Active',
    to: 'Open',
    modes: ALL,
    offer: 'pending',
    capacity: 'release',
    primary: 'clear',
    reason: 'assignment not accepted in time',
  },
  // T-2: the customer leaves before assignment.
  {
    id: 'T-2',
    action: 'customer-ended',
    role: 'customer',
    from: 'Open',
    to: 'Closed',
    modes: LIVE,
    capacity: 'keep',
    primary: 'keep',
    reason: 'customer ended before assignment',
  },
  {
    id: 'T-2',
    action: 'customer-disconnected',
    role: 'customer',
    from: 'Open',
    to: 'Closed',
    modes: LIVE,
    capacity: 'keep',
    primary: 'keep',
    reason: 'customer disconnected before assignment',
  },
  // T-3a/b/c: into WrapUp.
  {
    id: 'T-3a',
    action: 'end',
    role: 'agent',
    from: 'Active',
    to: 'WrapUp',
    modes: ALL,
    who: 'primary',
    offer: 'accepted',
    capacity: 'wrap-up-policy',
    primary: 'keep',
    reason: 'ended by agent',
  },
  {
    id: 'T-3b',
    action: 'customer-ended',
    role: 'customer',
    from: 'Active',
    to: 'WrapUp',
    modes: LIVE,
    offer: 'accepted',
    party: 'agent',
    capacity: 'wrap-up-policy',
    primary: 'keep',
    reason: 'ended by customer',
  },
  {
    id: 'T-3c',
    action: 'customer-disconnected',
    role: 'customer',
    from: 'Active',
    to: 'WrapUp',
    modes: LIVE,
    offer: 'accepted',
    party: 'agent',
    capacity: 'wrap-up-policy',
    primary: 'keep',
    reason: 'customer disconnected',
  },
  // T-4a..d: back to Open, capacity released at once (C-4).
  {
    id: 'T-4a',
    action: 'reconnect-timeout',
    role: 'system',
    from: 'Active',
    to: 'Open',
    modes: ALL,
    capacity: 'release',
    primary: 'clear',
    reason: 'agent did not reconnect in time',
  },
  // MS-3: a customer message waited the workstream's agentResponseTimeoutSeconds without a reply
  {
    id: 'MS-3',
    action: 'agent-not-responding',
    role: 'system',
    from: 'Active',
    to: 'Open',
    modes: ALL,
    offer: 'accepted',
    effect: 'not-responding',
    capacity: 'release',
    primary: 'clear',
    reason: 'agent-not-responding',
  },
  {
    id: 'T-4b',
    action: 'release',
    role: 'agent',
    from: 'Active',
    to: 'Open',
    modes: ALL,
    who: 'primary',
    capacity: 'release',
    primary: 'clear',
    reason: 'released to queue by agent',
  },
  {
    id: 'T-4c',
    action: 'transfer',
    role: 'agent',
    from: 'Active',
    to: 'Open',
    modes: ALL,
    who: 'primary',
    offer: 'accepted',
    target: 'queue',
    capacity: 'release',
    primary: 'clear',
    reason: 'transferred to queue',
  },
  {
    id: 'T-4d',
    action: 'close',
    role: 'agent',
    from: 'Active',
    to: 'Open',
    modes: LIVE,
    kinds: ['chat'],
    who: 'primary',
    offer: 'accepted',
    capacity: 'release',
    primary: 'clear',
    reason: 'session closed by agent without end',
  },
  // T-5: X on a persistent conversation parks it without capacity.
  {
    id: 'T-5',
    action: 'close',
    role: 'agent',
    from: 'Active',
    to: 'Waiting',
    modes: PERSISTENT,
    who: 'primary',
    offer: 'accepted',
    capacity: 'release',
    primary: 'keep',
    reason: 'session closed by agent without end',
  },
  // T-6a/b: straight to Closed.
  {
    id: 'T-6a',
    action: 'resolve',
    role: 'agent',
    from: 'Active',
    to: 'Closed',
    modes: ['record'],
    who: 'primary',
    offer: 'accepted',
    capacity: 'release',
    primary: 'keep',
    reason: 'record resolved',
  },
  {
    id: 'T-6b',
    action: 'customer-ended',
    role: 'customer',
    from: 'Active',
    to: 'Closed',
    modes: LIVE,
    offer: 'pending',
    capacity: 'release',
    primary: 'clear',
    reason: 'customer ended before the agent accepted',
  },
  {
    id: 'T-6b',
    action: 'customer-disconnected',
    role: 'customer',
    from: 'Active',
    to: 'Closed',
    modes: LIVE,
    offer: 'pending',
    capacity: 'release',
    primary: 'clear',
    reason: 'customer disconnected before the agent accepted',
  },
  // T-7: End or X in WrapUp closes; capacity still held (C-3 always / minutes not yet due) goes now.
  {
    id: 'T-7',
    action: 'end',
    role: 'agent',
    from: 'WrapUp',
    to: 'Closed',
    modes: ALL,
    who: 'primary',
    capacity: 'release',
    primary: 'keep',
    reason: 'wrap-up completed',
  },
  {
    id: 'T-7',
    action: 'close',
    role: 'agent',
    from: 'WrapUp',
    to: 'Closed',
    modes: ALL,
    who: 'primary',
    capacity: 'release',
    primary: 'keep',
    reason: 'wrap-up completed',
  },
  // T-8..T-10: the Waiting lifecycle of persistent channels.
  {
    id: 'T-8',
    action: 'inactivity-timeout',
    role: 'system',
    from: 'Waiting',
    to: 'Closed',
    modes: PERSISTENT,
    capacity: 'keep',
    primary: 'keep',
    reason: 'inactivity timeout',
  },
  {
    id: 'T-9',
    action: 'resume',
    role: 'agent',
    from: 'Waiting',
    to: 'Active',
    modes: PERSISTENT,
    who: 'primary',
    capacity: 'allocate',
    primary: 'actor',
    reason: 'resumed by agent',
  },
  {
    id: 'T-10',
    action: 'customer-message',
    role: 'customer',
    from: 'Waiting',
    to: 'Open',
    modes: PERSISTENT,
    capacity: 'keep',
    primary: 'clear',
    reason: 'customer wrote again',
  },
  // T-12: voice transfers keep the call Active (agent, external) or send it Open (queue, as T-4c above).
  {
    id: 'T-12',
    action: 'transfer',
    role: 'agent',
    from: 'Active',
    to: 'Active',
    modes: LIVE,
    kinds: ['voice'],
    who: 'primary',
    offer: 'accepted',
    target: 'agent',
    capacity: 'move-to-target',
    primary: 'target-agent',
    reason: 'voice call transferred to agent',
  },
  {
    id: 'T-12',
    action: 'transfer',
    role: 'agent',
    from: 'Active',
    to: 'Active',
    modes: LIVE,
    kinds: ['voice'],
    who: 'primary',
    offer: 'accepted',
    target: 'external',
    capacity: 'release',
    primary: 'external',
    reason: 'voice call transferred to external number',
  },
  // T-12: after a transfer to an external number no agent is left to wrap up: the call ends Closed.
  {
    id: 'T-12',
    action: 'customer-ended',
    role: 'customer',
    from: 'Active',
    to: 'Closed',
    modes: LIVE,
    kinds: ['voice'],
    offer: 'accepted',
    party: 'external',
    capacity: 'keep',
    primary: 'keep',
    reason: 'call with external party ended',
  },
  {
    id: 'T-12',
    action: 'customer-disconnected',
    role: 'customer',
    from: 'Active',
    to: 'Closed',
    modes: LIVE,
    kinds: ['voice'],
    offer: 'accepted',
    party: 'external',
    capacity: 'keep',
    primary: 'keep',
    reason: 'call with external party disconnected',
  },
  // X-1..X-3: transfer to an agent on non-voice channels is an offer the receiver accepts or rejects.
  {
    id: 'X-3',
    action: 'transfer',
    role: 'agent',
    from: 'Active',
    to: 'Active',
    modes: ALL,
    kinds: NOT_VOICE,
    who: 'primary',
    offer: 'accepted',
    pending: false,
    target: 'agent',
    capacity: 'keep',
    primary: 'keep',
    effect: 'request-transfer',
    reason: 'transfer to agent requested',
  },
  {
    id: 'X-3',
    action: 'accept',
    role: 'agent',
    from: 'Active',
    to: 'Active',
    modes: ALL,
    who: 'transfer-receiver',
    offer: 'accepted',
    pending: true,
    capacity: 'move-to-actor',
    primary: 'actor',
    effect: 'complete-transfer',
    reason: 'transfer accepted',
  },
  {
    id: 'X-3',
    action: 'accept',
    role: 'agent',
    from: 'Waiting',
    to: 'Waiting',
    modes: PERSISTENT,
    who: 'transfer-receiver',
    pending: true,
    capacity: 'keep',
    primary: 'actor',
    effect: 'complete-transfer',
    reason: 'transfer accepted',
  },
  {
    id: 'X-3',
    action: 'reject',
    role: 'agent',
    from: 'Active',
    to: 'Active',
    modes: ALL,
    who: 'transfer-receiver',
    offer: 'accepted',
    pending: true,
    capacity: 'keep',
    primary: 'keep',
    effect: 'decline-transfer',
    reason: 'transfer rejected',
  },
  {
    id: 'X-3',
    action: 'reject',
    role: 'agent',
    from: 'Waiting',
    to: 'Waiting',
    modes: PERSISTENT,
    who: 'transfer-receiver',
    pending: true,
    capacity: 'keep',
    primary: 'keep',
    effect: 'decline-transfer',
    reason: 'transfer rejected',
  },
  // consult adds an agent of the queue as consultant; the primary stays.
  {
    id: 'X-2',
    action: 'consult',
    role: 'agent',
    from: 'Active',
    to: 'Active',
    modes: ALL,
    who: 'primary',
    offer: 'accepted',
    capacity: 'keep',
    primary: 'keep',
    effect: 'consult',
    reason: 'consultant added',
  },
  // S-2: monitor or join Active / WrapUp conversations of any channel but records.
  ...(['Active', 'WrapUp'] as const).flatMap((st) => [
    {
      id: 'S-2',
      action: 'monitor',
      role: 'supervisor',
      from: st,
      to: st,
      modes: NOT_RECORD,
      who: 'not-primary',
      capacity: 'keep',
      primary: 'keep',
      effect: 'monitor',
      reason: 'monitored by supervisor',
    } as const,
    {
      id: 'S-2',
      action: 'join',
      role: 'supervisor',
      from: st,
      to: st,
      modes: NOT_RECORD,
      who: 'not-primary',
      capacity: 'keep',
      primary: 'keep',
      effect: 'join',
      reason: 'supervisor joined',
    } as const,
  ]),
  // S-3: assign an Open conversation to an agent, or to another queue.
  {
    id: 'S-3',
    action: 'assign',
    role: 'supervisor',
    from: 'Open',
    to: 'Active',
    modes: ALL,
    target: 'agent',
    capacity: 'move-to-target',
    primary: 'target-agent',
    reason: 'assigned by supervisor',
  },
  {
    id: 'S-3',
    action: 'assign',
    role: 'supervisor',
    from: 'Open',
    to: 'Open',
    modes: ALL,
    target: 'queue',
    capacity: 'keep',
    primary: 'keep',
    effect: 'move-queue',
    reason: 'assigned to queue by supervisor',
  },
  // a supervisor changes the priority of a conversation waiting in its queue.
  {
    id: 'Q-1',
    action: 'prioritize',
    role: 'supervisor',
    from: 'Open',
    to: 'Open',
    modes: ALL,
    capacity: 'keep',
    primary: 'keep',
    effect: 'set-priority',
    reason: 'priority set by supervisor',
  },
  // K-3: a relaxation step replaces the requirement of a conversation waiting in its queue (a timer).
  {
    id: 'K-3',
    action: 'relax',
    role: 'system',
    from: 'Open',
    to: 'Open',
    modes: ALL,
    capacity: 'keep',
    primary: 'keep',
    effect: 'relax',
    reason: 'skill requirement relaxed',
  },
  // S-4: supervisor transfer of messaging conversations, completed by the receiver's accept or reject.
  {
    id: 'S-4',
    action: 'transfer',
    role: 'supervisor',
    from: 'Active',
    to: 'Active',
    modes: PERSISTENT,
    offer: 'accepted',
    pending: false,
    target: 'agent',
    capacity: 'keep',
    primary: 'keep',
    effect: 'request-transfer',
    reason: 'supervisor transfer requested',
  },
  {
    id: 'S-4',
    action: 'transfer',
    role: 'supervisor',
    from: 'Waiting',
    to: 'Waiting',
    modes: PERSISTENT,
    pending: false,
    target: 'agent',
    capacity: 'keep',
    primary: 'keep',
    effect: 'request-transfer',
    reason: 'supervisor transfer requested',
  },
  // S-5: force close any open conversation; capacity released, every participant notified.
  ...OPEN_STATUSES.map(
    (st) =>
      ({
        id: 'S-5',
        action: 'force-close',
        role: 'supervisor',
        from: st,
        to: 'Closed',
        modes: st === 'Waiting' ? PERSISTENT : ALL,
        capacity: 'release',
        primary: 'keep',
        effect: 'force-close',
        reason: 'ended by supervisor',
      }) as const,
  ),
  // M-2: the agent ends the messaging session: the ticket goes on as an email ticket, messaging capacity is released.
  {
    id: 'M-2',
    action: 'end-session',
    role: 'agent',
    from: 'Active',
    to: 'Active',
    modes: PERSISTENT,
    who: 'primary',
    offer: 'accepted',
    pending: false,
    capacity: 'release',
    primary: 'keep',
    effect: 'end-session',
    reason: 'session ended by agent',
  },
  {
    id: 'M-2',
    action: 'end-session',
    role: 'agent',
    from: 'Waiting',
    to: 'Waiting',
    modes: PERSISTENT,
    who: 'primary',
    pending: false,
    capacity: 'release',
    primary: 'keep',
    effect: 'end-session',
    reason: 'session ended by agent',
  },
  // M-3: a trigger reassigns the ticket to a queue.
  ...(['Active', 'Waiting', 'WrapUp'] as const).map(
    (st) =>
      ({
        id: 'M-3',
        action: 'reassign',
        role: 'system',
        from: st,
        to: 'Open',
        modes: st === 'Waiting' ? PERSISTENT : ALL,
        capacity: 'release',
        primary: 'clear',
        effect: 'move-queue',
        reason: 'reassigned by trigger',
      }) as const,
  ),
  // O-1: a queue's overflow rule acts on a conversation waiting in it (on entry, or after a wait).
  ...(
    [
      ['transferToQueue', 'Open'],
      ['setPriority', 'Open'],
      ['close', 'Closed'],
    ] as const
  ).map(
    ([overflow, to]) =>
      ({
        id: 'O-1',
        action: 'overflow',
        role: 'system',
        from: 'Open',
        to,
        modes: ALL,
        overflow,
        capacity: 'keep',
        primary: 'keep',
        effect: 'overflow',
        reason: 'overflow',
      }) as const,
  ),
  // C-3: the N-minute wrap-up block ends (fired by a timer, TM-1).
  {
    id: 'C-3',
    action: 'wrapup-release',
    role: 'system',
    from: 'WrapUp',
    to: 'WrapUp',
    modes: ALL,
    capacity: 'release',
    primary: 'keep',
    reason: 'wrap-up capacity block elapsed',
  },
];
