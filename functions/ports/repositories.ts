import type { Hours } from '../domain/hours.js';
import type { Message, MessageLog } from '../domain/messages.js';
import type { Counter, LevelCounter, MinuteCounts, QueueDelta } from '../domain/metrics.js';
import type {
  Agent,
  AssignmentMethod,
  Channel,
  Contact,
  Conversation,
  HistoryEvent,
  OrgSettings,
  Presence,
  Workstream,
} from '../domain/model.js';
import type { MessageTemplate } from '../domain/templates.js';
import type { Trigger } from '../domain/triggers.js';
import type { TimerRequest, Write } from '../domain/writes.js';
import type {
  ActionReadRequest,
  ActionReadResult,
  AgentConfig,
  AgentStatePatch,
  AllocationRecord,
  EventReadRequest,
  EventReadResult,
  QueueConfig,
  StoredReceipt,
  Versioned,
} from './storage-types.js';
import type { ChannelRegistration, ConversationFilter, Note, Page, PageRequest } from './read-types.js';
import type { DueTimer } from './due-timer.js';

/**
 * The engine's storage, one port per aggregate or read model. Each names only what its callers
 * need; the DynamoDB adapter implements each in its own module (adapters/dynamodb/repositories).
 */

/** Conversations with their history (E-1) and the channel thread pointer. */
export interface Conversations {
  getConversation(org: string, id: string): Promise<Conversation | undefined>;
  listEvents(org: string, conversationId: string): Promise<HistoryEvent[]>;
  getThreadConversationId(org: string, channelId: string, threadId: string): Promise<string | undefined>;
}

/** What a decision is made on, in one round trip (read, decide, commit). */
export interface DecisionReads {
  /** an action's conversation, agents with the pools needed, Idempotency-Key receipt, uncached settings */
  readActionState(org: string, req: ActionReadRequest): Promise<ActionReadResult>;
  /** a channel event's receipt (RL-1), thread pointer and early end (T-2), uncached channel and settings */
  readEventState(org: string, req: EventReadRequest): Promise<EventReadResult>;
}

/** One state change = one transaction. */
export interface Commits {
  /**
   * Commits all writes in ONE transaction, or none (throws CommitConflict). `token`: DynamoDB's
   * ClientRequestToken, for a transaction no condition of its own makes idempotent (MS-2 replies): the
   * SDK's resend of one that committed succeeds instead of being decided again.
   */
  commit(writes: readonly Write[], options?: { token?: string }): Promise<void>;
}

/** Agents with their capacity pools, queue memberships and allocations (C-6). */
export interface Agents {
  /** the agent with its pools, read consistently */
  getAgent(org: string, id: string): Promise<Agent | undefined>;
  /**
   * Creates or replaces the agent's configuration (name, queues, bot, pool maxima). Pool maxima change
   * without touching `used` (RL-3); presence and connection state are left as they are.
   */
  putAgent(agent: AgentConfig): Promise<void>;
  /** presence / connection fields of an existing agent */
  updateAgentState(org: string, id: string, patch: AgentStatePatch): Promise<void>;
  listAllocations(org: string, agentId: string): Promise<AllocationRecord[]>;
  /** the org's agent ids: for org-wide refreshes only, never per decision */
  listAgentIds(org: string): Promise<string[]>;
  /** MX-2: a page of the org's agent ids, or of a queue's members, by agent id */
  listAgentIdsPage(org: string, queueId: string | undefined, page: PageRequest): Promise<Page<string>>;
  /** MX-2: records the presence shown since `at`, unless it is the one recorded already */
  recordPresence(org: string, agentId: string, presence: Presence, at: string): Promise<void>;
}

