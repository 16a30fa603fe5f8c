import fc from 'fast-check';
import type { AddressInfo } from 'node:net';
import type { Server } from 'node:http';
import { ulid } from 'ulid';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLocalHttpServer, DEFAULT_LOCAL_JWT_SECRET } from '../../bin/local/http-server.js';
import { keys } from '../../functions/adapters/dynamodb/keys.js';
import type { Message } from '../../functions/domain/messages.js';
import { DEFAULT_SETTINGS, type Workstream } from '../../functions/domain/model.js';
import { CUSTOMER_EVENT_TYPES, type CustomerEventType } from '../../functions/use-cases/customer-event.use-case.js';
import { signBody } from '../../functions/use-cases/ingest-webhook.use-case.js';
import { item, startRig, type HttpResult, type Rig } from './rig.js';

/**
 * Webhook fuzzer (RL-4, RL-5, RL-1): fast-check generates bodies and headers for
 * POST /v1/webhooks/{channelId}: valid events (unicode everywhere, optional fields, whitespace, key
 * order), the same with one thing broken (a field missing, of the wrong type, too long, out of its
 * enum, an extra field), random JSON, text that is not JSON, huge bodies (up to ~300 KB, deep nesting),
 * base64-encoded bodies, `message.received` bodies whose `message.text` is valid at its bounds (1 and
 * 10,000 UTF-16 units, surrounded by white space, escaped) or not (empty, blank, over 10,000, a lone
 * surrogate as a JSON escape, not a string, missing); signatures right, in another case or padded, and wrong in every way (missing,
 * empty, truncated, another secret, another body, no scheme, not hex, several); unknown, malformed and
 * another org's channel ids. Most go to the webhooks Lambda handler as API Gateway v2 events, some
 * through the local runtime's HTTP server (which answers 413 above 256 KiB).
 *
 * Every answer is 2xx or 4xx, never 5xx; every 4xx is problem+json and writes nothing (no SQS message,
 * no DynamoDB write, counted on the engine's own clients); every 2xx queues exactly one message. The
 * oracle knows the answer when it can: unknown channel 404, bad signature 401, signed non-JSON or a
 * known violation 400, a signed valid event 202. Then the queue is consumed by the real FIFO consumer:
 * every accepted event must apply (its receipt exists, nothing fails, nothing reaches the DLQ) and
 * the org holds exactly the conversations the accepted events open, one per new thread, and their
 * transcripts hold every accepted customer text once, exactly as sent (MS-1).
 *
 * FUZZ_CASES (default 300; `npm run test:reliability`: 10,000).
 */

const CASES = Number(process.env.FUZZ_CASES ?? 300);
/** a fixed seed for the small run in `npm test` (reproducible CI); new seeds for `npm run test:reliability` */
const FUZZ_SEED: number | undefined = process.env.FUZZ_SEED
  ? Number(process.env.FUZZ_SEED)
  : process.env.FUZZ_CASES
    ? undefined
    : 20261121;
const SECRET = 'fuzz-secret-0123456789abcdef';
const MAX_LOCAL_BODY = 256 * 1024;

// ---------------------------------------------------------------------------------------------------
// Generators

/** any Unicode character: controls, BMP, beyond (emoji), noncharacters, bidi and separators */
const anyChar = fc.oneof(
  { weight: 6, arbitrary: fc.constantFrom(...'abcXYZ019 _-.:#/\\"\'{}[]') },
  { weight: 3, arbitrary: fc.string({ unit: 'binary', minLength: 1, maxLength: 1 }) },
  { weight: 1, arbitrary: fc.integer({ min: 0, max: 0x1f }).map((n) => String.fromCharCode(n)) },
  {
    weight: 1,
    arbitrary: fc.constantFrom(
      '\u2028',
      '\u2029',
      '\uFEFF',
      '\u0000',
      '😀',
      'é',
      '中',
      '\u202E',
      '\uFFFF',
      '\uFFFE',
      '\uFFFD',
    ),
  },
);
/** well-formed text of min..max UTF-16 code units (so of at most max code points, which zod's max counts) */
const text = (min: number, max: number): fc.Arbitrary<string> =>
  fc
    .array(anyChar, { minLength: min, maxLength: max })
    .map((u) => u.join('').slice(0, max))
    .filter((s) => s.length >= min && s.isWellFormed());
const loneSurrogate = fc.integer({ min: 0xd800, max: 0xdfff }).map((n) => String.fromCharCode(n));
/** MS-1: what a message's text may not be only of (String.prototype.trim's white space, as the schema's) */
const WHITE_SPACE = [
  ' ',
  '\t',
  '\n',
  '\r',
  '\u000b',
  '\u000c',
  '\u00a0',
  '\u1680',
  '\u2003',
  '\u2028',
  '\u2029',
  '\u202f',
  '\u3000',
  '\ufeff',
];
const blank = (s: string): boolean => s.trim().length === 0;
/** MS-1: a message's text: 1..10,000 UTF-16 units, not only white space */
const MAX_MESSAGE_TEXT = 10_000;
const messageTextArb: fc.Arbitrary<string> = fc
  .oneof(
    { weight: 6, arbitrary: text(1, 200) },
    { weight: 1, arbitrary: text(9_900, MAX_MESSAGE_TEXT) },
    {
      weight: 2,
      arbitrary: fc.constantFrom(
        'x',
        '😀',
        'x'.repeat(MAX_MESSAGE_TEXT),
        // 5,000 characters, 10,000 UTF-16 units: at the bound
        '😀'.repeat(MAX_MESSAGE_TEXT / 2),
        `${' '.repeat(MAX_MESSAGE_TEXT - 1)}.`,
        '  kept as sent, white space included \n',
        '\u00a0\u2028x\ufeff',
        '<script>alert(1)</script>',
      ),
    },
  )
  .filter((t) => !blank(t));
