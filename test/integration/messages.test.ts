import type { APIGatewayProxyEventV2 } from 'aws-lambda';
import { ulid } from 'ulid';
import { describe, expect, it } from 'vitest';
import { lambdaContext } from '../../bin/local/http-server.js';
import { createDocumentClient } from '../../functions/adapters/dynamodb/client.js';
import { messageEntity, messageLogEntity } from '../../functions/adapters/dynamodb/entities.js';
import { createDynamoRepositories } from '../../functions/adapters/dynamodb/repositories/index.js';
import type { Message, OutboundMessage } from '../../functions/domain/messages.js';
import type { Conversation } from '../../functions/domain/model.js';
import { runFollowUps } from '../../functions/follow-ups/run-follow-ups.js';
import { createHandler } from '../../functions/handlers/http/conversations.handler.js';
import type { Notifier, Outbound } from '../../functions/ports/notifier.js';
import type { Caller } from '../../functions/use-cases/caller.js';
import { performAction } from '../../functions/use-cases/conversation-action.use-case.js';
import {
  handleCustomerEvent,
  type CustomerEvent,
  type CustomerEventOutcome,
} from '../../functions/use-cases/customer-event.use-case.js';
import { readTranscript, sendReply } from '../../functions/use-cases/messages.use-case.js';
import { fireTimer } from '../../functions/use-cases/timers.use-case.js';
import { timerName } from '../../functions/domain/timers.js';
import { TEST_TABLE, dynamoEndpoint } from '../support/dynamo.js';
import { makeFixture, orgOutbox, type Fixture } from '../support/fixture.js';

/**
 * Messages on DynamoDB Local through the use cases and the conversations HTTP handler (MS-1, MS-2,
 * RL-1): a 10,000-message transcript paged at constant cost, replies and customer messages racing for
 * their `seq`, `message.sent` published once per reply id through follow-up crashes and redelivered
 * stream records, and a redelivered `message.received` stored once.
 */

const FAR = new Date('2999-01-01T00:00:00.000Z');
const sue = (org: string): Caller => ({ org, id: 'sue', roles: ['supervisor'] });
const agentCaller = (org: string, id: string): Caller => ({ org, id, roles: ['agent'] });

/** A chat conversation accepted by `agentId` (Active, accepted). */
async function activeChat(f: Fixture, agentId = 'alice'): Promise<Conversation> {
  await f.addAgent(agentId);
  const c = await f.start('chat');
  const r = await performAction(f.deps, {
    org: f.org,
    conversationId: c.id,
    actor: { role: 'agent', id: agentId },
    action: { type: 'accept' },
  });
  expect(r.conversation).toMatchObject({ status: 'Active', primaryAgentId: agentId, accepted: true });
  return r.conversation;
}

const customerMessage = (c: Conversation, text: string, eventId = ulid()): CustomerEvent => ({
  eventId,
  type: 'message.received',
  threadId: c.threadId,
  message: { text },
});

/** The whole transcript, oldest first, as a supervisor reads it (pages of 100). */
async function transcriptOf(f: Fixture, conversationId: string): Promise<Message[]> {
  const out: Message[] = [];
  let cursor: string | undefined;
  do {
    const page = await readTranscript(f.deps, sue(f.org), conversationId, {
      limit: 100,
      ...(cursor ? { cursor } : {}),
    });
    out.push(...page.items);
    cursor = page.nextCursor;
  } while (cursor);
  return out;
}

/** The `message.sent` bodies waiting in the org's outbox, by message id. */
async function outboxMessages(f: Fixture): Promise<Map<string, OutboundMessage>> {
  const due = await orgOutbox(f).listDueTimers(FAR, 10_000);
  return new Map(due.flatMap((t) => (t.kind === 'notify' && t.outbound ? [[t.outbound.id, t.outbound]] : [])));
}

const seqs = (n: number): number[] => Array.from({ length: n }, (_, i) => i + 1);

// ---------------------------------------------------------------------------------------------------

