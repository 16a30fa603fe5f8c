import { SQSClient } from '@aws-sdk/client-sqs';
import { startFauxqs } from 'fauxqs';
import { z } from 'zod';
import { LocalScheduler, VirtualClock } from '../../functions/adapters/local-scheduler.js';
import { problem, zodFieldErrors } from '../../functions/handlers/http/problem.js';
import type { FiredTimer } from '../../functions/use-cases/timers.use-case.js';
import type { AddressInfo } from 'node:net';
import { IDEMPOTENCY_TABLE_NAME_LOCAL, TABLE_NAME_LOCAL } from './names.js';
import { ensureIdempotencyTable, ensureTable, startDynamoLocal } from './dynamodb-local.js';
import {
  createLocalHttpServer,
  DEFAULT_LOCAL_JWT_SECRET,
  type LambdaHttpHandler,
  type LocalEndpoint,
} from './http-server.js';
import { startPoller, type Poller } from './sqs-poller.js';

export interface LocalRuntimeOptions {
  port?: number;
  host?: string;
  /** persist DynamoDB Local's data in this folder (in memory otherwise) */
  dataDir?: string;
  /** reuse a running DynamoDB Local (tests share the one started by global setup) */
  dynamoEndpoint?: string;
  jwtSecret?: string;
  /** receives this many times before a message goes to the DLQ */
  maxReceiveCount?: number;
  visibilityTimeoutSeconds?: number;
  /** how often due timers are swept in real time (default 1 s) */
  tickMs?: number;
  /** table names (tests give each runtime its own: its sweeper fires every due timer of its table) */
  tableName?: string;
}

const clockBody = z
  .object({
    advanceSeconds: z
      .number()
      .min(0)
      .max(365 * 24 * 3600),
  })
  .strict();

export interface LocalRuntime {
  url: string;
  dynamoEndpoint: string;
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
  /** waits until the ingestion queue has nothing visible left to deliver */
  drain(): Promise<void>;
  stop(): Promise<void>;
}

/**
 * The embedded stack behind `npm start`: DynamoDB Local, fauxqs (SQS, in process), the HTTP server
 * calling the same handler modules as API Gateway, and SQS pollers calling the same consumers as
 * Lambda's event source mappings. Nothing in functions/ knows it runs locally.
 */
