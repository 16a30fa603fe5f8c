import { GetQueueAttributesCommand, SendMessageCommand } from '@aws-sdk/client-sqs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LocalRuntime } from '../../bin/local/runtime.js';
import { signBody } from '../../functions/use-cases/ingest-webhook.use-case.js';
import { Api, eventually, setupOrg, startRuntime, type DemoOrg } from '../support/e2e.js';

interface Conv {
  id: string;
  status: string;
  version: number;
}
interface Ev {
  to: string;
  action: string;
}

let rt: LocalRuntime;
let api: Api;
beforeAll(async () => {
  rt = await startRuntime();
  api = new Api(rt.url);
});
afterAll(() => rt?.stop());

const threadConversations = async (o: DemoOrg, channelId: string, threadId: string): Promise<Conv[]> => {
  const r = await o.admin.get<{ items: Conv[] }>(`/v1/conversations?${new URLSearchParams({ channelId, threadId })}`);
  expect(r.status).toBe(200);
  return r.body.items;
};
const eventsOf = async (o: DemoOrg, id: string): Promise<Ev[]> =>
  (await o.admin.get<{ items: Ev[] }>(`/v1/conversations/${id}/events`)).body.items;

/**
 * Puts the event on the ingestion queue as the webhook does, but with a fresh SQS deduplication id:
 * a redelivery that SQS's 5-minute deduplication window does not catch (later retry, another
 * webhook node), so only the engine's own receipt (RL-1) can stop it.
 */
async function redeliverPastSqsDedup(o: DemoOrg, channelId: string, event: Record<string, unknown>): Promise<void> {
  await rt.sqs.send(
    new SendMessageCommand({
      QueueUrl: rt.queues.ingest.url,
      MessageBody: JSON.stringify({ org: o.org, channelId, receivedAt: new Date().toISOString(), event }),
      MessageGroupId: `${channelId}#${String(event.threadId)}`,
      MessageDeduplicationId: `redelivery-${Date.now()}-${Math.random().toString(36).slice(2)}`,
    }),
  );
}

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

describe('RL-1: a webhook event delivered twice takes effect once', () => {
  it('RL-1: the same event (same eventId) sent twice, and again after draining, makes one conversation with one history event', async () => {
    // Prepare
    const o = await setupOrg(api);
    const event = { eventId: 'dup-1', type: 'conversation.started', threadId: 'th-dup' };

    // Act: twice at once, then once more after the queue was drained
    const [a, b] = await Promise.all([
      api.webhook(o.channel.chat, event, o.secret),
      api.webhook(o.channel.chat, event, o.secret),
    ]);
    await rt.drain();
    const afterFirst = await threadConversations(o, o.channel.chat, 'th-dup');
    const c = await api.webhook(o.channel.chat, event, o.secret);
    await rt.drain();

    // Assess: every delivery was accepted, one conversation, one event
    expect([a.status, b.status, c.status]).toEqual([202, 202, 202]);
    const list = await threadConversations(o, o.channel.chat, 'th-dup');
    expect(list).toHaveLength(1);
    expect(list).toEqual(afterFirst);
    expect(list[0]).toMatchObject({ status: 'Open', version: 1 });
    expect(await eventsOf(o, (list[0] as Conv).id)).toHaveLength(1);
    const open = (await o.admin.get<{ items: Conv[] }>('/v1/queues/q1/open-items')).body.items;
    expect(open.map((x) => x.id)).toEqual([(list[0] as Conv).id]);
  });

  it('RL-1: a redelivery past SQS deduplication is stopped by the engine receipt, even after the conversation closed', async () => {
    // Prepare: a chat started by event s-1, then closed by the customer (T-2)
    const o = await setupOrg(api);
    const started = { eventId: 's-1', type: 'conversation.started', threadId: 'th-redo' };
    expect((await api.webhook(o.channel.chat, started, o.secret)).status).toBe(202);
    expect(
      (
        await api.webhook(
          o.channel.chat,
          { eventId: 's-2', type: 'customer.disconnected', threadId: 'th-redo' },
          o.secret,
        )
      ).status,
    ).toBe(202);
    await rt.drain();
    const before = await threadConversations(o, o.channel.chat, 'th-redo');
    expect(before.map((x) => x.status)).toEqual(['Closed']);

    // Act: the start event comes back (a retry after the dedup window); so does the disconnect
    await redeliverPastSqsDedup(o, o.channel.chat, started);
    await redeliverPastSqsDedup(o, o.channel.chat, {
      eventId: 's-2',
      type: 'customer.disconnected',
      threadId: 'th-redo',
    });
    await rt.drain();

    // Assess: the redeliveries were consumed (not failing and retried), no second conversation, history unchanged
    expect(await queueDepth()).toBe(0);
    expect(await threadConversations(o, o.channel.chat, 'th-redo')).toEqual(before);
    expect((await eventsOf(o, (before[0] as Conv).id)).map((e) => e.to)).toEqual(['Open', 'Closed']);
    expect((await o.admin.get<{ items: Conv[] }>('/v1/queues/q1/open-items')).body.items).toEqual([]);
  });

  it('RL-1: a duplicated customer message on a Waiting conversation reopens it once (T-10 applied once)', async () => {
    // Prepare: an sms conversation parked in Waiting by alice (T-5)
    const o = await setupOrg(api);
    const alice = await o.agent('alice');
    expect(
      (
        await api.webhook(
          o.channel.sms,
          { eventId: 'm-1', type: 'message.received', threadId: 'th-sms', message: { text: 'hi' } },
          o.secret,
        )
      ).status,
    ).toBe(202);
    const c = await eventually(async () => (await threadConversations(o, o.channel.sms, 'th-sms'))[0]);
    await alice.post(`/v1/conversations/${c.id}/actions/accept`);
    expect((await alice.post(`/v1/conversations/${c.id}/actions/close`)).body).toMatchObject({ status: 'Waiting' });
    const again = { eventId: 'm-2', type: 'message.received', threadId: 'th-sms', message: { text: 'still there?' } };

    // Act: the message arrives twice through the webhook, and once more past SQS deduplication
    await Promise.all([api.webhook(o.channel.sms, again, o.secret), api.webhook(o.channel.sms, again, o.secret)]);
    await rt.drain();
    await redeliverPastSqsDedup(o, o.channel.sms, again);
    await rt.drain();

    // Assess: consumed, one conversation, Open, and exactly one T-10 event
    expect(await queueDepth()).toBe(0);
    const list = await threadConversations(o, o.channel.sms, 'th-sms');
    expect(list.map((x) => [x.id, x.status])).toEqual([[c.id, 'Open']]);
    expect((await eventsOf(o, c.id)).map((e) => e.to)).toEqual(['Open', 'Active', 'Waiting', 'Open']);
  });
});

