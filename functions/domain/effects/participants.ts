import { canTake } from '../capacity.js';
import { CapacityExceededError, ForbiddenActionError, ValidationError } from '../errors.js';
import type { Agent } from '../model.js';
import { addOnce, withDetails, withNext, type EffectStep } from './context.js';
import { requireAllowedPresence } from './guards.js';
import { customerOf, notify, primaryOf } from './notify.js';

/** S-2: a monitoring supervisor is not a participant, so nobody is told. */
export const MONITOR: EffectStep = {
  apply: ({ c, actor }, d) => withNext(d, { monitoredBy: addOnce(c.monitoredBy, actor.id) }),
};

/** S-2: a supervisor who joins is a participant the primary and the customer see. */
export const JOIN: EffectStep = {
  apply: (ctx, d) =>
    notify(
      ctx,
      withNext(d, { supervisors: addOnce(ctx.c.supervisors, ctx.actor.id) }),
      'supervisor.joined',
      [...primaryOf(ctx), customerOf(ctx)],
      { supervisorId: ctx.actor.id },
    ),
};

/**
 * an agent of the queue with an allowed presence and the capacity it would cost. The consultant
 * reserves nothing (the rule keeps capacity): the check only makes sure they could take the work.
 */
export const CONSULT: EffectStep = {
  check: ({ rule, c, ws, input }) => {
    const t = input.targetAgent;
    if (!t || t.id === c.primaryAgentId)
      throw new ValidationError('X-2: consult another agent', [
        { field: 'agentId', message: 'is the primary or unknown' },
      ]);
    if (c.consultants.includes(t.id))
      throw new ValidationError('X-2: already a consultant', [
        { field: 'agentId', message: 'is already a consultant' },
      ]);
    if (t.bot || !t.queues.includes(c.queueId))
      throw new ForbiddenActionError(`X-2: the consultant must be an agent of queue ${c.queueId}`, c.status);
    requireAllowedPresence(input, rule.id);
    if (!canTake(t, ws.capacity.pool, ws.capacity.units))
      throw new CapacityExceededError(c.status, t.id, ws.capacity.pool, ws.capacity.units);
  },
  apply: ({ c, input }, d) => {
    // the check refused a missing consultant
    const { id } = input.targetAgent as Agent;
    return withDetails(withNext(d, { consultants: addOnce(c.consultants, id) }), { consultant: id });
  },
};
