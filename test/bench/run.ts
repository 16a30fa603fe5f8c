/**
 * `npm run bench` (`npm run bench -- --quick` for a small run): one run on this machine against
 * DynamoDB Local, every figure beside its goal:
 *  1. honest setup: agents configured and signed in through the API (Available, 3 queues each,
 *     availability entries), several queues, a warm-up pass before anything is measured;
 *  2. per action (HTTP handlers / SQS consumers): DynamoDB requests on the request path and in
 *     follow-ups (after-commit work), round trips on the request path, at 10 and 1,000 agents;
 *  3. accepts/s through the HTTP handler vs GetItem + TransactWriteItems with the same items;
 *  4. ingest events/s (webhook -> SQS -> consumer) vs the same reads and transaction, and the p99
 *     from the webhook's 202 to the committed conversation at 80 % of that capacity;
 *  5. push dispatch latency, commit to committed offer;
 *  6. key heat: writes (from the table's stream) and reads (from the requests) per partition key,
 *     table and indexes, replayed at 10,000 agents and projected to 1,000 transitions/s;
 *  (c) reads per push assignment at 10 vs N agents; (d) bundle size and init time.
 * Writes bench-results/<date>.json and bench-results/latest.json.
 *
 * Sizes: BENCH_FOLLOWUP_AGENTS, BENCH_ACTIONS, BENCH_INGEST_EVENTS, BENCH_OFFERED_SECONDS,
 * BENCH_DISPATCH_SAMPLES, BENCH_HEAT_AGENTS, BENCH_HEAT_TRANSITIONS, BENCH_AGENTS (push assignment);
 * BENCH_ONLY=actions,throughput,ingest,dispatch,heat,push,bundles runs some sections only.
 */
import { build } from 'esbuild';
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, statSync, writeFileSync } from 'node:fs';
import { cpus, release, tmpdir, totalmem, type as osType } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { startDynamoLocal } from '../../bin/local/dynamodb-local.js';
import { createDocumentClient } from '../../functions/adapters/dynamodb/client.js';
import { actionOrg, actionPass, type ActionFigures } from './actions.js';
import { createBenchTable, startBenchRuntime, type BenchRuntime } from './bench-runtime.js';
import { dispatchLatency } from './dispatch.js';
import { keyHeat, READ_GOAL, WRITE_GOAL, type HeatFigures } from './heat.js';
import { ingest, type IngestFigures } from './ingest.js';
import { pushAssignment } from './push-assignment.js';
import { table, verdict, type Cell, type Goal } from './report.js';
import { throughput, type ThroughputFigures } from './throughput.js';

const QUICK = process.argv.includes('--quick') || process.env.BENCH_SMALL === '1';
const size = (name: string, full: number, quick: number): number => Number(process.env[name] ?? (QUICK ? quick : full));
const config = {
  quick: QUICK,
  followUpAgents: size('BENCH_FOLLOWUP_AGENTS', 1000, 1000),
  throughputActions: size('BENCH_ACTIONS', 400, 100),
  concurrency: 8,
  ingestEvents: size('BENCH_INGEST_EVENTS', 300, 80),
  offeredSeconds: size('BENCH_OFFERED_SECONDS', 20, 6),
  dispatchSamples: size('BENCH_DISPATCH_SAMPLES', 150, 30),
  heatAgents: size('BENCH_HEAT_AGENTS', 10_000, 2000),
  heatTransitions: size('BENCH_HEAT_TRANSITIONS', 5000, 600),
  heatPerRound: size('BENCH_HEAT_PER_ROUND', 100, 50),
  pushAgents: size('BENCH_AGENTS', 10_000, 1000),
};
const ONLY = process.env.BENCH_ONLY?.split(',').map((s) => s.trim());
const runs = (section: string): boolean => !ONLY || ONLY.includes(section);
const TABLE = 'bench';
const HEAT_TABLE = 'bench-heat';

const log = (s: string): void => console.log(`[bench] ${s}`);
/** a command's first line of output (stdout, else stderr: `java -version` prints there) */
const sh = (cmd: string, args: string[]): string | undefined => {
  const r = spawnSync(cmd, args, { encoding: 'utf8' });
  return r.status === 0 ? (r.stdout.trim() || r.stderr.trim()).split('\n')[0] : undefined;
};

