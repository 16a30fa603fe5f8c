import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LocalRuntime } from '../../bin/local/runtime.js';
import { ACTIONS } from '../../functions/handlers/http/conversations.handler.js';
import { ROUTES, routeKey, type RouteSpec } from '../../functions/handlers/http/route-table.js';
import { Api, startRuntime, token, uniqueOrg, type HttpResult } from '../support/e2e.js';

/**
 * The authorization matrix (RL-6, RL-7, and the roles of each route in route-table.ts): every route of
 * the registry, asked by every kind of caller, with real ids and valid bodies, so that the status says
 * who may do what and nothing else. The table below is the expectation; the test fails when a route of
 * the registry (or an action of POST .../actions/{action}) has no entry, when an entry names a route
 * that is gone, and when an entry contradicts the registry (401 for no token on a jwt route, 403 for a
 * caller with none of the route's roles).
 *
 * Org A: queues q1 and q2 (and qcfg, which org B has too, for configuration bodies); agents alice and
 * bob in q1, carol in q2 only. Org B: queues qb and qcfg, agent bert in qb; none of A's conversations,
 * queues q1 and q2, or agents exist in B. Each action case gets a fresh conversation per caller, so that
 * a success does not change what the next caller is asked about. A refused write is checked to have
 * changed nothing: its case names a `witness`, what org A's setup admin reads before and after.
 */

const CALLERS = ['admin', 'supervisor', 'member', 'outsider', 'otherOrgAgent', 'otherOrgAdmin', 'anonymous'] as const;
type Caller = (typeof CALLERS)[number];

/** Who each caller is: org (A or B), subject, roles. */
const IDENTITY: Record<Exclude<Caller, 'anonymous'>, { org: 'A' | 'B'; sub: string; roles: string[] }> = {
  /** only the admin role: configures, reads everything, acts on nothing */
  admin: { org: 'A', sub: 'root', roles: ['admin'] },
  /** only the supervisor role (S-1..S-6) */
  supervisor: { org: 'A', sub: 'sue', roles: ['supervisor'] },
  /** alice, an agent of q1, where every conversation of the matrix is */
  member: { org: 'A', sub: 'alice', roles: ['agent'] },
  /** carol, an agent of q2 only (RL-7: q1's conversations and queue are 404 for her) */
  outsider: { org: 'A', sub: 'carol', roles: ['agent'] },
  /** bert, an agent of org B (RL-6) */
  otherOrgAgent: { org: 'B', sub: 'bert', roles: ['agent'] },
  /** org B's admin and supervisor (RL-6): every role, another org */
  otherOrgAdmin: { org: 'B', sub: 'boss', roles: ['admin', 'supervisor'] },
};

const orgOfCaller = (caller: Caller): 'A' | 'B' | undefined =>
  caller === 'anonymous' ? undefined : IDENTITY[caller].org;

type Expect = Record<Caller, number>;
type Fixture = 'open-chat' | 'active-chat' | 'active-sms' | 'waiting-sms' | 'active-record' | 'transfer-to-alice';

interface Ctx {
  caller: Caller;
  orgA: string;
  /** the conversation of this case and caller (a fresh one per caller for actions) */
  conversation: string;
  /** a fresh thread id for webhooks */
  thread: string;
}

interface MatrixCase {
  /** what is asked, in words (and the key of its fixtures) */
  name: string;
  /** POST .../actions/{action}: the action this case takes */
  action?: (typeof ACTIONS)[number];
  /** a fresh conversation per caller in this state (actions); the shared ones otherwise */
  fixture?: Fixture;
  path: (c: Ctx) => string;
  body?: (c: Ctx) => unknown;
  headers?: (c: Ctx) => Record<string, string>;
  expect: Expect;
  /** what a refusal must leave as it was: a path org A's admin reads before and after (actions: the conversation) */
  witness?: (c: Ctx) => string;
  /** undoes what a success changed that later cases rely on */
  after?: (c: Ctx) => Promise<void>;
}

// ---------------------------------------------------------------------------------------------------
// Rows that repeat

