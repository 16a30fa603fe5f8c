import * as z from 'zod/mini';
import { isValidWrapUpPolicy } from '../../domain/capacity.js';
import {
  ASSIGNMENT_METHODS,
  CHANNEL_KINDS,
  MODES,
  NO_AGING_SECONDS,
  SIGNATURE_SCHEMES,
  type Membership,
} from '../../domain/model.js';
import { MAX_LEVEL, MIN_LEVEL, requirementsByQueue } from '../../domain/skills.js';
import {
  DEFAULT_MEMBERSHIP,
  MAX_DELAY_SECONDS,
  MAX_MEMBERSHIP_PRIORITY,
  MIN_MEMBERSHIP_PRIORITY,
} from '../../domain/profiles.js';
import { TEMPLATE_EVENTS, templateTextErrors } from '../../domain/templates.js';
import { TRIGGER_EVENT_NAMES } from '../../domain/triggers.js';
import {
  hoursErrors,
  isTimeZone,
  MAX_EXCEPTIONS,
  MAX_INTERVALS_PER_DAY,
  WEEKDAYS,
  type Hours,
  type Weekday,
} from '../../domain/hours.js';
import { MAX_OVERFLOW_RULES, OVERFLOW_ENTER_CONDITIONS } from '../../domain/overflow.js';
import '../zod-messages.js';
import { idSchema } from './auth.js';
import { name, notReserved, presence, prioritySchema, recordKey, safeRecord } from './schemas.js';

/**
 * The admin configuration bodies (zod/mini), apart from schemas.ts so that only the admin bundle
 * carries them.
 */

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

/** K-1: skill name -> level 1..5 (`max` skills at most) */
const skillLevels = (max: number) =>
  safeRecord(idSchema.check(notReserved), z.int().check(z.minimum(MIN_LEVEL), z.maximum(MAX_LEVEL))).check(
    z.refine((s) => Object.keys(s).length <= max, `at most ${max} skills`),
  );

/** K-2: what a rule or a relaxation step requires */
const requiresSchema = skillLevels(10);

/** K-3: steps in strictly increasing afterSeconds */
const relaxationSchema = z
  .array(
    z.strictObject({
      afterSeconds: z.int().check(z.minimum(0), z.maximum(30 * 24 * 3600)),
      requires: requiresSchema,
    }),
  )
  .check(
    z.maxLength(10),
    z.refine(
      (steps) => steps.every((s, i) => i === 0 || s.afterSeconds > (steps[i - 1]?.afterSeconds ?? -1)),
      'steps must be in strictly increasing afterSeconds',
    ),
  );

/** K-5: the requirements a workstream routes are configuration, and bounded: each adds index entries */
const MAX_REQUIREMENTS = 20;

/** a context variable by name, or an identified contact's attribute as `contact.<name>` */
const routingField = z.string().check(z.minLength(1), z.maxLength(100));

export const workstreamBody = z
  .strictObject({
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
    /** */
    assignment: z.optional(z.enum(ASSIGNMENT_METHODS)),
    skillRelaxation: z.optional(relaxationSchema),
    /** 0 turns the preference off */
    preferredAgentTimeoutSeconds: z.optional(z.int().check(z.minimum(0), z.maximum(24 * 3600))),
    agentResponseTimeoutSeconds: z.optional(z.int().check(z.minimum(1), z.maximum(7 * 24 * 3600))),
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
            /** absent: the default queue */
            queueId: z.optional(idSchema),
            priority: z.optional(prioritySchema),
            requires: z.optional(requiresSchema),
            /** */
            preferredAgent: z.optional(z.literal('last')),
          }),
        )
        .check(z.maxLength(100)),
    ),
    defaultQueueId: idSchema,
    distribution: z.optional(z.enum(['push', 'pick'])),
  })
  .check(
    z.refine(
      (ws) =>
        new Set(
          [
            ...requirementsByQueue({
              ...ws,
              routingRules: (ws.routingRules ?? []).map((r) => ({ ...r, queueId: r.queueId ?? ws.defaultQueueId })),
            }).values(),
          ].flatMap((r) => [...r]),
        ).size <= MAX_REQUIREMENTS,
      `at most ${MAX_REQUIREMENTS} distinct skill requirements (rules and relaxation steps) per workstream`,
    ),
  );

/** H-1: `HH:MM` local times (checked with the rest of the schedule by `hoursErrors`) */
const intervalSchema = z.tuple([z.string().check(z.maxLength(5)), z.string().check(z.maxLength(5))]);
const dayIntervals = z.array(intervalSchema).check(z.maxLength(MAX_INTERVALS_PER_DAY));

