import { SQSClient } from '@aws-sdk/client-sqs';
import { z } from 'zod';
import { LocalScheduler, VirtualClock } from '../../functions/adapters/local-scheduler.js';
import { readConfig, type Config, type LocalJwtConfig, type LogLevel } from '../../functions/config.js';
import * as admin from '../../functions/handlers/http/admin.handler.js';
import * as agents from '../../functions/handlers/http/agents.handler.js';
import * as conversations from '../../functions/handlers/http/conversations.handler.js';
import * as health from '../../functions/handlers/http/health.handler.js';
import { problem, zodFieldErrors } from '../../functions/handlers/http/problem.js';
import * as queues from '../../functions/handlers/http/queues.handler.js';
import { ROUTES } from '../../functions/handlers/http/route-table.js';
import { ROUTE_GROUPS, type RouteGroup } from '../../functions/handlers/http/routes.js';
import * as webhooks from '../../functions/handlers/http/webhooks.handler.js';
import * as ingestConsumer from '../../functions/handlers/sqs/ingest.handler.js';
import * as followUps from '../../functions/handlers/stream/follow-ups.handler.js';
import { createEngineRuntime } from '../../functions/handlers/wiring/engine.js';
import { sweepDueTimers, type FiredTimer } from '../../functions/use-cases/timers.use-case.js';
import type { AddressInfo } from 'node:net';
import { BundlesUnavailableError, importCreateHandler, readBundles } from './bundles.js';
import { ensureTable, startDynamoLocal } from './dynamodb-local.js';
import { startLocalSqs } from './fauxqs.js';
import { createLocalHttpServer, type LambdaHttpHandler, type LocalEndpoint } from './http-server.js';
import { startPoller, type Poller } from './sqs-poller.js';
import { startStreamPoller } from './stream-poller.js';
import { LOOPBACK, TABLE_NAME_LOCAL } from './names.js';

export interface LocalRuntimeOptions {
  /** the HTTP server's port on 127.0.0.1 (a free one if not given) */
  port?: number;
  /** persist DynamoDB Local's data in this folder (in memory otherwise) */
  dataDir?: string;
  /**
   * use this DynamoDB (DynamoDB Local or compatible) instead of starting DynamoDB Local: tests share
   * the one global setup started; `npm start` takes it from DYNAMODB_ENDPOINT. The tables are
   * created there if missing.
   */
  dynamoEndpoint?: string;
  /** the JWT check's secret, issuer and audience; unset, LOCAL_JWT_SECRET, _ISSUER, _AUDIENCE (RL-11) */
  jwt?: Partial<LocalJwtConfig>;
  /** receives this many times before a message goes to the DLQ */
  maxReceiveCount?: number;
  visibilityTimeoutSeconds?: number;
  /** how often due timers are swept in real time (default 1 s) */
  tickMs?: number;
  /** table names (tests give each runtime its own: its sweeper fires every due timer of its table) */
  tableName?: string;
  /** Powertools' log level of the handlers (default: POWERTOOLS_LOG_LEVEL if set, WARN otherwise) */
  logLevel?: LogLevel;
  /** concurrent ingestion batches, one FIFO group each (default 10, see sqs-poller.ts) */
  ingestConcurrency?: number;
  /**
   * run the Lambda bundles of the last `npm run synth` (cdk.out) instead of the TypeScript sources:
   * each handler module's `createHandler` from the bundle of the function built from it, with the
   * same config and overrides. Fails (BundlesUnavailableError) when cdk.out is missing or stale.
   */
  bundles?: boolean;
}

/** Where a handler module runs from: its TypeScript source, or the bundle of a synthesized function. */
export type HandlerOrigin = { from: 'source' } | { from: 'bundle'; function: string; dir: string };

/** What the local runtime hands every handler factory: AWS's configuration, pointing at the local stack. */
export type LocalConfig = Omit<Config, 'scheduler' | 'sweeper' | 'idempotencyTable' | 'localJwt'>;

/** `{ advanceSeconds }`, or `{ at }`: an instant at or after the clock's now (the clock never goes back) */
const clockBody = z.union([
  z
    .object({
      advanceSeconds: z
        .number()
        .min(0)
        .max(365 * 24 * 3600),
    })
    .strict(),
  z.object({ at: z.iso.datetime({ offset: true }) }).strict(),
]);

export interface LocalRuntime {
  url: string;
  dynamoEndpoint: string;
  /** false when it runs on a DynamoDB it was given (`dynamoEndpoint`) */
  startedDynamoLocal: boolean;
  config: LocalConfig;
  sqsEndpoint: string;
  queues: {
    ingest: { url: string; arn: string };
    ingestDlq: { url: string; arn: string };
    outbound: { url: string; arn: string };
  };
  sqs: SQSClient;
  clock: VirtualClock;
  /** moves the virtual clock and fires every timer that falls due (what POST /_local/clock does) */
  advance(seconds: number): Promise<{ now: string; fired: FiredTimer[] }>;
  /**
   * waits until the ingestion queue has nothing visible left to deliver, and the follow-ups of every
   * change committed so far (from the table's stream) have run
   */
  drain(): Promise<void>;
  /** waits until the stream consumer has run the follow-ups of every change committed so far */
  settle(): Promise<void>;
  /** stream records whose follow-ups failed every retry (Lambda's on-failure destination) */
  streamDeadLetters: readonly unknown[];
  /** where each handler module runs from (`http/admin`, `sqs/ingest`, `stream/follow-ups`) */
  handlers: Readonly<Record<string, HandlerOrigin>>;
  stop(): Promise<void>;
}