const results: Record<string, unknown> = {
  startedAt: new Date().toISOString(),
  node: process.version,
  small: QUICK,
  machine: {
    os: `${osType()} ${release()}`,
    arch: process.arch,
    cpus: cpus().length,
    cpuModel: cpus()[0]?.model,
    memoryGiB: Math.round(totalmem() / 2 ** 30),
    java: sh('java', ['-version']),
  },
  git: { commit: sh('git', ['rev-parse', 'HEAD']), branch: sh('git', ['rev-parse', '--abbrev-ref', 'HEAD']) },
  config,
};
const goals: Goal[] = [];
const out: string[] = [];
const t0 = performance.now();

log(`starting DynamoDB Local (${QUICK ? 'quick' : 'full'} run)`);
const ddb = await startDynamoLocal();
// a section that throws must not leave Java running (stop() sends SIGTERM before its first await)
process.on('exit', () => void ddb.stop());
const doc = createDocumentClient({ endpoint: ddb.endpoint });
await createBenchTable(ddb.endpoint, TABLE);
const main: BenchRuntime = await startBenchRuntime(ddb.endpoint, TABLE);

// ---------- 1 + 2: requests per action, request path vs follow-ups, at 10 and 1,000 agents ----------
if (runs('actions')) {
  const perAgents: Record<string, ActionFigures[]> = {};
  for (const agents of [10, config.followUpAgents]) {
    log(`(2) per action, org with ${agents} signed-in agents (3 queues each): warm-up pass, then the measured pass`);
    const o = await actionOrg(main, doc, agents);
    await actionPass(main, o);
    perAgents[agents] = await actionPass(main, o);
  }
  const small = perAgents[10] as ActionFigures[];
  const big = perAgents[config.followUpAgents] as ActionFigures[];
  const slow: string[] = [];
  const growing: string[] = [];
  const rows: Cell[][] = small.map((a, i) => {
    const b = big[i] as ActionFigures;
    const rtOk = a.request.roundTrips <= 2;
    const flat = b.followUp.requests <= Math.max(a.followUp.requests * 1.2, a.followUp.requests);
    if (!rtOk) slow.push(`${a.action} ${a.request.roundTrips}`);
    if (!flat) growing.push(`${a.action} ${a.followUp.requests} -> ${b.followUp.requests}`);
    return [
      a.action,
      a.status,
      a.request.requests,
      a.request.reads,
      a.request.writes,
      a.request.roundTrips,
      a.request.transactItems,
      a.request.floorWcu,
      a.request.sqsRequests || undefined,
      a.followUp.requests,
      a.followUp.roundTrips,
      b.followUp.requests,
      verdict(rtOk),
      verdict(flat),
    ];
  });
  out.push(
    table(
      `(2) DynamoDB requests per action: request path (before the handler returns) | follow-ups (after-commit work)`,
      [
        'action',
        'status',
        'req',
        'reads',
        'writes',
        'round trips',
        'tx items',
        'floor WCU',
        'sqs',
        `follow-up req (10)`,
        'f-u trips',
        `follow-up req (${config.followUpAgents})`,
        'RT <= 2',
        'flat',
      ],
      rows,
    ),
  );
  out.push(
    table(
      'request path / follow-ups by command (10 agents)',
      ['action', 'request path', 'follow-ups'],
      small.map((a) => [a.action, JSON.stringify(a.request.byCommand), JSON.stringify(a.followUp.byCommand)]),
    ),
  );
  goals.push({
    figure: 'request-path round trips per action (failing actions listed)',
    value: slow.length ? slow.join(', ') : `all <= 2`,
    goal: '<= 2',
    pass: slow.length === 0,
  });
  goals.push({
    figure: `follow-up requests per action, 10 -> ${config.followUpAgents} agents`,
    value: growing.length
      ? growing.join(', ')
      : `flat (max ${Math.max(...big.map((b) => b.followUp.requests))} requests)`,
    goal: 'flat (<= 1.2x), bounded',
    pass: growing.length === 0,
  });
  results.perAction = { agents10: small, [`agents${config.followUpAgents}`]: big };
  log(`  request-path round trips: ${small.map((a) => `${a.action} ${a.request.roundTrips}`).join(', ')}`);
}

