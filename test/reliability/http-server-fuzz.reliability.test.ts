import { GetQueueAttributesCommand } from '@aws-sdk/client-sqs';
import fc from 'fast-check';
import { SignJWT } from 'jose';
import { connect } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_LOCAL_JWT_SECRET } from '../../bin/local/http-server.js';
import type { LocalRuntime } from '../../bin/local/runtime.js';
import { signLocalToken } from '../../bin/local/token.js';
import { StreamReader } from '../../bin/local/stream-poller.js';
import { ACTIONS } from '../../functions/handlers/http/conversations.handler.js';
import { ROUTES, routeKey, type RouteSpec } from '../../functions/handlers/http/route-table.js';
import { signBody } from '../../functions/use-cases/ingest-webhook.use-case.js';
import { Api, startRuntime, token, uniqueOrg, type HttpResult } from '../support/e2e.js';

/**
 * HTTP server fuzzer (RL-10, RL-4, RL-6): fast-check writes raw HTTP/1.1 requests, byte by byte, to the
 * real local runtime (`startLocalRuntime`: the server `npm start` runs, with every handler, DynamoDB
 * Local, fauxqs and the stream consumer) over `node:net` sockets, since fetch would normalize what is
 * fuzzed here. Six cases in ten are chaos, each part drawn on its own: every route of the registry and
 * some that are not; the route's method, another, an unknown one, CONNECT, or one that is not a token;
 * paths with malformed percent escapes, overlong, empty, dot, prototype-named ('__proto__',
 * 'constructor') and non-ASCII segments, double slashes, the absolute form; queries that do not parse;
 * tokens of nine subjects of two orgs (one named 'constructor', one without roles), expired, of
 * another secret, unsigned, with bad claims, duplicated or not ASCII; duplicated, oversized, non-ASCII
 * and malformed headers; valid bodies, broken ones, huge ones, deep ones, wrong content types; chunked
 * bodies, truncated or with a bad chunk size, wrong lengths, and slow clients that pause in the middle
 * of a request, then finish it or go away. Four in ten are coherent: the route's method and real ids,
 * a token of a role the route accepts, a valid body (whose ids may still be unknown or
 * prototype-named), so they reach the use cases, succeed often and change the state the chaos meets.
 *
 * It passes when:
 * - every answer is 2xx or 4xx (304 only for a conditional read), and an answer comes for every request
 *   whose framing is valid; a closed connection without one only when the request was broken at the
 *   HTTP level (a truncated body, an invalid method or header, a client that went away);
 * - a 4xx with a body is problem+json with the same status; where the outcome is known, it is that one
 *   (404 no route, 400 a malformed escape or id, 401 no valid token, 403 none of the route's roles,
 *   413, 417, 431);
 * - the process keeps serving: `GET /health` after every case, and at the end;
 * - nothing is written by a 4xx, by a request without an answer, or by any GET: a reader of the table's
 *   stream (every change of any item, in any org) sees no record during the case, but for the sweeper
 *   removing a timer that fell due. After a success, the follow-ups (and, after a webhook, the
 *   ingestion queue) are waited for before the next case is watched;
 * - no error was only logged: the server's "unexpected error" log stays silent.
 *
 * HTTP_FUZZ_CASES: 2,000 by default (`npm test`), 20,000 in `npm run test:reliability`. HTTP_FUZZ_SEED
 * generates the same cases again; the default size runs on a fixed seed.
 */

const CASES = Number(process.env.HTTP_FUZZ_CASES ?? 2000);
const SEED: number | undefined = process.env.HTTP_FUZZ_SEED
  ? Number(process.env.HTTP_FUZZ_SEED)
  : process.env.HTTP_FUZZ_CASES
    ? undefined
    : 20261202;
const SECRET = 'http-fuzz-secret-0123456789';
const MAX_BODY = 256 * 1024;
/** Node's default limit on a request's head (request line and headers): past it, 431 */
const MAX_HEAD = 16 * 1024;

// ---------------------------------------------------------------------------------------------------
// The world: org A with conversations in every state, org B, and the tokens of both

interface World {
  rt: LocalRuntime;
  port: number;
  orgA: string;
  orgB: string;
  tokens: Record<TokenKind, string>;
  conversations: string[];
  otherOrgConversation: string;
  channels: { chat: string; sms: string; other: string };
}

const VALID_TOKENS = [
  'admin',
  'supervisor',
  'alice',
  'bob',
  'carol',
  'otherAdmin',
  'otherAgent',
  'protoSub',
  'noRoles',
] as const;
const INVALID_TOKENS = ['expired', 'wrongSecret', 'algNone', 'badClaims', 'garbage'] as const;
type TokenKind = (typeof VALID_TOKENS)[number] | (typeof INVALID_TOKENS)[number];
/** roles of the valid tokens that pass the server's check; badClaims passes it too, then fails the handler's */
const ROLES_OF: Record<(typeof VALID_TOKENS)[number], string[]> = {
  admin: ['admin', 'supervisor'],
  supervisor: ['supervisor'],
  alice: ['agent'],
  bob: ['agent'],
  carol: ['agent'],
  otherAdmin: ['admin', 'supervisor'],
  otherAgent: ['agent'],
  protoSub: ['agent'],
  noRoles: [],
};

const settings = {
  supervisorMonitor: true,
  supervisorAssign: true,
  supervisorTransfer: true,
  forceClose: true,
  agentEndMessagingSession: true,
};
/**
 * Pick distribution, no wrap-up timer, long timeouts: the one timer that comes due during a run is the
 * dispatch safety net a sign-in arms 30 s ahead (R-3), and the write watch knows the sweeper's work.
 */
const workstream = (mode: 'live' | 'persistent') => ({
  name: mode,
  mode,
  capacity: { units: 1 },
  allowedPresences: ['Available', 'Busy'],
  wrapUp: { blockCapacity: 'never' },
  waitingInactivityTimeoutSeconds: 7 * 24 * 3600,
  agentReconnectTimeoutSeconds: 24 * 3600,
  defaultQueueId: 'q1',
});
const neverTrigger = {
  when: { event: 'inactivity-timeout', field: 'status', changedTo: 'Never' },
  then: [{ type: 'send-survey' }],
};

