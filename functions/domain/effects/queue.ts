import { ValidationError } from '../errors.js';
import { priorityOf } from '../model.js';
import { dueStepNow, meets, requirementKey } from '../skills.js';
import { targetQueueOf } from '../transitions.js';
import { withDetails, withNext, type EffectStep } from './context.js';

/**
 * T-4c, S-3, M-3: the queue comes from the action, not the rule, because the rules that move queues
 * (target 'queue', effect 'move-queue') only say that it moves. It runs first so `toQueue` leads the details.
 */
export const QUEUE_MOVE: EffectStep = {
  check: ({ rule, c, action }) => {
    if (targetQueueOf(action) === c.queueId)
      throw new ValidationError(`${rule.id}: the conversation must go to another queue`, [
        { field: 'queueId', message: 'is the current queue' },
      ]);
  },
  apply: ({ action }, d) => {
    const toQueue = targetQueueOf(action);
    if (toQueue === undefined) return d;
    return withDetails(withNext(d, { queueId: toQueue }), { toQueue });
  },
};

/** the new priority, and the one it replaces in the history's details. */
export const SET_PRIORITY: EffectStep = {
  apply: ({ c, action }, d) =>
    action.type !== 'prioritize'
      ? d
      : withDetails(withNext(d, { priority: action.priority }), {
          priority: action.priority,
          fromPriority: priorityOf(c),
        }),
};

/**
 * K-3: the relaxation step due by the wait in the queue (the last whose `afterSeconds` passed)
 * replaces the requirement; the queue and the wait stay. Refused when no step beyond the current
 * one is due (a timer that fired for a step already applied, or one the configuration moved later).
 */
export const RELAX: EffectStep = {
  check: ({ rule, c, ws, now }) => {
    if (!c.requirements || dueStepNow(ws, c, now) <= c.requirements.step)
      throw new ValidationError(`${rule.id}: no relaxation step is due`, [
        { field: 'requirements', message: 'not due' },
      ]);
  },
  apply: ({ c, ws, now }, d) => {
    const step = dueStepNow(ws, c, now);
    const skills = ws.skillRelaxation?.[step - 1]?.requires ?? {};
    return withDetails(withNext(d, { requirements: { skills, step } }), {
      step,
      fromStep: c.requirements?.step ?? 0,
      requires: requirementKey(skills),
      fromRequires: requirementKey(c.requirements?.skills),
    });
  },
};

/**
 * K-4: pick is not restricted by skills, and the history says when an agent took a conversation
 * whose requirement she does not meet (`requirementMet: false`, with the requirement).
 */
export const PICK_RECORD: EffectStep = {
  apply: ({ c, action, input }, d) =>
    action.type === 'accept' &&
    c.status === 'Open' &&
    c.requirements &&
    !meets(input.agent?.skills, c.requirements.skills)
      ? withDetails(d, { requirementMet: false, requires: requirementKey(c.requirements.skills) })
      : d,
};

/**
 * O-1: an overflow rule acted: the history names the rule and its condition; `setPriority` sets the
 * priority (the wait is kept, Q-2). A transfer's queue move is QUEUE_MOVE's; a close is the rule's.
 */
/** O-2: how many queues a conversation remembers leaving by overflow */
const MAX_OVERFLOW_QUEUES = 20;

export const OVERFLOW: EffectStep = {
  apply: ({ c, action }, d) => {
    if (action.type !== 'overflow') return d;
    const details = { overflowRule: action.rule, when: action.when };
    if ('transferToQueue' in action.then) {
      // O-2: never moved back into a queue overflow moved it out of (no loop, even through wait-time rules)
      const overflowedFrom = [...new Set([...(c.overflowedFrom ?? []), c.queueId])].slice(-MAX_OVERFLOW_QUEUES);
      return withDetails(withNext(d, { overflowedFrom }), details);
    }
    if (!('setPriority' in action.then)) return withDetails(d, details);
    const priority = action.then.setPriority;
    // TM-5: a wait-time rule acts once per wait (a second firing of its timer finds it here)
    const overflowed = action.when.startsWith('waited') ? { overflowed: [...(c.overflowed ?? []), action.rule] } : {};
    return withDetails(withNext(d, { priority, ...overflowed }), { ...details, priority, fromPriority: priorityOf(c) });
  },
};
