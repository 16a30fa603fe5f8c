import { processPartialResponse, SqsFifoPartialProcessorAsync } from '@aws-lambda-powertools/batch';
import { MetricUnit } from '@aws-lambda-powertools/metrics';
import middy from '@middy/core';
import type { Context, SQSBatchResponse, SQSEvent, SQSRecord } from 'aws-lambda';
import * as z from 'zod/mini';
import { handleCustomerEvent } from '../../use-cases/customer-event.use-case.js';
import { webhookEvent } from '../http/schemas.js';
import { getRuntime, logger, metrics, observability } from '../runtime.js';
import '../zod-messages.js';

const ingestMessage = z.object({ org: z.string(), channelId: z.string(), receivedAt: z.string(), event: webhookEvent });

/**
 * Applies channel events in per-thread order. A failed record fails the rest of its FIFO group in
 * this batch (they come back, in order, with it); other threads go on. After maxReceiveCount the
 * queue moves a record to its DLQ: nothing is dropped silently.
 */
async function applyRecord(record: SQSRecord): Promise<void> {
  const msg = ingestMessage.parse(JSON.parse(record.body));
  const outcome = await handleCustomerEvent(getRuntime().deps, msg.org, msg.channelId, msg.event);
  if (outcome.outcome === 'created' || outcome.outcome === 'transitioned')
    metrics.addMetric('Transitions', MetricUnit.Count, 1);
  logger.info('channel event applied', {
    org: msg.org,
    channelId: msg.channelId,
    eventId: msg.event.eventId,
    type: msg.event.type,
    outcome: outcome.outcome,
    ...('conversation' in outcome ? { conversationId: outcome.conversation.id } : {}),
    ...('conversationId' in outcome ? { conversationId: outcome.conversationId } : {}),
  });
}

const processor = new SqsFifoPartialProcessorAsync();

export const handler = middy(async (event: SQSEvent, context: Context): Promise<SQSBatchResponse> =>
  processPartialResponse(event, applyRecord, processor, {
    context,
    skipGroupOnError: true,
    throwOnFullBatchFailure: false,
  }),
).use(observability());
