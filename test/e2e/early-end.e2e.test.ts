import { GetCommand } from '@aws-sdk/lib-dynamodb';
import { GetQueueAttributesCommand, SendMessageCommand } from '@aws-sdk/client-sqs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LocalRuntime } from '../../bin/local/runtime.js';
import { createDocumentClient } from '../../functions/adapters/dynamodb/client.js';
import { keys } from '../../functions/adapters/dynamodb/keys.js';
import { Api, eventually, setupOrg, startRuntime, type DemoOrg } from '../support/e2e.js';

/**
 * Finding 8, out-of-order channel events (T-2): a customer's end that the channel posts before the
 * thread's start. Everything goes through the webhook of the local runtime, the ingestion queue, the
 * consumer and the stream's follow-ups, as in AWS.
 */

interface Conv {
  id: string;
  status: string;
  state: string;
  statusReason?: string;
  queueId: string;
  primaryAgentId?: string;
  version: number;
}
interface Ev {
  seq: number;
  actor: string;
  role: string;
  action: string;
  from: string | null;
  to: string;
  reason?: string;
  details?: Record<string, unknown>;
}

let rt: LocalRuntime;
let api: Api;
beforeAll(async () => {
  // no ticker: the virtual clock (and the outbox) moves only when a test says so
  rt = await startRuntime({ tickMs: 3_600_000 });
  api = new Api(rt.url);
});
afterAll(() => rt?.stop());

let seq = 0;
/** Posts a signed channel event on the org's chat channel; the webhook takes it (202). */
async function post(o: DemoOrg, event: Record<string, unknown>): Promise<void> {
  const r = await api.webhook(o.channel.chat, { eventId: `ev-${++seq}`, ...event }, o.secret);
  expect(r.status).toBe(202);
}

/** An instant `seconds` from the runtime's (virtual) now, as a channel would stamp `occurredAt`. */
const at = (seconds: number): string => new Date(rt.clock.now().getTime() + seconds * 1000).toISOString();

const threadConversations = async (o: DemoOrg, threadId: string): Promise<Conv[]> => {
  const r = await o.admin.get<{ items: Conv[] }>(
    `/v1/conversations?${new URLSearchParams({ channelId: o.channel.chat, threadId })}`,
  );
  expect(r.status).toBe(200);
  return r.body.items;
};
const eventsOf = async (o: DemoOrg, id: string): Promise<Ev[]> =>
  (await o.admin.get<{ items: Ev[] }>(`/v1/conversations/${id}/events`)).body.items;
const used = async (as: Api): Promise<number | undefined> =>
  (await as.get<{ capacity: Record<string, { used: number }> }>('/v1/agents/me')).body.capacity.default?.used;
const openItems = async (o: DemoOrg): Promise<string[]> =>
  (await o.admin.get<{ items: Conv[] }>('/v1/queues/q1/open-items')).body.items.map((c) => c.id);

/** The chat workstream pushes its conversations, so an Open one would be offered at once. */
async function pushChat(o: DemoOrg): Promise<void> {
  const ws = (await o.admin.get<Record<string, unknown>>('/v1/admin/workstreams/ws-chat')).body;
  const { org: _org, id: _id, ...body } = ws;
  expect((await o.admin.put('/v1/admin/workstreams/ws-chat', { ...body, distribution: 'push' })).status).toBe(200);
}

/** Puts the event on the ingestion queue with a fresh deduplication id: a redelivery SQS does not catch. */
async function redeliverPastSqsDedup(o: DemoOrg, event: Record<string, unknown>): Promise<void> {
  await rt.sqs.send(
    new SendMessageCommand({
      QueueUrl: rt.queues.ingest.url,
      MessageBody: JSON.stringify({ org: o.org, channelId: o.channel.chat, receivedAt: at(0), event }),
      MessageGroupId: `${o.channel.chat}#${String(event.threadId)}`,
      MessageDeduplicationId: `redelivery-${++seq}`,
    }),
  );
}

async function queueDepth(url: string): Promise<number> {
  const out = await rt.sqs.send(
    new GetQueueAttributesCommand({
      QueueUrl: url,
      AttributeNames: ['ApproximateNumberOfMessages', 'ApproximateNumberOfMessagesNotVisible'],
    }),
  );
  return (
    Number(out.Attributes?.ApproximateNumberOfMessages ?? 0) +
    Number(out.Attributes?.ApproximateNumberOfMessagesNotVisible ?? 0)
  );
}

