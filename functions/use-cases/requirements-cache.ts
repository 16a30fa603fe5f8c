import type { Hours } from '../domain/hours.js';
import type { Configuration } from '../ports/repositories.js';
import type { QueueConfig } from '../ports/storage-types.js';

/**
 * K-2: the queues' requirement registries, kept a few seconds per execution environment. Every
 * refresh and every agent dispatch needs them, and a big queue's registry read by each would be a
 * hot key (SC-1: 1,500 reads/s). A registry only grows, so a cached copy is the current one or a
 * part of it; a requirement added within the last TTL_MS is missed by a refresh or dispatch that
 * runs here meanwhile, and the workstream PUT's own re-index (a follow-up, on a fresh read) covers
 * the agents routable at that moment. Decisions never rest on it: the index is a candidate list.
 */
const TTL_MS = 5_000;
const MAX_ENTRIES = 5_000;

interface Entry {
  requirements: string[];
  until: number;
}

const entries = new WeakMap<object, Map<string, Entry>>();

export async function queueRequirements(
  deps: { configuration: Configuration },
  org: string,
  queueIds: readonly string[],
  now: number,
  fresh = false,
): Promise<Map<string, string[]>> {
  let cache = entries.get(deps.configuration);
  if (!cache) entries.set(deps.configuration, (cache = new Map()));
  const key = (q: string): string => `${org}\u0000${q}`;
  const out = new Map<string, string[]>();
  const missing: string[] = [];
  for (const q of new Set(queueIds)) {
    const hit = fresh ? undefined : cache.get(key(q));
    if (hit && hit.until > now) out.set(q, hit.requirements);
    else missing.push(q);
  }
  if (!missing.length) return out;
  const read = await deps.configuration.getQueueRequirements(org, missing);
  for (const [q, requirements] of read) {
    out.set(q, requirements);
    cache.delete(key(q));
    cache.set(key(q), { requirements, until: now + TTL_MS });
    if (cache.size > MAX_ENTRIES) cache.delete(cache.keys().next().value as string);
  }
  return out;
}

const delayEntries = new WeakMap<object, Map<string, { delays: number[]; until: number }>>();

/**
 * a queue's member delays (its availability lanes), kept as long as the requirements and for
 * the same reason. A delay added within the TTL is missed by a conversation's dispatch here; the
 * agent whose PUT added it is dispatched on that change, and arms her own delay timer.
 */
export async function queueDelays(
  deps: { configuration: Configuration },
  org: string,
  queueId: string,
  now: number,
): Promise<number[]> {
  let cache = delayEntries.get(deps.configuration);
  if (!cache) delayEntries.set(deps.configuration, (cache = new Map()));
  const key = `${org}\u0000${queueId}`;
  const hit = cache.get(key);
  if (hit && hit.until > now) return hit.delays;
  const delays = await deps.configuration.getQueueDelays(org, queueId);
  cache.delete(key);
  cache.set(key, { delays, until: now + TTL_MS });
  if (cache.size > MAX_ENTRIES) cache.delete(cache.keys().next().value as string);
  return delays;
}

export interface QueueSettings {
  queue?: QueueConfig;
  hours?: Hours;
}
const settingsEntries = new WeakMap<object, Map<string, QueueSettings & { until: number }>>();

/**
 * O-1: a queue's settings and its hours, kept as long as the requirements: every conversation that
 * enters a queue is checked against its overflow rules, and a big queue's item read by each would be
 * a hot key (SC-1). A settings change applies to the entries followed up after the TTL.
 */
export async function queueSettings(
  deps: { configuration: Configuration },
  org: string,
  queueId: string,
  now: number,
): Promise<QueueSettings> {
  let cache = settingsEntries.get(deps.configuration);
  if (!cache) settingsEntries.set(deps.configuration, (cache = new Map()));
  const key = `${org}\u0000${queueId}`;
  const hit = cache.get(key);
  if (hit && hit.until > now) return hit;
  const queue = await deps.configuration.getQueue(org, queueId);
  const hours = queue?.hoursId ? await deps.configuration.getHours(org, queue.hoursId) : undefined;
  const entry = { ...(queue ? { queue } : {}), ...(hours ? { hours } : {}), until: now + TTL_MS };
  cache.delete(key);
  cache.set(key, entry);
  if (cache.size > MAX_ENTRIES) cache.delete(cache.keys().next().value as string);
  return entry;
}
