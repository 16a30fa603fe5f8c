import { priorityOf, type Conversation, type Presence } from './model.js';

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

/** Q-1 priorities, 1..10: MX-3 counts a queue's waiting conversations by base priority */
export const LEVELS = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10] as const;
/**
 * MX-3: `openP<p>` is how many conversations of priority p wait in the queue (Open, or offered and not
 * accepted yet: R-3); `leftP<p>` how many waits at that priority ended there (answered, abandoned, moved
 * on), ever: a conversation's position is
 * those ahead when it entered less those that left its level since (see `queuePosition`).
 */
export type LevelCounter = `openP${number}` | `leftP${number}`;
export const levelCounter = (kind: 'open' | 'left', priority: number): LevelCounter => `${kind}P${priority}`;
export const LEVEL_COUNTERS: readonly LevelCounter[] = LEVELS.flatMap((p) => [
  levelCounter('open', p),
  levelCounter('left', p),
]);

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
  counts: Partial<Record<Counter | LevelCounter, number>>;
  /** `YYYY-MM-DDTHH:MM` of the change, and what it adds to that minute */
  minute?: { at: string; add: Partial<MinuteCounts> };
}

/** MX-1: every change of a conversation writes a new version: the version names the change, counted once */
export const conversationMarker = (id: string, version: number | string): string => `C#${id}#v${version}`;

const isCounted = (s: string | undefined): s is (typeof COUNTED_STATUSES)[number] =>
  (COUNTED_STATUSES as readonly string[]).includes(s ?? '');

/** an offer not accepted yet still waits in the queue */
const waiting = (c: Conversation | undefined): c is Conversation =>
  !!c && (c.status === 'Open' || (c.status === 'Active' && c.accepted === false));

const add = (deltas: Map<string, QueueDelta>, queueId: string, counter: Counter | LevelCounter, n: number): void => {
  const d = deltas.get(queueId) ?? { queueId, counts: {} };
  d.counts[counter] = (d.counts[counter] ?? 0) + n;
  deltas.set(queueId, d);
};

const minuteOf = (iso: string): string => iso.slice(0, 16);

/**
 * MX-3: one wait at one level of a queue (a new priority, queue or wait is a new one); none when not
 * waiting. An offer not accepted yet is still the same wait (R-3: a rejected or expired one returns with
 * its `enqueuedAt`), so a returned offer neither ends a wait nor starts one.
 */
const waitOf = (c: Conversation | undefined): string | undefined =>
  waiting(c) ? `${c.queueId}\u0000${priorityOf(c)}\u0000${c.enqueuedAt ?? c.statusSince}` : undefined;

/** MX-3: the wait this change started, if it started one: the queue and level it counts in */
export function waitEntered(
  before: Conversation | undefined,
  after: Conversation | undefined,
): { queueId: string; priority: number } | undefined {
  const w = waitOf(after);
  return after && w && w !== waitOf(before) ? { queueId: after.queueId, priority: priorityOf(after) } : undefined;
}

const nonZero = (deltas: Map<string, QueueDelta>): QueueDelta[] =>
  [...deltas.values()]
    .map((d) => ({ ...d, counts: Object.fromEntries(Object.entries(d.counts).filter(([, n]) => n !== 0)) }))
    .filter((d) => Object.keys(d.counts).length > 0 || d.minute);

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
  if (waitOf(before) !== waitOf(after)) {
    if (before && waitOf(before)) {
      add(deltas, before.queueId, levelCounter('open', priorityOf(before)), -1);
      add(deltas, before.queueId, levelCounter('left', priorityOf(before)), 1);
    }
    if (after && waitOf(after)) add(deltas, after.queueId, levelCounter('open', priorityOf(after)), 1);
  }
  if (!after) return nonZero(deltas);
  const at = after.updatedAt;
  if (waiting(before) && after.status === 'Active' && after.accepted !== false) {
    const waitMs = Math.max(0, Date.parse(at) - Date.parse(before.enqueuedAt ?? before.statusSince));
    const within = waitMs <= serviceLevelSeconds(before.queueId) * 1000 ? 1 : 0;
    minute(deltas, before.queueId, at, { answered: 1, waitMs, withinServiceLevel: within });
  }
  if (before?.status === 'Open' && after.status === 'Closed' && (after.statusReason ?? '').startsWith('customer'))
    minute(deltas, before.queueId, at, { abandoned: 1 });
  return nonZero(deltas);
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
  return nonZero(deltas);
}

/** MX-3: the inputs of a queue position, all from bounded reads */
export interface PositionInputs {
  priority: number;
  /** Open conversations before it in Q-2 order, counted in the index up to a limit; complete: that is all */
  head: { ahead: number; complete: boolean };
  counts: Partial<Record<Counter | LevelCounter, number>>;
  /** its wait's entry record, when it is this wait's: `ahead` at its level then, `left` that level then */
  entry?: { ahead: number; left: number } | undefined;
  /** answered in the queue over the last `windowSeconds` */
  answered: number;
  windowSeconds: number;
}

export interface QueuePosition {
  /** 1 = next */
  position: number;
  /** counted in the index (the first HEAD of the queue), not estimated from the counters */
  exact: boolean;
  estimatedWaitSeconds: number | null;
}

/**
 * MX-3: exact while the conversation is among the first of the index's count; beyond it, estimated from
 * the counters: those waiting at a higher priority now, plus those at its own priority that were ahead when
 * it entered less the waits at that priority that ended since (an abandon or a move from behind it is
 * counted as if from ahead). The estimated wait is the position over the recent answer rate.
 */
export function queuePosition(i: PositionInputs): QueuePosition {
  const n = (c: Counter | LevelCounter): number => Math.max(0, i.counts[c] ?? 0);
  let position = i.head.ahead + 1;
  if (!i.head.complete) {
    const higher = LEVELS.filter((p) => p > i.priority).reduce((sum, p) => sum + n(levelCounter('open', p)), 0);
    const same = i.entry
      ? i.entry.ahead - (n(levelCounter('left', i.priority)) - i.entry.left)
      : n(levelCounter('open', i.priority)) - 1;
    const estimate = 1 + higher + Math.max(0, same);
    position = Math.max(position, Math.min(estimate, n('Open')));
  }
  return {
    position,
    exact: i.head.complete,
    estimatedWaitSeconds: i.answered > 0 ? Math.round((position * i.windowSeconds) / i.answered) : null,
  };
}
