import { CreateTableCommand, ResourceInUseException } from '@aws-sdk/client-dynamodb';
import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import type { APIGatewayProxyStructuredResultV2, Context, SQSBatchResponse, SQSEvent, SQSRecord } from 'aws-lambda';
import { randomUUID } from 'node:crypto';
import { localClient } from '../../bin/local/dynamodb-local.js';
import { lambdaContext } from '../../bin/local/http-server.js';
import { startLocalRuntime, type LocalRuntime } from '../../bin/local/runtime.js';
import type { DynamoConversationStore } from '../../functions/adapters/dynamodb/conversation-store.js';
import { createTableInput } from '../../functions/adapters/dynamodb/table-definition.js';
import type { TimerRequest } from '../../functions/domain/writes.js';
import type { CustomerEvent } from '../../functions/use-cases/customer-event.use-case.js';
import type { EngineDeps } from '../../functions/use-cases/engine.js';
import { signBody, toQueueMessage } from '../../functions/use-cases/ingest-webhook.use-case.js';
import { CommitLog } from './commits.js';
import { attachFollowUps, type FollowUps } from './follow-ups.js';
import { probe, probeSqs, type Probe } from './instrument.js';

/** The bench's tables: the engine's definition, with a stream (NEW_AND_OLD_IMAGES) where key heat reads it. */
export async function createBenchTable(endpoint: string, name: string, stream = false): Promise<void> {
  const client = localClient(endpoint);
  try {
    await client.send(
      new CreateTableCommand({
        ...createTableInput(name),
        ...(stream ? { StreamSpecification: { StreamEnabled: true, StreamViewType: 'NEW_AND_OLD_IMAGES' } } : {}),
      }),
    );
  } catch (err) {
    if (!(err instanceof ResourceInUseException)) throw err;
  } finally {
    client.destroy();
  }
}

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
  ): Promise<HttpResult>;
  /** POST /v1/conversations/{id}/actions/{action} as agent `agentId` */
  action(org: string, agentId: string, conversationId: string, action: string, body?: unknown): Promise<HttpResult>;
  /** POST /v1/webhooks/{channelId}, signed; its SQS message goes to the local runtime's ingest queue */
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
}

export interface BenchRuntime {
  local: LocalRuntime;
  table: string;
  deps: EngineDeps;
  store: DynamoConversationStore;
  probe: Probe;
  commits: CommitLog;
  followUps: FollowUps;
  entry: Entry;
  stop(): Promise<void>;
}

/**
 * The local runtime (bin/local/runtime.ts, what `npm start` runs) on the bench's DynamoDB Local and
 * `table`, with the engine's DynamoDB and SQS clients probed and the follow-ups tagged. Its timer
 * ticker and local scheduler are off: the bench delivers timers itself, as EventBridge Scheduler
 * (precise timers, via the timers consumer) and the sweeper rule would, so nothing fires behind a
 * measurement's back.
 */
export async function startBenchRuntime(dynamoEndpoint: string, table: string): Promise<BenchRuntime> {
  process.env.POWERTOOLS_LOG_LEVEL ??= 'ERROR';
  const local = await startLocalRuntime({ dynamoEndpoint, tableName: table, tickMs: 2 ** 31 - 1 });
  const { configureRuntime, getRuntime } = await import('../../functions/handlers/runtime.js');
  configureRuntime({ clock: local.clock });
  const rt = getRuntime();
  const p = probe(runtimeDocumentClient(rt.store));
  probeSqs(rt.sqs);
  const followUps = attachFollowUps(rt.deps);
  const commits = new CommitLog(p);
  const handlers: Handlers = {
    conversations: (await import('../../functions/handlers/http/conversations.handler.js')).handler as HttpHandler,
    webhooks: (await import('../../functions/handlers/http/webhooks.handler.js')).handler as HttpHandler,
    admin: (await import('../../functions/handlers/http/admin.handler.js')).handler as HttpHandler,
    agents: (await import('../../functions/handlers/http/agents.handler.js')).handler as HttpHandler,
  };
  const ingest = (await import('../../functions/handlers/sqs/ingest.handler.js')).handler as unknown as SqsHandler;
  const timers = (await import('../../functions/handlers/sqs/timers.handler.js')).handler as unknown as SqsHandler;
  const sweeper = (await import('../../functions/handlers/scheduler/sweeper.handler.js')).handler as unknown as (
    e: unknown,
    c: Context,
  ) => Promise<{ fired: number }>;

  const http: Entry['http'] = async (group, routeKey, params, claims, body, headers = {}) => {
    const [method, path] = routeKey.split(' ') as [string, string];
    const raw = body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body);
    const event = {
      version: '2.0',
      routeKey,
      rawPath: path.replace(/\{(\w+)\}/g, (_m, k: string) => params[k] ?? ''),
      rawQueryString: '',
      headers: { ...(raw !== undefined ? { 'content-type': 'application/json' } : {}), ...headers },
      pathParameters: params,
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
      const m = toQueueMessage(org, channelId, event, local.clock.now());
      return ingest({ Records: [record(m.body, m.groupId)] }, lambdaContext('sqs-ingest'));
    },
    timer: (t) => timers({ Records: [record(JSON.stringify(t))] }, lambdaContext('sqs-timers')),
    sweep: () => sweeper({}, lambdaContext('sweeper')),
  };
  return {
    local,
    table,
    deps: rt.deps,
    store: rt.store,
    probe: p,
    commits,
    followUps,
    entry,
    stop: () => local.stop(),
  };
}

/** The engine's own DynamoDB client (the store keeps it private; probing it is the bench's business). */
function runtimeDocumentClient(store: DynamoConversationStore): DynamoDBDocumentClient {
  return (store as unknown as { doc: DynamoDBDocumentClient }).doc;
}
