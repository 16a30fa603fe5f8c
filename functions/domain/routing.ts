import type { RoutingRule, Skills, Workstream } from './model.js';

/** R-1 conditions: equals, in a list, or exists (a variable present, or absent with exists:false). */
export type Condition =
  { field: string; equals: string } | { field: string; in: string[] } | { field: string; exists: boolean };

const holds = (cond: Condition, vars: Readonly<Record<string, string | undefined>>): boolean => {
  const present = Object.hasOwn(vars, cond.field) && vars[cond.field] !== undefined;
  const value = present ? vars[cond.field] : undefined;
  if ('equals' in cond) return value === cond.equals;
  if ('in' in cond) return value !== undefined && cond.in.includes(value);
  return present === cond.exists;
};

/**
 * the first routing rule whose condition holds picks the queue, else the default queue.
 * Variables are the channel's context variables plus `contact.<name>` attributes of the identified
 * customer. Unknown fields simply do not match: routing never fails on them.
 */
export function routeQueue(
  ws: Pick<Workstream, 'routingRules' | 'defaultQueueId'>,
  variables: Readonly<Record<string, string | undefined>>,
): { queueId: string; rule: number | null; priority?: number; requires?: Skills; preferredAgent?: 'last' } {
  const index = ws.routingRules.findIndex((r: RoutingRule) => holds(r.when as Condition, variables));
  const hit = index >= 0 ? ws.routingRules[index] : undefined;
  if (!hit) return { queueId: ws.defaultQueueId, rule: null };
  // Q-1, K-2, A-2: the rule that chose the queue may set the priority, a skill requirement and a preferred agent too
  return {
    queueId: hit.queueId,
    rule: index,
    ...(hit.priority !== undefined ? { priority: hit.priority } : {}),
    ...(hit.requires && Object.keys(hit.requires).length ? { requires: hit.requires } : {}),
    ...(hit.preferredAgent ? { preferredAgent: hit.preferredAgent } : {}),
  };
}

/** Routing variables: context first, then the identified contact's attributes as `contact.<name>`. */
export function routingVariables(
  context: Readonly<Record<string, string>> | undefined,
  contactAttributes: Readonly<Record<string, string>> | undefined,
): Record<string, string> {
  // `contact.` is reserved for the identified contact: a channel cannot pose as one through its context
  const vars: Record<string, string> = Object.fromEntries(
    Object.entries(context ?? {}).filter(([k]) => !k.startsWith('contact.')),
  );
  for (const [k, v] of Object.entries(contactAttributes ?? {})) vars[`contact.${k}`] = v;
  return vars;
}
