import type { Agent, Channel, Contact, Conversation, HistoryEvent, OrgSettings, Workstream } from '../domain/model.js';
import type { Trigger } from '../domain/triggers.js';
import type { Write } from '../domain/writes.js';
import type { DueTimer } from './timer-store.js';

export interface AllocationRecord {
  org: string;
  agentId: string;
  conversationId: string;
  pool: string;
  units: number;
  since: string;
}

export type AgentConfig = Pick<Agent, 'org' | 'id' | 'name' | 'queues' | 'bot'> & { capacity: Record<string, number> };

/** `null` removes the attribute. */
export type AgentStatePatch = {
  [K in 'presenceOverride' | 'signedIn' | 'connected' | 'disconnectedAt' | 'idleSince']?: Agent[K] | null;
};

/** A configuration item with the configVersion it was read at ('' when the item or its version is absent). */
export interface Versioned<T> {
  value: T;
  version: string;
}

export interface ActionReadRequest {
  conversationId: string;
  /** agents to read, each with the pools the decision may need */
  agents: { id: string; pools: readonly string[] }[];
  receiptKey?: string;
  settings?: boolean;
}

export interface ActionReadResult {
  conversation?: Conversation;
  /** by id; each agent's `pools` holds only the pools asked for that exist */
  agents: Record<string, Agent | undefined>;
  receipt?: StoredReceipt;
  settings?: Versioned<OrgSettings>;
}

export interface EventReadRequest {
  channelId: string;
  receiptKey: string;
  threadId: string;
  /** read the channel (not cached) */
  channel?: boolean;
  /** read the org settings (not cached) */
  settings?: boolean;
}

export interface EventReadResult {
  /** RL-1: this event's receipt exists: it was applied before */
  duplicate: boolean;
  threadConversationId?: string;
  channel?: Versioned<Channel>;
  settings?: Versioned<OrgSettings>;
}

export interface StoredReceipt {
  key: string;
  fingerprint?: string;
  result?: Record<string, unknown>;
}

export interface QueueConfig {
  org: string;
  id: string;
  name: string;
}

/** Why one write of a cancelled transaction failed. `current` is the item as it was (ALL_OLD). */
export interface WriteFailure {
  write: Write;
  code: string;
  current?: Record<string, unknown>;
}

/** The transaction was cancelled: a condition failed or a concurrent transaction conflicted. */
export class CommitConflict extends Error {
  constructor(
    readonly failures: WriteFailure[],
    options?: { cause?: unknown },
  ) {
    super(
      `transaction cancelled: ${failures.map((f) => `${f.write.type}=${f.code}`).join(', ') || 'no reason given'}`,
      options,
    );
    this.name = 'CommitConflict';
  }
}

export interface ConversationStore {
  getConversation(org: string, id: string): Promise<Conversation | undefined>;
  getWorkstream(org: string, id: string): Promise<Workstream | undefined>;
  getChannel(org: string, id: string): Promise<Channel | undefined>;
  getQueue(org: string, id: string): Promise<QueueConfig | undefined>;
  /** the agent with its pools, read consistently */
  getAgent(org: string, id: string): Promise<Agent | undefined>;
  getThreadConversationId(org: string, channelId: string, threadId: string): Promise<string | undefined>;
  listEvents(org: string, conversationId: string): Promise<HistoryEvent[]>;
  /** the agent's Active, WrapUp and Waiting conversations */
  listWorkItems(org: string, agentId: string): Promise<Conversation[]>;
  /** R-3: rewrite the agent's availability entries after a capacity or presence change */
  refreshAvailability(org: string, agentId: string, now: Date, known?: Agent): Promise<void>;
  /** R-3: routable agents of a queue with `units` free in `pool`, best first; `after` is the previous page's opaque `next` */
  availableAgents(
    org: string,
    queueId: string,
    pool: string,
    units: number,
    limit: number,
    after?: string,
  ): Promise<{ agents: { agentId: string; free: number }[]; next?: string }>;
  /** Open conversations of a queue, oldest first */
  listOpenItems(
    org: string,
    queueId: string,
    page: { limit: number; cursor?: string },
  ): Promise<{ items: Conversation[]; nextCursor?: string }>;
  getSettings(org: string): Promise<OrgSettings>;
  getContact(org: string, id: string): Promise<Contact | undefined>;
  /** R-6 */
  findContacts(
    org: string,
    field: 'phone' | 'email',
    value: string,
  ): Promise<{ id: string; kind: 'contact' | 'account' }[]>;
  /** removes an outbox item once it has been run */
  deleteTimer(org: string, name: string): Promise<void>;
  /** the outbox item as it stands (undefined once it ran and was deleted) */
  getTimer(org: string, name: string): Promise<DueTimer | undefined>;
  /** M-3 */
  listTriggers(org: string): Promise<Trigger[]>;
  /** RL-1: whether an inbound event's receipt exists */
  hasReceipt(org: string, key: string): Promise<boolean>;
  /** an Idempotency-Key receipt: the request's fingerprint and its first result */
  getReceipt(org: string, key: string): Promise<StoredReceipt | undefined>;
  /** one round trip for an action's decision (BatchGetItem) */
  readActionState(org: string, req: ActionReadRequest): Promise<ActionReadResult>;
  /** one round trip for a channel event's decision (BatchGetItem) */
  readEventState(org: string, req: EventReadRequest): Promise<EventReadResult>;
  getWorkstreamVersioned(org: string, id: string): Promise<Versioned<Workstream> | undefined>;
  getSettingsVersioned(org: string): Promise<Versioned<OrgSettings>>;
  /** M-3: the org's triggers with the version of the list */
  listTriggersVersioned(org: string): Promise<Versioned<Trigger[]>>;
  listAllocations(org: string, agentId: string): Promise<AllocationRecord[]>;
  /** Commits all writes in ONE transaction, or none (throws CommitConflict). */
  commit(writes: readonly Write[]): Promise<void>;

  putWorkstream(ws: Workstream): Promise<void>;
  putQueue(q: QueueConfig): Promise<void>;
  /** the channel and its global webhook registration (secret); 409 if another org owns the id */
  putChannel(ch: Channel, secret: string): Promise<void>;
  /**
   * Creates or replaces the agent's configuration (name, queues, bot, pool maxima). Pool maxima change
   * without touching `used` (RL-3); presence and connection state are left as they are.
   */
  putAgent(agent: AgentConfig): Promise<void>;
  /** presence / connection fields of an existing agent */
  updateAgentState(org: string, id: string, patch: AgentStatePatch): Promise<void>;
}
