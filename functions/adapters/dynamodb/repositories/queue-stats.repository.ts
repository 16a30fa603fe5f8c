import {
  GetCommand,
  PutCommand,
  QueryCommand,
  TransactWriteCommand,
  type TransactWriteCommandInput,
} from '@aws-sdk/lib-dynamodb';
import {
  COUNTERS,
  LEVEL_COUNTERS,
  type Counter,
  type LevelCounter,
  type MinuteCounts,
  type QueueDelta,
} from '../../../domain/metrics.js';
import type { QueueEntry, QueueStats, QueueStatsRead } from '../../../ports/repositories.js';
import { keys, shardOf, type Key } from '../keys.js';
import type { Table } from '../table.js';

type TransactItem = NonNullable<TransactWriteCommandInput['TransactItems']>[number];

/**
 * SC-1: a queue's counters and minute buckets are spread over this many partitions (a change counts in
 * the shard of its subject: the conversation, or the agent). At 500 changes a second in one queue each
 * shard takes about 60 writes a second; a read sums the shards.
 */
export const STATS_SHARDS = 8;
/** how long a counted change's marker is kept (a stream record is redelivered within 24 hours) */
const SEEN_SECONDS = 24 * 3600;
/** minute buckets outlive the hour they serve */
const MINUTE_SECONDS = 3 * 3600;

const MINUTE_FIELDS = ['answered', 'abandoned', 'waitMs', 'withinServiceLevel'] as const;
/** a wait's entry record outlives any wait worth a position */
const ENTRY_SECONDS = 30 * 24 * 3600;

type Counts = Record<Counter | LevelCounter, number>;
const ALL_COUNTERS = [...COUNTERS, ...LEVEL_COUNTERS];

/** MX-1: the queues' counters, moved by the follow-ups of committed changes. */
export class DynamoQueueStats implements QueueStats {
  constructor(private readonly table: Table) {}

  /**
   * The deltas of one change, with its marker, in one transaction: a marker already there (the
   * change was counted) cancels it, and nothing counts twice. Returns whether it counted.
   */
  async apply(
    org: string,
    marker: string,
    subject: string,
    deltas: readonly QueueDelta[],
    nowSeconds: number,
  ): Promise<boolean> {
    if (!deltas.length) return false;
    const t = this.table.name;
    const shard = shardOf(subject, STATS_SHARDS);
    const items: TransactItem[] = [
      {
        Put: {
          TableName: t,
          Item: { ...keys.statsSeen(org, marker), type: 'stats-seen', expiresAt: nowSeconds + SEEN_SECONDS },
          ConditionExpression: 'attribute_not_exists(PK)',
        },
      },
      ...deltas.flatMap((d) => [
        ...(Object.keys(d.counts).length ? [counterUpdate(t, keys.queueStats(org, d.queueId, shard), org, d)] : []),
        ...(d.minute
          ? [minuteUpdate(t, keys.queueMinute(org, d.queueId, shard, d.minute.at), org, d, nowSeconds)]
          : []),
      ]),
    ];
    try {
      await this.table.doc.send(new TransactWriteCommand({ TransactItems: items }));
      return true;
    } catch (err) {
      const reasons = (err as { CancellationReasons?: { Code?: string }[] }).CancellationReasons;
      if (reasons?.[0]?.Code === 'ConditionalCheckFailed') return false;
      throw err;
    }
  }

  /** the shards' counters summed: one BatchGet */
  async counts(org: string, queueId: string): Promise<Counts> {
    return sum(await this.table.batchGet(shards().map((i) => keys.queueStats(org, queueId, i))));
  }

  /** the shards' counters summed, and the minute buckets from `fromMinute` on: one BatchGet and one query per shard */
  async read(org: string, queueId: string, fromMinute: string): Promise<QueueStatsRead> {
    const [counts, ...buckets] = await Promise.all([
      this.counts(org, queueId),
      ...shards().map((i) =>
        this.table.doc.send(
          new QueryCommand({
            TableName: this.table.name,
            KeyConditionExpression: 'PK = :pk AND SK >= :from',
            ExpressionAttributeValues: {
              ':pk': keys.queueStats(org, queueId, i).PK,
              ':from': keys.queueMinute(org, queueId, i, fromMinute).SK,
            },
            ConsistentRead: true,
          }),
        ),
      ),
    ]);
    const lastHour: MinuteCounts = { answered: 0, abandoned: 0, waitMs: 0, withinServiceLevel: 0 };
    for (const out of buckets)
      for (const item of out.Items ?? []) for (const f of MINUTE_FIELDS) lastHour[f] += Number(item[f] ?? 0);
    return { counts, lastHour };
  }