const idText = fc.stringMatching(/^[A-Za-z0-9_-]{1,64}$/);
const eventIdText = fc.stringMatching(/^[A-Za-z0-9_.:-]{1,100}$/);
const isoDate = fc
  .date({ min: new Date('1970-01-01T00:00:00Z'), max: new Date('2999-12-31T23:59:59Z'), noInvalidDate: true })
  .map((d) => d.toISOString());

type Json = null | boolean | number | string | Json[] | { [k: string]: Json };

/** A valid channel event (webhookEvent in functions/handlers/http/schemas.ts, from API.md). */
const validEvent: fc.Arbitrary<Record<string, Json>> = fc.record(
  {
    eventId: eventIdText,
    type: fc.constantFrom(...CUSTOMER_EVENT_TYPES),
    threadId: fc.oneof(text(1, 40), text(200, 256)),
    occurredAt: isoDate,
    customer: fc.record(
      {
        id: idText,
        phone: fc.oneof(
          fc.constantFrom('+14255550100', '(425) 555-0100', '0612345678', '+33 6 12 34 56 78'),
          text(0, 256),
        ),
        email: fc.oneof(fc.constant('Ann@Example.COM'), text(0, 256)),
        name: text(0, 256),
      },
      { requiredKeys: [] },
    ),
    context: fc.dictionary(text(1, 100), text(0, 200), { maxKeys: 8 }),
    message: fc.record({ text: messageTextArb }),
  },
  { requiredKeys: ['eventId', 'type', 'threadId'] },
) as fc.Arbitrary<Record<string, Json>>;

const wrongType: fc.Arbitrary<Json> = fc.oneof<fc.Arbitrary<Json>[]>(
  fc.constant(null),
  fc.boolean(),
  fc.integer(),
  fc.double(),
  fc.constant<Json>([]),
  fc.constant<Json>({}),
  fc.array(fc.string(), { maxLength: 3 }),
  fc.dictionary(fc.string(), fc.string(), { maxKeys: 3 }),
);

/** One thing broken, so the schema must refuse it (400) when the signature is right. */
type Mutation =
  | { m: 'missing'; field: 'eventId' | 'type' | 'threadId' }
  | {
      m: 'wrong-type';
      field: 'eventId' | 'type' | 'threadId' | 'occurredAt' | 'customer' | 'context' | 'message';
      value: Json;
    }
  | { m: 'extra'; where: 'top' | 'customer' | 'message'; key: string }
  | {
      m: 'too-long';
      field:
        | 'eventId'
        | 'threadId'
        | 'text'
        | 'context-key'
        | 'context-value'
        | 'context-size'
        | 'customer-name'
        | 'customer-id';
      n: number;
    }
  | { m: 'bad-value'; field: 'type' | 'eventId' | 'threadId' | 'occurredAt' | 'customer-id' }
  /** not well-formed Unicode (JSON may carry "\\ud800"): refused, or kept exactly as sent; never mixed up with another string */
  | { m: 'lone-surrogate'; field: 'threadId' | 'text' | 'name' | 'context'; unit: string };
const mutationArb: fc.Arbitrary<Mutation> = fc.oneof(
  fc.record({
    m: fc.constant('missing' as const),
    field: fc.constantFrom('eventId' as const, 'type' as const, 'threadId' as const),
  }),
  fc.record({
    m: fc.constant('wrong-type' as const),
    field: fc.constantFrom(
      'eventId' as const,
      'type' as const,
      'threadId' as const,
      'occurredAt' as const,
      'customer' as const,
      'context' as const,
      'message' as const,
    ),
    value: wrongType,
  }),
  fc.record({
    m: fc.constant('extra' as const),
    where: fc.constantFrom('top' as const, 'customer' as const, 'message' as const),
    key: text(1, 20),
  }),
  fc.record({
    m: fc.constant('too-long' as const),
    field: fc.constantFrom(
      'eventId' as const,
      'threadId' as const,
      'text' as const,
      'context-key' as const,
      'context-value' as const,
      'context-size' as const,
      'customer-name' as const,
      'customer-id' as const,
    ),
    n: fc.integer({ min: 1, max: 3_000 }),
  }),
  fc.record({
    m: fc.constant('bad-value' as const),
    field: fc.constantFrom(
      'type' as const,
      'eventId' as const,
      'threadId' as const,
      'occurredAt' as const,
      'customer-id' as const,
    ),
  }),
  fc.record({
    m: fc.constant('lone-surrogate' as const),
    field: fc.constantFrom('threadId' as const, 'text' as const, 'name' as const, 'context' as const),
    unit: loneSurrogate,
  }),
);

const KNOWN_TOP = new Set(['eventId', 'type', 'threadId', 'occurredAt', 'customer', 'context', 'message']);

