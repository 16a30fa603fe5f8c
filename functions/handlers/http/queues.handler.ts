import type { DynamoConversationStore } from '../../adapters/dynamodb/conversation-store.js';
import { readConfig, type ConfigFor } from '../../config.js';
import { fromEnvironment } from '../lambda.js';
import { createObservability } from '../observability.js';
import { createStore } from '../wiring/dynamodb.js';
import { found, httpGroup, ok, parse, type Route } from './http-handler.js';
import { pageQuery } from './schemas.js';
import { conversationView } from './views.js';

interface QueuesRuntime {
  store: DynamoConversationStore;
}

export const queueRoutes: Route<QueuesRuntime>[] = [
  {
    auth: 'jwt',
    roles: ['agent', 'supervisor', 'admin'],
    method: 'GET',
    path: '/v1/queues/{id}/open-items',
    async handle({ claims, params, query }, { store }) {
      const id = params.id as string;
      await found(store.getQueue(claims.org, id), 'queue', id);
      const { limit, cursor } = parse(pageQuery, query, 'query');
      const page = await store.listOpenItems(claims.org, id, { limit, ...(cursor ? { cursor } : {}) });
      return ok({
        items: page.items.map(conversationView),
        ...(page.nextCursor ? { nextCursor: page.nextCursor } : {}),
      });
    },
  },
];

/** Reads only: the table, no queue or scheduler client. */
export type QueuesConfig = ConfigFor<'observability' | 'dynamodb'>;

export const createHandler = (config: QueuesConfig, overrides: { store?: DynamoConversationStore } = {}) =>
  httpGroup(
    queueRoutes,
    { store: overrides.store ?? createStore(config.dynamodb) },
    createObservability(config.observability),
  );

export const handler = fromEnvironment(() => createHandler(readConfig(['observability', 'dynamodb'])));