const ALL = (status: number): Expect => ({
  admin: status,
  supervisor: status,
  member: status,
  outsider: status,
  otherOrgAgent: status,
  otherOrgAdmin: status,
  anonymous: status,
});
/** /v1/admin/* of an id that exists only in org A: B's admin finds nothing (RL-6) */
const ADMIN_READ_OF_A: Expect = {
  admin: 200,
  supervisor: 403,
  member: 403,
  outsider: 403,
  otherOrgAgent: 403,
  otherOrgAdmin: 404,
  anonymous: 401,
};
/** /v1/admin/* an admin of either org may do on their own org */
const ADMIN_OWN_ORG: Expect = { ...ADMIN_READ_OF_A, otherOrgAdmin: 200 };
/** a conversation of q1: agents of q1 see it, carol (q2) does not (RL-7), nor org B (RL-6) */
const CONVERSATION_READ: Expect = {
  admin: 200,
  supervisor: 200,
  member: 200,
  outsider: 404,
  otherOrgAgent: 404,
  otherOrgAdmin: 404,
  anonymous: 401,
};
/** an agent action the member (alice, the primary or a member of q1) may take */
const AGENT_ACTION: Expect = {
  admin: 403,
  supervisor: 403,
  member: 200,
  outsider: 404,
  otherOrgAgent: 404,
  otherOrgAdmin: 404,
  anonymous: 401,
};
/** a supervisor action (S-2, S-3, S-5): an agent visible to it is 403, one it is hidden from 404 */
const SUPERVISOR_ACTION: Expect = { ...AGENT_ACTION, supervisor: 200, member: 403 };
/** /v1/agents/me/*: an agent's own record, in her own org */
const SELF: Expect = {
  admin: 403,
  supervisor: 403,
  member: 200,
  outsider: 200,
  otherOrgAgent: 200,
  otherOrgAdmin: 403,
  anonymous: 401,
};

const SECRET = 'matrix-secret-0123456789';
const settings = {
  supervisorMonitor: true,
  supervisorAssign: true,
  supervisorTransfer: true,
  forceClose: true,
  agentEndMessagingSession: true,
};
/** a workstream both orgs can have: its queue qcfg exists in each */
const cfgWorkstream = {
  name: 'Config',
  mode: 'live',
  capacity: { units: 1 },
  allowedPresences: ['Available', 'Busy'],
  wrapUp: { blockCapacity: 'never' },
  defaultQueueId: 'qcfg',
};
/** a trigger that never matches, so it changes no later decision */
const neverTrigger = {
  when: { event: 'inactivity-timeout', field: 'status', changedTo: 'Never' },
  then: [{ type: 'send-survey', text: 'never sent' }],
};
const action = (name: (typeof ACTIONS)[number]) => (c: Ctx) => `/v1/conversations/${c.conversation}/actions/${name}`;

/**
 * The expectation table: registry route key -> the cases asked of every caller. A route without an
 * entry fails the test: a new route must say here who may call it.
 */
