import { ValidationError, type FieldError } from '../domain/errors.js';
import {
  DEFAULT_POOL,
  modeOf,
  type Channel,
  type ChannelKind,
  type Contact,
  type OrgSettings,
  type SignatureScheme,
  type RoutingRule,
  type Workstream,
} from '../domain/model.js';
import type { Hours } from '../domain/hours.js';
import { normalizeEmail, toE164 } from '../domain/identification.js';
import { templateTextErrors, type MessageTemplate } from '../domain/templates.js';
import type { Trigger } from '../domain/triggers.js';
import type { AgentConfig, QueueConfig } from '../ports/storage-types.js';
import { MAX_QUEUE_DELAYS } from '../domain/profiles.js';
import { afterPresenceChange } from './agent-presence.use-case.js';
import type { ApiDeps } from './engine.js';

/** Admin configuration (PUT creates or replaces). References are checked so config cannot dangle. */

async function missingQueues(
  configuration: ApiDeps['configuration'],
  org: string,
  ids: readonly { field: string; id: string }[],
): Promise<FieldError[]> {
  const found = await Promise.all(
    ids.map(async (r) =>
      (await configuration.getQueue(org, r.id)) ? null : { field: r.field, message: `queue ${r.id} does not exist` },
    ),
  );
  return found.filter((e): e is FieldError => e !== null);
}

export type WorkstreamInput = Omit<
  Workstream,
  | 'org'
  | 'id'
  | 'capacity'
  | 'routingRules'
  | 'distribution'
  | 'waitingInactivityTimeoutSeconds'
  | 'agentReconnectTimeoutSeconds'
> & {
  capacity: { pool?: string | undefined; units: number };
  /** a rule without `queueId` routes to the default queue */
  routingRules?: (Omit<RoutingRule, 'queueId'> & { queueId?: string | undefined })[] | undefined;
  distribution?: Workstream['distribution'] | undefined;
  waitingInactivityTimeoutSeconds?: number | undefined;
  agentReconnectTimeoutSeconds?: number | undefined;
  offerTimeoutSeconds?: number | undefined;
  priorityAgingSeconds?: number | undefined;
  assignment?: Workstream['assignment'] | undefined;
  skillRelaxation?: Workstream['skillRelaxation'] | undefined;
};

export async function configureWorkstream(
  deps: ApiDeps,
  org: string,
  id: string,
  input: WorkstreamInput,
): Promise<Workstream> {
  const errors = await missingQueues(deps.configuration, org, [
    { field: 'defaultQueueId', id: input.defaultQueueId },
    ...(input.routingRules ?? []).flatMap((r, i) =>
      r.queueId === undefined ? [] : [{ field: `routingRules.${i}.queueId`, id: r.queueId }],
    ),
  ]);
  if (errors.length) throw new ValidationError('the workstream names queues that do not exist', errors);
  const ws: Workstream = {
    org,
    id,
    name: input.name,
    mode: input.mode,
    capacity: { pool: input.capacity.pool ?? DEFAULT_POOL, units: input.capacity.units },
    allowedPresences: input.allowedPresences,
    wrapUp: input.wrapUp,
    waitingInactivityTimeoutSeconds: input.waitingInactivityTimeoutSeconds ?? 24 * 3600,
    agentReconnectTimeoutSeconds: input.agentReconnectTimeoutSeconds ?? 120,
    ...(input.offerTimeoutSeconds ? { offerTimeoutSeconds: input.offerTimeoutSeconds } : {}),
    ...(input.priorityAgingSeconds ? { priorityAgingSeconds: input.priorityAgingSeconds } : {}),
    ...(input.assignment ? { assignment: input.assignment } : {}),
    ...(input.skillRelaxation?.length ? { skillRelaxation: input.skillRelaxation } : {}),
    ...(input.preferredAgentTimeoutSeconds !== undefined
      ? { preferredAgentTimeoutSeconds: input.preferredAgentTimeoutSeconds }
      : {}),
    ...(input.agentResponseTimeoutSeconds ? { agentResponseTimeoutSeconds: input.agentResponseTimeoutSeconds } : {}),
    // K-2: an empty requirement is none; a rule without a queue routes to the default queue
    routingRules: (input.routingRules ?? []).map(({ requires, queueId, ...rule }) => ({
      ...rule,
      queueId: queueId ?? input.defaultQueueId,
      ...(requires && Object.keys(requires).length ? { requires } : {}),
    })),
    defaultQueueId: input.defaultQueueId,
    distribution: input.distribution ?? 'pick',
  };
  await deps.configuration.putWorkstream(ws);
  return ws;
}

/** H-1 */
export async function configureHours(deps: ApiDeps, hours: Hours): Promise<Hours> {
  await deps.configuration.putHours(hours);
  return hours;
}

/** H-1, O-1: the hours and the overflow targets must exist, and a queue cannot overflow to itself */
export async function configureQueue(deps: ApiDeps, queue: QueueConfig): Promise<QueueConfig> {
  const targets = (queue.overflow ?? []).flatMap((rule, i) =>
    'transferToQueue' in rule.then
      ? [{ field: `overflow.${i}.then.transferToQueue`, id: rule.then.transferToQueue }]
      : [],
  );
  const self = targets.filter((t) => t.id === queue.id);
  const [missing, hours] = await Promise.all([
    missingQueues(
      deps.configuration,
      queue.org,
      targets.filter((t) => t.id !== queue.id),
    ),
    queue.hoursId ? deps.configuration.getHours(queue.org, queue.hoursId) : undefined,
  ]);
  const errors = [
    ...(queue.hoursId && !hours ? [{ field: 'hoursId', message: `hours ${queue.hoursId} do not exist` }] : []),
    ...self.map((t) => ({ field: t.field, message: 'a queue cannot overflow to itself' })),
    ...missing,
  ];
  if (errors.length) throw new ValidationError('the queue names hours or queues that do not exist', errors);
  await deps.configuration.putQueue(queue);
  return queue;
}

