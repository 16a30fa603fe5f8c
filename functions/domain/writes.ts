import type { Conversation, HistoryEvent, Status } from './model.js';

/**
 * The writes one state change consists of. The store commits a list of these as ONE transaction
 * (ARCHITECTURE "the one idea"); the domain decides them, the adapter only translates them.
 */
export type Write =
  | { type: 'conversation'; item: Conversation; expect: { version: number; status: Status } | 'absent' }
  | { type: 'allocation-put'; org: string; agentId: string; conversationId: string; pool: string; units: number; since: string }
  | { type: 'allocation-delete'; org: string; agentId: string; conversationId: string }
  /** `override` skips the `used + units <= max` condition (S-3 only). */
  | { type: 'pool-consume'; org: string; agentId: string; pool: string; units: number; override?: boolean }
  | { type: 'pool-release'; org: string; agentId: string; pool: string; units: number }
  | { type: 'event'; event: HistoryEvent }
  /** the thread's current conversation (API "thread -> conversation"), moved only from `previous` */
  | { type: 'thread'; org: string; channelId: string; threadId: string; conversationId: string; previous: string | null }
  /** RL-1: proof that an inbound event was applied, written with its effect so it applies once */
  | { type: 'receipt'; org: string; key: string; expiresAt: number };

/** A timer the change asks for: a fact about one version of one conversation (ARCHITECTURE Timers). */
export interface TimerRequest {
  kind: 'wrapup-release' | 'inactivity-timeout' | 'reconnect-timeout' | 'offer-expiry';
  org: string;
  conversationId: string;
  version: number;
  at: string;
}

export interface Decision {
  rule: string;
  conversation: Conversation;
  event: HistoryEvent;
  writes: Write[];
  timers: TimerRequest[];
}