async function buildWorld(): Promise<World> {
  const rt = await startRuntime();
  const api = new Api(rt.url);
  const orgA = uniqueOrg();
  const orgB = uniqueOrg();
  const adminA = api.as(await token(orgA, 'root', ['admin', 'supervisor']));
  const adminB = api.as(await token(orgB, 'boss', ['admin', 'supervisor']));
  const must = async (p: Promise<HttpResult>): Promise<HttpResult> => {
    const r = await p;
    if (r.status >= 300) throw new Error(`setup: ${r.status} ${JSON.stringify(r.body)}`);
    return r;
  };
  const channels = { chat: `${orgA}-chat`, sms: `${orgA}-sms`, other: `${orgB}-chat` };
  for (const [admin, queues] of [
    [adminA, ['q1', 'q2']],
    [adminB, ['q1']],
  ] as const) {
    await must(admin.put('/v1/admin/settings', settings));
    for (const q of queues) await must(admin.put(`/v1/admin/queues/${q}`, { name: q }));
    await must(admin.put('/v1/admin/workstreams/ws-chat', workstream('live')));
  }
  await must(adminA.put('/v1/admin/workstreams/ws-sms', workstream('persistent')));
  await must(
    adminA.put(`/v1/admin/channels/${channels.chat}`, { kind: 'chat', workstreamId: 'ws-chat', secret: SECRET }),
  );
  await must(adminA.put(`/v1/admin/channels/${channels.sms}`, { kind: 'sms', workstreamId: 'ws-sms', secret: SECRET }));
  await must(
    adminB.put(`/v1/admin/channels/${channels.other}`, { kind: 'chat', workstreamId: 'ws-chat', secret: SECRET }),
  );
  await must(adminA.put('/v1/admin/contacts/ct1', { kind: 'contact', name: 'Ann', phone: '+14255550100' }));
  await must(adminA.put('/v1/admin/triggers/t1', neverTrigger));
  for (const [id, queues] of [
    ['alice', ['q1']],
    ['bob', ['q1', 'q2']],
    ['carol', ['q2']],
  ] as const)
    await must(adminA.put(`/v1/admin/agents/${id}`, { name: id, queues, capacity: { default: 100 } }));
  await must(adminB.put('/v1/admin/agents/bert', { name: 'Bert', queues: ['q1'], capacity: { default: 100 } }));

  const tokens = {} as Record<TokenKind, string>;
  const subs = { alice: 'alice', bob: 'bob', carol: 'carol', protoSub: 'constructor', noRoles: 'alice' } as const;
  for (const kind of VALID_TOKENS) {
    const org = kind === 'otherAdmin' || kind === 'otherAgent' ? orgB : orgA;
    const sub = kind in subs ? subs[kind as keyof typeof subs] : kind === 'otherAgent' ? 'bert' : kind;
    tokens[kind] = await token(org, sub, ROLES_OF[kind]);
  }
  const key = new TextEncoder().encode(DEFAULT_LOCAL_JWT_SECRET);
  const now = Math.floor(Date.now() / 1000);
  tokens.expired = await new SignJWT({ org: orgA, roles: ['admin'] })
    .setProtectedHeader({ alg: 'HS256' })
    .setSubject('root')
    .setIssuedAt(now - 7200)
    .setExpirationTime(now - 3600)
    .sign(key);
  tokens.wrongSecret = await new SignJWT({ org: orgA, roles: ['admin'] })
    .setProtectedHeader({ alg: 'HS256' })
    .setSubject('root')
    .sign(new TextEncoder().encode('not-the-secret'));
  const b64 = (v: unknown) => Buffer.from(JSON.stringify(v)).toString('base64url');
  tokens.algNone = `${b64({ alg: 'none', typ: 'JWT' })}.${b64({ sub: 'root', org: orgA, roles: ['admin'] })}.`;
  // signed right, with the iss, aud and exp the server checks (RL-11), but claims the handler cannot use (its 401)
  tokens.badClaims = await signLocalToken({ org: `${orgA}/x`, sub: 'a b', roles: ['admin'] });
  tokens.garbage = 'eyJhbGciOiJIUzI1NiJ9.bm9wZQ.c2ln';

  // conversations in every state: Open (chat), Active (alice: chat, sms), Waiting (alice, sms), Closed
  const alice = api.as(tokens.alice);
  const open = ['o1', 'o2', 'o3', 'o4'];
  const activeChat = ['a1', 'a2', 'a3', 'a4', 'a5', 'a6'];
  const activeSms = ['s1', 's2', 's3'];
  const waiting = ['s4', 's5'];
  const threads = [...open, ...activeChat, ...activeSms, ...waiting, 'closed'];
  const channelOf = (t: string) => (t.startsWith('s') ? channels.sms : channels.chat);
  await Promise.all(
    threads.map((t) =>
      must(api.webhook(channelOf(t), { eventId: `e-${t}`, type: 'conversation.started', threadId: t }, SECRET)),
    ),
  );
  await must(api.webhook(channels.other, { eventId: 'e-b', type: 'conversation.started', threadId: 'b1' }, SECRET));
  await rt.drain();
  const idOf = async (channel: string, thread: string, admin = adminA): Promise<string> => {
    const r = await must(admin.get(`/v1/conversations?channelId=${channel}&threadId=${thread}`));
    return ((r.body as { items: { id: string }[] }).items[0] as { id: string }).id;
  };
  const ids: Record<string, string> = {};
  await Promise.all(threads.map(async (t) => (ids[t] = await idOf(channelOf(t), t))));
  const act = (t: string, name: string) => must(alice.post(`/v1/conversations/${ids[t]}/actions/${name}`));
  for (const t of [...activeChat, ...activeSms, ...waiting, 'closed']) await act(t, 'accept');
  for (const t of waiting) await act(t, 'close');
  await act('closed', 'end');
  await act('closed', 'close');
  await must(alice.post('/v1/agents/me/sign-in'));
  await must(api.as(tokens.bob).post('/v1/agents/me/sign-in'));
  const otherOrgConversation = await idOf(channels.other, 'b1', adminB);
  await rt.drain();
  const { port } = new URL(rt.url);
  return {
    rt,
    port: Number(port),
    orgA,
    orgB,
    tokens,
    conversations: threads.map((t) => ids[t] as string),
    otherOrgConversation,
    channels,
  };
}

// ---------------------------------------------------------------------------------------------------
// Generators

/** What a path parameter is made of. */
type Param =
  | { k: 'real'; pick: number }
  | { k: 'unknown' }
  | { k: 'other-org' }
  | { k: 'proto'; name: string }
  | { k: 'bad-escape'; esc: string }
  | { k: 'long'; n: number }
  | { k: 'unicode'; text: string }
  | { k: 'raw-bytes'; text: string }
  | { k: 'dot'; dots: string }
  | { k: 'empty' };
const BAD_ESCAPES = ['%', '%%', '%Z9', '%9', '%E0%A4%A', '%C0%AF', '%ED%A0%80', '%FF', '%F0%9F%98', '%u0041', '%0'];
const PROTO_IDS = ['__proto__', 'constructor', 'prototype', 'toString', 'hasOwnProperty', 'valueOf'];
const paramArb: fc.Arbitrary<Param> = fc.oneof(
  { weight: 40, arbitrary: fc.record({ k: fc.constant('real' as const), pick: fc.nat(20) }) },
  { weight: 6, arbitrary: fc.constant({ k: 'unknown' as const }) },
  { weight: 6, arbitrary: fc.constant({ k: 'other-org' as const }) },
  { weight: 6, arbitrary: fc.record({ k: fc.constant('proto' as const), name: fc.constantFrom(...PROTO_IDS) }) },
  {
    weight: 10,
    arbitrary: fc.record({
      k: fc.constant('bad-escape' as const),
      esc: fc.constantFrom(...BAD_ESCAPES),
      at: fc.nat(3),
    }),
  },
  {
    weight: 6,
    arbitrary: fc.record({
      k: fc.constant('long' as const),
      n: fc.oneof(fc.integer({ min: 65, max: 300 }), fc.integer({ min: 4_000, max: 9_000 }), fc.constant(17_000)),
    }),
  },
  {
    weight: 4,
    arbitrary: fc.record({
      k: fc.constant('unicode' as const),
      text: fc.string({ unit: 'grapheme', minLength: 1, maxLength: 8 }),
    }),
  },
  {
    weight: 2,
    arbitrary: fc.record({
      k: fc.constant('raw-bytes' as const),
      text: fc.constantFrom('é', '\u00ff', 'a b', 'a\tb', '"', '<>', '{}', '|'),
    }),
  },
  { weight: 2, arbitrary: fc.record({ k: fc.constant('dot' as const), dots: fc.constantFrom('.', '..') }) },
  { weight: 1, arbitrary: fc.constant({ k: 'empty' as const }) },
);

type Shape =
  'exact' | 'trailing-slash' | 'double-slash' | 'leading-double' | 'absolute' | 'upper' | 'extra' | 'dot-seg';
const shapeArb: fc.Arbitrary<Shape> = fc.oneof(
  { weight: 80, arbitrary: fc.constant<Shape>('exact') },
  {
    weight: 20,
    arbitrary: fc.constantFrom<Shape>(
      'trailing-slash',
      'double-slash',
      'leading-double',
      'absolute',
      'upper',
      'extra',
      'dot-seg',
    ),
  },
);

