import { createDocumentClient } from '../../adapters/dynamodb/client.js';
import { createDynamoRepositories, type DynamoRepositories } from '../../adapters/dynamodb/repositories/index.js';
import { systemClock } from '../../adapters/system-clock.js';
import type { DynamoConfig } from '../../config.js';
import type { Clock } from '../../ports/clock.js';

/** The engine's repositories on its table (the DynamoDB client is the only SDK client this imports). */
export function createRepositories(config: DynamoConfig): DynamoRepositories {
  const doc = createDocumentClient({
    region: config.region,
    ...(config.endpoint ? { endpoint: config.endpoint } : {}),
  });
  return createDynamoRepositories(doc, config.tableName);
}

/** What the tests and the local runtime swap in a function that only reads the table: instrumented repositories, the virtual clock. */
export interface StoreOverrides {
  repositories?: DynamoRepositories;
  clock?: Clock;
}

/** The table as a function with no engine (no ids, no clients) hands it to its use cases: `deps.lists`, ... */
export interface StoreRuntime {
  /** the clock gives reads their instant (Q-2's effective priority) */
  deps: DynamoRepositories & { clock: Clock };
}

export const createStoreRuntime = (config: DynamoConfig, overrides: StoreOverrides = {}): StoreRuntime => ({
  deps: { ...(overrides.repositories ?? createRepositories(config)), clock: overrides.clock ?? systemClock },
});