/** Applies the mutation; returns undefined when it would not break the event (the case then says nothing). */
function mutate(e: Record<string, Json>, x: Mutation): Record<string, Json> | undefined {
  const out: Record<string, Json> = structuredClone(e);
  switch (x.m) {
    case 'missing':
      delete out[x.field];
      return out;
    case 'wrong-type': {
      // an object of strings can be a valid customer, context or message: only shapes that cannot be
      const obj = x.value !== null && typeof x.value === 'object' && !Array.isArray(x.value) ? x.value : undefined;
      if (
        obj &&
        (x.field === 'context' ||
          (x.field === 'customer' && Object.keys(obj).every((k) => ['id', 'phone', 'email', 'name'].includes(k))))
      )
        return undefined;
      if (obj && x.field === 'message' && Object.keys(obj).every((k) => k === 'text') && typeof obj.text === 'string')
        return undefined;
      out[x.field] = x.value;
      return out;
    }
    case 'extra': {
      if (x.where === 'top') {
        if (KNOWN_TOP.has(x.key)) return undefined;
        // an own property even for "__proto__"
        Object.defineProperty(out, x.key, { value: 'surprise', enumerable: true, configurable: true, writable: true });
        return out;
      }
      if (x.key === 'id' || x.key === 'phone' || x.key === 'email' || x.key === 'name' || x.key === 'text')
        return undefined;
      out[x.where] = {
        ...(x.where === 'message' ? { text: 'hi' } : {}),
        ...((out[x.where] as Record<string, Json> | undefined) ?? {}),
        [x.key]: 'surprise',
      };
      return out;
    }
    case 'too-long': {
      const long = (max: number): string => 'x'.repeat(max + x.n);
      if (x.field === 'eventId') out.eventId = long(128);
      if (x.field === 'threadId') out.threadId = long(256);
      if (x.field === 'text') out.message = { text: long(10_000) };
      if (x.field === 'context-key') out.context = { [long(100)]: 'v' };
      if (x.field === 'context-value') out.context = { k: long(1_000) };
      if (x.field === 'context-size')
        out.context = Object.fromEntries(Array.from({ length: 51 + (x.n % 200) }, (_, i) => [`k${i}`, 'v']));
      if (x.field === 'customer-name') out.customer = { name: long(256) };
      if (x.field === 'customer-id') out.customer = { id: long(64) };
      return out;
    }
    case 'lone-surrogate': {
      if (x.field === 'threadId') out.threadId = `${String(out.threadId).slice(0, 200)}${x.unit}`;
      if (x.field === 'text') out.message = { text: `hi ${x.unit}` };
      if (x.field === 'name') out.customer = { name: `n${x.unit}` };
      if (x.field === 'context') out.context = { k: `v${x.unit}` };
      return out;
    }
    case 'bad-value': {
      if (x.field === 'type') out.type = 'conversation.exploded';
      if (x.field === 'eventId') out.eventId = `bad id ${String(out.eventId)}`;
      if (x.field === 'threadId') out.threadId = '';
      if (x.field === 'occurredAt') out.occurredAt = 'yesterday at noon';
      if (x.field === 'customer-id') out.customer = { id: 'not/an#id' };
      return out;
    }
  }
}

/** How the raw body is written: compact, pretty, padded with whitespace (big and still valid), keys reversed. */
const layoutArb = fc.oneof(
  { weight: 6, arbitrary: fc.constant({ kind: 'compact' as const, pad: 0 }) },
  { weight: 1, arbitrary: fc.constant({ kind: 'pretty' as const, pad: 0 }) },
  { weight: 1, arbitrary: fc.constant({ kind: 'reversed' as const, pad: 0 }) },
  { weight: 1, arbitrary: fc.integer({ min: 1_000, max: 300_000 }).map((pad) => ({ kind: 'padded' as const, pad })) },
);
type Layout = typeof layoutArb extends fc.Arbitrary<infer T> ? T : never;
function layout(v: Json, l: Layout): string {
  switch (l.kind) {
    case 'pretty':
      return JSON.stringify(v, null, 2);
    case 'reversed':
      return v !== null && typeof v === 'object' && !Array.isArray(v)
        ? JSON.stringify(Object.fromEntries(Object.entries(v).reverse()))
        : JSON.stringify(v);
    case 'padded': {
      const s = JSON.stringify(v);
      return `${' \n\t\r'.repeat(Math.ceil(l.pad / 8)).slice(0, l.pad / 2)}${s}${' '.repeat(l.pad / 2)}`;
    }
    default:
      return JSON.stringify(v);
  }
}

/**
 * MS-1 / RL-4: the `message.text` of a `message.received`: valid (1..10,000 UTF-16 units, not only white
 * space; `escaped`: every non-ASCII character written as a JSON escape), or broken in one way.
 */
type TextCase =
  | { t: 'valid'; text: string; escaped: boolean }
  | { t: 'empty' }
  | { t: 'blank'; text: string }
  | { t: 'too-long'; text: string }
  /** a lone surrogate, which JSON.stringify writes as its escape ("\\ud800") */
  | { t: 'lone-surrogate'; text: string }
  | { t: 'wrong-type'; value: Json }
  | { t: 'no-text' };
