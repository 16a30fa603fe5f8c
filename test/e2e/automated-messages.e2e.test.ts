import { DeleteMessageCommand, ReceiveMessageCommand } from '@aws-sdk/client-sqs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LocalRuntime } from '../../bin/local/runtime.js';
import {
  Api,
  eventually,
  ok,
  setupOrg,
  setupSignedInOrg,
  startRuntime,
  token,
  type DemoOrg,
  type HttpResult,
} from '../support/e2e.js';

/**
 * MS-3 (agent not responding) and MS-4 (automated messages) over HTTP on the local runtime: the
 * agent-response timer moved by the virtual clock (POST /_local/clock), the transcript read back
 * (GET /v1/conversations/{id}/messages), and what the outbound queue (fauxqs) carries: `message.sent`
 * for every automated message, `agent.not-responding` for the agent and the supervisors watching.
 */

interface Conv {
  id: string;
  status: string;
  statusReason?: string;
  queueId: string;
  channelId: string;
  threadId: string;
  primaryAgentId?: string;
  accepted?: boolean;
  version: number;
}
interface Msg {
  id: string;
  seq: number;
  at: string;
  from: 'customer' | 'agent' | 'system';
  agentId?: string;
  text: string;
  automated?: true;
}
interface Ev {
  actor: string;
  role: string;
  action: string;
  from: string | null;
  to: string;
  reason?: string;
}
/** what the outbound queue carries: a `message.sent` (MS-2, MS-4) or a notification (E-2) */
interface Outbound {
  id: string;
  org: string;
  conversationId: string;
  type: string;
  // message.sent
  channelId?: string;
  threadId?: string;
  text?: string;
  automated?: boolean;
  at: string;
  // notifications
  recipients?: { kind: string; id: string }[];
  version?: number;
  data?: Record<string, string>;
}
type Fired = {
  name: string;
  kind: string;
  conversationId?: string;
  agentId?: string;
  outcome: string;
  detail?: string;
};
type Kind = 'chat' | 'sms';
type Org = DemoOrg & { alice: Api; bob: Api };

let rt: LocalRuntime;
let api: Api;
beforeAll(async () => {
  // no real-time ticking: timers fire only when a test moves the virtual clock
  rt = await startRuntime({ tickMs: 3_600_000 });
  api = new Api(rt.url);
});
afterAll(() => rt?.stop());

let n = 0;

/** Prepare: an org (setupOrg: q1/q2, alice q1 3 units, bob q1+q2 2 units), every setting on, alice and bob signed in. */
const org = (): Promise<Org> => setupSignedInOrg(api);

/** The workstream of `kind` replaced with `changes` (PUT takes the whole workstream). */
async function workstream(o: DemoOrg, kind: Kind, changes: Record<string, unknown>): Promise<void> {
  const {
    org: _org,
    id: _id,
    ...body
  } = await ok(o.admin.get<Record<string, unknown>>(`/v1/admin/workstreams/ws-${kind}`));
  await ok(o.admin.put(`/v1/admin/workstreams/ws-${kind}`, { ...body, ...changes }));
}

const template = (o: DemoOrg, event: string, text: string, enabled?: boolean) =>
  ok(o.admin.put(`/v1/admin/message-templates/${event}`, { text, ...(enabled !== undefined ? { enabled } : {}) }));

/** A customer writes `text` on a fresh thread; resolves once the conversation exists. */
async function customerWrites(o: DemoOrg, kind: Kind, text: string): Promise<Conv> {
  const threadId = `am-${++n}`;
  await ok(
    api.webhook(
      o.channel[kind],
      { eventId: `e-${++n}`, type: 'message.received', threadId, message: { text } },
      o.secret,
    ),
    202,
  );
  return eventually(
    async () =>
      (await o.admin.get<{ items: Conv[] }>(`/v1/conversations?channelId=${o.channel[kind]}&threadId=${threadId}`)).body
        .items?.[0],
  );
}

/** A customer starts a conversation without a message (nothing waits for an answer yet). */
async function customerStarts(o: DemoOrg, kind: Kind): Promise<Conv> {
  const threadId = `am-${++n}`;
  await ok(
    api.webhook(o.channel[kind], { eventId: `e-${++n}`, type: 'conversation.started', threadId }, o.secret),
    202,
  );
  return eventually(
    async () =>
      (await o.admin.get<{ items: Conv[] }>(`/v1/conversations?channelId=${o.channel[kind]}&threadId=${threadId}`)).body
        .items?.[0],
  );
}

