import type { Conversation, Workstream } from './model.js';
import type { TemplateEvent } from './templates.js';
import { addSeconds } from './timers.js';
import type { Action } from './transitions.js';
import type { TimerRequest, Write } from './writes.js';

/** MS-2: an agent reply's length, in UTF-16 code units as JSON counts them (API.md). */
export const REPLY_MAX_CHARS = 4000;

export type MessageFrom = 'customer' | 'agent' | 'system';

/** MS-1: one transcript entry, an item of its own beside the conversation (never inside it). */
export interface Message {
  org: string;
  conversationId: string;
  /** stable: the channel adapter deduplicates `message.sent` on it */
  id: string;
  /** per conversation, from 1, strictly increasing across customer, agent and system */
  seq: number;
  at: string;
  from: MessageFrom;
  /** the agent (or joined supervisor) who replied */
  agentId?: string;
  /** as given: never interpreted as HTML */
  text: string;
  /** MS-4: written by a template, not a person */
  automated?: true;
}

/**
 * MS-1: where a conversation's transcript stands, an item beside the conversation: the last `seq`,
 * and the last reply's (MS-3). A transition's full Put of the conversation never touches it, and a
 * message never bumps the conversation's version. 0 = none yet.
 */
export interface MessageLog {
  seq: number;
  replySeq: number;
  /** the last customer message's (MS-3: one after the last reply still waits for an answer) */
  customerSeq: number;
}

export const EMPTY_LOG: MessageLog = { seq: 0, replySeq: 0, customerSeq: 0 };

/** MS-2 / MS-4: what the outbound queue carries for the channel adapter (API.md). */
export interface OutboundMessage {
  id: string;
  org: string;
  conversationId: string;
  channelId: string;
  threadId: string;
  type: 'message.sent';
  text: string;
  automated: boolean;
  at: string;
}

/** A message before it has its place in the transcript. */
export interface MessageDraft {
  from: MessageFrom;
  agentId?: string;
  text: string;
  automated?: true;
}

/** A message id: the conversation and its place, so a retried decision that commits names it the same. */
export const messageId = (conversationId: string, seq: number): string => `${conversationId}-m${seq}`;

/** What leaves for the channel: replies and automated messages, never the customer's own. */
const outbound = (m: Message, c: Conversation): OutboundMessage => ({
  id: m.id,
  org: m.org,
  conversationId: m.conversationId,
  channelId: c.channelId,
  threadId: c.threadId,
  type: 'message.sent',
  text: m.text,
  automated: m.automated === true,
  at: m.at,
});

export interface Appended {
  messages: Message[];
  writes: Write[];
  timers: TimerRequest[];
  log: MessageLog;
}

/**
 * MS-1: the writes that append `drafts` to the transcript after `log`: one item per message, the
 * log moved only from where it was read (two writers racing for a `seq` commit one; the other is
 * decided again), and for each reply or automated message an outbox item that publishes it as
 * `message.sent` (MS-2), committed in the same transaction as its cause.
 */
export function appendMessages(
  c: Conversation,
  log: MessageLog,
  drafts: readonly MessageDraft[],
  at: string,
): Appended {
  const messages = drafts.map((d, i): Message => ({
    org: c.org,
    conversationId: c.id,
    id: messageId(c.id, log.seq + i + 1),
    seq: log.seq + i + 1,
    at,
    from: d.from,
    ...(d.agentId !== undefined ? { agentId: d.agentId } : {}),
    text: d.text,
    ...(d.automated ? { automated: true as const } : {}),
  }));
  if (!messages.length) return { messages, writes: [], timers: [], log };
  const lastFrom = (from: MessageFrom, was: number): number => messages.findLast((m) => m.from === from)?.seq ?? was;
  const next: MessageLog = {
    seq: log.seq + messages.length,
    replySeq: lastFrom('agent', log.replySeq),
    customerSeq: lastFrom('customer', log.customerSeq),
  };
  const timers = messages
    .filter((m) => m.from !== 'customer')
    .map((m): TimerRequest => ({
      kind: 'notify',
      org: c.org,
      conversationId: c.id,
      version: c.version,
      at,
      key: `m${m.seq}`,
      outbound: outbound(m, c),
    }));
  const writes: Write[] = [
    ...messages.map((message): Write => ({ type: 'message', message })),
    { type: 'message-log', org: c.org, conversationId: c.id, expect: log.seq, log: next },
    ...timers.map((timer): Write => ({ type: 'timer', timer })),
  ];
  return { messages, writes, timers, log: next };
}