/** Places a request goes: the registry's routes, and some that are not there. */
const EXTRA_PATHS = [
  '/',
  '/v1',
  '/v2/conversations',
  '/favicon.ico',
  '/_local/clock',
  '/v1/admin',
  '/health/x',
  '//',
  '*',
];
type Target = { kind: 'route'; route: number } | { kind: 'extra'; path: string } | { kind: 'junk'; path: string };
const targetArb: fc.Arbitrary<Target> = fc.oneof(
  { weight: 85, arbitrary: fc.record({ kind: fc.constant('route' as const), route: fc.nat(ROUTES.length - 1) }) },
  { weight: 10, arbitrary: fc.record({ kind: fc.constant('extra' as const), path: fc.constantFrom(...EXTRA_PATHS) }) },
  {
    weight: 5,
    arbitrary: fc.record({
      kind: fc.constant('junk' as const),
      path: fc
        .string({ unit: 'binary-ascii', minLength: 1, maxLength: 60 })
        .map((s) => [...s].filter((ch) => ch > ' ' && ch < '\u007f').join('') || 'x'),
    }),
  },
);

type MethodChoice =
  | { k: 'route' }
  | { k: 'standard'; m: string }
  | { k: 'known-odd'; m: string }
  | { k: 'connect' }
  | { k: 'invalid'; m: string };
const methodArb: fc.Arbitrary<MethodChoice> = fc.oneof(
  { weight: 75, arbitrary: fc.constant({ k: 'route' as const }) },
  {
    weight: 12,
    arbitrary: fc.record({
      k: fc.constant('standard' as const),
      m: fc.constantFrom('GET', 'PUT', 'POST', 'DELETE', 'PATCH', 'HEAD', 'OPTIONS', 'TRACE'),
    }),
  },
  {
    weight: 4,
    arbitrary: fc.record({
      k: fc.constant('known-odd' as const),
      m: fc.constantFrom('PURGE', 'M-SEARCH', 'PROPFIND', 'MKCOL', 'QUERY', 'SEARCH', 'LINK', 'REPORT', 'LOCK'),
    }),
  },
  { weight: 2, arbitrary: fc.constant({ k: 'connect' as const }) },
  {
    weight: 7,
    arbitrary: fc.record({
      k: fc.constant('invalid' as const),
      m: fc.constantFrom('FOO', 'get', 'Post', 'G\u00e9T', 'GET\u0000', 'A'.repeat(1000), 'P-O-S-T', '1GET', 'BREW'),
    }),
  },
);

type Query = { k: 'none' } | { k: 'valid' } | { k: 'garbage'; q: string };
const GARBAGE_QUERIES = [
  '?limit=abc',
  '?limit=0',
  '?limit=1e400',
  '?limit=-1',
  '?limit=5&limit=500',
  '?%zz=1',
  '?a=%E0%A4%A',
  '?cursor=garbage',
  `?cursor=${'A'.repeat(3000)}`,
  '?cursor=eyJ9',
  '?status=Nope',
  '?status=Open&agentId=bob',
  '?agentId=__proto__',
  '?__proto__=1',
  '?constructor=1',
  '?',
  '??',
  '?&&&=',
  '?threadId=',
  `?threadId=${'%F0%9F%98%80'.repeat(100)}`,
];
const queryArb: fc.Arbitrary<Query> = fc.oneof(
  { weight: 70, arbitrary: fc.constant({ k: 'none' as const }) },
  { weight: 10, arbitrary: fc.constant({ k: 'valid' as const }) },
  { weight: 20, arbitrary: fc.record({ k: fc.constant('garbage' as const), q: fc.constantFrom(...GARBAGE_QUERIES) }) },
);

type Auth =
  | { k: 'none' }
  | { k: 'token'; t: TokenKind; scheme: 'Bearer' | 'bearer' | 'BEARER' }
  | { k: 'raw'; value: string }
  | { k: 'duplicated'; first: TokenKind; second: TokenKind }
  /** a valid token of a role the route accepts */
  | { k: 'fitting'; pick: number };
const tokenKindArb = fc.oneof(
  { weight: 8, arbitrary: fc.constantFrom<TokenKind>(...VALID_TOKENS) },
  { weight: 2, arbitrary: fc.constantFrom<TokenKind>(...INVALID_TOKENS) },
);
const authArb: fc.Arbitrary<Auth> = fc.oneof(
  { weight: 20, arbitrary: fc.constant({ k: 'none' as const }) },
  {
    weight: 65,
    arbitrary: fc.record({
      k: fc.constant('token' as const),
      t: tokenKindArb,
      scheme: fc.constantFrom('Bearer' as const, 'bearer' as const, 'BEARER' as const),
    }),
  },
  {
    weight: 10,
    arbitrary: fc.record({
      k: fc.constant('raw' as const),
      value: fc.constantFrom(
        'Bearer',
        'Bearer ',
        'Basic dXNlcjpwYXNz',
        'Bearer \u00e9\u00ff',
        'Token abc',
        '',
        'Bearer a.b',
        // RL-11: over API Gateway's 10,240 bytes
        `Bearer ${'a'.repeat(10_300)}`,
      ),
    }),
  },
  {
    weight: 5,
    arbitrary: fc.record({ k: fc.constant('duplicated' as const), first: tokenKindArb, second: tokenKindArb }),
  },
);

/** Extra headers, each a raw line or lines; `broken` ones are not valid HTTP (Node refuses the request). */
type Header = { name: string; line: string; broken?: boolean; huge?: boolean; size?: number; many?: number };
const headerArb: fc.Arbitrary<Header> = fc.oneof(
  fc.constant({ name: 'dup-content-type', line: 'Content-Type: text/plain\r\nContent-Type: application/json' }),
  fc.constant({ name: 'dup-idempotency', line: 'Idempotency-Key: k-1\r\nIdempotency-Key: k-2' }),
  fc
    .stringMatching(/^[A-Za-z0-9_.:-]{1,128}$/)
    .map((k) => ({ name: 'idempotency-key', line: `Idempotency-Key: fz-${k}`.slice(0, 150) })),
  fc.constantFrom(
    { name: 'idempotency-bad', line: 'Idempotency-Key: not a key!' },
    { name: 'idempotency-latin1', line: 'Idempotency-Key: cl\u00e9' },
    { name: 'if-match', line: 'If-Match: "1"' },
    { name: 'if-match-star', line: 'If-Match: *' },
    { name: 'if-match-weak', line: 'If-Match: W/"2"' },
    { name: 'if-match-bad', line: 'If-Match: 3' },
    { name: 'if-match-list', line: 'If-Match: "1", "2",, "x"' },
    { name: 'dup-if-match', line: 'If-Match: "1"\r\nIf-Match: "2"' },
    { name: 'if-none-match', line: 'If-None-Match: "1", "2", "3", "4"' },
    { name: 'if-none-match-star', line: 'If-None-Match: *' },
    { name: 'if-none-match-bad', line: `If-None-Match: ${'"9"'.repeat(400)}` },
    { name: 'x-signature-garbage', line: 'X-Signature: sha256=zz' },
    { name: 'latin1-value', line: 'X-Note: caf\u00e9 \u00ff\u00fe' },
    { name: 'utf8-bytes-value', line: `X-Note: ${Buffer.from('日本語 😀', 'utf8').toString('latin1')}` },
    { name: 'expect-continue', line: 'Expect: 100-continue' },
    { name: 'expect-odd', line: 'Expect: teapot' },
    { name: 'upgrade', line: 'Connection: Upgrade\r\nUpgrade: websocket' },
    { name: 'keep-alive', line: 'Connection: keep-alive' },
    { name: 'content-encoding', line: 'Content-Encoding: gzip' },
    { name: 'dup-host', line: 'Host: evil.example' },
    {
      name: 'forwarded',
      line: 'X-Forwarded-For: 10.0.0.1\r\nX-Forwarded-Host: evil\r\nX-Original-URL: /v1/admin/settings',
    },
    { name: 'many', line: 'X-Many: 0', many: 150 },
    { name: 'empty-value', line: 'X-Empty:' },
    { name: 'ctl-value', line: 'X-Bad: a\u0001b', broken: true },
    { name: 'nul-value', line: 'X-Bad: a\u0000b', broken: true },
    { name: 'bad-name', line: 'Bad Header: x', broken: true },
    { name: 'latin1-name', line: 'X-\u00e9: x', broken: true },
    { name: 'no-colon', line: 'garbage', broken: true },
    { name: 'obs-fold', line: 'X-Fold: a\r\n  b', broken: true },
    { name: 'empty-name', line: ': x', broken: true },
  ),
  fc.integer({ min: 1_000, max: 12_000 }).map((n) => ({ name: `big-${n}`, line: 'X-Big: ', size: n })),
  fc.constant({ name: 'huge', line: 'X-Huge: ', size: 17_000, huge: true }),
);