/**
 * The handler factories the runtime calls: each module's own `createHandler`, or with `bundles` the
 * one exported by the bundle of the synthesized function built from that module (loaded in this
 * process, as Lambda loads index.mjs). The bundle's factory has the source's signature.
 */
async function handlerFactories(bundles: boolean) {
  const synthesized = bundles ? readBundles() : undefined;
  const handlers: Record<string, HandlerOrigin> = {};
  const from = async <F extends (...args: never[]) => unknown>(module: string, source: F): Promise<F> => {
    const fn = synthesized?.functions.get(module);
    if (synthesized && fn) {
      handlers[module] = { from: 'bundle', function: fn.construct, dir: fn.dir };
      return (await importCreateHandler(fn)) as F;
    }
    if (synthesized) {
      throw new BundlesUnavailableError(
        `no function in ${synthesized.outdir} is built from functions/handlers/${module}.handler.ts. Run \`npm run synth\` again.`,
      );
    }
    handlers[module] = { from: 'source' };
    return source;
  };
  return {
    handlers,
    health: await from('http/health', health.createHandler),
    admin: await from('http/admin', admin.createHandler),
    conversations: await from('http/conversations', conversations.createHandler),
    agents: await from('http/agents', agents.createHandler),
    queues: await from('http/queues', queues.createHandler),
    webhooks: await from('http/webhooks', webhooks.createHandler),
    ingest: await from('sqs/ingest', ingestConsumer.createHandler),
    followUps: await from('stream/follow-ups', followUps.createHandler),
  };
}

/**
 * The embedded stack behind `npm start`: DynamoDB Local, fauxqs (SQS, in process), the HTTP server
 * calling the same handler modules as API Gateway, and SQS pollers calling the same consumers as
 * Lambda's event source mappings. Nothing in functions/ knows it runs locally. All three listen on
 * 127.0.0.1 only (RL-10).
 */
