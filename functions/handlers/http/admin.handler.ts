import type { ChannelKind, Contact } from '../../domain/model.js';
import {
  configureAgent,
  configureChannel,
  configureContact,
  configureHours,
  configureMessageTemplate,
  configureQueue,
  configureSettings,
  configureTrigger,
  configureWorkstream,
} from '../../use-cases/admin.use-case.js';
import {
  listMessageTemplates,
  listTriggers,
  readChannel,
  readContact,
  readHours,
  readQueue,
  readSettings,
  readWorkstream,
} from '../../use-cases/admin-reads.use-case.js';
import { agentState } from '../../use-cases/agent-reads.use-case.js';
import { readConfig } from '../../config.js';
import { fromEnvironment } from '../lambda.js';
import {
  createTableEngineRuntime,
  TABLE_ONLY_CAPABILITIES,
  type ApiRuntime,
  type TableEngineConfig,
  type TableEngineOverrides,
} from '../wiring/engine.js';
import { httpGroup, ok, parse, type Route } from './http-handler.js';
import {
  agentBody,
  channelBody,
  membershipsOf,
  contactBody,
  hoursBody,
  hoursOf,
  messageTemplateBody,
  queueBody,
  settingsBody,
  templateEventParam,
  triggerBody,
  workstreamBody,
} from './admin-schemas.js';
import {
  agentView,
  channelView,
  contactView,
  hoursView,
  listView,
  messageTemplateView,
  queueView,
  settingsView,
  triggerView,
  workstreamView,
} from './views.js';

/** Admin configuration: PUT creates or replaces, GET reads (role admin). */
const admin = { auth: 'jwt', roles: ['admin'] } as const;

export const adminRoutes: Route<ApiRuntime>[] = [
  {
    ...admin,
    method: 'PUT',
    path: '/v1/admin/settings',
    async handle({ claims, json }, rt) {
      const settings = { org: claims.org, ...parse(settingsBody, json) };
      await configureSettings(rt.deps, settings);
      return ok(settingsView(settings));
    },
  },
  {
    ...admin,
    method: 'GET',
    path: '/v1/admin/settings',
    handle: async ({ claims }, rt) => ok(settingsView(await readSettings(rt.deps, claims.org))),
  },
  {
    ...admin,
    method: 'PUT',
    path: '/v1/admin/workstreams/{id}',
    handle: async ({ claims, params, json }, rt) =>
      ok(
        workstreamView(
          await configureWorkstream(rt.deps, claims.org, params.id as string, parse(workstreamBody, json)),
        ),
      ),
  },
  {
    ...admin,
    method: 'GET',
    path: '/v1/admin/workstreams/{id}',
    handle: async ({ claims, params }, rt) =>
      ok(workstreamView(await readWorkstream(rt.deps, claims.org, params.id as string))),
  },
  {
    ...admin,
    method: 'PUT',
    path: '/v1/admin/queues/{id}',
    handle: async ({ claims, params, json }, rt) =>
      ok(
        queueView(
          await configureQueue(rt.deps, { org: claims.org, id: params.id as string, ...parse(queueBody, json) }),
        ),
      ),
  },
  {
    ...admin,
    method: 'GET',
    path: '/v1/admin/queues/{id}',
    handle: async ({ claims, params }, rt) => ok(queueView(await readQueue(rt.deps, claims.org, params.id as string))),
  },
  {
    ...admin,
    method: 'PUT',
    path: '/v1/admin/hours/{id}',
    handle: async ({ claims, params, json }, rt) =>
      ok(hoursView(await configureHours(rt.deps, hoursOf(claims.org, params.id as string, parse(hoursBody, json))))),
  },
  {
    ...admin,
    method: 'GET',
    path: '/v1/admin/hours/{id}',
    handle: async ({ claims, params }, rt) => ok(hoursView(await readHours(rt.deps, claims.org, params.id as string))),
  },
  {
    ...admin,
    method: 'PUT',
    path: '/v1/admin/channels/{id}',
    async handle({ claims, params, json }, rt) {
      const body = parse(channelBody, json);
      return ok(
        channelView(
          await configureChannel(rt.deps, claims.org, params.id as string, { ...body, kind: body.kind as ChannelKind }),
        ),
      );
    },
  },
  {
    ...admin,
    method: 'GET',
    path: '/v1/admin/channels/{id}',
    handle: async ({ claims, params }, rt) =>
      ok(channelView(await readChannel(rt.deps, claims.org, params.id as string))),
  },
  {
    ...admin,
    method: 'PUT',
    path: '/v1/admin/contacts/{id}',
    async handle({ claims, params, json }, rt) {
      const body = parse(contactBody, json);
      const contact: Contact = { org: claims.org, id: params.id as string, ...body, attributes: body.attributes ?? {} };
      await configureContact(rt.deps, contact);
      return ok(contactView(contact));
    },
  },
  {
    ...admin,
    method: 'GET',
    path: '/v1/admin/contacts/{id}',
    handle: async ({ claims, params }, rt) =>
      ok(contactView(await readContact(rt.deps, claims.org, params.id as string))),
  },
  {
    ...admin,
    method: 'GET',
    path: '/v1/admin/agents/{id}',
    handle: async ({ claims, params }, rt) => ok(agentView(await agentState(rt.deps, claims.org, params.id as string))),
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
        ...membershipsOf(body.queues),
        bot: body.bot ?? false,
        skills: body.skills ?? {},
        capacity: body.capacity,
      });
      return ok(agentView(await agentState(rt.deps, claims.org, id)));
    },
  },
  {
    ...admin,
    method: 'PUT',
    path: '/v1/admin/triggers/{id}',
    async handle({ claims, params, json }, rt) {
      const trigger = { org: claims.org, id: params.id as string, ...parse(triggerBody, json) };
      await configureTrigger(rt.deps, trigger);
      return ok(triggerView(trigger));
    },
  },
  {
    ...admin,
    method: 'GET',
    path: '/v1/admin/triggers',
    handle: async ({ claims }, rt) => ok(listView(await listTriggers(rt.deps, claims.org), triggerView)),
  },
  {
    ...admin,
    method: 'PUT',
    path: '/v1/admin/message-templates/{event}',
    async handle({ claims, params, json }, rt) {
      // MS-4: an unknown event is 400, as an unknown action (path parameters are validated, RL-4)
      const event = parse(templateEventParam, params.event, 'path.event');
      const body = parse(messageTemplateBody, json);
      const template = { org: claims.org, event, text: body.text, enabled: body.enabled ?? true };
      return ok(messageTemplateView(await configureMessageTemplate(rt.deps, template)));
    },
  },
  {
    ...admin,
    method: 'GET',
    path: '/v1/admin/message-templates',
    handle: async ({ claims }, rt) =>
      ok(listView(await listMessageTemplates(rt.deps, claims.org), messageTemplateView)),
  },
];

/** DynamoDB only: the work a configuration change dispatches follows from the table's stream. */
export function createHandler(config: TableEngineConfig, overrides: TableEngineOverrides = {}) {
  const rt = createTableEngineRuntime(config, overrides);
  return httpGroup(adminRoutes, rt, rt.obs);
}

export const handler = fromEnvironment(() => createHandler(readConfig(TABLE_ONLY_CAPABILITIES)));
