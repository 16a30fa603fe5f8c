import { describe, expect, it } from 'vitest';
import { buildTransaction, toTransactItem } from '../../functions/adapters/dynamodb/transact.js';
import { CONFIG_VERSION_SHARDS, shardOf } from '../../functions/adapters/dynamodb/keys.js';
import { decide } from '../../functions/domain/decide.js';
import type { Actor, Agent, Conversation, WrapUpBlockPolicy, Workstream } from '../../functions/domain/model.js';
import type { Write } from '../../functions/domain/writes.js';

/**
 * Params-level tests (ARCHITECTURE "two levels for the store"): the exact TransactWriteItems input a
 * domain decision becomes. Every expected item below is written out by hand, keys and conditions
 * included, so a changed condition, key or index attribute fails here before it reaches DynamoDB.
 * Shard numbers too (SC-1): `conv1` is in shard 6 of its status list (`STATUS#<status>#6`) and the
 * wrap-up release timer below in `TIMERS#7`, written out, so a changed hash or shard count fails here.
 */

const TABLE = 'engine-test';
const CREATED = '2026-03-02T08:50:00.000Z';
const ENTERED = '2026-03-02T08:55:00.000Z';
const NOW = new Date('2026-03-02T09:00:00.000Z');
const AT = '2026-03-02T09:00:00.000Z';

const ALICE: Actor = { role: 'agent', id: 'alice' };

const workstream = (blockCapacity: WrapUpBlockPolicy = 'always'): Workstream => ({
  org: 'acme',
  id: 'ws-chat',
  name: 'chat',
  mode: 'live',
  capacity: { pool: 'default', units: 2 },
  allowedPresences: ['Available', 'Busy'],
  wrapUp: { blockCapacity },
  waitingInactivityTimeoutSeconds: 3600,
  agentReconnectTimeoutSeconds: 120,
  routingRules: [],
  defaultQueueId: 'q1',
  distribution: 'pick',
});

const agent = (id: string, used = 0): Agent => ({
  org: 'acme',
  id,
  name: id,
  queues: ['q1'],
  bot: false,
  pools: { default: { name: 'default', max: 4, used } },
});

/** The attributes no transition in these tests changes. */
const unchanged = (kind: 'chat' | 'voice') => ({
  org: 'acme',
  id: 'conv1',
  channelId: `ch-${kind}`,
  channelKind: kind,
  mode: 'live',
  threadId: 'th1',
  workstreamId: `ws-${kind}`,
  customerId: 'cust1',
  consultants: [],
  session: { status: 'active' },
  ticket: { id: 'tk1', channel: kind, status: 'open' },
  createdAt: CREATED,
});

const openChat = (): Conversation => ({
  org: 'acme',
  id: 'conv1',
  channelId: 'ch-chat',
  channelKind: 'chat',
  mode: 'live',
  threadId: 'th1',
  status: 'Open',
  statusReason: 'R-1: default queue',
  queueId: 'q1',
  workstreamId: 'ws-chat',
  customerId: 'cust1',
  consultants: [],
  session: { status: 'active' },
  ticket: { id: 'tk1', channel: 'chat', status: 'open' },
  statusSince: CREATED,
  createdAt: CREATED,
  updatedAt: CREATED,
  version: 1,
});

/** Active for alice, offer accepted, 2 units of her default pool held. */
const activeFor = (kind: 'chat' | 'voice'): Conversation => ({
  org: 'acme',
  id: 'conv1',
  channelId: `ch-${kind}`,
  channelKind: kind,
  mode: 'live',
  threadId: 'th1',
  status: 'Active',
  statusReason: 'picked by agent',
  queueId: 'q1',
  workstreamId: `ws-${kind}`,
  customerId: 'cust1',
  primaryAgentId: 'alice',
  primaryKind: 'agent',
  accepted: true,
  consultants: [],
  participants: ['alice'],
  session: { status: 'active' },
  ticket: { id: 'tk1', channel: kind, status: 'open' },
  allocation: { agentId: 'alice', pool: 'default', units: 2, since: ENTERED },
  statusSince: ENTERED,
  createdAt: CREATED,
  updatedAt: ENTERED,
  version: 4,
});

