import { DeleteMessageBatchCommand, ReceiveMessageCommand, type Message, type SQSClient } from '@aws-sdk/client-sqs';
import type { Context, SQSBatchResponse, SQSEvent, SQSRecord } from 'aws-lambda';
import { setTimeout as sleep } from 'node:timers/promises';
import { lambdaContext } from './http-server.js';

export type SqsLambdaHandler = (event: SQSEvent, context: Context) => Promise<SQSBatchResponse | void>;

export interface Poller {
  stop(): Promise<void>;
  /** resolves once every message visible now has been handed to the handler (tests use it) */
  drain(): Promise<void>;
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
 */
export function startPoller(
  sqs: SQSClient,
  queue: { url: string; arn: string },
  handler: SqsLambdaHandler,
  name: string,
): Poller {
  let running = true;
  let emptyStreak = 0;
  const loop = (async () => {
    while (running) {
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
      emptyStreak = messages.length === 0 ? emptyStreak + 1 : 0;
      if (messages.length === 0) continue;
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
        await sqs.send(
          new DeleteMessageBatchCommand({
            QueueUrl: queue.url,
            Entries: done.map((m, i) => ({ Id: String(i), ReceiptHandle: m.ReceiptHandle ?? '' })),
          }),
        );
      }
    }
  })();
  return {
    async stop() {
      running = false;
      await loop;
    },
    async drain() {
      // Two empty receives after the call: the second one started after anything sent before it.
      emptyStreak = 0;
      while (running && emptyStreak < 2) await sleep(25);
    },
  };
}