/** Another customer message on the conversation's thread (the same event id: the same delivery again). */
async function customerSays(o: DemoOrg, kind: Kind, c: Conv, text: string, eventId = `e-${++n}`): Promise<void> {
  const event = { eventId, type: 'message.received', threadId: c.threadId, message: { text } };
  await ok(api.webhook(o.channel[kind], event, o.secret), 202);
}

const read = (o: DemoOrg, id: string): Promise<Conv> => ok(o.admin.get<Conv>(`/v1/conversations/${id}`));
const eventsOf = async (o: DemoOrg, id: string): Promise<Ev[]> =>
  (await ok(o.admin.get<{ items: Ev[] }>(`/v1/conversations/${id}/events`))).items;
const act = (as: Api, id: string, action: string): Promise<HttpResult<Conv>> =>
  as.post<Conv>(`/v1/conversations/${id}/actions/${action}`);
const used = async (agent: Api): Promise<number> =>
  (await ok(agent.get<{ capacity: { default: { used: number } } }>('/v1/agents/me'))).capacity.default.used;
const reply = (as: Api, id: string, text: string): Promise<Msg> =>
  ok(as.post<Msg>(`/v1/conversations/${id}/messages`, { text }), 201);

const transcript = async (o: DemoOrg, id: string): Promise<Msg[]> =>
  (await ok(o.admin.get<{ items: Msg[] }>(`/v1/conversations/${id}/messages`))).items;
/** The transcript once it holds `count` messages (ingest and the follow-ups are asynchronous). */
const transcriptOf = (o: DemoOrg, id: string, count: number): Promise<Msg[]> =>
  eventually(async () => {
    const items = await transcript(o, id);
    return items.length >= count ? items : undefined;
  }, 5_000);
/** [seq, from, text, automated] of each message */
const rows = (items: Msg[]) => items.map((m) => [m.seq, m.from, m.text, m.automated ?? false]);

/** Moves the virtual clock; the MS-3 timers it fired for `c` (the others: routing, outbox deliveries). */
async function advance(seconds: number, c: Pick<Conv, 'id'>): Promise<Fired[]> {
  const r = await ok(api.post<{ now: string; fired: Fired[] }>('/_local/clock', { advanceSeconds: seconds }));
  return r.fired.filter((f) => f.conversationId === c.id && f.kind === 'agent-response');
}

/** Every delivery the outbound queue made so far (all orgs: filtered by conversation). */
const delivered: Outbound[] = [];
async function drain(): Promise<void> {
  for (;;) {
    const r = await rt.sqs.send(
      new ReceiveMessageCommand({ QueueUrl: rt.queues.outbound.url, MaxNumberOfMessages: 10, WaitTimeSeconds: 0 }),
    );
    if (!r.Messages?.length) return;
    for (const m of r.Messages) {
      delivered.push(JSON.parse(m.Body ?? '{}') as Outbound);
      await rt.sqs.send(new DeleteMessageCommand({ QueueUrl: rt.queues.outbound.url, ReceiptHandle: m.ReceiptHandle }));
    }
  }
}
/**
 * E-2 / MS-2: delivery is at least once and consumers dedupe on `id`: one body per id, checking that
 * every delivery of an id carried the same body.
 */
function distinct(bodies: Outbound[]): Outbound[] {
  const byId = new Map<string, Outbound>();
  for (const b of bodies) {
    const seen = byId.get(b.id);
    if (seen) expect(b, `every delivery of ${b.id} is the same`).toEqual(seen);
    else byId.set(b.id, b);
  }
  return [...byId.values()];
}
/** The outbound bodies of `type` about conversation `id` (one per id), once at least `min` arrived. */
const outboundOf = (id: string, type: string, min = 1): Promise<Outbound[]> =>
  eventually(async () => {
    await drain();
    const found = distinct(delivered.filter((b) => b.conversationId === id && b.type === type));
    return found.length >= min ? found : undefined;
  }, 5_000);
/** What arrived about `id` (one per id) after the follow-ups settled and a short wait (nothing more will). */
async function allOutboundOf(id: string): Promise<Outbound[]> {
  await rt.settle();
  await new Promise((res) => setTimeout(res, 300));
  await drain();
  return distinct(delivered.filter((b) => b.conversationId === id));
}

/** The automated messages of the transcript, each published as `message.sent` with automated: true. */
async function expectPublished(o: DemoOrg, c: Conv, automated: Msg[]): Promise<void> {
  expect(Object.values(o.channel)).toContain(c.channelId);
  const sent = await outboundOf(c.id, 'message.sent', automated.length);
  for (const m of automated) {
    expect(sent.find((b) => b.id === m.id)).toEqual({
      id: m.id,
      org: o.org,
      conversationId: c.id,
      channelId: c.channelId,
      threadId: c.threadId,
      type: 'message.sent',
      text: m.text,
      automated: true,
      at: m.at,
    });
  }
}

