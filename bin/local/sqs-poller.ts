import { DeleteMessageBatchCommand, ReceiveMessageCommand, type Message, type SQSClient } from '@aws-sdk/client-sqs';
import type { Context, SQSBatchResponse, SQSEvent, SQSRecord } from 'aws-lambda';
import { setTimeout as sleep } from 'node:timers/promises';
import { lambdaContext } from './http-server.js';

export type SqsLambdaHandler = (event: SQSEvent, context: Context) => Promise<SQSBatchResponse | void>;

export interface Poller {
  stop(): Promise<void>;
  /** resolves once every message visible now has been handed to the handler and its batch has finished (tests use it) */
  drain(): Promise<void>;
}

export interface PollerOptions {
  /** handler invocations at once, each with the messages of one FIFO group (default 10) */
  concurrency?: number;
  /** messages per invocation (default 10, as the event source mapping's batch size) */
  batchSize?: number;
}

function toRecord(m: Message, queueArn: string): SQSRecord {
  const a = m.Attributes ?? {};
  return {
    messageId: m.MessageId ?? '',
    receiptHandle: m.ReceiptHandle ?? '',
    body: m.Body ?? '',
    attributes: {
      ApproximateReceiveCount: a.ApproximateReceiveCount ?? '1',
      SentTimestamp: a.SentTimestamp ?? String(Date.now()),
      SenderId: a.SenderId ?? 'local',
      ApproximateFirstReceiveTimestamp: a.ApproximateFirstReceiveTimestamp ?? String(Date.now()),
      ...(a.MessageGroupId ? { MessageGroupId: a.MessageGroupId } : {}),
      ...(a.MessageDeduplicationId ? { MessageDeduplicationId: a.MessageDeduplicationId } : {}),
      ...(a.SequenceNumber ? { SequenceNumber: a.SequenceNumber } : {}),
    },
    messageAttributes: {},
    md5OfBody: m.MD5OfBody ?? '',
    eventSource: 'aws:sqs',
    eventSourceARN: queueArn,
    awsRegion: 'us-east-1',
  };
}

/**
 * Does what Lambda's SQS event source mapping does: long-polls, hands batches to the same consumer
 * handler, deletes what succeeded and leaves the reported failures to reappear after the visibility
 * timeout (and to reach the DLQ after maxReceiveCount).
 *
 * FIFO queues as Lambda scales them: the messages of one group go to one invocation at a time, in
 * order; different groups are handled concurrently (up to `concurrency` invocations), and the
 * poller keeps receiving while batches run. SQS itself returns no further message of a group while
 * one of its messages is in flight, so a failure (its message and the rest of its group stay
 * undeleted) holds that group back until the visibility timeout, while the other groups go on. A
 * group's messages that arrive while its batch runs (a redelivery after the visibility timeout)
 * wait for that batch, then follow in order. (fauxqs hands out one message per group per receive,
 * so locally a group's batches hold one message; SQS gives up to ten.)
 */
export function startPoller(
  sqs: SQSClient,
  queue: { url: string; arn: string },
  handler: SqsLambdaHandler,
  name: string,
  options: PollerOptions = {},
): Poller {
  const concurrency = options.concurrency ?? 10;
  const batchSize = options.batchSize ?? 10;
  let running = true;
  /** received, not yet handed to the handler, by group (in receive order within a group) */
  const waiting = new Map<string, Message[]>();
  /** groups with a batch in the handler */
  const busy = new Set<string>();
  const inFlight = new Set<Promise<void>>();
  /** empty receives since the last received message or finished batch (drain counts them) */
  let emptyStreak = 0;
  let wake: (() => void) | undefined;
  const notify = (): void => {
    wake?.();
    wake = undefined;
  };
  const slotFreed = (): Promise<void> => new Promise((resolve) => (wake = resolve));

  const groupOf = (m: Message): string => m.Attributes?.MessageGroupId ?? `message:${m.MessageId ?? ''}`;

  const runBatch = async (messages: Message[]): Promise<void> => {
    const event: SQSEvent = { Records: messages.map((m) => toRecord(m, queue.arn)) };
    let failed = new Set<string>(event.Records.map((r) => r.messageId));
    try {
      const res = await handler(event, lambdaContext(name));
      failed = new Set((res?.batchItemFailures ?? []).map((f) => f.itemIdentifier));
    } catch (err) {
      console.error(`[${name}] handler threw; the whole batch will be retried`, err);
    }
    const done = messages.filter((m) => !failed.has(m.MessageId ?? ''));
    if (done.length) {
      try {
        await sqs.send(
          new DeleteMessageBatchCommand({
            QueueUrl: queue.url,
            Entries: done.map((m, i) => ({ Id: String(i), ReceiptHandle: m.ReceiptHandle ?? '' })),
          }),
        );
      } catch (err) {
        if (running) console.error(`[${name}] delete failed; those messages will be delivered again`, err);
      }
    }
  };

  /** Starts a batch for every waiting group that is not busy, while there is a free slot. */
  const dispatch = (): void => {
    if (!running) return;
    for (const [group, messages] of waiting) {
      if (busy.size >= concurrency) return;
      if (busy.has(group)) continue;
      const batch = messages.splice(0, batchSize);
      if (!messages.length) waiting.delete(group);
      busy.add(group);
      const p: Promise<void> = runBatch(batch).finally(() => {
        busy.delete(group);
        inFlight.delete(p);
        emptyStreak = 0;
        dispatch();
        notify();
      });
      inFlight.add(p);
    }
  };

  const waitingCount = (): number => [...waiting.values()].reduce((n, ms) => n + ms.length, 0);

  const loop = (async () => {
    while (running) {
      // receive only with a free slot and nothing left over: a received message's visibility timeout is running
      if (busy.size >= concurrency || waitingCount() >= batchSize) {
        await slotFreed();
        continue;
      }
      let messages: Message[];
      try {
        const out = await sqs.send(
          new ReceiveMessageCommand({
            QueueUrl: queue.url,
            MaxNumberOfMessages: 10,
            WaitTimeSeconds: 1,
            MessageSystemAttributeNames: ['All'],
          }),
        );
        messages = out.Messages ?? [];
      } catch (err) {
        if (!running) break;
        console.error(`[${name}] receive failed`, err);
        await sleep(500);
        continue;
      }
      if (messages.length === 0) {
        emptyStreak++;
        continue;
      }
      emptyStreak = 0;
      for (const m of messages) {
        const group = groupOf(m);
        const list = waiting.get(group);
        if (list) list.push(m);
        else waiting.set(group, [m]);
      }
      dispatch();
    }
  })();

  return {
    async stop() {
      running = false;
      notify();
      await loop;
      while (inFlight.size) await Promise.allSettled([...inFlight]);
    },
    async drain() {
      // Two empty receives, with nothing running or waiting: the second one started after anything
      // sent before this call, and after the last batch deleted (and so released) its messages.
      emptyStreak = 0;
      while (running && (emptyStreak < 2 || busy.size > 0 || waiting.size > 0)) await sleep(25);
    },
  };
}
