import type { ActorRole, ChannelKind, Mode, Status } from './model.js';

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
  | 'wrapup-release';

export type TransferTarget =
  | { kind: 'queue'; queueId: string }
  | { kind: 'agent'; agentId: string }
  | { kind: 'external'; number: string };

export type Action =
  | { type: Exclude<ActionType, 'transfer' | 'offer'> }
  | { type: 'transfer'; target: TransferTarget }
  /** push routing reserves the agent's capacity and waits for their acceptance */
  | { type: 'offer'; agentId: string };

/** The agent an action hands the conversation to (offer, transfer to agent), if any. */
export const targetAgentOf = (action: Action): string | undefined =>
  action.type === 'offer' ? action.agentId : action.type === 'transfer' && action.target.kind === 'agent' ? action.target.agentId : undefined;

/** What happens to the capacity the conversation holds (C-2, C-3, C-4). */
export type CapacityEffect =
  /** reserve units in the acting agent's pool (C-2) */
  | 'allocate'
  /** release the held allocation, if any, exactly once (C-4, C-6) */
  | 'release'
  | 'keep'
  /** entering WrapUp: the workstream's block policy decides (C-3) */
  | 'wrap-up-policy'
  /** release what is held (if anything) and reserve for the receiving agent (R-3 offer, T-12) */
  | 'move-to-target';

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
  /** the acting agent must be the primary, or a member of the conversation's queue */
  who?: 'primary' | 'queue-member';
  /** on Active: whether the push offer was accepted; undefined matches both */
  offer?: 'accepted' | 'pending';
  /** who the primary is: an agent, or an external party after a voice transfer (T-12); undefined matches both */
  party?: 'agent' | 'external';
  target?: TransferTarget['kind'];
  capacity: CapacityEffect;
  primary: PrimaryEffect;
  reason: string;
}

const ALL: readonly Mode[] = ['live', 'persistent', 'record'];
const LIVE: readonly Mode[] = ['live'];
const PERSISTENT: readonly Mode[] = ['persistent'];

