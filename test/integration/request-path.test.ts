import type { DynamoDBRecord } from 'aws-lambda';
import { describe, expect, it } from 'vitest';
import { ulid } from 'ulid';
import { createDocumentClient } from '../../functions/adapters/dynamodb/client.js';
import {
  createDynamoRepositories,
  type DynamoRepositories,
} from '../../functions/adapters/dynamodb/repositories/index.js';
import { ulidIds } from '../../functions/adapters/system-clock.js';
import { RaceLostError } from '../../functions/domain/errors.js';
import type { Actor } from '../../functions/domain/model.js';
import { CommitConflict } from '../../functions/ports/storage-types.js';
import { runFollowUps } from '../../functions/follow-ups/run-follow-ups.js';
import { signIn } from '../../functions/use-cases/agent-presence.use-case.js';
import { ConfigCache } from '../../functions/use-cases/config-cache.js';
import { performAction } from '../../functions/use-cases/conversation-action.use-case.js';
import { handleCustomerEvent } from '../../functions/use-cases/customer-event.use-case.js';
import * as timersConsumer from '../../functions/handlers/sqs/timers.handler.js';
import { lambdaContext } from '../../bin/local/http-server.js';
import type { SQSEvent } from 'aws-lambda';
import { dispatchAgent, dispatchConversation } from '../../functions/use-cases/dispatch.use-case.js';
import type { EngineDeps } from '../../functions/use-cases/engine.js';
import { ledgerOf, makeFixture, type Fixture } from '../support/fixture.js';
import { TEST_TABLE, dynamoEndpoint } from '../support/dynamo.js';

const alice: Actor = { role: 'agent', id: 'alice' };

/** K-4: an agent's dispatch lists Open items from GSI6's `OPEN` partitions (queue x requirement) */
const openListing = (q: { index?: unknown; partition?: unknown }): boolean =>
  q.index === 'GSI6' && String(q.partition).includes('#OPEN#');

/**
 * Repositories on their own client, counting every DynamoDB request they send by command name
 * (`sent`), and keeping each query's index and partition key value (`queried`).
 */
function countingStore(): {
  store: DynamoRepositories;
  sent: string[];
  queried: { index?: string; partition?: unknown }[];
} {
  const doc = createDocumentClient({ endpoint: dynamoEndpoint() });
  const sent: string[] = [];
  const queried: { index?: string; partition?: unknown }[] = [];
  doc.middlewareStack.add(
    (next, context) => async (args) => {
      sent.push(String(context.commandName));
      if (context.commandName === 'QueryCommand') {
        const input = args.input as { IndexName?: string; ExpressionAttributeValues?: Record<string, unknown> };
        queried.push({
          ...(input.IndexName ? { index: input.IndexName } : {}),
          partition: input.ExpressionAttributeValues?.[':pk'],
        });
      }
      return next(args);
    },
    { step: 'initialize', name: 'countRequests' },
  );
  return { store: createDynamoRepositories(doc, TEST_TABLE), sent, queried };
}

/** The engine's request path alone: read, decide, commit (no after-commit work wired in). */
const requestPath = (f: Fixture, store: DynamoRepositories, config = new ConfigCache()): EngineDeps => ({
  ...store,
  clock: f.clock,
  ids: ulidIds,
  config,
});