/** The conversation Put's condition: the version and status the decision was made on (RL-2). */
const expectVersionAndStatus = (version: number, status: string) => ({
  ConditionExpression: '#version = :expectedVersion AND #status = :expectedStatus',
  ExpressionAttributeNames: { '#version': 'version', '#status': 'status' },
  ExpressionAttributeValues: { ':expectedVersion': version, ':expectedStatus': status },
  ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
});

const allocationDelete = (agentId: string) => ({
  Delete: {
    TableName: TABLE,
    Key: { PK: `ORG#acme#AGENT#${agentId}`, SK: 'ALLOC#conv1' },
    ConditionExpression: 'attribute_exists(PK)',
  },
});

const poolRelease = (agentId: string, units: number) => ({
  Update: {
    TableName: TABLE,
    Key: { PK: `ORG#acme#AGENT#${agentId}`, SK: 'AGENT#POOL#default' },
    UpdateExpression: 'SET #used = #used - :units, #free = #free + :units',
    ConditionExpression: 'attribute_exists(PK) AND #used >= :units',
    ExpressionAttributeNames: { '#used': 'used', '#free': 'free' },
    ExpressionAttributeValues: { ':units': units },
    ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
  },
});

const poolConsume = (agentId: string, units: number) => ({
  Update: {
    TableName: TABLE,
    Key: { PK: `ORG#acme#AGENT#${agentId}`, SK: 'AGENT#POOL#default' },
    UpdateExpression: 'SET #used = #used + :units, #free = #free - :units',
    ConditionExpression: 'attribute_exists(PK) AND #free >= :units',
    ExpressionAttributeNames: { '#used': 'used', '#free': 'free' },
    ExpressionAttributeValues: { ':units': units },
    ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
  },
});

const allocationPut = (agentId: string, units: number) => ({
  Put: {
    TableName: TABLE,
    Item: {
      PK: `ORG#acme#AGENT#${agentId}`,
      SK: 'ALLOC#conv1',
      type: 'allocation',
      org: 'acme',
      agentId,
      conversationId: 'conv1',
      pool: 'default',
      units,
      since: AT,
    },
    ConditionExpression: 'attribute_not_exists(PK)',
  },
});

describe('buildTransaction: pick (T-1)', () => {
  it('T-1, C-2, C-5, E-1, R-4: a pick is one transaction of conversation Put, event Put, pool consume, allocation Put and the membership check', () => {
    // Prepare
    const decision = decide({
      conversation: openChat(),
      actor: ALICE,
      action: { type: 'accept' },
      workstream: workstream(),
      agent: agent('alice', 1),
      now: NOW,
    });

    // Act
    const params = buildTransaction(TABLE, decision.writes);

    // Assess
    expect(params).toStrictEqual({
      TransactItems: [
        {
          Put: {
            TableName: TABLE,
            Item: {
              PK: 'ORG#acme#CONV#conv1',
              SK: 'CONV',
              type: 'conversation',
              GSI1PK: 'ORG#acme#QUEUE#q1#Active',
              GSI1SK: `${AT}#conv1`,
              GSI2PK: 'ORG#acme#AGENT#alice#open',
              GSI2SK: `${CREATED}#conv1`,
              GSI3PK: 'ORG#acme#STATUS#Active#6',
              GSI3SK: `${CREATED}#conv1`,
              GSI4PK: 'ORG#acme#THREAD#ch-chat#th1',
              GSI4SK: `${CREATED}#conv1`,
              GSI5PK: 'ORG#acme#CUSTOMER#cust1',
              GSI5SK: `${CREATED}#conv1`,
              ...unchanged('chat'),
              status: 'Active',
              statusReason: 'picked by agent',
              queueId: 'q1',
              primaryAgentId: 'alice',
              primaryKind: 'agent',
              // RL-7: who was ever primary or consultant
              participants: ['alice'],
              accepted: true,
              allocation: { agentId: 'alice', pool: 'default', units: 2, since: AT },
              statusSince: AT,
              updatedAt: AT,
              version: 2,
            },
            ...expectVersionAndStatus(1, 'Open'),
          },
        },
        {
          Put: {
            TableName: TABLE,
            Item: {
              PK: 'ORG#acme#CONV#conv1',
              SK: 'EV#0000000002',
              type: 'event',
              org: 'acme',
              conversationId: 'conv1',
              seq: 2,
              at: AT,
              actor: 'alice',
              role: 'agent',
              action: 'accept',
              from: 'Open',
              to: 'Active',
              reason: 'T-1: picked by agent',
              version: 2,
              details: { allocated: 'alice/default/2' },
            },
            ConditionExpression: 'attribute_not_exists(PK)',
          },
        },
        poolConsume('alice', 2),
        allocationPut('alice', 2),
        // the picking agent is still a member of the queue
        {
          ConditionCheck: {
            TableName: TABLE,
            Key: { PK: 'ORG#acme#AGENT#alice', SK: 'MEMBER#q1' },
            ConditionExpression: 'attribute_exists(PK)',
          },
        },
      ],
    });
  });
});