export const TRANSITIONS: readonly TransitionRule[] = [
  // T-1: pick from the open items of one's queues, or accept a push assignment.
  { id: 'T-1', action: 'accept', role: 'agent', from: 'Open', to: 'Active', modes: ALL, who: 'queue-member', capacity: 'allocate', primary: 'actor', reason: 'picked by agent' },
  { id: 'T-1', action: 'accept', role: 'agent', from: 'Active', to: 'Active', modes: ALL, who: 'primary', offer: 'pending', capacity: 'keep', primary: 'keep', reason: 'assignment accepted by agent' },
  // a push assignment is an offer: Active for the agent, capacity reserved, `accepted: false`.
  { id: 'R-3', action: 'offer', role: 'system', from: 'Open', to: 'Active', modes: ALL, capacity: 'move-to-target', primary: 'offered-agent', reason: 'assigned by routing' },
  { id: 'R-3', action: 'reject', role: 'agent', from: 'Active', to: 'Open', modes: ALL, who: 'primary', offer: 'pending', capacity: 'release', primary: 'clear', reason: 'assignment rejected by agent' },
  { id: 'R-3', action: 'offer-expired', role: 'system', from: 'Active', to: 'Open', modes: ALL, offer: 'pending', capacity: 'release', primary: 'clear', reason: 'assignment not accepted in time' },
  // T-2: the customer leaves before assignment.
  { id: 'T-2', action: 'customer-ended', role: 'customer', from: 'Open', to: 'Closed', modes: LIVE, capacity: 'keep', primary: 'keep', reason: 'customer ended before assignment' },
  { id: 'T-2', action: 'customer-disconnected', role: 'customer', from: 'Open', to: 'Closed', modes: LIVE, capacity: 'keep', primary: 'keep', reason: 'customer disconnected before assignment' },
  // T-3a/b/c: into WrapUp.
  { id: 'T-3a', action: 'end', role: 'agent', from: 'Active', to: 'WrapUp', modes: ALL, who: 'primary', offer: 'accepted', capacity: 'wrap-up-policy', primary: 'keep', reason: 'ended by agent' },
  { id: 'T-3b', action: 'customer-ended', role: 'customer', from: 'Active', to: 'WrapUp', modes: LIVE, offer: 'accepted', party: 'agent', capacity: 'wrap-up-policy', primary: 'keep', reason: 'ended by customer' },
  { id: 'T-3c', action: 'customer-disconnected', role: 'customer', from: 'Active', to: 'WrapUp', modes: LIVE, offer: 'accepted', party: 'agent', capacity: 'wrap-up-policy', primary: 'keep', reason: 'customer disconnected' },
  // T-4a..d: back to Open, capacity released at once (C-4).
  { id: 'T-4a', action: 'reconnect-timeout', role: 'system', from: 'Active', to: 'Open', modes: ALL, capacity: 'release', primary: 'clear', reason: 'agent did not reconnect in time' },
  { id: 'T-4b', action: 'release', role: 'agent', from: 'Active', to: 'Open', modes: ALL, who: 'primary', capacity: 'release', primary: 'clear', reason: 'released to queue by agent' },
  { id: 'T-4c', action: 'transfer', role: 'agent', from: 'Active', to: 'Open', modes: ALL, who: 'primary', offer: 'accepted', target: 'queue', capacity: 'release', primary: 'clear', reason: 'transferred to queue' },
  { id: 'T-4d', action: 'close', role: 'agent', from: 'Active', to: 'Open', modes: LIVE, kinds: ['chat'], who: 'primary', offer: 'accepted', capacity: 'release', primary: 'clear', reason: 'session closed by agent without end' },
  // T-5: X on a persistent conversation parks it without capacity.
  { id: 'T-5', action: 'close', role: 'agent', from: 'Active', to: 'Waiting', modes: PERSISTENT, who: 'primary', offer: 'accepted', capacity: 'release', primary: 'keep', reason: 'session closed by agent without end' },
  // T-6a/b: straight to Closed.
  { id: 'T-6a', action: 'resolve', role: 'agent', from: 'Active', to: 'Closed', modes: ['record'], who: 'primary', offer: 'accepted', capacity: 'release', primary: 'keep', reason: 'record resolved' },
  { id: 'T-6b', action: 'customer-ended', role: 'customer', from: 'Active', to: 'Closed', modes: LIVE, offer: 'pending', capacity: 'release', primary: 'clear', reason: 'customer ended before the agent accepted' },
  { id: 'T-6b', action: 'customer-disconnected', role: 'customer', from: 'Active', to: 'Closed', modes: LIVE, offer: 'pending', capacity: 'release', primary: 'clear', reason: 'customer disconnected before the agent accepted' },
  // T-7: End or X in WrapUp closes; capacity still held (C-3 always / minutes not yet due) goes now.
  { id: 'T-7', action: 'end', role: 'agent', from: 'WrapUp', to: 'Closed', modes: ALL, who: 'primary', capacity: 'release', primary: 'keep', reason: 'wrap-up completed' },
  { id: 'T-7', action: 'close', role: 'agent', from: 'WrapUp', to: 'Closed', modes: ALL, who: 'primary', capacity: 'release', primary: 'keep', reason: 'wrap-up completed' },
  // T-8..T-10: the Waiting lifecycle of persistent channels.
  { id: 'T-8', action: 'inactivity-timeout', role: 'system', from: 'Waiting', to: 'Closed', modes: PERSISTENT, capacity: 'keep', primary: 'keep', reason: 'inactivity timeout' },
  { id: 'T-9', action: 'resume', role: 'agent', from: 'Waiting', to: 'Active', modes: PERSISTENT, who: 'primary', capacity: 'allocate', primary: 'actor', reason: 'resumed by agent' },
  { id: 'T-10', action: 'customer-message', role: 'customer', from: 'Waiting', to: 'Open', modes: PERSISTENT, capacity: 'keep', primary: 'clear', reason: 'customer wrote again' },
  // T-12: voice transfers keep the call Active (agent, external) or send it Open (queue, as T-4c above).
  { id: 'T-12', action: 'transfer', role: 'agent', from: 'Active', to: 'Active', modes: LIVE, kinds: ['voice'], who: 'primary', offer: 'accepted', target: 'agent', capacity: 'move-to-target', primary: 'target-agent', reason: 'voice call transferred to agent' },
  { id: 'T-12', action: 'transfer', role: 'agent', from: 'Active', to: 'Active', modes: LIVE, kinds: ['voice'], who: 'primary', offer: 'accepted', target: 'external', capacity: 'release', primary: 'external', reason: 'voice call transferred to external number' },
  // T-12: after a transfer to an external number no agent is left to wrap up: the call ends Closed.
  { id: 'T-12', action: 'customer-ended', role: 'customer', from: 'Active', to: 'Closed', modes: LIVE, kinds: ['voice'], offer: 'accepted', party: 'external', capacity: 'keep', primary: 'keep', reason: 'call with external party ended' },
  { id: 'T-12', action: 'customer-disconnected', role: 'customer', from: 'Active', to: 'Closed', modes: LIVE, kinds: ['voice'], offer: 'accepted', party: 'external', capacity: 'keep', primary: 'keep', reason: 'call with external party disconnected' },
  // C-3: the N-minute wrap-up block ends (fired by a timer, TM-1).
  { id: 'C-3', action: 'wrapup-release', role: 'system', from: 'WrapUp', to: 'WrapUp', modes: ALL, capacity: 'release', primary: 'keep', reason: 'wrap-up capacity block elapsed' },
];
