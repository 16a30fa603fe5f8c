import { ForbiddenActionError } from '../../domain/errors.js';
import { setConnection, setPresence, signIn, signOut } from '../../use-cases/agent-presence.use-case.js';
import { readConfig } from '../../config.js';
import { fromEnvironment } from '../lambda.js';
import {
  createTableEngineRuntime,
  TABLE_ONLY_CAPABILITIES,
  type EngineRuntime,
  type TableEngineConfig,
  type TableEngineOverrides,
} from '../wiring/engine.js';
import type { Claims } from './auth.js';
import { found, httpGroup, ok, parse, type Route, type RouteResponse } from './http-handler.js';
import { connectionBody, emptyBody, presenceBody } from './schemas.js';
import { agentView, conversationView } from './views.js';

const self = { auth: 'jwt', roles: ['agent'] } as const;

async function viewOf(rt: EngineRuntime, claims: Claims, id: string): Promise<RouteResponse> {
  const [agent, settings] = await Promise.all([
    found(rt.store.getAgent(claims.org, id), 'agent', id),
    rt.store.getSettings(claims.org),
  ]);
  return ok(agentView(agent, settings, rt.deps.clock.now()));
}

export const agentRoutes: Route<EngineRuntime>[] = [
  {
    auth: 'jwt',
    roles: ['agent', 'supervisor', 'admin'],
    method: 'GET',
    path: '/v1/agents/{id}',
    async handle({ claims, params }, rt) {
      const id = params.id === 'me' ? claims.sub : (params.id as string);
      const elevated = claims.roles.includes('supervisor') || claims.roles.includes('admin');
      if (!elevated && id !== claims.sub) throw new ForbiddenActionError('an agent can read only their own profile');
      return viewOf(rt, claims, id);
    },
  },
  {
    ...self,
    method: 'GET',
    path: '/v1/agents/me/work-items',
    handle: async ({ claims }, rt) =>
      ok({ items: (await rt.store.listWorkItems(claims.org, claims.sub)).map(conversationView) }),
  },
  {
    ...self,
    method: 'PUT',
    path: '/v1/agents/me/presence',
    async handle({ claims, json }, rt) {
      await setPresence(rt.deps, claims.org, claims.sub, parse(presenceBody, json).presence);
      return viewOf(rt, claims, claims.sub);
    },
  },
  {
    ...self,
    method: 'POST',
    path: '/v1/agents/me/sign-in',
    async handle({ claims, json }, rt) {
      parse(emptyBody, json);
      await signIn(rt.deps, claims.org, claims.sub);
      return viewOf(rt, claims, claims.sub);
    },
  },
  {
    ...self,
    method: 'POST',
    path: '/v1/agents/me/sign-out',
    async handle({ claims, json }, rt) {
      parse(emptyBody, json);
      await signOut(rt.deps, claims.org, claims.sub);
      return viewOf(rt, claims, claims.sub);
    },
  },
  {
    ...self,
    method: 'POST',
    path: '/v1/agents/me/connection',
    async handle({ claims, json }, rt) {
      await setConnection(rt.deps, claims.org, claims.sub, parse(connectionBody, json).connected);
      return viewOf(rt, claims, claims.sub);
    },
  },
];

/** DynamoDB only: the dispatch and timers a presence change causes follow from the table's stream. */
export function createHandler(config: TableEngineConfig, overrides: TableEngineOverrides = {}) {
  const rt = createTableEngineRuntime(config, overrides);
  return httpGroup(agentRoutes, rt, rt.obs);
}

export const handler = fromEnvironment(() => createHandler(readConfig(TABLE_ONLY_CAPABILITIES)));