const MATRIX: Record<string, MatrixCase[]> = {
  'GET /health': [{ name: 'liveness', path: () => '/health', expect: ALL(200) }],

  // ---- admin: configuration. A's ids for reads; PUTs an admin of either org may make on their own org
  'PUT /v1/admin/settings': [
    {
      name: 'replace the settings',
      path: () => '/v1/admin/settings',
      body: () => settings,
      expect: ADMIN_OWN_ORG,
      witness: () => '/v1/admin/settings',
    },
  ],
  'GET /v1/admin/settings': [{ name: 'read the settings', path: () => '/v1/admin/settings', expect: ADMIN_OWN_ORG }],
  'PUT /v1/admin/workstreams/{id}': [
    {
      name: 'replace a workstream',
      path: () => '/v1/admin/workstreams/ws-cfg',
      body: () => cfgWorkstream,
      expect: ADMIN_OWN_ORG,
      witness: () => '/v1/admin/workstreams/ws-cfg',
    },
  ],
  'GET /v1/admin/workstreams/{id}': [
    { name: "read A's chat workstream", path: () => '/v1/admin/workstreams/ws-chat', expect: ADMIN_READ_OF_A },
  ],
  'PUT /v1/admin/queues/{id}': [
    {
      name: 'replace a queue',
      path: () => '/v1/admin/queues/qcfg',
      body: () => ({ name: 'Config queue' }),
      expect: ADMIN_OWN_ORG,
      witness: () => '/v1/admin/queues/qcfg',
    },
  ],
  'GET /v1/admin/queues/{id}': [
    { name: "read A's queue q1", path: () => '/v1/admin/queues/q1', expect: ADMIN_READ_OF_A },
  ],
  'PUT /v1/admin/hours/{id}': [
    {
      name: 'replace operating hours',
      path: () => '/v1/admin/hours/hcfg',
      body: () => ({ timeZone: 'Europe/Paris', weekly: { mon: [['09:00', '17:00']] } }),
      expect: ADMIN_OWN_ORG,
      witness: () => '/v1/admin/hours/hcfg',
    },
  ],
  'GET /v1/admin/hours/{id}': [
    { name: "read A's hours h1", path: () => '/v1/admin/hours/h1', expect: ADMIN_READ_OF_A },
  ],
  'PUT /v1/admin/channels/{id}': [
    {
      // channel ids are the one global key: B cannot take A's (RL-6)
      name: "replace A's channel (B's admin: 409, the id is A's)",
      path: (c) => `/v1/admin/channels/${c.orgA}-cfg`,
      body: () => ({ kind: 'chat', workstreamId: 'ws-cfg', secret: SECRET }),
      expect: { ...ADMIN_READ_OF_A, otherOrgAdmin: 409 },
      witness: (c) => `/v1/admin/channels/${c.orgA}-cfg`,
    },
  ],
  'GET /v1/admin/channels/{id}': [
    { name: "read A's chat channel", path: (c) => `/v1/admin/channels/${c.orgA}-chat`, expect: ADMIN_READ_OF_A },
  ],
  'PUT /v1/admin/contacts/{id}': [
    {
      name: 'replace a contact (each org its own record)',
      path: () => '/v1/admin/contacts/ct1',
      body: (c) => ({ kind: 'contact', name: `written by ${c.caller}`, email: 'ann@example.com' }),
      expect: ADMIN_OWN_ORG,
      witness: () => '/v1/admin/contacts/ct1',
    },
  ],
  'GET /v1/admin/contacts/{id}': [
    { name: "read A's contact", path: () => '/v1/admin/contacts/ct-a', expect: ADMIN_READ_OF_A },
  ],
  'GET /v1/admin/agents/{id}': [
    { name: "read A's agent alice", path: () => '/v1/admin/agents/alice', expect: ADMIN_READ_OF_A },
  ],
  'PUT /v1/admin/agents/{id}': [
    {
      name: 'create or replace an agent',
      path: () => '/v1/admin/agents/zed',
      body: () => ({ name: 'Zed', queues: ['qcfg'], capacity: { default: 1 } }),
      expect: ADMIN_OWN_ORG,
      witness: () => '/v1/admin/agents/zed',
    },
  ],
  'PUT /v1/admin/triggers/{id}': [
    {
      name: 'create or replace a trigger',
      path: () => '/v1/admin/triggers/t-never',
      body: () => neverTrigger,
      expect: ADMIN_OWN_ORG,
      witness: () => '/v1/admin/triggers',
    },
  ],
  'GET /v1/admin/triggers': [{ name: 'list the triggers', path: () => '/v1/admin/triggers', expect: ADMIN_OWN_ORG }],
  'PUT /v1/admin/message-templates/{event}': [
    {
      name: 'create or replace the queued message template (MS-4)',
      path: () => '/v1/admin/message-templates/queued',
      body: (c) => ({ text: `written by ${c.caller}: you are number {{position}}` }),
      expect: ADMIN_OWN_ORG,
      witness: () => '/v1/admin/message-templates',
    },
  ],
  'GET /v1/admin/message-templates': [
    { name: 'list the message templates (MS-4)', path: () => '/v1/admin/message-templates', expect: ADMIN_OWN_ORG },
  ],

  // ---- conversations: reads (a conversation of q1), notes, lists
  'GET /v1/conversations/{id}': [
    {
      name: 'read an Open conversation of q1',
      path: (c) => `/v1/conversations/${c.conversation}`,
      expect: CONVERSATION_READ,
    },
  ],
  'GET /v1/conversations/{id}/events': [
    {
      name: 'history of an Active conversation of q1',
      path: (c) => `/v1/conversations/${c.conversation}/events`,
      expect: CONVERSATION_READ,
    },
  ],
  'GET /v1/conversations': [
    { name: 'list (an agent: her own)', path: () => '/v1/conversations', expect: { ...ALL(200), anonymous: 401 } },
    {
      name: "list alice's (another agent's filter is 403 for an agent)",
      path: () => '/v1/conversations?agentId=alice',
      expect: { ...ALL(200), outsider: 403, otherOrgAgent: 403, anonymous: 401 },
    },
  ],
  'GET /v1/conversations/{id}/consult-candidates': [
    {
      name: 'consult candidates of an Active conversation of q1',
      path: (c) => `/v1/conversations/${c.conversation}/consult-candidates`,
      expect: CONVERSATION_READ,
    },
  ],
  'GET /v1/conversations/{id}/notes': [
    {
      name: 'notes of an Active conversation of q1 (E-3: agents and supervisors)',
      path: (c) => `/v1/conversations/${c.conversation}/notes`,
      expect: { ...CONVERSATION_READ, admin: 403 },
    },
  ],
  'POST /v1/conversations/{id}/notes': [
    {
      name: 'add a note to an Active conversation of q1',
      path: (c) => `/v1/conversations/${c.conversation}/notes`,
      body: (c) => ({ text: `note by ${c.caller}` }),
      expect: { ...CONVERSATION_READ, admin: 403, supervisor: 201, member: 201 },
      witness: (c) => `/v1/conversations/${c.conversation}/notes`,
    },
  ],
  'GET /v1/conversations/{id}/messages': [
    {
      name: "transcript of alice's Active chat (MS-1: supervisors and the agents who handle it)",
      path: (c) => `/v1/conversations/${c.conversation}/messages`,
      expect: { ...CONVERSATION_READ, admin: 403 },
    },
  ],
  'POST /v1/conversations/{id}/messages': [
    {
      name: "reply on alice's Active chat (MS-2: the primary, or a supervisor who joined)",
      path: (c) => `/v1/conversations/${c.conversation}/messages`,
      body: (c) => ({ text: `reply by ${c.caller}` }),
      expect: { ...CONVERSATION_READ, admin: 403, supervisor: 403, member: 201 },
      witness: (c) => `/v1/conversations/${c.conversation}/messages`,
    },
  ],
  'POST /v1/conversations/{id}/actions/{action}': [
    {
      name: 'accept an Open chat of q1',
      action: 'accept',
      fixture: 'open-chat',
      path: action('accept'),
      expect: AGENT_ACTION,
    },
    {
      name: 'reject a transfer bob offered alice',
      action: 'reject',
      fixture: 'transfer-to-alice',
      path: action('reject'),
      expect: AGENT_ACTION,
    },
    {
      name: "end alice's Active chat",
      action: 'end',
      fixture: 'active-chat',
      path: action('end'),
      expect: AGENT_ACTION,
    },
    {
      name: "close alice's Active chat",
      action: 'close',
      fixture: 'active-chat',
      path: action('close'),
      expect: AGENT_ACTION,
    },
    {
      name: "release alice's Active chat",
      action: 'release',
      fixture: 'active-chat',
      path: action('release'),
      expect: AGENT_ACTION,
    },
    {
      // the primary's transfer (X-3) or a supervisor's (S-4, persistent channels)
      name: "transfer alice's Active sms to bob",
      action: 'transfer',
      fixture: 'active-sms',
      path: action('transfer'),
      body: () => ({ agentId: 'bob' }),
      expect: { ...AGENT_ACTION, supervisor: 200 },
    },
    {
      name: "consult bob on alice's Active chat",
      action: 'consult',
      fixture: 'active-chat',
      path: action('consult'),
      body: () => ({ agentId: 'bob' }),
      expect: AGENT_ACTION,
    },
    {
      name: "resolve alice's Active record",
      action: 'resolve',
      fixture: 'active-record',
      path: action('resolve'),
      expect: AGENT_ACTION,
    },
    {
      name: "resume alice's Waiting sms",
      action: 'resume',
      fixture: 'waiting-sms',
      path: action('resume'),
      expect: AGENT_ACTION,
    },
    {
      name: "end the session of alice's Active sms",
      action: 'end-session',
      fixture: 'active-sms',
      path: action('end-session'),
      expect: AGENT_ACTION,
    },
    {
      name: "monitor alice's Active chat",
      action: 'monitor',
      fixture: 'active-chat',
      path: action('monitor'),
      expect: SUPERVISOR_ACTION,
    },
    {
      name: "join alice's Active chat",
      action: 'join',
      fixture: 'active-chat',
      path: action('join'),
      expect: SUPERVISOR_ACTION,
    },
    {
      name: 'assign an Open chat of q1 to alice',
      action: 'assign',
      fixture: 'open-chat',
      path: action('assign'),
      body: () => ({ agentId: 'alice' }),
      expect: SUPERVISOR_ACTION,
    },
    {
      name: "force-close alice's Active chat",
      action: 'force-close',
      fixture: 'active-chat',
      path: action('force-close'),
      expect: SUPERVISOR_ACTION,
    },
    {
      name: 'prioritize an Open chat of q1',
      action: 'prioritize',
      fixture: 'open-chat',
      path: action('prioritize'),
      body: () => ({ priority: 9 }),
      expect: SUPERVISOR_ACTION,
    },
  ],

  // ---- agents
  'GET /v1/agents': [
    {
      // MX-2: supervisors and admins list their own org's agents; agents may not
      name: "the org's agents",
      path: () => '/v1/agents',
      expect: { ...ADMIN_READ_OF_A, supervisor: 200, otherOrgAdmin: 200 },
    },
    {
      name: 'the members of q1',
      path: () => '/v1/agents?queueId=q1',
      expect: { ...ADMIN_READ_OF_A, supervisor: 200 },
    },
  ],
  'GET /v1/agents/{id}': [
    {
      // an agent reads only herself: 403 for any other id, decided on the token before any read
      name: 'read alice',
      path: () => '/v1/agents/alice',
      expect: { ...CONVERSATION_READ, outsider: 403, otherOrgAgent: 403 },
    },
    {
      // `me` is the caller's own agent; the admin and supervisors of the matrix have none
      name: 'read me',
      path: () => '/v1/agents/me',
      expect: { ...SELF, admin: 404, supervisor: 404, otherOrgAdmin: 404 },
    },
  ],
  'GET /v1/agents/me/work-items': [{ name: 'my work items', path: () => '/v1/agents/me/work-items', expect: SELF }],
  'PUT /v1/agents/me/presence': [
    {
      name: 'set my presence',
      path: () => '/v1/agents/me/presence',
      body: () => ({ presence: 'Available' }),
      expect: SELF,
    },
  ],
  'POST /v1/agents/me/sign-in': [{ name: 'sign in', path: () => '/v1/agents/me/sign-in', expect: SELF }],
  'POST /v1/agents/me/sign-out': [
    { name: 'sign out', path: () => '/v1/agents/me/sign-out', expect: SELF, after: (c) => signIn(c.caller) },
  ],
  'POST /v1/agents/me/connection': [
    {
      name: 'report a reconnect',
      path: () => '/v1/agents/me/connection',
      body: () => ({ connected: true }),
      expect: SELF,
    },
  ],

  // ---- queues
  'GET /v1/queues/{id}/metrics': [
    { name: 'metrics of q1', path: () => '/v1/queues/q1/metrics', expect: { ...ADMIN_READ_OF_A, supervisor: 200 } },
  ],
  'GET /v1/queues/{id}': [{ name: 'the state of q1', path: () => '/v1/queues/q1', expect: CONVERSATION_READ }],
  'GET /v1/conversations/{id}/queue-position': [
    {
      name: 'the queue position of an Open conversation of q1',
      path: (c) => `/v1/conversations/${c.conversation}/queue-position`,
      expect: CONVERSATION_READ,
    },
  ],
  'GET /v1/queues/{id}/open-items': [
    { name: 'open items of q1', path: () => '/v1/queues/q1/open-items', expect: CONVERSATION_READ },
  ],

  // ---- webhooks: the signature, not a token, is the credential; tokens change nothing
  'POST /v1/webhooks/{channelId}': [
    {
      name: "a signed event on A's chat channel",
      path: (c) => `/v1/webhooks/${c.orgA}-chat`,
      body: (c) => ({ eventId: `ev-${c.thread}`, type: 'conversation.started', threadId: c.thread }),
      expect: ALL(202),
    },
    {
      name: "an unsigned event on A's chat channel (RL-5)",
      path: (c) => `/v1/webhooks/${c.orgA}-chat`,
      body: (c) => ({ eventId: `ev-${c.thread}`, type: 'conversation.started', threadId: c.thread }),
      headers: () => ({ 'x-signature': 'sha256=00' }),
      expect: ALL(401),
    },
  ],
};

