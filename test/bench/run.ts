/**
 * `npm run bench`: one run on this machine against DynamoDB Local, reporting side by side
 *  (a) DynamoDB requests and consumed WCU/RCU per action vs the floor of 2 WCU per item touched,
 *  (b) accepted actions/s through the HTTP handler code path vs raw TransactWriteItems/s,
 *  (c) reads per push assignment at 10 and at 10,000 agents,
 *  (d) per-function bundle size and module init time on Node 24.
 * Writes bench-results/<date>.json and bench-results/latest.json.
 */
import { BatchWriteCommand, TransactWriteCommand } from '@aws-sdk/lib-dynamodb';
import { build } from 'esbuild';
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { ulid } from 'ulid';
import { ensureTable, startDynamoLocal } from '../../bin/local/dynamodb-local.js';
import { createDocumentClient } from '../../functions/adapters/dynamodb/client.js';
import { DynamoConversationStore } from '../../functions/adapters/dynamodb/conversation-store.js';
import { availabilityIndexKeys, keys } from '../../functions/adapters/dynamodb/keys.js';
import { buildTransaction } from '../../functions/adapters/dynamodb/transact.js';
import { ulidIds } from '../../functions/adapters/system-clock.js';
import { decide, openConversation } from '../../functions/domain/decide.js';
import type { Actor, Conversation, Workstream } from '../../functions/domain/model.js';
import { createEngine } from '../../functions/use-cases/create-engine.js';
import { performAction } from '../../functions/use-cases/conversation-action.use-case.js';
import { dispatchConversation } from '../../functions/use-cases/dispatch.use-case.js';
import type { EngineDeps } from '../../functions/use-cases/engine.js';
import { fireTimer } from '../../functions/use-cases/timers.use-case.js';
import { timerName } from '../../functions/domain/timers.js';
import { instrument, type Meter } from './instrument.js';

const SMALL = process.env.BENCH_SMALL === '1';
const BIG_AGENTS = Number(process.env.BENCH_AGENTS ?? (SMALL ? 1000 : 10_000));
const THROUGHPUT_N = Number(process.env.BENCH_ACTIONS ?? (SMALL ? 100 : 400));
const CONCURRENCY = 8;
const TABLE = 'bench';

const log = (s: string): void => console.log(`[bench] ${s}`);
const clock = { now: () => new Date(Date.now()) };

const results: Record<string, unknown> = { startedAt: new Date().toISOString(), node: process.version, small: SMALL };

log('starting DynamoDB Local');
const ddb = await startDynamoLocal();
await ensureTable(ddb.endpoint, TABLE);
const doc = createDocumentClient({ endpoint: ddb.endpoint });
const meter: Meter = instrument(doc);
const store = new DynamoConversationStore(doc, TABLE);
const deps: EngineDeps = createEngine({ store, clock, ids: ulidIds });
/** deps without after-commit work: to prepare Open backlogs that nobody dispatches yet */
const quiet: EngineDeps = { store, clock, ids: ulidIds };

function workstream(org: string, patch: Partial<Workstream> = {}): Workstream {
  return {
    org,
    id: 'ws',
    name: 'chat',
    mode: 'live',
    capacity: { pool: 'default', units: 1 },
    allowedPresences: ['Available', 'Busy'],
    wrapUp: { blockCapacity: 5 },
    waitingInactivityTimeoutSeconds: 3600,
    agentReconnectTimeoutSeconds: 120,
    routingRules: [],
    defaultQueueId: 'q1',
    distribution: 'pick',
    ...patch,
  };
}

async function setupOrg(patch: Partial<Workstream> = {}): Promise<{ org: string; ws: Workstream }> {
  const org = `bench-${ulid().toLowerCase()}`;
  const ws = workstream(org, patch);
  await store.putQueue({ org, id: 'q1', name: 'q1' });
  await store.putQueue({ org, id: 'q2', name: 'q2' });
  await store.putWorkstream(ws);
  await store.putChannel({ org, id: `${org}-chat`, kind: 'chat', workstreamId: ws.id }, 'secret-secret-secret');
  return { org, ws };
}

