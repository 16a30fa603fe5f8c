import type { TransactWriteCommandInput } from '@aws-sdk/lib-dynamodb';
import type { Write } from '../../domain/writes.js';
import { conversationItem, eventItem, timerItem } from './items.js';
import { keys } from './keys.js';

type TransactItem = NonNullable<TransactWriteCommandInput['TransactItems']>[number];

/**
 * Translates the domain's writes into the TransactItems of ONE TransactWriteItems call.
 * Pure, so params-level tests assert the exact conditions.
 *
 * Capacity pools keep `used` and `free` (= max - used) side by side: a condition expression cannot
 * do arithmetic, so `used + units <= max` is written as `free >= units`, and both counters move in
 * the same update. One builder per write type: the item, its keys (from keys.ts), its conditions.
 */
type Builders = { [K in Write['type']]: (table: string, w: Extract<Write, { type: K }>) => TransactItem };

const BUILDERS: Builders = {
  conversation: (table, w) => {
    return {
      Put: {
        TableName: table,
        Item: conversationItem(w.item),
        ...(w.expect === 'absent'
          ? { ConditionExpression: 'attribute_not_exists(PK)' }
          : {
              ConditionExpression: '#version = :expectedVersion AND #status = :expectedStatus',
              ExpressionAttributeNames: { '#version': 'version', '#status': 'status' },
              ExpressionAttributeValues: { ':expectedVersion': w.expect.version, ':expectedStatus': w.expect.status },
            }),
        ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
      },
    };
  },
  event: (table, w) => {
    return { Put: { TableName: table, Item: eventItem(w.event), ConditionExpression: 'attribute_not_exists(PK)' } };
  },
  'allocation-put': (table, w) => {
    return {
      Put: {
        TableName: table,
        Item: {
          ...keys.allocation(w.org, w.agentId, w.conversationId),
          type: 'allocation',
          org: w.org,
          agentId: w.agentId,
          conversationId: w.conversationId,
          pool: w.pool,
          units: w.units,
          since: w.since,
        },
        ConditionExpression: 'attribute_not_exists(PK)',
      },
    };
  },
  'allocation-delete': (table, w) => {
    return {
      Delete: {
        TableName: table,
        Key: keys.allocation(w.org, w.agentId, w.conversationId),
        ConditionExpression: 'attribute_exists(PK)',
      },
    };
  },
  'pool-consume': (table, w) => {
    return {
      Update: {
        TableName: table,
        Key: keys.pool(w.org, w.agentId, w.pool),
        UpdateExpression: 'SET #used = #used + :units, #free = #free - :units',
        // S-3 override: no capacity condition, but `used` as read, so the reported units over are exact
        ConditionExpression: w.override
          ? 'attribute_exists(PK) AND #used = :expectUsed'
          : 'attribute_exists(PK) AND #free >= :units',
        ExpressionAttributeNames: { '#used': 'used', '#free': 'free' },
        ExpressionAttributeValues: {
          ':units': w.units,
          ...(w.override ? { ':expectUsed': w.override.expectUsed } : {}),
        },
        ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
      },
    };
  },
  'pool-release': (table, w) => {
    return {
      Update: {
        TableName: table,
        Key: keys.pool(w.org, w.agentId, w.pool),
        UpdateExpression: 'SET #used = #used - :units, #free = #free + :units',
        ConditionExpression: 'attribute_exists(PK) AND #used >= :units',
        ExpressionAttributeNames: { '#used': 'used', '#free': 'free' },
        ExpressionAttributeValues: { ':units': w.units },
        ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
      },
    };
  },
  thread: (table, w) => {
    return {
      Put: {
        TableName: table,
        Item: {
          ...keys.thread(w.org, w.channelId, w.threadId),
          type: 'thread',
          org: w.org,
          channelId: w.channelId,
          threadId: w.threadId,
          conversationId: w.conversationId,
        },
        ...(w.previous === null
          ? { ConditionExpression: 'attribute_not_exists(PK)' }
          : {
              ConditionExpression: '#conversationId = :previous',
              ExpressionAttributeNames: { '#conversationId': 'conversationId' },
              ExpressionAttributeValues: { ':previous': w.previous },
            }),
      },
    };
  },
  'agent-assigned': (table, w) => {
    return {
      Update: {
        TableName: table,
        Key: keys.agent(w.org, w.agentId),
        UpdateExpression: 'SET #idleSince = :at',
        ConditionExpression: 'attribute_exists(PK) AND #sv = :sv',
        ExpressionAttributeNames: { '#idleSince': 'idleSince', '#sv': 'stateVersion' },
        ExpressionAttributeValues: { ':at': w.at, ':sv': w.expectStateVersion },
        ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
      },
    };
  },
  'member-check': (table, w) => {
    return {
      ConditionCheck: {
        TableName: table,
        Key: keys.member(w.org, w.queueId, w.agentId),
        ConditionExpression: 'attribute_exists(PK)',
      },
    };
  },
  'config-current': (table, w) => {
    const key = {
      workstream: () => keys.workstream(w.org, w.id),
      channel: () => keys.channel(w.org, w.id),
      settings: () => keys.settings(w.org),
      triggers: () => keys.triggersVersion(w.org),
    }[w.entity]();
    return {
      ConditionCheck: {
        TableName: table,
        Key: key,
        ...(w.version === ''
          ? { ConditionExpression: 'attribute_not_exists(#cv)' }
          : { ConditionExpression: '#cv = :cv', ExpressionAttributeValues: { ':cv': w.version } }),
        ExpressionAttributeNames: { '#cv': 'configVersion' },
      },
    };
  },
  'queue-exists': (table, w) => {
    return {
      ConditionCheck: {
        TableName: table,
        Key: keys.queue(w.org, w.queueId),
        ConditionExpression: 'attribute_exists(PK)',
      },
    };
  },
  timer: (table, w) => {
    return { Put: { TableName: table, Item: timerItem(w.timer) } };
  },
  'agent-state': (table, w) => {
    const names: Record<string, string> = { '#epoch': 'connectionEpoch', '#sv': 'stateVersion' };
    const values: Record<string, unknown> = {
      ':expectEpoch': w.expectEpoch,
      ':zero': 0,
      ':one': 1,
      ...(w.bumpEpoch ? { ':nextEpoch': w.expectEpoch + 1 } : {}),
    };
    // every presence-affecting change moves stateVersion, which an offer in flight checks
    const sets = [...(w.bumpEpoch ? ['#epoch = :nextEpoch'] : []), '#sv = if_not_exists(#sv, :zero) + :one'];
    for (const [k, v] of Object.entries(w.set)) {
      names[`#${k}`] = k;
      values[`:${k}`] = v;
      sets.push(`#${k} = :${k}`);
    }
    for (const k of w.remove) names[`#${k}`] = k;
    return {
      Update: {
        TableName: table,
        Key: keys.agent(w.org, w.agentId),
        UpdateExpression: [
          sets.length ? `SET ${sets.join(', ')}` : '',
          w.remove.length ? `REMOVE ${w.remove.map((k) => `#${k}`).join(', ')}` : '',
        ]
          .join(' ')
          .trim(),
        ConditionExpression: 'attribute_exists(PK) AND #epoch = :expectEpoch',
        ExpressionAttributeNames: names,
        ExpressionAttributeValues: values,
        ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
      },
    };
  },
  receipt: (table, w) => {
    return {
      Put: {
        TableName: table,
        Item: {
          ...keys.receipt(w.org, w.key),
          type: 'receipt',
          org: w.org,
          key: w.key,
          expiresAt: w.expiresAt,
          ...(w.fingerprint !== undefined ? { fingerprint: w.fingerprint, result: w.result } : {}),
        },
        ConditionExpression: 'attribute_not_exists(PK)',
      },
    };
  },
};

export function toTransactItem(table: string, w: Write): TransactItem {
  return (BUILDERS[w.type] as (table: string, w: Write) => TransactItem)(table, w);
}

/**
 * No ClientRequestToken: an Idempotency-Key's receipt is a conditioned item of the same transaction,
 * so a retried request replays its first result; and a retried transaction that already committed
 * fails its version condition and is decided again on the committed state.
 */
export function buildTransaction(table: string, writes: readonly Write[]): TransactWriteCommandInput {
  return { TransactItems: writes.map((w) => toTransactItem(table, w)) };
}
