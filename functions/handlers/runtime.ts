import { SchedulerClient } from '@aws-sdk/client-scheduler';
import { SQSClient } from '@aws-sdk/client-sqs';
import { Logger } from '@aws-lambda-powertools/logger';
import { Metrics } from '@aws-lambda-powertools/metrics';
import { Tracer } from '@aws-lambda-powertools/tracer';
import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import { logMetrics } from '@aws-lambda-powertools/metrics/middleware';
import { captureLambdaHandler } from '@aws-lambda-powertools/tracer/middleware';
import type { MiddlewareObj } from '@middy/core';
import { createDocumentClient } from '../adapters/dynamodb/client.js';
import { DynamoConversationStore } from '../adapters/dynamodb/conversation-store.js';
import { EventBridgeScheduler } from '../adapters/eventbridge-scheduler.js';
import { SqsNotifier } from '../adapters/sqs-notifier.js';
import { systemClock, ulidIds } from '../adapters/system-clock.js';
import type { Clock } from '../ports/clock.js';
import type { Scheduler } from '../ports/scheduler.js';
import { createEngine } from '../use-cases/create-engine.js';
import type { EngineDeps } from '../use-cases/engine.js';

/** Fail fast: a missing variable stops the cold start with its name, not a request later. */
export function requiredEnv(name: string): string {
  const v = process.env[name];
  if (!v) throw new Error(`environment variable ${name} is required`);
  return v;
}

const serviceName = process.env.POWERTOOLS_SERVICE_NAME ?? 'contact-center-engine';
export const logger = new Logger({ serviceName });
/** EMF metrics (namespace from POWERTOOLS_METRICS_NAMESPACE); the local runtime disables them. */
export const metrics = new Metrics({
  serviceName,
  namespace: process.env.POWERTOOLS_METRICS_NAMESPACE ?? 'ContactCenterEngine',
});
/** X-Ray through Powertools; the local runtime disables it (POWERTOOLS_TRACE_ENABLED=false). */
export const tracer = new Tracer({ serviceName });

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
      ...(process.env.SQS_ENDPOINT
        ? { endpoint: process.env.SQS_ENDPOINT, credentials: { accessKeyId: 'local', secretAccessKey: 'local' } }
        : {}),
    });
    const scheduler = overrides.scheduler ?? awsScheduler();
    const log = { warn: (message: string, data?: Record<string, unknown>) => logger.warn(message, data ?? {}) };
    const notifier = process.env.OUTBOUND_QUEUE_URL ? new SqsNotifier(sqs, process.env.OUTBOUND_QUEUE_URL) : undefined;
    const deps = createEngine({
      store,
      clock: overrides.clock ?? systemClock,
      ids: ulidIds,
      log,
      ...(scheduler ? { scheduler } : {}),
      ...(notifier ? { notifier } : {}),
    }) as EngineDeps & {
      store: DynamoConversationStore;
    };
    runtime = { deps, store, sqs };
  }
  return runtime;
}

/** EventBridge Scheduler when the stack configured it (SCHEDULE_GROUP_NAME and friends). */
function awsScheduler(): Scheduler | undefined {
  if (!process.env.SCHEDULE_GROUP_NAME) return undefined;
  return new EventBridgeScheduler(new SchedulerClient({ region: process.env.AWS_REGION ?? 'us-east-1' }), {
    groupName: requiredEnv('SCHEDULE_GROUP_NAME'),
    targetArn: requiredEnv('TIMERS_QUEUE_ARN'),
    roleArn: requiredEnv('SCHEDULER_ROLE_ARN'),
    deadLetterArn: requiredEnv('SCHEDULER_DLQ_ARN'),
  });
}

/** For the local runtime only: the virtual clock and the local scheduler. */
export function configureRuntime(o: { clock?: Clock; scheduler?: Scheduler }): void {
  overrides = o;
  runtime = undefined;
}

/**
 * The Powertools middlewares every handler starts with: tracing, metrics (flushed as EMF; skipped
 * where metrics are disabled, as in the local runtime), and the logger's Lambda context.
 */
export function observability(): MiddlewareObj[] {
  return [
    captureLambdaHandler(tracer),
    ...(process.env.POWERTOOLS_METRICS_DISABLED === 'true' ? [] : [logMetrics(metrics)]),
    injectLambdaContext(logger, { resetKeys: true }),
  ] as MiddlewareObj[];
}
