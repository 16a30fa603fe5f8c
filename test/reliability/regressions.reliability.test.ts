import { connect, type AddressInfo } from 'node:net';
import type { Server } from 'node:http';
import { ulid } from 'ulid';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { createLocalHttpServer } from '../../bin/local/http-server.js';
import * as health from '../../functions/handlers/http/health.handler.js';
import { DEFAULT_SETTINGS, type Conversation, type Workstream } from '../../functions/domain/model.js';
import type { DueTimer } from '../../functions/ports/due-timer.js';
import type { CustomerEvent } from '../../functions/use-cases/customer-event.use-case.js';
import { signBody } from '../../functions/use-cases/ingest-webhook.use-case.js';
import { fireTimer, type FiredTimer } from '../../functions/use-cases/timers.use-case.js';
import { startRig, type Rig } from './rig.js';

/**
 * Bugs the reliability suite (model.reliability.test.ts), the webhook fuzzer and the HTTP server fuzzer found, each replayed
 * deterministically: the interleaving the random run stumbled on is forced with the rig's commit hook
 * (another writer runs right before a chosen transaction). Each test names the bug.
 */

const SECRET = 'regression-secret-0123456789';
let rig: Rig;
beforeAll(async () => {
  rig = await startRig();
});
afterAll(async () => {
  await rig?.stop();
});

interface Org {
  org: string;
  chat: string;
  sign: (agentId: string, what: 'sign-in' | 'sign-out') => Promise<void>;
  connection: (agentId: string, connected: boolean) => Promise<void>;
  action: (
    agentId: string,
    id: string,
    name: string,
    body?: unknown,
    roles?: string[],
  ) => Promise<{ status: number; body: Record<string, unknown> }>;
  presence: (agentId: string, presence: string) => Promise<void>;
  webhook: (event: CustomerEvent) => Promise<{ status: number; raw: string }>;
  start: (threadId: string) => Promise<Conversation>;
  get: (id: string) => Promise<Conversation>;
  timers: (id: string, kind: DueTimer['kind']) => Promise<DueTimer[]>;
}

/** An org with queues q1 (the default) and q2, a push chat workstream (offers expire after 60 s, reconnect timeout 120 s) and the given agents (capacity, queues: q1 unless said), signed in. */
async function pushOrg(agents: Record<string, number | { max: number; queues: string[] }>): Promise<Org> {
  const org = `g${ulid().toLowerCase()}`;
  const { store } = rig;
  await store.putQueue({ org, id: 'q1', name: 'Queue 1' });
  await store.putQueue({ org, id: 'q2', name: 'Queue 2' });
  await store.putSettings({
    org,
    ...DEFAULT_SETTINGS,
    supervisorMonitor: true,
    supervisorAssign: true,
    forceClose: true,
  });
  const ws: Workstream = {
    org,
    id: 'ws-chat',
    name: 'chat',
    mode: 'live',
    capacity: { pool: 'default', units: 1 },
    allowedPresences: ['Available', 'Busy'],
    wrapUp: { blockCapacity: 'always' },
    waitingInactivityTimeoutSeconds: 600,
    agentReconnectTimeoutSeconds: 120,
    offerTimeoutSeconds: 60,
    routingRules: [],
    defaultQueueId: 'q1',
    distribution: 'push',
  };
  await store.putWorkstream(ws);
  const chat = `${org}-chat`;
  await store.putChannel({ org, id: chat, kind: 'chat', workstreamId: ws.id }, SECRET);
  for (const [id, a] of Object.entries(agents)) {
    const { max, queues } = typeof a === 'number' ? { max: a, queues: ['q1'] } : a;
    await store.putAgent({ org, id, name: id, queues, bot: false, capacity: { default: max } });
  }
  const o: Org = {
    org,
    chat,
    async sign(agentId, what) {
      expect(
        (await rig.http('agents', `POST /v1/agents/me/${what}`, { claims: { org, sub: agentId, roles: ['agent'] } }))
          .status,
      ).toBe(200);
    },
    async connection(agentId, connected) {
      const r = await rig.http('agents', 'POST /v1/agents/me/connection', {
        claims: { org, sub: agentId, roles: ['agent'] },
        body: JSON.stringify({ connected }),
      });
      expect(r.status).toBe(200);
    },
    async action(agentId, id, name, body, roles = ['agent']) {
      const r = await rig.http('conversations', 'POST /v1/conversations/{id}/actions/{action}', {
        params: { id, action: name },
        claims: { org, sub: agentId, roles },
        ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
      });
      return { status: r.status, body: r.body };
    },
    async presence(agentId, presence) {
      const r = await rig.http('agents', 'PUT /v1/agents/me/presence', {
        claims: { org, sub: agentId, roles: ['agent'] },
        body: JSON.stringify({ presence }),
      });
      expect(r.status).toBe(200);
    },
    async webhook(event) {
      const raw = JSON.stringify(event);
      const r = await rig.http('webhooks', 'POST /v1/webhooks/{channelId}', {
        params: { channelId: chat },
        body: raw,
        headers: { 'x-signature': signBody(SECRET, raw) },
      });
      return { status: r.status, raw: r.raw };
    },
    async start(threadId) {
      expect((await o.webhook({ eventId: `start-${threadId}`, type: 'conversation.started', threadId })).status).toBe(
        202,
      );
      await rig.consume();
      const page = await rig.store.listConversations(org, { channelId: chat, threadId }, { limit: 10 });
      return page.items[0] as Conversation;
    },
    async get(id) {
      return (await rig.store.getConversation(org, id)) as Conversation;
    },
    async timers(id, kind) {
      return (await rig.outbox(org)).filter((t) => t.kind === kind && (t.conversationId === id || t.agentId === id));
    },
  };
  for (const id of Object.keys(agents)) await o.sign(id, 'sign-in');
  return o;
}