const textCaseArb: fc.Arbitrary<TextCase> = fc.oneof(
  {
    weight: 5,
    arbitrary: fc.record({ t: fc.constant('valid' as const), text: messageTextArb, escaped: fc.boolean() }),
  },
  { weight: 1, arbitrary: fc.constant({ t: 'empty' as const }) },
  {
    weight: 1,
    arbitrary: fc.record({
      t: fc.constant('blank' as const),
      text: fc.oneof(
        fc.array(fc.constantFrom(...WHITE_SPACE), { minLength: 1, maxLength: 60 }).map((u) => u.join('')),
        fc.constant(' '.repeat(MAX_MESSAGE_TEXT)),
      ),
    }),
  },
  {
    weight: 1,
    arbitrary: fc.record({
      t: fc.constant('too-long' as const),
      text: fc.oneof(
        // over in UTF-16 units and in code points alike (5,001 emoji, over in units only, is pinned in
        // test/unit/messages.test.ts: the schema counts code points)
        fc.integer({ min: 1, max: 3_000 }).map((n) => 'y'.repeat(MAX_MESSAGE_TEXT + n)),
        fc.constant('😀'.repeat(MAX_MESSAGE_TEXT + 1)),
        fc
          .tuple(text(9_900, MAX_MESSAGE_TEXT), fc.integer({ min: 1, max: 100 }))
          .map(([t, n]) => `${t}${'z'.repeat(MAX_MESSAGE_TEXT - [...t].length + n)}`),
      ),
    }),
  },
  {
    weight: 1,
    arbitrary: fc.record({
      t: fc.constant('lone-surrogate' as const),
      text: fc.oneof(
        loneSurrogate,
        // 'x' on both sides: it cannot pair up with a neighbour
        fc.tuple(text(0, 100), loneSurrogate, text(0, 100)).map(([a, u, b]) => `${a}x${u}x${b}`),
      ),
    }),
  },
  { weight: 1, arbitrary: fc.record({ t: fc.constant('wrong-type' as const), value: wrongType }) },
  { weight: 1, arbitrary: fc.constant({ t: 'no-text' as const }) },
);

/** JSON text with every non-ASCII character escaped (outside strings JSON has only ASCII): the same value */
const escapeNonAscii = (raw: string): string =>
  raw.replace(/[\u007f-\uffff]/g, (ch) => `\\u${ch.charCodeAt(0).toString(16).padStart(4, '0')}`);

type Body =
  | { kind: 'valid'; event: Record<string, Json>; layout: Layout }
  | { kind: 'message'; event: Record<string, Json>; text: TextCase; layout: Layout }
  | { kind: 'mutated'; event: Record<string, Json>; mutation: Mutation; layout: Layout }
  | { kind: 'json'; value: Json }
  | { kind: 'not-json'; raw: string }
  | { kind: 'nested'; depth: number; array: boolean }
  | { kind: 'replay' };
const bodyArb: fc.Arbitrary<Body> = fc.oneof(
  { weight: 25, arbitrary: fc.record({ kind: fc.constant('valid' as const), event: validEvent, layout: layoutArb }) },
  {
    weight: 30,
    arbitrary: fc.record({
      kind: fc.constant('mutated' as const),
      event: validEvent,
      mutation: mutationArb,
      layout: layoutArb,
    }),
  },
  {
    weight: 12,
    arbitrary: fc.record({
      kind: fc.constant('json' as const),
      value: fc.jsonValue({ maxDepth: 4 }) as fc.Arbitrary<Json>,
    }),
  },
  {
    weight: 15,
    arbitrary: fc.record({
      kind: fc.constant('not-json' as const),
      raw: fc.oneof(
        text(0, 200),
        fc.constantFrom(
          '',
          ' ',
          '{',
          '{"eventId":',
          'null,',
          '{"a":1}}',
          "{'eventId':'x'}",
          '\uFEFF{}',
          'NaN',
          'undefined',
          '{"eventId":"x",}',
          '[1,2',
          '0x10',
        ),
        fc.integer({ min: 1_000, max: 300_000 }).map((n) => 'Z'.repeat(n)),
      ),
    }),
  },
  {
    weight: 3,
    arbitrary: fc.record({
      kind: fc.constant('nested' as const),
      depth: fc.integer({ min: 10, max: 100_000 }),
      array: fc.boolean(),
    }),
  },
  { weight: 5, arbitrary: fc.constant({ kind: 'replay' as const }) },
  {
    weight: 15,
    arbitrary: fc.record({
      kind: fc.constant('message' as const),
      event: validEvent,
      text: textCaseArb,
      layout: layoutArb,
    }),
  },
);

type Sig =
  | 'valid'
  | 'valid-upper'
  | 'valid-padded'
  | 'missing'
  | 'empty'
  | 'wrong-secret'
  | 'truncated'
  | 'no-scheme'
  | 'scheme-case'
  | 'other-body'
  | 'not-hex'
  | 'several'
  | 'garbage'
  | 'huge';
const VALID_SIGS: ReadonlySet<Sig> = new Set(['valid', 'valid-upper', 'valid-padded']);
const sigArb: fc.Arbitrary<{ sig: Sig; garbage: string; headerName: 'x-signature' | 'X-Signature' | 'X-SIGNATURE' }> =
  fc.record({
    sig: fc.oneof(
      { weight: 50, arbitrary: fc.constant<Sig>('valid') },
      { weight: 5, arbitrary: fc.constantFrom<Sig>('valid-upper', 'valid-padded') },
      {
        weight: 40,
        arbitrary: fc.constantFrom<Sig>(
          'missing',
          'empty',
          'wrong-secret',
          'truncated',
          'no-scheme',
          'scheme-case',
          'other-body',
          'not-hex',
          'several',
          'garbage',
          'huge',
        ),
      },
    ),
    garbage: text(0, 80),
    headerName: fc.constantFrom('x-signature' as const, 'X-Signature' as const, 'X-SIGNATURE' as const),
  });

