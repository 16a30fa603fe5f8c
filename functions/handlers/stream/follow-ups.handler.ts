import middy from '@middy/core';
import type { DynamoDBBatchResponse, DynamoDBStreamEvent } from 'aws-lambda';
import { readConfig } from '../../config.js';
import { runFollowUps } from '../../follow-ups/run-follow-ups.js';
import { fromEnvironment } from '../lambda.js';
import { observability } from '../observability.js';
import { createEngineRuntime, ENGINE_CAPABILITIES, type EngineConfig, type EngineOverrides } from '../wiring/engine.js';
import { withQueueSignals } from '../wiring/queue-signals.js';

/**
 * The table's stream consumer (event source mapping with ReportBatchItemFailures): runs what the
 * committed changes cause. A failed follow-up is reported by its first record, so the shard resumes
 * there; after the mapping's retries a record goes to the on-failure destination, and the outbox's
 * dispatch timers and the sweeper still cover what it would have done.
 */
export function createHandler(config: EngineConfig, overrides: EngineOverrides = {}) {
  const rt = createEngineRuntime(config, overrides);
  // MX-1: counted changes also become queue metrics (EMF) for the dashboard
  const deps = withQueueSignals(rt);
  return middy(async (event: DynamoDBStreamEvent): Promise<DynamoDBBatchResponse> => {
    const result = await runFollowUps(deps, event.Records);
    rt.obs.count('FollowUps', result.tasks);
    if (result.failed.length) {
      rt.obs.count('FollowUpFailures', result.failed.length);
      rt.obs.logger.warn('follow-ups failed; their records will be delivered again', {
        errors: result.errors.map((e) => ({ task: e.task, error: String(e.error) })),
      });
    }
    return { batchItemFailures: result.failed.map((itemIdentifier) => ({ itemIdentifier })) };
  }).use(observability(rt.obs));
}

export const handler = fromEnvironment(() => createHandler(readConfig(ENGINE_CAPABILITIES)));
