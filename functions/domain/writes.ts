import type { EarlyEnd } from './early-end.js';
import type { Message, MessageLog, OutboundMessage } from './messages.js';
import type { Agent, Conversation, HistoryEvent, Notification, Status } from './model.js';

/**
 * The writes one state change consists of. The store commits a list of these as ONE transaction
 * (ARCHITECTURE "the one idea"); the domain decides them, the adapter only translates them.
 */
export type Write =
  | { type: 'conversation'; item: Conversation; expect: { version: number; status: Status } | 'absent' }
  | {
      type: 'allocation-put';
      org: string;
      agentId: string;
      conversationId: string;
      pool: string;
      units: number;
      since: string;
    }
  | { type: 'allocation-delete'; org: string; agentId: string; conversationId: string }
  /** `override` skips the `used + units <= max` condition (S-3 only) and expects `used` as read, so the units over are exact */
  | {
      type: 'pool-consume';
      org: string;
      agentId: string;
      pool: string;
      units: number;
      override?: { expectUsed: number };
    }
  | { type: 'pool-release'; org: string; agentId: string; pool: string; units: number }
  | { type: 'event'; event: HistoryEvent }
  /** the thread's current conversation (API "thread -> conversation"), moved only from `previous` */
  | {
      type: 'thread';
      org: string;
      channelId: string;
      threadId: string;
      conversationId: string;
      previous: string | null;
    }
  /** RL-1: proof that an inbound event was applied, written with its effect so it applies once */
  | {
      type: 'receipt';
      org: string;
      key: string;
      expiresAt: number;
      /** Idempotency-Key receipts: what the request was (to refuse the key's reuse) and its first result */
      fingerprint?: string;
      result?: Record<string, unknown>;
    }
  /** T-2: a customer's end that came before the thread's first conversation, kept for its start (TTL'd) */
  | { type: 'early-end'; end: EarlyEnd }
  /** the transactional timer outbox: the timer exists iff the change that armed it committed */
  | { type: 'timer'; timer: TimerRequest }
  /** TM-5: the outbox item that fired leaves in the transaction of the change it caused (unless that change rewrites it) */
  | { type: 'timer-done'; org: string; name: string }
  /** the offered agent got work now (idle tie-break), and their presence did not change since read */
  | { type: 'agent-assigned'; org: string; agentId: string; expectStateVersion: number; at: string }
  /** the configuration the change was decided on is still the current one ('' = never written) */
  | {
      type: 'config-current';
      org: string;
      entity: ConfigEntity;
      id: string;
      version: string;
      /**
       * SC-1: which copy of the version is checked. Every configuration write rewrites all copies
       * together, so any one proves it; the subject's id (a conversation's) spreads the checks over
       * the copies instead of metering them all on one item.
       */
      spread: string;
    }
  /** MS-1: a transcript entry, at its place (`seq`), written once */
  | { type: 'message'; message: Message }
  /** MS-1: the transcript's log, moved only from the `seq` it was read at (0: not written yet) */
  | { type: 'message-log'; org: string; conversationId: string; expect: number; log: MessageLog }
  /** MS-3: the transcript's last reply is still the one read (`seq` 0: the log did not exist) */
  | { type: 'reply-check'; org: string; conversationId: string; replySeq: number; seq: number }
  /** the conversation is still at the version a change that does not rewrite it was decided on (MS-1, MS-2) */
  | { type: 'conversation-check'; org: string; conversationId: string; version: number }
  /** the queue a change moves the conversation to exists (T-4c, S-3, M-3 reassign) */
  | { type: 'queue-exists'; org: string; queueId: string }
  /** the agent is still a member of the queue when the offer commits */
  | { type: 'member-check'; org: string; queueId: string; agentId: string }
  /** agent connection and presence state, moved only from the epoch it was read at; a connection change bumps the epoch */
  | {
      type: 'agent-state';
      org: string;
      agentId: string;
      set: Record<string, string | number | boolean>;
      remove: string[];
      expectEpoch: number;
      bumpEpoch: boolean;
    };

/** Configuration that decisions are made on from a cache, proven by a version check (R-5; MS-4: `templates`). */
export type ConfigEntity = 'workstream' | 'settings' | 'channel' | 'triggers' | 'templates';

export const TIMER_KINDS = [
  'wrapup-release',
  'inactivity-timeout',
  'reconnect-timeout',
  'offer-expiry',
  'presence-grace',
  'dispatch',
  'notify',
  'trigger',
  'relax',
  'delay',
  'overflow',
  'agent-response',
] as const;
export type TimerKind = (typeof TIMER_KINDS)[number];

/**
 * A timer the change asks for: a fact about one version of one conversation (or one connection epoch
 * of one agent). Its name is derived from those facts, so arming it twice is harmless; when it fires,
 * the state is checked again and a timer whose subject moved on changes nothing (TM-5).
 */
export interface TimerRequest {
  kind: TimerKind;
  org: string;
  /** conversation timers (wrap-up release, inactivity, reconnect, offer expiry) */
  conversationId?: string;
  /** agent timers (presence grace), and the agent a reconnect timer waits for */
  agentId?: string;
  /** the conversation version, or the agent's connection epoch, the timer was armed for */
  version: number;
  at: string;
  /** 'notify': the notification to publish (E-2) */
  notification?: Notification;
  /** 'notify': a reply or automated message to publish as `message.sent` (MS-2, MS-4) */
  outbound?: OutboundMessage;
  /** 'trigger': the trigger action to run (M-3) */
  triggerAction?: TriggerAction;
  /** tells apart timers of the same kind, subject, version and second (notifications, trigger actions) */
  key?: string;
  /**
   * the conversation's statusSince when armed: identifies one offer across unrelated version
   * bumps; for 'relax' (K-3) and a conversation's 'delay', its enqueuedAt: one wait in the queue
   */
  subjectSince?: string;
}

/** M-3: what an admin trigger does. */
export type TriggerAction = { type: 'send-survey'; text?: string } | { type: 'reassign'; queueId: string };

export interface Decision {
  rule: string;
  conversation: Conversation;
  event: HistoryEvent;
  writes: Write[];
  timers: TimerRequest[];
  /** E-2: published through the outbox ('notify' timer items in the same transaction) */
  notifications: Notification[];
  /** S-3: units by which an override assignment exceeds the agent's capacity */
  unitsOverCapacity?: number;
  /** agents the decision read whose pools it changes, as they are once it commits */
  agentsAfter?: Agent[];
}