describe('the request path: read, decide, one transaction', () => {
  it('an accept by a signed-in agent of 3 queues, configuration warm, is one BatchGetItem and one TransactWriteItems', async () => {
    // Prepare: alice is signed in and a member of three queues; the workstream and settings were read once
    const f = await makeFixture();
    await f.store.putQueue({ org: f.org, id: 'q3', name: 'Queue 3' });
    await f.addAgent('alice', { default: 3 }, ['q1', 'q2', 'q3']);
    await f.store.updateAgentState(f.org, 'alice', { signedIn: true, connected: true });
    const { store, sent } = countingStore();
    const deps = requestPath(f, store);
    const warm = await f.start('chat');
    await performAction(deps, { org: f.org, conversationId: warm.id, actor: alice, action: { type: 'accept' } });
    const c = await f.start('chat');
    sent.length = 0;

    // Act
    const r = await performAction(deps, { org: f.org, conversationId: c.id, actor: alice, action: { type: 'accept' } });

    // Assess
    expect(r.conversation).toMatchObject({ status: 'Active', primaryAgentId: 'alice' });
    expect(sent).toEqual(['BatchGetItemCommand', 'TransactWriteItemsCommand']);
  });

  it("M-3 / R-5: an end (an event triggers listen to), configuration and the org's triggers warm, is one BatchGetItem and one TransactWriteItems", async () => {
    // Prepare: a first end read the (empty) trigger list
    const f = await makeFixture();
    await f.addAgent('alice');
    const { store, sent } = countingStore();
    const deps = requestPath(f, store);
    const act = (id: string, type: 'accept' | 'end') =>
      performAction(deps, { org: f.org, conversationId: id, actor: alice, action: { type } });
    const first = await f.start('chat');
    await act(first.id, 'accept');
    await act(first.id, 'end');
    const c = await f.start('chat');
    await act(c.id, 'accept');
    sent.length = 0;

    // Act
    const r = await act(c.id, 'end');

    // Assess
    expect(r.conversation.status).toBe('WrapUp');
    expect(sent).toEqual(['BatchGetItemCommand', 'TransactWriteItemsCommand']);
  });

  it('M-3 / R-5: a trigger added to a cached (empty) trigger list applies to the very next end', async () => {
    // Prepare: an end with no trigger cached the empty list
    const f = await makeFixture();
    await f.addAgent('alice');
    const deps = requestPath(f, f.store.repositories);
    const act = (id: string, type: 'accept' | 'end') =>
      performAction(deps, { org: f.org, conversationId: id, actor: alice, action: { type } });
    const first = await f.start('chat');
    await act(first.id, 'accept');
    await act(first.id, 'end');
    const c = await f.start('chat');
    await act(c.id, 'accept');

    // Act: an admin adds a survey on End, then alice ends c
    await f.store.putTrigger({
      org: f.org,
      id: 'survey-on-end',
      when: { event: 'end', field: 'status', changedTo: 'WrapUp' },
      then: [{ type: 'send-survey' }],
    });
    await act(c.id, 'end');

    // Assess: the survey is in the outbox of c's end (and not of the first one's)
    const outbox = (await f.store.listDueTimers(new Date('2999-01-01T00:00:00.000Z'), 10_000)).filter(
      (t) => t.org === f.org && t.kind === 'notify',
    );
    expect(outbox.map((t) => t.conversationId)).toEqual([c.id]);
  });

  it('TM-5 / C-3: a due wrap-up release, fired by the timers consumer, is one BatchGetItem and one TransactWriteItems, which also removes its outbox item', async () => {
    // Prepare: alice ended a chat with a 5-minute wrap-up; a first fire warmed the consumer's cache
    const f = await makeFixture({ wrapUp: 5 });
    await f.addAgent('alice');
    const { store, sent } = countingStore();
    const consumer = timersConsumer.createHandler(
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
      { repositories: store, clock: f.clock },
    );
    const wrapUpOf = async () => {
      const c = await f.start('chat');
      await performAction(f.deps, { org: f.org, conversationId: c.id, actor: alice, action: { type: 'accept' } });
      await performAction(f.deps, { org: f.org, conversationId: c.id, actor: alice, action: { type: 'end' } });
      const [timer] = (await f.store.listDueTimers(new Date('2999-01-01T00:00:00.000Z'), 10_000)).filter(
        (t) => t.org === f.org && t.conversationId === c.id && t.kind === 'wrapup-release',
      );
      return { c, timer: timer as NonNullable<typeof timer> };
    };
    const deliver = (timer: object) =>
      consumer(
        {
          Records: [
            {
              messageId: ulid(),
              receiptHandle: 'r',
              body: JSON.stringify(timer),
              attributes: {},
              messageAttributes: {},
            },
          ],
        } as unknown as SQSEvent,
        lambdaContext('timers'),
      );
    const warm = await wrapUpOf();
    f.clock.advance(300);
    await deliver(warm.timer);
    const { c, timer } = await wrapUpOf();
    f.clock.advance(300);
    sent.length = 0;

    // Act
    const res = await deliver(timer);

    // Assess: the capacity released (the conversation stays in WrapUp, C-3), the outbox item gone, in two round trips
    expect(res).toEqual({ batchItemFailures: [] });
    const released = await f.conversation(c.id);
    expect(released.status).toBe('WrapUp');
    expect(released.allocation).toBeUndefined();
    expect((await ledgerOf(f, 'alice')).allocated).toEqual({});
    expect(await f.store.getTimer(f.org, timer.name)).toBeUndefined();
    expect(sent).toEqual(['BatchGetItemCommand', 'TransactWriteItemsCommand']);
  });

  it('R-4: a pick (accept) decided while alice was a member of the queue does not commit once an admin removed her from it', async () => {
    // Prepare: alice (q1 only) reads an Open q1 conversation; between her decision and its commit an
    // admin moves her to q2
    const f = await makeFixture();
    await f.addAgent('alice', { default: 3 }, ['q1']);
    const c = await f.start('chat');
    let removed = false;
    const racing: EngineDeps = {
      ...f.deps,
      commits: {
        commit: async (writes) => {
          if (!removed) {
            removed = true;
            await f.store.putAgent({
              org: f.org,
              id: 'alice',
              name: 'alice',
              queues: ['q2'],
              bot: false,
              capacity: { default: 3 },
            });
          }
          return f.deps.commits.commit(writes);
        },
      },
    };

    // Act
    const err = await performAction(racing, {
      org: f.org,
      conversationId: c.id,
      actor: alice,
      action: { type: 'accept' },
    }).catch((e: unknown) => e);

    // Assess: refused on the fresh read (not a member any more); nothing taken
    expect(removed).toBe(true);
    expect(err).toMatchObject({ kind: 'forbidden', type: 'forbidden-action' });
    expect((await f.conversation(c.id)).status).toBe('Open');
    expect((await ledgerOf(f, 'alice')).allocated).toEqual({});
  });

  it('a new conversation from a channel event, configuration warm, is one BatchGetItem and one TransactWriteItems', async () => {
    // Prepare: one event of the channel warmed the channel and workstream
    const f = await makeFixture();
    const { store, sent } = countingStore();
    const deps = requestPath(f, store);
    const start = (threadId: string) =>
      handleCustomerEvent(deps, f.org, f.channelId('chat'), {
        eventId: ulid(),
        type: 'conversation.started',
        threadId,
      });
    await start('warm-up');
    sent.length = 0;

    // Act
    const r = await start('fresh-thread');

    // Assess
    expect(r).toMatchObject({ outcome: 'created', conversation: { status: 'Open', threadId: 'fresh-thread' } });
    expect(sent).toEqual(['BatchGetItemCommand', 'TransactWriteItemsCommand']);
  });

  it('T-2: an early end and the start it closes at creation are each one BatchGetItem and one TransactWriteItems (warm)', async () => {
    // Prepare: the channel and workstream are warm
    const f = await makeFixture();
    const { store, sent } = countingStore();
    const deps = requestPath(f, store);
    const event = (type: 'conversation.started' | 'customer.ended', threadId: string, occurredAt?: string) =>
      handleCustomerEvent(deps, f.org, f.channelId('chat'), {
        eventId: ulid(),
        type,
        threadId,
        ...(occurredAt ? { occurredAt } : {}),
      });
    await event('conversation.started', 'warm-up');
    const startedAt = f.clock.now().toISOString();
    sent.length = 0;

    // Act
    const ended = await event('customer.ended', 'early');
    const endRequests = sent.splice(0);
    const started = await event('conversation.started', 'early', startedAt);

    // Assess
    expect(ended).toMatchObject({ outcome: 'kept' });
    expect(endRequests).toEqual(['BatchGetItemCommand', 'TransactWriteItemsCommand']);
    expect(started).toMatchObject({
      outcome: 'created',
      conversation: { status: 'Closed', statusReason: 'customer-left-before-start' },
    });
    expect(sent).toEqual(['BatchGetItemCommand', 'TransactWriteItemsCommand']);
  });

  it('R-5 / R-1: a routing rule added to a cached workstream routes the very next conversation', async () => {
    // Prepare: the chat workstream (no rules, default q1) is cached by a first conversation
    const f = await makeFixture();
    const deps = requestPath(f, f.store.repositories);
    const start = (threadId: string) =>
      handleCustomerEvent(deps, f.org, f.channelId('chat'), {
        eventId: ulid(),
        type: 'conversation.started',
        threadId,
        context: { topic: 'billing' },
      });
    expect(await start('before')).toMatchObject({ conversation: { queueId: 'q1' } });

    // Act
    await f.setWorkstream('chat', { routingRules: [{ when: { field: 'topic', equals: 'billing' }, queueId: 'q2' }] });
    const after = await start('after');

    // Assess
    expect(after).toMatchObject({ outcome: 'created', conversation: { queueId: 'q2' } });
  });

  it('R-5: a cached workstream changed by an admin applies to the very next decision (no time window, no sleep)', async () => {
    // Prepare: the chat workstream blocks capacity in wrap-up ('always'); one end decided on it warms the cache
    const f = await makeFixture({ wrapUp: 'always' });
    await f.addAgent('alice');
    const deps = requestPath(f, f.store.repositories);
    const first = await f.start('chat');
    await performAction(deps, { org: f.org, conversationId: first.id, actor: alice, action: { type: 'accept' } });
    await performAction(deps, { org: f.org, conversationId: first.id, actor: alice, action: { type: 'end' } });
    expect((await ledgerOf(f, 'alice')).pools.default?.used).toBe(1);
    const c = await f.start('chat');
    await performAction(deps, { org: f.org, conversationId: c.id, actor: alice, action: { type: 'accept' } });

    // Act: the admin changes the policy to 'never' (release on entering WrapUp), then alice ends c
    await f.setWorkstream('chat', { wrapUp: { blockCapacity: 'never' } });
    const ended = await performAction(deps, {
      org: f.org,
      conversationId: c.id,
      actor: alice,
      action: { type: 'end' },
    });

    // Assess: decided on the new policy: c released its unit at once (C-3), the first still holds its own
    expect(ended.conversation).toMatchObject({ status: 'WrapUp' });
    expect(ended.conversation.allocation).toBeUndefined();
    expect((await ledgerOf(f, 'alice')).pools.default?.used).toBe(1);
  });

  it('R-5: org settings cached as "forceClose off" refuse, then apply at once when turned on', async () => {
    // Prepare
    const f = await makeFixture();
    const deps = requestPath(f, f.store.repositories);
    const supervisor: Actor = { role: 'supervisor', id: 'sue' };
    const c = await f.start('chat');
    const off = await performAction(deps, {
      org: f.org,
      conversationId: c.id,
      actor: supervisor,
      action: { type: 'force-close' },
    }).catch((e: unknown) => e);
    expect(String(off)).toMatch(/forceClose is off/);

    // Act
    await f.store.putSettings({
      org: f.org,
      supervisorMonitor: false,
      supervisorAssign: false,
      supervisorTransfer: false,
      forceClose: true,
      agentEndMessagingSession: false,
    });
    const r = await performAction(deps, {
      org: f.org,
      conversationId: c.id,
      actor: supervisor,
      action: { type: 'force-close' },
    });

    // Assess
    expect(r.conversation.status).toBe('Closed');
  });
});

