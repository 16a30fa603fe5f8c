import * as z from 'zod/mini';
import { REPLY_MAX_CHARS } from '../../domain/messages.js';
import { MAX_PRIORITY, MIN_PRIORITY, PRESENCES, STATUSES } from '../../domain/model.js';
import { CUSTOMER_EVENT_TYPES } from '../../use-cases/customer-event.use-case.js';
import '../zod-messages.js';
import { idSchema } from './auth.js';

/**
 * Zod (zod/mini, tree-shakable) schemas for every body and query of API.md. Unknown fields are
 * refused, so typos surface as 400.
 */

export const presence = z.enum(PRESENCES);

/**
 * RL-4: a key of a record-typed field (attributes, context, capacity). `__proto__`, `constructor` and
 * `prototype` are refused: assigned to a plain object they are dropped or change its prototype, and
 * DynamoDB's marshalling cannot store them; nothing reaches a write that it cannot store as sent.
 */
const RESERVED_KEYS = new Set(['__proto__', 'constructor', 'prototype']);
const RESERVED_MESSAGE = 'has a reserved key (__proto__, constructor, prototype)';
export const notReserved = z.refine((k: unknown) => !RESERVED_KEYS.has(String(k)), RESERVED_MESSAGE);
/** the record as sent (JSON.parse keeps `__proto__` as an own key; a parsed copy would have lost it) */
const noReservedKeys = z.custom<unknown>(
  (v) => typeof v !== 'object' || v === null || !Object.keys(v).some((k) => RESERVED_KEYS.has(k)),
  RESERVED_MESSAGE,
);
export const safeRecord = <K extends z.ZodMiniType<string, unknown>, V extends z.ZodMiniType>(key: K, value: V) =>
  z.pipe(noReservedKeys, z.record(key, value));
export const recordKey = (max: number) => z.string().check(z.minLength(1), z.maxLength(max));
export const name = z.string().check(z.trim(), z.minLength(1), z.maxLength(200));

/** 1..10, 10 the most urgent */
export const prioritySchema = z.int().check(z.minimum(MIN_PRIORITY), z.maximum(MAX_PRIORITY));

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
/** MX-2: the org's agents, or a queue's members */
export const agentListQuery = z.strictObject({ limit, cursor, queueId: z.optional(idSchema) });

const token = () =>
  z.string().check(z.regex(/^[A-Za-z0-9_.:-]{1,128}$/, 'must be 1-128 characters of [A-Za-z0-9_.:-]'));
export const idempotencyKeyHeader = token();

const shortText = z.string().check(z.maxLength(256));
/**
 * a message's text: 1..max UTF-16 code units (as JSON and the templates count them; zod's maxLength
 * counts code points past the bound), not only white space; kept exactly as sent (never trimmed)
 */
const messageText = (max: number) =>
  z.string().check(
    z.minLength(1),
    z.refine((t) => t.length <= max, `must be at most ${max} characters (UTF-16 code units)`),
    z.refine((t) => t.trim().length > 0, 'must contain more than white space'),
  );
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
  message: z.optional(z.strictObject({ text: messageText(10_000) })),
});

/** MS-1 / MS-2: stored as given (no trim), so it needs a visible character, and a bound. */
export const replyBody = z.strictObject({ text: messageText(REPLY_MAX_CHARS) });

export const consultBody = z.strictObject({ agentId: idSchema });
export const prioritizeBody = z.strictObject({ priority: prioritySchema });

/** S-3: an agent or another queue; `override` passes over presence and capacity */
export const assignBody = z.union([
  z.strictObject({ agentId: idSchema, override: z.optional(z.boolean()) }),
  z.strictObject({ queueId: idSchema, override: z.optional(z.boolean()) }),
]);

/** E-3 */
export const noteBody = z.strictObject({ text: z.string().check(z.trim(), z.minLength(1), z.maxLength(10_000)) });