const history = async (o: Org, id: string): Promise<string[]> =>
  (await rig.store.listEvents(o.org, id)).map((e) => `${e.actor} ${e.action} ${e.from}>${e.to}`);

describe('bugs found by the reliability suite', () => {
  it('TM-5 bug "duplicate offer-expiry expires the next offer": an offer-expiry timer fired twice at once expires the offer routing made after the first firing', async () => {
    // Prepare: alice (3 units) gets the offer (v2); bob (2 units) is next
    const o = await pushOrg({ alice: 3, bob: 2 });
    const c = await o.start('t-offer');
    expect(await o.get(c.id)).toMatchObject({ status: 'Active', primaryAgentId: 'alice', accepted: false, version: 2 });
    const [timer] = await o.timers(c.id, 'offer-expiry');
    if (!timer) throw new Error('no offer-expiry timer');
    rig.clock.advance(61);

    // Act: the timer is delivered twice (EventBridge at least once + the sweeper, TM-5). Both firings pass the
    // version check; the first commits the expiry (v3) and routing offers bob (v4) before the second commits.
    let first: FiredTimer | undefined;
    rig.faults.add({
      match: (writes) => writes.some((w) => w.type === 'event' && w.event.action === 'offer-expired'),
      before: async () => {
        first = await fireTimer(rig.deps, timer);
        await rig.settle(); // its follow-ups (routing offers bob) from the stream, before the second commits
      },
    });
    const second = await fireTimer(rig.deps, timer);
    rig.faults.clear();
    await rig.settle();

    // Assess: the first firing expired alice's offer and bob was offered it; the second, about the v2 offer,
    // must change nothing (TM-5): bob's offer made a moment ago must stand.
    expect(first?.outcome).toBe('applied');
    expect(second.outcome).toBe('stale');
    expect(await o.get(c.id)).toMatchObject({ status: 'Active', primaryAgentId: 'bob', accepted: false });
    expect((await history(o, c.id)).filter((e) => e.includes('offer-expired'))).toHaveLength(1);
  });

  it('TM-5 bug "duplicate reconnect-timeout withdraws the next assignment": a reconnect timer fired twice at once sends the conversation back to the queue again after routing re-offered it', async () => {
    // Prepare: alice holds the chat (accepted), then disconnects; bob (3 units) is the next agent
    const o = await pushOrg({ alice: 1, bob: 3 });
    await o.sign('bob', 'sign-out');
    const c = await o.start('t-reconnect');
    expect((await o.action('alice', c.id, 'accept')).status).toBe(200);
    await o.sign('bob', 'sign-in');
    await o.connection('alice', false);
    const [timer] = await o.timers(c.id, 'reconnect-timeout');
    if (!timer) throw new Error('no reconnect-timeout timer');
    rig.clock.advance(121);

    // Act: delivered twice; the first firing (T-4a) commits first, and routing offers the chat to bob
    let first: FiredTimer | undefined;
    rig.faults.add({
      match: (writes) => writes.some((w) => w.type === 'event' && w.event.action === 'reconnect-timeout'),
      before: async () => {
        first = await fireTimer(rig.deps, timer);
        await rig.settle(); // its follow-ups (routing offers bob) from the stream, before the second commits
      },
    });
    const second = await fireTimer(rig.deps, timer);
    rig.faults.clear();
    await rig.settle();

    // Assess: one T-4a; bob's new offer is not withdrawn by the stale second firing
    expect(first?.outcome).toBe('applied');
    expect(second.outcome).toBe('stale');
    expect(await o.get(c.id)).toMatchObject({ status: 'Active', primaryAgentId: 'bob', accepted: false });
    expect((await history(o, c.id)).filter((e) => e.includes('reconnect-timeout'))).toHaveLength(1);
  });

  it('R-3 bug "an offer a supervisor joined never expires": monitoring or joining a pending push offer bumps the version and makes its offer-expiry timer stale', async () => {
    // Prepare: alice is offered the chat (v2), then a supervisor joins it (S-2, v3)
    const o = await pushOrg({ alice: 2 });
    const c = await o.start('t-join');
    expect(await o.get(c.id)).toMatchObject({ status: 'Active', primaryAgentId: 'alice', accepted: false });
    expect((await o.action('sup', c.id, 'join', undefined, ['supervisor'])).status).toBe(200);

    // Act: the offer timeout (60 s) passes, the outbox is swept
    const fired = (await rig.advance(61)).filter((f) => f.conversationId === c.id);

    // Assess: R-3: the offer was not accepted in time, so it expires (back to Open, offered again)
    expect(fired.filter((f) => f.kind === 'offer-expiry').map((f) => f.outcome)).toContain('applied');
    expect((await history(o, c.id)).some((e) => e.includes('offer-expired'))).toBe(true);
  });

  it('R-3 bug "a push conversation its only agent once let expire starves": an agent who becomes Available again is never offered the Open conversation they once declined', async () => {
    // Prepare: alice is offered the chat, goes Away, and lets the offer expire: Open, declined by alice
    const o = await pushOrg({ alice: 1 });
    const c = await o.start('t-starve');
    expect(await o.get(c.id)).toMatchObject({ status: 'Active', primaryAgentId: 'alice', accepted: false });
    await o.presence('alice', 'Away');
    await rig.advance(61);
    await rig.advance(31); // the conversation's own dispatch retry finds nobody either
    expect(await o.get(c.id)).toMatchObject({ status: 'Open', declinedBy: ['alice'] });

    // Act: alice is Available again, with her capacity free; the outbox is swept later on
    await o.presence('alice', 'Available');
    await rig.advance(31);

    // Assess: R-3 "when an agent ... becomes Available, the oldest Open conversation they are eligible for is
    // assigned to them": she is eligible (member, allowed presence, capacity), so it is offered to her again
    expect(await o.get(c.id)).toMatchObject({ status: 'Active', primaryAgentId: 'alice', accepted: false });
  });
});