async function openConv(org: string, ws: Workstream, kind: 'chat' | 'voice' = 'chat'): Promise<Conversation> {
  const d = openConversation({
    org,
    id: ulid(),
    ticketId: ulid(),
    channel: { org, id: `${org}-${kind}`, kind, workstreamId: ws.id },
    workstream: ws,
    threadId: ulid(),
    queueId: 'q1',
    actor: { role: 'customer', id: 'c' },
    previousConversationId: null,
    reason: 'bench',
    now: clock.now(),
  });
  await store.commit(d.writes);
  return d.conversation;
}

// ---------- (a) requests and capacity per action ----------
log('(a) DynamoDB requests and WCU/RCU per action');
const perAction: Record<string, unknown>[] = [];
{
  const { org, ws } = await setupOrg();
  await store.putAgent({ org, id: 'alice', name: 'alice', queues: ['q1'], bot: false, capacity: { default: 10 } });
  await store.putAgent({ org, id: 'bob', name: 'bob', queues: ['q1'], bot: false, capacity: { default: 10 } });
  const alice: Actor = { role: 'agent', id: 'alice' };
  const measure = async (name: string, run: () => Promise<unknown>): Promise<void> => {
    meter.reset();
    await run();
    const floor = 2 * meter.transactItems;
    perAction.push({
      action: name,
      requests: meter.total(),
      byCommand: { ...meter.requests },
      rcu: meter.rcu,
      wcu: meter.wcu,
      transactItems: meter.transactItems,
      floorWcu: floor,
    });
  };
  const c1 = await openConv(org, ws);
  await measure('accept', () =>
    performAction(deps, { org, conversationId: c1.id, actor: alice, action: { type: 'accept' } }),
  );
  await measure('end', () =>
    performAction(deps, { org, conversationId: c1.id, actor: alice, action: { type: 'end' } }),
  );
  const timer = (await store.listDueTimers(new Date(Date.now() + 3600_000), 50)).find(
    (t) => t.conversationId === c1.id,
  );
  await measure('timer fire (wrap-up release)', async () => {
    if (timer)
      await fireTimer(
        { ...deps, clock: { now: () => new Date(Date.parse(timer.at) + 1000) } },
        { ...timer, name: timerName(timer) },
      );
  });
  await measure('close', () =>
    performAction(deps, { org, conversationId: c1.id, actor: alice, action: { type: 'close' } }),
  );
  const c2 = await openConv(org, ws);
  await performAction(deps, { org, conversationId: c2.id, actor: alice, action: { type: 'accept' } });
  await measure('transfer (to queue)', () =>
    performAction(deps, {
      org,
      conversationId: c2.id,
      actor: alice,
      action: { type: 'transfer', target: { kind: 'queue', queueId: 'q2' } },
    }),
  );
  for (const r of perAction) log(`  ${JSON.stringify(r)}`);
}
results.perAction = perAction;

