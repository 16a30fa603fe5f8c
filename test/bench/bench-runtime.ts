import { SQSClient } from '@aws-sdk/client-sqs';
import type { APIGatewayProxyStructuredResultV2, Context, SQSBatchResponse, SQSEvent, SQSRecord } from 'aws-lambda';
import { randomUUID } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import { ensureTable } from '../../bin/local/dynamodb-local.js';
import { startLocalSqs } from '../../bin/local/fauxqs.js';
import {
  createLocalHttpServer,
  DEFAULT_LOCAL_JWT_SECRET,
  lambdaContext,
  type LambdaHttpHandler,
} from '../../bin/local/http-server.js';
import type { LocalConfig } from '../../bin/local/runtime.js';
import { startPoller } from '../../bin/local/sqs-poller.js';
import { createDocumentClient } from '../../functions/adapters/dynamodb/client.js';
import { createDynamoRepositories } from '../../functions/adapters/dynamodb/repositories/index.js';
import { storeFacade, type TestStore } from '../support/store.js';
import { VirtualClock } from '../../functions/adapters/local-scheduler.js';
import type { TimerRequest } from '../../functions/domain/writes.js';
import * as adminHandler from '../../functions/handlers/http/admin.handler.js';
import * as agentsHandler from '../../functions/handlers/http/agents.handler.js';
import * as conversationsHandler from '../../functions/handlers/http/conversations.handler.js';
import * as queuesHandler from '../../functions/handlers/http/queues.handler.js';
import { ROUTE_GROUPS } from '../../functions/handlers/http/routes.js';
import * as webhooksHandler from '../../functions/handlers/http/webhooks.handler.js';
import * as sweeperHandler from '../../functions/handlers/scheduler/sweeper.handler.js';
import * as ingestHandler from '../../functions/handlers/sqs/ingest.handler.js';
import * as timersHandler from '../../functions/handlers/sqs/timers.handler.js';
import * as followUpsHandler from '../../functions/handlers/stream/follow-ups.handler.js';
import type { EngineOverrides } from '../../functions/handlers/wiring/engine.js';
import type { Scheduler } from '../../functions/ports/scheduler.js';
import type { CustomerEvent } from '../../functions/use-cases/customer-event.use-case.js';
import { signBody, toQueueMessage } from '../../functions/use-cases/ingest-webhook.use-case.js';
import { CommitLog } from './commits.js';
import { attachFollowUps, type FollowUps } from './follow-ups.js';
import { probe, probeSqs, type Probe } from './instrument.js';
import { currentPhase, currentTag, inPhase } from './phases.js';

type HttpHandler = (event: never, context: Context) => Promise<APIGatewayProxyStructuredResultV2>;
type SqsHandler = (event: SQSEvent, context: Context) => Promise<SQSBatchResponse>;

export interface HttpResult {
  status: number;
  body: Record<string, unknown>;
}

export interface Claims {
  org: string;
  sub: string;
  roles: string[];
}

/**
 * The engine's public entry points, called the way AWS calls them: the HTTP Lambda handlers with
 * API Gateway (HTTP API, JWT authorizer) events, the SQS consumers with SQS events. Nothing here
 * reaches past a handler.
 */
export interface Entry {
  http(
    group: keyof Handlers,
    routeKey: string,
    params: Record<string, string>,
    claims?: Claims,
    body?: unknown,
    headers?: Record<string, string>,
    /** the query string's parameters (API Gateway's queryStringParameters) */
    query?: Record<string, string>,
  ): Promise<HttpResult>;
  /** POST /v1/conversations/{id}/actions/{action} as agent `agentId` */
  action(org: string, agentId: string, conversationId: string, action: string, body?: unknown): Promise<HttpResult>;
  /** POST /v1/webhooks/{channelId}, signed; its SQS message goes to the runtime's ingest queue */
  webhook(channelId: string, secret: string, event: CustomerEvent): Promise<HttpResult>;
  /** the ingest consumer with the very message the webhook would have queued (bypassing the queue) */
  ingest(org: string, channelId: string, event: CustomerEvent): Promise<SQSBatchResponse>;
  /** the timers consumer with what EventBridge Scheduler delivers for `timer` */
  timer(timer: TimerRequest & { name: string }): Promise<SQSBatchResponse>;
  /** the sweeper (EventBridge Scheduler's every-minute rule) */
  sweep(): Promise<{ fired: number }>;
}

