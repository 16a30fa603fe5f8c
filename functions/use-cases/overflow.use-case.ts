import { DomainError, RaceLostError } from '../domain/errors.js';
import { isOpenAt, type Hours } from '../domain/hours.js';
import { enqueuedAtOf, type Conversation } from '../domain/model.js';
import { conversationMarker } from '../domain/metrics.js';
import { describeWhen, type OverflowRule } from '../domain/overflow.js';
import { addSeconds } from '../domain/timers.js';
import type { TimerRequest, Write } from '../domain/writes.js';
import { performAction } from './conversation-action.use-case.js';
import type { EngineDeps } from './engine.js';
import { queueSettings } from './requirements-cache.js';

/**
 * O-1, O-2 overflow, run from the committed change (a follow-up) and from outbox timers: each action
 * is a change of its own (one transaction, its own history event naming the rule), decided like any
 * other on the conversation as it is then, and only on the version the follow-up saw (a conversation
 * that moved meanwhile is left alone).
 */

const overflowActor = { role: 'system', id: 'overflow' } as const;

/** O-1: what the enter-time conditions on the queue's counters see (MX-1): others waiting, members signed in */
export interface QueueLoad {
  /** Open conversations already waiting, this one left out */
  waiting: number;
  signedIn: number;
}

/**
 * O-1: the first enter-time rule that matches at `at` (when the conversation entered the queue, so a
 * follow-up that runs late decides as it would have then). `closed` follows the queue's hours (H-1);
 * `queueSizeAtLeast` and `noAgentsSignedIn` the queue's counters as the follow-up reads them.
 */
export function enterRuleOf(
  rules: readonly OverflowRule[],
  hours: Hours | undefined,
  at: Date,
  load?: QueueLoad,
  left: readonly string[] = [],
): { index: number; rule: OverflowRule } | undefined {
  const matches = ({ when, then }: OverflowRule): boolean => {
    if (movesBack(then, left)) return false;
    if (when === 'closed') return hours !== undefined && !isOpenAt(hours, at);
    if (when === 'noAgentsSignedIn') return load !== undefined && load.signedIn <= 0;
    if ('queueSizeAtLeast' in when) return load !== undefined && load.waiting >= when.queueSizeAtLeast;
    return false;
  };
  const index = rules.findIndex(matches);
  return index < 0 ? undefined : { index, rule: rules[index] as OverflowRule };
}

/** O-2: a move into a queue overflow already moved the conversation out of is never made */
const movesBack = (then: OverflowRule['then'], left: readonly string[] | undefined): boolean =>
  'transferToQueue' in then && (left ?? []).includes(then.transferToQueue);

const onCounters = (r: OverflowRule): boolean =>
  r.when === 'noAgentsSignedIn' || (typeof r.when === 'object' && 'queueSizeAtLeast' in r.when);

/**
 * O-1: the queue's load for its counter conditions, read only for a queue that has one. The queue's
 * Open count holds the entering conversation once the counters' follow-up of its entry ran (that may
 * be before or after this one): its marker, read before and after the counters, says which (a count and
 * its marker commit together), so the conversation itself is left out either way. No transaction: a
 * TransactGetItems would be cancelled by any count committing on the queue's shards meanwhile.
 */
async function loadOf(
  deps: EngineDeps,
  c: Conversation,
  entry: { version: number; alreadyOpenHere: boolean } | undefined,
): Promise<QueueLoad> {
  const marker = conversationMarker(c.id, entry?.version ?? c.version);
  const counted = () => deps.queueStats.wasCounted(c.org, marker);
  const before = entry?.alreadyOpenHere || (await counted());
  let counts = await deps.queueStats.counts(c.org, c.queueId);
  let included = before;
  if (!before && (await counted())) {
    // counted between the two reads: the counters read may or may not hold it; read them again
    counts = await deps.queueStats.counts(c.org, c.queueId);
    included = true;
  }
  const signedIn = counts.signedIn ?? 0;
  if (signedIn < 0) deps.log?.warn('queue counters below zero: noAgentsSignedIn does not match', { queue: c.queueId });
  return {
    waiting: Math.max(0, (counts.Open ?? 0) - (included ? 1 : 0)),
    // counters below zero are counts from before counting began: no match rather than "nobody"
    signedIn: signedIn < 0 ? Number.POSITIVE_INFINITY : signedIn,
  };
}

