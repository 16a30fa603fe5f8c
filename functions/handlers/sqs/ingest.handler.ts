import { processPartialResponse, SqsFifoPartialProcessorAsync } from '@aws-lambda-powertools/batch';
import middy from '@middy/core';
import type { Context, SQSBatchResponse, SQSEvent, SQSRecord } from 'aws-lambda';
import * as z from 'zod/mini';
import '../zod-messages.js';
import { handleCustomerEvent } from '../../use-cases/customer-event.use-case.js';
import { webhookEvent } from '../http/schemas.js';
import { readConfig } from '../../config.js';
import { fromEnvironment } from '../lambda.js';
import { observability } from '../observability.js';
import {
  createTableEngineRuntime,
  TABLE_ONLY_CAPABILITIES,
  type EngineRuntime,
  type TableEngineConfig,
  type TableEngineOverrides,
} from '../wiring/engine.js';

const ingestMessage = z.object({ org: z.string(), channelId: z.string(), receivedAt: z.string(), event: webhookEvent });

const validDate = (d: Date): Date | undefined => (Number.isNaN(d.getTime()) ? undefined : d);

/**
 * Applies channel events in per-thread order. A failed record fails the rest of its FIFO group in
 * this batch (they come back, in order, with it); other threads go on. After maxReceiveCount the
 * queue moves a record to its DLQ: nothing is dropped silently.
 */
async function applyRecord({ deps, obs }: EngineRuntime, record: SQSRecord): Promise<void> {
  const msg = ingestMessage.parse(JSON.parse(record.body));
  // when the webhook took the event (T-2 early ends compare it when the event has no occurredAt)
  const receivedAt = new Date(msg.receivedAt);
  const outcome = await handleCustomerEvent(deps, msg.org, msg.channelId, msg.event, validDate(receivedAt));
  if (outcome.outcome === 'created' || outcome.outcome === 'transitioned') obs.count('Transitions');
  obs.logger.info('channel event applied', {
    org: msg.org,
    channelId: msg.channelId,
    eventId: msg.event.eventId,
    type: msg.event.type,
    outcome: outcome.outcome,
    ...('conversation' in outcome ? { conversationId: outcome.conversation.id } : {}),
    ...('conversationId' in outcome ? { conversationId: outcome.conversationId } : {}),
  });
}

/** DynamoDB only: the timers and notifications a customer event causes follow from the table's stream. */
export function createHandler(config: TableEngineConfig, overrides: TableEngineOverrides = {}) {
  const rt = createTableEngineRuntime(config, overrides);
  const processor = new SqsFifoPartialProcessorAsync();
  return middy(async (event: SQSEvent, context: Context): Promise<SQSBatchResponse> =>
    processPartialResponse(event, (record: SQSRecord) => applyRecord(rt, record), processor, {
      context,
      skipGroupOnError: true,
      throwOnFullBatchFailure: false,
    }),
  ).use(observability(rt.obs));
}

export const handler = fromEnvironment(() => createHandler(readConfig(TABLE_ONLY_CAPABILITIES)));