type ChannelChoice = 'chat' | 'sms' | 'unknown' | 'malformed' | 'other-org';
interface Case {
  channel: ChannelChoice;
  body: Body;
  sig: { sig: Sig; garbage: string; headerName: string };
  transport: 'lambda' | 'lambda-base64' | 'http';
  contentType: string | null;
}
const caseArb: fc.Arbitrary<Case> = fc.record({
  channel: fc.oneof(
    { weight: 12, arbitrary: fc.constantFrom<ChannelChoice>('chat', 'sms') },
    { weight: 1, arbitrary: fc.constantFrom<ChannelChoice>('unknown', 'malformed', 'other-org') },
  ),
  body: bodyArb,
  sig: sigArb,
  transport: fc.oneof(
    { weight: 14, arbitrary: fc.constant('lambda' as const) },
    { weight: 2, arbitrary: fc.constant('lambda-base64' as const) },
    { weight: 3, arbitrary: fc.constant('http' as const) },
  ),
  contentType: fc.constantFrom('application/json', 'text/plain', 'application/x-www-form-urlencoded', null),
});

// ---------------------------------------------------------------------------------------------------
// Running a case

interface Env {
  rig: Rig;
  org: string;
  channels: Record<'chat' | 'sms' | 'other-org', string>;
  url: string;
  /** accepted bodies, replayed by 'replay' cases (exact duplicates) */
  accepted: { channelId: string; raw: string }[];
  /**
   * what was accepted, in order: the consumer must apply each distinct event once; `at` is the event's
   * time (its occurredAt, else when the webhook took it), `receivedAt` when the webhook took it
   */
  applied: {
    channelId: string;
    event: { eventId: string; type: CustomerEventType; threadId: string };
    at: number;
    receivedAt: number;
    /** the customer's text the event carries, if any */
    text?: string;
  }[];
  counts: Record<string, number>;
  cases: number;
}

function signatureFor(c: Case, raw: string): string | undefined {
  const good = signBody(SECRET, raw);
  switch (c.sig.sig) {
    case 'valid':
      return good;
    case 'valid-upper':
      return `sha256=${good.slice(7).toUpperCase()}`;
    case 'valid-padded':
      return `  ${good}\t`;
    case 'missing':
      return undefined;
    case 'empty':
      return '';
    case 'wrong-secret':
      return signBody(`${SECRET}-other`, raw);
    case 'truncated':
      return good.slice(0, good.length - 1 - (c.sig.garbage.length % 60));
    case 'no-scheme':
      return good.slice(7);
    case 'scheme-case':
      return `SHA256=${good.slice(7)}`;
    case 'other-body':
      return signBody(SECRET, `${raw} `);
    case 'not-hex':
      return `sha256=${'g'.repeat(64)}`;
    case 'several':
      return `${good},${good}`;
    case 'garbage':
      return c.sig.garbage.replace(/[^\t\x20-\x7e\x80-\xff]/g, '?');
    case 'huge':
      // (below Node's 16 KiB header limit on the local server)
      return `sha256=${'a'.repeat(c.transport === 'http' ? 8_000 : 60_000)}`;
  }
}

interface Prepared {
  /** the channel actually addressed (a replay goes to the channel of what it replays) */
  channel: ChannelChoice;
  channelId: string;
  raw: string;
  /** what the oracle knows */
  expect: 'accept' | 'refuse-400' | 'any';
  /** for a known 400: the field its errors name (or a field under it) */
  field?: string;
  /** the parsed event when accepted */
  event?: { eventId: string; type: CustomerEventType; threadId: string };
}

let valid = 0;
function prepare(env: Env, c: Case): Prepared {
  const channel = c.channel;
  const channelId =
    c.channel === 'unknown'
      ? `nope-${ulid().toLowerCase()}`
      : c.channel === 'malformed'
        ? 'bad id/..%2F#x'
        : c.channel === 'other-org'
          ? env.channels['other-org']
          : env.channels[c.channel];
  switch (c.body.kind) {
    case 'valid': {
      // unique event ids, so each valid case is a new event
      const event = { ...c.body.event, eventId: `v${++valid}.${String(c.body.event.eventId)}`.slice(0, 128) };
      return {
        channel,
        channelId,
        raw: layout(event, c.body.layout),
        expect: 'accept',
        event: event as unknown as Prepared['event'],
      };
    }
    case 'mutated': {
      const base = { ...c.body.event, eventId: `m${++valid}.${String(c.body.event.eventId)}`.slice(0, 128) };
      const broken = mutate(base, c.body.mutation);
      if (!broken)
        return {
          channel,
          channelId,
          raw: layout(base, c.body.layout),
          expect: 'accept',
          event: base as unknown as Prepared['event'],
        };
      return {
        channel,
        channelId,
        raw: layout(broken, c.body.layout),
        // a lone surrogate in the text cannot pair up with anything ('hi ' before it): refused like any bad text
        expect: c.body.mutation.m === 'lone-surrogate' && c.body.mutation.field !== 'text' ? 'any' : 'refuse-400',
      };
    }
    case 'message': {
      const event: Record<string, Json> = {
        ...c.body.event,
        eventId: `t${++valid}.${String(c.body.event.eventId)}`.slice(0, 128),
        type: 'message.received',
      };
      const tc = c.body.text;
      event.message =
        tc.t === 'valid' || tc.t === 'blank' || tc.t === 'too-long' || tc.t === 'lone-surrogate'
          ? { text: tc.text }
          : tc.t === 'empty'
            ? { text: '' }
            : tc.t === 'wrong-type'
              ? { text: tc.value }
              : {};
      const raw = layout(event, c.body.layout);
      if (tc.t === 'valid')
        return {
          channel,
          channelId,
          raw: tc.escaped ? escapeNonAscii(raw) : raw,
          expect: 'accept',
          event: event as unknown as Prepared['event'],
        };
      return { channel, channelId, raw, expect: 'refuse-400', field: 'message.text' };
    }
    case 'json':
      return { channel, channelId, raw: JSON.stringify(c.body.value), expect: 'any' };
    case 'not-json':
      return { channel, channelId, raw: c.body.raw, expect: isJson(c.body.raw) ? 'any' : 'refuse-400' };
    case 'nested': {
      const [open, close] = c.body.array ? ['[', ']'] : ['{"a":', '}'];
      return {
        channel,
        channelId,
        raw: `${open.repeat(c.body.depth)}1${close.repeat(c.body.depth)}`,
        expect: 'refuse-400',
      };
    }
    case 'replay': {
      const prev = env.accepted.length
        ? env.accepted[env.accepted.length - 1 - (env.cases % env.accepted.length)]
        : undefined;
      if (!prev) return { channel, channelId, raw: '{}', expect: 'refuse-400' };
      return {
        channel: prev.channelId === env.channels.chat ? 'chat' : 'sms',
        channelId: prev.channelId,
        raw: prev.raw,
        expect: 'accept',
        event: JSON.parse(prev.raw) as Prepared['event'],
      };
    }
  }
}