/** MS-2: who may reply: the primary agent, or a supervisor who joined (S-2). */
export function mayReply(c: Conversation, callerId: string, roles: readonly string[]): boolean {
  const primary = roles.includes('agent') && c.primaryKind !== 'external' && c.primaryAgentId === callerId;
  const joined = roles.includes('supervisor') && (c.supervisors ?? []).includes(callerId);
  return primary || joined;
}

/** MS-2: why a reply cannot be sent now (undefined: it can): Active and accepted, session not ended (M-2). */
export function replyRefusal(c: Conversation): string | undefined {
  if (c.status !== 'Active' || c.accepted === false) {
    return `MS-2: a reply needs an Active, accepted conversation; it is ${c.status}${c.accepted === false ? ' (offered, not accepted)' : ''}`;
  }
  if (c.session.status === 'ended') return 'MS-2: the messaging session ended (M-2); no reply reaches the customer';
  return undefined;
}

/** MS-1: agents who are or were primary or consultant read the transcript (supervisors and admins always). */
export const handledBy = (c: Conversation, agentId: string): boolean =>
  c.primaryAgentId === agentId || c.consultants.includes(agentId) || (c.participants ?? []).includes(agentId);

/**
 * MS-4: the template events a change sends. `queued` is not here: a wait's position is known from the
 * queue's counters, which the entry's follow-up reads (metrics.use-case.ts), and it sends it. Overflow's
 * `close` sends `outside-hours` (rule `closed`) or `overflow` instead of `closed`; M-2's session end, none.
 */
export function automatedEvents(before: Conversation, after: Conversation, action: Action): TemplateEvent[] {
  if (action.type === 'end-session' || after.session.status === 'ended') return [];
  if (after.status === 'Closed' && before.status !== 'Closed') {
    if (action.type === 'overflow') return [action.when === 'closed' ? 'outside-hours' : 'overflow'];
    return ['closed'];
  }
  if (after.status === 'Waiting' && before.status !== 'Waiting') return ['waiting'];
  const answered = (c: Conversation): boolean =>
    c.status === 'Active' && c.accepted !== false && c.primaryKind !== 'external' && !!c.primaryAgentId;
  // a new agent answers: taken from the queue, an offer accepted, a transfer completed (not a resume from Waiting)
  const offered = before.status === 'Active' && before.accepted === false;
  if (answered(after) && (offered || before.primaryAgentId !== after.primaryAgentId)) return ['assigned'];
  return [];
}

/**
 * MS-3: the timer a customer message (`seq`) on an Active, accepted conversation arms, when its
 * workstream sets `agentResponseTimeoutSeconds`. It names the agent and the Active period (its
 * `statusSince`); when it fires, a reply after `seq`, another agent or another period make it stale.
 */
export function responseTimer(c: Conversation, ws: Workstream, seq: number, now: Date): TimerRequest | undefined {
  const seconds = ws.agentResponseTimeoutSeconds;
  if (!seconds || c.status !== 'Active' || c.accepted === false) return undefined;
  if (!c.primaryAgentId || c.primaryKind === 'external') return undefined;
  return {
    kind: 'agent-response',
    org: c.org,
    conversationId: c.id,
    agentId: c.primaryAgentId,
    version: c.version,
    at: addSeconds(now, seconds),
    key: `s${seq}`,
    subjectSince: c.statusSince,
  };
}

/** MS-3: the customer message's `seq` an agent-response timer waits on (its key `s<seq>`), NaN if none. */
export const awaitedSeq = (t: Pick<TimerRequest, 'key'>): number =>
  t.key?.startsWith('s') ? Number(t.key.slice(1)) : Number.NaN;
