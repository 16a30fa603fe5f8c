import { processPartialResponse, SqsFifoPartialProcessorAsync } from '@aws-lambda-powertools/batch';
import { SendMessageBatchCommand, SQSClient } from '@aws-sdk/client-sqs';
import type { SQSEvent, SQSRecord } from 'aws-lambda';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startLocalSqs, type LocalSqs } from '../../bin/local/fauxqs.js';
import { startPoller } from '../../bin/local/sqs-poller.js';
import { eventually } from '../support/e2e.js';

/**
 * The local runtime's SQS poller on a FIFO queue (fauxqs), with a stand-in consumer: what Lambda's
 * event source mapping does for the ingest consumer. Different message groups are handled at once;
 * one group's messages go one batch at a time, in order, and a failure holds back the rest of its
 * group until it comes back.
 */
let fauxqs: LocalSqs;
let sqs: SQSClient;
let queues = 0;
beforeAll(async () => {
  fauxqs = await startLocalSqs();
  sqs = new SQSClient({
    region: 'us-east-1',
    endpoint: fauxqs.address,
    credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
  });
});
afterAll(async () => {
  sqs?.destroy();
  await fauxqs?.stop();
});

const fifoQueue = (visibilityTimeoutSeconds: number): Promise<{ url: string; arn: string }> =>
  fauxqs.createQueue(`poller-${++queues}.fifo`, {
    attributes: { FifoQueue: 'true', VisibilityTimeout: String(visibilityTimeoutSeconds) },
  });

interface Body {
  group: string;
  i: number;
}

async function send(url: string, group: string, count: number): Promise<void> {
  for (let from = 0; from < count; from += 10) {
    const ids = Array.from({ length: Math.min(10, count - from) }, (_, k) => from + k);
    await sqs.send(
      new SendMessageBatchCommand({
        QueueUrl: url,
        Entries: ids.map((i) => ({
          Id: String(i),
          MessageBody: JSON.stringify({ group, i } satisfies Body),
          MessageGroupId: group,
          MessageDeduplicationId: `${group}-${i}`,
        })),
      }),
    );
  }
}

const bodyOf = (r: SQSRecord): Body => JSON.parse(r.body) as Body;

describe('local SQS poller: FIFO groups as Lambda handles them', () => {
  it('handles two groups at once, one batch per group at a time, each group in order', async () => {
    // Prepare: 12 messages in group a, then 12 in group b; each batch takes 100 ms
    const queue = await fifoQueue(30);
    await send(queue.url, 'a', 12);
    await send(queue.url, 'b', 12);
    const batches: { groups: string[]; start: number; end: number }[] = [];
    const handled: Record<string, number[]> = { a: [], b: [] };
    const running = { total: 0, max: 0, a: 0, b: 0, maxPerGroup: 0 };
    const handler = async (event: SQSEvent) => {
      const groups = [...new Set(event.Records.map((r) => bodyOf(r).group))];
      const start = performance.now();
      running.total++;
      running.max = Math.max(running.max, running.total);
      for (const g of groups) {
        running[g as 'a' | 'b']++;
        running.maxPerGroup = Math.max(running.maxPerGroup, running[g as 'a' | 'b']);
      }
      for (const r of event.Records) handled[bodyOf(r).group]!.push(bodyOf(r).i);
      await sleep(100);
      running.total--;
      for (const g of groups) running[g as 'a' | 'b']--;
      batches.push({ groups, start, end: performance.now() });
      return { batchItemFailures: [] };
    };

    // Act
    const poller = startPoller(sqs, queue, handler, 'test', { concurrency: 10 });
    try {
      await poller.drain();
    } finally {
      await poller.stop();
    }

    // Assess: every message once, in order within its group; a and b overlapped; never two batches of one group
    const range = Array.from({ length: 12 }, (_, i) => i);
    expect(handled).toEqual({ a: range, b: range });
    expect(batches.every((b) => b.groups.length === 1)).toBe(true);
    expect(running.maxPerGroup).toBe(1);
    expect(running.max).toBeGreaterThanOrEqual(2);
    const of = (g: string) => batches.filter((b) => b.groups[0] === g);
    const overlaps = of('a').some((x) => of('b').some((y) => x.start < y.end && y.start < x.end));
    expect(overlaps, 'a batch of group a ran while one of group b did').toBe(true);
  });

  it('a failure holds back the rest of its group until it comes back (in order); the other group goes on', async () => {
    // Prepare: groups a and b, 5 messages each; a's message 2 fails the first time it is handled.
    // The consumer is Powertools' FIFO processor, as in the ingest handler: it reports the failed
    // record and the rest of its group as failures.
    const queue = await fifoQueue(2);
    await send(queue.url, 'a', 5);
    await send(queue.url, 'b', 5);
    const applied: { group: string; i: number; at: number }[] = [];
    let failedOnce = false;
    const processor = new SqsFifoPartialProcessorAsync();
    const handler = (event: SQSEvent) =>
      processPartialResponse(
        event,
        async (record: SQSRecord) => {
          const { group, i } = bodyOf(record);
          if (group === 'a' && i === 2 && !failedOnce) {
            failedOnce = true;
            throw new Error('injected failure');
          }
          applied.push({ group, i, at: performance.now() });
        },
        processor,
        { skipGroupOnError: true, throwOnFullBatchFailure: false },
      );

    // Act
    const poller = startPoller(sqs, queue, handler, 'test', { concurrency: 10 });
    try {
      await eventually(async () => applied.filter((x) => x.group === 'a').length === 5, 10_000);
      await poller.drain();
    } finally {
      await poller.stop();
    }

    // Assess: each group applied exactly in order, a's 2, 3, 4 only after the visibility timeout;
    // b was not held back by a's failure
    const order = (g: string) => applied.filter((x) => x.group === g).map((x) => x.i);
    expect(order('a')).toEqual([0, 1, 2, 3, 4]);
    expect(order('b')).toEqual([0, 1, 2, 3, 4]);
    const a2 = applied.find((x) => x.group === 'a' && x.i === 2)!;
    const lastB = Math.max(...applied.filter((x) => x.group === 'b').map((x) => x.at));
    expect(failedOnce).toBe(true);
    expect(lastB, 'group b finished before a failed message came back').toBeLessThan(a2.at);
  });
});