// ---------- (b) throughput: handler code path vs raw TransactWriteItems ----------
log(`(b) throughput over ${THROUGHPUT_N} accepts, concurrency ${CONCURRENCY}`);
async function pool<T>(items: T[], run: (t: T) => Promise<void>): Promise<number> {
  const t0 = performance.now();
  let i = 0;
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async () => {
      while (i < items.length) await run(items[i++] as T);
    }),
  );
  return (performance.now() - t0) / 1000;
}
{
  const { createHandler } = await import('../../functions/handlers/http/conversations.handler.js');
  const handler = createHandler({
    observability: {
      serviceName: 'contact-center-engine',
      metricsNamespace: 'ContactCenterEngine',
      metrics: false,
      tracing: false,
      logLevel: 'ERROR',
    },
    dynamodb: { region: 'us-east-1', tableName: TABLE, endpoint: ddb.endpoint },
  });
  const { lambdaContext } = await import('../../bin/local/http-server.js');
  const { org, ws } = await setupOrg();
  const agents = Array.from({ length: 40 }, (_, i) => `a${i}`);
  for (const a of agents)
    await store.putAgent({ org, id: a, name: a, queues: ['q1'], bot: false, capacity: { default: 1000 } });
  const convs: Conversation[] = [];
  for (let i = 0; i < THROUGHPUT_N; i++) convs.push(await openConv(org, ws));
  let n = 0;
  const event = (c: Conversation, agentId: string) => ({
    version: '2.0',
    routeKey: 'POST /v1/conversations/{id}/actions/{action}',
    rawPath: `/v1/conversations/${c.id}/actions/accept`,
    rawQueryString: '',
    headers: {},
    pathParameters: { id: c.id, action: 'accept' },
    isBase64Encoded: false,
    requestContext: {
      http: { method: 'POST' },
      authorizer: { jwt: { claims: { sub: agentId, org, roles: ['agent'] }, scopes: [] } },
    },
  });
  let failures = 0;
  const handlerSeconds = await pool(convs, async (c) => {
    const r = (await handler(event(c, agents[n++ % agents.length] as string) as never, lambdaContext('bench'))) as {
      statusCode: number;
    };
    if (r.statusCode !== 200) failures++;
  });
  // raw: the same TransactWriteItems (same item shapes, decided in advance), sent straight to DynamoDB Local
  const raw: Conversation[] = [];
  for (let i = 0; i < THROUGHPUT_N; i++) raw.push(await openConv(org, ws));
  const agentSnapshots = new Map((await Promise.all(agents.map((a) => store.getAgent(org, a)))).map((a) => [a?.id, a]));
  let m = 0;
  const prepared = raw.map((c) => {
    const agentId = agents[m++ % agents.length] as string;
    const d = decide({
      conversation: c,
      actor: { role: 'agent', id: agentId },
      action: { type: 'accept' },
      workstream: ws,
      agent: agentSnapshots.get(agentId) as never,
      now: clock.now(),
    });
    return buildTransaction(TABLE, d.writes);
  });
  const rawSeconds = await pool(prepared, async (tx) => {
    await doc.send(new TransactWriteCommand(tx));
  });
  const handlerRate = THROUGHPUT_N / handlerSeconds;
  const rawRate = THROUGHPUT_N / rawSeconds;
  results.throughput = {
    actions: THROUGHPUT_N,
    concurrency: CONCURRENCY,
    handlerPerSecond: handlerRate,
    rawTransactWritePerSecond: rawRate,
    ratio: handlerRate / rawRate,
    handlerFailures: failures,
  };
  log(
    `  handler ${handlerRate.toFixed(1)}/s, raw TransactWriteItems ${rawRate.toFixed(1)}/s, ratio ${(handlerRate / rawRate).toFixed(3)} (failures ${failures})`,
  );
}

// ---------- (c) reads per push assignment at 10 and BIG agents ----------
async function seedAgents(org: string, count: number): Promise<void> {
  const items: Record<string, unknown>[] = [];
  for (let i = 0; i < count; i++) {
    const id = `agent-${i.toString().padStart(6, '0')}`;
    const max = 1 + (i % 5);
    const idle = new Date(Date.now() - i * 1000).toISOString();
    items.push(
      {
        ...keys.agent(org, id),
        type: 'agent',
        org,
        id,
        name: id,
        queues: ['q1'],
        bot: false,
        signedIn: true,
        connected: true,
        connectionEpoch: 0,
        stateVersion: 0,
        idleSince: idle,
      },
      { ...keys.pool(org, id, 'default'), type: 'pool', org, agentId: id, pool: 'default', max, used: 0, free: max },
      { ...keys.member(org, 'q1', id), type: 'member', org, queueId: 'q1', agentId: id },
      {
        ...keys.availability(org, 'q1', 'default', id),
        type: 'availability',
        org,
        queueId: 'q1',
        pool: 'default',
        agentId: id,
        free: max,
        ...availabilityIndexKeys(org, 'q1', 'default', id, max, idle),
      },
    );
  }
  for (let i = 0; i < items.length; i += 25) {
    await doc.send(
      new BatchWriteCommand({
        RequestItems: { [TABLE]: items.slice(i, i + 25).map((Item) => ({ PutRequest: { Item } })) },
      }),
    );
    if (i % 10_000 === 0 && i > 0) log(`  seeded ${i / 4} agents`);
  }
}
const assignments: Record<string, unknown>[] = [];
for (const count of [10, BIG_AGENTS]) {
  log(`(c) push assignment with ${count} agents`);
  const { org, ws } = await setupOrg({ distribution: 'push' });
  await seedAgents(org, count);
  const convs: Conversation[] = [];
  for (let i = 0; i < 20; i++) convs.push(await openConv(org, ws));
  meter.reset();
  let offered = 0;
  for (const c of convs) if ((await dispatchConversation(deps, org, c.id)).offeredTo) offered++;
  const r = {
    agents: count,
    assignments: offered,
    requestsPerAssignment: meter.total() / offered,
    readsPerAssignment: meter.reads() / offered,
    byCommand: { ...meter.requests },
  };
  assignments.push(r);
  log(`  ${JSON.stringify(r)}`);
}
const [small, big] = assignments as { readsPerAssignment: number; requestsPerAssignment: number }[];
results.pushAssignment = {
  runs: assignments,
  readsRatio: (big?.readsPerAssignment ?? 0) / (small?.readsPerAssignment ?? 1),
  requestsRatio: (big?.requestsPerAssignment ?? 0) / (small?.requestsPerAssignment ?? 1),
};
log(
  `  reads ratio ${BIG_AGENTS}/10 agents: ${(results.pushAssignment as { readsRatio: number }).readsRatio.toFixed(3)}`,
);
void quiet;