// ---------- 3: throughput ----------
let tput: ThroughputFigures | undefined;
if (runs('throughput')) {
  log(`(3) throughput: ${config.throughputActions} accepts, concurrency ${config.concurrency}`);
  tput = await throughput(main, doc, config.throughputActions, config.concurrency);
  results.throughput = tput;
  goals.push({
    figure: 'accepts/s: handler / raw GetItem + TransactWriteItems',
    value: tput.ratio.toFixed(3),
    goal: '>= 0.85',
    pass: tput.ratio >= 0.85,
  });
  out.push(
    table(
      `(3) accepts through the HTTP handler (signed-in agents) vs raw GetItem + TransactWriteItems, ${tput.actions} each, concurrency ${tput.concurrency}`,
      ['path', 'per second', 'p50 ms', 'p99 ms', 'failures / retries'],
      [
        ['conversations handler', tput.handlerPerSecond, tput.handlerP50Ms, tput.handlerP99Ms, tput.handlerFailures],
        ['  ... follow-ups settled', tput.handlerSettledPerSecond, undefined, undefined, undefined],
        ['raw GetItem + TransactWriteItems', tput.rawPerSecond, tput.rawP50Ms, tput.rawP99Ms, tput.rawRetries],
        ['ratio (goal >= 0.85)', tput.ratio, undefined, undefined, undefined],
      ],
    ),
  );
  log(
    `  handler ${tput.handlerPerSecond.toFixed(1)}/s, raw ${tput.rawPerSecond.toFixed(1)}/s, ratio ${tput.ratio.toFixed(3)}`,
  );
}

// ---------- 4: ingest ----------
let ing: IngestFigures | undefined;
if (runs('ingest')) {
  log(`(4) ingest: ${config.ingestEvents} webhooks, then ${config.offeredSeconds} s at 80 % of the capacity`);
  ing = await ingest(main, doc, {
    events: config.ingestEvents,
    offeredSeconds: config.offeredSeconds,
    postConcurrency: config.concurrency,
  });
  results.ingest = ing;
  goals.push({
    figure: 'ingest events/s: engine / raw same reads + transaction',
    value: ing.ratio.toFixed(3),
    goal: '>= 0.8',
    pass: ing.ratio >= 0.8,
  });
  goals.push({
    figure: `ingest p99 webhook 202 -> committed conversation at ${ing.offered.ratePerSecond.toFixed(1)}/s`,
    value: `${ing.offered.p99Ms.toFixed(0)} ms`,
    goal: '< 2000 ms',
    pass: ing.offered.p99Ms < 2000,
  });
  out.push(
    table(
      '(4) ingest on the local runtime: webhook (HTTP, 202) -> SQS (fauxqs FIFO) -> ingest consumer -> conversation committed',
      ['figure', 'value'],
      [
        ['events/s through the ingest path', ing.eventsPerSecond],
        ['raw: same reads + transaction, events/s (concurrency 1 = the consumer)', ing.rawPerSecond],
        ['ratio (goal >= 0.8)', ing.ratio],
        [
          'engine DynamoDB requests / reads per event',
          `${ing.engineRequestsPerEvent.toFixed(2)} / ${ing.engineReadsPerEvent.toFixed(2)}`,
        ],
        ['raw DynamoDB requests per event', ing.rawRequestsPerEvent],
        [`offered load (80 %), events/s over ${ing.offered.seconds.toFixed(0)} s`, ing.offered.ratePerSecond],
        ['202 -> committed p50 ms', ing.offered.p50Ms],
        ['202 -> committed p99 ms (goal < 2000)', ing.offered.p99Ms],
        ['202 -> committed max ms', ing.offered.maxMs],
      ],
    ),
  );
  log(
    `  ${ing.eventsPerSecond.toFixed(1)} events/s, raw ${ing.rawPerSecond.toFixed(1)}/s; p99 ${ing.offered.p99Ms.toFixed(0)} ms at ${ing.offered.ratePerSecond.toFixed(1)}/s`,
  );
}

