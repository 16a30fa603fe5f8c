import { MetricUnit, type Metrics } from '@aws-lambda-powertools/metrics';
import type { QueueDelta } from '../domain/metrics.js';
import type { QueueSignals } from '../ports/queue-signals.js';

/** a queue's depth is read at most this often per execution environment (one BatchGet of its counters) */
export const DEPTH_EVERY_MS = 10_000;

export interface EmfQueueSignalsOptions {
  /** the function's Powertools metrics: their namespace; each signal is its own EMF line (`singleMetric`) */
  metrics: Metrics;
  /** a queue's current counters (QueueStats.counts): the depth gauge reads its Open */
  counts(org: string, queueId: string): Promise<{ Open?: number }>;
  /** milliseconds, for the depth throttle (default Date.now) */
  now?: () => number;
}

/**
 * MX-1 queue signals as CloudWatch EMF metrics, dimensions `org` and `queueId` only (not the `service`
 * default dimension: the dashboard's SEARCH expressions name exactly `{namespace,org,queueId}`):
 *
 * - per answered conversation: `ServiceLevel` (Percent) 100 if answered within the queue's service level,
 *   else 0, so a period's Average is the service level; `WaitSeconds` its wait, and `Answered` (Count);
 * - per abandoned: `Abandoned` (Count);
 * - after a change that moved a queue's Open count: `QueueDepth` (Count), its Open conversations read from
 *   the counters, at most once per queue every DEPTH_EVERY_MS per execution environment (a change inside
 *   that window shows in the next reading; a quiet queue has no new points).
 */
export function createEmfQueueSignals(options: EmfQueueSignalsOptions): QueueSignals {
  const now = options.now ?? Date.now;
  const depthReadAt = new Map<string, number>();
  const emitter = (org: string, queueId: string): Metrics => {
    const m = options.metrics.singleMetric();
    m.clearDefaultDimensions();
    // default dimensions survive each single metric's flush (added ones are cleared by it)
    m.setDefaultDimensions({ org, queueId });
    return m;
  };
  /** claims the queue's depth reading now, if its last one is DEPTH_EVERY_MS old (synchronously: concurrent tasks read once) */
  const depthDue = (key: string): boolean => {
    const t = now();
    const last = depthReadAt.get(key);
    if (last !== undefined && t - last < DEPTH_EVERY_MS) return false;
    depthReadAt.set(key, t);
    return true;
  };
  const depth = async (org: string, queueId: string): Promise<void> => {
    const { Open = 0 } = await options.counts(org, queueId);
    emitter(org, queueId).addMetric('QueueDepth', MetricUnit.Count, Math.max(0, Open));
  };
  return {
    async changed(org, deltas) {
      const reads: Promise<void>[] = [];
      for (const d of deltas) {
        if (d.minute) emitMinute(emitter(org, d.queueId), d.minute.add);
        if (d.counts.Open && depthDue(`${org}\u0000${d.queueId}`)) reads.push(depth(org, d.queueId));
      }
      await Promise.all(reads);
    },
  };
}

function emitMinute(m: Metrics, add: NonNullable<QueueDelta['minute']>['add']): void {
  const { answered = 0, abandoned = 0, waitMs = 0, withinServiceLevel = 0 } = add;
  if (answered > 0) {
    m.addMetric('Answered', MetricUnit.Count, answered);
    for (let i = 0; i < answered; i++) {
      m.addMetric('ServiceLevel', MetricUnit.Percent, i < withinServiceLevel ? 100 : 0);
      m.addMetric('WaitSeconds', MetricUnit.Seconds, waitMs / answered / 1000);
    }
  }
  if (abandoned > 0) m.addMetric('Abandoned', MetricUnit.Count, abandoned);
}