describe('push dispatch reads (R-3, R-5, SC-1)', () => {
  /** alice (one unit, queues q1..q3) holds a push conversation; returns the records of her ending it, follow-ups not run */
  async function aliceEnds(f: Fixture): Promise<DynamoDBRecord[]> {
    const c = await f.start('chat');
    await f.settle();
    expect(await f.conversation(c.id)).toMatchObject({ status: 'Active', primaryAgentId: 'alice', accepted: false });
    await performAction(f.deps, { org: f.org, conversationId: c.id, actor: alice, action: { type: 'accept' } });
    await f.settle();
    await performAction(f.deps, { org: f.org, conversationId: c.id, actor: alice, action: { type: 'end' } });
    return f.takePending();
  }

  it('R-3: a push offer decides on the conversation and candidate it just read: one transaction after them, no second read', async () => {
    // Prepare: alice signed in; configuration warm (a first conversation was offered on the counting store)
    const f = await makeFixture({ settle: 'manual' });
    await f.setWorkstream('chat', { distribution: 'push' });
    await f.addAgent('alice', { default: 3 });
    await signIn(f.deps, f.org, 'alice');
    await f.settle();
    const { store, sent } = countingStore();
    const deps = requestPath(f, store);
    await dispatchConversation(deps, f.org, (await f.start('chat')).id);
    await f.settle();
    const c = await f.start('chat');
    await f.takePending();
    sent.length = 0;

    // Act
    const r = await dispatchConversation(deps, f.org, c.id);

    // Assess: the conversation and the candidates (in parallel), the candidate's consistent read, the offer
    expect(r).toEqual({ offeredTo: 'alice' });
    expect(await f.conversation(c.id)).toMatchObject({ status: 'Active', primaryAgentId: 'alice', accepted: false });
    expect(sent.filter((cmd) => cmd === 'BatchGetItemCommand')).toEqual([]);
    expect(sent.filter((cmd) => cmd === 'TransactWriteItemsCommand')).toHaveLength(1);
    expect(sent.filter((cmd) => cmd === 'GetItemCommand')).toHaveLength(1); // the conversation
  });

  it("SC-1 / R-3: an agent freeing capacity with an empty backlog lists each of her queues' Open items once", async () => {
    // Prepare: a push workstream releasing capacity on end; alice in three queues; configuration warm
    // (a first end's follow-ups ran on the counting store)
    const f = await makeFixture({ settle: 'manual', wrapUp: 'never' });
    await f.setWorkstream('chat', { distribution: 'push' });
    await f.store.putQueue({ org: f.org, id: 'q3', name: 'Queue 3' });
    await f.addAgent('alice', { default: 1 }, ['q1', 'q2', 'q3']);
    await signIn(f.deps, f.org, 'alice');
    await f.settle();
    const { store, sent, queried } = countingStore();
    const deps = requestPath(f, store);
    expect((await runFollowUps(deps, await aliceEnds(f))).failed).toEqual([]);
    const records = await aliceEnds(f);
    sent.length = 0;
    queried.length = 0;

    // Act: the follow-ups of her end (her pool's unit freed: index refresh, then her dispatch)
    const result = await runFollowUps(deps, records);

    // Assess: nothing to offer; each queue's Open items listed once (GSI6: the partitions of the
    // requirements she meets, here only `any`), and no fresh re-decision
    expect(result.failed).toEqual([]);
    const openListings = queried.filter(openListing).map((q) => String(q.partition));
    expect(openListings.sort()).toEqual(['q1', 'q2', 'q3'].map((q) => `ORG#${f.org}#OPEN#${q}#any`));
    expect(sent.filter((c) => c === 'GetItemCommand')).toHaveLength(1); // the index refresh's settings read
  });

  it('R-5: an Open item passed over on a cached workstream (pick) is offered as soon as an admin made it push, on the listing already read', async () => {
    // Prepare: a pick conversation waits in q1; alice's dispatch cached its workstream as pick
    const f = await makeFixture({ settle: 'manual' });
    await f.addAgent('alice', { default: 1 }, ['q1']);
    await signIn(f.deps, f.org, 'alice');
    const c = await f.start('chat');
    await f.settle();
    const { store, queried } = countingStore();
    const deps = requestPath(f, store);
    expect(await dispatchAgent(deps, f.org, 'alice')).toEqual({ offered: [] });

    // Act: the admin makes the workstream push (the cached entry is now stale); alice is dispatched
    await f.setWorkstream('chat', { distribution: 'push' });
    queried.length = 0;
    const r = await dispatchAgent(deps, f.org, 'alice');

    // Assess: decided again on the fresh workstream, without listing q1 a second time
    expect(r).toEqual({ offered: [c.id] });
    expect(queried.filter(openListing)).toHaveLength(1);
    expect(await f.conversation(c.id)).toMatchObject({ status: 'Active', primaryAgentId: 'alice', accepted: false });
  });

  it('R-5: a push conversation nobody could take on cached settings is offered as soon as the settings make an agent routable', async () => {
    // Prepare: the org default presence is Away; alice is signed in (Away by default); c waits, push
    const f = await makeFixture({ settle: 'manual' });
    await f.setWorkstream('chat', { distribution: 'push', allowedPresences: ['Available'] });
    await f.addAgent('alice', { default: 1 }, ['q1']);
    await signIn(f.deps, f.org, 'alice');
    await f.settle();
    const { store } = countingStore();
    const deps = requestPath(f, store);
    const settings = {
      org: f.org,
      supervisorMonitor: false,
      supervisorAssign: false,
      supervisorTransfer: false,
      forceClose: false,
      agentEndMessagingSession: false,
    };
    await f.store.putSettings({ ...settings, defaultPresence: 'Away' });
    await f.store.refreshAvailability(f.org, 'alice', f.clock.now());
    const c = await f.start('chat');
    expect(await dispatchConversation(deps, f.org, c.id)).toEqual({});
    expect(await dispatchAgent(deps, f.org, 'alice')).toEqual({ offered: [] });

    // Act: the admin turns the default presence back to computed (the cached settings say Away)
    await f.store.putSettings({ ...settings, defaultPresence: 'Available' });
    const r = await dispatchAgent(deps, f.org, 'alice');

    // Assess: judged unroutable on the cached settings, then routable on the fresh ones
    expect(r).toEqual({ offered: [c.id] });
  });
});

