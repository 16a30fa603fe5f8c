import { MetricUnit } from '@aws-lambda-powertools/metrics';
import middy from '@middy/core';
import type { DynamoDBBatchResponse, DynamoDBStreamEvent } from 'aws-lambda';
import { runFollowUps } from '../../follow-ups/run-follow-ups.js';
import { getRuntime, logger, metrics, observability } from '../runtime.js';

/**
 * The table's stream consumer (event source mapping with ReportBatchItemFailures): runs what the
 * committed changes cause. A failed follow-up is reported by its first record, so the shard resumes
 * there; after the mapping's retries a record goes to the on-failure destination, and the outbox's
 * dispatch timers and the sweeper still cover what it would have done.
 */
export const handler = middy(async (event: DynamoDBStreamEvent): Promise<DynamoDBBatchResponse> => {
  const result = await runFollowUps(getRuntime().deps, event.Records);
  metrics.addMetric('FollowUps', MetricUnit.Count, result.tasks);
  if (result.failed.length) {
    metrics.addMetric('FollowUpFailures', MetricUnit.Count, result.failed.length);
    logger.warn('follow-ups failed; their records will be delivered again', { failed: result.failed });
  }
  return { batchItemFailures: result.failed.map((itemIdentifier) => ({ itemIdentifier })) };
}).use(observability());
