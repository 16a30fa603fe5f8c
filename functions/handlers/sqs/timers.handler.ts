import { BatchProcessor, EventType, processPartialResponse } from '@aws-lambda-powertools/batch';
import { MetricUnit } from '@aws-lambda-powertools/metrics';
import middy from '@middy/core';
import type { Context, SQSBatchResponse, SQSEvent, SQSRecord } from 'aws-lambda';
import * as z from 'zod/mini';
import { TIMER_KINDS } from '../../domain/writes.js';
import { fireTimer } from '../../use-cases/timers.use-case.js';
import { getRuntime, logger, metrics, observability } from '../runtime.js';
import '../zod-messages.js';

const dueTimer = z.object({
  name: z.string().check(z.minLength(1), z.maxLength(64)),
  kind: z.enum(TIMER_KINDS),
  org: z.string().check(z.minLength(1)),
  conversationId: z.optional(z.string()),
  agentId: z.optional(z.string()),
  version: z.int(),
  at: z.string(),
  key: z.optional(z.string()),
  subjectSince: z.optional(z.string()),
});

/** EventBridge Scheduler delivers each timer to the timers queue; this applies it (TM-5 safe). */
async function applyTimer(record: SQSRecord): Promise<void> {
  const timer = dueTimer.parse(JSON.parse(record.body));
  const { deps, store } = getRuntime();
  const fired = await fireTimer(deps, timer);
  if (!fired.keep) await store.deleteTimer(timer.org, timer.name);
  metrics.addMetric('TimerFires', MetricUnit.Count, 1);
  logger.info('timer fired', { ...fired });
}

const processor = new BatchProcessor(EventType.SQS);

export const handler = middy(async (event: SQSEvent, context: Context): Promise<SQSBatchResponse> =>
  processPartialResponse(event, applyTimer, processor, { context, throwOnFullBatchFailure: false }),
).use(observability());