type Body =
  | { k: 'none' }
  | { k: 'good'; pick: number }
  | { k: 'good-extra'; pick: number }
  | { k: 'json'; value: unknown }
  | { k: 'text'; raw: string }
  | { k: 'huge'; n: number }
  | { k: 'at-limit' }
  | { k: 'deep'; depth: number }
  | { k: 'bytes'; hex: string };
const bodyArb: fc.Arbitrary<Body> = fc.oneof(
  { weight: 25, arbitrary: fc.constant({ k: 'none' as const }) },
  { weight: 30, arbitrary: fc.record({ k: fc.constant('good' as const), pick: fc.nat(20) }) },
  { weight: 5, arbitrary: fc.record({ k: fc.constant('good-extra' as const), pick: fc.nat(20) }) },
  { weight: 12, arbitrary: fc.record({ k: fc.constant('json' as const), value: fc.jsonValue({ maxDepth: 3 }) }) },
  {
    weight: 12,
    arbitrary: fc.record({
      k: fc.constant('text' as const),
      raw: fc.oneof(
        fc.string({ maxLength: 100 }),
        fc.constantFrom('{', '{"a":', '\uFEFF{}', '"\\ud800"', '{"text":"\\udc00"}', 'null', '[]', '{}}', 'NaN'),
      ),
    }),
  },
  { weight: 3, arbitrary: fc.record({ k: fc.constant('huge' as const), n: fc.integer({ min: 1, max: 64 * 1024 }) }) },
  { weight: 1, arbitrary: fc.constant({ k: 'at-limit' as const }) },
  { weight: 3, arbitrary: fc.record({ k: fc.constant('deep' as const), depth: fc.integer({ min: 33, max: 20_000 }) }) },
  {
    weight: 3,
    arbitrary: fc.record({
      k: fc.constant('bytes' as const),
      hex: fc.uint8Array({ minLength: 1, maxLength: 64 }).map((b) => Buffer.from(b).toString('hex')),
    }),
  },
);

type Framing =
  | { k: 'length' }
  | { k: 'chunked'; size: number }
  | { k: 'truncated-chunked' }
  | { k: 'short-length'; missing: number }
  | { k: 'long-length' }
  | { k: 'bad-chunk' }
  | { k: 'slow'; pauses: number[]; at: number[] }
  | { k: 'slow-close'; pause: number; at: number };
const framingArb: fc.Arbitrary<Framing> = fc.oneof(
  { weight: 70, arbitrary: fc.constant({ k: 'length' as const }) },
  { weight: 10, arbitrary: fc.record({ k: fc.constant('chunked' as const), size: fc.integer({ min: 1, max: 4096 }) }) },
  { weight: 3, arbitrary: fc.constant({ k: 'truncated-chunked' as const }) },
  {
    weight: 3,
    arbitrary: fc.record({ k: fc.constant('short-length' as const), missing: fc.integer({ min: 1, max: 1000 }) }),
  },
  { weight: 1, arbitrary: fc.constant({ k: 'long-length' as const }) },
  { weight: 2, arbitrary: fc.constant({ k: 'bad-chunk' as const }) },
  {
    weight: 5,
    arbitrary: fc.record({
      k: fc.constant('slow' as const),
      pauses: fc.array(fc.integer({ min: 5, max: 60 }), { minLength: 1, maxLength: 2 }),
      at: fc.array(fc.double({ min: 0, max: 1, noNaN: true }), { minLength: 3, maxLength: 3 }),
    }),
  },
  {
    weight: 5,
    arbitrary: fc.record({
      k: fc.constant('slow-close' as const),
      pause: fc.integer({ min: 5, max: 80 }),
      at: fc.double({ min: 0, max: 0.999, noNaN: true }),
    }),
  },
);

const CONTENT_TYPES = [
  'application/json',
  'application/json; charset=utf-8',
  'text/plain',
  'application/x-www-form-urlencoded',
  'multipart/form-data; boundary=x',
  'application/problem+json',
  'application/json; charset=latin1',
  '*/*',
  'garbage',
];

interface Case {
  target: Target;
  params: Param[];
  shape: Shape;
  method: MethodChoice;
  query: Query;
  auth: Auth;
  headers: Header[];
  body: Body;
  contentType: string | null;
  framing: Framing;
  version: '1.1' | '1.0' | 'bad';
  sign: boolean;
}
/** Anything goes: each part of the request drawn on its own. */
const chaosArb: fc.Arbitrary<Case> = fc.record({
  target: targetArb,
  params: fc.array(paramArb, { minLength: 2, maxLength: 2 }),
  shape: shapeArb,
  method: methodArb,
  query: queryArb,
  auth: authArb,
  headers: fc.oneof(
    { weight: 60, arbitrary: fc.constant<Header[]>([]) },
    { weight: 40, arbitrary: fc.array(headerArb, { minLength: 1, maxLength: 3 }) },
  ),
  body: bodyArb,
  contentType: fc.oneof(
    { weight: 6, arbitrary: fc.constant('application/json') },
    { weight: 3, arbitrary: fc.constantFrom(...CONTENT_TYPES) },
    { weight: 1, arbitrary: fc.constant(null) },
  ),
  framing: framingArb,
  version: fc.oneof(
    { weight: 95, arbitrary: fc.constant('1.1' as const) },
    { weight: 3, arbitrary: fc.constant('1.0' as const) },
    { weight: 2, arbitrary: fc.constant('bad' as const) },
  ),
  sign: fc.boolean(),
});

const ACTIONS_KEY = 'POST /v1/conversations/{id}/actions/{action}';
const ACTIONS_ROUTE = ROUTES.findIndex((r) => routeKey(r) === ACTIONS_KEY);
/**
 * A request the engine takes in: the route's method and path with real ids, a token of a role the
 * route accepts (alice's for half the actions: she works most of the conversations), a valid body
 * whose ids may still be unknown or prototype-named, harmless headers. These reach the use cases
 * and succeed often, so the chaos around them meets real states.
 */
const coherentArb: fc.Arbitrary<Case> = fc.record({
  target: fc.oneof(
    { weight: 3, arbitrary: fc.constant<Target>({ kind: 'route', route: ACTIONS_ROUTE }) },
    { weight: 7, arbitrary: fc.nat(ROUTES.length - 1).map((route): Target => ({ kind: 'route', route })) },
  ),
  params: fc.array(
    fc.nat(60).map((pick): Param => ({ k: 'real', pick })),
    { minLength: 2, maxLength: 2 },
  ),
  shape: fc.constant<Shape>('exact'),
  method: fc.constant<MethodChoice>({ k: 'route' }),
  query: fc.constantFrom<Query>({ k: 'none' }, { k: 'valid' }),
  auth: fc.nat(99).map((pick): Auth => ({ k: 'fitting', pick })),
  headers: fc.oneof(
    { weight: 7, arbitrary: fc.constant<Header[]>([]) },
    {
      weight: 3,
      arbitrary: fc.array(
        headerArb.filter((h) => !h.broken && !h.huge && !h.size && h.name !== 'expect-odd'),
        { minLength: 1, maxLength: 2 },
      ),
    },
  ),
  body: fc.nat(60).map((pick): Body => ({ k: 'good', pick })),
  contentType: fc.constant('application/json'),
  framing: fc.oneof(
    { weight: 8, arbitrary: fc.constant<Framing>({ k: 'length' }) },
    { weight: 1, arbitrary: fc.integer({ min: 1, max: 64 }).map((size): Framing => ({ k: 'chunked', size })) },
    { weight: 1, arbitrary: fc.constant<Framing>({ k: 'slow', pauses: [5, 15], at: [0.3, 0.6, 0.9] }) },
  ),
  version: fc.constant('1.1' as const),
  sign: fc.constant(true),
});

