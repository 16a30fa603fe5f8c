import { getRuntime } from '../runtime.js';
import { found, httpGroup, ok, parse, type Route } from './http-handler.js';
import { pageQuery } from './schemas.js';
import { conversationView } from './views.js';

export const queueRoutes: Route[] = [
  {
    auth: 'jwt',
    roles: ['agent', 'supervisor', 'admin'],
    method: 'GET',
    path: '/v1/queues/{id}/open-items',
    async handle({ claims, params, query }) {
      const { store } = getRuntime();
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

export const handler = httpGroup(queueRoutes);
