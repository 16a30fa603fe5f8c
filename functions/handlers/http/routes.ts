import { adminRoutes, handler as admin } from './admin.handler.js';
import { agentRoutes, handler as agents } from './agents.handler.js';
import { conversationRoutes, handler as conversations } from './conversations.handler.js';
import { healthRoutes, handler as health } from './health.handler.js';
import type { Route } from './http-handler.js';
import { queueRoutes, handler as queues } from './queues.handler.js';
import type { RouteGroup } from './route-table.js';
import { webhookRoutes, handler as webhooks } from './webhooks.handler.js';

export type { RouteGroup } from './route-table.js';

/**
 * Every HTTP handler group with its route implementations, for the processes that serve all
 * groups at once: the local server and the test rigs. It imports every handler, so nothing that
 * is bundled or deployed may import it: each Lambda's entry is its own `<group>.handler.ts`, and
 * the CDK stack reads the data-only route-table.ts.
 */
export const ROUTE_GROUPS = {
  health: { module: 'health', routes: healthRoutes, handler: health },
  admin: { module: 'admin', routes: adminRoutes, handler: admin },
  conversations: { module: 'conversations', routes: conversationRoutes, handler: conversations },
  agents: { module: 'agents', routes: agentRoutes, handler: agents },
  queues: { module: 'queues', routes: queueRoutes, handler: queues },
  webhooks: { module: 'webhooks', routes: webhookRoutes, handler: webhooks },
} as const satisfies Record<RouteGroup, { module: string; routes: Route[]; handler: unknown }>;