interface Handlers {
  conversations: HttpHandler;
  webhooks: HttpHandler;
  admin: HttpHandler;
  agents: HttpHandler;
  queues: HttpHandler;
}

/** What the bench's local stack offers the sections (the shape of bin/local/runtime.ts's LocalRuntime it uses). */
export interface BenchLocal {
  /** the HTTP server (API Gateway's stand-in) */
  url: string;
  clock: VirtualClock;
  /** the ingestion queue has nothing visible left, and the follow-ups of every committed change ran */
  drain(): Promise<void>;
}

export interface BenchRuntime {
  local: BenchLocal;
  table: string;
  /** the repositories every handler was given (on the probed DynamoDB client), on one object */
  store: TestStore;
  probe: Probe;
  commits: CommitLog;
  followUps: FollowUps;
  entry: Entry;
  /** the ingest queue's consumer (the SQS poller's invocations) waits while `fn` runs */
  holdingIngest<T>(fn: () => Promise<T>): Promise<T>;
  /** CreateSchedule calls the follow-ups made (EventBridge Scheduler's stand-in records them, delivers nothing) */
  schedules: number;
  stop(): Promise<void>;
}

export interface BenchRuntimeOptions {
  /** concurrent ingest batches, one FIFO group each (the local runtime's default: 10) */
  ingestConcurrency?: number;
}

/**
 * The local stack as bin/local/runtime.ts composes it (fauxqs SQS, the HTTP server, the SQS poller,
 * the table's stream driving the follow-ups handler), with every handler built by its own factory,
 * `createHandler(config, overrides)`, and one override for all of them: a store on the bench's
 * probed DynamoDB client (and the probed SQS client for the webhook and the notifier). Every
 * handler invocation is tagged 'request'; the stream consumer's are tagged in follow-ups.ts.
 *
 * Timers: EventBridge Scheduler's stand-in records the follow-ups' CreateSchedule calls and
 * delivers nothing; the sections deliver due timers themselves through the timers consumer (as
 * Scheduler would) and run the sweeper themselves, so nothing fires behind a measurement's back.
 */