describe('MS-1: a 10,000-message transcript over GET /v1/conversations/{id}/messages', () => {
  it('MS-1: 10,000 messages page out once each, in seq order, 100 pages of 100, every page the same DynamoDB requests at the start as near the end', async () => {
    // Prepare: a conversation, and 10,000 messages (customer, agent, system in turn) with their log, written directly
    const f = await makeFixture({ settle: 'manual' });
    const c = await f.start('chat');
    const total = 10_000;
    const base = Date.parse('2026-03-02T09:00:00.000Z');
    const fromOf = (seq: number): Message['from'] =>
      (['customer', 'agent', 'system'] as const)[seq % 3] as Message['from'];
    const messages: Message[] = seqs(total).map((seq) => ({
      org: f.org,
      conversationId: c.id,
      id: `${c.id}-m${seq}`,
      seq,
      at: new Date(base + seq * 1000).toISOString(),
      from: fromOf(seq),
      ...(fromOf(seq) === 'agent' ? { agentId: 'alice' } : {}),
      text: `message ${seq}`,
      ...(fromOf(seq) === 'system' ? { automated: true as const } : {}),
    }));
    const lastReply = messages.filter((m) => m.from === 'agent').at(-1)?.seq ?? 0;
    const puts = [
      ...messages.map((m) => ({ PutRequest: { Item: messageEntity.item(m) } })),
      { PutRequest: { Item: messageLogEntity.item(f.org, c.id, { seq: total, replySeq: lastReply, customerSeq: 0 }) } },
    ];
    const table = f.store.repositories.table;
    const chunk = 500;
    await Promise.all(
      Array.from({ length: Math.ceil(puts.length / chunk) }, (_, i) =>
        table.batchWrite(puts.slice(i * chunk, (i + 1) * chunk)),
      ),
    );
    expect((await f.store.repositories.messages.readWithLog(f.org, c.id)).log).toEqual({
      seq: total,
      replySeq: lastReply,
      customerSeq: 0,
    });

    // the conversations Lambda handler on its own client, counting every DynamoDB request (and what each Query read)
    const doc = createDocumentClient({ endpoint: dynamoEndpoint() });
    let sent: { command: string; scanned?: number }[] = [];
    doc.middlewareStack.add(
      (next, context) => async (args) => {
        // in the order sent (the reads of a page go out together and may answer in any order)
        const request: { command: string; scanned?: number } = { command: String(context.commandName) };
        sent.push(request);
        const out = await next(args);
        if (request.command === 'QueryCommand')
          request.scanned = (out.output as { ScannedCount?: number }).ScannedCount ?? -1;
        return out;
      },
      { step: 'initialize', name: 'countRequests' },
    );
    const handler = createHandler(
      {
        observability: {
          serviceName: 'test',
          metricsNamespace: 'Test',
          metrics: false,
          tracing: false,
          logLevel: 'CRITICAL',
        },
        dynamodb: { region: 'us-east-1', tableName: TEST_TABLE, endpoint: dynamoEndpoint() },
      },
      { repositories: createDynamoRepositories(doc, TEST_TABLE), clock: f.clock },
    );
    const getPage = async (cursor?: string) => {
      const out = await handler(
        {
          version: '2.0',
          routeKey: 'GET /v1/conversations/{id}/messages',
          rawPath: `/v1/conversations/${c.id}/messages`,
          headers: {},
          pathParameters: { id: c.id },
          queryStringParameters: { limit: '100', ...(cursor ? { cursor } : {}) },
          isBase64Encoded: false,
          requestContext: {
            authorizer: { jwt: { claims: { sub: 'sue', org: f.org, roles: ['supervisor'] } } },
          },
        } as unknown as APIGatewayProxyEventV2,
        lambdaContext('conversations'),
      );
      expect(out.statusCode, String(out.body)).toBe(200);
      return JSON.parse(String(out.body)) as { items: Message[]; nextCursor?: string };
    };

    // Act: page through the whole transcript
    const pages: { items: Message[]; requests: typeof sent }[] = [];
    let cursor: string | undefined;
    do {
      sent = [];
      const page = await getPage(cursor);
      pages.push({ items: page.items, requests: sent });
      cursor = page.nextCursor;
      expect(pages.length, 'the pagination ends').toBeLessThanOrEqual(102);
    } while (cursor);

    // Assess: every message once, in order, exactly as stored
    const read = pages.flatMap((p) => p.items);
    expect(read.map((m) => m.seq)).toEqual(seqs(total));
    expect(new Set(read.map((m) => m.id)).size).toBe(total);
    expect(read[0]).toEqual({
      id: `${c.id}-m1`,
      seq: 1,
      at: messages[0]?.at,
      from: 'agent',
      agentId: 'alice',
      text: 'message 1',
    });
    expect(read[1]).toEqual({
      id: `${c.id}-m2`,
      seq: 2,
      at: messages[1]?.at,
      from: 'system',
      text: 'message 2',
      automated: true,
    });
    expect(read[9_999]).toEqual({
      id: `${c.id}-m10000`,
      seq: 10_000,
      at: messages[9_999]?.at,
      from: 'agent',
      agentId: 'alice',
      text: 'message 10000',
    });
    // 100 pages of 100 (API.md: the page after the last may come back empty, with no cursor)
    const full = pages.filter((p) => p.items.length > 0);
    expect(full).toHaveLength(100);
    expect(full.map((p) => p.items.length)).toEqual(Array.from({ length: 100 }, () => 100));
    expect(pages.length - full.length).toBeLessThanOrEqual(1);
    expect(pages.slice(full.length).every((p) => p.items.length === 0)).toBe(true);
    // constant work: page 1 and page 99 (and every other) cost the same requests, each Query reads its 100 items only
    const first = pages[0] as (typeof pages)[number];
    const late = pages[98] as (typeof pages)[number];
    expect(late.items).toHaveLength(first.items.length);
    expect(late.requests).toEqual(first.requests);
    expect(first.requests.filter((r) => r.command === 'QueryCommand')).toEqual([
      { command: 'QueryCommand', scanned: 100 },
    ]);
    for (const [i, p] of full.entries()) expect(p.requests, `page ${i + 1}`).toEqual(first.requests);
    expect(first.requests.length).toBeLessThanOrEqual(3);
  }, 300_000);
});