/** What admins configure: workstreams, queues, channels, settings, triggers, message templates (R-5: versioned). */
export interface Configuration {
  getWorkstream(org: string, id: string): Promise<Workstream | undefined>;
  getWorkstreamVersioned(org: string, id: string): Promise<Versioned<Workstream> | undefined>;
  /** the workstream, and the requirements its rules route added to the queues' registries (K-2) */
  putWorkstream(ws: Workstream): Promise<void>;
  /** K-2: the requirement keys each queue's conversations may carry (never shrinks) */
  getQueueRequirements(org: string, queueIds: readonly string[]): Promise<Map<string, string[]>>;
  /** the distinct delays of the queue's members, ascending (never shrinks) */
  getQueueDelays(org: string, queueId: string): Promise<number[]>;
  getQueue(org: string, id: string): Promise<QueueConfig | undefined>;
  putQueue(q: QueueConfig): Promise<void>;
  /** H-1 */
  getHours(org: string, id: string): Promise<Hours | undefined>;
  putHours(h: Hours): Promise<void>;
  getChannel(org: string, id: string): Promise<Channel | undefined>;
  /** the channel and its global webhook registration (secret); 409 if another org owns the id */
  putChannel(ch: Channel, secret: string): Promise<void>;
  getChannelRegistration(channelId: string): Promise<ChannelRegistration | undefined>;
  getSettings(org: string): Promise<OrgSettings>;
  getSettingsVersioned(org: string): Promise<Versioned<OrgSettings>>;
  putSettings(settings: OrgSettings): Promise<void>;
  /** M-3 */
  listTriggers(org: string): Promise<Trigger[]>;
  /** M-3: the org's triggers with the version of the list */
  listTriggersVersioned(org: string): Promise<Versioned<Trigger[]>>;
  putTrigger(t: Trigger): Promise<void>;
  /** MS-4: the org's message templates, in TEMPLATE_EVENTS order */
  listMessageTemplates(org: string): Promise<MessageTemplate[]>;
  /** MS-4: the org's message templates with the version of the list (config cache entity `templates`) */
  listMessageTemplatesVersioned(org: string): Promise<Versioned<MessageTemplate[]>>;
  /** MS-4: creates or replaces the template of its event, and a new version of the org's list */
  putMessageTemplate(t: MessageTemplate): Promise<void>;
}

/** One agent's availability entries, as computed by the refresh use case. */
export interface AgentAvailability {
  org: string;
  agentId: string;
  idleSince: string;
  /** A-1 round-robin: when she was last assigned (a time before every real one if never) */
  lastAssignedAt: string;
  /** A-1 least-active: the conversations holding her capacity */
  active: number;
  /**
   * queue x pool x requirement (K-4: `any`, and each requirement of the queue she meets) -> units
   * free; an entry with 0 free (or an unroutable agent) is written unlisted. Entries of hers not in
   * the list are deleted.
   */
  /** `requirement`: the requirement's key in the lane of her delay in the queue (Q-3 `laneKey`) */
  entries: { queueId: string; pool: string; requirement: string; free: number; listed: boolean }[];
}

/** The availability index: candidates for push offers, best first. */
export interface AvailabilityIndex {
  /**
   * routable agents of a queue with room in `pool`, best first by the assignment method;
   * `after` is the previous page's `next`. Most-capacity lists only agents with `units` free; the
   * other orders may list agents with less, which the caller skips.
   */
  availableAgents(
    org: string,
    queueId: string,
    pool: string,
    units: number,
    limit: number,
    after?: string,
    method?: AssignmentMethod,
    /** K-4: the conversation's requirement key (`any` when none), in a Q-3 delay lane (`laneKey`) */
    requirement?: string,
  ): Promise<{ agents: { agentId: string; free: number }[]; next?: string }>;
  /** writes the agent's entries (the refresh use case decides what they are) */
  writeEntries(availability: AgentAvailability): Promise<void>;
}

/** The timer outbox: items written with the change that armed them. */
export interface Outbox {
  /** timers due at or before `until`, oldest first, across every org */
  listDueTimers(until: Date, limit: number): Promise<DueTimer[]>;
  /** the outbox item as it stands (undefined once it ran and was deleted) */
  getTimer(org: string, name: string): Promise<DueTimer | undefined>;
  /** removes an outbox item once it has been run */
  deleteTimer(org: string, name: string): Promise<void>;
  /**
   * arms a timer that no state change carries (a dispatch due when a member's delay passes):
   * written alone, once (an item of the same name stays as it is)
   */
  armTimer(timer: TimerRequest): Promise<void>;
}

