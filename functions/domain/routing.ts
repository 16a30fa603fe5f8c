import type { Workstream } from './model.js';

/**
 * the first routing rule whose condition holds picks the queue, else the default queue.
 * Variables are the channel's context variables plus `contact.<name>` attributes.
 * Unknown fields simply do not match: routing never fails on them.
 */
export function routeQueue(ws: Workstream, variables: Readonly<Record<string, string | undefined>>): { queueId: string; rule: number | null } {
  const index = ws.routingRules.findIndex((r) => Object.hasOwn(variables, r.when.field) && variables[r.when.field] === r.when.equals);
  const hit = index >= 0 ? ws.routingRules[index] : undefined;
  return hit ? { queueId: hit.queueId, rule: index } : { queueId: ws.defaultQueueId, rule: null };
}