describe('buildTransaction: end under each wrap-up policy (C-3)', () => {
  /** The WrapUp conversation item every policy shares; `extra` holds what the policy changes. */
  const wrapUpItem = (extra: Record<string, unknown>) => ({
    PK: 'ORG#acme#CONV#conv1',
    SK: 'CONV',
    type: 'conversation',
    GSI1PK: 'ORG#acme#QUEUE#q1#WrapUp',
    GSI1SK: `${AT}#conv1`,
    GSI2PK: 'ORG#acme#AGENT#alice#open',
    GSI2SK: `${CREATED}#conv1`,
    GSI3PK: 'ORG#acme#STATUS#WrapUp#6',
    GSI3SK: `${CREATED}#conv1`,
    GSI4PK: 'ORG#acme#THREAD#ch-chat#th1',
    GSI4SK: `${CREATED}#conv1`,
    GSI5PK: 'ORG#acme#CUSTOMER#cust1',
    GSI5SK: `${CREATED}#conv1`,
    ...unchanged('chat'),
    status: 'WrapUp',
    statusReason: 'ended by agent',
    queueId: 'q1',
    primaryAgentId: 'alice',
    primaryKind: 'agent',
    participants: ['alice'],
    accepted: true,
    statusSince: AT,
    updatedAt: AT,
    version: 5,
    ...extra,
  });
  const endEvent = (details: Record<string, string>) => ({
    Put: {
      TableName: TABLE,
      Item: {
        PK: 'ORG#acme#CONV#conv1',
        SK: 'EV#0000000005',
        type: 'event',
        org: 'acme',
        conversationId: 'conv1',
        seq: 5,
        at: AT,
        actor: 'alice',
        role: 'agent',
        action: 'end',
        from: 'Active',
        to: 'WrapUp',
        reason: 'T-3a: ended by agent',
        version: 5,
        details,
      },
      ConditionExpression: 'attribute_not_exists(PK)',
    },
  });
  const end = (policy: WrapUpBlockPolicy) =>
    decide({
      conversation: activeFor('chat'),
      actor: ALICE,
      action: { type: 'end' },
      workstream: workstream(policy),
      agent: agent('alice', 2),
      now: NOW,
    });

  it("T-3a, C-3: policy 'always' holds the capacity: no allocation or pool write, the allocation stays on the conversation", () => {
    // Prepare
    const decision = end('always');

    // Act
    const params = buildTransaction(TABLE, decision.writes);

    // Assess
    expect(params).toStrictEqual({
      TransactItems: [
        {
          Put: {
            TableName: TABLE,
            Item: wrapUpItem({ allocation: { agentId: 'alice', pool: 'default', units: 2, since: ENTERED } }),
            ...expectVersionAndStatus(4, 'Active'),
          },
        },
        endEvent({ wrapUpPolicy: 'always' }),
      ],
    });
    expect(decision.timers).toStrictEqual([]);
  });

  it("T-3a, C-3, C-6: policy 'never' deletes the allocation (must exist) and releases the pool (never below zero) in the same transaction", () => {
    // Prepare
    const decision = end('never');

    // Act
    const params = buildTransaction(TABLE, decision.writes);

    // Assess
    expect(params).toStrictEqual({
      TransactItems: [
        { Put: { TableName: TABLE, Item: wrapUpItem({}), ...expectVersionAndStatus(4, 'Active') } },
        endEvent({ wrapUpPolicy: 'never', released: 'alice/default/2' }),
        allocationDelete('alice'),
        poolRelease('alice', 2),
      ],
    });
    expect(decision.timers).toStrictEqual([]);
  });

  it('T-3a, C-3, TM-1: a 5-minute policy holds the capacity, stores wrapUpReleaseAt = now + 5 min and asks for a wrap-up release timer', () => {
    // Prepare
    const decision = end(5);

    // Act
    const params = buildTransaction(TABLE, decision.writes);

    // Assess
    expect(params).toStrictEqual({
      TransactItems: [
        {
          Put: {
            TableName: TABLE,
            Item: wrapUpItem({
              allocation: { agentId: 'alice', pool: 'default', units: 2, since: ENTERED },
              wrapUpReleaseAt: '2026-03-02T09:05:00.000Z',
            }),
            ...expectVersionAndStatus(4, 'Active'),
          },
        },
        endEvent({ wrapUpPolicy: '5' }),
        {
          // the timer outbox item, in the same transaction as the change (ARCHITECTURE Timers)
          Put: {
            TableName: TABLE,
            Item: {
              PK: 'ORG#acme#TIMER#wrapup-release.conv1.v5.1772442300',
              SK: 'TIMER',
              type: 'timer',
              name: 'wrapup-release.conv1.v5.1772442300',
              GSI3PK: 'TIMERS#7',
              GSI3SK: '2026-03-02T09:05:00.000Z#ORG#acme#wrapup-release.conv1.v5.1772442300',
              kind: 'wrapup-release',
              org: 'acme',
              conversationId: 'conv1',
              version: 5,
              at: '2026-03-02T09:05:00.000Z',
              expiresAt: 1772442300 + 7 * 24 * 3600,
            },
          },
        },
      ],
    });
    expect(decision.timers).toStrictEqual([
      { kind: 'wrapup-release', org: 'acme', conversationId: 'conv1', version: 5, at: '2026-03-02T09:05:00.000Z' },
    ]);
  });
});

