import { z } from 'zod';
import { isValidWrapUpPolicy } from '../../domain/capacity.js';
import { CHANNEL_KINDS, MODES, PRESENCES, STATUSES } from '../../domain/model.js';
import { TRIGGER_EVENT_NAMES } from '../../domain/triggers.js';
import { CUSTOMER_EVENT_TYPES } from '../../use-cases/customer-event.use-case.js';
import { idSchema } from './auth.js';

/** Zod schemas for every body and query of API.md. Unknown fields are refused, so typos surface as 400. */

const presence = z.enum(PRESENCES);
const name = z.string().trim().min(1).max(200);

export const settingsBody = z
  .object({
    supervisorMonitor: z.boolean(),
    supervisorAssign: z.boolean(),
    supervisorTransfer: z.boolean(),
    forceClose: z.boolean(),
    agentEndMessagingSession: z.boolean(),
    defaultPresence: presence.optional(),
    defaultPhoneRegion: z
      .string()
      .regex(/^[A-Z]{2}$/, 'must be an ISO 3166 alpha-2 region such as US')
      .optional(),
  })
  .strict();

/** a context variable by name, or an identified contact's attribute as `contact.<name>` */
const routingField = z.string().min(1).max(100);

export const workstreamBody = z
  .object({
    name,
    mode: z.enum(MODES),
    capacity: z.object({ pool: idSchema.optional(), units: z.number().int().min(1).max(1000) }).strict(),
    allowedPresences: z.array(presence).min(1),
    wrapUp: z
      .object({
        blockCapacity: z
          .union([z.enum(['always', 'never']), z.number()])
          .refine(isValidWrapUpPolicy, 'must be "always", "never" or whole minutes from 1 to 60'),
      })
      .strict(),
    waitingInactivityTimeoutSeconds: z
      .number()
      .int()
      .min(60)
      .max(30 * 24 * 3600)
      .optional(),
    agentReconnectTimeoutSeconds: z
      .number()
      .int()
      .min(10)
      .max(24 * 3600)
      .optional(),
    offerTimeoutSeconds: z.number().int().min(5).max(3600).optional(),
    routingRules: z
      .array(
        z
          .object({
            when: z.union([
              z.object({ field: routingField, equals: z.string().max(500) }).strict(),
              z.object({ field: routingField, in: z.array(z.string().max(500)).min(1).max(100) }).strict(),
              z.object({ field: routingField, exists: z.boolean() }).strict(),
            ]),
            queueId: idSchema,
          })
          .strict(),
      )
      .max(100)
      .optional(),
    defaultQueueId: idSchema,
    distribution: z.enum(['push', 'pick']).optional(),
  })
  .strict();

export const queueBody = z.object({ name }).strict();

export const channelBody = z
  .object({
    kind: z.enum(CHANNEL_KINDS as [string, ...string[]]),
    workstreamId: idSchema,
    secret: z.string().min(16, 'must be at least 16 characters').max(256),
  })
  .strict();

export const contactBody = z
  .object({
    kind: z.enum(['contact', 'account']),
    name,
    phone: z.string().max(40).optional(),
    email: z.email().max(254).optional(),
    attributes: z.record(z.string().min(1).max(100), z.string().max(500)).optional(),
  })
  .strict();

export const agentBody = z
  .object({
    name,
    queues: z.array(idSchema).max(40),
    capacity: z
      .record(idSchema, z.number().int().min(0).max(1000))
      .refine((c) => Object.keys(c).length <= 10, 'at most 10 pools'),
    bot: z.boolean().optional(),
  })
  .strict();

export const presenceBody = z.object({ presence }).strict();
export const connectionBody = z.object({ connected: z.boolean() }).strict();

const e164ish = z.string().regex(/^\+[1-9][0-9]{6,14}$/, 'must be an E.164 number such as +14255550100');
export const transferBody = z.union([
  z.object({ queueId: idSchema }).strict(),
  z.object({ agentId: idSchema }).strict(),
  z.object({ externalNumber: e164ish }).strict(),
]);

/** actions and routes that take no body accept none, or `{}` */
export const emptyBody = z.object({}, { error: 'this request takes no body (or {})' }).strict().optional();

export const listQuery = z
  .object({
    status: z.enum(STATUSES).optional(),
    queueId: idSchema.optional(),
    agentId: idSchema.optional(),
    channelId: idSchema.optional(),
    threadId: z.string().min(1).max(256).optional(),
    limit: z.coerce.number().int().min(1).max(100).default(50),
    cursor: z.string().max(2048).optional(),
  })
  .strict();

export const pageQuery = z
  .object({ limit: z.coerce.number().int().min(1).max(100).default(50), cursor: z.string().max(2048).optional() })
  .strict();

export const idempotencyKeyHeader = z
  .string()
  .regex(/^[A-Za-z0-9_.:-]{1,128}$/, 'must be 1-128 characters of [A-Za-z0-9_.:-]');

const shortText = z.string().max(256);
export const webhookEvent = z
  .object({
    eventId: z.string().regex(/^[A-Za-z0-9_.:-]{1,128}$/, 'must be 1-128 characters of [A-Za-z0-9_.:-]'),
    type: z.enum(CUSTOMER_EVENT_TYPES),
    threadId: z.string().min(1).max(256),
    occurredAt: z.iso.datetime({ offset: true }).optional(),
    customer: z
      .object({
        id: idSchema.optional(),
        phone: shortText.optional(),
        email: shortText.optional(),
        name: shortText.optional(),
      })
      .strict()
      .optional(),
    context: z
      .record(z.string().min(1).max(100), z.string().max(1000))
      .refine((c) => Object.keys(c).length <= 50, 'at most 50 variables')
      .optional(),
    message: z
      .object({ text: z.string().max(10_000) })
      .strict()
      .optional(),
  })
  .strict();

export const consultBody = z.object({ agentId: idSchema }).strict();

/** S-3: an agent or another queue; `override` passes over presence and capacity */
export const assignBody = z.union([
  z.object({ agentId: idSchema, override: z.boolean().optional() }).strict(),
  z.object({ queueId: idSchema, override: z.boolean().optional() }).strict(),
]);

/** E-3 */
export const noteBody = z.object({ text: z.string().trim().min(1).max(10_000) }).strict();

/** M-3: `{ when: { event, field, changedTo }, then: [actions] }` */
export const triggerBody = z
  .object({
    when: z
      .object({
        event: z.enum(TRIGGER_EVENT_NAMES),
        field: z
          .string()
          .regex(/^[A-Za-z][A-Za-z0-9]*(\.[A-Za-z][A-Za-z0-9]*)*$/, 'must be a field path such as session.endReason')
          .max(100),
        changedTo: z.string().max(200),
      })
      .strict(),
    then: z
      .array(
        z.union([
          z.object({ type: z.literal('send-survey'), text: z.string().max(2000).optional() }).strict(),
          z.object({ type: z.literal('reassign'), queueId: idSchema }).strict(),
        ]),
      )
      .min(1)
      .max(10),
  })
  .strict();
