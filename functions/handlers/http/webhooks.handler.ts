import { SendMessageCommand, type SQSClient } from '@aws-sdk/client-sqs';
import type { DynamoConversationStore } from '../../adapters/dynamodb/conversation-store.js';
import { systemClock } from '../../adapters/system-clock.js';
import { readConfig, type ConfigFor } from '../../config.js';
import type { Clock } from '../../ports/clock.js';
import { channelRegistration, signatureMatches, toQueueMessage } from '../../use-cases/ingest-webhook.use-case.js';
import { fromEnvironment } from '../lambda.js';
import { createObservability } from '../observability.js';
import { createStore } from '../wiring/dynamodb.js';
import { createSqsClient } from '../wiring/sqs.js';
import { httpGroup, ok, parse, parseJsonBody, type Route } from './http-handler.js';
import { UnauthorizedError } from './problem.js';
import { webhookEvent } from './schemas.js';

/**
 * Channel webhooks: signature first (401, nothing written), then the body (400), then the FIFO
 * ingestion queue (202). Processing happens in the SQS consumer.
 */
interface WebhooksRuntime {
  store: DynamoConversationStore;
  sqs: SQSClient;
  queueUrl: string;
  clock: Clock;
}

export const webhookRoutes: Route<WebhooksRuntime>[] = [
  {
    auth: 'none',
    parseJson: false,
    method: 'POST',
    path: '/v1/webhooks/{channelId}',
    async handle({ params, headers, rawBody }, { store, sqs, queueUrl, clock }) {
      const channelId = params.channelId as string;
      const reg = await channelRegistration(store, channelId);
      if (!signatureMatches(reg.secret, rawBody, headers['x-signature']))
        throw new UnauthorizedError('missing or wrong X-Signature');
      const event = parse(webhookEvent, parseJsonBody(rawBody));
      const m = toQueueMessage(reg.org, channelId, event, clock.now());
      await sqs.send(
        new SendMessageCommand({
          QueueUrl: queueUrl,
          MessageBody: m.body,
          MessageGroupId: m.groupId,
          MessageDeduplicationId: m.deduplicationId,
        }),
      );
      return ok({ accepted: true }, 202);
    },
  },
];

/** The table (the channel's registration) and the ingestion queue: no engine, no scheduler. */
export type WebhooksConfig = ConfigFor<'observability' | 'dynamodb' | 'ingestQueue'>;

export interface WebhooksOverrides {
  clock?: Clock;
  store?: DynamoConversationStore;
  sqs?: SQSClient;
}

export const createHandler = (config: WebhooksConfig, overrides: WebhooksOverrides = {}) =>
  httpGroup(
    webhookRoutes,
    {
      store: overrides.store ?? createStore(config.dynamodb),
      sqs: overrides.sqs ?? createSqsClient(config.ingestQueue),
      queueUrl: config.ingestQueue.url,
      clock: overrides.clock ?? systemClock,
    },
    createObservability(config.observability),
  );

export const handler = fromEnvironment(() => createHandler(readConfig(['observability', 'dynamodb', 'ingestQueue'])));
