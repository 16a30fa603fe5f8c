import { SQSClient } from '@aws-sdk/client-sqs';
import type { QueueConfig } from '../../config.js';

/** An SQS client for a queue's region, or the local emulator when the config names an endpoint. */
export function createSqsClient(config: Pick<QueueConfig, 'region' | 'endpoint'>): SQSClient {
  return new SQSClient({
    region: config.region,
    // the emulator accepts any credentials
    ...(config.endpoint
      ? { endpoint: config.endpoint, credentials: { accessKeyId: 'local', secretAccessKey: 'local' } }
      : {}),
  });
}
