import type { SQSClient } from '@aws-sdk/client-sqs';
import middy from '@middy/core';
import { readConfig, type ConfigFor } from '../../config.js';
import { sweepDueTimers } from '../../use-cases/timers.use-case.js';
import { fromEnvironment } from '../lambda.js';
import { observability } from '../observability.js';
import { createNotifier, createTableEngineRuntime, type TableEngineOverrides } from '../wiring/engine.js';

/**
 * The table, the outbound queue (it fires notifications left in the outbox) and the grace; no
 * scheduler: a timer it re-arms is a table write whose schedule follows from the stream.
 */
export const SWEEPER_CAPABILITIES = ['observability', 'dynamodb', 'outboundQueue', 'sweeper'] as const;

export type SweeperHandlerConfig = ConfigFor<(typeof SWEEPER_CAPABILITIES)[number]>;

/**
 * Runs every minute. Fires outbox timers that are due for longer than the grace and still here:
 * their schedule was never created (a crash or a Scheduler fault after the commit) or its delivery
 * failed. Firing twice is harmless (TM-5), so the grace only saves work.
 */
export function createHandler(
  config: SweeperHandlerConfig,
  overrides: TableEngineOverrides & { sqs?: SQSClient } = {},
) {
  const { deps, obs } = createTableEngineRuntime(config, overrides, {
    notifier: createNotifier(config.outboundQueue, overrides.sqs),
  });
  return middy(async (): Promise<{ fired: number }> => {
    const fired = await sweepDueTimers(deps, deps.outbox, { graceSeconds: config.sweeper.graceSeconds });
    if (fired.length) {
      obs.count('TimerFires', fired.length);
      obs.logger.info('sweeper fired timers', { count: fired.length, timers: fired.map((f) => f.name) });
    }
    return { fired: fired.length };
  }).use(observability(obs));
}

export const handler = fromEnvironment(() => createHandler(readConfig(SWEEPER_CAPABILITIES)));
