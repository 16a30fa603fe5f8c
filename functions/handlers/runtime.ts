import { SQSClient } from '@aws-sdk/client-sqs';
import { Logger } from '@aws-lambda-powertools/logger';
import { createDocumentClient } from '../adapters/dynamodb/client.js';
import { DynamoConversationStore } from '../adapters/dynamodb/conversation-store.js';
import { systemClock, ulidIds } from '../adapters/system-clock.js';
import type { Clock } from '../ports/clock.js';
import type { Scheduler } from '../ports/scheduler.js';
import type { EngineDeps } from '../use-cases/engine.js';

/** Fail fast: a missing variable stops the cold start with its name, not a request later. */
export function requiredEnv(name: string): string {
  const v = process.env[name];
  if (!v) throw new Error(`environment variable ${name} is required`);
  return v;
}

export const logger = new Logger({ serviceName: process.env.POWERTOOLS_SERVICE_NAME ?? 'contact-center-engine' });

export interface Runtime {
  deps: EngineDeps & { store: DynamoConversationStore };
  store: DynamoConversationStore;
  sqs: SQSClient;
}

let runtime: Runtime | undefined;
let overrides: { clock?: Clock; scheduler?: Scheduler } = {};

/**
 * Builds the adapters once per execution environment from the environment variables. The local
 * runtime sets the same variables (plus endpoints for DynamoDB Local and fauxqs) and may swap the
 * clock and scheduler for its virtual ones before the first request.
 */
export function getRuntime(): Runtime {
  if (!runtime) {
    const doc = createDocumentClient(process.env.DYNAMODB_ENDPOINT ? { endpoint: process.env.DYNAMODB_ENDPOINT } : {});
    const store = new DynamoConversationStore(doc, requiredEnv('TABLE_NAME'));
    const sqs = new SQSClient({
      region: process.env.AWS_REGION ?? 'us-east-1',
      ...(process.env.SQS_ENDPOINT ? { endpoint: process.env.SQS_ENDPOINT, credentials: { accessKeyId: 'local', secretAccessKey: 'local' } } : {}),
    });
    const deps = { store, clock: overrides.clock ?? systemClock, ids: ulidIds, ...(overrides.scheduler ? { scheduler: overrides.scheduler } : {}) };
    runtime = { deps, store, sqs };
  }
  return runtime;
}

/** For the local runtime only: the virtual clock and the local scheduler. */
export function configureRuntime(o: { clock?: Clock; scheduler?: Scheduler }): void {
  overrides = o;
  runtime = undefined;
}
