import type { Role } from './auth.js';

/**
 * Every HTTP route as data: method, path, authentication, roles, summary, and the handler group
 * that serves it. Nothing here imports a handler, so the CDK stack (one Lambda per group, one API
 * Gateway route per entry) and the openapi.yaml check read it without loading the engine. The
 * handlers import only its types, so no bundle carries the table. Each `<group>.handler.ts`
 * implements its own routes; test/unit/route-table.test.ts checks that they are exactly the ones
 * listed here, with the same authentication and roles.
 */

export type Method = 'GET' | 'PUT' | 'POST' | 'DELETE';

/** The handler groups, one Lambda each: functions/handlers/http/<group>.handler.ts */
export const ROUTE_GROUPS = ['health', 'admin', 'conversations', 'agents', 'queues', 'webhooks'] as const;
export type RouteGroup = (typeof ROUTE_GROUPS)[number];

export interface RouteSpec {
  method: Method;
  /** API Gateway route path, e.g. /v1/conversations/{id} */
  path: string;
  /** jwt: claims required; none: public (health, webhooks, which check their own signature) */
  auth: 'jwt' | 'none';
  /** any of these roles (jwt routes) */
  roles?: readonly Role[];
  summary: string;
  group: RouteGroup;
}

/** `GET /v1/conversations/{id}`, as API Gateway names a route (http-handler.ts dispatches on the same key). */
export const routeKey = (r: Pick<RouteSpec, 'method' | 'path'>): string => `${r.method} ${r.path}`;

const health = { group: 'health', auth: 'none' } as const;
const admin = { group: 'admin', auth: 'jwt', roles: ['admin'] } as const;
const conversations = { group: 'conversations', auth: 'jwt', roles: ['agent', 'supervisor', 'admin'] } as const;
const agents = { group: 'agents', auth: 'jwt', roles: ['agent'] } as const;
const queues = { group: 'queues', auth: 'jwt', roles: ['agent', 'supervisor', 'admin'] } as const;
const webhooks = { group: 'webhooks', auth: 'none' } as const;

