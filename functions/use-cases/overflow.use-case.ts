import { DomainError, RaceLostError } from '../domain/errors.js';
import type { Hours } from '../domain/hours.js';
import { enqueuedAtOf, type Conversation } from '../domain/model.js';
import { describeWhen, type OverflowRule } from '../domain/overflow.js';
import { openState } from '../domain/queues.js';
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

/**
 * O-1: the first enter-time rule that matches now. `closed` follows the queue's hours (H-1).
 * `queueSizeAtLeast` and `noAgentsSignedIn` need the queue counters of MX-1, not built yet: they
 * never match today, and the rules after them are still evaluated.
 */
export function enterRuleOf(
  rules: readonly OverflowRule[],
  hours: Hours | undefined,
  now: Date,
): { index: number; rule: OverflowRule } | undefined {
  const index = rules.findIndex((r) => r.when === 'closed' && !openState(hours, now).isOpen);
  return index < 0 ? undefined : { index, rule: rules[index] as OverflowRule };
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
  key: String(index),
});

/** one overflow action through decide/commit, only on the version seen; refused or moved: false */
async function act(
  deps: EngineDeps,
  c: Conversation,
  index: number,
  rule: OverflowRule,
  extraWrites: readonly Write[] = [],
  once = false,
): Promise<Conversation | undefined> {
  try {
    const r = await performAction(deps, {
      org: c.org,
      conversationId: c.id,
      actor: overflowActor,
      action: { type: 'overflow', rule: index, when: describeWhen(rule.when), then: rule.then },
      // TM-5 on the decision's own read: the version seen (entry), or this wait's rule not yet acted (timers)
      guard: (x) =>
        once
          ? x.status === 'Open' && enqueuedAtOf(x) === enqueuedAtOf(c) && !x.overflowed?.includes(index)
            ? undefined
            : 'the rule already acted in this wait'
          : x.version === c.version
            ? undefined
            : 'the conversation changed since',
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
 * enter-time rule that matches acts, and the conversation is not dispatched here (the action's own
 * change is followed up in turn); otherwise the first wait-time rule is armed. O-2: a conversation
 * that overflow moved into this queue is not moved by its enter-time rules (no loop between queues
 * that overflow into each other); its wait-time rules still apply. Returns whether a rule acted.
 */
export async function overflowOnEntry(
  deps: EngineDeps,
  org: string,
  conversationId: string,
  queueId: string,
): Promise<boolean> {
  const now = deps.clock.now();
  const settings = await queueSettings(deps, org, queueId, now.getTime());
  const rules = settings.queue?.overflow ?? [];
  if (!rules.length) return false;
  const c = await deps.conversations.getConversation(org, conversationId);
  if (c?.status !== 'Open' || c.queueId !== queueId) return false;
  const enter = c.statusReason === 'overflow' ? undefined : enterRuleOf(rules, settings.hours, now);
  if (enter) return (await act(deps, c, enter.index, enter.rule)) !== undefined;
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
  if (c?.status !== 'Open' || enqueuedAtOf(c) !== timer.subjectSince)
    return { outcome: 'stale', detail: 'the conversation left that wait in its queue' };
  const now = deps.clock.now();
  const { queue } = await queueSettings(deps, timer.org, c.queueId, now.getTime());
  const rules: OverflowRule[] = queue?.overflow ?? [];
  const index = Number(timer.key);
  const rule = rules[index];
  const wait = rule ? waitOf(rule) : undefined;
  if (!rule || wait === undefined) return { outcome: 'stale', detail: 'the wait-time rule is gone' };
  if (c.overflowed?.includes(index)) return { outcome: 'stale', detail: 'the rule already acted in this wait' };
  if (now.getTime() - Date.parse(enqueuedAtOf(c)) < wait * 1000)
    return { outcome: 're-armed', timer: waitTimer(c, rules, index), detail: 'the rule waits longer now' };
  const following = nextWaitRule(rules, wait);
  const stays = 'setPriority' in rule.then && following !== undefined;
  const next = stays
    ? [{ type: 'timer', timer: { ...waitTimer(c, rules, following), version: c.version + 1 } } as const]
    : [];
  const after = await act(deps, c, index, rule, [done, ...next], true);
  return after
    ? {
        outcome: 'applied',
        detail: `O-1 rule ${index} (${describeWhen(rule.when)}) -> ${after.status} in ${after.queueId}`,
      }
    : { outcome: 'stale', detail: 'the conversation changed since' };
}
