import { adminRoutes, handler as admin } from './admin.handler.js';
import { agentRoutes, handler as agents } from './agents.handler.js';
import { conversationRoutes, handler as conversations } from './conversations.handler.js';
import { healthRoutes, handler as health } from './health.handler.js';
import type { Route } from './http-handler.js';
import { queueRoutes, handler as queues } from './queues.handler.js';
import { webhookRoutes, handler as webhooks } from './webhooks.handler.js';

/**
 * Every HTTP route, by handler group. One Lambda per group in AWS (the CDK stack reads this list to
 * declare API Gateway routes); the local server dispatches with the same list; openapi.yaml is
 * checked against it.
 */
export const ROUTE_GROUPS = {
  health: { module: 'health', routes: healthRoutes, handler: health },
  admin: { module: 'admin', routes: adminRoutes, handler: admin },
  conversations: { module: 'conversations', routes: conversationRoutes, handler: conversations },
  agents: { module: 'agents', routes: agentRoutes, handler: agents },
  queues: { module: 'queues', routes: queueRoutes, handler: queues },
  webhooks: { module: 'webhooks', routes: webhookRoutes, handler: webhooks },
} as const satisfies Record<string, { module: string; routes: Route[]; handler: unknown }>;

export type RouteGroup = keyof typeof ROUTE_GROUPS;

export const ALL_ROUTES: readonly (Route & { group: RouteGroup })[] = Object.entries(ROUTE_GROUPS).flatMap(
  ([group, g]) => g.routes.map((r) => ({ ...r, group: group as RouteGroup })),
);