export const ROUTES: readonly RouteSpec[] = [
  // ---- functions/handlers/http/health.handler.ts ----
  { ...health, method: 'GET', path: '/health', summary: 'Liveness' },
  // ---- functions/handlers/http/admin.handler.ts ----
  { ...admin, method: 'PUT', path: '/v1/admin/settings', summary: 'Replace the org settings' },
  { ...admin, method: 'GET', path: '/v1/admin/settings', summary: 'Read the org settings' },
  { ...admin, method: 'PUT', path: '/v1/admin/workstreams/{id}', summary: 'Create or replace a workstream' },
  { ...admin, method: 'GET', path: '/v1/admin/workstreams/{id}', summary: 'Read a workstream' },
  { ...admin, method: 'PUT', path: '/v1/admin/queues/{id}', summary: 'Create or replace a queue' },
  { ...admin, method: 'GET', path: '/v1/admin/queues/{id}', summary: 'Read a queue' },
  { ...admin, method: 'PUT', path: '/v1/admin/hours/{id}', summary: 'Create or replace operating hours (H-1)' },
  { ...admin, method: 'GET', path: '/v1/admin/hours/{id}', summary: 'Read operating hours' },
  {
    ...admin,
    method: 'PUT',
    path: '/v1/admin/channels/{id}',
    summary: 'Create or replace a channel (its webhook secret is write-only)',
  },
  { ...admin, method: 'GET', path: '/v1/admin/channels/{id}', summary: 'Read a channel (without its secret)' },
  { ...admin, method: 'PUT', path: '/v1/admin/contacts/{id}', summary: 'Create or replace a contact or account (R-6)' },
  { ...admin, method: 'GET', path: '/v1/admin/contacts/{id}', summary: 'Read a contact or account' },
  {
    ...admin,
    method: 'GET',
    path: '/v1/admin/agents/{id}',
    summary: 'Read an agent configuration, presence and capacity',
  },
  {
    ...admin,
    method: 'PUT',
    path: '/v1/admin/agents/{id}',
    summary: 'Create or replace an agent (queues, capacity pools)',
  },
  {
    ...admin,
    method: 'PUT',
    path: '/v1/admin/triggers/{id}',
    summary: 'Create or replace a trigger { when: { event, field, changedTo }, then: [actions] } (M-3)',
  },
  { ...admin, method: 'GET', path: '/v1/admin/triggers', summary: "List the org's triggers (M-3)" },
  {
    ...admin,
    method: 'PUT',
    path: '/v1/admin/message-templates/{event}',
    summary: 'Create or replace the automated message template of an event { text, enabled? } (MS-4)',
  },
  {
    ...admin,
    method: 'GET',
    path: '/v1/admin/message-templates',
    summary: "List the org's message templates (MS-4)",
  },
  // ---- functions/handlers/http/conversations.handler.ts ----
  { ...conversations, method: 'GET', path: '/v1/conversations/{id}', summary: 'Read a conversation' },
  {
    ...conversations,
    method: 'GET',
    path: '/v1/conversations/{id}/events',
    summary: 'The conversation history, oldest first (E-1)',
  },
  {
    ...conversations,
    method: 'GET',
    path: '/v1/conversations',
    summary: 'List conversations by status, queue, agent, channel or thread (an agent sees their own)',
  },
  {
    ...conversations,
    method: 'GET',
    path: '/v1/conversations/{id}/consult-candidates',
    summary: 'Agents a consult may add (X-2)',
  },
  {
    ...conversations,
    roles: ['agent', 'supervisor'],
    method: 'GET',
    path: '/v1/conversations/{id}/notes',
    summary: 'Internal notes, visible to agents and supervisors only (E-3)',
  },
  {
    ...conversations,
    roles: ['agent', 'supervisor'],
    method: 'GET',
    path: '/v1/conversations/{id}/messages',
    summary: 'The transcript, oldest first, paginated: customer, agent and automated messages (MS-1)',
  },
  {
    ...conversations,
    roles: ['agent', 'supervisor'],
    method: 'POST',
    path: '/v1/conversations/{id}/messages',
    summary: 'Reply to the customer: published as message.sent on the outbound queue (MS-2)',
  },
  {
    ...conversations,
    roles: ['agent', 'supervisor'],
    method: 'POST',
    path: '/v1/conversations/{id}/notes',
    summary: 'Add an internal note (E-3; still works after the messaging session ended, M-2)',
  },
  {
    ...conversations,
    method: 'POST',
    path: '/v1/conversations/{id}/actions/{action}',
    summary: 'Apply an action to a conversation (Idempotency-Key supported)',
  },
  // ---- functions/handlers/http/agents.handler.ts ----
  {
    ...agents,
    roles: ['supervisor', 'admin'],
    method: 'GET',
    path: '/v1/agents',
    summary: "The org's agents, or a queue's members, with presence and capacity (MX-2)",
  },
  {
    ...agents,
    roles: ['agent', 'supervisor', 'admin'],
    method: 'GET',
    path: '/v1/agents/{id}',
    summary: 'Read an agent: presence, its source, capacity per pool (`me` for oneself)',
  },
  {
    ...agents,
    method: 'GET',
    path: '/v1/agents/me/work-items',
    summary: "The caller's Active, WrapUp and Waiting conversations",
  },
  { ...agents, method: 'PUT', path: '/v1/agents/me/presence', summary: 'Set presence by hand (P-3)' },
  { ...agents, method: 'POST', path: '/v1/agents/me/sign-in', summary: 'Sign in' },
  { ...agents, method: 'POST', path: '/v1/agents/me/sign-out', summary: 'Sign out (clears a manual presence, P-3)' },
  {
    ...agents,
    method: 'POST',
    path: '/v1/agents/me/connection',
    summary: 'Report a disconnect or reconnect (P-4, T-4a)',
  },
  // ---- functions/handlers/http/queues.handler.ts ----
  { ...queues, method: 'GET', path: '/v1/queues/{id}', summary: 'A queue, whether it is open and until when (H-2)' },
  {
    ...queues,
    roles: ['supervisor', 'admin'],
    method: 'GET',
    path: '/v1/queues/{id}/metrics',
    summary: 'Queue metrics: counts, oldest wait, agents, the last hour (MX-1)',
  },
  {
    ...queues,
    method: 'GET',
    path: '/v1/queues/{id}/open-items',
    summary: 'Open conversations of a queue, oldest first (R-4 pick list)',
  },
  {
    ...queues,
    method: 'GET',
    path: '/v1/conversations/{id}/queue-position',
    summary: "An Open conversation's position in its queue and estimated wait (MX-3)",
  },
  // ---- functions/handlers/http/webhooks.handler.ts ----
  {
    ...webhooks,
    method: 'POST',
    path: '/v1/webhooks/{channelId}',
    summary: 'Receive a channel event (signed with the channel secret)',
  },
];