const waitOf = (r: OverflowRule): number | undefined =>
  typeof r.when === 'object' && 'waitedSecondsAtLeast' in r.when ? r.when.waitedSecondsAtLeast : undefined;

/**
 * O-1: the wait-time rule due next after `after` seconds of wait (the smallest threshold beyond it;
 * of equal thresholds the first rule, which is the one that acts).
 */
export function nextWaitRule(rules: readonly OverflowRule[], after: number): number | undefined {
  let best: number | undefined;
  rules.forEach((r, i) => {
    const w = waitOf(r);
    if (w === undefined || w <= after) return;
    if (best === undefined || w < (waitOf(rules[best] as OverflowRule) ?? Infinity)) best = i;
  });
  return best;
}

/** the outbox timer for wait-time rule `index` of this wait in the queue (TM-5: its enqueuedAt) */
const waitTimer = (c: Conversation, rules: readonly OverflowRule[], index: number): TimerRequest => ({
  kind: 'overflow',
  org: c.org,
  conversationId: c.id,
  version: c.version,
  at: addSeconds(new Date(enqueuedAtOf(c)), waitOf(rules[index] as OverflowRule) ?? 0),
  subjectSince: enqueuedAtOf(c),
  // TM-5: the wait is the queue's and this entry's (two moves in one instant keep enqueuedAt)
  key: `${c.queueId}.${index}`,
});

/** an offer not accepted yet is still the same wait in the queue */
const waitsIn = (x: Conversation, c: Pick<Conversation, 'queueId' | 'enqueuedAt' | 'statusSince'>): boolean =>
  (x.status === 'Open' || (x.status === 'Active' && x.accepted === false)) &&
  x.queueId === c.queueId &&
  enqueuedAtOf(x) === enqueuedAtOf(c);

/** while an offer is pending the wait goes on: its rule is checked again this much later */
const PENDING_OFFER_RECHECK_SECONDS = 10;

/** one overflow action through decide/commit, only on the version seen; refused or moved: false */
async function act(
  deps: EngineDeps,
  c: Conversation,
  index: number,
  rule: OverflowRule,
  extraWrites: readonly Write[] = [],
): Promise<Conversation | undefined> {
  try {
    const r = await performAction(deps, {
      org: c.org,
      conversationId: c.id,
      actor: overflowActor,
      action: { type: 'overflow', rule: index, when: describeWhen(rule.when), then: rule.then },
      // TM-5 on the decision's own read: Open in the same wait, and (wait-time rules) not acted in it yet
      guard: (x) =>
        x.status === 'Open' && waitsIn(x, c) && !x.overflowed?.includes(index)
          ? undefined
          : 'the conversation left that wait, or the rule already acted in it',
      extraWrites,
    });
    return r.conversation;
  } catch (err) {
    // refused by the rules or by the guard: it moved on; a lost race propagates (the follow-up retries)
    if (err instanceof DomainError && !(err instanceof RaceLostError)) return undefined;
    throw err;
  }
}

/**
 * O-1 on entry (the follow-up of a change that put the conversation in `queueId`, Open): the first
 * enter-time rule that matches acts. After a move or a close the conversation is not dispatched here
 * (that change is followed up in turn); after a new priority, or when no rule matched, the first
 * wait-time rule is armed and the caller dispatches. O-2: a conversation that overflow moved into this
 * queue is not moved by its enter-time rules (no loop between queues that overflow into each other);
 * its wait-time rules still apply. Returns whether the caller must leave the conversation alone.
 */
