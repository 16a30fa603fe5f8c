import type { Channel, ChannelKind, Contact } from '../../domain/model.js';
import {
  configureAgent,
  configureChannel,
  configureContact,
  configureSettings,
  configureTrigger,
  configureWorkstream,
} from '../../use-cases/admin.use-case.js';
import { getRuntime } from '../runtime.js';
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
const store = () => getRuntime().store;

export const adminRoutes: Route[] = [
  {
    ...admin,
    method: 'PUT',
    path: '/v1/admin/settings',
    async handle({ claims, json }) {
      const body = parse(settingsBody, json);
      const settings = { org: claims.org, ...body };
      await configureSettings(getRuntime().deps, store(), settings);
      return ok(settings);
    },
  },
  {
    ...admin,
    method: 'GET',
    path: '/v1/admin/settings',
    handle: async ({ claims }) => ok(await store().getSettings(claims.org)),
  },
  {
    ...admin,
    method: 'PUT',
    path: '/v1/admin/workstreams/{id}',
    handle: async ({ claims, params, json }) =>
      ok(await configureWorkstream(store(), claims.org, params.id as string, parse(workstreamBody, json))),
  },
  {
    ...admin,
    method: 'GET',
    path: '/v1/admin/workstreams/{id}',
    handle: async ({ claims, params }) =>
      ok(await found(store().getWorkstream(claims.org, params.id as string), 'workstream', params.id)),
  },
  {
    ...admin,
    method: 'PUT',
    path: '/v1/admin/queues/{id}',
    async handle({ claims, params, json }) {
      const q = { org: claims.org, id: params.id as string, ...parse(queueBody, json) };
      await store().putQueue(q);
      return ok(q);
    },
  },
  {
    ...admin,
    method: 'GET',
    path: '/v1/admin/queues/{id}',
    handle: async ({ claims, params }) =>
      ok(await found(store().getQueue(claims.org, params.id as string), 'queue', params.id)),
  },
  {
    ...admin,
    method: 'PUT',
    path: '/v1/admin/channels/{id}',
    async handle({ claims, params, json }) {
      const body = parse(channelBody, json);
      return ok(
        await configureChannel(store(), claims.org, params.id as string, { ...body, kind: body.kind as ChannelKind }),
      );
    },
  },
  {
    ...admin,
    method: 'GET',
    path: '/v1/admin/channels/{id}',
    handle: async ({ claims, params }) =>
      ok(await found<Channel>(store().getChannel(claims.org, params.id as string), 'channel', params.id)),
  },
  {
    ...admin,
    method: 'PUT',
    path: '/v1/admin/contacts/{id}',
    async handle({ claims, params, json }) {
      const body = parse(contactBody, json);
      const contact: Contact = { org: claims.org, id: params.id as string, ...body, attributes: body.attributes ?? {} };
      await configureContact(store(), contact);
      return ok(contact);
    },
  },
  {
    ...admin,
    method: 'GET',
    path: '/v1/admin/contacts/{id}',
    handle: async ({ claims, params }) =>
      ok(await found(store().getContact(claims.org, params.id as string), 'contact', params.id)),
  },
  {
    ...admin,
    method: 'GET',
    path: '/v1/admin/agents/{id}',
    async handle({ claims, params }) {
      const agent = await found(store().getAgent(claims.org, params.id as string), 'agent', params.id);
      return ok(agentView(agent, await store().getSettings(claims.org), getRuntime().deps.clock.now()));
    },
  },
  {
    ...admin,
    method: 'PUT',
    path: '/v1/admin/agents/{id}',
    async handle({ claims, params, json }) {
      const body = parse(agentBody, json);
      const id = params.id as string;
      await configureAgent(getRuntime().deps, store(), {
        org: claims.org,
        id,
        name: body.name,
        queues: body.queues,
        bot: body.bot ?? false,
        capacity: body.capacity,
      });
      const agent = await found(store().getAgent(claims.org, id), 'agent', id);
      return ok(agentView(agent, await store().getSettings(claims.org), getRuntime().deps.clock.now()));
    },
  },
  {
    ...admin,
    method: 'PUT',
    path: '/v1/admin/triggers/{id}',
    async handle({ claims, params, json }) {
      const trigger = { org: claims.org, id: params.id as string, ...parse(triggerBody, json) };
      await configureTrigger(store(), trigger);
      return ok(trigger);
    },
  },
  {
    ...admin,
    method: 'GET',
    path: '/v1/admin/triggers',
    handle: async ({ claims }) => ok({ items: await store().listTriggers(claims.org) }),
  },
];

export const handler = httpGroup(adminRoutes);
