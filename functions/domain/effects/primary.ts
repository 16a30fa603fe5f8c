import { targetAgentOf, type PrimaryEffect } from '../transitions.js';
import { withNext, without, type EffectStep } from './context.js';

/** Keyed by `TransitionRule.primary`: who is the primary after the change. */
export const PRIMARY_EFFECTS: Record<PrimaryEffect, EffectStep> = {
  actor: { apply: ({ actor }, d) => withNext(d, { primaryAgentId: actor.id, primaryKind: 'agent', accepted: true }) },
  clear: { apply: (_ctx, d) => without(d, 'primaryAgentId', 'primaryKind', 'accepted') },
  // T-12 and S-3 hand over at once; an R-3 offer waits for the agent's accept (T-1)
  'target-agent': {
    apply: ({ action }, d) =>
      withNext(d, { primaryAgentId: targetAgentOf(action) as string, primaryKind: 'agent', accepted: true }),
  },
  'offered-agent': {
    apply: ({ action }, d) =>
      withNext(d, { primaryAgentId: targetAgentOf(action) as string, primaryKind: 'agent', accepted: false }),
  },
  // T-12: the number dialled is the primary from now on, so nobody is left to wrap up
  external: {
    apply: ({ action }, d) =>
      action.type === 'transfer' && action.target.kind === 'external'
        ? withNext(d, { primaryAgentId: action.target.number, primaryKind: 'external', accepted: true })
        : d,
  },
  // T-1 / R-3: accepting an offer keeps the offered agent and confirms them
  keep: { apply: ({ rule }, d) => (rule.action === 'accept' ? withNext(d, { accepted: true }) : d) },
};

/** X-3 / S-4: a pending transfer lives only while the conversation keeps its status and primary. */
export const PENDING_TRANSFER_EXPIRY: EffectStep = {
  apply: ({ rule, c }, d) => {
    if (!c.pendingTransfer || rule.effect === 'request-transfer' || (rule.primary === 'keep' && rule.to === c.status))
      return d;
    return without(d, 'pendingTransfer');
  },
};