describe('buildTransaction: transfers', () => {
  it('T-4c, C-4, X-4: a transfer to a queue releases the capacity at once, moves queueId and GSI1PK to the new queue and drops the agent index', () => {
    // Prepare
    const decision = decide({
      conversation: activeFor('chat'),
      actor: ALICE,
      action: { type: 'transfer', target: { kind: 'queue', queueId: 'q2' } },
      workstream: workstream(),
      agent: agent('alice', 2),
      now: NOW,
    });

    // Act
    const params = buildTransaction(TABLE, decision.writes);

    // Assess
    expect(params).toStrictEqual({
      TransactItems: [
        {
          Put: {
            TableName: TABLE,
            Item: {
              PK: 'ORG#acme#CONV#conv1',
              SK: 'CONV',
              type: 'conversation',
              GSI1PK: 'ORG#acme#QUEUE#q2#Open',
              // 10^13 offset + enqueued at AT (ms) - priority 5 x 10^8 s (no aging)
              GSI1SK: `${10_000_000_000_000 + Date.parse(AT) - 5 * 100_000_000_000}#conv1`,
              // MX-1: Open, no primary: the queue's waiting list, by when it entered the queue
              GSI2PK: 'ORG#acme#WAITING#q2#2',
              GSI2SK: `${AT}#conv1`,
              GSI3PK: 'ORG#acme#STATUS#Open#6',
              GSI3SK: `${CREATED}#conv1`,
              GSI4PK: 'ORG#acme#THREAD#ch-chat#th1',
              GSI4SK: `${CREATED}#conv1`,
              GSI5PK: 'ORG#acme#CUSTOMER#cust1',
              GSI5SK: `${CREATED}#conv1`,
              // K-4: the Open items of the queue with no requirement, in the same order
              GSI6PK: 'ORG#acme#OPEN#q2#any',
              GSI6SK: `${10_000_000_000_000 + Date.parse(AT) - 5 * 100_000_000_000}#conv1`,
              ...unchanged('chat'),
              status: 'Open',
              statusReason: 'transferred to queue',
              queueId: 'q2',
              // a new queue, a new wait
              enqueuedAt: AT,
              // RL-7: alice still sees what she worked on
              participants: ['alice'],
              statusSince: AT,
              updatedAt: AT,
              version: 5,
            },
            ...expectVersionAndStatus(4, 'Active'),
          },
        },
        {
          Put: {
            TableName: TABLE,
            Item: {
              PK: 'ORG#acme#CONV#conv1',
              SK: 'EV#0000000005',
              type: 'event',
              org: 'acme',
              conversationId: 'conv1',
              seq: 5,
              at: AT,
              actor: 'alice',
              role: 'agent',
              action: 'transfer',
              from: 'Active',
              to: 'Open',
              reason: 'T-4c: transferred to queue',
              version: 5,
              details: { toQueue: 'q2', released: 'alice/default/2' },
            },
            ConditionExpression: 'attribute_not_exists(PK)',
          },
        },
        allocationDelete('alice'),
        poolRelease('alice', 2),
      ],
    });
  });

  it("T-12, C-4, X-3: a voice transfer to an agent releases the original agent's capacity and reserves the receiver's, in one transaction", () => {
    // Prepare
    const decision = decide({
      conversation: activeFor('voice'),
      actor: ALICE,
      action: { type: 'transfer', target: { kind: 'agent', agentId: 'bob' } },
      workstream: { ...workstream(), id: 'ws-voice', name: 'voice' },
      agent: agent('alice', 2),
      targetAgent: agent('bob', 1),
      now: NOW,
    });

    // Act
    const params = buildTransaction(TABLE, decision.writes);

    // Assess
    expect(params).toStrictEqual({
      TransactItems: [
        {
          Put: {
            TableName: TABLE,
            Item: {
              PK: 'ORG#acme#CONV#conv1',
              SK: 'CONV',
              type: 'conversation',
              // Active -> Active: statusSince, hence GSI1SK, is kept
              GSI1PK: 'ORG#acme#QUEUE#q1#Active',
              GSI1SK: `${ENTERED}#conv1`,
              GSI2PK: 'ORG#acme#AGENT#bob#open',
              GSI2SK: `${CREATED}#conv1`,
              GSI3PK: 'ORG#acme#STATUS#Active#6',
              GSI3SK: `${CREATED}#conv1`,
              GSI4PK: 'ORG#acme#THREAD#ch-voice#th1',
              GSI4SK: `${CREATED}#conv1`,
              GSI5PK: 'ORG#acme#CUSTOMER#cust1',
              GSI5SK: `${CREATED}#conv1`,
              ...unchanged('voice'),
              status: 'Active',
              statusReason: 'voice call transferred to agent',
              queueId: 'q1',
              primaryAgentId: 'bob',
              primaryKind: 'agent',
              participants: ['alice', 'bob'],
              accepted: true,
              allocation: { agentId: 'bob', pool: 'default', units: 2, since: AT },
              statusSince: ENTERED,
              updatedAt: AT,
              version: 5,
            },
            ...expectVersionAndStatus(4, 'Active'),
          },
        },
        {
          Put: {
            TableName: TABLE,
            Item: {
              PK: 'ORG#acme#CONV#conv1',
              SK: 'EV#0000000005',
              type: 'event',
              org: 'acme',
              conversationId: 'conv1',
              seq: 5,
              at: AT,
              actor: 'alice',
              role: 'agent',
              action: 'transfer',
              from: 'Active',
              to: 'Active',
              reason: 'T-12: voice call transferred to agent',
              version: 5,
              details: { released: 'alice/default/2', allocated: 'bob/default/2' },
            },
            ConditionExpression: 'attribute_not_exists(PK)',
          },
        },
        allocationDelete('alice'),
        poolRelease('alice', 2),
        poolConsume('bob', 2),
        allocationPut('bob', 2),
      ],
    });
  });

  it('T-12, C-4: a voice transfer to an external number releases the capacity and leaves no agent index (the primary is external)', () => {
    // Prepare
    const decision = decide({
      conversation: activeFor('voice'),
      actor: ALICE,
      action: { type: 'transfer', target: { kind: 'external', number: '+33612345678' } },
      workstream: { ...workstream(), id: 'ws-voice', name: 'voice' },
      agent: agent('alice', 2),
      now: NOW,
    });

    // Act
    const params = buildTransaction(TABLE, decision.writes);

    // Assess
    expect(params.TransactItems?.[0]).toStrictEqual({
      Put: {
        TableName: TABLE,
        Item: {
          PK: 'ORG#acme#CONV#conv1',
          SK: 'CONV',
          type: 'conversation',
          GSI1PK: 'ORG#acme#QUEUE#q1#Active',
          GSI1SK: `${ENTERED}#conv1`,
          GSI3PK: 'ORG#acme#STATUS#Active#6',
          GSI3SK: `${CREATED}#conv1`,
          GSI4PK: 'ORG#acme#THREAD#ch-voice#th1',
          GSI4SK: `${CREATED}#conv1`,
          GSI5PK: 'ORG#acme#CUSTOMER#cust1',
          GSI5SK: `${CREATED}#conv1`,
          ...unchanged('voice'),
          status: 'Active',
          statusReason: 'voice call transferred to external number',
          queueId: 'q1',
          primaryAgentId: '+33612345678',
          primaryKind: 'external',
          participants: ['alice'],
          accepted: true,
          statusSince: ENTERED,
          updatedAt: AT,
          version: 5,
        },
        ...expectVersionAndStatus(4, 'Active'),
      },
    });
    expect(params.TransactItems?.slice(2)).toStrictEqual([allocationDelete('alice'), poolRelease('alice', 2)]);
  });
});

