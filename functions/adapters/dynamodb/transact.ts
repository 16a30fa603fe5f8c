import type { TransactWriteCommandInput } from '@aws-sdk/lib-dynamodb';
import { timerName } from '../../domain/timers.js';
import type { Write } from '../../domain/writes.js';
import {
  agentEntity,
  allocationEntity,
  configVersionEntity,
  conversationEntity,
  earlyEndEntity,
  eventEntity,
  queueEntity,
  receiptEntity,
  threadEntity,
  timerEntity,
  memberEntity,
  messageEntity,
  messageLogEntity,
} from './entities.js';

type TransactItem = NonNullable<TransactWriteCommandInput['TransactItems']>[number];

/**
 * Translates the domain's writes into the TransactItems of ONE TransactWriteItems call.
 * Pure, so params-level tests assert the exact conditions.
 *
 * Capacity pools keep `used` and `free` (= max - used) side by side: a condition expression cannot
 * do arithmetic, so `used + units <= max` is written as `free >= units`, and both counters move in
 * the same update. One builder per write type: the item, its item and key (entities.ts), its conditions.
 */
type Builders = { [K in Write['type']]: (table: string, w: Extract<Write, { type: K }>) => TransactItem };

const BUILDERS: Builders = {
  conversation: (table, w) => {
    return {
      Put: {
        TableName: table,
        Item: conversationEntity.item(w.item),
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
    return {
      Put: { TableName: table, Item: eventEntity.item(w.event), ConditionExpression: 'attribute_not_exists(PK)' },
    };
  },
  'allocation-put': (table, w) => {
    return {
      Put: {
        TableName: table,
        Item: allocationEntity.item(w),
        ConditionExpression: 'attribute_not_exists(PK)',
      },
    };
  },
  'allocation-delete': (table, w) => {
    return {
      Delete: {
        TableName: table,
        Key: allocationEntity.key(w.org, w.agentId, w.conversationId),
        ConditionExpression: 'attribute_exists(PK)',
      },
    };
  },
  'pool-consume': (table, w) => {
    return {
      Update: {
        TableName: table,
        Key: agentEntity.poolKey(w.org, w.agentId, w.pool),
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
        Key: agentEntity.poolKey(w.org, w.agentId, w.pool),
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
        Item: threadEntity.item(w),
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
        Key: agentEntity.key(w.org, w.agentId),
        // R-3 ties and A-1 round-robin: she got work now
        UpdateExpression: 'SET #idleSince = :at, #lastAssignedAt = :at',
        ConditionExpression: 'attribute_exists(PK) AND #sv = :sv',
        ExpressionAttributeNames: {
          '#idleSince': 'idleSince',
          '#lastAssignedAt': 'lastAssignedAt',
          '#sv': 'stateVersion',
        },
        ExpressionAttributeValues: { ':at': w.at, ':sv': w.expectStateVersion },
        ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
      },
    };
  },
  'member-check': (table, w) => {
    return {
      ConditionCheck: {
        TableName: table,
        Key: memberEntity.key(w.org, w.queueId, w.agentId),
        ConditionExpression: 'attribute_exists(PK)',
      },
    };
  },
  'config-current': (table, w) => {
    return {
      ConditionCheck: {
        TableName: table,
        // one of the version's copies (SC-1); all are rewritten with the item, so any one proves it
        Key: configVersionEntity.key(w.org, w.entity, w.id, w.spread),
        ...(w.version === ''
          ? { ConditionExpression: 'attribute_not_exists(#cv)' }
          : { ConditionExpression: '#cv = :cv', ExpressionAttributeValues: { ':cv': w.version } }),
        ExpressionAttributeNames: { '#cv': 'configVersion' },
      },
    };
  },
  message: (table, w) => {
    return {
      Put: { TableName: table, Item: messageEntity.item(w.message), ConditionExpression: 'attribute_not_exists(PK)' },
    };
  },
  'message-log': (table, w) => {
    return {
      Put: {
        TableName: table,
        Item: messageLogEntity.item(w.org, w.conversationId, w.log),
        ...(w.expect === 0
          ? { ConditionExpression: 'attribute_not_exists(PK)' }
          : {
              ConditionExpression: '#seq = :expect',
              ExpressionAttributeNames: { '#seq': 'seq' },
              ExpressionAttributeValues: { ':expect': w.expect },
            }),
      },
    };
  },
  'reply-check': (table, w) => {
    return {
      ConditionCheck: {
        TableName: table,
        Key: messageLogEntity.key(w.org, w.conversationId),
        ...(w.seq === 0
          ? { ConditionExpression: 'attribute_not_exists(PK)' }
          : {
              ConditionExpression: '#replySeq = :replySeq',
              ExpressionAttributeNames: { '#replySeq': 'replySeq' },
              ExpressionAttributeValues: { ':replySeq': w.replySeq },
            }),
      },
    };
  },
  'conversation-check': (table, w) => {
    return {
      ConditionCheck: {
        TableName: table,
        Key: conversationEntity.key(w.org, w.conversationId),
        ConditionExpression: '#version = :version',
        ExpressionAttributeNames: { '#version': 'version' },
        ExpressionAttributeValues: { ':version': w.version },
      },
    };
  },
  'queue-exists': (table, w) => {
    return {
      ConditionCheck: {
        TableName: table,
        Key: queueEntity.key(w.org, w.queueId),
        ConditionExpression: 'attribute_exists(PK)',
      },
    };
  },
  // no condition: the receipt of the same transaction makes a redelivered end store nothing (RL-1)
  'early-end': (table, w) => {
    return { Put: { TableName: table, Item: earlyEndEntity.item(w.end) } };
  },
  timer: (table, w) => {
    return { Put: { TableName: table, Item: timerEntity.item(w.timer) } };
  },
  // no condition: an item a duplicate delivery already removed is no reason to refuse the change
  'timer-done': (table, w) => {
    return { Delete: { TableName: table, Key: timerEntity.key(w.org, w.name) } };
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
        Key: agentEntity.key(w.org, w.agentId),
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
        Item: receiptEntity.item(w),
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
  return { TransactItems: transactionWrites(writes).map((w) => toTransactItem(table, w)) };
}

/**
 * The writes as the transaction sends them, in order (a cancellation's reasons are by this index).
 * A transaction may name an item once: a fired timer that the same change rewrites (re-armed under
 * its own name) is not also deleted, and a transcript log that is rewritten is not also checked.
 */
export function transactionWrites(writes: readonly Write[]): readonly Write[] {
  const rewritten = new Set(
    writes.flatMap((w) => (w.type === 'timer' ? [`${w.timer.org}|${timerName(w.timer)}`] : [])),
  );
  // the log's own Put (conditioned on the `seq` read) proves no reply came in between as well
  const logged = new Set(writes.flatMap((w) => (w.type === 'message-log' ? [`${w.org}|${w.conversationId}`] : [])));
  return writes.filter(
    (w) =>
      !(w.type === 'timer-done' && rewritten.has(`${w.org}|${w.name}`)) &&
      !(w.type === 'reply-check' && logged.has(`${w.org}|${w.conversationId}`)),
  );
}