export async function startLocalRuntime(options: LocalRuntimeOptions = {}): Promise<LocalRuntime> {
  const stops: (() => Promise<void>)[] = [];
  const stop = async (): Promise<void> => {
    for (const s of stops.reverse()) await s().catch((e: unknown) => console.error('stop failed', e));
    stops.length = 0;
  };
  try {
    let dynamoEndpoint = options.dynamoEndpoint;
    if (!dynamoEndpoint) {
      const ddb = await startDynamoLocal(options.dataDir ? { dataDir: options.dataDir } : {});
      stops.push(ddb.stop);
      dynamoEndpoint = ddb.endpoint;
    }
    const tableName = options.tableName ?? TABLE_NAME_LOCAL;
    const idempotencyTableName = options.tableName ? `${options.tableName}-idempotency` : IDEMPOTENCY_TABLE_NAME_LOCAL;
    await ensureTable(dynamoEndpoint, tableName);
    await ensureIdempotencyTable(dynamoEndpoint, idempotencyTableName);

    const fauxqs = await startFauxqs({ port: 0, logger: false, host: '127.0.0.1' });
    stops.push(() => fauxqs.stop());
    const dlq = fauxqs.createQueue('ingest-dlq.fifo', { attributes: { FifoQueue: 'true' } });
    const ingest = fauxqs.createQueue('ingest.fifo', {
      attributes: {
        FifoQueue: 'true',
        VisibilityTimeout: String(options.visibilityTimeoutSeconds ?? 5),
        RedrivePolicy: JSON.stringify({
          deadLetterTargetArn: dlq.queueArn,
          maxReceiveCount: String(options.maxReceiveCount ?? 5),
        }),
      },
    });

    const outbound = fauxqs.createQueue('outbound');
    Object.assign(process.env, {
      AWS_REGION: process.env.AWS_REGION ?? 'us-east-1',
      TABLE_NAME: tableName,
      IDEMPOTENCY_TABLE_NAME: idempotencyTableName,
      DYNAMODB_ENDPOINT: dynamoEndpoint,
      SQS_ENDPOINT: fauxqs.address,
      INGEST_QUEUE_URL: ingest.queueUrl,
      OUTBOUND_QUEUE_URL: outbound.queueUrl,
      POWERTOOLS_LOG_LEVEL: process.env.POWERTOOLS_LOG_LEVEL ?? 'WARN',
      // no CloudWatch or X-Ray here: EMF metrics and traces are AWS-only
      POWERTOOLS_METRICS_DISABLED: 'true',
      POWERTOOLS_TRACE_ENABLED: 'false',
    });
    // Handler modules read their configuration lazily, after the variables above exist.
    const { configureRuntime, getRuntime } = await import('../../functions/handlers/runtime.js');
    const { sweepDueTimers } = await import('../../functions/use-cases/timers.use-case.js');
    const clock = new VirtualClock();
    // One sweep at a time: the ticker, the scheduler's wake-ups and /_local/clock queue behind each other.
    let sweeping: Promise<FiredTimer[]> = Promise.resolve([]);
    const sweep = (): Promise<FiredTimer[]> => {
      sweeping = sweeping.catch(() => []).then(() => sweepDueTimers(getRuntime().deps, getRuntime().store));
      return sweeping;
    };
    const scheduler = new LocalScheduler(
      clock,
      () => void sweep().catch((e: unknown) => console.error('timer sweep failed', e)),
    );
    configureRuntime({ clock, scheduler });
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
      clock.advance(seconds);
      await sweeping.catch(() => undefined);
      const fired = await sweep();
      return { now: clock.now().toISOString(), fired };
    };
    const { ROUTE_GROUPS } = await import('../../functions/handlers/http/routes.js');
    const ingestHandler = (await import('../../functions/handlers/sqs/ingest.handler.js')).handler;
    const routes = [];
    for (const group of Object.values(ROUTE_GROUPS)) {
      for (const route of group.routes) routes.push({ route, handler: group.handler as LambdaHttpHandler });
    }

    const sqs = new SQSClient({
      region: 'us-east-1',
      endpoint: fauxqs.address,
      credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
    });
    stops.push(async () => sqs.destroy());
    const poller: Poller = startPoller(sqs, { url: ingest.queueUrl, arn: ingest.queueArn }, ingestHandler, 'ingest');
    stops.push(() => poller.stop());

    const local: Record<string, LocalEndpoint> = {
      'POST /_local/clock': async (body) => {
        const parsed = clockBody.safeParse(body);
        if (!parsed.success) {
          throw Object.assign(new Error('invalid'), {
            problem: problem(400, 'advanceSeconds must be a number from 0 to 31536000', {
              type: 'validation',
              errors: zodFieldErrors(parsed.error),
            }),
          });
        }
        return advance(parsed.data.advanceSeconds);
      },
    };
    const server = createLocalHttpServer({
      routes,
      jwtSecret: options.jwtSecret ?? process.env.LOCAL_JWT_SECRET ?? DEFAULT_LOCAL_JWT_SECRET,
      local,
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(options.port ?? 0, options.host ?? '127.0.0.1', () => resolve());
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
      sqsEndpoint: fauxqs.address,
      queues: {
        ingest: { url: ingest.queueUrl, arn: ingest.queueArn },
        ingestDlq: { url: dlq.queueUrl, arn: dlq.queueArn },
        outbound: { url: outbound.queueUrl, arn: outbound.queueArn },
      },
      sqs,
      clock,
      advance,
      drain: () => poller.drain(),
      stop,
    };
  } catch (err) {
    await stop();
    throw err;
  }
}
