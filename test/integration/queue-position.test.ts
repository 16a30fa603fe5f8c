import { BatchWriteCommand, UpdateCommand, type BatchWriteCommandOutput } from '@aws-sdk/lib-dynamodb';
import { describe, expect, it } from 'vitest';
import { createDocumentClient } from '../../functions/adapters/dynamodb/client.js';
import { conversationEntity } from '../../functions/adapters/dynamodb/entities.js';
import { keys } from '../../functions/adapters/dynamodb/keys.js';
import { createDynamoRepositories } from '../../functions/adapters/dynamodb/repositories/index.js';
import type { Conversation } from '../../functions/domain/model.js';
import { signIn } from '../../functions/use-cases/agent-presence.use-case.js';
import type { Caller } from '../../functions/use-cases/caller.js';
import { performAction } from '../../functions/use-cases/conversation-action.use-case.js';
import { POSITION_HEAD, readQueuePosition } from '../../functions/use-cases/queue-position.use-case.js';
import { instrument } from '../bench/instrument.js';
import { dynamoEndpoint, TEST_TABLE } from '../support/dynamo.js';
import { makeFixture, SUPERVISOR_GATES_ON, type Fixture } from '../support/fixture.js';

/** MX-3 queue position and estimated wait, through the use case the route calls, on DynamoDB Local. */

const SUE = (f: Fixture): Caller => ({ org: f.org, id: 'sue', roles: ['supervisor'] });
const position = (f: Fixture, id: string, caller: Caller = SUE(f)) => readQueuePosition(f.deps, caller, id);

async function supervised(): Promise<Fixture> {
  const f = await makeFixture();
  await f.store.putSettings({ org: f.org, ...SUPERVISOR_GATES_ON });
  return f;
}

const accept = (f: Fixture, agentId: string, conversationId: string) =>
  performAction(f.deps, {
    org: f.org,
    conversationId,
    actor: { role: 'agent', id: agentId },
    action: { type: 'accept' },
  });

/** the position read's requests, counted on a client of its own */
async function metered(f: Fixture, id: string) {
  const doc = createDocumentClient({ endpoint: dynamoEndpoint(), maxAttempts: 3 });
  const meter = instrument(doc);
  const r = createDynamoRepositories(doc, TEST_TABLE);
  const deps = {
    ...f.deps,
    conversations: r.conversations,
    agents: r.agents,
    lists: r.lists,
    queueStats: r.queueStats,
  };
  const out = await readQueuePosition(deps, SUE(f), id);
  return { out, requests: meter.total(), rcu: meter.rcu };
}

/**
 * `n` Open conversations written straight to the table (the items, with their index keys, as commits
 * write them), ahead of everything after, and the counters the follow-ups would have left for them (their
 * stream records are taken unrun): a queue of 10,000 without 10,000 webhooks and follow-ups. Counting
 * itself is tested through the follow-ups below and in metrics.test.ts.
 */
async function seedWaiting(f: Fixture, template: Conversation, n: number): Promise<void> {
  const base = Date.parse(template.enqueuedAt as string) - n * 1000;
  const doc = createDocumentClient({ endpoint: dynamoEndpoint(), maxAttempts: 10 });
  const items = Array.from({ length: n }, (_, i) => {
    const at = new Date(base + i * 1000).toISOString();
    const c: Conversation = {
      ...template,
      id: `seed-${String(i).padStart(5, '0')}`,
      threadId: `seed-${i}`,
      createdAt: at,
      updatedAt: at,
      statusSince: at,
      enqueuedAt: at,
    };
    return { PutRequest: { Item: conversationEntity.item(c) } };
  });
  const batches = Array.from({ length: Math.ceil(n / 25) }, (_, i) => items.slice(i * 25, i * 25 + 25));
  const write = async (batch: typeof items): Promise<void> => {
    let pending: unknown[] | undefined = batch;
    while (pending?.length) {
      const out: BatchWriteCommandOutput = await doc.send(
        new BatchWriteCommand({ RequestItems: { [TEST_TABLE]: pending as never } }),
      );
      pending = out.UnprocessedItems?.[TEST_TABLE];
    }
  };
  for (let i = 0; i < batches.length; i += 16) await Promise.all(batches.slice(i, i + 16).map(write));
  await f.takePending();
  await doc.send(
    new UpdateCommand({
      TableName: TEST_TABLE,
      Key: keys.queueStats(f.org, template.queueId, 7),
      UpdateExpression: 'ADD #open :n, #level :n',
      ExpressionAttributeNames: { '#open': 'Open', '#level': 'openP5' },
      ExpressionAttributeValues: { ':n': n },
    }),
  );
}