describe('MS-3: an agent who does not answer the customer in time', () => {
  it('MS-3: an unanswered customer message sends the conversation back to its queue: capacity released, routed again, agent and supervisors notified', async () => {
    // Prepare: push routing; alice (most capacity) is offered the chat and accepts it; sue monitors, sam joins
    const o = await org();
    await workstream(o, 'chat', { distribution: 'push', offerTimeoutSeconds: 300, agentResponseTimeoutSeconds: 60 });
    await rt.settle();
    const c = await customerWrites(o, 'chat', 'hi');
    await eventually(async () => (await read(o, c.id)).primaryAgentId === 'alice');
    await ok(act(o.alice, c.id, 'accept'));
    await reply(o.alice, c.id, 'Hello, how can I help?');
    const sue = api.as(await token(o.org, 'sue', ['supervisor']));
    const sam = api.as(await token(o.org, 'sam', ['supervisor']));
    await ok(act(sue, c.id, 'monitor'));
    await ok(act(sam, c.id, 'join'));
    expect(await used(o.alice)).toBe(1);

    // Act: the customer writes after the agent's reply, and nobody answers for 60 s
    await customerSays(o, 'chat', c, 'Are you there?');
    await transcriptOf(o, c.id, 3);
    const early = await advance(30, c);
    const stillActive = await read(o, c.id);
    const fired = await advance(31, c);

    // Assess: nothing at 30 s; at 60 s the conversation is Open again in q1, alice's capacity released
    expect(early).toEqual([]);
    expect(stillActive).toMatchObject({ status: 'Active', primaryAgentId: 'alice', accepted: true });
    expect(fired.filter((f) => f.outcome === 'applied')).toMatchObject([
      { kind: 'agent-response', agentId: 'alice', outcome: 'applied' },
    ]);
    expect(await used(o.alice)).toBe(0);
    const history = await eventsOf(o, c.id);
    const ms3 = history.filter((e) => e.action === 'agent-not-responding');
    expect(ms3).toEqual([
      expect.objectContaining({ from: 'Active', to: 'Open', role: 'system', reason: 'MS-3: agent-not-responding' }),
    ]);
    // routing ran again: offered to bob, not to alice who did not answer
    const reoffered = await eventually(async () => {
      const r = await read(o, c.id);
      return r.status === 'Active' && r.primaryAgentId === 'bob' ? r : undefined;
    });
    expect(reoffered).toMatchObject({ queueId: 'q1', accepted: false });
    const [notice, ...more] = await outboundOf(c.id, 'agent.not-responding');
    expect(more).toEqual([]);
    expect(notice).toMatchObject({
      org: o.org,
      conversationId: c.id,
      type: 'agent.not-responding',
      data: { agentId: 'alice', queueId: 'q1' },
    });
    expect(notice?.recipients).toEqual([
      { kind: 'agent', id: 'alice' },
      { kind: 'supervisor', id: 'sue' },
      { kind: 'supervisor', id: 'sam' },
    ]);
    // the transcript is untouched (no automated message for MS-3)
    expect(rows(await transcript(o, c.id))).toEqual([
      [1, 'customer', 'hi', false],
      [2, 'agent', 'Hello, how can I help?', false],
      [3, 'customer', 'Are you there?', false],
    ]);
  });

  it('MS-3: the status reason is agent-not-responding while the conversation waits in its queue (pick)', async () => {
    const o = await org();
    await workstream(o, 'chat', { agentResponseTimeoutSeconds: 60 });
    const c = await customerWrites(o, 'chat', 'hi');
    await ok(act(o.alice, c.id, 'accept'));
    await customerSays(o, 'chat', c, 'hello?');
    await transcriptOf(o, c.id, 2);

    const fired = await advance(61, c);

    expect(fired.filter((f) => f.outcome === 'applied')).toMatchObject([
      { kind: 'agent-response', outcome: 'applied' },
    ]);
    const open = await read(o, c.id);
    expect(open).toMatchObject({ status: 'Open', queueId: 'q1', statusReason: 'agent-not-responding' });
    expect(open.primaryAgentId).toBeUndefined();
    expect(await used(o.alice)).toBe(0);
    // another agent picks it from the queue
    expect(await ok(act(o.bob, c.id, 'accept'))).toMatchObject({ status: 'Active', primaryAgentId: 'bob' });
  });

  it('MS-3: a reply in time keeps the conversation (its timer fires stale); a later unanswered message still sends it back', async () => {
    // Prepare
    const o = await org();
    await workstream(o, 'chat', { agentResponseTimeoutSeconds: 60 });
    const c = await customerStarts(o, 'chat');
    await ok(act(o.alice, c.id, 'accept'));

    // Act 1: the customer writes, alice answers 30 s later, the customer writes again
    await customerSays(o, 'chat', c, 'first question');
    await transcriptOf(o, c.id, 1);
    expect(await advance(30, c)).toEqual([]);
    await reply(o.alice, c.id, 'first answer');
    await customerSays(o, 'chat', c, 'second question');
    await transcriptOf(o, c.id, 3);
    const first = await advance(31, c);

    // Assess 1: the first message's timer is stale; still Active with alice, capacity held, nobody told
    expect(first).toMatchObject([
      {
        kind: 'agent-response',
        agentId: 'alice',
        outcome: 'stale',
        detail: expect.stringContaining('replied in time'),
      },
    ]);
    expect(await read(o, c.id)).toMatchObject({ status: 'Active', primaryAgentId: 'alice' });
    expect(await used(o.alice)).toBe(1);

    // Act 2: the second message stays unanswered until its own 60 s
    const second = await advance(30, c);

    // Assess 2
    expect(second).toMatchObject([{ kind: 'agent-response', outcome: 'applied' }]);
    expect(await read(o, c.id)).toMatchObject({ status: 'Open', statusReason: 'agent-not-responding' });
    expect(await used(o.alice)).toBe(0);
    const notices = await outboundOf(c.id, 'agent.not-responding');
    expect(notices).toHaveLength(1);
    expect((await allOutboundOf(c.id)).filter((b) => b.type === 'agent.not-responding')).toHaveLength(1);
  });

  it('MS-3 / TM-5: a duplicated delivery arms one timer; a second timer and a late firing change nothing', async () => {
    // Prepare: the same webhook delivered twice, then another message: two timers
    const o = await org();
    await workstream(o, 'chat', { agentResponseTimeoutSeconds: 60 });
    const c = await customerStarts(o, 'chat');
    await ok(act(o.alice, c.id, 'accept'));
    await customerSays(o, 'chat', c, 'hello?', `dup-${c.id}`);
    await customerSays(o, 'chat', c, 'hello?', `dup-${c.id}`);
    await customerSays(o, 'chat', c, 'anybody?');
    await transcriptOf(o, c.id, 2);

    // Act
    const fired = await advance(61, c);
    const after = await read(o, c.id);
    const late = await advance(600, c);

    // Assess: one applied, the other stale; nothing fires later, nothing changes
    expect(fired.map((f) => [f.kind, f.outcome]).sort()).toEqual([
      ['agent-response', 'applied'],
      ['agent-response', 'stale'],
    ]);
    expect(after).toMatchObject({ status: 'Open', statusReason: 'agent-not-responding' });
    expect(late).toEqual([]);
    expect(await read(o, c.id)).toEqual(after);
    expect(await used(o.alice)).toBe(0);
    expect((await eventsOf(o, c.id)).filter((e) => e.action === 'agent-not-responding')).toHaveLength(1);
    await outboundOf(c.id, 'agent.not-responding');
    expect((await allOutboundOf(c.id)).filter((b) => b.type === 'agent.not-responding')).toHaveLength(1);
    expect(rows(await transcript(o, c.id))).toEqual([
      [1, 'customer', 'hello?', false],
      [2, 'customer', 'anybody?', false],
    ]);
  });

  it('MS-3 / TM-5: a timer that fires after the conversation changed hands (or Active period) is stale', async () => {
    // Prepare: c1 is released by alice and taken by bob; c2 is released and taken again by alice
    const o = await org();
    await workstream(o, 'chat', { agentResponseTimeoutSeconds: 60 });
    const c1 = await customerStarts(o, 'chat');
    const c2 = await customerStarts(o, 'chat');
    await ok(act(o.alice, c1.id, 'accept'));
    await ok(act(o.alice, c2.id, 'accept'));
    await customerSays(o, 'chat', c1, 'hello?');
    await customerSays(o, 'chat', c2, 'hello?');
    await transcriptOf(o, c1.id, 1);
    await transcriptOf(o, c2.id, 1);
    await ok(act(o.alice, c1.id, 'release'));
    await ok(act(o.bob, c1.id, 'accept'));
    await ok(act(o.alice, c2.id, 'release'));
    await ok(act(o.alice, c2.id, 'accept'));
    // each new answerer owes the waiting message a reply (MS-3) and gives it
    await reply(o.bob, c1.id, 'Bob here');
    await reply(o.alice, c2.id, 'Alice again');

    // Act
    const r = await ok(api.post<{ fired: Fired[] }>('/_local/clock', { advanceSeconds: 61 }));

    // Assess
    // the timers armed for alice's first Active periods (the new answerers' own are answered, hence stale too)
    const of = (c: Conv) =>
      r.fired.filter(
        (f) =>
          f.conversationId === c.id &&
          f.kind === 'agent-response' &&
          f.agentId === 'alice' &&
          !f.detail?.includes('replied in time'),
      );
    expect(of(c1)).toMatchObject([
      { agentId: 'alice', outcome: 'stale', detail: expect.stringContaining('no longer Active with this agent') },
    ]);
    expect(of(c2)).toMatchObject([
      { agentId: 'alice', outcome: 'stale', detail: expect.stringContaining('changed hands since') },
    ]);
    expect(await read(o, c1.id)).toMatchObject({ status: 'Active', primaryAgentId: 'bob' });
    expect(await read(o, c2.id)).toMatchObject({ status: 'Active', primaryAgentId: 'alice' });
    expect(await used(o.bob)).toBe(1);
    expect(await used(o.alice)).toBe(1);
    for (const c of [c1, c2])
      expect((await allOutboundOf(c.id)).filter((b) => b.type === 'agent.not-responding')).toEqual([]);
  });

  it('MS-3: nothing is armed without a workstream timeout', async () => {
    // Prepare: ws-sms has no timeout
    const o = await org();
    const sms = await customerWrites(o, 'sms', 'hi');
    await ok(act(o.alice, sms.id, 'accept'));
    await customerSays(o, 'sms', sms, 'hello?');
    await transcriptOf(o, sms.id, 2);

    // Act
    const r = await ok(api.post<{ fired: Fired[] }>('/_local/clock', { advanceSeconds: 3600 }));

    // Assess
    expect(r.fired.filter((f) => f.kind === 'agent-response' && f.conversationId === sms.id)).toEqual([]);
    expect(await read(o, sms.id)).toMatchObject({ status: 'Active', primaryAgentId: 'alice' });
  });

  it('MS-3: messages that waited while Open arm the timer when an agent answers; a reply then keeps it', async () => {
    // Prepare: two customer messages while Open, nobody answers them after the accept
    const o = await org();
    await workstream(o, 'chat', { agentResponseTimeoutSeconds: 60 });
    const c = await customerWrites(o, 'chat', 'first message while Open');
    await customerSays(o, 'chat', c, 'second message while Open');
    await transcriptOf(o, c.id, 2);
    expect(await advance(120, c)).toEqual([]);
    await ok(act(o.alice, c.id, 'accept'));
    const d = await customerWrites(o, 'chat', 'another one while Open');
    await ok(act(o.alice, d.id, 'accept'));
    await reply(o.alice, d.id, 'Hello, right with you');

    // Act
    const fired = await advance(61, c);
    const firedD = await ok(api.post<{ fired: Fired[] }>('/_local/clock', { advanceSeconds: 1 }));

    // Assess: the one never answered went back to its queue; the one answered in time stays
    expect(fired.filter((f) => f.outcome === 'applied')).toMatchObject([
      { kind: 'agent-response', outcome: 'applied' },
    ]);
    expect(await read(o, c.id)).toMatchObject({ status: 'Open', statusReason: 'agent-not-responding' });
    expect(firedD.fired.filter((f) => f.conversationId === d.id && f.outcome === 'applied')).toEqual([]);
    expect(await read(o, d.id)).toMatchObject({ status: 'Active', primaryAgentId: 'alice' });
  });

  it('MS-3 / M-2: a timer that fires after the agent ended the messaging session is stale', async () => {
    // Prepare: sms (persistent) with a timeout; the customer writes, the agent ends the session unanswered
    const o = await org();
    await workstream(o, 'sms', { agentResponseTimeoutSeconds: 60 });
    const c = await customerWrites(o, 'sms', 'hi');
    await ok(act(o.alice, c.id, 'accept'));
    await customerSays(o, 'sms', c, 'hello?');
    await transcriptOf(o, c.id, 2);
    await ok(act(o.alice, c.id, 'end-session'));

    // Act
    const fired = await advance(61, c);

    // Assess: nothing routes the ticket again (M-2), nobody is told she did not answer
    expect(fired.length).toBeGreaterThan(0);
    expect(fired.every((f) => f.outcome === 'stale')).toBe(true);
    expect(await read(o, c.id)).toMatchObject({ status: 'Active', primaryAgentId: 'alice' });
  });
});

