/**
 * Pure domain types for the conversation lifecycle (SPEC L, C, P). No AWS imports here.
 */

export const STATUSES = ['Open', 'Active', 'WrapUp', 'Waiting', 'Closed'] as const;
/** L-1: the five statuses. */
export type Status = (typeof STATUSES)[number];
export type State = 'open' | 'closed';

/** L-1: state is `closed` for Closed only. */
export const stateOf = (status: Status): State => (status === 'Closed' ? 'closed' : 'open');

export const MODES = ['live', 'persistent', 'record'] as const;
export type Mode = (typeof MODES)[number];

/** Channel kinds and the mode each belongs to (SPEC Terms). */
export const CHANNEL_MODES = {
  chat: 'live',
  voice: 'live',
  sms: 'persistent',
  whatsapp: 'persistent',
  facebook: 'persistent',
  teams: 'persistent',
  wechat: 'persistent',
  line: 'persistent',
  messaging: 'persistent',
  record: 'record',
} as const satisfies Record<string, Mode>;
export type ChannelKind = keyof typeof CHANNEL_MODES;
export const CHANNEL_KINDS = Object.keys(CHANNEL_MODES) as ChannelKind[];
export const modeOf = (kind: ChannelKind): Mode => CHANNEL_MODES[kind];

export const PRESENCES = ['Available', 'Busy', 'BusyDND', 'Away', 'Offline'] as const;
/** P-1 */
export type Presence = (typeof PRESENCES)[number];

/** C-3: hold capacity until Closed, release on entering WrapUp, or release after N minutes (1..60). */
export type WrapUpBlockPolicy = 'always' | 'never' | number;

export const DEFAULT_POOL = 'default';

export interface RoutingRule {
  /** equals, in a list, or exists */
  when: { field: string; equals: string } | { field: string; in: string[] } | { field: string; exists: boolean };
  queueId: string;
  /** the priority a conversation this rule routes gets (1..10, 10 the most urgent) */
  priority?: number;
  /** K-2: the skills (each at or above its level) an agent needs to be offered it; absent: any agent */
  requires?: Skills;
  /** wait first for the primary agent of the customer's (or thread's) previous conversation */
  preferredAgent?: 'last';
}

/** K-1: skill name -> proficiency level 1..5 (an agent's skills, or what a requirement asks of them). */
export type Skills = Record<string, number>;

/** K-3: after `afterSeconds` waited in the queue, `requires` replaces the conversation's requirement. */
export interface RelaxationStep {
  afterSeconds: number;
  requires: Skills;
}

/** K-2, K-3: a conversation's current requirement and the step it came from (0: the routing rule's). */
export interface Requirements {
  skills: Skills;
  step: number;
}

/** how push routing picks among eligible agents. */
export const ASSIGNMENT_METHODS = ['most-capacity', 'round-robin', 'least-active'] as const;
export type AssignmentMethod = (typeof ASSIGNMENT_METHODS)[number];
export const DEFAULT_ASSIGNMENT: AssignmentMethod = 'most-capacity';

export interface Workstream {
  org: string;
  id: string;
  name: string;
  mode: Mode;
  /** C-1: the pool a conversation of this workstream uses and its cost in units. */
  capacity: { pool: string; units: number };
  allowedPresences: Presence[];
  wrapUp: { blockCapacity: WrapUpBlockPolicy };
  waitingInactivityTimeoutSeconds: number;
  agentReconnectTimeoutSeconds: number;
  /** how long a push offer waits for the agent's acceptance (default 60 s) */
  offerTimeoutSeconds?: number;
  /** every that many seconds waited in the queue add 1 to a conversation's effective priority */
  priorityAgingSeconds?: number;
  /** absent means most-capacity */
  assignment?: AssignmentMethod;
  /** K-3: steps in increasing `afterSeconds` */
  skillRelaxation?: RelaxationStep[];
  /** how long a conversation waits for its preferred agent (absent: DEFAULT_PREFERRED_AGENT_TIMEOUT_SECONDS) */
  preferredAgentTimeoutSeconds?: number;
  /** MS-3: a customer message unanswered this long sends the conversation back to its queue (absent: never) */
  agentResponseTimeoutSeconds?: number;
  routingRules: RoutingRule[];
  defaultQueueId: string;
  distribution: 'push' | 'pick';
}

/**
 * How a channel's webhooks are signed: `body` covers the raw body only (RL-5); `timestamped` covers
 * timestamp, channel id and raw body, so a captured request cannot be replayed later or elsewhere (RL-9).
 */
export const SIGNATURE_SCHEMES = ['body', 'timestamped'] as const;
export type SignatureScheme = (typeof SIGNATURE_SCHEMES)[number];