/** Lists served by indexes (never a scan). */
export interface Lists {
  listConversations(org: string, filter: ConversationFilter, page: PageRequest): Promise<Page<Conversation>>;
  /** Open conversations of a queue, oldest first */
  listOpenItems(org: string, queueId: string, page: PageRequest): Promise<Page<Conversation>>;
  /** K-4: the Open items of a queue that carry one of `requirements` (keys), merged in Q-2 order */
  listOpenItemsFor(
    org: string,
    queueId: string,
    requirements: readonly string[],
    page: PageRequest,
  ): Promise<Page<Conversation>>;
  /** the agent's Active, WrapUp and Waiting conversations */
  listWorkItems(org: string, agentId: string): Promise<Conversation[]>;
  listQueueMembers(org: string, queueId: string): Promise<string[]>;
  /** MX-3: Open conversations before `c` in its queue's Q-2 order, counted up to `limit` (complete: all of them) */
  countAhead(org: string, c: Conversation, limit: number): Promise<{ ahead: number; complete: boolean }>;
  /** MX-1: when the queue's longest-waiting Open conversation entered it (undefined: none waits) */
  oldestWaiting(org: string, queueId: string): Promise<string | undefined>;
  /** the primary agent of the customer's (identified) or else the thread's most recent earlier conversation that had one */
  lastPrimaryAgent(
    org: string,
    of: { customerId?: string | undefined; channelId: string; threadId: string },
  ): Promise<string | undefined>;
}

/** Contacts and accounts with their identification lookups. */
export interface Contacts {
  putContact(contact: Contact, lookups: { phone?: string; email?: string }): Promise<void>;
  getContact(org: string, id: string): Promise<Contact | undefined>;
  findContacts(
    org: string,
    field: 'phone' | 'email',
    value: string,
  ): Promise<{ id: string; kind: 'contact' | 'account' }[]>;
}

/** Internal notes (E-3). */
export interface Notes {
  addNote(note: Note): Promise<void>;
  listNotes(org: string, conversationId: string): Promise<Note[]>;
}

/** MS-1: a page of the transcript; `after` is where the next page starts (absent: the last page). */
export interface MessagePage {
  items: Message[];
  after?: number;
}

/** MS-1: the transcript, beside its conversation. */
export interface Messages {
  /** oldest first, from the message after `after` (0: the first) */
  listMessages(org: string, conversationId: string, page: { limit: number; after: number }): Promise<MessagePage>;
  /** the conversation with its transcript's log, in one round trip */
  readWithLog(org: string, conversationId: string): Promise<{ conversation?: Conversation; log: MessageLog }>;
}

/** Receipts of applied events and Idempotency-Keys (RL-1), written inside the transactions. */
export interface Receipts {
  getReceipt(org: string, key: string): Promise<StoredReceipt | undefined>;
  hasReceipt(org: string, key: string): Promise<boolean>;
}

/** Every repository of the engine, by the name use cases reach it under (`deps.agents`, ...). */
/** MX-1: a queue's counters summed over its shards, and its last-hour minute buckets summed */
export interface QueueStatsRead {
  counts: Record<Counter | LevelCounter, number>;
  lastHour: MinuteCounts;
}

/**
 * MX-3: where a conversation's wait stood when it entered its queue, from the counters its follow-up
 * read: `ahead` Open at its priority already, `left` waits ended at that priority so far.
 */
export interface QueueEntry {
  conversationId: string;
  /** the conversation's version whose change started the wait */
  version: number;
  queueId: string;
  priority: number;
  enqueuedAt: string;
  ahead: number;
  left: number;
}

/** MX-1: queue counters moved by the follow-ups of committed changes, once per change */
export interface QueueStats {
  /** the deltas of one change (`marker` names it), in the shard of `subject`; false when counted already */
  apply(
    org: string,
    marker: string,
    subject: string,
    deltas: readonly QueueDelta[],
    nowSeconds: number,
  ): Promise<boolean>;
  read(org: string, queueId: string, fromMinute: string): Promise<QueueStatsRead>;
  /** the counters alone (one BatchGet) */
  counts(org: string, queueId: string): Promise<Record<Counter | LevelCounter, number>>;
  /** whether the change `marker` names is counted */
  wasCounted(org: string, marker: string): Promise<boolean>;
  recordEntry(org: string, entry: QueueEntry, nowSeconds: number): Promise<void>;
  entryOf(org: string, conversationId: string): Promise<QueueEntry | undefined>;
}

export interface Repositories {
  conversations: Conversations;
  decisions: DecisionReads;
  commits: Commits;
  agents: Agents;
  configuration: Configuration;
  availability: AvailabilityIndex;
  outbox: Outbox;
  lists: Lists;
  contacts: Contacts;
  notes: Notes;
  messages: Messages;
  receipts: Receipts;
  queueStats: QueueStats;
}