export async function startLocalRuntime(options: LocalRuntimeOptions = {}): Promise<LocalRuntime> {
  const stops: (() => Promise<void>)[] = [];
  const stop = async (): Promise<void> => {
    for (const s of stops.reverse()) await s().catch((e: unknown) => console.error('stop failed', e));
    stops.length = 0;
  };
  // before anything starts: a missing or stale cdk.out fails at once
  const factories = await handlerFactories(options.bundles ?? false);
  try {
    let dynamoEndpoint = options.dynamoEndpoint;
    const startedDynamoLocal = !dynamoEndpoint;
    if (!dynamoEndpoint) {
      const ddb = await startDynamoLocal(options.dataDir ? { dataDir: options.dataDir } : {});
      stops.push(ddb.stop);
      dynamoEndpoint = ddb.endpoint;
    }
    const tableName = options.tableName ?? TABLE_NAME_LOCAL;
    await ensureTable(dynamoEndpoint, tableName);

    const fauxqs = await startLocalSqs();
    stops.push(() => fauxqs.stop());
    const dlq = await fauxqs.createQueue('ingest-dlq.fifo', { attributes: { FifoQueue: 'true' } });
    const ingest = await fauxqs.createQueue('ingest.fifo', {
      attributes: {
        FifoQueue: 'true',
        VisibilityTimeout: String(options.visibilityTimeoutSeconds ?? 5),
        RedrivePolicy: JSON.stringify({
          deadLetterTargetArn: dlq.arn,
          maxReceiveCount: String(options.maxReceiveCount ?? 5),
        }),
      },
    });

    const outbound = await fauxqs.createQueue('outbound');
    const region = 'us-east-1';
    const config: LocalConfig = {
      // no CloudWatch or X-Ray here: EMF metrics and traces are AWS-only
      observability: {
        serviceName: 'contact-center-engine',
        metricsNamespace: 'ContactCenterEngine',
        metrics: false,
        tracing: false,
        // quiet by default; bin/local.ts passes POWERTOOLS_LOG_LEVEL on (no environment read here)
        logLevel: options.logLevel ?? 'WARN',
      },
      dynamodb: { region, tableName, endpoint: dynamoEndpoint },
      ingestQueue: { region, url: ingest.url, endpoint: fauxqs.address },
      outboundQueue: { region, url: outbound.url, endpoint: fauxqs.address },
    };
    const clock = new VirtualClock();
    // One sweep at a time: the ticker, the scheduler's wake-ups and /_local/clock queue behind each other.
    let sweeping: Promise<FiredTimer[]> = Promise.resolve([]);
    const sweep = (): Promise<FiredTimer[]> => {
      sweeping = sweeping.catch(() => []).then(() => sweepDueTimers(engine.deps, engine.deps.outbox));
      return sweeping;
    };
    const scheduler = new LocalScheduler(
      clock,
      () => void sweep().catch((e: unknown) => console.error('timer sweep failed', e)),
    );
    // the handlers' EventBridge Scheduler is the local scheduler, on the virtual clock
    const overrides = { clock, scheduler };
    // the sweeper's work, without its grace: what the Sweeper Lambda does, on the virtual clock
    const engine = createEngineRuntime(config, overrides);
    // the table's stream drives the follow-ups, as the FollowUps Lambda's event source mapping does
    const stream = await startStreamPoller(factories.followUps(config, overrides), {
      endpoint: dynamoEndpoint,
      tableName,
    });
    stops.push(() => stream.stop());
    const ticker = setInterval(
      () => void sweep().catch((e: unknown) => console.error('timer sweep failed', e)),
      options.tickMs ?? 1000,
    );
    ticker.unref();
    stops.push(async () => {
      clearInterval(ticker);
      scheduler.close();
      await sweeping.catch(() => undefined);
    });
    const advance = async (seconds: number): Promise<{ now: string; fired: FiredTimer[] }> => {
      // what earlier requests committed has its follow-ups (schedules included) before the time moves
      await stream.settle();
      clock.advance(seconds);
      await sweeping.catch(() => undefined);
      const fired = await sweep();
      // what the fired timers committed has its follow-ups (offers, notifications) before the answer
      await stream.settle();
      return { now: clock.now().toISOString(), fired };
    };
    // Each group's handler from its factory, as each Lambda builds its own from its environment.
    const httpHandlers: Record<RouteGroup, LambdaHttpHandler> = {
      health: factories.health(config),
      admin: factories.admin(config, overrides),
      conversations: factories.conversations(config, overrides),
      agents: factories.agents(config, overrides),
      queues: factories.queues(config, { clock }),
      webhooks: factories.webhooks(config, { clock }),
    };
    const routes = options.bundles
      ? // the routes the stack gives API Gateway (the data-only route table), each to its group's bundle
        ROUTES.map((route) => ({ route, handler: httpHandlers[route.group] }))
      : (Object.keys(ROUTE_GROUPS) as RouteGroup[]).flatMap((group) =>
          ROUTE_GROUPS[group].routes.map((route) => ({ route, handler: httpHandlers[group] })),
        );

    const sqs = new SQSClient({
      region,
      endpoint: fauxqs.address,
      credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
    });
    stops.push(async () => sqs.destroy());
    const poller: Poller = startPoller(sqs, ingest, factories.ingest(config, overrides), 'ingest', {
      concurrency: options.ingestConcurrency ?? 10,
    });
    stops.push(() => poller.stop());

    const local: Record<string, LocalEndpoint> = {
      'POST /_local/clock': async (body) => {
        const parsed = clockBody.safeParse(body);
        if (!parsed.success) {
          throw Object.assign(new Error('invalid'), {
            problem: problem(
              400,
              'give advanceSeconds, a number from 0 to 31536000, or at, an ISO 8601 instant with its offset',
              { type: 'validation', errors: zodFieldErrors(parsed.error) },
            ),
          });
        }
        if ('advanceSeconds' in parsed.data) return advance(parsed.data.advanceSeconds);
        const seconds = (Date.parse(parsed.data.at) - clock.now().getTime()) / 1000;
        if (seconds < 0 || seconds > 365 * 24 * 3600) {
          throw Object.assign(new Error('invalid'), {
            problem: problem(400, `at must be from the clock's now (${clock.now().toISOString()}) to a year later`, {
              type: 'validation',
              errors: [{ field: 'at', message: seconds < 0 ? 'the clock never goes back' : 'more than a year ahead' }],
            }),
          });
        }
        return advance(seconds);
      },
    };
    const jwt = { ...readConfig(['localJwt']).localJwt, ...options.jwt };
    const server = createLocalHttpServer({
      routes,
      jwtSecret: jwt.secret,
      jwtIssuer: jwt.issuer,
      jwtAudience: jwt.audience,
      local,
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(options.port ?? 0, LOOPBACK, () => resolve());
    });
    stops.push(
      () =>
        new Promise<void>((resolve) => {
          server.closeAllConnections();
          server.close(() => resolve());
        }),
    );
    const addr = server.address() as AddressInfo;
    return {
      url: `http://${addr.address}:${addr.port}`,
      dynamoEndpoint,
      startedDynamoLocal,
      config,
      sqsEndpoint: fauxqs.address,
      queues: {
        ingest,
        ingestDlq: dlq,
        outbound,
      },
      sqs,
      clock,
      advance,
      drain: async () => {
        await poller.drain();
        await stream.settle();
      },
      settle: () => stream.settle(),
      streamDeadLetters: stream.deadLetters,
      handlers: factories.handlers,
      stop,
    };
  } catch (err) {
    await stop();
    throw err;
  }
}