describe('MS-2: replies and customer messages racing for their seq', () => {
  it('MS-2 / RL-2: 10 concurrent replies by the primary and 5 concurrent customer messages are all stored, seqs 1..15 without gaps or duplicates, each reply with its outbox item', async () => {
    // Prepare: alice's Active chat
    const f = await makeFixture({ settle: 'manual' });
    const c = await activeChat(f);
    const alice = agentCaller(f.org, 'alice');
    const replyTexts = seqs(10).map((i) => `reply ${i}`);
    const customerTexts = seqs(5).map((i) => `customer ${i}`);

    // Act: all at once
    const [replies, customers] = await Promise.all([
      Promise.allSettled(replyTexts.map((text) => sendReply(f.deps, { caller: alice, conversationId: c.id, text }))),
      Promise.allSettled(
        customerTexts.map((text) => handleCustomerEvent(f.deps, f.org, f.channelId('chat'), customerMessage(c, text))),
      ),
    ]);

    // Assess: every one committed
    const failures = [...replies, ...customers].flatMap((r) => (r.status === 'rejected' ? [String(r.reason)] : []));
    expect(failures, 'RL-2: no sender lost its race for good').toEqual([]);
    const sentReplies = replies.map((r) => (r as PromiseFulfilledResult<Message>).value);
    const outcomes = customers.map((r) => (r as PromiseFulfilledResult<CustomerEventOutcome>).value);
    expect(outcomes.map((o) => o.outcome)).toEqual(customerTexts.map(() => 'stored'));

    // the transcript: 15 messages, seqs 1..15, each text once, as each sender was told
    const transcript = await transcriptOf(f, c.id);
    expect(transcript.map((m) => m.seq)).toEqual(seqs(15));
    expect(new Set(transcript.map((m) => m.id)).size).toBe(15);
    expect(transcript.map((m) => m.text).sort()).toEqual([...replyTexts, ...customerTexts].sort());
    for (const m of sentReplies) {
      expect(
        transcript.find((t) => t.seq === m.seq),
        m.text,
      ).toEqual(m);
      expect(m).toMatchObject({ from: 'agent', agentId: 'alice', id: `${c.id}-m${m.seq}` });
    }
    for (const o of outcomes) {
      const seq = (o as { seq: number }).seq;
      expect(transcript.find((t) => t.seq === seq)?.from).toBe('customer');
    }
    // the log where the transcript ends; the last reply's seq
    const log = (await f.store.repositories.messages.readWithLog(f.org, c.id)).log;
    expect(log).toEqual({
      seq: 15,
      replySeq: Math.max(...sentReplies.map((m) => m.seq)),
      customerSeq: Math.max(...transcript.filter((t) => t.from === 'customer').map((t) => t.seq)),
    });
    // a message never bumps the conversation's version
    expect((await f.conversation(c.id)).version).toBe(c.version);
    // each reply's message.sent waits in the outbox (no notifier here), with its own id and text
    const outbox = await outboxMessages(f);
    expect([...outbox.keys()].sort()).toEqual(sentReplies.map((m) => m.id).sort());
    for (const m of sentReplies)
      expect(outbox.get(m.id)).toEqual({
        id: m.id,
        org: f.org,
        conversationId: c.id,
        channelId: c.channelId,
        threadId: c.threadId,
        type: 'message.sent',
        text: m.text,
        automated: false,
        at: m.at,
      });
  });
});