describe('toTransactItem: single writes', () => {
  it('S-3, C-5: an override pool consume drops the capacity condition (it may exceed the maximum) and expects `used` as read, so the units over are exact', () => {
    // Prepare
    const write: Write = {
      type: 'pool-consume',
      org: 'acme',
      agentId: 'alice',
      pool: 'default',
      units: 3,
      override: { expectUsed: 2 },
    };

    // Act
    const item = toTransactItem(TABLE, write);

    // Assess
    expect(item).toStrictEqual({
      Update: {
        TableName: TABLE,
        Key: { PK: 'ORG#acme#AGENT#alice', SK: 'AGENT#POOL#default' },
        UpdateExpression: 'SET #used = #used + :units, #free = #free - :units',
        ConditionExpression: 'attribute_exists(PK) AND #used = :expectUsed',
        ExpressionAttributeNames: { '#used': 'used', '#free': 'free' },
        ExpressionAttributeValues: { ':units': 3, ':expectUsed': 2 },
        ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
      },
    });
  });

  it('C-5: a pool consume without override keeps the capacity condition', () => {
    // Prepare
    const write: Write = { type: 'pool-consume', org: 'acme', agentId: 'alice', pool: 'default', units: 3 };

    // Act
    const item = toTransactItem(TABLE, write);

    // Assess
    expect(item).toStrictEqual(poolConsume('alice', 3));
  });

  it('RL-1: an inbound-event receipt is put only if absent and carries the TTL attribute', () => {
    // Prepare
    const write: Write = { type: 'receipt', org: 'acme', key: 'ch-chat#evt-42', expiresAt: 1_772_500_000 };

    // Act
    const item = toTransactItem(TABLE, write);

    // Assess
    expect(item).toStrictEqual({
      Put: {
        TableName: TABLE,
        Item: {
          PK: 'ORG#acme#RECEIPT#ch-chat#evt-42',
          SK: 'RECEIPT',
          type: 'receipt',
          org: 'acme',
          key: 'ch-chat#evt-42',
          expiresAt: 1_772_500_000,
        },
        ConditionExpression: 'attribute_not_exists(PK)',
      },
    });
  });

  it("T-2: an early end is put beside the thread's pointer without a condition (its receipt, in the same transaction, stops a redelivery) and carries the TTL attribute", () => {
    // Prepare
    const write: Write = {
      type: 'early-end',
      end: {
        org: 'acme',
        channelId: 'ch-chat',
        threadId: 'th1',
        endedAt: '2026-03-02T09:00:00.000Z',
        action: 'customer-ended',
        expiresAt: 1_772_442_300,
        conversationId: 'conv1',
      },
    };

    // Act
    const item = toTransactItem(TABLE, write);

    // Assess
    expect(item).toStrictEqual({
      Put: {
        TableName: TABLE,
        Item: {
          PK: 'ORG#acme#THREAD#ch-chat#th1',
          SK: 'EARLY-END',
          type: 'early-end',
          org: 'acme',
          channelId: 'ch-chat',
          threadId: 'th1',
          endedAt: '2026-03-02T09:00:00.000Z',
          action: 'customer-ended',
          expiresAt: 1_772_442_300,
          conversationId: 'conv1',
        },
      },
    });
  });

  it('R-1, M-4: opening a conversation puts it only if absent and moves the thread only from the previous conversation', () => {
    // Prepare
    const conversation = openChat();
    const writes: Write[] = [
      { type: 'conversation', item: conversation, expect: 'absent' },
      {
        type: 'thread',
        org: 'acme',
        channelId: 'ch-chat',
        threadId: 'th1',
        conversationId: 'conv1',
        previous: 'conv0',
      },
      { type: 'thread', org: 'acme', channelId: 'ch-chat', threadId: 'th1', conversationId: 'conv1', previous: null },
    ];

    // Act
    const [put, moveThread, newThread] = writes.map((w) => toTransactItem(TABLE, w));

    // Assess
    expect(put).toStrictEqual({
      Put: {
        TableName: TABLE,
        Item: {
          PK: 'ORG#acme#CONV#conv1',
          SK: 'CONV',
          type: 'conversation',
          GSI1PK: 'ORG#acme#QUEUE#q1#Open',
          // 10^13 offset + enqueued at CREATED (ms; the fixture has no enqueuedAt) - priority 5 x 10^8 s
          GSI1SK: `${10_000_000_000_000 + Date.parse(CREATED) - 5 * 100_000_000_000}#conv1`,
          GSI2PK: 'ORG#acme#WAITING#q1#2',
          GSI2SK: `${CREATED}#conv1`,
          GSI3PK: 'ORG#acme#STATUS#Open#6',
          GSI3SK: `${CREATED}#conv1`,
          GSI4PK: 'ORG#acme#THREAD#ch-chat#th1',
          GSI4SK: `${CREATED}#conv1`,
          GSI5PK: 'ORG#acme#CUSTOMER#cust1',
          GSI5SK: `${CREATED}#conv1`,
          // K-4: the Open items of the queue with no requirement, in the same order
          GSI6PK: 'ORG#acme#OPEN#q1#any',
          GSI6SK: `${10_000_000_000_000 + Date.parse(CREATED) - 5 * 100_000_000_000}#conv1`,
          ...conversation,
        },
        ConditionExpression: 'attribute_not_exists(PK)',
        ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
      },
    });
    const threadItem = {
      PK: 'ORG#acme#THREAD#ch-chat#th1',
      SK: 'THREAD',
      type: 'thread',
      org: 'acme',
      channelId: 'ch-chat',
      threadId: 'th1',
      conversationId: 'conv1',
    };
    expect(moveThread).toStrictEqual({
      Put: {
        TableName: TABLE,
        Item: threadItem,
        ConditionExpression: '#conversationId = :previous',
        ExpressionAttributeNames: { '#conversationId': 'conversationId' },
        ExpressionAttributeValues: { ':previous': 'conv0' },
      },
    });
    expect(newThread).toStrictEqual({
      Put: { TableName: TABLE, Item: threadItem, ConditionExpression: 'attribute_not_exists(PK)' },
    });
  });
});

