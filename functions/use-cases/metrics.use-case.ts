import { NotFoundError } from '../domain/errors.js';
import {
  agentDeltas,
  conversationDeltas,
  levelCounter,
  waitEntered,
  type Counter,
  type MetricsChange,
  type MinuteCounts,
  type QueueDelta,
} from '../domain/metrics.js';
import { DEFAULT_SERVICE_LEVEL_SECONDS } from '../domain/queues.js';
import type { EngineDeps } from './engine.js';
import { sendQueuedMessage } from './queued-message.use-case.js';
import { queueSettings } from './requirements-cache.js';

/**
 * MX-1: the follow-up of one committed change moves its queues' counters, once (a marker in the same
 * transaction); a read sums the counters' shards and the last hour's minute buckets, and reads the
 * oldest Open wait from the index of waiting conversations: a fixed number of requests whatever the
 * queue's size.
 */
export async function countChange(
  deps: EngineDeps,
  task: { org: string; marker: string; subject: string; change: MetricsChange },
): Promise<{ counted: boolean; deltas: QueueDelta[] }> {
  const now = deps.clock.now();
  const { change } = task;
  const deltas =
    change.kind === 'conversation'
      ? conversationDeltas(change.before, change.after, await serviceLevels(deps, task.org, change, now))
      : agentDeltas(change.before, change.after);
  const entered = change.kind === 'conversation' ? waitEntered(change.before, change.after) : undefined;
  // MX-3: a new wait notes where it stands from the counters as they were before its own change counted
  const before = entered ? await deps.queueStats.counts(task.org, entered.queueId) : undefined;
  const nowSeconds = Math.floor(now.getTime() / 1000);
  const counted = await deps.queueStats.apply(task.org, task.marker, task.subject, deltas, nowSeconds);
  if (entered && before && change.kind === 'conversation' && change.after) {
    // counted before (a redelivery): the counters read already hold this change's own deltas
    const own = counted ? {} : (deltas.find((d) => d.queueId === entered.queueId)?.counts ?? {});
    const at = (kind: 'open' | 'left'): number => {
      const c = levelCounter(kind, entered.priority);
      return (before[c] ?? 0) - (own[c] ?? 0);
    };
    const c = change.after;
    await deps.queueStats.recordEntry(
      task.org,
      {
        conversationId: c.id,
        version: c.version,
        ...entered,
        enqueuedAt: c.enqueuedAt ?? c.statusSince,
        ahead: Math.max(0, at('open')),
        left: at('left'),
      },
      nowSeconds,
    );
    // MS-4: the wait's `queued` message, now that its position can be read
    await sendQueuedMessage(deps, c);
  }
  return { counted, deltas };
}

async function serviceLevels(
  deps: EngineDeps,
  org: string,
  change: Extract<MetricsChange, { kind: 'conversation' }>,
  now: Date,
): Promise<(queueId: string) => number> {
  const queues = [...new Set([change.before?.queueId, change.after?.queueId].filter((q): q is string => !!q))];
  const levels = new Map(
    await Promise.all(
      queues.map(async (q): Promise<[string, number]> => {
        const { queue } = await queueSettings(deps, org, q, now.getTime());
        return [q, queue?.serviceLevelSeconds ?? DEFAULT_SERVICE_LEVEL_SECONDS];
      }),
    ),
  );
  return (q) => levels.get(q) ?? DEFAULT_SERVICE_LEVEL_SECONDS;
}

export interface QueueMetrics {
  queueId: string;
  at: Date;
  counts: Record<Counter, number>;
  oldestOpenSince: string | null;
  lastHour: MinuteCounts;
  serviceLevelSeconds: number;
}

const HOUR_MS = 3_600_000;

/** MX-1 (supervisors and admins, by the route's roles) */
export async function readQueueMetrics(
  deps: Pick<EngineDeps, 'configuration' | 'queueStats' | 'lists' | 'clock'>,
  org: string,
  queueId: string,
): Promise<QueueMetrics> {
  const at = deps.clock.now();
  // the minute an hour ago is left out: the window is the last 60 whole minutes and the current one
  const from = new Date(at.getTime() - HOUR_MS + 60_000).toISOString().slice(0, 16);
  const [queue, stats, oldest] = await Promise.all([
    deps.configuration.getQueue(org, queueId),
    deps.queueStats.read(org, queueId, from),
    deps.lists.oldestWaiting(org, queueId),
  ]);
  if (!queue) throw new NotFoundError('queue', queueId);
  return {
    queueId,
    at,
    counts: stats.counts,
    oldestOpenSince: oldest ?? null,
    lastHour: stats.lastHour,
    serviceLevelSeconds: queue.serviceLevelSeconds ?? DEFAULT_SERVICE_LEVEL_SECONDS,
  };
}