export async function configureChannel(
  deps: ApiDeps,
  org: string,
  id: string,
  input: { kind: ChannelKind; workstreamId: string; secret: string; signature?: SignatureScheme | undefined },
): Promise<Channel> {
  const ws = await deps.configuration.getWorkstream(org, input.workstreamId);
  if (!ws)
    throw new ValidationError('unknown workstream', [
      { field: 'workstreamId', message: `workstream ${input.workstreamId} does not exist` },
    ]);
  if (ws.mode !== modeOf(input.kind)) {
    throw new ValidationError('channel kind and workstream mode differ', [
      {
        field: 'kind',
        message: `${input.kind} is a ${modeOf(input.kind)} channel but workstream ${ws.id} is ${ws.mode}`,
      },
    ]);
  }
  // RL-9: the scheme is stored with the registration the webhook reads; `body` unless asked (RL-5)
  const channel: Channel = {
    org,
    id,
    kind: input.kind,
    workstreamId: input.workstreamId,
    signature: input.signature ?? 'body',
  };
  await deps.configuration.putChannel(channel, input.secret);
  return channel;
}

/**
 * a queue has at most MAX_QUEUE_DELAYS distinct member delays (each is an availability lane a
 * conversation's dispatch reads). The PUT's transaction enforces it under races too (409).
 */
async function checkDelays(deps: ApiDeps, input: AgentConfig): Promise<void> {
  const delayed = input.queues
    .map((q, i) => ({ q, i, delay: input.memberships?.[q]?.delaySeconds ?? 0 }))
    .filter((m) => m.delay > 0);
  const known = await Promise.all(delayed.map((m) => deps.configuration.getQueueDelays(input.org, m.q)));
  const errors = delayed.flatMap((m, k) => {
    const delays = known[k] ?? [];
    return delays.includes(m.delay) || delays.length < MAX_QUEUE_DELAYS
      ? []
      : [
          {
            field: `queues.${m.i}.delaySeconds`,
            message: `queue ${m.q} already has ${MAX_QUEUE_DELAYS} distinct member delays (${delays.join(', ')}); use one of them`,
          },
        ];
  });
  if (errors.length) throw new ValidationError('a queue has too many distinct member delays', errors);
}

/** a membership or capacity change applies to the next decision: the agent may get work at once. */
export async function configureAgent(deps: ApiDeps, input: AgentConfig): Promise<void> {
  const errors = await missingQueues(
    deps.configuration,
    input.org,
    input.queues.map((q, i) => ({ field: `queues.${i}`, id: q })),
  );
  if (errors.length) throw new ValidationError('the agent names queues that do not exist', errors);
  await checkDelays(deps, input);
  // the agent's and pools' changes reach the availability index and dispatch through the stream
  await deps.agents.putAgent(input);
}

/**
 * P-5 / R-5: a new default presence changes every agent's presence; their availability entries are
 * rewritten at once (an admin-time cost over the org's agents, never a per-decision one).
 */
export async function configureSettings(deps: ApiDeps, settings: OrgSettings): Promise<void> {
  const before = await deps.configuration.getSettings(settings.org);
  await deps.configuration.putSettings(settings);
  if (before.defaultPresence === settings.defaultPresence) return;
  for (const agentId of await deps.agents.listAgentIds(settings.org))
    await afterPresenceChange(deps, settings.org, agentId);
}
/** contacts are stored with normalized lookups (E.164 phone in the org's region, lower-case email). */
export async function configureContact(deps: ApiDeps, contact: Contact): Promise<void> {
  const settings = await deps.configuration.getSettings(contact.org);
  const phone = toE164(contact.phone, settings.defaultPhoneRegion);
  const email = normalizeEmail(contact.email);
  if (contact.phone && !phone)
    throw new ValidationError('the phone number cannot be read', [
      { field: 'phone', message: `is not a possible phone number in region ${settings.defaultPhoneRegion ?? 'US'}` },
    ]);
  await deps.contacts.putContact(contact, { ...(phone ? { phone } : {}), ...(email ? { email } : {}) });
}

/** M-3: a trigger may only reassign to a queue that exists. */
export async function configureTrigger(deps: ApiDeps, trigger: Trigger): Promise<void> {
  const errors = await missingQueues(
    deps.configuration,
    trigger.org,
    trigger.then.flatMap((a, i) => (a.type === 'reassign' ? [{ field: `then.${i}.queueId`, id: a.queueId }] : [])),
  );
  if (errors.length) throw new ValidationError('the trigger names queues that do not exist', errors);
  await deps.configuration.putTrigger(trigger);
}

/**
 * MS-4: the org's template for one event, created or replaced. The text is checked here too (the HTTP
 * schema reports the same errors first), so no caller stores a template that names an unknown placeholder.
 */
export async function configureMessageTemplate(deps: ApiDeps, template: MessageTemplate): Promise<MessageTemplate> {
  const errors = templateTextErrors(template.text).map((message) => ({ field: 'text', message }));
  if (errors.length) throw new ValidationError('the message template is not valid', errors);
  await deps.configuration.putMessageTemplate(template);
  return template;
}