describe('toTransactItem: the facts a decision assumed (conditions it does not write)', () => {
  it('R-5 / SC-1: a workstream decided on at configVersion v is a ConditionCheck on one copy of that version, chosen by the conversation', () => {
    // Act
    const item = toTransactItem(TABLE, {
      type: 'config-current',
      org: 'acme',
      entity: 'workstream',
      id: 'ws-chat',
      version: '01J',
      spread: 'conv-1',
    });

    // Assess
    expect(item).toStrictEqual({
      ConditionCheck: {
        TableName: TABLE,
        Key: { PK: `ORG#acme#CFGV#workstream#ws-chat#${shardOf('conv-1', CONFIG_VERSION_SHARDS)}`, SK: 'CFGV' },
        ConditionExpression: '#cv = :cv',
        ExpressionAttributeNames: { '#cv': 'configVersion' },
        ExpressionAttributeValues: { ':cv': '01J' },
      },
    });
  });

  it('R-5: default settings (never written) are proven by the absence of a configVersion', () => {
    // Act
    const item = toTransactItem(TABLE, {
      type: 'config-current',
      org: 'acme',
      entity: 'settings',
      id: 'acme',
      version: '',
      spread: 'conv-2',
    });

    // Assess
    expect(item).toStrictEqual({
      ConditionCheck: {
        TableName: TABLE,
        Key: { PK: `ORG#acme#CFGV#settings#acme#${shardOf('conv-2', CONFIG_VERSION_SHARDS)}`, SK: 'CFGV' },
        ConditionExpression: 'attribute_not_exists(#cv)',
        ExpressionAttributeNames: { '#cv': 'configVersion' },
      },
    });
  });

  it("R-2: an offer checks the queue membership in the agent's own partition, not the queue's (SC-1)", () => {
    // Act
    const item = toTransactItem(TABLE, { type: 'member-check', org: 'acme', queueId: 'q1', agentId: 'alice' });

    // Assess
    expect(item).toStrictEqual({
      ConditionCheck: {
        TableName: TABLE,
        Key: { PK: 'ORG#acme#AGENT#alice', SK: 'MEMBER#q1' },
        ConditionExpression: 'attribute_exists(PK)',
      },
    });
  });

  it('T-4c: the target queue of a transfer must exist when the transfer commits', () => {
    // Act
    const item = toTransactItem(TABLE, { type: 'queue-exists', org: 'acme', queueId: 'q2' });

    // Assess
    expect(item).toStrictEqual({
      ConditionCheck: {
        TableName: TABLE,
        Key: { PK: 'ORG#acme#QUEUE#q2', SK: 'QUEUE' },
        ConditionExpression: 'attribute_exists(PK)',
      },
    });
  });

  it('the transaction carries no ClientRequestToken: the Idempotency-Key receipt inside it is the one mechanism', () => {
    // Act
    const params = buildTransaction(
      TABLE,
      decide({
        conversation: openChat(),
        actor: ALICE,
        action: { type: 'accept' },
        workstream: workstream(),
        agent: agent('alice'),
        now: NOW,
      }).writes,
    );

    // Assess
    expect(Object.keys(params)).toStrictEqual(['TransactItems']);
    expect(params.TransactItems).toHaveLength(5);
  });
});
