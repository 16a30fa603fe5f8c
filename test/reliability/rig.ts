import {
  ChangeMessageVisibilityBatchCommand,
  DeleteMessageBatchCommand,
  ReceiveMessageCommand,
  SendMessageCommand,
  SQSClient,
  type Message,
} from '@aws-sdk/client-sqs';
import { QueryCommand, GetCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import type {
  APIGatewayProxyEventV2,
  APIGatewayProxyStructuredResultV2,
  Context,
  SQSBatchResponse,
  SQSEvent,
  SQSRecord,
} from 'aws-lambda';
import { ulid } from 'ulid';

import { ensureTable } from '../../bin/local/dynamodb-local.js';
import { startLocalSqs, type LocalSqs } from '../../bin/local/fauxqs.js';
import { deliverStreamBatch, StreamReader, type StreamLambdaHandler } from '../../bin/local/stream-poller.js';
import { lambdaContext } from '../../bin/local/http-server.js';
import { createDocumentClient } from '../../functions/adapters/dynamodb/client.js';
import {
  createDynamoRepositories,
  type DynamoRepositories,
} from '../../functions/adapters/dynamodb/repositories/index.js';
import * as admin from '../../functions/handlers/http/admin.handler.js';
import * as agents from '../../functions/handlers/http/agents.handler.js';
import * as conversations from '../../functions/handlers/http/conversations.handler.js';
import * as queues from '../../functions/handlers/http/queues.handler.js';
import * as webhooks from '../../functions/handlers/http/webhooks.handler.js';
import * as ingestConsumer from '../../functions/handlers/sqs/ingest.handler.js';
import * as timersConsumer from '../../functions/handlers/sqs/timers.handler.js';
import * as followUps from '../../functions/handlers/stream/follow-ups.handler.js';
import { createEngineRuntime } from '../../functions/handlers/wiring/engine.js';
import { createSqsClient } from '../../functions/handlers/wiring/sqs.js';
import type { Clock } from '../../functions/ports/clock.js';
import { storeFacade, type TestStore } from '../support/store.js';
import type { DueTimer } from '../../functions/ports/due-timer.js';
import type { Write } from '../../functions/domain/writes.js';
import type { CustomerEvent } from '../../functions/use-cases/customer-event.use-case.js';
import type { EngineDeps } from '../../functions/use-cases/engine.js';
import { toQueueMessage } from '../../functions/use-cases/ingest-webhook.use-case.js';
import { sweepDueTimers, type FiredTimer } from '../../functions/use-cases/timers.use-case.js';
import { dynamoEndpoint } from '../support/dynamo.js';

/**
 * The reliability rig: the engine's real handler modules (HTTP groups, the FIFO ingest consumer, the
 * timers consumer) invoked in process, on DynamoDB Local (the run's, from global setup) and an
 * in-process fauxqs (real FIFO queues: groups, deduplication, visibility, redrive). It does what the
 * local runtime does (`bin/local/runtime.ts`), without its real-time poller and ticker, so a test
 * decides exactly when messages are consumed and timers fire, and can break either on purpose:
 *
 * - `consume()` is Lambda's SQS event source mapping, step by step: receive a batch, call the handler,
 *   delete what succeeded, make the reported failures visible again (their visibility timeout elapsed)
 *   and go on until the queue is empty. A fault can crash the consumer mid-batch (after a record's
 *   transaction committed, or before it), or lose the whole batch's response (a Lambda timeout: nothing
 *   is deleted, everything comes back).
 * - `faults` wraps the repositories' `commit`: run another writer right before a chosen transaction (so the
 *   transaction is cancelled by a concurrent writer), or throw after / before it.
 * - the clock is virtual and moves only when told; `advance()` is `rt.advance()`: move it, sweep the
 *   outbox.
 */

/** A clock that moves only when told (the Clock port). */
export class ManualClock implements Clock {
  private t: number;
  constructor(start = Date.now()) {
    this.t = Math.ceil(start / 1000) * 1000;
  }
  now(): Date {
    return new Date(this.t);
  }
  advance(seconds: number): void {
    this.t += Math.round(seconds * 1000);
  }
}

export interface HttpResult {
  status: number;
  body: Record<string, unknown>;
  contentType: string;
  raw: string;
}

export interface Claims {
  org: string;
  sub: string;
  roles: string[];
}

/** One commit hook: `match` picks the transaction; then it runs `before`, or throws before or after it commits. */
export interface CommitHook {
  match: (writes: readonly Write[]) => boolean;
  /** another writer, run to completion right before the matched transaction is sent */
  before?: () => Promise<void>;
  /** 'after': the transaction commits, then the caller sees a crash; 'before': it never reaches DynamoDB */
  crash?: 'after' | 'before';
  /** the hook fires on the n-th matching transaction (1 = the first) */
  nth?: number;
}

export class InjectedCrash extends Error {
  constructor(where: 'after' | 'before') {
    super(`injected crash ${where} commit`);
    this.name = 'InjectedCrash';
  }
}

/** Hooks around the rig's commits (the instance every use case and handler shares). */
export class Faults {
  private hooks: (CommitHook & { seen: number })[] = [];
  /** hooks that fired, by kind */
  fired = { before: 0, crashAfter: 0, crashBefore: 0 };

  /** runs `commit` (the transaction of `writes`) with the first armed hook that matches it */
  async around(writes: readonly Write[], commit: () => Promise<void>): Promise<void> {
    const i = this.hooks.findIndex((h) => h.match(writes) && ++h.seen >= (h.nth ?? 1));
    const hook = i >= 0 ? this.hooks.splice(i, 1)[0] : undefined;
    if (hook?.before) {
      this.fired.before++;
      await hook.before();
    }
    if (hook?.crash === 'before') {
      this.fired.crashBefore++;
      throw new InjectedCrash('before');
    }
    await commit();
    if (hook?.crash === 'after') {
      this.fired.crashAfter++;
      throw new InjectedCrash('after');
    }
  }

  /** arms a hook; `take(handle)` later says whether it fired */
  add(hook: CommitHook): object {
    const h = { ...hook, seen: 0 };
    this.hooks.push(h);
    return h;
  }

  /** removes the hook if it is still armed; true when it fired */
  take(handle: object): boolean {
    const i = this.hooks.indexOf(handle as CommitHook & { seen: number });
    if (i < 0) return true;
    this.hooks.splice(i, 1);
    return false;
  }

  /** drops hooks that never matched (their step is over) */
  clear(): number {
    const n = this.hooks.length;
    this.hooks = [];
    return n;
  }
}

/** The engine's repositories, with the faults around every commit. */
function faultyRepositories(doc: DynamoDBDocumentClient, tableName: string, faults: Faults): DynamoRepositories {
  const repositories = createDynamoRepositories(doc, tableName);
  const { commits } = repositories;
  return { ...repositories, commits: { commit: (writes) => faults.around(writes, () => commits.commit(writes)) } };
}

export type HttpGroup = 'conversations' | 'agents' | 'webhooks' | 'admin' | 'queues';
export type HttpHandler = (
  event: APIGatewayProxyEventV2,
  context: Context,
) => Promise<APIGatewayProxyStructuredResultV2>;
type SqsHandler = (event: SQSEvent, context: Context) => Promise<SQSBatchResponse>;

export interface ConsumeOptions {
  /** crash the consumer mid-batch in the first invocation: the n-th record transaction throws after (or before) committing */
  crash?: { at: number; where: 'after' | 'before' };
  /** the first invocation's response is lost (Lambda timed out): nothing is deleted, the whole batch comes back */
  loseFirstResponse?: boolean;
}

export interface ConsumeReport {
  invocations: number;
  records: number;
  failures: number;
}

export interface Rig {
  endpoint: string;
  tableName: string;
  clock: ManualClock;
  deps: EngineDeps;
  /** every repository of the engine's on one object (the same instances the handlers use) */
  store: TestStore;
  /** a document client of its own on the same table, for the checks (consistent reads) */
  doc: DynamoDBDocumentClient;
  sqs: SQSClient;
  fauxqs: LocalSqs;
  queues: {
    ingest: { url: string; arn: string; name: string };
    ingestDlq: { url: string; name: string };
    outbound: { url: string };
  };
  faults: Faults;
  /** each HTTP group's handler, from its factory (what `http()` calls; a local HTTP server can serve them) */
  handlers: Record<HttpGroup, HttpHandler>;
  /** SendMessage calls the engine's own SQS client made (the webhook handler's), since the start */
  sqsSends: () => number;
  /** DynamoDB write calls (anything but Get/Query/Scan/BatchGet) the engine's repositories made, since the start */
  dynamoWrites: () => number;
  http(
    group: HttpGroup,
    routeKey: string,
    req: {
      params?: Record<string, string>;
      claims?: Claims;
      body?: string;
      headers?: Record<string, string>;
      isBase64Encoded?: boolean;
    },
  ): Promise<HttpResult>;
  consume(options?: ConsumeOptions): Promise<ConsumeReport>;
  /** puts an event on the ingestion queue as the webhook does, but past SQS's deduplication (a late redelivery) */
  redeliver(org: string, channelId: string, event: CustomerEvent): Promise<void>;
  /** messages in the ingestion queue and its DLQ (visible, in flight, delayed) */
  depth(): Promise<{ ingest: number; dlq: number }>;
  /** rt.advance(): moves the virtual clock and sweeps the outbox (then settles the stream) */
  advance(seconds: number): Promise<FiredTimer[]>;
  /**
   * The table stream's event source mapping, step by step: reads what the engine committed and hands
   * it, shard batch by shard batch, to the follow-ups Lambda handler until nothing is left. `http`,
   * `consume`, `advance` and `timersBatch` settle before they return, so a check after a step sees the
   * step's follow-ups done. A record that fails every retry is a finding: settle throws. Answers how
   * many records it read (0: the stream was already quiet).
   */
  settle(): Promise<number>;
  /**
   * the next `crashes` follow-up invocations run, then die (their batch is delivered again: redelivered
   * records); `fired` counts those crashes, `records` the records of their batches (handed over again)
   */
  streamFaults: { crashes: number; fired: number; records: number };
  /** outbox items of an org (due or not) */
  outbox(org: string): Promise<DueTimer[]>;
  /** the timers consumer (EventBridge Scheduler deliveries), with these timers as one batch */
  timersBatch(timers: readonly DueTimer[]): Promise<SQSBatchResponse>;
  stop(): Promise<void>;
}

const toRecord = (m: Message, arn: string): SQSRecord => {
  const a = m.Attributes ?? {};
  return {
    messageId: m.MessageId ?? '',
    receiptHandle: m.ReceiptHandle ?? '',
    body: m.Body ?? '',
    attributes: {
      ApproximateReceiveCount: a.ApproximateReceiveCount ?? '1',
      SentTimestamp: a.SentTimestamp ?? String(Date.now()),
      SenderId: 'local',
      ApproximateFirstReceiveTimestamp: a.ApproximateFirstReceiveTimestamp ?? String(Date.now()),
      ...(a.MessageGroupId ? { MessageGroupId: a.MessageGroupId } : {}),
      ...(a.MessageDeduplicationId ? { MessageDeduplicationId: a.MessageDeduplicationId } : {}),
      ...(a.SequenceNumber ? { SequenceNumber: a.SequenceNumber } : {}),
    },
    messageAttributes: {},
    md5OfBody: m.MD5OfBody ?? '',
    eventSource: 'aws:sqs',
    eventSourceARN: arn,
    awsRegion: 'us-east-1',
  };
};

const WRITE_COMMANDS = /^(Put|Update|Delete|TransactWrite|BatchWrite)/;

/** Starts the rig on a table of its own (its sweeper fires every due timer of its table). */
export async function startRig(): Promise<Rig> {
  const endpoint = dynamoEndpoint();
  const tableName = `rel-${ulid().toLowerCase()}`;
  await ensureTable(endpoint, tableName);

  const fauxqs = await startLocalSqs();
  const dlq = await fauxqs.createQueue('ingest-dlq.fifo', { attributes: { FifoQueue: 'true' } });
  const ingest = await fauxqs.createQueue('ingest.fifo', {
    attributes: {
      FifoQueue: 'true',
      VisibilityTimeout: '300',
      // high: the faults below make records fail on purpose; a record that reaches the DLQ is a finding
      RedrivePolicy: JSON.stringify({ deadLetterTargetArn: dlq.arn, maxReceiveCount: '20' }),
    },
  });
  const outbound = await fauxqs.createQueue('outbound');
  const region = 'us-east-1';
  // what the local runtime hands the handler factories; no scheduler: the outbox is the schedule, and
  // only advance() (the sweeper) or a test fires it
  const config = {
    // as the local runtime: no EMF metrics, no X-Ray
    observability: {
      serviceName: 'contact-center-engine',
      metricsNamespace: 'ContactCenterEngine',
      metrics: false,
      tracing: false,
      ...(process.env.POWERTOOLS_LOG_LEVEL ? {} : { logLevel: 'CRITICAL' as const }),
    },
    dynamodb: { region, tableName, endpoint },
    ingestQueue: { region, url: ingest.url, endpoint: fauxqs.address },
    outboundQueue: { region, url: outbound.url, endpoint: fauxqs.address },
  };

  // The engine's own clients, instrumented through the SDK's middleware stack: every handler shares
  // this store (with the faults around its commit) and this SQS client (webhook enqueue, notifier).
  let writes = 0;
  const engineDoc = createDocumentClient({ endpoint });
  engineDoc.middlewareStack.add(
    (next, context) => async (args) => {
      if (WRITE_COMMANDS.test(String(context.commandName))) writes++;
      return next(args);
    },
    { step: 'initialize', name: 'rigCountWrites' },
  );
  let sends = 0;
  const engineSqs = createSqsClient(config.ingestQueue);
  engineSqs.middlewareStack.add(
    (next, context) => async (args) => {
      if (context.commandName === 'SendMessageCommand') sends++;
      return next(args);
    },
    { step: 'initialize', name: 'rigCountSends' },
  );
  const faults = new Faults();
  const repositories = faultyRepositories(engineDoc, tableName, faults);
  const store = storeFacade(repositories);
  const clock = new ManualClock();
  const overrides = { clock, repositories, sqs: engineSqs };
  const runtime = createEngineRuntime(config, overrides);
  const handlers: Record<HttpGroup, HttpHandler> = {
    admin: admin.createHandler(config, overrides),
    agents: agents.createHandler(config, overrides),
    conversations: conversations.createHandler(config, overrides),
    queues: queues.createHandler(config, { clock, repositories }),
    webhooks: webhooks.createHandler(config, overrides),
  };
  const ingestHandler = ingestConsumer.createHandler(config, overrides) as SqsHandler;
  const followUpsHandler = followUps.createHandler(config, overrides) as StreamLambdaHandler;
  const streamFaults = { crashes: 0, fired: 0, records: 0 };
  const crashingFollowUps: StreamLambdaHandler = async (event, context) => {
    const res = await followUpsHandler(event, context);
    if (streamFaults.crashes > 0) {
      streamFaults.crashes--;
      streamFaults.fired++;
      streamFaults.records += event.Records.length;
      throw new Error('injected crash of the follow-ups consumer after its work');
    }
    return res;
  };
  const reader = await new StreamReader(endpoint, tableName, 1000).open();
  const settle = async (): Promise<number> => {
    let read = 0;
    for (let quiet = 0; quiet < 2;) {
      const batches = await reader.read();
      if (!batches.length) {
        quiet++;
        continue;
      }
      quiet = 0;
      for (const b of batches) {
        read += b.records.length;
        const given = await deliverStreamBatch(crashingFollowUps, b.records, {
          name: 'rig-follow-ups',
          maxAttempts: 10,
          backoffMs: () => 0,
          checkpoint: (n) => reader.checkpoint(b.shardId, n),
          // the injected crashes are expected; anything else is still printed
          report: (message, err) => {
            if (!String(err).includes('injected crash')) console.error(message, err ?? '');
          },
        });
        if (given.length)
          throw new Error(`follow-ups gave up on stream records ${given.map((r) => r.dynamodb?.SequenceNumber)}`);
      }
    }
    return read;
  };
  const timersHandler = timersConsumer.createHandler(config, overrides) as SqsHandler;

  const sqs = new SQSClient({
    region: 'us-east-1',
    endpoint: fauxqs.address,
    credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
  });
  const doc = createDocumentClient({ endpoint });

  const http: Rig['http'] = async (group, routeKey, req) => {
    const [method, path] = routeKey.split(' ') as [string, string];
    const event = {
      version: '2.0',
      routeKey,
      rawPath: path,
      rawQueryString: '',
      headers: req.headers ?? {},
      ...(req.params ? { pathParameters: req.params } : {}),
      ...(req.body !== undefined ? { body: req.body } : {}),
      isBase64Encoded: req.isBase64Encoded ?? false,
      requestContext: {
        accountId: '000000000000',
        apiId: 'rig',
        domainName: 'localhost',
        domainPrefix: 'localhost',
        http: { method, path, protocol: 'HTTP/1.1', sourceIp: '127.0.0.1', userAgent: 'rig' },
        requestId: ulid(),
        routeKey,
        stage: '$default',
        time: new Date().toUTCString(),
        timeEpoch: Date.now(),
        ...(req.claims ? { authorizer: { jwt: { claims: req.claims, scopes: [] } } } : {}),
      },
    } as unknown as APIGatewayProxyEventV2;
    const out = await handlers[group](event, lambdaContext(`rig-${group}`));
    await settle();
    const raw = out.body ?? '';
    let body: Record<string, unknown>;
    try {
      body = raw ? (JSON.parse(raw) as Record<string, unknown>) : {};
    } catch {
      body = { unparsable: raw.slice(0, 200) };
    }
    return { status: out.statusCode ?? 200, body, contentType: String((out.headers ?? {})['content-type'] ?? ''), raw };
  };

  const receive = async (): Promise<Message[]> =>
    (
      await sqs.send(
        new ReceiveMessageCommand({
          QueueUrl: ingest.url,
          MaxNumberOfMessages: 10,
          WaitTimeSeconds: 0,
          MessageSystemAttributeNames: ['All'],
        }),
      )
    ).Messages ?? [];

  const consume: Rig['consume'] = async (options = {}) => {
    const report: ConsumeReport = { invocations: 0, records: 0, failures: 0 };
    let crash = options.crash;
    let lose = options.loseFirstResponse ?? false;
    for (let round = 0; round < 2000; round++) {
      const messages = await receive();
      if (!messages.length) {
        // empty, or what is left is in flight with another consumer (a concurrent step) or blocked behind it (FIFO group)
        const q = await fauxqs.inspectQueue('ingest.fifo');
        const waiting = q ? q.messages.ready.length + q.messages.delayed.length : 0;
        if (waiting === 0) return report;
        await new Promise((r) => setTimeout(r, 5));
        continue;
      }
      // the n-th record transaction of this invocation (a receipt is in every one of them)
      const hook = crash
        ? faults.add({ match: (w) => w.some((x) => x.type === 'receipt'), nth: crash.at, crash: crash.where })
        : undefined;
      const event: SQSEvent = { Records: messages.map((m) => toRecord(m, ingest.arn)) };
      report.invocations++;
      report.records += messages.length;
      const res = await ingestHandler(event, lambdaContext('rig-ingest'));
      if (hook) {
        faults.take(hook);
        crash = undefined;
      }
      const failed = new Set(
        lose ? messages.map((m) => m.MessageId ?? '') : (res?.batchItemFailures ?? []).map((f) => f.itemIdentifier),
      );
      lose = false;
      report.failures += failed.size;
      const done = messages.filter((m) => !failed.has(m.MessageId ?? ''));
      const back = messages.filter((m) => failed.has(m.MessageId ?? ''));
      if (done.length) {
        await sqs.send(
          new DeleteMessageBatchCommand({
            QueueUrl: ingest.url,
            Entries: done.map((m, i) => ({ Id: String(i), ReceiptHandle: m.ReceiptHandle ?? '' })),
          }),
        );
      }
      if (back.length) {
        // their visibility timeout elapses: they come back, in order within their group
        await sqs.send(
          new ChangeMessageVisibilityBatchCommand({
            QueueUrl: ingest.url,
            Entries: back.map((m, i) => ({
              Id: String(i),
              ReceiptHandle: m.ReceiptHandle ?? '',
              VisibilityTimeout: 0,
            })),
          }),
        );
      }
    }
    throw new Error(`the ingestion queue did not drain: records keep failing (${JSON.stringify(await depthOf())})`);
  };
  const consumeAndSettle: Rig['consume'] = async (options) => {
    const report = await consume(options);
    await settle();
    return report;
  };

  const depthOf = async (): Promise<{ ingest: number; dlq: number }> => {
    const count = async (name: string): Promise<number> => {
      const q = await fauxqs.inspectQueue(name);
      return q ? q.messages.ready.length + q.messages.delayed.length + q.messages.inflight.length : 0;
    };
    return { ingest: await count('ingest.fifo'), dlq: await count('ingest-dlq.fifo') };
  };

  const redeliver: Rig['redeliver'] = async (org, channelId, event) => {
    const m = toQueueMessage(org, channelId, event, clock.now());
    await sqs.send(
      new SendMessageCommand({
        QueueUrl: ingest.url,
        MessageBody: m.body,
        MessageGroupId: m.groupId,
        MessageDeduplicationId: `redelivery-${ulid()}`,
      }),
    );
  };

  const advance: Rig['advance'] = async (seconds) => {
    clock.advance(seconds);
    const fired = await sweepDueTimers(runtime.deps, runtime.deps.outbox);
    await settle();
    return fired;
  };

  const outbox: Rig['outbox'] = async (org) => {
    const all = await runtime.deps.outbox.listDueTimers(new Date(clock.now().getTime() + 400 * 24 * 3600 * 1000), 1000);
    return all.filter((t) => t.org === org);
  };

  let timerMessages = 0;
  const timersBatch: Rig['timersBatch'] = async (timers) => {
    const event: SQSEvent = {
      Records: timers.map((t) => ({
        ...toRecord(
          { MessageId: `timer-${++timerMessages}`, ReceiptHandle: `rh-${timerMessages}`, Body: JSON.stringify(t) },
          'arn:aws:sqs:us-east-1:000000000000:timers',
        ),
      })),
    };
    const res = await timersHandler(event, lambdaContext('rig-timers'));
    await settle();
    return res;
  };

  return {
    endpoint,
    tableName,
    clock,
    deps: runtime.deps,
    store,
    doc,
    sqs,
    fauxqs,
    queues: {
      ingest: { ...ingest, name: 'ingest.fifo' },
      ingestDlq: { url: dlq.url, name: 'ingest-dlq.fifo' },
      outbound: { url: outbound.url },
    },
    faults,
    handlers,
    sqsSends: () => sends,
    dynamoWrites: () => writes,
    http,
    consume: consumeAndSettle,
    redeliver,
    depth: depthOf,
    advance,
    settle,
    streamFaults,
    outbox,
    timersBatch,
    async stop() {
      reader.close();
      sqs.destroy();
      doc.destroy();
      await fauxqs.stop();
    },
  };
}

/** Every item of one partition, consistently read (a conversation with its history; an agent with its pools and allocations). */
export async function partition(
  doc: DynamoDBDocumentClient,
  tableName: string,
  pk: string,
): Promise<Record<string, unknown>[]> {
  const items: Record<string, unknown>[] = [];
  let start: Record<string, unknown> | undefined;
  do {
    const out = await doc.send(
      new QueryCommand({
        TableName: tableName,
        KeyConditionExpression: 'PK = :pk',
        ExpressionAttributeValues: { ':pk': pk },
        ConsistentRead: true,
        ExclusiveStartKey: start,
      }),
    );
    items.push(...(out.Items ?? []));
    start = out.LastEvaluatedKey;
  } while (start);
  return items;
}

export async function item(
  doc: DynamoDBDocumentClient,
  tableName: string,
  key: { PK: string; SK: string },
): Promise<Record<string, unknown> | undefined> {
  return (await doc.send(new GetCommand({ TableName: tableName, Key: key, ConsistentRead: true }))).Item;
}