describe('typed outcomes', () => {
  it('RL-2: a change that keeps losing races is a RaceLostError naming the current status (409, retryable)', async () => {
    // Prepare: every transaction is cancelled by a concurrent writer
    const f = await makeFixture();
    await f.addAgent('alice');
    const c = await f.start('chat');
    const losing: EngineDeps = {
      ...f.deps,
      maxAttempts: 3,
      commits: {
        commit: async () => {
          throw new CommitConflict([]);
        },
      },
    };

    // Act
    const err = await performAction(losing, {
      org: f.org,
      conversationId: c.id,
      actor: alice,
      action: { type: 'accept' },
    }).catch((e: unknown) => e);

    // Assess
    expect(err).toBeInstanceOf(RaceLostError);
    expect(err).toMatchObject({ currentStatus: 'Open', type: 'race-lost', retryable: true });
    expect((await f.conversation(c.id)).status).toBe('Open');
  });

  it('RL-1 / RL-2: a customer event that loses its races throws (back to SQS), writes no receipt, and applies on redelivery', async () => {
    // Prepare: an Active chat; the customer's End loses every race on the first delivery
    const f = await makeFixture();
    await f.addAgent('alice');
    const c = await f.start('chat', 'thread-race');
    await performAction(f.deps, { org: f.org, conversationId: c.id, actor: alice, action: { type: 'accept' } });
    const losing: EngineDeps = {
      ...f.deps,
      maxAttempts: 3,
      commits: {
        commit: async () => {
          throw new CommitConflict([]);
        },
      },
    };
    const event = { eventId: ulid(), type: 'customer.ended' as const, threadId: 'thread-race' };

    // Act
    const first = await handleCustomerEvent(losing, f.org, f.channelId('chat'), event).catch((e: unknown) => e);
    const redelivered = await handleCustomerEvent(f.deps, f.org, f.channelId('chat'), event);

    // Assess: never recorded as ignored; the redelivery applies T-3b once
    expect(first).toBeInstanceOf(RaceLostError);
    expect(redelivered).toMatchObject({ outcome: 'transitioned', conversation: { status: 'WrapUp' } });
    const ends = (await f.store.listEvents(f.org, c.id)).filter((e) => e.action === 'customer-ended');
    expect(ends).toHaveLength(1);
  });
});
