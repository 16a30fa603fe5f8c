import { GetCommand, TransactWriteCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { setTimeout as sleep } from 'node:timers/promises';
import { performance } from 'node:perf_hooks';
import { ulid } from 'ulid';
import { keys } from '../../functions/adapters/dynamodb/keys.js';
import { buildTransaction } from '../../functions/adapters/dynamodb/transact.js';
import { openConversation } from '../../functions/domain/decide.js';
import type { Workstream } from '../../functions/domain/model.js';
import type { Write } from '../../functions/domain/writes.js';
import { RECEIPT_TTL_SECONDS, type CustomerEvent } from '../../functions/use-cases/customer-event.use-case.js';
import { signBody } from '../../functions/use-cases/ingest-webhook.use-case.js';
import type { BenchRuntime } from './bench-runtime.js';
import { isRead } from './instrument.js';
import { pool, percentile } from './throughput.js';
import { setupOrg, type BenchOrg } from './setup.js';

/** POST /v1/webhooks/{channelId} over HTTP to the local runtime, signed; resolves when the 202 is read. */
export async function postWebhook(rt: BenchRuntime, o: BenchOrg, ws: string, event: CustomerEvent): Promise<number> {
  const raw = JSON.stringify(event);
  const channelId = o.channel[ws] as string;
  const res = await fetch(`${rt.local.url}/v1/webhooks/${channelId}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-signature': signBody(o.secret, raw) },
    body: raw,
  });
  await res.arrayBuffer();
  if (res.status !== 202) throw new Error(`webhook answered ${res.status}`);
  return performance.now();
}

export const startedEvent = (context?: Record<string, string>): CustomerEvent => ({
  eventId: ulid(),
  type: 'conversation.started',
  threadId: ulid(),
  ...(context ? { context } : {}),
});

export interface IngestFigures {
  events: number;
  /** webhooks posted over HTTP this many at a time */
  postConcurrency: number;
  /** ingest batches at once (the SQS poller, one FIFO group each), and the raw baseline's concurrency */
  consumerConcurrency: number;
  eventsPerSecond: number;
  rawPerSecond: number;
  ratio: number;
  /** DynamoDB requests per event on the request path (webhook + consumer), and the raw baseline's */
  engineRequestsPerEvent: number;
  engineReadsPerEvent: number;
  /** ...and in the follow-ups the created conversations caused (the stream consumer) */
  followUpRequestsPerEvent: number;
  rawRequestsPerEvent: number;
  offered: { ratePerSecond: number; events: number; seconds: number; p50Ms: number; p99Ms: number; maxMs: number };
}

/**
 * (4) Conversations created through the ingest path of the local runtime: signed webhook over HTTP
 * (202) -> fauxqs FIFO queue -> the SQS poller -> the ingest consumer -> the conversation committed
 * (seen on the wire); the stream consumer runs the follow-ups beside it. Capacity: a burst of
 * webhooks, events / (last commit - first post). Raw baseline: the same reads (registration,
 * channel, receipt, thread, workstream) and the same transaction, at the consumer's concurrency
 * (the poller's concurrent FIFO groups: every event is a thread of its own). Then an open-loop load
 * at 80 % of that capacity: p99 from the 202 to the committed conversation.
 */
export async function ingest(
  rt: BenchRuntime,
  doc: DynamoDBDocumentClient,
  opts: { events: number; offeredSeconds: number; postConcurrency: number; consumerConcurrency: number },
): Promise<IngestFigures> {
  const o = await setupOrg(rt, doc, {
    queues: ['q1', 'q2', 'q3'],
    agents: 10,
    agentQueues: () => ['q1', 'q2', 'q3'],
    capacity: 3,
    workstreams: [{ id: 'ws-pick', distribution: 'pick', blockCapacity: 5 }],
  });
  const ws = 'ws-pick';
  const channelId = o.channel[ws] as string;
  const committed = (e: CustomerEvent): number | undefined => {
    const id = rt.commits.byThread.get(`${channelId}#${e.threadId}`);
    return id ? rt.commits.createdAt.get(id) : undefined;
  };
  const burst = async (count: number) => {
    const events = Array.from({ length: count }, () => startedEvent());
    let requests = 0;
    let reads = 0;
    let followUps = 0;
    const stop = rt.probe.observe((r) => {
      if (r.phase === 'follow-up') followUps++;
      if (r.phase !== 'request') return;
      requests++;
      if (isRead(r.command)) reads++;
    });
    const t0 = performance.now();
    await pool(events, opts.postConcurrency, async (e) => void (await postWebhook(rt, o, ws, e)));
    const last = await rt.commits.until(
      () =>
        events.every((e) => committed(e) !== undefined)
          ? Math.max(...events.map((e) => committed(e) as number))
          : undefined,
      120_000,
      'the burst to be ingested',
    );
    await rt.local.drain();
    stop();
    return { seconds: (last - t0) / 1000, requests, reads, followUps };
  };

  // raw: the same reads and the same transaction, one event after another
  const wsItem = o.workstream[ws] as Workstream;
  const channel = { org: o.org, id: channelId, kind: 'chat' as const, workstreamId: ws };
  let rawRequests = 0;
  const rawOne = async (): Promise<void> => {
    const e = startedEvent();
    const get = (Key: { PK: string; SK: string }) => {
      rawRequests++;
      return doc.send(new GetCommand({ TableName: rt.table, Key, ConsistentRead: true }));
    };
    await get(keys.channelRegistration(channelId));
    await get(keys.channel(o.org, channelId));
    await get(keys.receipt(o.org, `${channelId}#${e.eventId}`));
    await get(keys.thread(o.org, channelId, e.threadId));
    await get(keys.workstream(o.org, ws));
    const now = rt.local.clock.now();
    const d = openConversation({
      org: o.org,
      id: ulid(),
      ticketId: ulid(),
      channel,
      workstream: wsItem,
      threadId: e.threadId,
      queueId: wsItem.defaultQueueId,
      actor: { role: 'customer', id: `thread:${e.threadId}` },
      previousConversationId: null,
      reason: 'R-1: default queue',
      now,
    });
    const receipt: Write = {
      type: 'receipt',
      org: o.org,
      key: `${channelId}#${e.eventId}`,
      expiresAt: Math.floor(now.getTime() / 1000) + RECEIPT_TTL_SECONDS,
    };
    rawRequests++;
    await doc.send(new TransactWriteCommand(buildTransaction(rt.table, [...d.writes, receipt])));
  };
  const raw = async (count: number): Promise<number> =>
    (await pool(Array.from({ length: count }), opts.consumerConcurrency, rawOne)).seconds;

  // warm-up, then engine and raw in alternating halves (A B B A) so machine noise hits both
  await burst(Math.min(20, opts.events));
  await raw(20);
  rawRequests = 0;
  const halves = [Math.ceil(opts.events / 2), Math.floor(opts.events / 2)] as const;
  const b1 = await burst(halves[0]);
  let rawSeconds = await raw(halves[0]);
  rawSeconds += await raw(halves[1]);
  const b2 = await burst(halves[1]);
  const b = {
    seconds: b1.seconds + b2.seconds,
    requests: b1.requests + b2.requests,
    reads: b1.reads + b2.reads,
    followUps: b1.followUps + b2.followUps,
  };
  const eventsPerSecond = opts.events / b.seconds;
  const rawPerSecond = opts.events / rawSeconds;

  // open loop at 80 % of the capacity just measured
  const rate = 0.8 * eventsPerSecond;
  const count = Math.max(30, Math.round(rate * opts.offeredSeconds));
  const latencies: number[] = [];
  const start = performance.now();
  const inFlight: Promise<void>[] = [];
  for (let i = 0; i < count; i++) {
    const due = start + (i * 1000) / rate;
    const wait = due - performance.now();
    if (wait > 0) await sleep(wait);
    const e = startedEvent();
    inFlight.push(
      postWebhook(rt, o, ws, e).then(async (accepted) => {
        const at = await rt.commits.until(() => committed(e), 120_000, 'an offered event to be ingested');
        latencies.push(at - accepted);
      }),
    );
  }
  await Promise.all(inFlight);
  await rt.local.drain();
  return {
    events: opts.events,
    postConcurrency: opts.postConcurrency,
    consumerConcurrency: opts.consumerConcurrency,
    eventsPerSecond,
    rawPerSecond,
    ratio: eventsPerSecond / rawPerSecond,
    engineRequestsPerEvent: b.requests / opts.events,
    engineReadsPerEvent: b.reads / opts.events,
    followUpRequestsPerEvent: b.followUps / opts.events,
    rawRequestsPerEvent: rawRequests / opts.events,
    offered: {
      ratePerSecond: rate,
      events: count,
      seconds: (performance.now() - start) / 1000,
      p50Ms: percentile(latencies, 50),
      p99Ms: percentile(latencies, 99),
      maxMs: Math.max(...latencies),
    },
  };
}
