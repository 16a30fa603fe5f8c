import type { SQSClient } from '@aws-sdk/client-sqs';
import type { DynamoConversationStore } from '../../adapters/dynamodb/conversation-store.js';
import { SqsNotifier } from '../../adapters/sqs-notifier.js';
import { systemClock, ulidIds } from '../../adapters/system-clock.js';
import type { ConfigFor } from '../../config.js';
import type { Clock } from '../../ports/clock.js';
import type { Scheduler } from '../../ports/scheduler.js';
import { createEngine } from '../../use-cases/create-engine.js';
import type { EngineDeps } from '../../use-cases/engine.js';
import { createObservability, type Observability } from '../observability.js';
import { createStore } from './dynamodb.js';
import { createEventBridgeScheduler } from './scheduler.js';
import { createSqsClient } from './sqs.js';

/**
 * What a function that changes conversations or agents needs: decide -> commit (DynamoDB) -> arm
 * timers (EventBridge Scheduler) -> notify (the outbound queue). The Lambda entries read all four
 * from the environment (the stack sets them; a missing one fails the cold start). A config object
 * may leave out `scheduler` (the sweeper alone fires timers from the outbox; the local runtime passes
 * its own scheduler as an override) or `outboundQueue` (notifications then stay in the outbox).
 */
export const ENGINE_CAPABILITIES = ['observability', 'dynamodb', 'scheduler', 'outboundQueue'] as const;

export type EngineConfig = ConfigFor<'observability' | 'dynamodb'> & Partial<ConfigFor<'scheduler' | 'outboundQueue'>>;

/** What the local runtime and the tests swap: the virtual clock, the local scheduler, an instrumented store or client. */
export interface EngineOverrides {
  clock?: Clock;
  /** replaces the EventBridge scheduler (the local runtime's wakes its sweeper) */
  scheduler?: Scheduler;
  store?: DynamoConversationStore;
  /** the SQS client of the notifier */
  sqs?: SQSClient;
}

export interface EngineRuntime {
  deps: EngineDeps & { store: DynamoConversationStore };
  store: DynamoConversationStore;
  obs: Observability;
}

export function createEngineRuntime(config: EngineConfig, overrides: EngineOverrides = {}): EngineRuntime {
  const obs = createObservability(config.observability);
  const store = overrides.store ?? createStore(config.dynamodb);
  const timers = overrides.scheduler ?? (config.scheduler ? createEventBridgeScheduler(config.scheduler) : undefined);
  const outbound = config.outboundQueue;
  const notifier = outbound ? new SqsNotifier(overrides.sqs ?? createSqsClient(outbound), outbound.url) : undefined;
  const deps = createEngine({
    store,
    clock: overrides.clock ?? systemClock,
    ids: ulidIds,
    log: obs.log,
    ...(timers ? { scheduler: timers } : {}),
    ...(notifier ? { notifier } : {}),
  }) as EngineDeps & { store: DynamoConversationStore };
  return { deps, store, obs };
}