// ---------------------------------------------------------------------------------------------------

let rt: LocalRuntime;
let api: Api;
let orgA: string;
let orgB: string;
let apis: Record<Exclude<Caller, 'anonymous'>, Api>;
let setupA: Api;
const shared: { open?: string; active?: string } = {};
/** `${case name}|${caller}` -> the conversation created for it */
const fresh = new Map<string, string>();
let threadSeq = 0;

const must = async (p: Promise<HttpResult>, what: string): Promise<HttpResult> => {
  const r = await p;
  if (r.status >= 300) throw new Error(`setup: ${what}: ${r.status} ${JSON.stringify(r.body)}`);
  return r;
};

async function signIn(caller: Caller): Promise<void> {
  if (caller === 'anonymous' || !IDENTITY[caller].roles.includes('agent')) return;
  await must(apis[caller].post('/v1/agents/me/sign-in'), `sign in ${caller}`);
}

/** Runs `fn` over `items`, `n` at a time. */
async function pool<T>(items: readonly T[], n: number, fn: (t: T) => Promise<void>): Promise<void> {
  let i = 0;
  await Promise.all(
    Array.from({ length: n }, async () => {
      while (i < items.length) await fn(items[i++] as T);
    }),
  );
}

const webhook = (channel: string, body: unknown): Promise<HttpResult> => api.webhook(channel, body, SECRET);