const isJson = (s: string): boolean => {
  try {
    JSON.parse(s);
    return true;
  } catch {
    return false;
  }
};

async function send(env: Env, c: Case, p: Prepared, signature: string | undefined): Promise<HttpResult> {
  const headers: Record<string, string> = {
    ...(signature !== undefined ? { [c.sig.headerName]: signature } : {}),
    ...(c.contentType ? { 'content-type': c.contentType } : {}),
  };
  if (c.transport === 'http') {
    const res = await fetch(`${env.url}/v1/webhooks/${encodeURIComponent(p.channelId)}`, {
      method: 'POST',
      headers,
      body: p.raw,
    });
    const raw = await res.text();
    let body: Record<string, unknown>;
    try {
      body = JSON.parse(raw) as Record<string, unknown>;
    } catch {
      body = { unparsable: raw.slice(0, 200) };
    }
    return { status: res.status, body, contentType: res.headers.get('content-type') ?? '', raw };
  }
  const base64 = c.transport === 'lambda-base64';
  return env.rig.http('webhooks', 'POST /v1/webhooks/{channelId}', {
    params: { channelId: p.channelId },
    body: base64 ? Buffer.from(p.raw, 'utf8').toString('base64') : p.raw,
    isBase64Encoded: base64,
    headers,
  });
}

async function runCase(env: Env, c: Case): Promise<void> {
  env.cases++;
  const p = prepare(env, c);
  // the signature is over the raw body as the sender wrote it (for base64 transport: the decoded bytes)
  const wellFormed = Buffer.from(p.raw, 'utf8').toString('utf8');
  const signature = signatureFor(c, wellFormed);
  const sends = env.rig.sqsSends();
  const writes = env.rig.dynamoWrites();
  const r = await send(env, c, p, signature);
  const queued = env.rig.sqsSends() - sends;
  const wrote = env.rig.dynamoWrites() - writes;
  env.counts[String(r.status)] = (env.counts[String(r.status)] ?? 0) + 1;

  const what = `case ${env.cases}: ${c.transport} channel=${p.channel} sig=${c.sig.sig} body=${c.body.kind}${c.body.kind === 'mutated' ? ` ${JSON.stringify(c.body.mutation).slice(0, 120)}` : ''}${c.body.kind === 'message' ? ` text=${c.body.text.t}` : ''} (${p.raw.length} chars: ${JSON.stringify(p.raw.slice(0, 160))})`;
  // never 5xx
  expect(r.status, `${what} -> ${r.raw.slice(0, 300)}`).toBeGreaterThanOrEqual(200);
  expect(r.status, `${what} -> ${r.raw.slice(0, 300)}`).toBeLessThan(500);
  // the webhook writes nothing to DynamoDB, ever; a 4xx queues nothing; a 2xx queues exactly one message
  expect(wrote, `${what}: DynamoDB writes`).toBe(0);
  if (r.status >= 400) {
    expect(queued, `${what} -> ${r.status} but queued a message`).toBe(0);
    expect(r.contentType, `${what} -> ${r.status}`).toMatch(/^application\/problem\+json/);
    expect(r.body, `${what} -> ${r.status}`).toMatchObject({
      status: r.status,
      type: expect.any(String),
      title: expect.any(String),
      detail: expect.any(String),
    });
  } else {
    expect(r.status, what).toBe(202);
    expect(r.body, what).toEqual({ accepted: true });
    expect(queued, `${what} -> 202 but queued ${queued}`).toBe(1);
  }

  // what the oracle knows
  const tooBig = c.transport === 'http' && Buffer.byteLength(p.raw, 'utf8') > MAX_LOCAL_BODY;
  if (tooBig) expect(r.status, what).toBe(413);
  else if (p.channel === 'malformed') expect(r.status, what).toBe(400);
  else if (p.channel === 'unknown') expect(r.status, what).toBe(404);
  else if (p.channel === 'other-org' || !VALID_SIGS.has(c.sig.sig)) expect(r.status, `${what}: RL-5`).toBe(401);
  else if (p.expect === 'accept') expect(r.status, `${what}: a signed valid event -> ${r.raw.slice(0, 300)}`).toBe(202);
  else if (p.expect === 'refuse-400') {
    expect(r.status, `${what}: RL-4`).toBe(400);
    if (p.field) {
      const fields = ((r.body.errors ?? []) as { field: string }[]).map((e) => e.field);
      const field = p.field;
      expect(
        fields.some((f) => f === field || f.startsWith(`${field}.`)),
        `${what}: the 400 names ${field}: ${JSON.stringify(r.body.errors)}`,
      ).toBe(true);
    }
  }

  if (r.status === 202) {
    env.accepted.push({ channelId: p.channelId, raw: p.raw });
    const event = (p.event ?? (JSON.parse(p.raw) as Prepared['event'])) as NonNullable<Prepared['event']>;
    const receivedAt = env.rig.clock.now().getTime();
    const occurredAt = (event as { occurredAt?: unknown }).occurredAt;
    // the text exactly as the channel sent it (the raw body parsed, escapes and all)
    const sent = (JSON.parse(p.raw) as { message?: { text?: unknown } }).message?.text;
    env.applied.push({
      channelId: p.channelId,
      event: { eventId: event.eventId, type: event.type, threadId: event.threadId },
      at: typeof occurredAt === 'string' ? Date.parse(occurredAt) : receivedAt,
      receivedAt,
      ...(typeof sent === 'string' ? { text: sent } : {}),
    });
  }
}

