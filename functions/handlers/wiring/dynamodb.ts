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