/** Opens one conversation per thread (kind: chat, sms, record) and returns their ids by thread. */
async function openConversations(threads: { thread: string; kind: 'chat' | 'sms' | 'record' }[]) {
  await pool(threads, 8, async ({ thread, kind }) => {
    await must(
      webhook(`${orgA}-${kind}`, { eventId: `ev-${thread}`, type: 'conversation.started', threadId: thread }),
      `webhook ${thread}`,
    );
  });
  await rt.drain();
  const ids = new Map<string, string>();
  for (const kind of ['chat', 'sms', 'record']) {
    let cursor: string | undefined;
    do {
      const page = await must(
        setupA.get(
          `/v1/conversations?channelId=${orgA}-${kind}&limit=100${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`,
        ),
        'list',
      );
      const body = page.body as { items: { id: string; threadId: string }[]; nextCursor?: string };
      for (const c of body.items) ids.set(c.threadId, c.id);
      cursor = body.nextCursor;
    } while (cursor);
  }
  return ids;
}

async function prepare(fixture: Fixture, id: string, alice: Api, bob: Api): Promise<void> {
  const step = (who: Api, name: string, body?: unknown) =>
    must(who.post(`/v1/conversations/${id}/actions/${name}`, body), `${fixture} ${id}: ${name}`);
  if (fixture === 'open-chat') return;
  if (fixture === 'transfer-to-alice') {
    await step(bob, 'accept');
    await step(bob, 'transfer', { agentId: 'alice' });
    return;
  }
  await step(alice, 'accept');
  if (fixture === 'waiting-sms') await step(alice, 'close');
}