/**
 * RL-1 end to end: the consumer applies every accepted event; each (channel, event id) once. The org
 * holds the conversations they open: a start or message on a thread with no open conversation opens one
 * (no agent ever takes them here); a chat customer ending or disconnecting closes an Open one (T-2).
 * A chat end on a thread that never had a conversation is kept for 5 minutes: a start or message not
 * after it creates the conversation Closed (once; later ones of that contact are ignored).
 */
async function consumeAndCheck(env: Env, from: number): Promise<void> {
  const report = await env.rig.consume();
  expect(report.failures, `the consumer failed ${report.failures} accepted record(s)`).toBe(0);
  expect(await env.rig.depth()).toEqual({ ingest: 0, dlq: 0 });
  const batch = env.applied.slice(from);
  const receipts = await Promise.all(
    batch.map((a) => item(env.rig.doc, env.rig.tableName, keys.receipt(env.org, `${a.channelId}#${a.event.eventId}`))),
  );
  batch.forEach((a, i) =>
    expect(receipts[i], `RL-1: accepted ${a.event.type} ${a.event.eventId} was never applied`).toBeDefined(),
  );
}

interface ThreadModel {
  channelId: string;
  threadId: string;
  open: boolean;
  conversations: number;
  /** the thread has had a conversation */
  started: boolean;
  /** T-2: the chat end kept before its first conversation */
  early?: { endedAt: number; expiresAt: number; linked: boolean };
  /** MS-1: the customer texts its conversations' transcripts hold, once each */
  texts: string[];
}

/** MS-1: a conversation's whole transcript, oldest first. */
async function transcriptOf(env: Env, conversationId: string): Promise<Message[]> {
  const out: Message[] = [];
  let after: number | undefined = 0;
  while (after !== undefined) {
    const page = await env.rig.store.repositories.messages.listMessages(env.org, conversationId, { limit: 100, after });
    out.push(...page.items);
    after = page.after;
  }
  return out;
}

/** Checks the org's conversations and transcripts against the accepted events; answers how many texts are stored. */
async function checkConversations(env: Env): Promise<number> {
  const seen = new Set<string>();
  const threads = new Map<string, ThreadModel>();
  for (const a of env.applied) {
    const id = `${a.channelId}#${a.event.eventId}`;
    if (seen.has(id)) continue;
    seen.add(id);
    const key = `${a.channelId}\u0000${a.event.threadId}`;
    const t: ThreadModel = threads.get(key) ?? {
      channelId: a.channelId,
      threadId: a.event.threadId,
      open: false,
      conversations: 0,
      started: false,
      texts: [],
    };
    threads.set(key, t);
    // MS-1: a start or message carries its text into the transcript of the conversation it opens or reaches
    const carries =
      a.text !== undefined && (a.event.type === 'conversation.started' || a.event.type === 'message.received');
    const said = (): void => {
      if (carries) t.texts.push(a.text as string);
    };
    const live = a.channelId === env.channels.chat;
    const ends = a.event.type === 'customer.ended' || a.event.type === 'customer.disconnected';
    const early = live && t.early && a.receivedAt < t.early.expiresAt * 1000 ? t.early : undefined;
    if (!t.open && (a.event.type === 'conversation.started' || a.event.type === 'message.received')) {
      if (early && a.at <= early.endedAt) {
        // the first creates the conversation Closed (its text kept); later ones are ignored (T-2)
        if (!early.linked) {
          t.conversations++;
          said();
        }
        early.linked = true;
      } else {
        t.open = true;
        t.conversations++;
        said();
      }
      t.started = true;
    } else if (t.open) {
      if (live && ends) t.open = false;
      // a start or message on the open conversation joins its transcript
      else said();
    } else if (!t.started && live && ends && !early) {
      t.early = { endedAt: a.at, expiresAt: Math.floor(a.receivedAt / 1000) + 300, linked: false };
    }
  }
  for (const t of threads.values()) {
    const page = await env.rig.store.listConversations(
      env.org,
      { channelId: t.channelId, threadId: t.threadId },
      { limit: 100 },
    );
    const what = `thread ${JSON.stringify(t.threadId)} on ${t.channelId}`;
    // a thread is the very string the channel sent: another thread's events never land on it
    expect(
      page.items.map((c) => c.threadId),
      `thread ids stored for ${what}`,
    ).toEqual(page.items.map(() => t.threadId));
    expect(page.items.length, `RL-1: conversations of ${what}`).toBe(t.conversations);
    expect(page.items.filter((c) => c.status !== 'Closed').length, `open conversations of ${what}`).toBe(
      t.open ? 1 : 0,
    );
    // MS-1 / RL-1: every accepted text once, exactly as sent, each transcript seq 1..n from the customer
    const stored: string[] = [];
    for (const c of page.items) {
      const transcript = await transcriptOf(env, c.id);
      expect(
        transcript.map((m) => m.seq),
        `MS-1: seqs of ${c.id} on ${what}`,
      ).toEqual(transcript.map((_, i) => i + 1));
      expect(
        transcript.map((m) => m.from),
        `MS-1: only the customer writes on ${what} (no agent, no template)`,
      ).toEqual(transcript.map(() => 'customer'));
      stored.push(...transcript.map((m) => m.text));
    }
    const sorted = (texts: string[]): string[] => [...texts].sort();
    expect(sorted(stored), `MS-1 / RL-1: the customer texts stored for ${what}`).toEqual(sorted(t.texts));
  }
  let total = 0;
  let cursor: string | undefined;
  do {
    const page = await env.rig.store.listConversations(env.org, {}, { limit: 100, ...(cursor ? { cursor } : {}) });
    total += page.items.length;
    cursor = page.nextCursor;
  } while (cursor);
  expect(total, 'every conversation of the org comes from an accepted event').toBe(
    [...threads.values()].reduce((n, t) => n + t.conversations, 0),
  );
  return [...threads.values()].reduce((n, t) => n + t.texts.length, 0);
}