// ---------- (d) bundle size and module init time ----------
log('(d) bundles (esbuild, minified, ESM, node24) and init time');
const entries: Record<string, string> = {
  'http-health': 'functions/handlers/http/health.handler.ts',
  'http-admin': 'functions/handlers/http/admin.handler.ts',
  'http-conversations': 'functions/handlers/http/conversations.handler.ts',
  'http-agents': 'functions/handlers/http/agents.handler.ts',
  'http-queues': 'functions/handlers/http/queues.handler.ts',
  'http-webhooks': 'functions/handlers/http/webhooks.handler.ts',
  'sqs-ingest': 'functions/handlers/sqs/ingest.handler.ts',
  'sqs-timers': 'functions/handlers/sqs/timers.handler.ts',
  sweeper: 'functions/handlers/scheduler/sweeper.handler.ts',
};
const outDir = mkdtempSync(join(tmpdir(), 'bench-bundles-'));
const bundles: Record<string, unknown>[] = [];
const nodeBin = process.execPath;
const baseline = median(Array.from({ length: 5 }, () => timeNode(nodeBin, ['-e', '0'])));
for (const [name, entry] of Object.entries(entries)) {
  const outfile = join(outDir, `${name}.mjs`);
  await build({
    entryPoints: [entry],
    bundle: true,
    minify: true,
    sourcemap: true,
    platform: 'node',
    target: 'node24',
    format: 'esm',
    outfile,
    banner: { js: "import { createRequire } from 'module'; const require = createRequire(import.meta.url);" },
    logLevel: 'silent',
  });
  const size = statSync(outfile).size;
  const initMs =
    median(
      Array.from({ length: 5 }, () =>
        timeNode(nodeBin, ['--input-type=module', '-e', `await import(${JSON.stringify(outfile)})`], {
          TABLE_NAME: 't',
          INGEST_QUEUE_URL: 'u',
          AWS_REGION: 'us-east-1',
        }),
      ),
    ) - baseline;
  bundles.push({ function: name, bytes: size, initMs: Math.round(initMs) });
  log(`  ${name}: ${(size / 1024).toFixed(0)} KiB, init ${initMs.toFixed(0)} ms`);
}
results.bundles = bundles;

function timeNode(bin: string, args: string[], env: Record<string, string> = {}): number {
  const t0 = performance.now();
  execFileSync(bin, args, { env: { ...process.env, ...env }, stdio: 'ignore' });
  return performance.now() - t0;
}
function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)] as number;
}

results.finishedAt = new Date().toISOString();
mkdirSync('bench-results', { recursive: true });
const file = join('bench-results', `${results.startedAt as string}.json`.replace(/:/g, '-'));
writeFileSync(file, JSON.stringify(results, null, 2));
writeFileSync(join('bench-results', 'latest.json'), JSON.stringify(results, null, 2));
log(`results written to ${file}`);
await ddb.stop();
process.exit(0);
