import { DeleteMessageCommand, ReceiveMessageCommand } from '@aws-sdk/client-sqs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LocalRuntime } from '../../bin/local/runtime.js';
import {
  Api,
  eventually,
  ok,
  setupSignedInOrg,
  startRuntime,
  token,
  type DemoOrg,
  type HttpResult,
} from '../support/e2e.js';

/**
 * Messages (MS-1, MS-2) over HTTP on the local runtime: the transcript of customer, agent and system
 * messages, who may read and reply, and `message.sent` on the outbound queue (fauxqs).
 */

interface Conv {
  id: string;
  status: string;
  version: number;
  primaryAgentId?: string;
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
interface Sent {
  id: string;
  org: string;
  conversationId: string;
  channelId: string;
  threadId: string;
  type: string;
  text: string;
  automated: boolean;
  at: string;
}

let rt: LocalRuntime;
let api: Api;
beforeAll(async () => {
  rt = await startRuntime({ tickMs: 3_600_000 });
  api = new Api(rt.url);
});
afterAll(() => rt?.stop());

let n = 0;
type Kind = 'chat' | 'sms';

/** A customer writes `text` on a fresh thread; resolves once the conversation exists. */
async function customerWrites(o: DemoOrg, kind: Kind, text: string, threadId = `ms-${++n}`): Promise<Conv> {
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

const threadOf = async (o: DemoOrg, id: string): Promise<string> =>
  (await ok(o.admin.get<{ threadId: string }>(`/v1/conversations/${id}`))).threadId;

/** Another customer message on the conversation's thread (same event id = the same delivery again). */
async function customerSays(o: DemoOrg, kind: Kind, c: Conv, text: string, eventId = `e-${++n}`): Promise<void> {
  const threadId = await threadOf(o, c.id);
  await ok(
    api.webhook(o.channel[kind], { eventId, type: 'message.received', threadId, message: { text } }, o.secret),
    202,
  );
}

const transcript = (as: Api, id: string, query = ''): Promise<HttpResult<{ items: Msg[]; nextCursor?: string }>> =>
  as.get(`/v1/conversations/${id}/messages${query}`);

/** The transcript once it holds `count` messages (ingest is asynchronous). */
const transcriptOf = (o: DemoOrg, id: string, count: number): Promise<Msg[]> =>
  eventually(async () => {
    const items = (await ok(transcript(o.admin, id))).items;
    return items.length >= count ? items : undefined;
  });

const reply = (as: Api, id: string, body: unknown, headers: Record<string, string> = {}) =>
  as.post<Msg>(`/v1/conversations/${id}/messages`, body, headers);

function expectProblem(r: HttpResult<unknown>, status: number, extra: Record<string, unknown> = {}): void {
  expect(r.status, JSON.stringify(r.body)).toBe(status);
  expect(r.contentType).toContain('application/problem+json');
  expect(r.body).toMatchObject({ status, ...extra });
}

const sent = new Map<string, Sent[]>();
/** Drains the outbound queue; `message.sent` bodies kept by message id (every delivery, to count them). */
async function drain(): Promise<void> {
  for (;;) {
    const r = await rt.sqs.send(
      new ReceiveMessageCommand({ QueueUrl: rt.queues.outbound.url, MaxNumberOfMessages: 10, WaitTimeSeconds: 0 }),
    );
    if (!r.Messages?.length) return;
    for (const m of r.Messages) {
      const body = JSON.parse(m.Body ?? '{}') as Sent;
      if (body.type === 'message.sent') sent.set(body.id, [...(sent.get(body.id) ?? []), body]);
      await rt.sqs.send(new DeleteMessageCommand({ QueueUrl: rt.queues.outbound.url, ReceiptHandle: m.ReceiptHandle }));
    }
  }
}
const sentFor = (id: string): Promise<Sent[]> =>
  eventually(async () => {
    await drain();
    return sent.get(id);
  }, 5_000);

const org = () => setupSignedInOrg(api);

describe('MS-1 transcript and MS-2 replies over HTTP', () => {
  it('MS-1: keeps customer, agent and system messages in seq order, a duplicated webhook stored once', async () => {
    const o = await org();
    await ok(o.admin.put('/v1/admin/message-templates/assigned', { text: 'You are talking to {{agentName}}.' }));
    const c = await customerWrites(o, 'sms', 'Hello, my order is late');
    await ok(o.alice.post(`/v1/conversations/${c.id}/actions/accept`));
    const r = await ok(reply(o.alice, c.id, { text: 'Sorry! Let me check.' }), 201);
    expect(r).toMatchObject({ seq: 3, from: 'agent', agentId: 'alice', text: 'Sorry! Let me check.' });
    await customerSays(o, 'sms', c, 'Thanks', 'dup-1');
    await customerSays(o, 'sms', c, 'Thanks', 'dup-1');
    const items = await transcriptOf(o, c.id, 4);
    // the duplicate is applied once (RL-1), whenever the second delivery is processed
    await new Promise((res) => setTimeout(res, 300));
    expect((await ok(transcript(o.admin, c.id))).items).toHaveLength(4);
    expect(items.map((m) => [m.seq, m.from, m.text, m.automated ?? false])).toEqual([
      [1, 'customer', 'Hello, my order is late', false],
      [2, 'system', 'You are talking to Alice.', true],
      [3, 'agent', 'Sorry! Let me check.', false],
      [4, 'customer', 'Thanks', false],
    ]);
    // the agent who handles it reads it too
    expect((await ok(transcript(o.alice, c.id))).items).toHaveLength(4);
  });

  it('MS-2: a reply is published once as message.sent with a stable id; Idempotency-Key replays it', async () => {
    const o = await org();
    const c = await customerWrites(o, 'chat', 'hi');
    await ok(o.alice.post(`/v1/conversations/${c.id}/actions/accept`));
    const headers = { 'Idempotency-Key': `k-${c.id}` };
    const first = await ok(reply(o.alice, c.id, { text: '<b>Hello</b> & welcome' }, headers), 201);
    const again = await ok(reply(o.alice, c.id, { text: '<b>Hello</b> & welcome' }, headers), 201);
    expect(again).toEqual(first);
    expectProblem(await reply(o.alice, c.id, { text: 'other' }, headers), 422);
    const [body, ...more] = await sentFor(first.id);
    expect(more).toEqual([]);
    expect(body).toEqual({
      id: first.id,
      org: o.org,
      conversationId: c.id,
      channelId: o.channel.chat,
      threadId: await threadOf(o, c.id),
      type: 'message.sent',
      text: '<b>Hello</b> & welcome',
      automated: false,
      at: first.at,
    });
    expect((await ok(transcript(o.admin, c.id))).items.map((m) => m.text)).toEqual(['hi', '<b>Hello</b> & welcome']);
  });

  it('MS-1/MS-2: who may read and reply (403, 404, 409)', async () => {
    const o = await org();
    const c = await customerWrites(o, 'sms', 'hello');
    // Open: nobody is primary yet
    expectProblem(await reply(o.alice, c.id, { text: 'hi' }), 403);
    await ok(o.alice.post(`/v1/conversations/${c.id}/actions/accept`));
    // bob is in the queue (he may see it) but never handled it; carol is in another queue; another org
    expectProblem(await transcript(o.bob, c.id), 403);
    expectProblem(await reply(o.bob, c.id, { text: 'hi' }), 403);
    await ok(o.admin.put('/v1/admin/agents/carol', { name: 'Carol', queues: ['q2'], capacity: { default: 1 } }));
    const carol = await o.agent('carol');
    expectProblem(await transcript(carol, c.id), 404);
    expectProblem(await reply(carol, c.id, { text: 'hi' }), 404);
    const stranger = api.as(await token('other-org', 'alice', ['agent', 'supervisor']));
    expectProblem(await transcript(stranger, c.id), 404);
    expectProblem(await reply(stranger, c.id, { text: 'hi' }), 404);
    // a supervisor reads; replies only after joining
    const sup = api.as(await token(o.org, 'sue', ['supervisor']));
    expect((await ok(transcript(sup, c.id))).items).toHaveLength(1);
    expectProblem(await reply(sup, c.id, { text: 'hi' }), 403);
    await ok(sup.post(`/v1/conversations/${c.id}/actions/join`));
    expect(await ok(reply(sup, c.id, { text: 'Supervisor here' }), 201)).toMatchObject({
      from: 'agent',
      agentId: 'sue',
    });
    // M-2 ends the session: no reply reaches the customer any more (409 naming the status)
    await ok(o.alice.post(`/v1/conversations/${c.id}/actions/end-session`));
    expectProblem(await reply(o.alice, c.id, { text: 'still there?' }), 409, {
      currentStatus: 'Active',
      detail: expect.stringContaining('session ended'),
    });
    // bob, who never handled it, still may not read it; alice still may
    expect((await ok(transcript(o.alice, c.id))).items.map((m) => m.from)).toEqual(['customer', 'agent']);
  });

  it('MS-2: a reply outside Active is 409 naming the status', async () => {
    const o = await org();
    const c = await customerWrites(o, 'chat', 'hi');
    await ok(o.alice.post(`/v1/conversations/${c.id}/actions/accept`));
    await ok(o.alice.post(`/v1/conversations/${c.id}/actions/end`));
    expectProblem(await reply(o.alice, c.id, { text: 'bye' }), 409, { currentStatus: 'WrapUp' });
    await ok(o.alice.post(`/v1/conversations/${c.id}/actions/close`));
    expectProblem(await reply(o.alice, c.id, { text: 'bye' }), 409, { currentStatus: 'Closed' });
  });

  it('RL-4: bad reply bodies are 400 and write nothing', async () => {
    const o = await org();
    const c = await customerWrites(o, 'chat', 'hi');
    await ok(o.alice.post(`/v1/conversations/${c.id}/actions/accept`));
    const bad: unknown[] = [
      {},
      { text: '' },
      { text: '   \n\t' },
      { text: 'x'.repeat(4001) },
      { text: 42 },
      { text: ['a'] },
      { text: 'ok', extra: true },
    ];
    for (const body of bad) expectProblem(await reply(o.alice, c.id, body), 400);
    // a lone surrogate, sent as a JSON escape
    const raw = await fetch(`${rt.url}/v1/conversations/${c.id}/messages`, {
      method: 'POST',
      headers: {
        authorization: `Bearer ${await token(o.org, 'alice', ['agent'])}`,
        'content-type': 'application/json',
      },
      body: '{"text":"bad \\ud800 text"}',
    });
    expect(raw.status).toBe(400);
    expect(await ok(reply(o.alice, c.id, { text: 'x'.repeat(4000) }), 201)).toMatchObject({ seq: 2 });
    expect((await ok(transcript(o.admin, c.id))).items).toHaveLength(2);
    expectProblem(await transcript(o.admin, c.id, '?cursor=bm9wZQ'), 400);
    expectProblem(await transcript(o.admin, c.id, '?limit=0'), 400);
  });

  it('RL-4: a webhook message with empty or blank text is 400 and starts nothing', async () => {
    const o = await org();
    for (const text of ['', '  ']) {
      const r = await api.webhook(
        o.channel.sms,
        { eventId: `bad-${++n}`, type: 'message.received', threadId: `bad-${n}`, message: { text } },
        o.secret,
      );
      expectProblem(r, 400);
    }
  });
});
