import middy from '@middy/core';
import { readConfig, type ConfigFor } from '../../config.js';
import { sweepDueTimers } from '../../use-cases/timers.use-case.js';
import { fromEnvironment } from '../lambda.js';
import { observability } from '../observability.js';
import { createEngineRuntime, ENGINE_CAPABILITIES, type EngineConfig, type EngineOverrides } from '../wiring/engine.js';

/** The engine (DynamoDB, scheduler, notifier) and the grace. */
export type SweeperHandlerConfig = EngineConfig & ConfigFor<'sweeper'>;

/**
 * Runs every minute. Fires outbox timers that are due for longer than the grace and still here:
 * their schedule was never created (a crash or a Scheduler fault after the commit) or its delivery
 * failed. Firing twice is harmless (TM-5), so the grace only saves work.
 */
export function createHandler(config: SweeperHandlerConfig, overrides: EngineOverrides = {}) {
  const { deps, store, obs } = createEngineRuntime(config, overrides);
  return middy(async (): Promise<{ fired: number }> => {
    const fired = await sweepDueTimers(deps, store, { graceSeconds: config.sweeper.graceSeconds });
    if (fired.length) {
      obs.count('TimerFires', fired.length);
      obs.logger.info('sweeper fired timers', { count: fired.length, timers: fired.map((f) => f.name) });
    }
    return { fired: fired.length };
  }).use(observability(obs));
}

export const handler = fromEnvironment(() => createHandler(readConfig([...ENGINE_CAPABILITIES, 'sweeper'])));