// ---------------------------------------------------------------------------------------------------

let rig: Rig;
let server: Server;
let env: Env;
beforeAll(async () => {
  rig = await startRig();
  const org = `f${ulid().toLowerCase()}`;
  const other = `f${ulid().toLowerCase()}`;
  await rig.store.putQueue({ org, id: 'q1', name: 'Queue 1' });
  await rig.store.putSettings({ org, ...DEFAULT_SETTINGS });
  for (const [o, kind] of [
    [org, 'chat'],
    [org, 'sms'],
    [other, 'chat'],
  ] as const) {
    const ws: Workstream = {
      org: o,
      id: `ws-${kind}`,
      name: kind,
      mode: kind === 'chat' ? 'live' : 'persistent',
      capacity: { pool: 'default', units: 1 },
      allowedPresences: ['Available', 'Busy'],
      wrapUp: { blockCapacity: 'always' },
      waitingInactivityTimeoutSeconds: 600,
      agentReconnectTimeoutSeconds: 120,
      routingRules: [{ when: { field: 'topic', equals: 'billing' }, queueId: 'q1' }],
      defaultQueueId: 'q1',
      distribution: 'pick',
    };
    await rig.store.putWorkstream(ws);
    await rig.store.putChannel(
      { org: o, id: `${o}-${kind}`, kind, workstreamId: ws.id },
      o === org ? SECRET : `${SECRET}-theirs`,
    );
  }
  const { ROUTE_GROUPS } = await import('../../functions/handlers/http/routes.js');
  server = createLocalHttpServer({
    routes: ROUTE_GROUPS.webhooks.routes.map((route) => ({ route, handler: rig.handlers.webhooks })),
    jwtSecret: DEFAULT_LOCAL_JWT_SECRET,
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  const addr = server.address() as AddressInfo;
  env = {
    rig,
    org,
    channels: { chat: `${org}-chat`, sms: `${org}-sms`, 'other-org': `${other}-chat` },
    url: `http://127.0.0.1:${addr.port}`,
    accepted: [],
    applied: [],
    counts: {},
    cases: 0,
  };
});
afterAll(async () => {
  server?.closeAllConnections();
  await new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()));
  await rig?.stop();
});

describe('webhook fuzzer', () => {
  it(
    `RL-4, RL-5, RL-1: ${CASES} generated bodies and headers -> only 2xx/4xx, problem+json and nothing written on 4xx, every accepted event applied once`,
    async () => {
      const started = Date.now();
      let consumedFrom = 0;
      await fc.assert(
        fc.asyncProperty(fc.array(caseArb, { minLength: 50, maxLength: 50 }), async (cases) => {
          for (const c of cases) {
            if (env.cases >= CASES) return;
            await runCase(env, c);
          }
          await consumeAndCheck(env, consumedFrom);
          consumedFrom = env.applied.length;
        }),
        { numRuns: Math.ceil(CASES / 50), endOnFailure: true, ...(FUZZ_SEED !== undefined ? { seed: FUZZ_SEED } : {}) },
      );
      await consumeAndCheck(env, consumedFrom);
      const texts = await checkConversations(env);
      console.log(
        `fuzz: ${env.cases} cases in ${((Date.now() - started) / 1000).toFixed(1)}s; statuses ${JSON.stringify(env.counts)}; ${env.applied.length} accepted; ${texts} customer texts in transcripts`,
      );
      expect(env.cases).toBe(CASES);
    },
    CASES * 500 + 120_000,
  );
});