export async function startBenchRuntime(
  dynamoEndpoint: string,
  table: string,
  options: BenchRuntimeOptions = {},
): Promise<BenchRuntime> {
  const stops: (() => Promise<void>)[] = [];
  const stop = async (): Promise<void> => {
    for (const s of stops.reverse()) await s().catch((e: unknown) => console.error('[bench] stop failed', e));
    stops.length = 0;
  };
  try {
    await ensureTable(dynamoEndpoint, table);
    const fauxqs = await startLocalSqs();
    stops.push(() => fauxqs.stop());
    const dlq = await fauxqs.createQueue('ingest-dlq.fifo', { attributes: { FifoQueue: 'true' } });
    const ingestQueue = await fauxqs.createQueue('ingest.fifo', {
      attributes: {
        FifoQueue: 'true',
        // long enough for a batch held by holdingIngest() not to reappear meanwhile
        VisibilityTimeout: '60',
        RedrivePolicy: JSON.stringify({ deadLetterTargetArn: dlq.arn, maxReceiveCount: '5' }),
      },
    });
    const outbound = await fauxqs.createQueue('outbound');
    const region = 'us-east-1';
    const config: LocalConfig = {
      observability: {
        serviceName: 'contact-center-engine',
        metricsNamespace: 'ContactCenterEngine',
        metrics: false,
        tracing: false,
        logLevel: 'ERROR',
      },
      dynamodb: { region, tableName: table, endpoint: dynamoEndpoint },
      ingestQueue: { region, url: ingestQueue.url, endpoint: fauxqs.address },
      outboundQueue: { region, url: outbound.url, endpoint: fauxqs.address },
    };

    // one probed DynamoDB client (and SQS client) under every handler's store (and notifier / webhook)
    const doc = createDocumentClient({ endpoint: dynamoEndpoint });
    stops.push(async () => doc.destroy());
    const p = probe(doc);
    const repositories = createDynamoRepositories(doc, table);
    const store = storeFacade(repositories);
    const sqs = new SQSClient({
      region,
      endpoint: fauxqs.address,
      credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
    });
    stops.push(async () => sqs.destroy());
    probeSqs(sqs);
    const clock = new VirtualClock();
    let schedules = 0;
    const scheduler: Scheduler = {
      async schedule(timers) {
        schedules += timers.length;
        currentTag()?.scope?.records.push({
          service: 'scheduler',
          command: 'CreateScheduleCommand',
          phase: currentTag()?.phase ?? 'background',
          start: performance.now(),
          end: performance.now(),
          ok: true,
          transactItems: 0,
          rcu: 0,
          wcu: 0,
        });
      },
    };
    const overrides: EngineOverrides = { clock, scheduler, repositories, sqs };

    /** an invocation of a handler: tagged 'request' (the bench's own setup stays 'setup'), in the caller's scope if any */
    const invoked =
      <E, R>(h: (e: E, c: Context) => Promise<R>) =>
      (e: E, c: Context): Promise<R> =>
        inPhase(currentPhase() === 'setup' ? 'setup' : 'request', () => h(e, c));
    const handlers: Handlers = {
      conversations: invoked(conversationsHandler.createHandler(config, overrides)) as HttpHandler,
      webhooks: invoked(webhooksHandler.createHandler(config, { clock, repositories, sqs })) as HttpHandler,
      admin: invoked(adminHandler.createHandler(config, overrides)) as HttpHandler,
      agents: invoked(agentsHandler.createHandler(config, overrides)) as HttpHandler,
      // a function that only reads the table: the probed repositories and the virtual clock
      queues: invoked(queuesHandler.createHandler(config, { repositories, clock })) as HttpHandler,
    };
    const ingest = invoked(ingestHandler.createHandler(config, overrides) as unknown as SqsHandler);
    const timers = invoked(timersHandler.createHandler(config, overrides) as unknown as SqsHandler);
    const sweeper = invoked(
      sweeperHandler.createHandler({ ...config, sweeper: { graceSeconds: 120 } }, overrides) as unknown as (
        e: unknown,
        c: Context,
      ) => Promise<{ fired: number }>,
    );

    // the table's stream drives the follow-ups handler, as the FollowUps Lambda's event source mapping does
    const followUps = await attachFollowUps({
      endpoint: dynamoEndpoint,
      table,
      handler: followUpsHandler.createHandler(config, overrides),
    });
    stops.push(() => followUps.stop());
    const commits = new CommitLog(p);

    // the SQS event source mapping of the ingest consumer (its own client: Lambda's polling is not the engine's)
    let hold: Promise<void> | undefined;
    const pollerSqs = new SQSClient({
      region,
      endpoint: fauxqs.address,
      credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
    });
    stops.push(async () => pollerSqs.destroy());
    const poller = startPoller(
      pollerSqs,
      ingestQueue,
      async (e, c) => {
        while (hold) await hold;
        return ingest(e, c);
      },
      'ingest',
      { concurrency: options.ingestConcurrency ?? 10 },
    );
    stops.push(() => poller.stop());

    // API Gateway's stand-in, for the sections that post webhooks over HTTP
    const routes = (Object.keys(handlers) as (keyof Handlers)[]).flatMap((group) =>
      ROUTE_GROUPS[group].routes.map((route) => ({ route, handler: handlers[group] as LambdaHttpHandler })),
    );
    const server = createLocalHttpServer({ routes, jwtSecret: DEFAULT_LOCAL_JWT_SECRET });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(0, '127.0.0.1', () => resolve());
    });
    stops.push(
      () =>
        new Promise<void>((resolve) => {
          server.closeAllConnections();
          server.close(() => resolve());
        }),
    );
    const addr = server.address() as AddressInfo;

    const http: Entry['http'] = async (group, routeKey, params, claims, body, headers = {}, query = {}) => {
      const [method, path] = routeKey.split(' ') as [string, string];
      const raw = body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body);
      const event = {
        version: '2.0',
        routeKey,
        rawPath: path.replace(/\{(\w+)\}/g, (_m, k: string) => params[k] ?? ''),
        rawQueryString: new URLSearchParams(query).toString(),
        headers: { ...(raw !== undefined ? { 'content-type': 'application/json' } : {}), ...headers },
        pathParameters: params,
        ...(Object.keys(query).length ? { queryStringParameters: query } : {}),
        isBase64Encoded: false,
        ...(raw !== undefined ? { body: raw } : {}),
        requestContext: {
          http: { method },
          ...(claims ? { authorizer: { jwt: { claims, scopes: [] } } } : {}),
        },
      };
      const r = await handlers[group](event as never, lambdaContext(`http-${group}`));
      return { status: r.statusCode ?? 200, body: r.body ? (JSON.parse(r.body) as Record<string, unknown>) : {} };
    };
    const record = (body: string, groupId?: string): SQSRecord => ({
      messageId: randomUUID(),
      receiptHandle: randomUUID(),
      body,
      attributes: {
        ApproximateReceiveCount: '1',
        SentTimestamp: String(Date.now()),
        SenderId: 'bench',
        ApproximateFirstReceiveTimestamp: String(Date.now()),
        ...(groupId ? { MessageGroupId: groupId } : {}),
      },
      messageAttributes: {},
      md5OfBody: '',
      eventSource: 'aws:sqs',
      eventSourceARN: 'arn:aws:sqs:us-east-1:000000000000:bench',
      awsRegion: 'us-east-1',
    });
    const entry: Entry = {
      http,
      action: (org, agentId, conversationId, action, body) =>
        http(
          'conversations',
          'POST /v1/conversations/{id}/actions/{action}',
          { id: conversationId, action },
          { org, sub: agentId, roles: ['agent'] },
          body,
        ),
      webhook: (channelId, secret, event) => {
        const raw = JSON.stringify(event);
        return http('webhooks', 'POST /v1/webhooks/{channelId}', { channelId }, undefined, raw, {
          'x-signature': signBody(secret, raw),
        });
      },
      ingest: (org, channelId, event) => {
        const m = toQueueMessage(org, channelId, event, clock.now());
        return ingest({ Records: [record(m.body, m.groupId)] }, lambdaContext('sqs-ingest'));
      },
      timer: (t) => timers({ Records: [record(JSON.stringify(t))] }, lambdaContext('sqs-timers')),
      sweep: () => sweeper({}, lambdaContext('sweeper')),
    };
    const rt: BenchRuntime = {
      local: {
        url: `http://${addr.address}:${addr.port}`,
        clock,
        drain: async () => {
          await poller.drain();
          await followUps.settle();
        },
      },
      table,
      store,
      probe: p,
      commits,
      followUps,
      entry,
      async holdingIngest(fn) {
        let release = (): void => undefined;
        hold = new Promise<void>((resolve) => (release = resolve));
        try {
          return await fn();
        } finally {
          hold = undefined;
          release();
        }
      },
      get schedules() {
        return schedules;
      },
      stop,
    };
    return rt;
  } catch (err) {
    await stop();
    throw err;
  }
}