describe('MS-3 / R-5: the timeout is the workstream as it is now', () => {
  it('MS-3 / R-5: a timeout set while the conversation goes on applies to the next customer message', async () => {
    // Prepare: the conversation starts and a first message is stored while ws-chat has no timeout
    const o = await org();
    const c = await customerWrites(o, 'chat', 'hi');
    await ok(act(o.alice, c.id, 'accept'));
    await customerSays(o, 'chat', c, 'before the timeout');
    await transcriptOf(o, c.id, 2);

    // Act: the admin sets a timeout; the customer writes again and nobody answers
    await workstream(o, 'chat', { agentResponseTimeoutSeconds: 60 });
    await customerSays(o, 'chat', c, 'after the timeout');
    await transcriptOf(o, c.id, 3);
    const fired = await advance(61, c);

    // Assess: the second message armed the timer (R-5: the next decision sees the change)
    expect(fired.filter((f) => f.outcome === 'applied')).toMatchObject([
      { kind: 'agent-response', outcome: 'applied' },
    ]);
    expect(await read(o, c.id)).toMatchObject({ status: 'Open', statusReason: 'agent-not-responding' });
  });
});

describe('MS-4: automated messages from the org templates', () => {
  it('MS-4: queued (with its position), assigned (with the agent name) and closed, each at the next seq and published as automated', async () => {
    // Prepare
    const o = await org();
    await template(o, 'queued', 'You are number {{position}}.');
    await template(o, 'assigned', 'You are talking to {{ agentName }}.');
    await template(o, 'closed', 'Thanks for contacting us, {{agentName}} closed this chat.');

    // Act 1: two customers wait in q1
    const a = await customerWrites(o, 'chat', 'hi');
    const aQueued = await transcriptOf(o, a.id, 2);
    const b = await customerWrites(o, 'chat', 'hello');
    const bQueued = await transcriptOf(o, b.id, 2);

    // Assess 1
    expect(rows(aQueued)).toEqual([
      [1, 'customer', 'hi', false],
      [2, 'system', 'You are number 1.', true],
    ]);
    expect(rows(bQueued)).toEqual([
      [1, 'customer', 'hello', false],
      [2, 'system', 'You are number 2.', true],
    ]);

    // Act 2: alice picks the first, replies, ends and closes it; bob picks the second
    await ok(act(o.alice, a.id, 'accept'));
    await reply(o.alice, a.id, 'How can I help?');
    expect(await ok(act(o.alice, a.id, 'end'))).toMatchObject({ status: 'WrapUp' });
    expect(await ok(act(o.alice, a.id, 'close'))).toMatchObject({ status: 'Closed' });
    await ok(act(o.bob, b.id, 'accept'));

    // Assess 2
    const aAll = await transcriptOf(o, a.id, 5);
    expect(rows(aAll)).toEqual([
      [1, 'customer', 'hi', false],
      [2, 'system', 'You are number 1.', true],
      [3, 'system', 'You are talking to Alice.', true],
      [4, 'agent', 'How can I help?', false],
      [5, 'system', 'Thanks for contacting us, Alice closed this chat.', true],
    ]);
    expect(aAll.filter((m) => m.automated).every((m) => m.from === 'system' && m.agentId === undefined)).toBe(true);
    const bAll = await transcriptOf(o, b.id, 3);
    expect(rows(bAll)).toEqual([
      [1, 'customer', 'hello', false],
      [2, 'system', 'You are number 2.', true],
      [3, 'system', 'You are talking to Bob.', true],
    ]);
    await expectPublished(
      o,
      a,
      aAll.filter((m) => m.automated),
    );
    await expectPublished(
      o,
      b,
      bAll.filter((m) => m.automated),
    );
    // the reply is published too, not automated; the customer's own messages never
    const sentA = (await allOutboundOf(a.id)).filter((x) => x.type === 'message.sent');
    // (the outbox publishes each as its change commits: delivery order across changes is not the transcript's)
    expect(sentA.map((x) => [x.text, x.automated]).sort()).toEqual(
      [
        ['You are number 1.', true],
        ['You are talking to Alice.', true],
        ['How can I help?', false],
        ['Thanks for contacting us, Alice closed this chat.', true],
      ].sort(),
    );
  });

  it('MS-4: {{estimatedWaitMinutes}} is filled once the queue has answered conversations', async () => {
    const o = await org();
    await template(o, 'queued', 'Position {{position}}, about {{estimatedWaitMinutes}} min.');
    const a = await customerWrites(o, 'chat', 'a');
    expect((await transcriptOf(o, a.id, 2))[1]?.text).toBe('Position 1, about  min.');
    await ok(act(o.alice, a.id, 'accept'));
    const b = await customerWrites(o, 'chat', 'b');
    await transcriptOf(o, b.id, 2);
    const c = await customerWrites(o, 'chat', 'c');
    const text = (await transcriptOf(o, c.id, 2))[1]?.text ?? '';
    // one answered in the last 15 minutes (900 to 960 s of buckets): 2 ahead-or-self -> 30 to 32 minutes
    const minutes = Number(/^Position 2, about (\d+) min\.$/.exec(text)?.[1]);
    expect(minutes, text).toBeGreaterThanOrEqual(30);
    expect(minutes, text).toBeLessThanOrEqual(32);
  });

  it('MS-4: waiting when a persistent (sms) conversation is parked', async () => {
    const o = await org();
    await template(o, 'waiting', 'We will get back to you here.');
    await template(o, 'closed', 'Closed.');
    const c = await customerWrites(o, 'sms', 'my parcel');
    await ok(act(o.alice, c.id, 'accept'));

    expect(await ok(act(o.alice, c.id, 'close'))).toMatchObject({ status: 'Waiting' });

    const items = await transcriptOf(o, c.id, 2);
    expect(rows(items)).toEqual([
      [1, 'customer', 'my parcel', false],
      [2, 'system', 'We will get back to you here.', true],
    ]);
    await expectPublished(o, c, items.slice(1));
    expect((await allOutboundOf(c.id)).filter((x) => x.type === 'message.sent')).toHaveLength(1);
  });

  it('MS-4 / O-1: an overflow rule (queueSizeAtLeast) that closes sends overflow, not closed', async () => {
    // Prepare: q1 closes a conversation that enters with one already waiting
    const o = await org();
    await ok(
      o.admin.put('/v1/admin/queues/q1', {
        name: 'Queue 1',
        overflow: [{ when: { queueSizeAtLeast: 1 }, then: { close: true } }],
      }),
    );
    await template(o, 'closed', 'Closed.');
    await template(o, 'overflow', 'We are very busy, please try again later.');
    await template(o, 'outside-hours', 'We are closed.');

    // Act
    const first = await customerWrites(o, 'chat', 'first');
    await rt.settle();
    const second = await customerWrites(o, 'chat', 'second');
    const closed = await eventually(async () => {
      const r = await read(o, second.id);
      return r.status === 'Closed' ? r : undefined;
    });

    // Assess
    expect(closed).toMatchObject({ statusReason: 'overflow' });
    const items = await transcriptOf(o, second.id, 2);
    expect(rows(items)).toEqual([
      [1, 'customer', 'second', false],
      [2, 'system', 'We are very busy, please try again later.', true],
    ]);
    await expectPublished(o, second, items.slice(1));
    expect((await allOutboundOf(second.id)).filter((x) => x.type === 'message.sent')).toHaveLength(1);
    expect(await read(o, first.id)).toMatchObject({ status: 'Open' });
    expect(rows(await transcript(o, first.id))).toEqual([[1, 'customer', 'first', false]]);
  });

  it('MS-4 / O-1: an overflow rule (noAgentsSignedIn) that closes sends overflow', async () => {
    // Prepare: nobody signed in
    const o = await setupOrg(api);
    await ok(
      o.admin.put('/v1/admin/queues/q1', {
        name: 'Queue 1',
        overflow: [{ when: 'noAgentsSignedIn', then: { close: true } }],
      }),
    );
    await template(o, 'closed', 'Closed.');
    await template(o, 'overflow', 'Nobody can answer right now.');

    // Act
    const c = await customerWrites(o, 'chat', 'hello');
    await eventually(async () => (await read(o, c.id)).status === 'Closed');

    // Assess
    expect(await read(o, c.id)).toMatchObject({ status: 'Closed', statusReason: 'overflow' });
    const items = await transcriptOf(o, c.id, 2);
    expect(rows(items)).toEqual([
      [1, 'customer', 'hello', false],
      [2, 'system', 'Nobody can answer right now.', true],
    ]);
    await expectPublished(o, c, items.slice(1));
  });

  it('MS-4 / O-1: a queue outside its hours that closes sends outside-hours, not overflow nor closed', async () => {
    // Prepare: q1 is never open
    const o = await org();
    await ok(o.admin.put('/v1/admin/hours/never', { timeZone: 'UTC', weekly: {} }));
    await ok(
      o.admin.put('/v1/admin/queues/q1', {
        name: 'Queue 1',
        hoursId: 'never',
        overflow: [{ when: 'closed', then: { close: true } }],
      }),
    );
    await template(o, 'closed', 'Closed.');
    await template(o, 'overflow', 'We are very busy.');
    await template(o, 'outside-hours', 'We are closed now; our hours are on the website.');

    // Act
    const c = await customerWrites(o, 'chat', 'hello');
    await eventually(async () => (await read(o, c.id)).status === 'Closed');

    // Assess
    expect(await read(o, c.id)).toMatchObject({ status: 'Closed', statusReason: 'overflow' });
    const items = await transcriptOf(o, c.id, 2);
    expect(rows(items)).toEqual([
      [1, 'customer', 'hello', false],
      [2, 'system', 'We are closed now; our hours are on the website.', true],
    ]);
    await expectPublished(o, c, items.slice(1));
    expect((await allOutboundOf(c.id)).filter((x) => x.type === 'message.sent')).toHaveLength(1);
  });

  it('MS-4: a disabled template sends nothing; the others still do', async () => {
    const o = await org();
    await template(o, 'assigned', 'You are talking to {{agentName}}.', false);
    await template(o, 'closed', 'Bye.');
    const c = await customerWrites(o, 'chat', 'hi');
    await ok(act(o.alice, c.id, 'accept'));
    await ok(act(o.alice, c.id, 'end'));
    await ok(act(o.alice, c.id, 'close'));

    const items = await transcriptOf(o, c.id, 2);
    await new Promise((res) => setTimeout(res, 300));
    expect(rows(await transcript(o, c.id))).toEqual([
      [1, 'customer', 'hi', false],
      [2, 'system', 'Bye.', true],
    ]);
    await expectPublished(o, c, items.slice(1));
    expect((await allOutboundOf(c.id)).filter((x) => x.type === 'message.sent').map((x) => x.text)).toEqual(['Bye.']);
  });

  it('MS-4 / R-5: a template enabled or changed applies to the next change', async () => {
    // Prepare: a first conversation decided with assigned disabled and closed "Bye." (read and cached)
    const o = await org();
    await template(o, 'assigned', 'You are talking to {{agentName}}.', false);
    await template(o, 'closed', 'Bye.');
    const first = await customerWrites(o, 'chat', 'one');
    await ok(act(o.alice, first.id, 'accept'));
    await ok(act(o.alice, first.id, 'end'));
    await ok(act(o.alice, first.id, 'close'));

    // Act: the admin enables assigned and rewrites closed; a second conversation goes the same way
    await template(o, 'assigned', 'Hi, {{agentName}} here.', true);
    await template(o, 'closed', 'Goodbye!');
    const second = await customerWrites(o, 'chat', 'two');
    await ok(act(o.alice, second.id, 'accept'));
    await ok(act(o.alice, second.id, 'end'));
    await ok(act(o.alice, second.id, 'close'));

    // Assess
    expect(rows(await transcriptOf(o, first.id, 2))).toEqual([
      [1, 'customer', 'one', false],
      [2, 'system', 'Bye.', true],
    ]);
    expect(rows(await transcriptOf(o, second.id, 3))).toEqual([
      [1, 'customer', 'two', false],
      [2, 'system', 'Hi, Alice here.', true],
      [3, 'system', 'Goodbye!', true],
    ]);
  });

  it('MS-4 / M-5: an agent ending the messaging session (M-2) sends no message, nor does anything after it', async () => {
    // Prepare: every template on
    const o = await org();
    await template(o, 'assigned', 'You are talking to {{agentName}}.');
    await template(o, 'waiting', 'We will get back to you.');
    await template(o, 'closed', 'Closed.');
    const c = await customerWrites(o, 'sms', 'hi');
    await ok(act(o.alice, c.id, 'accept'));
    await transcriptOf(o, c.id, 2);

    // Act: the session ends; the agent parks the ticket, a supervisor closes it
    expect(await ok(act(o.alice, c.id, 'end-session'))).toMatchObject({ status: 'Active' });
    expect(await ok(act(o.alice, c.id, 'close'))).toMatchObject({ status: 'Waiting' });
    expect(await ok(act(o.admin, c.id, 'force-close'))).toMatchObject({ status: 'Closed' });

    // Assess: only the assigned message, sent before the session ended
    await rt.settle();
    await new Promise((res) => setTimeout(res, 300));
    const items = await transcript(o, c.id);
    expect(rows(items)).toEqual([
      [1, 'customer', 'hi', false],
      [2, 'system', 'You are talking to Alice.', true],
    ]);
    await expectPublished(o, c, items.slice(1));
    expect((await allOutboundOf(c.id)).filter((x) => x.type === 'message.sent').map((x) => x.text)).toEqual([
      'You are talking to Alice.',
    ]);
  });
});