const caseArb: fc.Arbitrary<Case> = fc.oneof({ weight: 6, arbitrary: chaosArb }, { weight: 4, arbitrary: coherentArb });

// ---------------------------------------------------------------------------------------------------
// Building a request

/** Real ids for a parameter, by the route it belongs to. */
function realIds(w: World, route: RouteSpec, name: string): string[] {
  const p = route.path;
  // half the time an action that names another agent or queue in its body (ids that may be unknown
  // or prototype-named)
  if (name === 'action')
    return [...ACTIONS, ...ACTIONS.map((_, i) => ['consult', 'transfer', 'assign'][i % 3] as string)];
  if (name === 'channelId' || p.startsWith('/v1/admin/channels')) return [w.channels.chat, w.channels.sms];
  if (p.startsWith('/v1/conversations')) return w.conversations;
  if (p.startsWith('/v1/queues') || p.startsWith('/v1/admin/queues')) return ['q1', 'q2'];
  if (p.startsWith('/v1/agents')) return ['me', 'alice', 'bob', 'carol'];
  if (p.startsWith('/v1/admin/agents')) return ['alice', 'bob', 'carol'];
  if (p.startsWith('/v1/admin/workstreams')) return ['ws-chat', 'ws-sms'];
  if (p.startsWith('/v1/admin/contacts')) return ['ct1'];
  if (p.startsWith('/v1/admin/triggers')) return ['t1'];
  if (p.startsWith('/v1/admin/message-templates')) return ['queued', 'outside-hours'];
  return ['x'];
}
function otherOrgId(w: World, route: RouteSpec, name: string): string {
  if (name === 'channelId' || route.path.startsWith('/v1/admin/channels')) return w.channels.other;
  if (route.path.startsWith('/v1/conversations')) return w.otherOrgConversation;
  if (route.path.includes('agents')) return 'bert';
  return 'q1';
}

interface Built {
  /** what the request is, for the failure message */
  what: string;
  /** the bytes, in the pieces the client sends (with a pause before each piece after the first) */
  pieces: { bytes: Buffer; pauseMs: number }[];
  /** the client closes the connection after the last piece instead of waiting for an answer */
  closeAfter: boolean;
  /** the request is not valid HTTP/1.1: an answer is not required (but must be 4xx if there is one) */
  broken: boolean;
  method: string;
  /** the answer this request must get, when the oracle knows it; 'any' otherwise */
  expect: number | 'any';
  /** the route asked, when it is one of the registry's */
  route?: RouteSpec;
  /** a conditional read: 304 is a valid answer */
  conditional: boolean;
  /**
   * a whole request reached the server before the framing broke (the bytes after a short
   * Content-Length): it may have run and written, though Node's 400 for what followed took its answer
   */
  ranWithoutAnswer: boolean;
}

const ID = /^[A-Za-z0-9_-]{1,64}$/;

function paramValue(w: World, route: RouteSpec, name: string, p: Param): { raw: string; decoded?: string } {
  switch (p.k) {
    case 'real': {
      const ids = realIds(w, route, name);
      const v = ids[p.pick % ids.length] as string;
      return { raw: v, decoded: v };
    }
    case 'unknown':
      return { raw: 'nope01HZZZ', decoded: 'nope01HZZZ' };
    case 'other-org': {
      const v = otherOrgId(w, route, name);
      return { raw: v, decoded: v };
    }
    case 'proto':
      return { raw: p.name, decoded: p.name };
    case 'bad-escape': {
      // at the end: before an id, "%0" then "1M8..." would be a valid escape
      const base = realIds(w, route, name)[0] as string;
      return { raw: `${base}${p.esc}` };
    }
    case 'long': {
      const v = 'L'.repeat(p.n);
      return { raw: v, decoded: v };
    }
    case 'unicode':
      return { raw: encodeURIComponent(p.text), decoded: p.text };
    case 'raw-bytes':
      return { raw: p.text };
    case 'dot':
      return { raw: p.dots };
    case 'empty':
      return { raw: '' };
  }
}

let events = 0;
/** Valid bodies by route (and action): their success changes things, but arms no timer that comes due. */
function goodBody(w: World, route: RouteSpec, action: string | undefined, pick: number): unknown {
  const agentIds = ['bob', 'alice', 'carol', 'nobody', 'bert', ...PROTO_IDS];
  const queueIds = ['q2', 'q1', 'nope', ...PROTO_IDS];
  const agentId = agentIds[pick % agentIds.length];
  const queueId = queueIds[pick % queueIds.length];
  switch (routeKey(route)) {
    case 'PUT /v1/admin/settings':
      return settings;
    case 'PUT /v1/admin/workstreams/{id}':
      return workstream(pick % 2 ? 'persistent' : 'live');
    case 'PUT /v1/admin/queues/{id}':
      return { name: `Queue ${pick}` };
    case 'PUT /v1/admin/channels/{id}':
      return { kind: pick % 2 ? 'sms' : 'chat', workstreamId: pick % 2 ? 'ws-sms' : 'ws-chat', secret: SECRET };
    case 'PUT /v1/admin/contacts/{id}':
      return { kind: 'contact', name: `Contact ${pick}`, attributes: { tier: 'gold' } };
    case 'PUT /v1/admin/agents/{id}':
      return { name: 'Agent', queues: pick % 3 ? ['q1'] : ['q1', queueId], capacity: { default: 100 } };
    case 'PUT /v1/admin/triggers/{id}':
      return neverTrigger;
    case 'PUT /v1/admin/message-templates/{event}':
      return { text: `fuzz template ${pick}: {{position}}`, enabled: pick % 2 === 0 };
    case 'POST /v1/conversations/{id}/notes':
      return { text: `fuzz note ${pick}` };
    case 'PUT /v1/agents/me/presence':
      return { presence: ['Available', 'Busy', 'Away', 'Offline'][pick % 4] };
    case 'POST /v1/agents/me/connection':
      return { connected: true };
    case 'POST /v1/webhooks/{channelId}':
      return { eventId: `fz-${++events}`, type: 'conversation.started', threadId: `fz-${pick}` };
    case 'POST /v1/conversations/{id}/actions/{action}':
      if (action === 'transfer')
        return pick % 3 === 0 ? { queueId } : pick % 3 === 1 ? { agentId } : { externalNumber: '+14255550100' };
      if (action === 'consult') return { agentId };
      if (action === 'assign') return pick % 2 ? { agentId, override: pick % 4 === 1 } : { queueId };
      return pick % 2 ? {} : undefined;
    default:
      return undefined;
  }
}

function bodyBytes(w: World, c: Case, route: RouteSpec | undefined, action: string | undefined): Buffer | undefined {
  const b = c.body;
  switch (b.k) {
    case 'none':
      return undefined;
    case 'good':
    case 'good-extra': {
      const v = route ? goodBody(w, route, action, b.pick) : {};
      if (v === undefined) return b.k === 'good' ? undefined : Buffer.from('{"surprise":1}');
      const out = b.k === 'good-extra' && typeof v === 'object' && v ? { ...v, surprise: true } : v;
      return Buffer.from(JSON.stringify(out));
    }
    case 'json':
      return Buffer.from(JSON.stringify(b.value) ?? 'null');
    case 'text':
      return Buffer.from(b.raw, 'utf8');
    case 'huge':
      return Buffer.from(`"${'z'.repeat(MAX_BODY + b.n - 2)}"`);
    case 'at-limit':
      return Buffer.from(`"${'z'.repeat(MAX_BODY - 2)}"`);
    case 'deep':
      return Buffer.from(`${'['.repeat(b.depth)}1${']'.repeat(b.depth)}`);
    case 'bytes':
      return Buffer.from(b.hex, 'hex');
  }
}

