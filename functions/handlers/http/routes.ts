import { adminRoutes } from './admin.handler.js';
import { agentRoutes } from './agents.handler.js';
import { conversationRoutes } from './conversations.handler.js';
import { healthRoutes } from './health.handler.js';
import type { Route } from './http-handler.js';
import { queueRoutes } from './queues.handler.js';
import { webhookRoutes } from './webhooks.handler.js';

/**
 * Every HTTP route, by handler group. One Lambda per group in AWS (the CDK stack reads this list to
 * declare API Gateway routes); the local server dispatches with the same list; openapi.yaml is
 * checked against it.
 */
export const ROUTE_GROUPS = {
  health: { module: 'health', routes: healthRoutes },
  admin: { module: 'admin', routes: adminRoutes },
  conversations: { module: 'conversations', routes: conversationRoutes },
  agents: { module: 'agents', routes: agentRoutes },
  queues: { module: 'queues', routes: queueRoutes },
  webhooks: { module: 'webhooks', routes: webhookRoutes },
} as const satisfies Record<string, { module: string; routes: Route[] }>;

export type RouteGroup = keyof typeof ROUTE_GROUPS;

export const ALL_ROUTES: readonly (Route & { group: RouteGroup })[] = Object.entries(ROUTE_GROUPS).flatMap(([group, g]) =>
  g.routes.map((r) => ({ ...r, group: group as RouteGroup })),
);
