import { MetricUnit } from '@aws-lambda-powertools/metrics';
import middy from '@middy/core';
import { sweepDueTimers } from '../../use-cases/timers.use-case.js';
import { getRuntime, logger, metrics, observability } from '../runtime.js';

/**
 * Runs every minute. Fires outbox timers that are due for longer than the grace and still here:
 * their schedule was never created (a crash or a Scheduler fault after the commit) or its delivery
 * failed. Firing twice is harmless (TM-5), so the grace only saves work.
 */
const GRACE_SECONDS = Number(process.env.SWEEPER_GRACE_SECONDS ?? 120);

export const handler = middy(async (): Promise<{ fired: number }> => {
  const { deps, store } = getRuntime();
  const fired = await sweepDueTimers(deps, store, { graceSeconds: GRACE_SECONDS });
  if (fired.length) {
    metrics.addMetric('TimerFires', MetricUnit.Count, fired.length);
    logger.info('sweeper fired timers', { count: fired.length, timers: fired.map((f) => f.name) });
  }
  return { fired: fired.length };
}).use(observability());