/** Splits `bytes` at the given fractions. */
function splitAt(bytes: Buffer, fractions: number[]): Buffer[] {
  const cuts = [...new Set(fractions.map((f) => Math.floor(f * bytes.length)))].sort((a, b) => a - b);
  const out: Buffer[] = [];
  let from = 0;
  for (const cut of cuts) {
    if (cut > from && cut < bytes.length) {
      out.push(bytes.subarray(from, cut));
      from = cut;
    }
  }
  out.push(bytes.subarray(from));
  return out;
}

const latin1 = (s: string): Buffer => Buffer.from(s, 'latin1');

function build(w: World, c: Case, seq: number): Built {
  const route = c.target.kind === 'route' ? ROUTES[c.target.route] : undefined;
  let path: string;
  let action: string | undefined;
  let decodedOk = true;
  let escapeBroken = false;
  let headBroken = false;
  let shapeKept = true;
  if (route) {
    let i = 0;
    path = route.path.replace(/\{(\w+)\}/g, (_m, name: string) => {
      const v = paramValue(w, route, name, c.params[i++ % c.params.length] as Param);
      if (name === 'action') action = v.decoded;
      if (v.decoded === undefined) {
        const p = c.params[(i - 1) % c.params.length] as Param;
        if (p.k === 'bad-escape') escapeBroken = true;
        else if (p.k === 'raw-bytes') headBroken = true;
        else shapeKept = false;
      } else if (!ID.test(v.decoded)) decodedOk = false;
      return v.raw;
    });
  } else if (c.target.kind !== 'route') path = c.target.path;
  else throw new Error(`no route ${c.target.route}`);
  switch (c.shape) {
    case 'exact':
      break;
    case 'trailing-slash':
      path = `${path}/`;
      break;
    case 'double-slash':
      path = path.replace(/\/(?=[^/]*$)/, '//');
      break;
    case 'leading-double':
      path = `/${path}`;
      break;
    case 'absolute':
      path = `http://127.0.0.1:${w.port}${path.startsWith('/') ? path : `/${path}`}`;
      break;
    case 'upper':
      path = path.toUpperCase();
      break;
    case 'extra':
      path = `${path}/more`;
      break;
    case 'dot-seg':
      path = path.replace(/^\/v1\//, '/v1/./');
      break;
  }
  // an absolute-form target is the same request (RFC 9112, 3.2.2); the others change the path
  if (c.shape !== 'exact' && c.shape !== 'absolute') shapeKept = false;
  const query = c.query.k === 'none' ? '' : c.query.k === 'valid' ? '?limit=10' : c.query.q;
  const target = `${path}${query}`;

  let method = 'GET';
  let methodBroken = false;
  switch (c.method.k) {
    case 'route':
      method = route?.method ?? 'GET';
      break;
    case 'standard':
    case 'known-odd':
      method = c.method.m;
      break;
    case 'connect':
      method = 'CONNECT';
      break;
    case 'invalid':
      method = c.method.m;
      methodBroken = true;
      break;
  }
  const lines = [`${method} ${target} ${c.version === 'bad' ? 'HTTP/1.7' : `HTTP/${c.version}`}`, 'Host: 127.0.0.1'];
  const tokenLine = (t: TokenKind, scheme = 'Bearer') => `Authorization: ${scheme} ${w.tokens[t]}`;
  let sentToken: TokenKind | 'raw' | undefined;
  switch (c.auth.k) {
    case 'none':
      break;
    case 'token':
      lines.push(tokenLine(c.auth.t, c.auth.scheme));
      sentToken = c.auth.t;
      break;
    case 'raw':
      lines.push(`Authorization: ${c.auth.value}`);
      sentToken = 'raw';
      break;
    case 'duplicated':
      // RL-11: the server refuses a second Authorization header (400), as API Gateway does
      lines.push(tokenLine(c.auth.first), tokenLine(c.auth.second));
      sentToken = c.auth.first;
      break;
    case 'fitting': {
      const fits = VALID_TOKENS.filter(
        (t) => t !== 'noRoles' && (route?.auth !== 'jwt' || route.roles?.some((r) => ROLES_OF[t].includes(r))),
      );
      const t =
        route && routeKey(route) === ACTIONS_KEY && c.auth.pick < 50 ? 'alice' : fits[c.auth.pick % fits.length];
      if (t) {
        lines.push(tokenLine(t));
        sentToken = t;
      }
      break;
    }
  }
  let hugeHead = false;
  for (const h of c.headers) {
    if (h.size) lines.push(`${h.line}${'b'.repeat(h.size)}`);
    else if (h.many) lines.push(h.line, ...Array.from({ length: h.many }, (_, i) => `X-H-${i}: ${i}`));
    else lines.push(h.line);
    if (h.broken) headBroken = true;
    if (h.huge) hugeHead = true;
  }
  if (!c.headers.some((h) => h.name === 'keep-alive' || h.name === 'upgrade')) lines.push('Connection: close');
  if (c.contentType !== null) lines.push(`Content-Type: ${c.contentType}`);

  let body = bodyBytes(w, c, route, action);
  if (route?.group === 'webhooks' && c.sign && body)
    lines.push(`X-Signature: ${signBody(SECRET, body.toString('utf8'))}`);
  const f = c.framing;
  let framingBroken = false;
  let tail: Buffer = Buffer.alloc(0);
  const chunked = f.k === 'chunked' || f.k === 'truncated-chunked' || f.k === 'bad-chunk';
  if (chunked && c.version === '1.1') {
    lines.push('Transfer-Encoding: chunked');
    const data = body ?? Buffer.alloc(0);
    const size = f.k === 'chunked' ? f.size : 64;
    const parts: Buffer[] = [];
    for (let at = 0; at < data.length; at += size) {
      const piece = data.subarray(at, at + size);
      parts.push(latin1(`${piece.length.toString(16)}\r\n`), piece, latin1('\r\n'));
    }
    if (f.k === 'bad-chunk') {
      parts.unshift(latin1('zz\r\nxx\r\n'));
      framingBroken = true;
    }
    if (f.k === 'truncated-chunked') {
      // the head and part of the body, then the client half-closes: the body never ends
      const all = Buffer.concat(parts);
      tail = all.subarray(0, Math.floor(all.length / 2));
      framingBroken = true;
    } else tail = Buffer.concat([...parts, latin1('0\r\n\r\n')]);
  } else if (body !== undefined || f.k === 'short-length' || f.k === 'long-length') {
    const data = body ?? Buffer.alloc(0);
    if (f.k === 'short-length') {
      lines.push(`Content-Length: ${data.length + f.missing}`);
      framingBroken = true;
    } else if (f.k === 'long-length' && data.length > 0) {
      // fewer bytes declared than sent: the rest is a second request that is garbage; Node refuses it
      // (400) and closes, the first one's answer included if it has not started
      lines.push(`Content-Length: ${data.length - 1}`);
      framingBroken = true;
    } else lines.push(`Content-Length: ${data.length}`);
    tail = data;
  } else body = undefined;
  const head = latin1(`${lines.join('\r\n')}\r\n\r\n`);
  const requestLineBytes = Buffer.byteLength(`${lines[0] ?? ''}\r\n`, 'latin1');
  const bytes = Buffer.concat([head, tail]);

  let pieces: { bytes: Buffer; pauseMs: number }[] = [{ bytes, pauseMs: 0 }];
  let closeAfter = false;
  if (f.k === 'slow') {
    const parts = splitAt(bytes, f.at);
    pieces = parts.map((b, i) => ({ bytes: b, pauseMs: i === 0 ? 0 : (f.pauses[(i - 1) % f.pauses.length] ?? 10) }));
  } else if (f.k === 'slow-close') {
    const cut = Math.max(1, Math.floor(f.at * bytes.length));
    pieces = [{ bytes: bytes.subarray(0, cut), pauseMs: 0 }];
    // a pause, then the client goes away without finishing
    pieces.push({ bytes: Buffer.alloc(0), pauseMs: f.pause });
    closeAfter = true;
    framingBroken = true;
  }

  // Node refuses these before the server sees a request
  const nodeRefuses = methodBroken || headBroken || c.version === 'bad' || c.target.kind === 'junk';
  const broken = framingBroken || nodeRefuses;
  const bodyTooBig = (body?.length ?? 0) > MAX_BODY;

  // The oracle: what the server must answer, where it is known (bin/local/http-server.ts, then the handler)
  let expect: number | 'any' = 'any';
  const token = sentToken && sentToken !== 'raw' ? sentToken : undefined;
  const tokenPassesServer = token !== undefined && (VALID_TOKENS as readonly string[]).includes(token);
  const tokenGood = tokenPassesServer || token === 'badClaims';
  if (broken || c.method.k === 'connect') expect = 'any';
  // past the limit even without the request line (whether Node counts it is not the oracle's to guess: a
  // 4,600-byte path with 11,308 bytes of headers, case 16386 of seed 804401696, was answered, not 431)
  else if (head.length - requestLineBytes > MAX_HEAD) expect = 431;
  else if (head.length > MAX_HEAD - 512 || hugeHead) expect = 'any';
  // Node answers an Expect it does not know itself (RFC 9110, 10.1.1), unless 100-continue is among them
  else if (
    c.version === '1.1' &&
    c.headers.some((h) => h.name === 'expect-odd') &&
    !c.headers.some((h) => h.name === 'expect-continue')
  )
    expect = 417;
  else if (bodyTooBig) expect = 413;
  // RL-11, before any route: two Authorization headers, or one over 10,240 bytes (after a target that is no path)
  else if (c.auth.k === 'duplicated') expect = 400;
  else if (c.auth.k === 'raw' && Buffer.byteLength(c.auth.value) > 10_240)
    expect = c.target.kind === 'extra' && !(path.startsWith('/') || /^http:\/\//.test(path)) ? 400 : 431;
  else if (route && shapeKept && c.method.k === 'route') {
    if (escapeBroken) expect = 400;
    else if (route.auth === 'jwt' && !tokenGood) expect = 401;
    else if (route.auth === 'jwt' && !decodedOk) expect = 400;
    else if (route.auth === 'jwt' && token === 'badClaims') expect = 401;
    else if (
      route.auth === 'jwt' &&
      tokenPassesServer &&
      !route.roles?.some((r) => ROLES_OF[token as (typeof VALID_TOKENS)[number]].includes(r))
    )
      expect = 403;
    else if (routeKey(route) === 'GET /health') expect = 200;
  } else if (route && shapeKept && !ROUTES.some((r) => r.method === method)) expect = 404;
  else if (c.target.kind === 'extra' && c.target.path !== '/_local/clock')
    // no route has these paths; a target that is not a path at all ("*") is malformed
    expect = path.startsWith('/') || /^http:\/\//.test(path) ? 404 : 400;

  const conditional = c.headers.some((h) => h.name.startsWith('if-none-match')) && method === 'GET';
  const what = `case ${seq}: ${method.slice(0, 40)} ${target.slice(0, 160)}${target.length > 160 ? `... (${target.length})` : ''} auth=${JSON.stringify(c.auth).slice(0, 80)} headers=[${c.headers.map((h) => h.name).join(',')}] body=${c.body.k}(${body?.length ?? 0}) ct=${c.contentType} framing=${f.k} http=${c.version}`;
  const ranWithoutAnswer = f.k === 'long-length' && !nodeRefuses;
  return {
    what,
    pieces,
    closeAfter,
    broken,
    method,
    expect,
    ...(route ? { route } : {}),
    conditional,
    ranWithoutAnswer,
  };
}

// ---------------------------------------------------------------------------------------------------
// A raw client

interface Answer {
  status?: number;
  headers: Record<string, string>;
  body: Buffer;
  /** a whole final answer was read */
  complete: boolean;
  head: string;
}

/** Parses one final answer (1xx skipped) from `buf`; undefined while it is incomplete. */
function parseAnswer(buf: Buffer, method: string, closed: boolean): Answer | undefined {
  let start = 0;
  for (;;) {
    const end = buf.indexOf('\r\n\r\n', start);
    if (end < 0) return undefined;
    const head = buf.subarray(start, end).toString('latin1');
    const [statusLine, ...lines] = head.split('\r\n');
    const status = Number(/^HTTP\/1\.[01] (\d{3})/.exec(statusLine ?? '')?.[1]);
    const headers: Record<string, string> = {};
    for (const l of lines) {
      const i = l.indexOf(':');
      if (i > 0) headers[l.slice(0, i).trim().toLowerCase()] = l.slice(i + 1).trim();
    }
    const bodyStart = end + 4;
    if (status >= 100 && status < 200) {
      start = bodyStart;
      continue;
    }
    const rest = buf.subarray(bodyStart);
    if (method === 'HEAD' || status === 204 || status === 304)
      return { status, headers, body: Buffer.alloc(0), complete: true, head };
    if (headers['content-length'] !== undefined) {
      const n = Number(headers['content-length']);
      return rest.length >= n ? { status, headers, body: rest.subarray(0, n), complete: true, head } : undefined;
    }
    if (/chunked/i.test(headers['transfer-encoding'] ?? '')) {
      const parts: Buffer[] = [];
      let at = 0;
      for (;;) {
        const lineEnd = rest.indexOf('\r\n', at);
        if (lineEnd < 0) return undefined;
        const size = parseInt(rest.subarray(at, lineEnd).toString('latin1'), 16);
        if (Number.isNaN(size)) return { status, headers, body: Buffer.concat(parts), complete: false, head };
        if (size === 0) return { status, headers, body: Buffer.concat(parts), complete: true, head };
        if (rest.length < lineEnd + 2 + size + 2) return undefined;
        parts.push(rest.subarray(lineEnd + 2, lineEnd + 2 + size));
        at = lineEnd + 2 + size + 2;
      }
    }
    // no length: the body ends with the connection
    return closed ? { status, headers, body: rest, complete: true, head } : undefined;
  }
}

function exchange(port: number, b: Built, timeoutMs: number): Promise<Answer | undefined> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    let buf = Buffer.alloc(0);
    let done = false;
    const finish = (a: Answer | undefined) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      socket.destroy();
      resolve(a);
    };
    const timer = setTimeout(() => finish(parseAnswer(buf, b.method, true)), timeoutMs);
    socket.on('data', (d: Buffer) => {
      buf = Buffer.concat([buf, d]);
      const a = parseAnswer(buf, b.method, false);
      if (a?.complete) finish(a);
    });
    // a reset after the answer (the server closed while the client was still writing) keeps the answer
    socket.on('error', () => undefined);
    socket.on('close', () => finish(parseAnswer(buf, b.method, true)));
    socket.on('connect', async () => {
      for (const piece of b.pieces) {
        if (piece.pauseMs) await new Promise((r) => setTimeout(r, piece.pauseMs));
        if (done || socket.destroyed) return;
        if (piece.bytes.length) socket.write(piece.bytes);
      }
      if (b.closeAfter) {
        // a client that goes away: wait a moment for anything the server still says, then close
        setTimeout(() => finish(parseAnswer(buf, b.method, true)), 20);
      } else if (b.broken) socket.end();
    });
  });
}