describe('bugs found by the reliability suite: routing after a queue move', () => {
  it('R-3 bug "a push conversation a supervisor moves to another queue is never offered there": S-3 assignment to a queue does not dispatch', async () => {
    // Prepare: nobody works q1; alice, in q2 only, is Available with free capacity
    const o = await pushOrg({ alice: { max: 2, queues: ['q2'] } });
    const c = await o.start('t-move');
    await rig.advance(31);
    expect(await o.get(c.id)).toMatchObject({ status: 'Open', queueId: 'q1' });

    // Act: a supervisor sends it to q2 (S-3, Open -> Open in another queue); the outbox is swept later on
    expect((await o.action('sup', c.id, 'assign', { queueId: 'q2' }, ['supervisor'])).status).toBe(200);
    await rig.advance(31);

    // Assess: R-3: push routing offers each Open conversation to an eligible agent: alice, in q2
    expect(await o.get(c.id)).toMatchObject({
      status: 'Active',
      queueId: 'q2',
      primaryAgentId: 'alice',
      accepted: false,
    });
  });
});

describe('bugs found by the reliability suite: the availability index', () => {
  it('R-3 bug "a stale availability refresh hides a free agent": the refresh after a commit writes the agent as read before a concurrent release, and push routing never sees her room', async () => {
    // Prepare: alice (2 units) works pick chat Y; pick chat X waits; a push SMS workstream shares queue q1
    const o = await pushOrg({ alice: 2 });
    const { store } = rig;
    const pick: Workstream = { ...((await store.getWorkstream(o.org, 'ws-chat')) as Workstream), distribution: 'pick' };
    await store.putWorkstream(pick);
    await store.putWorkstream({ ...pick, id: 'ws-sms', name: 'sms', mode: 'persistent', distribution: 'push' });
    const sms = `${o.org}-sms`;
    await store.putChannel({ org: o.org, id: sms, kind: 'sms', workstreamId: 'ws-sms' }, SECRET);
    const y = await o.start('t-y');
    const x = await o.start('t-x');
    expect((await o.action('alice', y.id, 'accept')).status).toBe(200);

    // Act: alice accepts X; right before that transaction, a supervisor force-closes Y (S-5, alice's unit comes
    // back and the index says so). Then X commits, and its after-commit refresh writes alice as decide read her
    // (Y still held, plus X: full).
    rig.faults.add({
      match: (writes) => writes.some((w) => w.type === 'allocation-put' && w.conversationId === x.id),
      before: async () => {
        expect((await o.action('sup', y.id, 'force-close', undefined, ['supervisor'])).status).toBe(200);
      },
    });
    expect((await o.action('alice', x.id, 'accept')).status).toBe(200);
    rig.faults.clear();
    const agent = await store.getAgent(o.org, 'alice');
    expect(agent?.pools.default).toMatchObject({ used: 1, max: 2 });
    // a customer writes on the push SMS channel; the outbox retries the dispatch later on
    const raw = JSON.stringify({
      eventId: 'sms-1',
      type: 'message.received',
      threadId: 't-z',
      message: { text: 'hi' },
    });
    expect(
      (
        await rig.http('webhooks', 'POST /v1/webhooks/{channelId}', {
          params: { channelId: sms },
          body: raw,
          headers: { 'x-signature': signBody(SECRET, raw) },
        })
      ).status,
    ).toBe(202);
    await rig.consume();
    await rig.advance(31);

    // Assess: R-3: alice is eligible (member of q1, Available, 1 unit free), so the SMS is offered to her
    const z = (await store.listConversations(o.org, { channelId: sms, threadId: 't-z' }, { limit: 10 })).items[0];
    expect(z).toMatchObject({ status: 'Active', primaryAgentId: 'alice', accepted: false });
  });
});

