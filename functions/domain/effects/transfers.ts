import { ForbiddenActionError, TransitionConflictError, ValidationError } from '../errors.js';
import type { Agent, Conversation } from '../model.js';
import { targetAgentOf } from '../transitions.js';
import { addOnce, withDetails, without, type EffectContext, type EffectStep } from './context.js';
import { requireAllowedPresence, requireTargetAgent } from './guards.js';
import { notify } from './notify.js';

type Pending = NonNullable<Conversation['pendingTransfer']>;

/** X-3 / S-4: the rules that complete a transfer match only while one is pending (`pending: true`). */
const pendingOf = (ctx: EffectContext): Pending => ctx.c.pendingTransfer as Pending;

/** Both the original agent and whoever asked (an agent, or the supervisor of S-4) learn the outcome. */
const outcomeRecipients = (p: Pending) => [
  { kind: 'agent' as const, id: p.from },
  { kind: p.byRole, id: p.by },
];

/** S-4: messaging only, not escalated, to a human agent of the same queue with an allowed presence. */
function checkSupervisorTransfer({ c, input, rule }: EffectContext, t: Agent): void {
  if (c.escalatedTo)
    throw new TransitionConflictError(
      c.status,
      `S-4: the conversation was escalated to ${c.escalatedTo}; supervisor transfer is for messaging only`,
    );
  if (t.bot) throw new ForbiddenActionError('S-4: the receiver must be an agent, not a bot', c.status);
  if (!t.queues.includes(c.queueId))
    throw new ForbiddenActionError(`S-4: the receiver must be a member of queue ${c.queueId}`, c.status);
  requireAllowedPresence(input, rule.id);
}

/** X-3 / S-4: the transfer is an offer to the receiver; nothing moves until they accept. */
export const REQUEST_TRANSFER: EffectStep = {
  check: (ctx) => {
    const { rule, c, action, actor } = ctx;
    if (targetAgentOf(action) === c.primaryAgentId)
      throw new ValidationError(`${rule.id}: the transfer must name another agent`, [
        { field: 'agentId', message: 'is the current primary' },
      ]);
    const t = requireTargetAgent(ctx.input, targetAgentOf(action));
    if (actor.role === 'supervisor') checkSupervisorTransfer(ctx, t);
  },
  apply: (ctx, d) => {
    const { c, action, actor, at } = ctx;
    const to = targetAgentOf(action) as string;
    const byRole = actor.role === 'supervisor' ? 'supervisor' : 'agent';
    const pendingTransfer: Pending = { to, by: actor.id, byRole, from: c.primaryAgentId as string, at };
    const d1 = withDetails({ ...d, next: { ...d.next, pendingTransfer } }, { transferTo: to });
    return notify(ctx, d1, 'transfer.requested', [{ kind: 'agent', id: to }], {
      from: c.primaryAgentId ?? '',
      by: actor.id,
    });
  },
};

/** the receiver is primary now (the primary and capacity effects of the rule do that). */
export const COMPLETE_TRANSFER: EffectStep = {
  apply: (ctx, d) => {
    const { c, actor } = ctx;
    const p = pendingOf(ctx);
    const others = c.consultants.filter((x) => x !== actor.id);
    // S-4: after a supervisor's transfer the original agent stays on as a consultant
    const consultants = p.byRole === 'supervisor' ? addOnce(others, p.from) : others;
    const d1 = withDetails(without({ ...d, next: { ...d.next, consultants } }, 'pendingTransfer'), {
      transferFrom: p.from,
    });
    return notify(ctx, d1, 'transfer.accepted', outcomeRecipients(p), { to: actor.id });
  },
};

/** X-3 / S-4: a rejected transfer leaves the conversation with the original agent. */
export const DECLINE_TRANSFER: EffectStep = {
  apply: (ctx, d) =>
    notify(ctx, without(d, 'pendingTransfer'), 'transfer.rejected', outcomeRecipients(pendingOf(ctx)), {
      to: ctx.actor.id,
    }),
};
