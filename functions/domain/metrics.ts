import type { Conversation, Presence } from './model.js';

/**
 * MX-1 queue metrics, as counters moved by committed changes: what one change adds to, or takes from,
 * each queue's counts (by status, members by presence), and to the minute bucket of the last hour
 * (answered, abandoned, waits). Pure: the follow-ups apply these once per change (a marker in the same
 * transaction), so a redelivered stream record counts nothing twice.
 */

export const COUNTED_STATUSES = ['Open', 'Active', 'WrapUp', 'Waiting'] as const;
export const COUNTED_PRESENCES = ['Available', 'Busy', 'BusyDND', 'Away'] as const satisfies readonly Presence[];
/** the counters of a queue: conversations by status, member agents signed in and by presence */
export const COUNTERS = [...COUNTED_STATUSES, 'signedIn', ...COUNTED_PRESENCES] as const;
export type Counter = (typeof COUNTERS)[number];

export interface MinuteCounts {
  answered: number;
  abandoned: number;
  /** the waits of the answered, summed */
  waitMs: number;
  /** answered within the queue's service level */
  withinServiceLevel: number;
}

export interface QueueDelta {
  queueId: string;
  counts: Partial<Record<Counter, number>>;
  /** `YYYY-MM-DDTHH:MM` of the change, and what it adds to that minute */
  minute?: { at: string; add: Partial<MinuteCounts> };
}

const isCounted = (s: string | undefined): s is (typeof COUNTED_STATUSES)[number] =>
  (COUNTED_STATUSES as readonly string[]).includes(s ?? '');

/** an offer not accepted yet still waits in the queue */
const waiting = (c: Conversation | undefined): c is Conversation =>
  !!c && (c.status === 'Open' || (c.status === 'Active' && c.accepted === false));

const add = (deltas: Map<string, QueueDelta>, queueId: string, counter: Counter, n: number): void => {
  const d = deltas.get(queueId) ?? { queueId, counts: {} };
  d.counts[counter] = (d.counts[counter] ?? 0) + n;
  deltas.set(queueId, d);
};

const minuteOf = (iso: string): string => iso.slice(0, 16);

/**
 * A conversation's change: it leaves its (queue, status) count and enters the new one (Closed is not
 * counted). Answered: it stopped waiting in the queue by becoming Active with its agent (pick, accept of
 * an offer, supervisor assignment), its wait measured from when it entered the queue. Abandoned: the
 * customer closed it while Open.
 */
export function conversationDeltas(
  before: Conversation | undefined,
  after: Conversation | undefined,
  serviceLevelSeconds: (queueId: string) => number,
): QueueDelta[] {
  const deltas = new Map<string, QueueDelta>();
  const from = before && isCounted(before.status) ? `${before.queueId}\u0000${before.status}` : undefined;
  const to = after && isCounted(after.status) ? `${after.queueId}\u0000${after.status}` : undefined;
  if (from !== to) {
    if (before && isCounted(before.status)) add(deltas, before.queueId, before.status, -1);
    if (after && isCounted(after.status)) add(deltas, after.queueId, after.status, 1);
  }
  if (!after) return [...deltas.values()];
  const at = after.updatedAt;
  if (waiting(before) && after.status === 'Active' && after.accepted !== false) {
    const waitMs = Math.max(0, Date.parse(at) - Date.parse(before.enqueuedAt ?? before.statusSince));
    const within = waitMs <= serviceLevelSeconds(before.queueId) * 1000 ? 1 : 0;
    minute(deltas, before.queueId, at, { answered: 1, waitMs, withinServiceLevel: within });
  }
  if (before?.status === 'Open' && after.status === 'Closed' && (after.statusReason ?? '').startsWith('customer'))
    minute(deltas, before.queueId, at, { abandoned: 1 });
  return [...deltas.values()];
}

function minute(deltas: Map<string, QueueDelta>, queueId: string, at: string, counts: Partial<MinuteCounts>): void {
  const d = deltas.get(queueId) ?? { queueId, counts: {} };
  d.minute = { at: minuteOf(at), add: counts };
  deltas.set(queueId, d);
}

/** the parts of an agent profile the member counts are made of */
export interface MemberImage {
  queues?: unknown;
  signedIn?: unknown;
  presenceShown?: unknown;
}

/** a committed change the counters follow: a conversation's, or an agent profile's */
export type MetricsChange =
  | { kind: 'conversation'; before?: Conversation; after?: Conversation }
  | { kind: 'agent'; before?: MemberImage; after?: MemberImage };

/**
 * An agent profile's change: she leaves the counts of each queue she was a member of (signed in, her
 * presence shown) and enters those of her queues after. Presence is the one the availability follow-up
 * records (`presenceShown`), so the counts follow it.
 */
export function agentDeltas(before: MemberImage | undefined, after: MemberImage | undefined): QueueDelta[] {
  const deltas = new Map<string, QueueDelta>();
  const side = (image: MemberImage | undefined, n: number): void => {
    if (!image || !Array.isArray(image.queues)) return;
    for (const q of image.queues as unknown[]) {
      if (typeof q !== 'string') continue;
      if (image.signedIn === true) add(deltas, q, 'signedIn', n);
      const p = image.presenceShown;
      if (image.signedIn === true && (COUNTED_PRESENCES as readonly unknown[]).includes(p))
        add(deltas, q, p as Counter, n);
    }
  };
  side(before, -1);
  side(after, 1);
  return [...deltas.values()]
    .map((d) => ({ ...d, counts: Object.fromEntries(Object.entries(d.counts).filter(([, n]) => n !== 0)) }))
    .filter((d) => Object.keys(d.counts).length > 0);
}