/** A notifier that records what it publishes, and crashes once for the message ids in `crash`. */
function crashingNotifier(mode: 'before-publish' | 'after-publish'): Notifier & {
  published: Outbound[];
  crash: Set<string>;
  crashed: string[];
} {
  const published: Outbound[] = [];
  const crash = new Set<string>();
  const crashed: string[] = [];
  return {
    published,
    crash,
    crashed,
    async publish(body) {
      const once = crash.delete(body.id);
      if (once && mode === 'before-publish') {
        crashed.push(body.id);
        throw new Error(`injected: the outbound queue refused ${body.id}`);
      }
      published.push(structuredClone(body));
      if (once) {
        crashed.push(body.id);
        // published, then the follow-up dies before the outbox item is deleted
        throw new Error(`injected: crash after publishing ${body.id}`);
      }
    },
  };
}

describe('MS-2: message.sent once per reply id through follow-up crashes', () => {
  for (const mode of ['before-publish', 'after-publish'] as const) {
    it(`MS-2 / RL-1: a follow-up that crashes ${mode} once, then the stream records delivered again: every reply published, one distinct id per reply, duplicates identical`, async () => {
      // Prepare: alice's Active chat; its own follow-ups done
      const notifier = crashingNotifier(mode);
      const f = await makeFixture({ settle: 'manual', notifier });
      const c = await activeChat(f);
      await f.settle();
      const alice = agentCaller(f.org, 'alice');
      const sent: Message[] = [];
      for (const text of ['one', 'two', 'three', 'four'])
        sent.push(await sendReply(f.deps, { caller: alice, conversationId: c.id, text }));
      notifier.crash.add(sent[1]?.id as string);
      notifier.crash.add(sent[3]?.id as string);
      const records = await f.takePending();

      // Act: the batch, the crash, then the same batch again (the stream redelivers it), twice
      const first = await runFollowUps(f.deps, records);
      const second = await runFollowUps(f.deps, records);
      const third = await runFollowUps(f.deps, records);
      await f.settle();

      // Assess: the crashes happened and were reported for redelivery; the redeliveries succeeded
      expect(notifier.crashed.sort()).toEqual([sent[1]?.id, sent[3]?.id].sort());
      expect(first.failed.length).toBeGreaterThanOrEqual(1);
      expect(second.failed).toEqual([]);
      expect(third.failed).toEqual([]);
      // every reply published; exactly one distinct id per reply; every copy of an id the same body
      const byId = new Map<string, Outbound[]>();
      for (const b of notifier.published) byId.set(b.id, [...(byId.get(b.id) ?? []), b]);
      expect([...byId.keys()].sort()).toEqual(sent.map((m) => m.id).sort());
      for (const m of sent) {
        const copies = byId.get(m.id) ?? [];
        expect(copies[0], m.id).toEqual({
          id: m.id,
          org: f.org,
          conversationId: c.id,
          channelId: c.channelId,
          threadId: c.threadId,
          type: 'message.sent',
          text: m.text,
          automated: false,
          at: m.at,
        });
        for (const copy of copies) expect(copy, m.id).toEqual(copies[0]);
      }
      // at least once, and no more than the crash forces: a delivered item leaves the outbox
      const counts = Object.fromEntries([...byId].map(([id, copies]) => [id, copies.length]));
      const crashedTwice = mode === 'after-publish' ? 2 : 1;
      expect(counts).toEqual(Object.fromEntries(sent.map((m, i) => [m.id, i === 1 || i === 3 ? crashedTwice : 1])));
      expect((await outboxMessages(f)).size, 'nothing left in the outbox').toBe(0);
    });
  }

  it('MS-2: through the stream driver (a failed record delivered again from the first failure): each reply id published, none lost', async () => {
    // Prepare
    const notifier = crashingNotifier('after-publish');
    const f = await makeFixture({ settle: 'manual', notifier });
    const c = await activeChat(f);
    await f.settle();
    const alice = agentCaller(f.org, 'alice');
    const sent = await Promise.all(
      ['a', 'b', 'c', 'd', 'e'].map((text) => sendReply(f.deps, { caller: alice, conversationId: c.id, text })),
    );
    for (const m of sent) notifier.crash.add(m.id);

    // Act: every publish crashes once after publishing; the driver delivers the failed records again
    await f.settle();

    // Assess
    const ids = new Set(notifier.published.map((b) => b.id));
    expect([...ids].sort()).toEqual(sent.map((m) => m.id).sort());
    for (const m of sent) {
      const copies = notifier.published.filter((b) => b.id === m.id);
      expect(copies.length, m.id).toBeGreaterThanOrEqual(1);
      for (const copy of copies) expect(copy, m.id).toMatchObject({ id: m.id, text: m.text, type: 'message.sent' });
      expect(new Set(copies.map((x) => JSON.stringify(x))).size, `${m.id}: one body`).toBe(1);
    }
    expect((await outboxMessages(f)).size, 'nothing left in the outbox').toBe(0);
  });
});

