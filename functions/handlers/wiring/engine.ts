import type { SQSClient } from '@aws-sdk/client-sqs';
import type { DynamoRepositories } from '../../adapters/dynamodb/repositories/index.js';
import { SqsNotifier } from '../../adapters/sqs-notifier.js';
import { systemClock, ulidIds } from '../../adapters/system-clock.js';
import type { ConfigFor, QueueConfig } from '../../config.js';
import type { Clock } from '../../ports/clock.js';
import type { Notifier } from '../../ports/notifier.js';
import type { Scheduler } from '../../ports/scheduler.js';
import { createEngine } from '../../use-cases/create-engine.js';
import type { ApiDeps, EngineDeps } from '../../use-cases/engine.js';
import { createObservability, type Observability } from '../observability.js';
import { createRepositories } from './dynamodb.js';
import { createEventBridgeScheduler } from './scheduler.js';
import { createSqsClient } from './sqs.js';

/**
 * What a function that reads or changes conversations or agents needs in the request path (HTTP
 * groups, the ingest and timers consumers): decide -> commit, DynamoDB only. What a commit causes
 * (schedules, notifications, dispatch) follows from the table's stream, in the follow-ups function.
 * These functions build no scheduler or SQS client, and their bundles carry none (esbuild drops
 * the unused wiring below: the SDK clients are side-effect free).
 */
export const TABLE_ONLY_CAPABILITIES = ['observability', 'dynamodb'] as const;

export type TableEngineConfig = ConfigFor<'observability' | 'dynamodb'>;

/** What the local runtime and the tests swap in a table-only function: the virtual clock, instrumented repositories. */
export interface TableEngineOverrides {
  clock?: Clock;
  repositories?: DynamoRepositories;
}

/**
 * What the follow-ups (the table's stream consumer) need: the table, EventBridge Scheduler (a
 * committed outbox timer gets its schedule) and the outbound queue (notifications). The Lambda
 * entry reads all four from the environment (the stack sets them; a missing one fails the cold
 * start). A config object may leave out `scheduler` (the sweeper alone fires timers from the
 * outbox; the local runtime passes its own scheduler as an override) or `outboundQueue`
 * (notifications then stay in the outbox).
 */
export const ENGINE_CAPABILITIES = ['observability', 'dynamodb', 'scheduler', 'outboundQueue'] as const;

export type EngineConfig = ConfigFor<'observability' | 'dynamodb'> & Partial<ConfigFor<'scheduler' | 'outboundQueue'>>;

/** What the local runtime and the tests swap: the virtual clock, the local scheduler, instrumented repositories or client. */
export interface EngineOverrides extends TableEngineOverrides {
  /** replaces the EventBridge scheduler (the local runtime's wakes its sweeper) */
  scheduler?: Scheduler;
  /** the SQS client of the notifier */
  sqs?: SQSClient;
}

export interface EngineRuntime {
  deps: EngineDeps;
  repositories: DynamoRepositories;
  obs: Observability;
}

/**
 * What an HTTP group's routes get from an EngineRuntime: the engine's dependencies, typed by their
 * ports. A route hands them to a use case; it never reaches a repository itself.
 */
export interface ApiRuntime {
  deps: ApiDeps;
}

/** The ports a runtime may have beyond the table. */
export interface EnginePorts {
  scheduler?: Scheduler;
  notifier?: Notifier;
}

/** The engine on its table, with only the ports given (none: no scheduler, no notifier). */
export function createTableEngineRuntime(
  config: TableEngineConfig,
  overrides: TableEngineOverrides = {},
  ports: EnginePorts = {},
): EngineRuntime {
  const obs = createObservability(config.observability);
  const repositories = overrides.repositories ?? createRepositories(config.dynamodb);
  const deps = createEngine({
    ...repositories,
    clock: overrides.clock ?? systemClock,
    ids: ulidIds,
    log: obs.log,
    ...(ports.scheduler ? { scheduler: ports.scheduler } : {}),
    ...(ports.notifier ? { notifier: ports.notifier } : {}),
  });
  return { deps, repositories, obs };
}

/** Participant notifications (E-2) to the outbound queue. */
export function createNotifier(config: QueueConfig, sqs?: SQSClient): Notifier {
  return new SqsNotifier(sqs ?? createSqsClient(config), config.url);
}

/** The engine with every port its config names: the table, the scheduler, the notifier. */
export function createEngineRuntime(config: EngineConfig, overrides: EngineOverrides = {}): EngineRuntime {
  const scheduler =
    overrides.scheduler ?? (config.scheduler ? createEventBridgeScheduler(config.scheduler) : undefined);
  const notifier = config.outboundQueue ? createNotifier(config.outboundQueue, overrides.sqs) : undefined;
  return createTableEngineRuntime(config, overrides, {
    ...(scheduler ? { scheduler } : {}),
    ...(notifier ? { notifier } : {}),
  });
}