export interface Channel {
  org: string;
  id: string;
  kind: ChannelKind;
  workstreamId: string;
  /** RL-9; absent on channels stored before it, which sign the body only */
  signature?: SignatureScheme;
}

/** the agent a conversation waits for, and until when. */
export interface Preference {
  agentId: string;
  until: string;
  /** `last`: the primary agent of the customer's or thread's previous conversation; `context`: named by the channel */
  source: 'last' | 'context';
}

export const DEFAULT_PREFERRED_AGENT_TIMEOUT_SECONDS = 30;

/** an agent's routing profile entry for one of her queues. */
export interface Membership {
  /** 1 first: she is offered work from her first-priority queue that has eligible work */
  priority: number;
  /** she is offered only conversations that have waited at least this long in the queue */
  delaySeconds: number;
}

/** One capacity pool of an agent (C-1). `used` is the sum of live allocations (RL-3). */
export interface Pool {
  name: string;
  max: number;
  used: number;
}

export interface Agent {
  org: string;
  id: string;
  name: string;
  queues: string[];
  /** the routing profile entries that differ from the default (priority 1, no delay), by queue id */
  memberships?: Record<string, Membership>;
  bot: boolean;
  /** K-1 */
  skills?: Skills;
  pools: Record<string, Pool>;
  /** P-3: a presence the agent set by hand; cleared on sign-out */
  presenceOverride?: Presence;
  signedIn?: boolean;
  /** P-4 / T-4a: the agent's client connection */
  connected?: boolean;
  disconnectedAt?: string;
  /** bumped by every connection change; timers armed at a disconnect carry it (TM-5) */
  connectionEpoch?: number;
  /** R-3 ties: when the agent last got work (or signed in); the longest idle wins a tie */
  idleSince?: string;
  /** A-1 round-robin: when the agent was last offered a conversation by push routing (absent: never) */
  lastAssignedAt?: string;
  /** bumped by every presence-affecting change (override, sign-in/out, connection): offers check it */
  stateVersion?: number;
  /** MX-2: the presence last shown, and since when (kept by the availability follow-up) */
  presenceShown?: Presence;
  presenceSince?: string;
}

/** Org settings gating supervisor features (S-1) and agent end-session (M-2). */
export interface OrgSettings {
  org: string;
  supervisorMonitor: boolean;
  supervisorAssign: boolean;
  supervisorTransfer: boolean;
  forceClose: boolean;
  agentEndMessagingSession: boolean;
  /** P-5 */
  defaultPresence?: Presence;
  /** the region national phone numbers are read in (ISO 3166 alpha-2), default US */
  defaultPhoneRegion?: string;
}

export const DEFAULT_SETTINGS: Omit<OrgSettings, 'org'> = {
  supervisorMonitor: false,
  supervisorAssign: false,
  supervisorTransfer: false,
  forceClose: false,
  agentEndMessagingSession: false,
};

/** a contact or an account the engine can identify customers against. */
export interface Contact {
  org: string;
  id: string;
  kind: 'contact' | 'account';
  name: string;
  phone?: string;
  email?: string;
  attributes: Record<string, string>;
}

/** The capacity a conversation currently holds: mirrors exactly one allocation item (C-6). */
export interface Allocation {
  agentId: string;
  pool: string;
  units: number;
  since: string;
}

export interface Conversation {
  org: string;
  id: string;
  channelId: string;
  channelKind: ChannelKind;
  mode: Mode;
  threadId: string;
  status: Status;
  statusReason?: string;
  queueId: string;
  workstreamId: string;
  customerId?: string;
  primaryAgentId?: string;
  /** `external` when a voice call was transferred to an outside number (T-12). */
  primaryKind?: 'agent' | 'external';
  /** false while a push assignment waits for the agent's acceptance. */
  accepted?: boolean;
  consultants: string[];
  /** RL-7: agents who are or were primary or consultant (older conversations may lack it) */
  participants?: string[];
  session: { status: 'active' | 'ended'; endReason?: string };
  ticket: { id: string; channel: string; status: string };
  /** agents who rejected or let an offer of this conversation expire, most recent last */
  declinedBy?: string[];
  /** S-2: supervisors monitoring, and supervisors who joined as participants */
  monitoredBy?: string[];
  supervisors?: string[];
  /** X-3 / S-4: a transfer to an agent waiting for the receiver's accept or reject */
  pendingTransfer?: { to: string; by: string; byRole: 'agent' | 'supervisor'; from: string; at: string };
  /** S-4: escalated to voice or video, which supervisor transfer refuses */
  escalatedTo?: 'voice' | 'video';
  allocation?: Allocation;
  /** C-3: when a minutes wrap-up policy releases the held capacity. */
  wrapUpReleaseAt?: string;
  /** 1..10, 10 the most urgent; absent means DEFAULT_PRIORITY (conversations from before it existed) */
  priority?: number;
  /** while Open, when it entered its current queue (a queue move resets it; nothing else does) */
  enqueuedAt?: string;
  /** while Open, its workstream's `priorityAgingSeconds` as of its last change */
  priorityAgingSeconds?: number;
  /** K-2, K-3: what an agent needs to be offered it (absent: any agent of the queue); a queue move clears it */
  requirements?: Requirements;
  /** O-1: the wait-time overflow rules (indexes) that acted during this wait in the queue (a new wait clears it) */
  overflowed?: number[];
  /** O-2: the queues overflow moved it out of, for its whole life: overflow never moves it back into one */
  overflowedFrom?: string[];
  /** offered only to this agent, when eligible, until `until` (then to anyone); a queue move clears it */
  preference?: Preference;
  statusSince: string;
  createdAt: string;
  updatedAt: string;
  version: number;
}