describe('RL-1: a redelivered message.received', () => {
  it('RL-1: the same message.received applied twice (one after the other, and at once) stores one message', async () => {
    // Prepare
    const f = await makeFixture({ settle: 'manual' });
    const c = await activeChat(f);
    const event = customerMessage(c, 'Where is my parcel?');
    const racing = customerMessage(c, 'Hello?');

    // Act
    const once = await handleCustomerEvent(f.deps, f.org, f.channelId('chat'), event);
    const again = await handleCustomerEvent(f.deps, f.org, f.channelId('chat'), structuredClone(event));
    const together = await Promise.all([
      handleCustomerEvent(f.deps, f.org, f.channelId('chat'), racing),
      handleCustomerEvent(f.deps, f.org, f.channelId('chat'), structuredClone(racing)),
    ]);

    // Assess
    expect(once).toEqual({ outcome: 'stored', conversationId: c.id, seq: 1 });
    expect(again).toEqual({ outcome: 'duplicate' });
    expect(together.map((o) => o.outcome).sort()).toEqual(['duplicate', 'stored']);
    const transcript = await transcriptOf(f, c.id);
    expect(transcript.map((m) => [m.seq, m.from, m.text])).toEqual([
      [1, 'customer', 'Where is my parcel?'],
      [2, 'customer', 'Hello?'],
    ]);
    expect((await f.store.repositories.messages.readWithLog(f.org, c.id)).log).toEqual({
      seq: 2,
      replySeq: 0,
      customerSeq: 2,
    });
  });

  it('RL-1 / T-10: the same message.received on a Waiting conversation, applied twice, moves it to Open once and stores one message', async () => {
    // Prepare: alice's sms conversation, waiting for the customer (T-5)
    const f = await makeFixture({ settle: 'manual' });
    await f.addAgent('alice');
    const started = await f.start('sms');
    const alice = { role: 'agent' as const, id: 'alice' };
    await performAction(f.deps, { org: f.org, conversationId: started.id, actor: alice, action: { type: 'accept' } });
    const waiting = (
      await performAction(f.deps, { org: f.org, conversationId: started.id, actor: alice, action: { type: 'close' } })
    ).conversation;
    expect(waiting.status).toBe('Waiting');
    const event = customerMessage(waiting, 'I am back');

    // Act
    const first = await handleCustomerEvent(f.deps, f.org, f.channelId('sms'), event);
    const second = await handleCustomerEvent(f.deps, f.org, f.channelId('sms'), structuredClone(event));

    // Assess
    expect(first).toMatchObject({ outcome: 'transitioned', conversation: { id: waiting.id, status: 'Open' } });
    expect(second).toEqual({ outcome: 'duplicate' });
    expect((await f.conversation(waiting.id)).version).toBe(waiting.version + 1);
    const transcript = await transcriptOf(f, waiting.id);
    expect(transcript.map((m) => [m.seq, m.from, m.text])).toEqual([[1, 'customer', 'I am back']]);
  });

  it('RL-1: a message.received that starts a conversation, applied twice, makes one conversation with one message', async () => {
    // Prepare
    const f = await makeFixture({ settle: 'manual' });
    const event: CustomerEvent = {
      eventId: ulid(),
      type: 'message.received',
      threadId: 'rl1-start',
      message: { text: 'Hi there' },
    };

    // Act
    const first = await handleCustomerEvent(f.deps, f.org, f.channelId('sms'), event);
    const second = await handleCustomerEvent(f.deps, f.org, f.channelId('sms'), structuredClone(event));

    // Assess
    expect(first.outcome).toBe('created');
    expect(second).toEqual({ outcome: 'duplicate' });
    const id = (first as { conversation: Conversation }).conversation.id;
    const listed = await f.store.listConversations(
      f.org,
      { channelId: f.channelId('sms'), threadId: 'rl1-start' },
      { limit: 10 },
    );
    expect(listed.items.map((x) => x.id)).toEqual([id]);
    const transcript = await transcriptOf(f, id);
    expect(transcript).toEqual([
      {
        org: f.org,
        conversationId: id,
        id: `${id}-m1`,
        seq: 1,
        at: expect.any(String),
        from: 'customer',
        text: 'Hi there',
      },
    ]);
  });
});

