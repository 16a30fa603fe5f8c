import * as z from 'zod/mini';
import { isValidWrapUpPolicy } from '../../domain/capacity.js';
import {
  CHANNEL_KINDS,
  MAX_PRIORITY,
  MIN_PRIORITY,
  NO_AGING_SECONDS,
  MODES,
  PRESENCES,
  SIGNATURE_SCHEMES,
  STATUSES,
} from '../../domain/model.js';
import { TRIGGER_EVENT_NAMES } from '../../domain/triggers.js';
import { CUSTOMER_EVENT_TYPES } from '../../use-cases/customer-event.use-case.js';
import '../zod-messages.js';
import { idSchema } from './auth.js';

/**
 * Zod (zod/mini, tree-shakable) schemas for every body and query of API.md. Unknown fields are
 * refused, so typos surface as 400.
 */

const presence = z.enum(PRESENCES);

/**
 * RL-4: a key of a record-typed field (attributes, context, capacity). `__proto__`, `constructor` and
 * `prototype` are refused: assigned to a plain object they are dropped or change its prototype, and
 * DynamoDB's marshalling cannot store them; nothing reaches a write that it cannot store as sent.
 */
const RESERVED_KEYS = new Set(['__proto__', 'constructor', 'prototype']);
const RESERVED_MESSAGE = 'has a reserved key (__proto__, constructor, prototype)';
const notReserved = z.refine((k: unknown) => !RESERVED_KEYS.has(String(k)), RESERVED_MESSAGE);
/** the record as sent (JSON.parse keeps `__proto__` as an own key; a parsed copy would have lost it) */
const noReservedKeys = z.custom<unknown>(
  (v) => typeof v !== 'object' || v === null || !Object.keys(v).some((k) => RESERVED_KEYS.has(k)),
  RESERVED_MESSAGE,
);
const safeRecord = <K extends z.ZodMiniType<string, unknown>, V extends z.ZodMiniType>(key: K, value: V) =>
  z.pipe(noReservedKeys, z.record(key, value));
const recordKey = (max: number) => z.string().check(z.minLength(1), z.maxLength(max));
const name = z.string().check(z.trim(), z.minLength(1), z.maxLength(200));

export const settingsBody = z.strictObject({
  supervisorMonitor: z.boolean(),
  supervisorAssign: z.boolean(),
  supervisorTransfer: z.boolean(),
  forceClose: z.boolean(),
  agentEndMessagingSession: z.boolean(),
  defaultPresence: z.optional(presence),
  defaultPhoneRegion: z.optional(
    z.string().check(z.regex(/^[A-Z]{2}$/, 'must be an ISO 3166 alpha-2 region such as US')),
  ),
});

/** a context variable by name, or an identified contact's attribute as `contact.<name>` */
const routingField = z.string().check(z.minLength(1), z.maxLength(100));

/** 1..10, 10 the most urgent */
export const prioritySchema = z.int().check(z.minimum(MIN_PRIORITY), z.maximum(MAX_PRIORITY));

export const workstreamBody = z.strictObject({
  name,
  mode: z.enum(MODES),
  capacity: z.strictObject({
    pool: z.optional(idSchema),
    units: z.int().check(z.minimum(1), z.maximum(1000)),
  }),
  allowedPresences: z.array(presence).check(z.minLength(1)),
  wrapUp: z.strictObject({
    blockCapacity: z
      .union([z.enum(['always', 'never']), z.number()])
      .check(z.refine(isValidWrapUpPolicy, 'must be "always", "never" or whole minutes from 1 to 60')),
  }),
  waitingInactivityTimeoutSeconds: z.optional(z.int().check(z.minimum(60), z.maximum(30 * 24 * 3600))),
  agentReconnectTimeoutSeconds: z.optional(z.int().check(z.minimum(10), z.maximum(24 * 3600))),
  offerTimeoutSeconds: z.optional(z.int().check(z.minimum(5), z.maximum(3600))),
  /** whole seconds; the largest is where aging stops mattering (NO_AGING_SECONDS) */
  priorityAgingSeconds: z.optional(z.int().check(z.minimum(1), z.maximum(NO_AGING_SECONDS))),
  routingRules: z.optional(
    z
      .array(
        z.strictObject({
          when: z.union([
            z.strictObject({ field: routingField, equals: z.string().check(z.maxLength(500)) }),
            z.strictObject({
              field: routingField,
              in: z.array(z.string().check(z.maxLength(500))).check(z.minLength(1), z.maxLength(100)),
            }),
            z.strictObject({ field: routingField, exists: z.boolean() }),
          ]),
          queueId: idSchema,
          priority: z.optional(prioritySchema),
        }),
      )
      .check(z.maxLength(100)),
  ),
  defaultQueueId: idSchema,
  distribution: z.optional(z.enum(['push', 'pick'])),
});

export const queueBody = z.strictObject({ name });

