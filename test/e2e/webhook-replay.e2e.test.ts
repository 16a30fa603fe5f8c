import { GetQueueAttributesCommand } from '@aws-sdk/client-sqs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LocalRuntime } from '../../bin/local/runtime.js';
import { signBody, signTimestamped } from '../../functions/use-cases/ingest-webhook.use-case.js';
import { Api, setupOrg, startRuntime, type DemoOrg, type HttpResult } from '../support/e2e.js';

/**
 * Finding 5 (RL-9): a body-only signature can be replayed forever, and on any channel sharing the
 * secret. A `timestamped` channel signs "<timestamp>.<channelId>.<raw body>" and refuses timestamps
 * more than 300 s from the engine's clock (the local runtime's virtual clock here).
 */

interface Conv {
  id: string;
  status: string;
}

let rt: LocalRuntime;
let api: Api;
let o: DemoOrg;
/** two timestamped chat channels of o with the same secret */
let a: string;
let b: string;
let seq = 0;

beforeAll(async () => {
  rt = await startRuntime();
  api = new Api(rt.url);
  o = await setupOrg(api);
  a = `${o.org}-ts-a`;
  b = `${o.org}-ts-b`;
  for (const id of [a, b]) {
    const r = await o.admin.put(`/v1/admin/channels/${id}`, {
      kind: 'chat',
      workstreamId: 'ws-chat',
      secret: o.secret,
      signature: 'timestamped',
    });
    expect(r.status, JSON.stringify(r.body)).toBe(200);
  }
});
afterAll(() => rt?.stop());

/** the engine's clock in unix seconds, shifted by `offset` */
const engineSeconds = (offset = 0): string => String(Math.floor(rt.clock.now().getTime() / 1000) + offset);

const started = () => {
  seq += 1;
  return { eventId: `ev-${seq}`, type: 'conversation.started', threadId: `th-${seq}` };
};

const post = (channelId: string, raw: string, headers: Record<string, string>): Promise<HttpResult> =>
  api.call('POST', `/v1/webhooks/${channelId}`, raw, headers);

async function queueDepth(): Promise<number> {
  const out = await rt.sqs.send(
    new GetQueueAttributesCommand({
      QueueUrl: rt.queues.ingest.url,
      AttributeNames: ['ApproximateNumberOfMessages', 'ApproximateNumberOfMessagesNotVisible'],
    }),
  );
  return (
    Number(out.Attributes?.ApproximateNumberOfMessages ?? 0) +
    Number(out.Attributes?.ApproximateNumberOfMessagesNotVisible ?? 0)
  );
}

const threadConversations = async (channelId: string, threadId: string): Promise<Conv[]> => {
  const r = await o.admin.get<{ items: Conv[] }>(`/v1/conversations?${new URLSearchParams({ channelId, threadId })}`);
  expect(r.status).toBe(200);
  return r.body.items;
};

function expect401(r: HttpResult, what: string): void {
  expect(r.status, `${what}: ${JSON.stringify(r.body)}`).toBe(401);
  expect(r.contentType, what).toMatch(/^application\/problem\+json/);
  expect(r.body, what).toMatchObject({ status: 401, type: 'urn:problem:unauthorized', detail: expect.any(String) });
}

/** The refused requests' threads got nothing, and nothing is left on the ingestion queue. */
async function expectNothingWritten(threads: readonly { channelId: string; threadId: string }[]): Promise<void> {
  expect(await queueDepth()).toBe(0);
  await rt.drain();
  for (const t of threads) expect(await threadConversations(t.channelId, t.threadId), t.threadId).toEqual([]);
}