describe('RL-5: a webhook with a missing or wrong signature gets 401 and writes nothing', () => {
  it('RL-5: bad, missing and wrong-secret signatures are 401; no conversation appears for the thread, nothing is queued', async () => {
    // Prepare
    const o = await setupOrg(api);
    await rt.drain();
    const event = {
      eventId: 'forged-1',
      type: 'conversation.started',
      threadId: 'th-forged',
      context: { topic: 'billing' },
    };
    const raw = JSON.stringify(event);
    const tampered = JSON.stringify({ ...event, threadId: 'th-forged-2' });

    // Act
    const results = [
      await api.call('POST', `/v1/webhooks/${o.channel.chat}`, raw, {}),
      await api.call('POST', `/v1/webhooks/${o.channel.chat}`, raw, { 'x-signature': '' }),
      await api.call('POST', `/v1/webhooks/${o.channel.chat}`, raw, { 'x-signature': `sha256=${'0'.repeat(64)}` }),
      await api.call('POST', `/v1/webhooks/${o.channel.chat}`, raw, {
        'x-signature': signBody('wrong-secret-0123456789', raw),
      }),
      // a signature of another body (the body was changed in transit)
      await api.call('POST', `/v1/webhooks/${o.channel.chat}`, tampered, { 'x-signature': signBody(o.secret, raw) }),
      // the hex without its scheme, and a truncated digest
      await api.call('POST', `/v1/webhooks/${o.channel.chat}`, raw, {
        'x-signature': signBody(o.secret, raw).slice('sha256='.length),
      }),
      await api.call('POST', `/v1/webhooks/${o.channel.chat}`, raw, {
        'x-signature': signBody(o.secret, raw).slice(0, -2),
      }),
    ];

    // Assess: all 401 problem+json, nothing queued, nothing written
    for (const r of results) {
      expect(r.status).toBe(401);
      expect(r.contentType).toMatch(/^application\/problem\+json/);
      expect(r.body).toMatchObject({
        status: 401,
        title: expect.any(String),
        type: expect.any(String),
        detail: expect.any(String),
      });
    }
    expect(await queueDepth()).toBe(0);
    await rt.drain();
    expect(await threadConversations(o, o.channel.chat, 'th-forged')).toEqual([]);
    expect(await threadConversations(o, o.channel.chat, 'th-forged-2')).toEqual([]);
    for (const q of ['q1', 'q2'])
      expect((await o.admin.get<{ items: Conv[] }>(`/v1/queues/${q}/open-items`)).body.items).toEqual([]);
    expect((await o.admin.get<{ items: Conv[] }>('/v1/conversations')).body.items).toEqual([]);

    // ... and the forged event's id was not consumed: the genuine event is applied normally (RL-1 not fooled)
    expect(
      (await api.call('POST', `/v1/webhooks/${o.channel.chat}`, raw, { 'x-signature': signBody(o.secret, raw) }))
        .status,
    ).toBe(202);
    await rt.drain();
    expect((await threadConversations(o, o.channel.chat, 'th-forged')).map((x) => x.status)).toEqual(['Open']);
  });

  it('RL-5 / RL-4: a correctly signed but invalid body is 400 and queues nothing', async () => {
    // Prepare
    const o = await setupOrg(api);
    await rt.drain();

    // Act
    const malformed = await api.call('POST', `/v1/webhooks/${o.channel.chat}`, '{"eventId":', {
      'x-signature': signBody(o.secret, '{"eventId":'),
    });
    const invalid = await api.webhook(
      o.channel.chat,
      { eventId: 'bad id with spaces', type: 'conversation.exploded', threadId: '' },
      o.secret,
    );

    // Assess
    expect([malformed.status, invalid.status]).toEqual([400, 400]);
    expect(invalid.contentType).toMatch(/^application\/problem\+json/);
    expect((invalid.body.errors as { field: string }[]).map((e) => e.field).sort()).toEqual([
      'eventId',
      'threadId',
      'type',
    ]);
    expect(await queueDepth()).toBe(0);
    await rt.drain();
    expect((await o.admin.get<{ items: Conv[] }>('/v1/conversations')).body.items).toEqual([]);
  });
});