export const channelBody = z.strictObject({
  kind: z.enum(CHANNEL_KINDS as [string, ...string[]]),
  workstreamId: idSchema,
  secret: z.string().check(z.minLength(16, 'must be at least 16 characters'), z.maxLength(256)),
  /** RL-9: `timestamped` signatures cover timestamp, channel id and body; default `body` (RL-5) */
  signature: z.optional(z.enum(SIGNATURE_SCHEMES)),
});

export const contactBody = z.strictObject({
  kind: z.enum(['contact', 'account']),
  name,
  phone: z.optional(z.string().check(z.maxLength(40))),
  email: z.optional(z.email().check(z.maxLength(254))),
  attributes: z.optional(safeRecord(recordKey(100), z.string().check(z.maxLength(500)))),
});

export const agentBody = z.strictObject({
  name,
  queues: z.array(idSchema).check(z.maxLength(40)),
  capacity: safeRecord(idSchema.check(notReserved), z.int().check(z.minimum(0), z.maximum(1000))).check(
    z.refine((c) => Object.keys(c).length <= 10, 'at most 10 pools'),
  ),
  bot: z.optional(z.boolean()),
});

export const presenceBody = z.strictObject({ presence });
export const connectionBody = z.strictObject({ connected: z.boolean() });

const e164ish = z.string().check(z.regex(/^\+[1-9][0-9]{6,14}$/, 'must be an E.164 number such as +14255550100'));
export const transferBody = z.union([
  z.strictObject({ queueId: idSchema }),
  z.strictObject({ agentId: idSchema }),
  z.strictObject({ externalNumber: e164ish }),
]);

/** actions and routes that take no body accept none, or `{}` */
export const emptyBody = z.optional(z.strictObject({}, { error: 'this request takes no body (or {})' }));

const limit = z._default(z.coerce.number().check(z.int(), z.minimum(1), z.maximum(100)), 50);
const cursor = z.optional(z.string().check(z.maxLength(2048)));

export const listQuery = z.strictObject({
  status: z.optional(z.enum(STATUSES)),
  queueId: z.optional(idSchema),
  agentId: z.optional(idSchema),
  channelId: z.optional(idSchema),
  threadId: z.optional(z.string().check(z.minLength(1), z.maxLength(256))),
  limit,
  cursor,
});

export const pageQuery = z.strictObject({ limit, cursor });

const token = () =>
  z.string().check(z.regex(/^[A-Za-z0-9_.:-]{1,128}$/, 'must be 1-128 characters of [A-Za-z0-9_.:-]'));
export const idempotencyKeyHeader = token();

const shortText = z.string().check(z.maxLength(256));
export const webhookEvent = z.strictObject({
  eventId: token(),
  type: z.enum(CUSTOMER_EVENT_TYPES),
  threadId: z.string().check(z.minLength(1), z.maxLength(256)),
  occurredAt: z.optional(z.iso.datetime({ offset: true })),
  customer: z.optional(
    z.strictObject({
      id: z.optional(idSchema),
      phone: z.optional(shortText),
      email: z.optional(shortText),
      name: z.optional(shortText),
    }),
  ),
  context: z.optional(
    safeRecord(recordKey(100), z.string().check(z.maxLength(1000))).check(
      z.refine((c) => Object.keys(c).length <= 50, 'at most 50 variables'),
    ),
  ),
  message: z.optional(z.strictObject({ text: z.string().check(z.maxLength(10_000)) })),
});

export const consultBody = z.strictObject({ agentId: idSchema });
export const prioritizeBody = z.strictObject({ priority: prioritySchema });

/** S-3: an agent or another queue; `override` passes over presence and capacity */
export const assignBody = z.union([
  z.strictObject({ agentId: idSchema, override: z.optional(z.boolean()) }),
  z.strictObject({ queueId: idSchema, override: z.optional(z.boolean()) }),
]);

/** E-3 */
export const noteBody = z.strictObject({ text: z.string().check(z.trim(), z.minLength(1), z.maxLength(10_000)) });

/** M-3: `{ when: { event, field, changedTo }, then: [actions] }` */
export const triggerBody = z.strictObject({
  when: z.strictObject({
    event: z.enum(TRIGGER_EVENT_NAMES),
    field: z
      .string()
      .check(
        z.regex(/^[A-Za-z][A-Za-z0-9]*(\.[A-Za-z][A-Za-z0-9]*)*$/, 'must be a field path such as session.endReason'),
        z.maxLength(100),
      ),
    changedTo: z.string().check(z.maxLength(200)),
  }),
  then: z
    .array(
      z.union([
        z.strictObject({ type: z.literal('send-survey'), text: z.optional(z.string().check(z.maxLength(2000))) }),
        z.strictObject({ type: z.literal('reassign'), queueId: idSchema }),
      ]),
    )
    .check(z.minLength(1), z.maxLength(10)),
});
