import type { TimerRequest } from '../writes.js';
import { addSeconds, DISPATCH_RETRY_SECONDS } from '../timers.js';
import { withTimer, type Draft, type EffectContext, type EffectStep } from './context.js';

/**
 * R-3 safety net: push routing dispatches right after the commit; if that does not happen, the outbox
 * does it. Work entering a queue is dispatched there, and so is an agent whose capacity came free.
 */
function dispatchRetries({ rule, c, ws, now, version }: EffectContext, d: Draft): TimerRequest[] {
  if (ws.distribution !== 'push') return [];
  const at = addSeconds(now, DISPATCH_RETRY_SECONDS);
  const queued = rule.to === 'Open' && (c.status !== 'Open' || d.next.queueId !== c.queueId);
  return [
    ...(queued ? [{ kind: 'dispatch' as const, org: c.org, conversationId: c.id, version, at }] : []),
    ...(d.next.allocation === undefined && c.allocation
      ? [{ kind: 'dispatch' as const, org: c.org, agentId: c.allocation.agentId, version, at }]
      : []),
  ];
}

export const DISPATCH_TIMERS: EffectStep = {
  apply: (ctx, d) => ({ ...d, timers: [...d.timers, ...dispatchRetries(ctx, d)] }),
};

/** T-8: a Waiting conversation closes when the customer stays silent. */
export const INACTIVITY_TIMER: EffectStep = {
  apply: ({ rule, c, ws, now, version }, d) =>
    rule.to !== 'Waiting'
      ? d
      : withTimer(d, {
          kind: 'inactivity-timeout',
          org: c.org,
          conversationId: c.id,
          version,
          at: addSeconds(now, ws.waitingInactivityTimeoutSeconds),
        }),
};