  /** whether the change `marker` names is counted (a consistent read of its marker) */
  async wasCounted(org: string, marker: string): Promise<boolean> {
    const out = await this.table.doc.send(
      new GetCommand({ TableName: this.table.name, Key: keys.statsSeen(org, marker), ConsistentRead: true }),
    );
    return !!out.Item;
  }

  /** MX-3: a wait's entry, kept unless a later change of the conversation already wrote its own */
  async recordEntry(org: string, entry: QueueEntry, nowSeconds: number): Promise<void> {
    try {
      await this.table.doc.send(
        new PutCommand({
          TableName: this.table.name,
          Item: {
            ...keys.queueEntry(org, entry.conversationId),
            type: 'queue-entry',
            org,
            ...entry,
            expiresAt: nowSeconds + ENTRY_SECONDS,
          },
          ConditionExpression: 'attribute_not_exists(PK) OR version < :v',
          ExpressionAttributeValues: { ':v': entry.version },
        }),
      );
    } catch (err) {
      if ((err as { name?: string }).name !== 'ConditionalCheckFailedException') throw err;
    }
  }

  async entryOf(org: string, conversationId: string): Promise<QueueEntry | undefined> {
    const out = await this.table.doc.send(
      new GetCommand({ TableName: this.table.name, Key: keys.queueEntry(org, conversationId) }),
    );
    if (!out.Item) return undefined;
    const { conversationId: id, version, queueId, priority, enqueuedAt, ahead, left } = out.Item;
    return {
      conversationId: String(id),
      version: Number(version),
      queueId: String(queueId),
      priority: Number(priority),
      enqueuedAt: String(enqueuedAt),
      ahead: Number(ahead),
      left: Number(left),
    };
  }
}

const shards = (): number[] => Array.from({ length: STATS_SHARDS }, (_, i) => i);

function sum(items: readonly Record<string, unknown>[]): Counts {
  const counts = Object.fromEntries(ALL_COUNTERS.map((c) => [c, 0])) as Counts;
  for (const item of items) for (const c of ALL_COUNTERS) counts[c] += Number(item[c] ?? 0);
  return counts;
}

function counterUpdate(table: string, key: Key, org: string, d: QueueDelta): TransactItem {
  const entries = Object.entries(d.counts);
  return {
    Update: {
      TableName: table,
      Key: key,
      UpdateExpression: `ADD ${entries.map((_, i) => `#c${i} :c${i}`).join(', ')} SET #type = :type, #org = :org, #q = :q`,
      ExpressionAttributeNames: {
        ...Object.fromEntries(entries.map(([name], i) => [`#c${i}`, name])),
        '#type': 'type',
        '#org': 'org',
        '#q': 'queueId',
      },
      ExpressionAttributeValues: {
        ...Object.fromEntries(entries.map(([, n], i) => [`:c${i}`, n])),
        ':type': 'queue-stats',
        ':org': org,
        ':q': d.queueId,
      },
    },
  };
}

function minuteUpdate(table: string, key: Key, org: string, d: QueueDelta, nowSeconds: number): TransactItem {
  const entries = Object.entries(d.minute?.add ?? {});
  return {
    Update: {
      TableName: table,
      Key: key,
      UpdateExpression: `ADD ${entries.map((_, i) => `#m${i} :m${i}`).join(', ')} SET #type = :type, #org = :org, #q = :q, #exp = :exp`,
      ExpressionAttributeNames: {
        ...Object.fromEntries(entries.map(([name], i) => [`#m${i}`, name])),
        '#type': 'type',
        '#org': 'org',
        '#q': 'queueId',
        '#exp': 'expiresAt',
      },
      ExpressionAttributeValues: {
        ...Object.fromEntries(entries.map(([, n], i) => [`:m${i}`, n])),
        ':type': 'queue-minute',
        ':org': org,
        ':q': d.queueId,
        ':exp': nowSeconds + MINUTE_SECONDS,
      },
    },
  };
}