// ---------- 5: dispatch latency ----------
if (runs('dispatch')) {
  const rate = Math.max(2, 0.5 * (ing?.eventsPerSecond ?? 10));
  log(
    `(5) dispatch latency: ${config.dispatchSamples} push conversations created (${rate.toFixed(1)}/s), ${config.dispatchSamples} capacity releases`,
  );
  const d = await dispatchLatency(main, doc, {
    created: config.dispatchSamples,
    freed: config.dispatchSamples,
    ratePerSecond: rate,
  });
  results.dispatch = { ...d, createdRatePerSecond: rate };
  for (const [k, f] of Object.entries(d))
    goals.push({
      figure: `dispatch p99, ${k === 'created' ? 'push conversation created' : 'capacity freed'} -> committed offer`,
      value: `${f.p99Ms.toFixed(0)} ms${f.missed ? ` (${f.missed} never offered)` : ''}`,
      goal: '< 1000 ms',
      pass: f.p99Ms < 1000 && f.missed === 0,
    });
  out.push(
    table(
      '(5) push dispatch latency on the local runtime, commit -> committed offer',
      ['trigger', 'samples', 'p50 ms', 'p99 ms', 'max ms', 'never offered'],
      [
        [
          `push conversation created (${rate.toFixed(1)}/s)`,
          d.created.samples,
          d.created.p50Ms,
          d.created.p99Ms,
          d.created.maxMs,
          d.created.missed,
        ],
        [
          'capacity freed (end, wrap-up never)',
          d.freed.samples,
          d.freed.p50Ms,
          d.freed.p99Ms,
          d.freed.maxMs,
          d.freed.missed,
        ],
      ],
    ),
  );
  log(`  p99 created -> offer ${d.created.p99Ms.toFixed(0)} ms, freed -> offer ${d.freed.p99Ms.toFixed(0)} ms`);
}
await main.stop();

// ---------- 6: key heat ----------
if (runs('heat')) {
  log(`(6) key heat: ${config.heatAgents} agents, ${config.heatTransitions} transitions (own table with a stream)`);
  await createBenchTable(ddb.endpoint, HEAT_TABLE, true);
  const rt = await startBenchRuntime(ddb.endpoint, HEAT_TABLE);
  const h: HeatFigures = await keyHeat(rt, doc, ddb.endpoint, {
    agents: config.heatAgents,
    transitions: config.heatTransitions,
    perRound: config.heatPerRound,
    concurrency: config.concurrency,
    log,
  });
  await rt.stop();
  results.heat = h;
  const rows: Cell[][] = [];
  const mark = (perSecond: number, goal: number) => verdict(perSecond <= goal);
  for (const [index, x] of Object.entries(h.hottest)) {
    for (const k of x.writes.slice(0, 5))
      rows.push([
        index,
        'writes',
        k.key,
        k.scope,
        k.count,
        k.perSecond,
        k.writeRequestsPerSecond,
        mark(Math.max(k.perSecond, k.writeRequestsPerSecond ?? 0), WRITE_GOAL),
      ]);
    for (const k of x.reads.slice(0, 5))
      rows.push([index, 'reads', k.key, k.scope, k.count, k.perSecond, undefined, mark(k.perSecond, READ_GOAL)]);
  }
  out.push(
    table(
      `(6) key heat: ${h.transitions} transitions replayed (${h.conversations} conversations; ${h.agents} agents, ${h.bigQueueAgents} in qbig, 3 of ${h.queues} queues each) at ${h.replayPerSecond.toFixed(0)}/s here`,
      ['entry-point calls', 'count', 'transitions committed', 'count'],
      Array.from({ length: Math.max(Object.keys(h.mix).length, Object.keys(h.committed).length) }, (_, i) => {
        const m = Object.entries(h.mix)[i];
        const c = Object.entries(h.committed)[i];
        return [m?.[0], m?.[1], c?.[0], c?.[1]];
      }),
    ),
    table(
      'writes (table: from the stream | write requests) and reads (from the requests) per transition',
      ['on', 'writes', 'write requests', 'reads'],
      Object.entries(h.perTransition).map(([k, v]) => [k, v.writes, v.writeRequests, v.reads]),
    ),
    table(
      `hottest partition keys projected to ${h.projectedTo} transitions/s; goals <= ${WRITE_GOAL} writes/s, <= ${READ_GOAL} reads/s (per-conversation / per-agent keys: an upper bound, the replay compresses their lives)`,
      ['on', 'kind', 'partition key', 'scope', 'count', 'per s @1k/s', 'write req/s', 'goal'],
      rows,
    ),
  );
  goals.push({
    figure: `key heat: keys above ${WRITE_GOAL} writes/s or ${READ_GOAL} reads/s at 1,000 transitions/s`,
    value: h.failing.length
      ? h.failing.map((f) => `${f.index} ${f.kind} ${f.key} ${f.perSecond.toFixed(0)}/s`).join('; ')
      : 'none',
    goal: 'none',
    pass: h.failing.length === 0,
  });
  log(`  ${h.failing.length} keys above the goals; mix ${JSON.stringify(h.mix)}`);
}