const KIND_OF: Record<Fixture, 'chat' | 'sms' | 'record'> = {
  'open-chat': 'chat',
  'active-chat': 'chat',
  'transfer-to-alice': 'chat',
  'active-sms': 'sms',
  'waiting-sms': 'sms',
  'active-record': 'record',
};

beforeAll(async () => {
  rt = await startRuntime();
  api = new Api(rt.url);
  orgA = uniqueOrg();
  orgB = uniqueOrg();
  const orgOf = { A: orgA, B: orgB };
  apis = Object.fromEntries(
    await Promise.all(
      Object.entries(IDENTITY).map(async ([name, id]) => [name, api.as(await token(orgOf[id.org], id.sub, id.roles))]),
    ),
  ) as typeof apis;
  setupA = api.as(await token(orgA, 'setup', ['admin', 'supervisor']));
  const setupB = api.as(await token(orgB, 'setup', ['admin', 'supervisor']));

  // org A
  await must(setupA.put('/v1/admin/settings', settings), 'settings A');
  await must(setupA.put('/v1/admin/hours/h1', { timeZone: 'UTC', weekly: { mon: [['09:00', '17:00']] } }), 'hours h1');
  for (const q of ['q1', 'q2', 'qcfg']) await must(setupA.put(`/v1/admin/queues/${q}`, { name: q }), `queue ${q}`);
  const modes = { chat: 'live', sms: 'persistent', record: 'record' } as const;
  for (const kind of ['chat', 'sms', 'record'] as const) {
    await must(
      setupA.put(`/v1/admin/workstreams/ws-${kind}`, {
        ...cfgWorkstream,
        name: kind,
        mode: modes[kind],
        defaultQueueId: 'q1',
      }),
      `workstream ${kind}`,
    );
    await must(
      setupA.put(`/v1/admin/channels/${orgA}-${kind}`, { kind, workstreamId: `ws-${kind}`, secret: SECRET }),
      `channel ${kind}`,
    );
  }
  await must(setupA.put('/v1/admin/workstreams/ws-cfg', cfgWorkstream), 'ws-cfg A');
  await must(
    setupA.put(`/v1/admin/channels/${orgA}-cfg`, { kind: 'chat', workstreamId: 'ws-cfg', secret: SECRET }),
    'channel cfg',
  );
  await must(setupA.put('/v1/admin/contacts/ct-a', { kind: 'contact', name: 'Ann' }), 'contact');
  for (const [id, queues] of [
    ['alice', ['q1']],
    ['bob', ['q1']],
    ['carol', ['q2']],
  ] as const) {
    await must(setupA.put(`/v1/admin/agents/${id}`, { name: id, queues, capacity: { default: 1000 } }), `agent ${id}`);
  }
  // org B: nothing of A's ids but the configuration ones (qcfg, ws-cfg)
  await must(setupB.put('/v1/admin/settings', settings), 'settings B');
  for (const q of ['qb', 'qcfg']) await must(setupB.put(`/v1/admin/queues/${q}`, { name: q }), `B queue ${q}`);
  await must(setupB.put('/v1/admin/workstreams/ws-cfg', cfgWorkstream), 'ws-cfg B');
  await must(
    setupB.put('/v1/admin/agents/bert', { name: 'Bert', queues: ['qb'], capacity: { default: 10 } }),
    'agent bert',
  );
  for (const caller of ['member', 'outsider', 'otherOrgAgent'] as const) await signIn(caller);
  const bob = api.as(await token(orgA, 'bob', ['agent']));
  await must(bob.post('/v1/agents/me/sign-in'), 'sign in bob');

  // the conversations: two shared (reads), one per action case and caller
  const threads: { thread: string; kind: 'chat' | 'sms' | 'record'; key: string; fixture: Fixture }[] = [
    { thread: 'shared-open', kind: 'chat', key: 'open', fixture: 'open-chat' },
    { thread: 'shared-active', kind: 'chat', key: 'active', fixture: 'active-chat' },
  ];
  for (const c of MATRIX['POST /v1/conversations/{id}/actions/{action}'] ?? [])
    for (const caller of CALLERS) {
      const fixture = c.fixture ?? 'open-chat';
      threads.push({ thread: `fx-${threads.length}`, kind: KIND_OF[fixture], key: `${c.name}|${caller}`, fixture });
    }
  const ids = await openConversations(threads);
  const alice = apis.member;
  await pool(threads, 4, async (t) => {
    const id = ids.get(t.thread);
    if (!id) throw new Error(`setup: no conversation for ${t.thread}`);
    await prepare(t.fixture, id, alice, bob);
    if (t.key === 'open') shared.open = id;
    else if (t.key === 'active') shared.active = id;
    else fresh.set(t.key, id);
  });
  await rt.settle();
}, 120_000);
afterAll(() => rt?.stop());

