import type { Channel, ChannelKind, Contact } from '../../domain/model.js';
import {
  configureAgent,
  configureChannel,
  configureContact,
  configureSettings,
  configureTrigger,
  configureWorkstream,
} from '../../use-cases/admin.use-case.js';
import { readConfig } from '../../config.js';
import { fromEnvironment } from '../lambda.js';
import {
  createTableEngineRuntime,
  TABLE_ONLY_CAPABILITIES,
  type EngineRuntime,
  type TableEngineConfig,
  type TableEngineOverrides,
} from '../wiring/engine.js';
import { found, httpGroup, ok, parse, type Route } from './http-handler.js';
import {
  agentBody,
  channelBody,
  contactBody,
  queueBody,
  settingsBody,
  triggerBody,
  workstreamBody,
} from './schemas.js';
import { agentView } from './views.js';

/** Admin configuration: PUT creates or replaces, GET reads (role admin). */
const admin = { auth: 'jwt', roles: ['admin'] } as const;

export const adminRoutes: Route<EngineRuntime>[] = [
  {
    ...admin,
    method: 'PUT',
    path: '/v1/admin/settings',
    async handle({ claims, json }, rt) {
      const body = parse(settingsBody, json);
      const settings = { org: claims.org, ...body };
      await configureSettings(rt.deps, settings);
      return ok(settings);
    },
  },
  {
    ...admin,
    method: 'GET',
    path: '/v1/admin/settings',
    handle: async ({ claims }, rt) => ok(await rt.store.getSettings(claims.org)),
  },
  {
    ...admin,
    method: 'PUT',
    path: '/v1/admin/workstreams/{id}',
    handle: async ({ claims, params, json }, rt) =>
      ok(await configureWorkstream(rt.deps, claims.org, params.id as string, parse(workstreamBody, json))),
  },
  {
    ...admin,
    method: 'GET',
    path: '/v1/admin/workstreams/{id}',
    handle: async ({ claims, params }, rt) =>
      ok(await found(rt.store.getWorkstream(claims.org, params.id as string), 'workstream', params.id)),
  },
  {
    ...admin,
    method: 'PUT',
    path: '/v1/admin/queues/{id}',
    async handle({ claims, params, json }, rt) {
      const q = { org: claims.org, id: params.id as string, ...parse(queueBody, json) };
      await rt.store.putQueue(q);
      return ok(q);
    },
  },
  {
    ...admin,
    method: 'GET',
    path: '/v1/admin/queues/{id}',
    handle: async ({ claims, params }, rt) =>
      ok(await found(rt.store.getQueue(claims.org, params.id as string), 'queue', params.id)),
  },
  {
    ...admin,
    method: 'PUT',
    path: '/v1/admin/channels/{id}',
    async handle({ claims, params, json }, rt) {
      const body = parse(channelBody, json);
      return ok(
        await configureChannel(rt.deps, claims.org, params.id as string, { ...body, kind: body.kind as ChannelKind }),
      );
    },
  },
  {
    ...admin,
    method: 'GET',
    path: '/v1/admin/channels/{id}',
    handle: async ({ claims, params }, rt) =>
      ok(await found<Channel>(rt.store.getChannel(claims.org, params.id as string), 'channel', params.id)),
  },
  {
    ...admin,
    method: 'PUT',
    path: '/v1/admin/contacts/{id}',
    async handle({ claims, params, json }, rt) {
      const body = parse(contactBody, json);
      const contact: Contact = { org: claims.org, id: params.id as string, ...body, attributes: body.attributes ?? {} };
      await configureContact(rt.deps, contact);
      return ok(contact);
    },
  },
  {
    ...admin,
    method: 'GET',
    path: '/v1/admin/contacts/{id}',
    handle: async ({ claims, params }, rt) =>
      ok(await found(rt.store.getContact(claims.org, params.id as string), 'contact', params.id)),
  },
  {
    ...admin,
    method: 'GET',
    path: '/v1/admin/agents/{id}',
    async handle({ claims, params }, rt) {
      const agent = await found(rt.store.getAgent(claims.org, params.id as string), 'agent', params.id);
      return ok(agentView(agent, await rt.store.getSettings(claims.org), rt.deps.clock.now()));
    },
  },
  {
    ...admin,
    method: 'PUT',
    path: '/v1/admin/agents/{id}',
    async handle({ claims, params, json }, rt) {
      const body = parse(agentBody, json);
      const id = params.id as string;
      await configureAgent(rt.deps, {
        org: claims.org,
        id,
        name: body.name,
        queues: body.queues,
        bot: body.bot ?? false,
        capacity: body.capacity,
      });
      const agent = await found(rt.store.getAgent(claims.org, id), 'agent', id);
      return ok(agentView(agent, await rt.store.getSettings(claims.org), rt.deps.clock.now()));
    },
  },
  {
    ...admin,
    method: 'PUT',
    path: '/v1/admin/triggers/{id}',
    async handle({ claims, params, json }, rt) {
      const trigger = { org: claims.org, id: params.id as string, ...parse(triggerBody, json) };
      await configureTrigger(rt.deps, trigger);
      return ok(trigger);
    },
  },
  {
    ...admin,
    method: 'GET',
    path: '/v1/admin/triggers',
    handle: async ({ claims }, rt) => ok({ items: await rt.store.listTriggers(claims.org) }),
  },
];

/** DynamoDB only: the work a configuration change dispatches follows from the table's stream. */
export function createHandler(config: TableEngineConfig, overrides: TableEngineOverrides = {}) {
  const rt = createTableEngineRuntime(config, overrides);
  return httpGroup(adminRoutes, rt, rt.obs);
}

export const handler = fromEnvironment(() => createHandler(readConfig(TABLE_ONLY_CAPABILITIES)));
