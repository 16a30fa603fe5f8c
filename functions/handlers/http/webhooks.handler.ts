import { SendMessageCommand } from '@aws-sdk/client-sqs';
import { channelRegistration, signatureMatches, toQueueMessage } from '../../use-cases/ingest-webhook.use-case.js';
import { getRuntime, requiredEnv } from '../runtime.js';
import { httpGroup, ok, parse, parseJsonBody, type Route } from './http-handler.js';
import { UnauthorizedError } from './problem.js';
import { webhookEvent } from './schemas.js';

/**
 * Channel webhooks: signature first (401, nothing written), then the body (400), then the FIFO
 * ingestion queue (202). Processing happens in the SQS consumer.
 */
export const webhookRoutes: Route[] = [
  {
    auth: 'none',
    parseJson: false,
    method: 'POST',
    path: '/v1/webhooks/{channelId}',
    async handle({ params, headers, rawBody }) {
      const { store, sqs, deps } = getRuntime();
      const channelId = params.channelId as string;
      const reg = await channelRegistration(store, channelId);
      if (!signatureMatches(reg.secret, rawBody, headers['x-signature']))
        throw new UnauthorizedError('missing or wrong X-Signature');
      const event = parse(webhookEvent, parseJsonBody(rawBody));
      const m = toQueueMessage(reg.org, channelId, event, deps.clock.now());
      await sqs.send(
        new SendMessageCommand({
          QueueUrl: requiredEnv('INGEST_QUEUE_URL'),
          MessageBody: m.body,
          MessageGroupId: m.groupId,
          MessageDeduplicationId: m.deduplicationId,
        }),
      );
      return ok({ accepted: true }, 202);
    },
  },
];

export const handler = httpGroup(webhookRoutes);
