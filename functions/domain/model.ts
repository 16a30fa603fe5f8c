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
}

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
  bot: boolean;
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
  /** bumped by every presence-affecting change (override, sign-in/out, connection): offers check it */
  stateVersion?: number;
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
    | 'survey.requested';
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
