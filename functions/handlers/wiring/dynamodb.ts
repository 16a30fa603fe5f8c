import { createDocumentClient } from '../../adapters/dynamodb/client.js';
import { DynamoConversationStore } from '../../adapters/dynamodb/conversation-store.js';
import type { DynamoConfig } from '../../config.js';

/** The engine's store on its table (the DynamoDB client is the only SDK client this imports). */
export function createStore(config: DynamoConfig): DynamoConversationStore {
  const doc = createDocumentClient({
    region: config.region,
    ...(config.endpoint ? { endpoint: config.endpoint } : {}),
  });
  return new DynamoConversationStore(doc, config.tableName);
}

/** What the tests and the local runtime swap in a function that only reads the table: an instrumented store. */
export interface StoreOverrides {
  store?: DynamoConversationStore;
}

/** The table as a function with no engine (no clock, no ids) hands it to its use cases: `deps.store`. */
export interface StoreRuntime {
  deps: { store: DynamoConversationStore };
}

export const createStoreRuntime = (config: DynamoConfig, overrides: StoreOverrides = {}): StoreRuntime => ({
  deps: { store: overrides.store ?? createStore(config) },
});
