import { createDocumentClient } from '../../adapters/dynamodb/client.js';
import { createDynamoRepositories, type DynamoRepositories } from '../../adapters/dynamodb/repositories/index.js';
import type { DynamoConfig } from '../../config.js';

/** The engine's repositories on its table (the DynamoDB client is the only SDK client this imports). */
export function createRepositories(config: DynamoConfig): DynamoRepositories {
  const doc = createDocumentClient({
    region: config.region,
    ...(config.endpoint ? { endpoint: config.endpoint } : {}),
  });
  return createDynamoRepositories(doc, config.tableName);
}

/** What the tests and the local runtime swap in a function that only reads the table: instrumented repositories. */
export interface StoreOverrides {
  repositories?: DynamoRepositories;
}

/** The table as a function with no engine (no clock, no ids) hands it to its use cases: `deps.lists`, ... */
export interface StoreRuntime {
  deps: DynamoRepositories;
}

export const createStoreRuntime = (config: DynamoConfig, overrides: StoreOverrides = {}): StoreRuntime => ({
  deps: overrides.repositories ?? createRepositories(config),
});