function conversationOf(route: string, c: MatrixCase, caller: Caller): string {
  if (route === 'POST /v1/conversations/{id}/actions/{action}') return fresh.get(`${c.name}|${caller}`) as string;
  if (route === 'GET /v1/conversations/{id}' || route === 'GET /v1/conversations/{id}/queue-position')
    return shared.open as string;
  return shared.active as string;
}

async function ask(route: RouteSpec, c: MatrixCase, caller: Caller): Promise<{ status: number; detail: string }> {
  const ctx: Ctx = {
    caller,
    orgA,
    conversation: conversationOf(routeKey(route), c, caller),
    thread: `matrix-${++threadSeq}`,
  };
  const who = caller === 'anonymous' ? api : apis[caller];
  const body = c.body?.(ctx);
  const path = c.path(ctx);
  const headers = c.headers?.(ctx) ?? {};
  const witness = c.witness?.(ctx) ?? (c.action ? `/v1/conversations/${ctx.conversation}` : undefined);
  const before = witness ? await setupA.get(witness) : undefined;
  // a signed webhook carries the caller's token too: it must change nothing
  const r =
    route.group === 'webhooks' && !headers['x-signature']
      ? await who.webhook(path.slice('/v1/webhooks/'.length), body, SECRET)
      : await who.call(route.method, path, body, headers);
  if (r.status >= 400)
    expect(r.contentType, `${routeKey(route)} ${c.name} as ${caller}`).toMatch(/^application\/problem\+json/);
  if (witness && before && (r.status >= 400 || orgOfCaller(caller) === 'B')) {
    // a refusal changes nothing, and nothing org B does changes org A (RL-6)
    const after = await setupA.get(witness);
    expect(after.body, `${c.name} as ${caller} -> ${r.status}, yet ${witness} changed`).toEqual(before.body);
  }
  if (r.status < 300 && orgOfCaller(caller) === 'B') {
    // a 200 for another org says nothing of A's
    expect(JSON.stringify(r.body), `${c.name} as ${caller}`).not.toContain(orgA);
  }
  if (r.status < 300) await c.after?.(ctx);
  const detail = r.status >= 400 ? String((r.body as { detail?: unknown })?.detail ?? '') : '';
  return { status: r.status, detail };
}