export const hoursBody = z
  .strictObject({
    name: z.optional(name),
    timeZone: z
      .string()
      .check(z.refine(isTimeZone, 'must be an IANA time zone name such as Europe/Paris or America/New_York')),
    weekly: z.strictObject(Object.fromEntries(WEEKDAYS.map((d) => [d, z.optional(dayIntervals)])) as DaySchemas),
    exceptions: z.optional(
      z
        .array(z.strictObject({ date: z.string().check(z.maxLength(10)), intervals: dayIntervals }))
        .check(z.maxLength(MAX_EXCEPTIONS)),
    ),
  })
  .check((ctx) => {
    for (const e of hoursErrors(ctx.value))
      ctx.issues.push({ code: 'custom', input: ctx.value, path: e.field.split('.'), message: e.message });
  });
type DaySchemas = Record<Weekday, z.ZodMiniOptional<typeof dayIntervals>>;

/** the stored schedule: days left out are closed */
export const hoursOf = (org: string, id: string, body: z.infer<typeof hoursBody>): Hours => ({
  org,
  id,
  ...(body.name ? { name: body.name } : {}),
  timeZone: body.timeZone,
  weekly: Object.fromEntries(Object.entries(body.weekly).filter(([, v]) => v !== undefined)),
  ...(body.exceptions ? { exceptions: body.exceptions } : {}),
});

/** O-1: a condition checked when a conversation enters the queue, or while it waits (by a timer) */
const overflowWhen = z.union([
  z.enum(OVERFLOW_ENTER_CONDITIONS),
  z.strictObject({ queueSizeAtLeast: z.int().check(z.minimum(1), z.maximum(1_000_000)) }),
  z.strictObject({ waitedSecondsAtLeast: z.int().check(z.minimum(0), z.maximum(30 * 24 * 3600)) }),
]);
const overflowThen = z.union([
  z.strictObject({ transferToQueue: idSchema }),
  z.strictObject({ setPriority: prioritySchema }),
  z.strictObject({ close: z.literal(true) }),
]);

export const queueBody = z.strictObject({
  name,
  /** H-1: absent, the queue is always open */
  hoursId: z.optional(idSchema),
  /** MX-1 */
  serviceLevelSeconds: z.optional(z.int().check(z.minimum(1), z.maximum(24 * 3600))),
  overflow: z.optional(
    z.array(z.strictObject({ when: overflowWhen, then: overflowThen })).check(z.maxLength(MAX_OVERFLOW_RULES)),
  ),
});

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

/** a queue id, or a routing profile entry `{ id, priority?: 1..9, delaySeconds? }` */
const membershipSchema = z.union([
  idSchema,
  z.strictObject({
    id: idSchema,
    priority: z.optional(z.int().check(z.minimum(MIN_MEMBERSHIP_PRIORITY), z.maximum(MAX_MEMBERSHIP_PRIORITY))),
    delaySeconds: z.optional(z.int().check(z.minimum(0), z.maximum(MAX_DELAY_SECONDS))),
  }),
]);

const membershipId = (m: z.infer<typeof membershipSchema>): string => (typeof m === 'string' ? m : m.id);

export const agentBody = z.strictObject({
  name,
  queues: z.array(membershipSchema).check(
    z.maxLength(40),
    z.refine((ms) => new Set(ms.map(membershipId)).size === ms.length, 'each queue may be listed once'),
  ),
  capacity: safeRecord(idSchema.check(notReserved), z.int().check(z.minimum(0), z.maximum(1000))).check(
    z.refine((c) => Object.keys(c).length <= 10, 'at most 10 pools'),
  ),
  bot: z.optional(z.boolean()),
  /** K-1 */
  skills: z.optional(skillLevels(50)),
});

/**
 * the agent's queue ids, and the profile entries that differ from the default (a bare id, or
 * priority 1 without delay, is the default and is not stored).
 */
export function membershipsOf(queues: z.infer<typeof agentBody>['queues']): {
  queues: string[];
  memberships: Record<string, Membership>;
} {
  const memberships: Record<string, Membership> = {};
  for (const m of queues) {
    if (typeof m === 'string') continue;
    const entry = { ...DEFAULT_MEMBERSHIP, ...m };
    if (entry.priority !== DEFAULT_MEMBERSHIP.priority || entry.delaySeconds !== DEFAULT_MEMBERSHIP.delaySeconds)
      memberships[m.id] = { priority: entry.priority, delaySeconds: entry.delaySeconds };
  }
  return { queues: queues.map(membershipId), memberships };
}

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

/** MS-4: the event of `PUT /v1/admin/message-templates/{event}` (another is 400, as an unknown action) */
export const templateEventParam = z.enum(TEMPLATE_EVENTS);

/**
 * MS-4: `{ text, enabled? }`. The text is 1..1000 characters, not blank, well-formed Unicode (the body's
 * parse refuses a lone surrogate first, RL-4), and names only the known placeholders (`templateTextErrors`).
 */
export const messageTemplateBody = z.strictObject({
  text: z.string().check((ctx) => {
    for (const message of templateTextErrors(ctx.value)) ctx.issues.push({ code: 'custom', input: ctx.value, message });
  }),
  enabled: z.optional(z.boolean()),
});
