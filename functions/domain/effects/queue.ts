import { ValidationError } from '../errors.js';
import { priorityOf } from '../model.js';
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