export async function overflowOnEntry(
  deps: EngineDeps,
  org: string,
  conversationId: string,
  queueId: string,
  entry?: { version: number; alreadyOpenHere: boolean },
): Promise<boolean> {
  const now = deps.clock.now();
  const settings = await queueSettings(deps, org, queueId, now.getTime());
  const rules = settings.queue?.overflow ?? [];
  if (!rules.length) return false;
  let c = await deps.conversations.getConversation(org, conversationId);
  if (!c || c.queueId !== queueId || !waitsIn(c, c)) return false;
  const entering = c.status === 'Open' && c.statusReason !== 'overflow';
  const load = entering && rules.some(onCounters) ? await loadOf(deps, c, entry) : undefined;
  const enter = entering
    ? enterRuleOf(rules, settings.hours, new Date(enqueuedAtOf(c)), load, c.overflowedFrom)
    : undefined;
  if (enter) {
    const after = await act(deps, c, enter.index, enter.rule);
    // a move or a close is followed up on its own change; a new priority keeps the wait here
    if (after && !('setPriority' in enter.rule.then)) return true;
    if (after) c = after;
  }
  const next = nextWaitRule(rules, -1);
  if (next !== undefined) await deps.outbox.armTimer(waitTimer(c, rules, next));
  return false;
}

export type WaitOutcome =
  | { outcome: 'stale'; detail: string }
  | { outcome: 'applied'; detail: string }
  | { outcome: 're-armed'; timer: TimerRequest; detail: string };

/**
 * O-1 wait-time rule `index` fired (TM-5: still Open in the same wait, the rule still there and due;
 * its threshold moved later: re-armed). It acts, and the next wait-time rule is armed in the same
 * transaction when the conversation stays in the queue (`setPriority`).
 */
export async function fireWaitRule(
  deps: EngineDeps,
  timer: { org: string; conversationId: string; subjectSince?: string; key?: string },
  done: Write,
): Promise<WaitOutcome> {
  const c = await deps.conversations.getConversation(timer.org, timer.conversationId);
  const [queueId, ruleIndex] = (timer.key ?? '').split('.');
  if (!c || c.queueId !== queueId || enqueuedAtOf(c) !== timer.subjectSince || !waitsIn(c, c))
    return { outcome: 'stale', detail: 'the conversation left that wait in its queue' };
  const now = deps.clock.now();
  const { queue } = await queueSettings(deps, timer.org, c.queueId, now.getTime());
  const rules: OverflowRule[] = queue?.overflow ?? [];
  const index = Number(ruleIndex);
  const rule = rules[index];
  const wait = rule ? waitOf(rule) : undefined;
  if (!rule || wait === undefined) return { outcome: 'stale', detail: 'the wait-time rule is gone' };
  if (c.status !== 'Open')
    return {
      outcome: 're-armed',
      timer: { ...waitTimer(c, rules, index), at: addSeconds(now, PENDING_OFFER_RECHECK_SECONDS) },
      detail: 'an offer is pending in this wait',
    };
  if (c.overflowed?.includes(index)) return { outcome: 'stale', detail: 'the rule already acted in this wait' };
  if (now.getTime() - Date.parse(enqueuedAtOf(c)) < wait * 1000)
    return { outcome: 're-armed', timer: waitTimer(c, rules, index), detail: 'the rule waits longer now' };
  const following = nextWaitRule(rules, wait);
  if (movesBack(rule.then, c.overflowedFrom)) {
    const detail = `O-2: overflow moved it out of ${'transferToQueue' in rule.then ? rule.then.transferToQueue : ''} before`;
    return following === undefined
      ? { outcome: 'stale', detail }
      : { outcome: 're-armed', timer: waitTimer(c, rules, following), detail: `${detail}; the next rule is armed` };
  }
  const stays = 'setPriority' in rule.then && following !== undefined;
  const next = stays
    ? [{ type: 'timer', timer: { ...waitTimer(c, rules, following), version: c.version + 1 } } as const]
    : [];
  const after = await act(deps, c, index, rule, [done, ...next]);
  return after
    ? {
        outcome: 'applied',
        detail: `O-1 rule ${index} (${describeWhen(rule.when)}) -> ${after.status} in ${after.queueId}`,
      }
    : { outcome: 'stale', detail: 'the conversation changed since' };
}
