import type { SQSClient } from '@aws-sdk/client-sqs';
import { systemClock } from '../../adapters/system-clock.js';
import type { ConfigFor } from '../../config.js';
import type { Clock } from '../../ports/clock.js';
import type { Configuration } from '../../ports/repositories.js';
import { createRepositories, type StoreOverrides } from './dynamodb.js';
import { createSqsClient } from './sqs.js';

/** The table (the channel's registration) and the ingestion queue: no engine, no scheduler. */
export type WebhooksConfig = ConfigFor<'observability' | 'dynamodb' | 'ingestQueue'>;

export interface WebhooksOverrides extends StoreOverrides {
  clock?: Clock;
  sqs?: SQSClient;
}

export interface WebhooksRuntime {
  /** the channels' webhook registrations: their org and secret */
  registrations: Pick<Configuration, 'getChannelRegistration'>;
  sqs: SQSClient;
  queueUrl: string;
  clock: Clock;
}

export const createWebhooksRuntime = (config: WebhooksConfig, overrides: WebhooksOverrides = {}): WebhooksRuntime => ({
  registrations: (overrides.repositories ?? createRepositories(config.dynamodb)).configuration,
  sqs: overrides.sqs ?? createSqsClient(config.ingestQueue),
  queueUrl: config.ingestQueue.url,
  clock: overrides.clock ?? systemClock,
});