describe('bugs found by the reliability suite: a crash between the commit and the after-commit work', () => {
  it('R-3 bug "a crash after a release leaves the agent full in the index": the outbox retries the dispatch but never refreshes the availability entry, so push routing never sees her room', async () => {
    // Prepare: alice (1 unit) works a pick chat Y (her index entry: full); a push SMS workstream shares queue q1
    const o = await pushOrg({ alice: 1 });
    const { store } = rig;
    const pick: Workstream = { ...((await store.getWorkstream(o.org, 'ws-chat')) as Workstream), distribution: 'pick' };
    await store.putWorkstream(pick);
    await store.putWorkstream({ ...pick, id: 'ws-sms', name: 'sms', mode: 'persistent', distribution: 'push' });
    const sms = `${o.org}-sms`;
    await store.putChannel({ org: o.org, id: sms, kind: 'sms', workstreamId: 'ws-sms' }, SECRET);
    const y = await o.start('t-y');
    expect((await o.action('alice', y.id, 'accept')).status).toBe(200);

    // Act: alice closes Y (T-4d, her unit is released); the Lambda dies right after the commit. Her index
    // refresh is a follow-up of the committed release, from the table's stream, so the crash cannot lose it.
    // Then a customer writes on the push SMS channel, and the outbox is swept (the dispatch retries run).
    rig.faults.add({
      match: (writes) =>
        writes.some((w) => w.type === 'event' && w.event.conversationId === y.id && w.event.action === 'close'),
      crash: 'after',
    });
    expect((await o.action('alice', y.id, 'close')).status).toBe(500);
    rig.faults.clear();
    expect((await store.getAgent(o.org, 'alice'))?.pools.default).toMatchObject({ used: 0, max: 1 });
    const raw = JSON.stringify({
      eventId: 'sms-crash-1',
      type: 'message.received',
      threadId: 't-z',
      message: { text: 'hi' },
    });
    expect(
      (
        await rig.http('webhooks', 'POST /v1/webhooks/{channelId}', {
          params: { channelId: sms },
          body: raw,
          headers: { 'x-signature': signBody(SECRET, raw) },
        })
      ).status,
    ).toBe(202);
    await rig.consume();
    await rig.advance(31);
    await rig.advance(31);

    // Assess: R-3: alice is eligible (member, Available, her unit free), so the SMS is offered to her
    const z = (await store.listConversations(o.org, { channelId: sms, threadId: 't-z' }, { limit: 10 })).items[0];
    expect(z).toMatchObject({ status: 'Active', primaryAgentId: 'alice', accepted: false });
  });
});