describe('authorization matrix: every route x every caller (RL-6, RL-7, route roles)', () => {
  it('has an entry for every route of the registry and every action, and none for a route that is gone', () => {
    const keys = ROUTES.map(routeKey);
    expect(
      keys.filter((k) => !MATRIX[k]?.length),
      'routes without an entry in MATRIX',
    ).toEqual([]);
    expect(
      Object.keys(MATRIX).filter((k) => !keys.includes(k)),
      'MATRIX entries for no route',
    ).toEqual([]);
    const actions = (MATRIX['POST /v1/conversations/{id}/actions/{action}'] ?? []).map((c) => c.action);
    expect(
      [...ACTIONS].filter((a) => !actions.includes(a)),
      'actions without a case',
    ).toEqual([]);
  });

  it('agrees with the registry: no token is 401 on a jwt route, and a caller without a role of the route is 403', () => {
    const wrong: string[] = [];
    for (const route of ROUTES)
      for (const c of MATRIX[routeKey(route)] ?? [])
        for (const caller of CALLERS) {
          const roles = caller === 'anonymous' ? [] : IDENTITY[caller].roles;
          const byRegistry =
            route.auth !== 'jwt'
              ? undefined
              : caller === 'anonymous'
                ? 401
                : route.roles?.some((r) => roles.includes(r))
                  ? undefined
                  : 403;
          const stated = c.expect[caller];
          if (byRegistry !== undefined ? stated !== byRegistry : route.auth === 'jwt' && stated === 401)
            wrong.push(`${routeKey(route)} "${c.name}" ${caller}: table ${stated}, registry ${byRegistry ?? 'allows'}`);
        }
    expect(wrong).toEqual([]);
  });

  it.each(ROUTES.map((r) => [routeKey(r), r] as const))('%s', async (key, route) => {
    const cases = MATRIX[key];
    expect(cases?.length, `no MATRIX entry for ${key}`).toBeGreaterThan(0);
    for (const c of cases ?? []) {
      const got = {} as Record<Caller, number>;
      const details: string[] = [];
      for (const caller of CALLERS) {
        const r = await ask(route, c, caller);
        got[caller] = r.status;
        if (r.status !== c.expect[caller]) details.push(`${caller}: ${r.status} ${r.detail}`);
      }
      expect({ case: c.name, status: got }, details.join('; ')).toEqual({ case: c.name, status: c.expect });
    }
  });

  it("RL-6: org B's PUTs to ids of org A wrote B's own records, never A's", async () => {
    const contact = await setupA.get<{ name: string }>('/v1/admin/contacts/ct1');
    expect(contact.body.name).toBe('written by admin');
    const channel = await setupA.get<{ workstreamId: string }>(`/v1/admin/channels/${orgA}-cfg`);
    expect(channel.status).toBe(200);
    const ofB = await apis.otherOrgAdmin.get<{ name: string }>('/v1/admin/contacts/ct1');
    expect(ofB.body.name).toBe('written by otherOrgAdmin');
  });
});