// ---------- (c) reads per push assignment at 10 and N agents ----------
if (runs('push')) {
  const p = await pushAssignment(doc, TABLE, config.pushAgents, log);
  results.pushAssignment = p;
  goals.push({
    figure: `reads per push assignment, ${config.pushAgents} / 10 agents`,
    value: p.readsRatio.toFixed(3),
    goal: '<= 1.2',
    pass: p.readsRatio <= 1.2,
  });
  out.push(
    table(
      '(c) push assignment (dispatchConversation, every request incl. its follow-ups)',
      ['agents', 'assignments', 'requests / assignment', 'reads / assignment'],
      (
        p.runs as { agents: number; assignments: number; requestsPerAssignment: number; readsPerAssignment: number }[]
      ).map((r) => [r.agents, r.assignments, r.requestsPerAssignment, r.readsPerAssignment]),
    ),
  );
}

if (runs('bundles')) {
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
            IDEMPOTENCY_TABLE_NAME: 't',
            INGEST_QUEUE_URL: 'u',
            AWS_REGION: 'us-east-1',
          }),
        ),
      ) - baseline;
    bundles.push({ function: name, bytes: size, initMs: Math.round(initMs) });
    log(`  ${name}: ${(size / 1024).toFixed(0)} KiB, init ${initMs.toFixed(0)} ms`);
  }
  results.bundles = bundles;
  out.push(
    table(
      '(d) bundles (esbuild, minified ESM, node24) and module init time',
      ['function', 'KiB', 'init ms'],
      bundles.map((b) => [b.function as string, Math.round((b.bytes as number) / 1024), b.initMs as number]),
    ),
  );
}

function timeNode(bin: string, args: string[], env: Record<string, string> = {}): number {
  const t0 = performance.now();
  execFileSync(bin, args, { env: { ...process.env, ...env }, stdio: 'ignore' });
  return performance.now() - t0;
}
function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)] as number;
}

// ---------- report ----------
/** what the figures are and are not */
const NOTES = [
  'Round trips count DynamoDB requests only (overlapping ones once); the webhook also sends one SQS message (column sqs).',
  "Follow-ups: today after-commit work runs inline (createEngine's onCommitted) and is tagged there (follow-ups.ts).",
  'Timers are delivered by the bench as EventBridge Scheduler would (timers consumer); the local ticker and scheduler are off.',
  "Ingest raw baseline runs at the consumer's concurrency: 1 (the local runtime has one poller; a FIFO batch is applied in order).",
  'Key heat: writes from the stream (changed items only), write requests from the requests (no-op and failed-condition writes too).',
  'Key heat: the sweeper runs once per replay round, not once a minute; per-conversation and per-agent keys are upper bounds.',
  'DynamoDB Local is not DynamoDB: no partition limits, splits or adaptive capacity, WCU not billed as on AWS (floor WCU = 2 per item).',
  'Not measured: Lambda concurrency and cold starts, Scheduler and SQS delivery delays in AWS, the Idempotency-Key path.',
];
results.notes = NOTES;
results.goals = goals;
results.finishedAt = new Date().toISOString();
results.seconds = Math.round((performance.now() - t0) / 1000);
out.push(['', '== notes ==', ...NOTES.map((n) => `- ${n}`)].join('\n'));
out.push(
  table(
    `goals (${results.startedAt as string}, ${QUICK ? 'quick' : 'full'} run, ${results.seconds as number} s)`,
    ['figure', 'value', 'goal', 'result'],
    goals.map((g) => [g.figure, g.value, g.goal, verdict(g.pass)]),
    [1],
  ),
);
console.log(out.join('\n'));
mkdirSync('bench-results', { recursive: true });
const file = join('bench-results', `${results.startedAt as string}.json`.replace(/:/g, '-'));
writeFileSync(file, JSON.stringify(results, null, 2));
writeFileSync(join('bench-results', 'latest.json'), JSON.stringify(results, null, 2));
log(`results written to ${file}`);
await ddb.stop();
process.exit(0);
