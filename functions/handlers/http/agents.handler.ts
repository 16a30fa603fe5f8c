import { agentProfile, agentState, listAgentStates } from '../../use-cases/agent-reads.use-case.js';
import { setConnection, setPresence, signIn, signOut } from '../../use-cases/agent-presence.use-case.js';
import { workItems } from '../../use-cases/conversation-reads.use-case.js';
import { readConfig } from '../../config.js';
import { fromEnvironment } from '../lambda.js';
import {
  createTableEngineRuntime,
  TABLE_ONLY_CAPABILITIES,
  type ApiRuntime,
  type TableEngineConfig,
  type TableEngineOverrides,
} from '../wiring/engine.js';
import { callerOf, type Claims } from './auth.js';
import { httpGroup, ok, parse, type Route, type RouteResponse } from './http-handler.js';
import { agentListQuery, connectionBody, emptyBody, presenceBody } from './schemas.js';
import { agentStateView, agentView, listView, pageView, viewAt } from './views.js';

const self = { auth: 'jwt', roles: ['agent'] } as const;

/** The caller's own agent, as each presence change answers it. */
const me = async (rt: ApiRuntime, claims: Claims): Promise<RouteResponse> =>
  ok(agentView(await agentState(rt.deps, claims.org, claims.sub)));

export const agentRoutes: Route<ApiRuntime>[] = [
  {
    auth: 'jwt',
    roles: ['supervisor', 'admin'],
    method: 'GET',
    path: '/v1/agents',
    async handle({ claims, query }, rt) {
      const q = parse(agentListQuery, query, 'query');
      return ok(pageView(await listAgentStates(rt.deps, callerOf(claims), q), agentStateView));
    },
  },
  {
    auth: 'jwt',
    roles: ['agent', 'supervisor', 'admin'],
    method: 'GET',
    path: '/v1/agents/{id}',
    async handle({ claims, params }, rt) {
      const id = params.id === 'me' ? claims.sub : (params.id as string);
      return ok(agentView(await agentProfile(rt.deps, callerOf(claims), id)));
    },
  },
  {
    ...self,
    method: 'GET',
    path: '/v1/agents/me/work-items',
    handle: async ({ claims }, rt) =>
      ok(listView(await workItems(rt.deps, claims.org, claims.sub), viewAt(rt.deps.clock.now()))),
  },
  {
    ...self,
    method: 'PUT',
    path: '/v1/agents/me/presence',
    async handle({ claims, json }, rt) {
      await setPresence(rt.deps, claims.org, claims.sub, parse(presenceBody, json).presence);
      return me(rt, claims);
    },
  },
  {
    ...self,
    method: 'POST',
    path: '/v1/agents/me/sign-in',
    async handle({ claims, json }, rt) {
      parse(emptyBody, json);
      await signIn(rt.deps, claims.org, claims.sub);
      return me(rt, claims);
    },
  },
  {
    ...self,
    method: 'POST',
    path: '/v1/agents/me/sign-out',
    async handle({ claims, json }, rt) {
      parse(emptyBody, json);
      await signOut(rt.deps, claims.org, claims.sub);
      return me(rt, claims);
    },
  },
  {
    ...self,
    method: 'POST',
    path: '/v1/agents/me/connection',
    async handle({ claims, json }, rt) {
      await setConnection(rt.deps, claims.org, claims.sub, parse(connectionBody, json).connected);
      return me(rt, claims);
    },
  },
];

/** DynamoDB only: the dispatch and timers a presence change causes follow from the table's stream. */
export function createHandler(config: TableEngineConfig, overrides: TableEngineOverrides = {}) {
  const rt = createTableEngineRuntime(config, overrides);
  return httpGroup(agentRoutes, rt, rt.obs);
}

export const handler = fromEnvironment(() => createHandler(readConfig(TABLE_ONLY_CAPABILITIES)));