// ---------------------------------------------------------------------------------------------------
// The run

/**
 * Reads the table's stream: every change to any item. One kind is nobody's request: the sweeper
 * firing a timer that fell due (a sign-in arms a dispatch safety net 30 s ahead, R-3) removes its
 * outbox item, whatever the fuzzer is doing at that moment; those are counted apart.
 */
class WriteWatch {
  sweptTimers = 0;
  constructor(private readonly reader: StreamReader) {}
  /** the changes that appeared since the last call, as `INSERT PK SK` */
  async take(): Promise<string[]> {
    const out: string[] = [];
    for (;;) {
      const records = (await this.reader.read()).flatMap((b) => b.records);
      if (!records.length) return out;
      for (const r of records) {
        const k = r.dynamodb?.Keys ?? {};
        const due = r.dynamodb?.OldImage?.at?.S;
        if (r.eventName === 'REMOVE' && k.PK?.S?.includes('#TIMER#') && due && Date.parse(due) <= Date.now() + 1000) {
          this.sweptTimers++;
          continue;
        }
        out.push(`${r.eventName} ${k.PK?.S ?? '?'} ${k.SK?.S ?? '?'}`);
      }
    }
  }
}

let world: World;
let watch: WriteWatch;
let reader: StreamReader;
const unexpectedLogs: string[] = [];
let consoleError: typeof console.error;