describe('finding 5 / RL-9: replay-proof (timestamped) webhook signatures', () => {
  it('finding 5: the channel keeps its signature scheme: PUT and GET show it, `body` by default', async () => {
    // Act
    const ts = await o.admin.get(`/v1/admin/channels/${a}`);
    const body = await o.admin.get(`/v1/admin/channels/${o.channel.chat}`);
    const explicit = await o.admin.put(`/v1/admin/channels/${o.org}-explicit`, {
      kind: 'sms',
      workstreamId: 'ws-sms',
      secret: o.secret,
      signature: 'body',
    });
    const bad = await o.admin.put(`/v1/admin/channels/${o.org}-bad`, {
      kind: 'sms',
      workstreamId: 'ws-sms',
      secret: o.secret,
      signature: 'none',
    });

    // Assess
    expect(ts.body).toEqual({ org: o.org, id: a, kind: 'chat', workstreamId: 'ws-chat', signature: 'timestamped' });
    expect(body.body).toMatchObject({ id: o.channel.chat, signature: 'body' });
    expect(explicit.body).toMatchObject({ signature: 'body' });
    expect(body.body).not.toHaveProperty('secret');
    expect(bad.status).toBe(400);
    expect((bad.body.errors as { field: string }[]).map((e) => e.field)).toEqual(['signature']);
    expect((await o.admin.get(`/v1/admin/channels/${o.org}-bad`)).status).toBe(404);
  });

  it('finding 5: a valid timestamped signature is accepted (202) and the event is applied', async () => {
    // Prepare
    const event = started();

    // Act
    const r = await api.webhookTimestamped(a, event, o.secret, engineSeconds());
    await rt.drain();

    // Assess
    expect(r.status, JSON.stringify(r.body)).toBe(202);
    expect((await threadConversations(a, event.threadId)).map((c) => c.status)).toEqual(['Open']);
  });

  it('finding 5: a timestamp up to 300 s off either way is accepted (clock skew)', async () => {
    // Prepare
    const early = started();
    const late = started();

    // Act: a little inside the window, so the test's own latency cannot push it out
    const past = await api.webhookTimestamped(a, early, o.secret, engineSeconds(-290));
    const future = await api.webhookTimestamped(a, late, o.secret, engineSeconds(290));
    await rt.drain();

    // Assess
    expect([past.status, future.status]).toEqual([202, 202]);
    expect(await threadConversations(a, early.threadId)).toHaveLength(1);
    expect(await threadConversations(a, late.threadId)).toHaveLength(1);
  });

  it('finding 5: a stale timestamp (more than 300 s old) is 401 and writes nothing', async () => {
    // Prepare
    const event = started();

    // Act
    const r = await api.webhookTimestamped(a, event, o.secret, engineSeconds(-301));

    // Assess
    expect401(r, 'stale');
    expect(String(r.body.detail)).toMatch(/300 s/);
    await expectNothingWritten([{ channelId: a, threadId: event.threadId }]);
  });

  it('finding 5: a timestamp more than 300 s in the future is 401 and writes nothing', async () => {
    // Prepare
    const event = started();

    // Act
    const r = await api.webhookTimestamped(a, event, o.secret, engineSeconds(301));

    // Assess
    expect401(r, 'future');
    await expectNothingWritten([{ channelId: a, threadId: event.threadId }]);
  });

  it('finding 5: a missing or malformed X-Signature-Timestamp is 401 and writes nothing', async () => {
    // Prepare: every request has a signature that would hold for its timestamp, where one can be read
    const now = engineSeconds();
    const cases: { what: string; headers: (raw: string) => Record<string, string> }[] = [
      // no timestamp at all: signed as a body channel would sign, and as if the timestamp were empty
      { what: 'missing, body signature', headers: (raw) => ({ 'x-signature': signBody(o.secret, raw) }) },
      {
        what: 'missing, empty-timestamp signature',
        headers: (raw) => ({ 'x-signature': signTimestamped(o.secret, '', a, raw) }),
      },
      ...['', 'abc', `${now}.5`, `-${now}`, `+${now}`, `${now}e0`, `0x${Number(now).toString(16)}`, '1'.repeat(13)].map(
        (t) => ({
          what: `malformed ${JSON.stringify(t)}`,
          headers: (raw: string) => ({
            'x-signature-timestamp': t,
            'x-signature': signTimestamped(o.secret, t, a, raw),
          }),
        }),
      ),
      // a timestamp, but the signature covers the body only (a body-channel signature replayed here)
      {
        what: 'timestamp with a body-only signature',
        headers: (raw) => ({ 'x-signature-timestamp': now, 'x-signature': signBody(o.secret, raw) }),
      },
    ];

    // Act
    const sent = [];
    for (const c of cases) {
      const event = started();
      const raw = JSON.stringify(event);
      sent.push({ what: c.what, threadId: event.threadId, r: await post(a, raw, c.headers(raw)) });
    }

    // Assess
    for (const s of sent) expect401(s.r, s.what);
    await expectNothingWritten(sent.map((s) => ({ channelId: a, threadId: s.threadId })));
  });

  it('finding 5: the same signed request replayed to another channel with the same secret is 401', async () => {
    // Prepare: a request genuinely signed for channel a
    const event = started();
    const raw = JSON.stringify(event);
    const timestamp = engineSeconds();
    const headers = { 'x-signature-timestamp': timestamp, 'x-signature': signTimestamped(o.secret, timestamp, a, raw) };

    // Act: captured and sent to b (same org, same secret, same workstream) at once
    const replayed = await post(b, raw, headers);
    const genuine = await post(a, raw, headers);

    // Assess: b refuses it and got nothing; a took it
    expect401(replayed, 'replayed to another channel');
    expect(genuine.status).toBe(202);
    await rt.drain();
    expect(await threadConversations(b, event.threadId)).toEqual([]);
    expect(await threadConversations(a, event.threadId)).toHaveLength(1);
  });

  it('finding 5: `body` channels are unchanged: the body signature is accepted, timestamp headers are ignored', async () => {
    // Prepare
    const plain = started();
    const withTimestamp = started();
    const timestampedSig = started();
    const rawTs = JSON.stringify(timestampedSig);

    // Act
    const r1 = await api.webhook(o.channel.chat, plain, o.secret);
    const raw2 = JSON.stringify(withTimestamp);
    // a stale timestamp header means nothing to a body channel
    const r2 = await post(o.channel.chat, raw2, {
      'x-signature-timestamp': engineSeconds(-10_000),
      'x-signature': signBody(o.secret, raw2),
    });
    // ... and a timestamped signature is not a body signature
    const t = engineSeconds();
    const r3 = await post(o.channel.chat, rawTs, {
      'x-signature-timestamp': t,
      'x-signature': signTimestamped(o.secret, t, o.channel.chat, rawTs),
    });
    await rt.drain();

    // Assess
    expect([r1.status, r2.status]).toEqual([202, 202]);
    expect401(r3, 'timestamped signature on a body channel');
    expect(await threadConversations(o.channel.chat, plain.threadId)).toHaveLength(1);
    expect(await threadConversations(o.channel.chat, withTimestamp.threadId)).toHaveLength(1);
    expect(await threadConversations(o.channel.chat, timestampedSig.threadId)).toEqual([]);
  });

  it('finding 5: the window follows the engine clock: after the virtual clock moves 10 minutes, wall-clock timestamps are stale', async () => {
    // Prepare: move the local virtual clock (what POST /_local/clock does)
    const wall = String(Math.floor(Date.now() / 1000));
    const moved = await api.post('/_local/clock', { advanceSeconds: 600 });
    expect(moved.status).toBe(200);
    const stale = started();
    const fresh = started();

    // Act
    const r1 = await api.webhookTimestamped(a, stale, o.secret, wall);
    const r2 = await api.webhookTimestamped(a, fresh, o.secret, engineSeconds());
    await rt.drain();

    // Assess
    expect401(r1, 'wall clock after the virtual clock moved');
    expect(r2.status).toBe(202);
    expect(await threadConversations(a, stale.threadId)).toEqual([]);
    expect(await threadConversations(a, fresh.threadId)).toHaveLength(1);
  });
});
