import { readConfig, type ConfigFor } from '../../config.js';
import { openItems } from '../../use-cases/conversation-reads.use-case.js';
import { readQueueState } from '../../use-cases/queue-reads.use-case.js';
import { readQueueMetrics } from '../../use-cases/metrics.use-case.js';
import { readQueuePosition } from '../../use-cases/queue-position.use-case.js';
import type { EngineDeps } from '../../use-cases/engine.js';
import { fromEnvironment } from '../lambda.js';
import { createObservability } from '../observability.js';
import { createStoreRuntime, type StoreOverrides } from '../wiring/dynamodb.js';
import { callerOf } from './auth.js';
import { httpGroup, ok, parse, type Route } from './http-handler.js';
import { pageQuery } from './schemas.js';
import { pageView, queueMetricsView, queuePositionView, queueStateView, viewAt } from './views.js';

interface QueuesRuntime {
  deps: Pick<EngineDeps, 'configuration' | 'lists' | 'agents' | 'clock' | 'queueStats' | 'conversations'>;
}

export const queueRoutes: Route<QueuesRuntime>[] = [
  {
    auth: 'jwt',
    roles: ['agent', 'supervisor', 'admin'],
    method: 'GET',
    path: '/v1/queues/{id}',
    handle: async ({ claims, params }, rt) =>
      ok(queueStateView(await readQueueState(rt.deps, callerOf(claims), params.id as string))),
  },
  {
    auth: 'jwt',
    roles: ['supervisor', 'admin'],
    method: 'GET',
    path: '/v1/queues/{id}/metrics',
    handle: async ({ claims, params }, rt) =>
      ok(queueMetricsView(await readQueueMetrics(rt.deps, claims.org, params.id as string))),
  },
  {
    auth: 'jwt',
    roles: ['agent', 'supervisor', 'admin'],
    method: 'GET',
    path: '/v1/queues/{id}/open-items',
    async handle({ claims, params, query }, rt) {
      const page = parse(pageQuery, query, 'query');
      return ok(
        pageView(await openItems(rt.deps, callerOf(claims), params.id as string, page), viewAt(rt.deps.clock.now())),
      );
    },
  },
  {
    auth: 'jwt',
    roles: ['agent', 'supervisor', 'admin'],
    method: 'GET',
    path: '/v1/conversations/{id}/queue-position',
    handle: async ({ claims, params }, rt) =>
      ok(queuePositionView(await readQueuePosition(rt.deps, callerOf(claims), params.id as string))),
  },
];

/** Reads only: the table, no queue or scheduler client. */
export type QueuesConfig = ConfigFor<'observability' | 'dynamodb'>;

export const createHandler = (config: QueuesConfig, overrides: StoreOverrides = {}) =>
  httpGroup(queueRoutes, createStoreRuntime(config.dynamodb, overrides), createObservability(config.observability));

export const handler = fromEnvironment(() => createHandler(readConfig(['observability', 'dynamodb'])));
