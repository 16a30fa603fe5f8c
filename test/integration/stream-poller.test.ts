import { PutCommand } from '@aws-sdk/lib-dynamodb';
import type { DynamoDBBatchResponse, DynamoDBRecord } from 'aws-lambda';
import { setTimeout as sleep } from 'node:timers/promises';
import { ulid } from 'ulid';
import { describe, expect, it } from 'vitest';
import { ShardLanes, startStreamPoller } from '../../bin/local/stream-poller.js';
import { createDocumentClient } from '../../functions/adapters/dynamodb/client.js';
import { TEST_TABLE, dynamoEndpoint } from '../support/dynamo.js';

/**
 * The local runtime's stream poller does what Lambda's event source mapping does with
 * ParallelizationFactor 4: batches of one shard at once, each partition key's records in order,
 * every record delivered once (again only from a failed record on), and a checkpoint that never
 * passes a record whose batch has not finished.
 */

const pkOf = (r: DynamoDBRecord): string => r.dynamodb?.Keys?.PK?.S ?? '';
const nOf = (r: DynamoDBRecord): number => Number(r.dynamodb?.NewImage?.n?.N);
const seqOf = (r: DynamoDBRecord): string => r.dynamodb?.SequenceNumber ?? '';

/** Items of this test's own partition keys (the table is shared with other test files: their records pass through). */
async function writeItems(prefix: string, keys: number, perKey: number): Promise<void> {
  const doc = createDocumentClient({ endpoint: dynamoEndpoint() });
  try {
    for (let n = 0; n < perKey; n++) {
      await Promise.all(
        Array.from({ length: keys }, (_, k) =>
          doc.send(
            new PutCommand({
              TableName: TEST_TABLE,
              Item: { PK: `${prefix}#K${k}`, SK: 'ITEM', type: 'poller-test', n },
            }),
          ),
        ),
      );
    }
  } finally {
    doc.destroy();
  }
}

describe('the local stream poller (Lambda event source mapping, ParallelizationFactor 4)', () => {
  it('delivers batches of a shard side by side, each partition key in order, every record once; a failed record comes again with what follows it on its key', async () => {
    // Prepare: a handler that takes its time, and fails once on the third write of key K1
    const prefix = `POLLER#${ulid()}`;
    const ours = (r: DynamoDBRecord): boolean => pkOf(r).startsWith(prefix);
    const delivered: DynamoDBRecord[] = [];
    let inFlight = 0;
    let maxInFlight = 0;
    let failedOnce = false;
    const handler = async (event: { Records: DynamoDBRecord[] }): Promise<DynamoDBBatchResponse> => {
      const mine = event.Records.filter(ours);
      if (!mine.length) return { batchItemFailures: [] };
      inFlight++;
      maxInFlight = Math.max(maxInFlight, inFlight);
      try {
        await sleep(60);
        const failing = mine.find((r) => pkOf(r) === `${prefix}#K1` && nOf(r) === 2);
        if (failing && !failedOnce) {
          failedOnce = true;
          delivered.push(...mine.slice(0, mine.indexOf(failing)));
          return { batchItemFailures: [{ itemIdentifier: seqOf(failing) }] };
        }
        delivered.push(...mine);
        return { batchItemFailures: [] };
      } finally {
        inFlight--;
      }
    };
    const poller = await startStreamPoller(handler, {
      endpoint: dynamoEndpoint(),
      tableName: TEST_TABLE,
      name: 'poller-test',
    });
    try {
      // Act: 8 keys x 6 writes, in rounds
      await writeItems(prefix, 8, 6);
      await poller.settle();
    } finally {
      await poller.stop();
    }

    // Assess: each record once, each key's writes in the order they committed, batches side by side
    expect(failedOnce).toBe(true);
    expect(delivered).toHaveLength(48);
    expect(new Set(delivered.map(seqOf)).size).toBe(48);
    for (let k = 0; k < 8; k++) {
      const ofKey = delivered.filter((r) => pkOf(r) === `${prefix}#K${k}`).map(nOf);
      expect(ofKey, `key K${k}`).toEqual([0, 1, 2, 3, 4, 5]);
    }
    expect(maxInFlight).toBeGreaterThan(1);
    expect(maxInFlight).toBeLessThanOrEqual(4);
    expect(poller.deadLetters.filter(ours)).toEqual([]);
  });

  it("the shard's checkpoint only moves past records whose batch is done, whatever the other lanes did", () => {
    // Prepare: six records of one shard over two partition keys
    const checkpoints: string[] = [];
    const shard = new ShardLanes(4, (s) => checkpoints.push(s));
    const record = (pk: string, n: number): DynamoDBRecord => ({
      dynamodb: { Keys: { PK: { S: pk } }, SequenceNumber: String(100 + n) },
    });
    const records = [record('A', 1), record('B', 2), record('A', 3), record('B', 4), record('A', 5), record('B', 6)];
    const lanes = shard.add(records);
    const laneOf = (pk: string) => lanes.find((l) => l.queue.some((r) => pkOf(r) === pk));
    const a = laneOf('A');
    const b = laneOf('B');

    // Assess: one key, one lane, in order
    expect(a?.queue.map(seqOf)).toEqual(['101', '103', '105']);
    expect(b?.queue.map(seqOf)).toEqual(['102', '104', '106']);
    expect(a).not.toBe(b);
    expect(shard.pending).toBe(6);

    // Act / Assess: B's lane finishes first: nothing passes 101, still being delivered
    shard.done(records.filter((r) => pkOf(r) === 'B'));
    expect(checkpoints).toEqual([]);
    // A's first record is done: up to 102 (103 is not)
    shard.done([records[0] as DynamoDBRecord]);
    expect(checkpoints).toEqual(['102']);
    // the rest of A: everything
    shard.done([records[2] as DynamoDBRecord, records[4] as DynamoDBRecord]);
    expect(checkpoints).toEqual(['102', '106']);
    expect(shard.pending).toBe(0);
  });
});