describe('MX-3: queue position and estimated wait', () => {
  it('MX-3: Q-2 order, oldest first at one priority; an answer moves everyone up and gives the estimated wait', async () => {
    // Prepare: three chats wait in q1 (pick), nothing answered yet
    const f = await makeFixture();
    await f.addAgent('alice', { default: 3 });
    await signIn(f.deps, f.org, 'alice');
    const [a, b, c] = [await f.start('chat'), await f.start('chat'), await f.start('chat')];

    // Act
    const before = await Promise.all([a, b, c].map((x) => position(f, x.id)));
    await accept(f, 'alice', a.id);
    const after = await Promise.all([b, c].map((x) => position(f, x.id)));

    // Assess: exact from the index; one answered in the last 15 minutes gives 900 s per place
    expect(before.map((p) => [p.position, p.exact, p.estimatedWaitSeconds])).toEqual([
      [1, true, null],
      [2, true, null],
      [3, true, null],
    ]);
    expect(after.map((p) => [p.queueId, p.position, p.estimatedWaitSeconds])).toEqual([
      ['q1', 1, 900],
      ['q1', 2, 1800],
    ]);
  });

  it('MX-3: a higher priority goes ahead (Q-2), whenever it entered', async () => {
    // Prepare: two chats; the later one is prioritized
    const f = await supervised();
    const first = await f.start('chat');
    const second = await f.start('chat');
    await performAction(f.deps, {
      org: f.org,
      conversationId: second.id,
      actor: { role: 'supervisor', id: 'sue' },
      action: { type: 'prioritize', priority: 9 },
    });

    // Act
    const [p1, p2] = [await position(f, first.id), await position(f, second.id)];

    // Assess
    expect([p2.position, p1.position]).toEqual([1, 2]);
  });

  it('MX-3: not Open is 409 naming the status; unseen is 404 (RL-7), another org 404 (RL-6)', async () => {
    // Prepare: one chat taken, one waiting; carol is an agent of q2 only
    const f = await makeFixture();
    await f.addAgent('alice');
    await f.addAgent('carol', { default: 1 }, ['q2']);
    const taken = await f.start('chat');
    const waiting = await f.start('chat');
    await accept(f, 'alice', taken.id);
    const other = await makeFixture();

    // Act
    const outcomes = await Promise.allSettled([
      position(f, taken.id),
      position(f, waiting.id, { org: f.org, id: 'carol', roles: ['agent'] }),
      position(other, waiting.id),
      position(f, waiting.id, { org: f.org, id: 'alice', roles: ['agent'] }),
    ]);

    // Assess
    const [conflict, unseen, foreign, member] = outcomes;
    expect(conflict).toMatchObject({ status: 'rejected', reason: { kind: 'conflict', currentStatus: 'Active' } });
    expect(unseen).toMatchObject({ status: 'rejected', reason: { kind: 'not-found' } });
    expect(foreign).toMatchObject({ status: 'rejected', reason: { kind: 'not-found' } });
    expect(member).toMatchObject({ status: 'fulfilled', value: { position: 1 } });
  });

  it('MX-3: an offer that comes back rejected is the same wait: it ends none and starts none (R-3)', async () => {
    // Prepare: push routing; alice is offered the chat, a second one waits behind it
    const f = await makeFixture();
    await f.setWorkstream('chat', { distribution: 'push' });
    await f.addAgent('alice', { default: 1 });
    await signIn(f.deps, f.org, 'alice');
    const c = await f.start('chat');
    const entered = await f.deps.queueStats.entryOf(f.org, c.id);

    // Act: alice rejects (everyone declined: it is offered again, R-3, the same wait throughout)
    await performAction(f.deps, {
      org: f.org,
      conversationId: c.id,
      actor: { role: 'agent', id: 'alice' },
      action: { type: 'reject' },
    });

    // Assess: still one waiting at priority 5, no wait ended, the entry record of its first entry
    const counts = await f.deps.queueStats.counts(f.org, 'q1');
    expect(await f.conversation(c.id)).toMatchObject({ enqueuedAt: c.enqueuedAt, accepted: false });
    expect(await f.store.listEvents(f.org, c.id)).toEqual(
      expect.arrayContaining([expect.objectContaining({ action: 'reject' })]),
    );
    expect([counts.openP5, counts.leftP5]).toEqual([1, 0]);
    expect(await f.deps.queueStats.entryOf(f.org, c.id)).toEqual(entered);
    expect(entered).toMatchObject({ version: c.version, ahead: 0, left: 0 });
  });

  it('MX-3: with 10,000 waiting, the same requests as with 10; beyond the counted head the position comes from the counters', async () => {
    // Prepare: a queue of 10 (through the webhook) and one of 10,000 ahead of a chat that came through it
    const small = await makeFixture();
    const smalls: Conversation[] = [];
    for (let i = 0; i < 10; i++) smalls.push(await small.start('chat'));
    const big = await makeFixture({ settle: 'manual' });
    await big.addAgent('alice', { default: 3 });
    await signIn(big.deps, big.org, 'alice');
    const template = await big.start('chat');
    await big.settle();
    await seedWaiting(big, template, 10_000);
    const last = await big.start('chat');
    await big.settle();

    // Act
    const atTen = await metered(small, (smalls[9] as Conversation).id);
    const atTenThousand = await metered(big, last.id);
    await accept(big, 'alice', 'seed-00000');
    await accept(big, 'alice', template.id);
    await big.settle();
    const afterTwo = await position(big, last.id);
    const head = await position(big, 'seed-00005');

    // Assess: the same requests; 10,000 seeded + the template ahead of it; two answered from ahead
    expect(atTen.out).toMatchObject({ position: 10, exact: true });
    expect(atTenThousand.out).toMatchObject({ position: 10_002, exact: false });
    expect(atTenThousand.requests).toBe(atTen.requests);
    expect(atTenThousand.rcu).toBeLessThan(40);
    expect(afterTwo).toMatchObject({ position: 10_000, exact: false, estimatedWaitSeconds: 10_000 * 450 });
    expect(head).toMatchObject({ position: 5, exact: true });
    expect(POSITION_HEAD).toBeLessThan(10_000);
  }, 120_000);
});