describe('bugs found by the reliability suite: API retries', () => {
  it('API Idempotency-Key bug "a retried End closes the wrap-up": End committed, the Lambda died before answering, the client retries with the same key', async () => {
    // Prepare: alice works on a chat (accepted)
    const o = await pushOrg({ alice: 2 });
    const c = await o.start('t-idem');
    expect((await o.action('alice', c.id, 'accept')).status).toBe(200);
    const end = (key: string) =>
      rig.http('conversations', 'POST /v1/conversations/{id}/actions/{action}', {
        params: { id: c.id, action: 'end' },
        claims: { org: o.org, sub: 'alice', roles: ['agent'] },
        headers: { 'idempotency-key': key },
      });

    // Act: End (T-3a) commits, then the function crashes before it answers; the client retries with the same key
    rig.faults.add({
      match: (writes) => writes.some((w) => w.type === 'event' && w.event.action === 'end'),
      crash: 'after',
    });
    const first = await end('end-once');
    rig.faults.clear();
    const retry = await end('end-once');

    // Assess: API.md "a repeated request with the same key returns the first result": WrapUp, one End in the history
    expect(first.status).toBe(500);
    expect(retry.status).toBe(200);
    expect(retry.body).toMatchObject({ status: 'WrapUp' });
    expect((await history(o, c.id)).filter((e) => e.startsWith('alice end'))).toEqual(['alice end Active>WrapUp']);
  });
});

