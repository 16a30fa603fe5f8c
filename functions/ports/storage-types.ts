import type { MessageLog } from '../domain/messages.js';
/** Types the repositories share: reads of the request path, receipts, versioned configuration, commit conflicts. */
import type { OverflowRule } from '../domain/overflow.js';
import type { EarlyEnd } from '../domain/early-end.js';
import type { Agent, Channel, Conversation, OrgSettings } from '../domain/model.js';
import type { Write } from '../domain/writes.js';

export interface AllocationRecord {
  org: string;
  agentId: string;
  conversationId: string;
  pool: string;
  units: number;
  since: string;
}

export type AgentConfig = Pick<Agent, 'org' | 'id' | 'name' | 'queues' | 'memberships' | 'bot' | 'skills'> & {
  capacity: Record<string, number>;
};

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
  /** MS-1: the transcript's log too (its `seq` for the messages the change appends) */
  log?: boolean;
}

export interface ActionReadResult {
  conversation?: Conversation;
  /** by id; each agent's `pools` holds only the pools asked for that exist */
  agents: Record<string, Agent | undefined>;
  receipt?: StoredReceipt;
  settings?: Versioned<OrgSettings>;
  /** when asked: the transcript's log (EMPTY_LOG when it has no message yet) */
  log?: MessageLog;
}

export interface EventReadRequest {
  channelId: string;
  receiptKey: string;
  threadId: string;
  /** read the channel (not cached) */
  channel?: boolean;
  /** read the org settings (not cached) */
  settings?: boolean;
  /** read the thread's early end (T-2) */
  earlyEnd?: boolean;
}

export interface EventReadResult {
  /** RL-1: this event's receipt exists: it was applied before */
  duplicate: boolean;
  threadConversationId?: string;
  /** the thread's early end as stored, possibly past its `expiresAt` (TTL deletion lags) */
  earlyEnd?: EarlyEnd;
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
  /** H-1: absent, always open */
  hoursId?: string;
  /** MX-1: answered within this many seconds counts toward the service level (default 20) */
  serviceLevelSeconds?: number;
  /** O-1, in order */
  overflow?: OverflowRule[];
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
