import { SendMessageCommand } from '@aws-sdk/client-sqs';
import { readConfig } from '../../config.js';
import { channelRegistration, signatureRefusal, toQueueMessage } from '../../use-cases/ingest-webhook.use-case.js';
import { fromEnvironment } from '../lambda.js';
import { createObservability } from '../observability.js';
import {
  createWebhooksRuntime,
  type WebhooksConfig,
  type WebhooksOverrides,
  type WebhooksRuntime,
} from '../wiring/webhooks.js';
import { httpGroup, ok, parse, parseJsonBody, type Route } from './http-handler.js';
import { UnauthorizedError } from './problem.js';
import { webhookEvent } from './schemas.js';

export type { WebhooksConfig, WebhooksOverrides } from '../wiring/webhooks.js';

/**
 * Channel webhooks: signature first (401, nothing written; RL-5, and RL-9 on `timestamped` channels,
 * on the engine's clock), then the body (400), then the FIFO ingestion queue (202). Processing
 * happens in the SQS consumer.
 */
export const webhookRoutes: Route<WebhooksRuntime>[] = [
  {
    auth: 'none',
    parseJson: false,
    method: 'POST',
    path: '/v1/webhooks/{channelId}',
    async handle({ params, headers, rawBody }, { registrations, sqs, queueUrl, clock }) {
      const channelId = params.channelId as string;
      const reg = await channelRegistration(registrations, channelId);
      const refusal = signatureRefusal(
        reg,
        rawBody,
        { signature: headers['x-signature'], timestamp: headers['x-signature-timestamp'] },
        clock.now(),
      );
      if (refusal) throw new UnauthorizedError(refusal);
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

export const createHandler = (config: WebhooksConfig, overrides: WebhooksOverrides = {}) =>
  httpGroup(webhookRoutes, createWebhooksRuntime(config, overrides), createObservability(config.observability));

export const handler = fromEnvironment(() => createHandler(readConfig(['observability', 'dynamodb', 'ingestQueue'])));
