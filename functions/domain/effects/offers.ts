import { addSeconds } from '../timers.js';
import { withNext, withTimer, type EffectStep } from './context.js';
import { notify, primaryOf } from './notify.js';

/** an agent who rejected an offer, or let it expire, gets the next one after the others; the list is bounded. */
export const OFFER_DECLINED: EffectStep = {
  apply: ({ rule, c }, d) => {
    if (rule.action !== 'reject' && rule.action !== 'offer-expired' && rule.action !== 'agent-not-responding') return d;
    const who = c.primaryAgentId as string;
    return withNext(d, { declinedBy: [...(c.declinedBy ?? []).filter((a) => a !== who), who].slice(-20) });
  },
};

/** the offer lapses unless accepted in time; `subjectSince` tells this offer apart across unrelated version bumps. */
export const OFFER_EXPIRY_TIMER: EffectStep = {
  apply: ({ rule, c, ws, now, version }, d) =>
    rule.action !== 'offer'
      ? d
      : withTimer(d, {
          kind: 'offer-expiry',
          org: c.org,
          conversationId: c.id,
          agentId: d.next.primaryAgentId as string,
          version,
          at: addSeconds(now, ws.offerTimeoutSeconds ?? 60),
          subjectSince: d.next.statusSince,
        }),
};

/**
 * MS-3: the agent who did not answer, and the supervisors watching (monitoring or joined), are told;
 * the queue's id is in the notice for the supervisors' consoles of that queue.
 */
export const NOT_RESPONDING: EffectStep = {
  apply: (ctx, d) => {
    const { c } = ctx;
    const supervisors = [...(c.monitoredBy ?? []), ...(c.supervisors ?? [])];
    return notify(
      ctx,
      d,
      'agent.not-responding',
      [...primaryOf(ctx), ...supervisors.map((id) => ({ kind: 'supervisor' as const, id }))],
      { agentId: c.primaryAgentId ?? '', queueId: c.queueId },
    );
  },
};