describe('MS-2 / MS-3: transactions that nothing else makes idempotent, and a reply racing the timer', () => {
  it('MS-2: the SDK resending a reply transaction that committed (its answer lost) stores the reply once', async () => {
    // Prepare: the first commit of the reply is sent twice, as the SDK does when the answer is lost
    const f = await makeFixture();
    const c = await activeChat(f);
    const commits = f.deps.commits;
    let resent = 0;
    const deps = {
      ...f.deps,
      commits: {
        commit: async (...args: Parameters<typeof commits.commit>) => {
          await commits.commit(...args);
          if (resent++ === 0) await commits.commit(...args);
        },
      },
    };

    // Act
    const m = await sendReply(deps, { caller: agentCaller(f.org, 'alice'), conversationId: c.id, text: 'only once' });

    // Assess
    expect(m).toMatchObject({ seq: 1, text: 'only once' });
    expect((await transcriptOf(f, c.id)).map((x) => [x.seq, x.text])).toEqual([[1, 'only once']]);
  });

  it('MS-3: a reply committed between the timer re-check and its transaction keeps the conversation', async () => {
    // Prepare: a customer message nobody answered; its timer fires, and alice replies just before it commits
    const f = await makeFixture();
    const c = await activeChat(f);
    expect((await handleCustomerEvent(f.deps, f.org, c.channelId, customerMessage(c, 'hello?'))).outcome).toBe(
      'stored',
    );
    const commits = f.deps.commits;
    let interposed = false;
    const deps = {
      ...f.deps,
      commits: {
        commit: async (...args: Parameters<typeof commits.commit>) => {
          if (!interposed && args[0].some((w) => w.type === 'conversation')) {
            interposed = true;
            await sendReply(f.deps, { caller: agentCaller(f.org, 'alice'), conversationId: c.id, text: 'here!' });
          }
          await commits.commit(...args);
        },
      },
    };
    const timer = {
      kind: 'agent-response' as const,
      org: f.org,
      conversationId: c.id,
      agentId: 'alice',
      version: c.version,
      at: new Date().toISOString(),
      key: 's1',
      subjectSince: c.statusSince,
    };

    // Act
    const fired = await fireTimer(deps, { ...timer, name: timerName(timer) });

    // Assess: decided again on the reply: stale, still Active with alice
    expect(interposed).toBe(true);
    expect(fired).toMatchObject({ outcome: 'stale', detail: expect.stringContaining('replied in time') });
    expect(await f.conversation(c.id)).toMatchObject({ status: 'Active', primaryAgentId: 'alice' });
  });
});
