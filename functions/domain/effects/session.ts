import { TransitionConflictError } from '../errors.js';
import { withNext, without, type EffectStep } from './context.js';
import { customerOf, notify, primaryOf } from './notify.js';

/** S-5: every participant, including the receiver of a transfer still pending, which ends here. */
export const FORCE_CLOSE: EffectStep = {
  apply: (ctx, d) => {
    const { c, actor } = ctx;
    const notified = notify(
      ctx,
      d,
      'conversation.force-closed',
      [
        customerOf(ctx),
        ...primaryOf(ctx),
        ...c.consultants.map((id) => ({ kind: 'agent' as const, id })),
        ...(c.pendingTransfer ? [{ kind: 'agent' as const, id: c.pendingTransfer.to }] : []),
        ...(c.supervisors ?? []).map((id) => ({ kind: 'supervisor' as const, id })),
      ],
      { reason: 'ended by supervisor', supervisorId: actor.id },
    );
    return without(notified, 'pendingTransfer');
  },
};

/** M-2: the messaging channel is off for this conversation and the ticket goes on by email; M-5: no customer notice. */
export const END_SESSION: EffectStep = {
  check: ({ c }) => {
    if (c.session.status === 'ended')
      throw new TransitionConflictError(c.status, 'M-2: the messaging session already ended');
  },
  apply: ({ c }, d) =>
    withNext(d, {
      session: { status: 'ended', endReason: 'ended-by-agent' },
      ticket: { ...c.ticket, channel: 'email' },
    }),
};