export type ActorRole = 'agent' | 'supervisor' | 'admin' | 'customer' | 'system';

/** E-2: a participant-facing notification, published to the outbound queue (schema in README). */
export interface Notification {
  id: string;
  org: string;
  conversationId: string;
  type:
    | 'supervisor.joined'
    | 'conversation.force-closed'
    | 'transfer.requested'
    | 'transfer.accepted'
    | 'transfer.rejected'
    | 'survey.requested'
    | 'agent.not-responding';
  recipients: { kind: 'agent' | 'supervisor' | 'customer'; id: string }[];
  at: string;
  /** the conversation version whose change produced it */
  version: number;
  data: Record<string, string>;
}

export interface Actor {
  role: ActorRole;
  id: string;
}

/** E-1: one history event per change, written in the same transaction as the change. */
export interface HistoryEvent {
  org: string;
  conversationId: string;
  seq: number;
  at: string;
  actor: string;
  role: ActorRole;
  action: string;
  from: Status | null;
  to: Status;
  reason?: string;
  version: number;
  details?: Record<string, string | number | boolean>;
}

/** the priority of a conversation no rule or supervisor gave one. */
export const DEFAULT_PRIORITY = 5;
export const MIN_PRIORITY = 1;
export const MAX_PRIORITY = 10;
export const priorityOf = (c: Pick<Conversation, 'priority'>): number => c.priority ?? DEFAULT_PRIORITY;

/**
 * Q-2 without aging: one priority level is worth this many seconds of waiting, more than any wait
 * lasts (about 3 years), so priority decides and the wait breaks ties. It is also the largest
 * `priorityAgingSeconds` a workstream may set.
 */
export const NO_AGING_SECONDS = 100_000_000;

/** when a conversation entered its queue (older items lack `enqueuedAt`: then when it became Open) */
export const enqueuedAtOf = (c: Pick<Conversation, 'enqueuedAt' | 'statusSince'>): string =>
  c.enqueuedAt ?? c.statusSince;

/**
 * the effective priority now: the priority plus one for every `priorityAgingSeconds` waited
 * (no cap). The order uses the exact value `p + wait / A` (see `queueOrder`); this is its whole part.
 */
export const effectivePriority = (
  c: Pick<Conversation, 'priority' | 'enqueuedAt' | 'statusSince' | 'priorityAgingSeconds'>,
  now: Date,
): number => {
  const aging = c.priorityAgingSeconds;
  const waited = Math.max(0, now.getTime() - Date.parse(enqueuedAtOf(c)));
  return priorityOf(c) + (aging ? Math.floor(waited / (aging * 1000)) : 0);
};

/** keeps every `queueOrder` value positive and 14 digits long (ms; years 1990..2286) */
const ORDER_OFFSET_MS = 10_000_000_000_000;

/**
 * the serving order as one static key, smallest first. Effective priority at time t is
 * `p + (t - enqueuedAt) / A`, which is `(t - (enqueuedAt - p * A)) / A`: for one A, the higher it is,
 * the smaller `enqueuedAt - p * A`, at every t. So that value (in ms, offset to stay positive and
 * zero-padded to sort as text) orders a queue exactly, and never needs re-sorting as time passes.
 * A queue whose conversations come from workstreams with different aging settings is ordered by
 * the same key; it is then exact only among conversations that share a setting.
 */
export const queueOrder = (
  c: Pick<Conversation, 'priority' | 'enqueuedAt' | 'statusSince' | 'priorityAgingSeconds'>,
): string => {
  const aMs = (c.priorityAgingSeconds ?? NO_AGING_SECONDS) * 1000;
  const value = ORDER_OFFSET_MS + Date.parse(enqueuedAtOf(c)) - priorityOf(c) * aMs;
  return String(value).padStart(14, '0');
};