describe('bugs found by the webhook fuzzer', () => {
  it('RL-4 bug "a valid webhook answers 500 when SQS refuses its characters": an emoji (fauxqs) or U+FFFF (SQS) in a signed valid event', async () => {
    // Prepare
    const o = await pushOrg({});
    const events: CustomerEvent[] = [
      { eventId: 'emoji-1', type: 'conversation.started', threadId: 't-emoji-😀', message: { text: 'hello 😀' } },
      {
        eventId: 'nonchar-1',
        type: 'conversation.started',
        threadId: 't-nonchar',
        message: { text: 'odd \uFFFF\uFFFE end' },
      },
    ];

    // Act
    const answers = [];
    for (const e of events) answers.push(await o.webhook(e));
    await rig.consume();

    // Assess: accepted (not 500), and applied by the consumer with the very same thread id
    expect(answers.map((a) => a.status)).toEqual([202, 202]);
    for (const e of events) {
      const page = await rig.store.listConversations(o.org, { channelId: o.chat, threadId: e.threadId }, { limit: 10 });
      expect(page.items.map((x) => x.threadId)).toEqual([e.threadId]);
    }
  });

  it('RL-1 / RL-4 bug "two threads with lone surrogates are one thread": a customer ending thread "t-\\udc00" closes the chat of thread "t-\\ud800"', async () => {
    // Prepare: JSON may carry lone surrogates ("\\ud800"); DynamoDB stores both ids as "t-\uFFFD"
    const o = await pushOrg({});
    const started = await o.webhook({ eventId: 'lone-1', type: 'conversation.started', threadId: 't-\ud800' });
    await rig.consume();

    // Act: another thread's customer leaves
    const ended = await o.webhook({ eventId: 'lone-2', type: 'customer.ended', threadId: 't-\udc00' });
    await rig.consume();

    // Assess: refused as malformed (400), or kept apart: never 5xx, and thread t-\ud800's chat is not touched by t-\udc00
    for (const r of [started, ended]) expect([202, 400]).toContain(r.status);
    const mine = (await rig.store.listConversations(o.org, { channelId: o.chat, threadId: 't-\ud800' }, { limit: 10 }))
      .items;
    expect(
      mine.every((c) => c.threadId === 't-\ud800'),
      'stored with the thread id the channel sent',
    ).toBe(true);
    expect(
      mine.filter((c) => c.status === 'Closed'),
      'closed by another thread',
    ).toEqual([]);
  });

  it('RL-4 bug "the local server resets the connection instead of answering 413": a body over 256 KiB gets a problem+json 413', async () => {
    // Prepare: the local runtime's HTTP server with the webhook route
    const { ROUTE_GROUPS } = await import('../../functions/handlers/http/routes.js');
    const server = createLocalHttpServer({
      routes: ROUTE_GROUPS.webhooks.routes.map((route) => ({ route, handler: rig.handlers.webhooks })),
      jwtSecret: 'unused',
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
    const { port } = server.address() as AddressInfo;
    try {
      // Act
      const res = await fetch(`http://127.0.0.1:${port}/v1/webhooks/some-channel`, {
        method: 'POST',
        body: 'x'.repeat(300 * 1024),
        headers: { 'x-signature': 'sha256=00' },
      }).catch((err: unknown) => err);

      // Assess
      expect(res, 'an answer, not a connection reset').toBeInstanceOf(Response);
      expect((res as Response).status).toBe(413);
      expect((res as Response).headers.get('content-type')).toMatch(/^application\/problem\+json/);
    } finally {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
  });
});

/** The local HTTP server with the health and webhook routes, on a free port of 127.0.0.1. */
async function localServer(): Promise<{ server: Server; port: number; close: () => Promise<void> }> {
  const { ROUTE_GROUPS } = await import('../../functions/handlers/http/routes.js');
  const server = createLocalHttpServer({
    routes: [
      ...ROUTE_GROUPS.health.routes.map((route) => ({ route, handler: health.handler })),
      ...ROUTE_GROUPS.webhooks.routes.map((route) => ({ route, handler: rig.handlers.webhooks })),
    ],
    jwtSecret: 'unused',
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  const { port } = server.address() as AddressInfo;
  return {
    server,
    port,
    close: async () => {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/** Writes raw bytes (what fetch would never send), half-closes if asked, and returns what came back. */
function rawExchange(port: number, request: string, options: { end?: boolean } = {}): Promise<string> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    let out = '';
    socket.on('data', (d: Buffer) => (out += d.toString('latin1')));
    socket.on('error', () => undefined);
    socket.on('close', () => resolve(out));
    socket.write(Buffer.from(request, 'latin1'));
    if (options.end) socket.end();
    setTimeout(() => socket.destroy(), 2_000);
  });
}

const statusOf = (answer: string): number | undefined => Number(/^HTTP\/1\.1 (\d{3})/.exec(answer)?.[1]) || undefined;

describe('bugs found by the HTTP server fuzzer', () => {
  it('RL-10 bug "a path that starts with // answers 500": GET // is 404, and //x/health is not /health', async () => {
    // Prepare
    const local = await localServer();
    try {
      // Act
      const answers = await Promise.all(
        ['//', '//[', '///?limit=1', '//x/health'].map((path) =>
          rawExchange(local.port, `GET ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n`),
        ),
      );
      const stillUp = await fetch(`http://127.0.0.1:${local.port}/health`);

      // Assess: a problem+json 404 each (new URL() threw on "//", and resolved "//x/health" to host x)
      expect(answers.map(statusOf)).toEqual([404, 404, 404, 404]);
      for (const a of answers) expect(a).toMatch(/content-type: application\/problem\+json/i);
      expect(stillUp.status).toBe(200);
    } finally {
      await local.close();
    }
  });

  it('RL-10 bug "a client that breaks off its body is an unexpected server error": a truncated or misframed body logged a 500 that nobody could read', async () => {
    // Prepare
    const local = await localServer();
    const errors = vi.spyOn(console, 'error');
    const head = 'POST /v1/webhooks/some-channel HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Signature: sha256=00\r\n';
    try {
      // Act: a chunked body cut short, a Content-Length never reached (both half-closed), a bad chunk size
      const answers = [
        await rawExchange(local.port, `${head}Transfer-Encoding: chunked\r\n\r\n10\r\n{"eventId":`, { end: true }),
        await rawExchange(local.port, `${head}Content-Length: 100\r\n\r\n{"eventId":`, { end: true }),
        await rawExchange(local.port, `${head}Transfer-Encoding: chunked\r\n\r\nzz\r\n{}\r\n0\r\n\r\n`),
      ];
      await new Promise((r) => setTimeout(r, 100));
      const stillUp = await fetch(`http://127.0.0.1:${local.port}/health`);

      // Assess: Node's own 400 for each, and nothing logged as the server's error
      expect(answers.map(statusOf)).toEqual([400, 400, 400]);
      expect(errors.mock.calls.map((c) => String(c[0])).filter((m) => m.includes('unexpected error'))).toEqual([]);
      expect(stillUp.status).toBe(200);
    } finally {
      errors.mockRestore();
      await local.close();
    }
  });

  it('RL-10 bug "CONNECT gets no answer": Node closed the connection of a CONNECT request unanswered; it is a problem+json 404', async () => {
    // Prepare
    const local = await localServer();
    try {
      // Act: the last one with 256 KiB after its head, which the server does not read
      const answers = [
        await rawExchange(local.port, 'CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n'),
        await rawExchange(local.port, 'CONNECT /health HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n'),
        await rawExchange(
          local.port,
          `CONNECT /v1/admin/settings HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 262144\r\n\r\n${'z'.repeat(262_144)}`,
        ),
      ];
      const stillUp = await fetch(`http://127.0.0.1:${local.port}/health`);

      // Assess
      expect(answers.map(statusOf)).toEqual([404, 404, 404]);
      for (const a of answers) {
        expect(a).toMatch(/content-type: application\/problem\+json/i);
        const body = JSON.parse(a.slice(a.indexOf('\r\n\r\n') + 4)) as { status: number; type: string };
        expect(body).toMatchObject({ status: 404, type: 'urn:problem:not-found' });
      }
      expect(stillUp.status).toBe(200);
      // no CONNECT socket is left half-open: the server closes at once
      const started = Date.now();
      await local.close();
      expect(Date.now() - started).toBeLessThan(1_500);
    } finally {
      await local.close().catch(() => undefined);
    }
  });

  it('RL-4 bug "an agent id named like an Object.prototype member is an agent": consult {agentId: "constructor"} answered 500, transfer to "toString" 400; both are 404 and change nothing', async () => {
    // Prepare: alice works a chat (offered to her, accepted)
    const o = await pushOrg({ alice: 3 });
    const c = await o.start('t-proto');
    expect((await o.action('alice', c.id, 'accept')).status).toBe(200);
    const before = await o.get(c.id);

    // Act: ids no agent has, which a plain object nonetheless "has" (its prototype's members)
    const ids = ['constructor', '__proto__', 'toString', 'hasOwnProperty', 'valueOf'];
    const answers: [string, number, number][] = [];
    for (const id of ids) {
      answers.push([
        id,
        (await o.action('alice', c.id, 'consult', { agentId: id })).status,
        (await o.action('alice', c.id, 'transfer', { agentId: id })).status,
      ]);
    }

    // Assess: not found, like any other unknown agent; the conversation is as it was
    expect(answers).toEqual(ids.map((id) => [id, 404, 404]));
    expect(await o.get(c.id)).toEqual(before);
  });
});