/** The thread's early-end item as stored (it has no API of its own). */
async function storedEarlyEnd(o: DemoOrg, threadId: string): Promise<Record<string, unknown> | undefined> {
  const doc = createDocumentClient({ endpoint: rt.dynamoEndpoint });
  try {
    const r = await doc.send(
      new GetCommand({
        TableName: rt.config.dynamodb.tableName,
        Key: keys.earlyEnd(o.org, o.channel.chat, threadId),
        ConsistentRead: true,
      }),
    );
    return r.Item;
  } finally {
    doc.destroy();
  }
}

describe('finding 8: a customer end that arrives before its conversation.started (T-2)', () => {
  it('finding 8: T-2: customer.ended posted before its conversation.started: the conversation is created Closed (customer-left-before-start), offered to nobody, no capacity taken', async () => {
    // Prepare: a push chat workstream and alice signed in with room, so an Open chat would be offered to her
    const o = await setupOrg(api);
    await pushChat(o);
    const alice = await o.agent('alice');
    expect((await alice.post('/v1/agents/me/sign-in')).status).toBe(200);
    await rt.settle();

    // Act: the channel posts the end (the customer left 30 s after starting) first, then the start
    const [startedAt, leftAt] = [at(0), at(30)];
    await post(o, { type: 'customer.ended', threadId: 'th-early', occurredAt: leftAt });
    await rt.drain();
    await post(o, { type: 'conversation.started', threadId: 'th-early', occurredAt: startedAt });
    await rt.drain();

    // Assess: one conversation, Closed at creation with T-2's reason, never offered
    const list = await threadConversations(o, 'th-early');
    expect(list).toHaveLength(1);
    const id = (list[0] as Conv).id;
    const read = await o.admin.get<Conv>(`/v1/conversations/${id}`);
    expect(read.status).toBe(200);
    expect(read.body).toMatchObject({
      status: 'Closed',
      state: 'closed',
      statusReason: 'customer-left-before-start',
      queueId: 'q1',
      version: 1,
    });
    expect(read.body.primaryAgentId).toBeUndefined();
    const events = await eventsOf(o, id);
    expect(events).toHaveLength(1);
    expect(events[0]).toMatchObject({
      seq: 1,
      role: 'customer',
      action: 'created',
      from: null,
      to: 'Closed',
      reason: 'T-2: customer-left-before-start',
      details: {
        queueId: 'q1',
        routing: 'R-1: default queue',
        customerAction: 'customer-ended',
        customerLeftAt: leftAt,
      },
    });
    expect(await used(alice)).toBe(0);
    expect(await openItems(o)).toEqual([]);
    // no dispatch was armed: past the 30 s safety net nothing fires for it, and it stays as created
    const fired = (await rt.advance(31)).fired.filter((f) => f.conversationId === id);
    expect(fired).toEqual([]);
    await rt.settle();
    expect((await o.admin.get<Conv>(`/v1/conversations/${id}`)).body).toMatchObject({ status: 'Closed', version: 1 });
    expect(await used(alice)).toBe(0);
  });

  it('finding 8: T-2: an end without occurredAt counts at its receipt time; a disconnect posted first closes a start stamped before it', async () => {
    // Prepare
    const o = await setupOrg(api);
    const startedAt = at(-2);

    // Act: the disconnect (no occurredAt: received now), then a start the channel stamped 2 s earlier
    await post(o, { type: 'customer.disconnected', threadId: 'th-receipt' });
    await rt.drain();
    await post(o, { type: 'conversation.started', threadId: 'th-receipt', occurredAt: startedAt });
    await rt.drain();

    // Assess
    const list = await threadConversations(o, 'th-receipt');
    expect(list.map((c) => [c.status, c.statusReason])).toEqual([['Closed', 'customer-left-before-start']]);
    expect((await eventsOf(o, (list[0] as Conv).id))[0]).toMatchObject({
      to: 'Closed',
      details: { customerAction: 'customer-disconnected' },
    });
    expect(await openItems(o)).toEqual([]);
  });

  it('finding 8: R-1: a start stamped after the kept end, or received after it without occurredAt, is a new contact: a normal Open conversation', async () => {
    // Prepare
    const o = await setupOrg(api);

    // Act: thread A: the end at +0 s, then a start at +1 s; thread B: neither carries occurredAt
    await post(o, { type: 'customer.ended', threadId: 'th-later', occurredAt: at(0) });
    await post(o, { type: 'customer.ended', threadId: 'th-plain' });
    await rt.drain();
    await post(o, { type: 'conversation.started', threadId: 'th-later', occurredAt: at(1) });
    await rt.advance(1); // the start is received a second after the end
    await post(o, { type: 'conversation.started', threadId: 'th-plain' });
    await rt.drain();

    // Assess: both Open in q1 as usual, waiting to be picked
    for (const threadId of ['th-later', 'th-plain']) {
      const list = await threadConversations(o, threadId);
      expect(list.map((c) => [c.status, c.statusReason, c.version])).toEqual([['Open', 'R-1: default queue', 1]]);
      expect((await eventsOf(o, (list[0] as Conv).id)).map((e) => [e.from, e.to])).toEqual([[null, 'Open']]);
      expect(await openItems(o)).toContain((list[0] as Conv).id);
    }
  });

  it("finding 8: R-1: a start after the end's 5-minute window is Open, even stamped before the end (the expiry is checked on read: TTL deletion lags)", async () => {
    // Prepare: an end kept for the thread
    const o = await setupOrg(api);
    const startedAt = at(0);
    await post(o, { type: 'customer.ended', threadId: 'th-window', occurredAt: at(10) });
    await rt.drain();
    expect(await storedEarlyEnd(o, 'th-window')).toBeDefined();

    // Act: the start arrives 5 min 1 s later (the item is still in the table: nothing deleted it yet)
    await rt.advance(301);
    await post(o, { type: 'conversation.started', threadId: 'th-window', occurredAt: startedAt });
    await rt.drain();

    // Assess
    expect(await storedEarlyEnd(o, 'th-window')).toBeDefined();
    const list = await threadConversations(o, 'th-window');
    expect(list.map((c) => [c.status, c.statusReason])).toEqual([['Open', 'R-1: default queue']]);
  });

  it('finding 8: RL-1: redelivered ends and starts take effect once: one early end stored, one Closed conversation, later events of that contact ignored', async () => {
    // Prepare
    const o = await setupOrg(api);
    const end = { eventId: 'end-1', type: 'customer.ended', threadId: 'th-redo', occurredAt: at(30) };
    const start = { eventId: 'start-1', type: 'conversation.started', threadId: 'th-redo', occurredAt: at(0) };
    const messageAt = at(10);

    // Act 1: the end twice at once through the webhook, then again past SQS deduplication
    await Promise.all([api.webhook(o.channel.chat, end, o.secret), api.webhook(o.channel.chat, end, o.secret)]);
    await rt.drain();
    const kept = await storedEarlyEnd(o, 'th-redo');
    await rt.advance(2);
    await redeliverPastSqsDedup(o, end);
    await rt.drain();

    // Assess 1: stored once, by its first delivery (a second store would have moved its expiry)
    expect(kept).toMatchObject({ type: 'early-end', endedAt: end.occurredAt, action: 'customer-ended' });
    expect(kept?.expiresAt).toEqual(expect.any(Number));
    expect(await storedEarlyEnd(o, 'th-redo')).toEqual(kept);

    // Act 2: the start, its redelivery past SQS deduplication, the end once more, then a message of the same contact
    expect((await api.webhook(o.channel.chat, start, o.secret)).status).toBe(202);
    await rt.drain();
    await redeliverPastSqsDedup(o, start);
    await redeliverPastSqsDedup(o, end);
    await rt.drain();
    await post(o, { type: 'message.received', threadId: 'th-redo', occurredAt: messageAt, message: { text: 'hi' } });
    await rt.drain();

    // Assess 2: everything consumed, one Closed conversation with its one event; the end records it
    expect(await queueDepth(rt.queues.ingest.url)).toBe(0);
    expect(await queueDepth(rt.queues.ingestDlq.url)).toBe(0);
    const list = await threadConversations(o, 'th-redo');
    expect(list.map((c) => [c.status, c.statusReason, c.version])).toEqual([
      ['Closed', 'customer-left-before-start', 1],
    ]);
    const id = (list[0] as Conv).id;
    expect((await eventsOf(o, id)).map((e) => [e.from, e.to, e.reason])).toEqual([
      [null, 'Closed', 'T-2: customer-left-before-start'],
    ]);
    expect(await storedEarlyEnd(o, 'th-redo')).toEqual({ ...kept, conversationId: id });
    expect(await openItems(o)).toEqual([]);
    // ... and a start stamped after the end is a new contact again
    await post(o, { type: 'conversation.started', threadId: 'th-redo', occurredAt: at(31) });
    const fresh = await eventually(async () => (await threadConversations(o, 'th-redo')).find((c) => c.id !== id));
    expect(fresh).toMatchObject({ status: 'Open', version: 1 });
  });
});