beforeAll(async () => {
  world = await buildWorld();
  reader = await new StreamReader(world.rt.dynamoEndpoint, world.rt.config.dynamodb.tableName).open();
  watch = new WriteWatch(reader);
  // the watch sees writes: a PUT is seen, then nothing more
  const admin = new Api(world.rt.url, await token(world.orgA, 'root', ['admin']));
  expect((await admin.put('/v1/admin/queues/q-watch', { name: 'watch' })).status).toBe(200);
  await world.rt.drain();
  expect((await watch.take()).length, 'the stream reader sees writes').toBeGreaterThan(0);
  expect(await watch.take()).toEqual([]);
  consoleError = console.error;
  console.error = (...args: unknown[]) => {
    if (String(args[0]).includes('unexpected error')) unexpectedLogs.push(args.map(String).join(' ').slice(0, 500));
    consoleError(...args);
  };
}, 180_000);
afterAll(async () => {
  if (consoleError) console.error = consoleError;
  reader?.close();
  await world?.rt.stop();
});

async function health(): Promise<number> {
  const res = await fetch(`${world.rt.url}/health`, { signal: AbortSignal.timeout(10_000) });
  const body = (await res.json()) as unknown;
  expect(body).toEqual({ ok: true });
  return res.status;
}

interface Stats {
  cases: number;
  statuses: Record<string, number>;
  noAnswer: number;
  oracle: number;
  drains: number;
}

let previous = '(none)';
/**
 * The ingestion queue is empty (nothing visible, nothing in flight) and the follow-ups have run: what
 * `rt.drain()` waits for, without its two one-second long polls.
 */
async function ingestDone(): Promise<void> {
  for (let i = 0; i < 500; i++) {
    const out = await world.rt.sqs.send(
      new GetQueueAttributesCommand({
        QueueUrl: world.rt.queues.ingest.url,
        AttributeNames: ['ApproximateNumberOfMessages', 'ApproximateNumberOfMessagesNotVisible'],
      }),
    );
    const a = out.Attributes ?? {};
    if (a.ApproximateNumberOfMessages === '0' && a.ApproximateNumberOfMessagesNotVisible === '0') break;
    await new Promise((r) => setTimeout(r, 20));
  }
  await world.rt.settle();
}

/** What the last case may still cause: follow-ups from the stream, or an event on the ingestion queue too. */
type Dirty = { value: 'clean' | 'stream' | 'queue' | 'unanswered' };

async function runCase(stats: Stats, c: Case, dirty: Dirty): Promise<void> {
  const seq = ++stats.cases;
  const b = build(world, c, seq);
  // what the last success caused is done before this case is watched (a drain waits out SQS long polls: only after a webhook)
  if (dirty.value === 'queue') {
    await ingestDone();
    stats.drains++;
  } else if (dirty.value === 'stream') await world.rt.settle();
  else if (dirty.value === 'unanswered') {
    // a request that may still be running after its connection was closed: let it finish first
    await new Promise((r) => setTimeout(r, 250));
    await world.rt.settle();
  }
  dirty.value = 'clean';
  await watch.take();
  const logged = unexpectedLogs.length;
  const bodyBytes = b.pieces.reduce((n, p) => n + p.bytes.length, 0);
  const answer = await exchange(world.port, b, bodyBytes > 100_000 ? 15_000 : 8_000);
  const status = answer?.status;
  const what = `${b.what} -> ${answer ? `${status} ${answer.head.split('\r\n')[0]} ${answer.body.toString('utf8').slice(0, 300)}` : 'no answer'}`;
  stats.statuses[String(status ?? 'none')] = (stats.statuses[String(status ?? 'none')] ?? 0) + 1;

  // an answer for every well-framed request, and only 2xx or 4xx (304 for a conditional read)
  if (!b.broken) expect(answer?.complete, `${what}: no whole answer`).toBe(true);
  if (!answer?.status) stats.noAnswer++;
  if (answer?.status !== undefined) {
    const ok =
      (status as number) < 300 ||
      (status === 304 && b.conditional) ||
      ((status as number) >= 400 && (status as number) < 500);
    expect(ok, `${what}: status`).toBe(true);
    expect(status, what).toBeGreaterThanOrEqual(200);
    if ((status as number) >= 400 && answer.body.length > 0) {
      expect(answer.headers['content-type'], `${what}: a 4xx body is problem+json`).toMatch(
        /^application\/problem\+json/,
      );
      expect((JSON.parse(answer.body.toString('utf8')) as { status: number }).status, what).toBe(status);
    }
  }
  if (b.expect !== 'any') {
    stats.oracle++;
    expect(status, `${what}: the oracle says ${b.expect}`).toBe(b.expect);
  }
  // the process keeps serving
  expect(await health(), `${what}: /health after it`).toBe(200);
  // nothing is written by a refusal, a request without an answer, or a read
  const refused = status === undefined || status >= 400;
  const read = b.method === 'GET' || b.method === 'HEAD';
  if (b.ranWithoutAnswer) dirty.value = b.route?.group === 'webhooks' ? 'queue' : 'unanswered';
  else if (refused || read) {
    const wrote = await watch.take();
    expect(
      wrote,
      `${what}: item changes on a ${status ?? 'request without answer'} (the case before: ${previous}): ${wrote.join('; ')}`,
    ).toEqual([]);
  } else dirty.value = b.route?.group === 'webhooks' ? 'queue' : 'stream';
  previous = b.what.slice(0, 300);
  expect(unexpectedLogs.slice(logged), `${what}: the server logged an unexpected error`).toEqual([]);
}

describe('HTTP server fuzzer', () => {
  it(
    `RL-10, RL-4: ${CASES} raw requests to the local runtime -> only 2xx/4xx, an answer for every well-framed request, the server keeps serving, nothing written on 4xx`,
    async () => {
      const started = Date.now();
      const stats: Stats = { cases: 0, statuses: {}, noAnswer: 0, oracle: 0, drains: 0 };
      const dirty: Dirty = { value: 'clean' };
      await fc.assert(
        fc.asyncProperty(fc.array(caseArb, { minLength: 50, maxLength: 50 }), async (cases) => {
          for (const c of cases) {
            if (stats.cases >= CASES) return;
            await runCase(stats, c, dirty);
          }
        }),
        {
          numRuns: Math.ceil(CASES / 50),
          endOnFailure: true,
          ...(SEED !== undefined ? { seed: SEED } : {}),
          // the failing case says what it sent; the 50 cases of its run would bury it
          reporter: (out) => {
            if (out.failed)
              throw new Error(
                `${String((out.errorInstance as Error | undefined)?.message ?? out.errorInstance)}\n(fast-check seed ${out.seed}, path ${out.counterexamplePath})`,
              );
          },
        },
      );
      expect(await health()).toBe(200);
      await world.rt.drain();
      expect(world.rt.streamDeadLetters, 'follow-ups that failed every retry').toEqual([]);
      console.log(
        `http fuzz: ${stats.cases} cases in ${((Date.now() - started) / 1000).toFixed(1)}s; statuses ${JSON.stringify(stats.statuses)}; ${stats.noAnswer} without answer (broken requests); ${stats.oracle} checked against a known answer; ${stats.drains} drains; ${watch.sweptTimers} due timers swept meanwhile`,
      );
      expect(stats.cases).toBe(CASES);
    },
    CASES * 400 + 120_000,
  );
});
