/**
 * `npm run bench` (`npm run bench -- --quick` for a small run): one run on this machine against
 * DynamoDB Local, every figure beside its goal. The engine runs as in AWS: each handler built by
 * its module's createHandler(config, overrides) (bench-runtime.ts), the follow-ups by the stream
 * consumer from the table's DynamoDB Stream (follow-ups.ts); requests are attributed to
 * 'request' (inside an HTTP handler's or SQS consumer's invocation) or 'follow-up' (inside the
 * stream consumer's) by an AsyncLocalStorage tag the probed client reads (phases.ts, instrument.ts).
 *  1. honest setup: agents configured and signed in through the API (Available, 3 queues each,
 *     availability entries), several queues, a warm-up pass before anything is measured;
 *  2. per action (HTTP handlers / SQS consumers): DynamoDB requests and round trips on the
 *     request path and in the follow-ups it caused, at 10 and 1,000 agents;
 *  3. accepts/s through the HTTP handler vs GetItem + TransactWriteItems with the same items;
 *  4. ingest events/s (webhook -> SQS -> consumer) vs the same reads and transaction, and the p99
 *     from the webhook's 202 to the committed conversation at 80 % of that capacity;
 *  5. push dispatch latency, commit to committed offer (created, capacity freed), via the stream;
 *  6. key heat: writes (from the table's stream) and reads (from the requests) per partition key,
 *     table and indexes, replayed at 10,000 agents and projected to 1,000 transitions/s; the metric
 *     counters the follow-ups move (MX-1, MX-3) apart: their items per transition, the hottest
 *     counter partitions;
 *  (c) reads per push assignment at 10 vs N agents, without skills and with 20 skills and 1,000 waiting
 *  (both directions: new conversation -> agent, agent frees capacity -> conversation); (d) bundle size and init time beside the floor;
 *  (e) queue reads: requests, round trips and RCU per metrics read and per queue-position read at 10
 *  and 10,000 waiting conversations, through the queues HTTP handler (queue-reads.ts);
 *  (f) messages (MS-1, MS-2): a reply's request path (1 BatchGetItem + 1 transaction) at 10 and 10,000
 *  messages and at 10 and 10,000 agents, and a transcript page's requests and RCU at 100 and 10,000
 *  messages, through the conversations HTTP handler (messages.ts).
 * Writes bench-results/<date>.json and bench-results/latest.json.
 *
 * Sizes: BENCH_FOLLOWUP_AGENTS, BENCH_ACTIONS, BENCH_INGEST_EVENTS, BENCH_OFFERED_SECONDS,
 * BENCH_DISPATCH_SAMPLES, BENCH_HEAT_AGENTS, BENCH_HEAT_TRANSITIONS, BENCH_AGENTS (push assignment),
 * BENCH_QUEUE_WAITING (queue reads; BENCH_QUEUE_SEED=counters sets the big queue's counters instead of
 * letting the stream follow-ups count its copies, =follow-ups the other way; default: follow-ups, counters
 * in a quick run); BENCH_MESSAGES_AGENTS (messages: the big org's agents);
 * BENCH_ONLY=actions,throughput,ingest,dispatch,heat,push,bundles,queue-reads,messages runs some sections only (push-skills: the
 * skilled push figures of (c) without the no-skill one).
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, release, totalmem, type as osType } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { ensureTable, startDynamoLocal } from '../../bin/local/dynamodb-local.js';
import { createDocumentClient } from '../../functions/adapters/dynamodb/client.js';
import { BUDGET_RATIO } from '../infra/bundle-floor.js';
import { actionOrg, actionPass, type ActionFigures } from './actions.js';
import { startBenchRuntime, type BenchRuntime } from './bench-runtime.js';
import { bundles } from './bundles.js';
import { dispatchLatency, type LatencyFigures } from './dispatch.js';
import { keyHeat, READ_GOAL, WRITE_GOAL, type HeatFigures } from './heat.js';
import { ingest, type IngestFigures } from './ingest.js';
import { LONG_TRANSCRIPT, messagesBench, REPLY_GOAL, sameCommands, type MessagesFigures } from './messages.js';
import { pushAssignment } from './push-assignment.js';
import { pushSkills, SKILL_COUNT, WAITING, type SkilledRun } from './push-skills.js';
import { queueReads, type QueueReadsFigures } from './queue-reads.js';
import { table, verdict, type Cell, type Goal } from './report.js';
import { throughput, type ThroughputFigures } from './throughput.js';

const QUICK = process.argv.includes('--quick') || process.env.BENCH_SMALL === '1';
const size = (name: string, full: number, quick: number): number => Number(process.env[name] ?? (QUICK ? quick : full));
const config = {
  quick: QUICK,
  followUpAgents: size('BENCH_FOLLOWUP_AGENTS', 1000, 1000),
  throughputActions: size('BENCH_ACTIONS', 400, 100),
  concurrency: 8,
  /** the SQS poller's concurrent ingest batches (the local runtime's default) */
  ingestConcurrency: 10,
  ingestEvents: size('BENCH_INGEST_EVENTS', 300, 80),
  offeredSeconds: size('BENCH_OFFERED_SECONDS', 20, 6),
  dispatchSamples: size('BENCH_DISPATCH_SAMPLES', 150, 30),
  heatAgents: size('BENCH_HEAT_AGENTS', 10_000, 2000),
  heatTransitions: size('BENCH_HEAT_TRANSITIONS', 5000, 600),
  heatPerRound: size('BENCH_HEAT_PER_ROUND', 100, 50),
  pushAgents: size('BENCH_AGENTS', 10_000, 1000),
  queueWaiting: size('BENCH_QUEUE_WAITING', 10_000, 10_000),
  messagesAgents: size('BENCH_MESSAGES_AGENTS', 10_000, 1000),
  /** the big queue's copies counted by the stream follow-ups (full run), or their counters set (quick run) */
  queueSeed: ((process.env.BENCH_QUEUE_SEED ?? (QUICK ? 'counters' : 'follow-ups')) === 'counters'
    ? 'counters'
    : 'follow-ups') as 'counters' | 'follow-ups',
};
const ONLY = process.env.BENCH_ONLY?.split(',').map((s) => s.trim());
const runs = (section: string): boolean => !ONLY || ONLY.includes(section);
const TABLE = 'bench';
const HEAT_TABLE = 'bench-heat';

const startedAt = performance.now();
const log = (s: string): void =>
  console.log(`[bench ${((performance.now() - startedAt) / 1000).toFixed(0).padStart(4)} s] ${s}`);
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
  loadAverage: loadavg(),
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
/**
 * A DynamoDB Local of its own for a heavy section: after the key heat's replay, one instance
 * answers every request several times slower (seen: 1,000 agents seeded in 98 s instead of 6 s),
 * which would charge one section for another's leftovers.
 */
/**
 * The CPU a process used from now until the returned function is called, as a share of one core
 * (Linux /proc; undefined elsewhere). DynamoDB Local does its work on about one core: near 100 %, a
 * latency is mostly queueing inside it, not in the engine.
 */
function cpuMeter(pid: number | undefined): () => number | undefined {
  const ticks = (): number | undefined => {
    try {
      const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]?.split(' ') ?? [];
      // utime and stime: fields 14 and 15 of stat, 12 and 13 after the command name
      return Number(fields[11]) + Number(fields[12]);
    } catch {
      return undefined;
    }
  };
  const hz = Number(sh('getconf', ['CLK_TCK']) ?? 100);
  const start = pid === undefined ? undefined : ticks();
  const startedMs = performance.now();
  return () => {
    const end = start === undefined ? undefined : ticks();
    if (start === undefined || end === undefined) return undefined;
    return (end - start) / hz / ((performance.now() - startedMs) / 1000);
  };
}

async function ownDynamo<T>(what: string, fn: (endpoint: string, pid?: number) => Promise<T>): Promise<T> {
  log(`  starting a DynamoDB Local of its own for ${what}`);
  const own = await startDynamoLocal();
  const stop = () => void own.stop();
  process.on('exit', stop);
  try {
    return await fn(own.endpoint, own.pid);
  } finally {
    await own.stop();
    process.off('exit', stop);
  }
}
const doc = createDocumentClient({ endpoint: ddb.endpoint });
const main: BenchRuntime = await startBenchRuntime(ddb.endpoint, TABLE, {
  ingestConcurrency: config.ingestConcurrency,
});

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
    const rtOk = Math.max(a.request.roundTrips, b.request.roundTrips) <= 2;
    const flat =
      b.followUp.requests <= Math.max(a.followUp.requests * 1.2, a.followUp.requests) &&
      b.request.requests <= a.request.requests * 1.2;
    if (!rtOk) slow.push(`${a.action} ${a.request.roundTrips}`);
    if (!flat)
      growing.push(
        `${a.action} ${a.request.requests} + ${a.followUp.requests} -> ${b.request.requests} + ${b.followUp.requests}`,
      );
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
      b.request.requests,
      b.request.roundTrips,
      a.followUp.requests,
      a.followUp.roundTrips,
      a.followUp.sqsRequests || undefined,
      a.followUp.schedules || undefined,
      b.followUp.requests,
      verdict(rtOk),
      verdict(flat),
    ];
  });
  const N = config.followUpAgents;
  out.push(
    table(
      `(2) DynamoDB requests per action: request path (inside the handler's invocation) | follow-ups (the stream consumer's invocations it caused); 10 and ${N} agents`,
      [
        'action',
        'status',
        'req',
        'reads',
        'writes',
        'RT',
        'tx items',
        'floor WCU',
        'sqs',
        `req (${N})`,
        `RT (${N})`,
        'f-u req',
        'f-u RT',
        'f-u sqs',
        'f-u sched',
        `f-u req (${N})`,
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
    figure: `requests per action (request path, follow-ups), 10 -> ${config.followUpAgents} agents`,
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
    figure: 'accepts/s: handler (request path) / raw GetItem + TransactWriteItems, same items',
    value: `${tput.ratio.toFixed(3)} (consumer beside it: ${tput.liveRatio.toFixed(3)}; vs raw with the handler's reads: ${tput.batchRatio.toFixed(3)})`,
    goal: '>= 0.85',
    pass: tput.ratio >= 0.85,
  });
  out.push(
    table(
      `(3) accepts through the HTTP handler (signed-in agents, 3 queues) vs raw GetItem + TransactWriteItems with the same items (${tput.handlerTransactItems.toFixed(1)} vs ${tput.rawTransactItems.toFixed(1)} per transaction), ${tput.actions} each, concurrency ${tput.concurrency}`,
      ['path', 'per second', 'p50 ms', 'p99 ms', 'failures / retries'],
      [
        [
          'conversations handler, stream consumer held',
          tput.handlerPerSecond,
          tput.handlerP50Ms,
          tput.handlerP99Ms,
          tput.handlerFailures,
        ],
        ['  ... then its follow-ups caught up', tput.handlerSettledPerSecond, undefined, undefined, undefined],
        [
          'conversations handler, stream consumer beside it',
          tput.handlerLivePerSecond,
          tput.handlerLiveP50Ms,
          tput.handlerLiveP99Ms,
          undefined,
        ],
        ['  ... and its follow-ups settled', tput.handlerLiveSettledPerSecond, undefined, undefined, undefined],
        ['raw GetItem + TransactWriteItems', tput.rawPerSecond, tput.rawP50Ms, tput.rawP99Ms, tput.rawRetries],
        [
          `raw BatchGetItem (the handler's ${tput.handlerKeysPerBatchGet.toFixed(0)} keys) + TransactWriteItems`,
          tput.rawBatchPerSecond,
          tput.rawBatchP50Ms,
          tput.rawBatchP99Ms,
          undefined,
        ],
        ['ratio, consumer held (goal >= 0.85)', tput.ratio, undefined, undefined, undefined],
        ['ratio, consumer beside it', tput.liveRatio, undefined, undefined, undefined],
        ["ratio, consumer held / raw with the handler's reads", tput.batchRatio, undefined, undefined, undefined],
        [
          `handler requests per accept: ${Object.entries(tput.handlerRequestsPerAccept)
            .map(([k, v]) => `${k.replace('Command', '')} ${v.toFixed(2)}`)
            .join(', ')}`,
          undefined,
          undefined,
          undefined,
          undefined,
        ],
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
    consumerConcurrency: config.ingestConcurrency,
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
      '(4) ingest on the local stack: webhook (HTTP, 202) -> SQS (fauxqs FIFO) -> ingest consumer -> conversation committed',
      ['figure', 'value'],
      [
        ['events/s through the ingest path', ing.eventsPerSecond],
        [
          `raw: same reads + transaction, events/s (concurrency ${ing.consumerConcurrency} = the consumer's)`,
          ing.rawPerSecond,
        ],
        ['ratio (goal >= 0.8)', ing.ratio],
        [
          'engine DynamoDB requests / reads per event, request path (webhook + consumer)',
          `${ing.engineRequestsPerEvent.toFixed(2)} / ${ing.engineReadsPerEvent.toFixed(2)}`,
        ],
        ['engine DynamoDB requests per event, follow-ups (stream consumer)', ing.followUpRequestsPerEvent],
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

await main.stop();

// ---------- 5: dispatch latency ----------
if (runs('dispatch')) {
  // its own DynamoDB Local: the sections before it leave a long stream behind, which DynamoDB Local
  // (not DynamoDB) makes every later request pay for, and latency is what this section measures
  await ownDynamo('the dispatch latency', async (endpoint, pid) => {
    const rt = await startBenchRuntime(endpoint, TABLE, { ingestConcurrency: config.ingestConcurrency });
    const ddoc = createDocumentClient({ endpoint });
    try {
      const rate = Number(process.env.BENCH_DISPATCH_RATE) || Math.max(2, 0.5 * (ing?.eventsPerSecond ?? 10));
      // created -> offer at lighter loads first (latency against load), then the full run at `rate`
      const lighter = [5, 20].filter((r) => r < rate);
      const sweep: { rate: number; created: LatencyFigures; dynamoCpu: number | undefined }[] = [];
      for (const r of lighter) {
        log(`(5) dispatch latency: ${config.dispatchSamples} push conversations created at ${r}/s`);
        const cpu = cpuMeter(pid);
        const d = await dispatchLatency(rt, ddoc, { created: config.dispatchSamples, freed: 0, ratePerSecond: r });
        sweep.push({ rate: r, created: d.created, dynamoCpu: cpu() });
      }
      log(
        `(5) dispatch latency: ${config.dispatchSamples} push conversations created (${rate.toFixed(1)}/s), ${config.dispatchSamples} capacity releases`,
      );
      const cpu = cpuMeter(pid);
      const d = await dispatchLatency(rt, ddoc, {
        created: config.dispatchSamples,
        freed: config.dispatchSamples,
        ratePerSecond: rate,
      });
      sweep.push({ rate, created: d.created, dynamoCpu: cpu() });
      results.dispatch = { ...d, createdRatePerSecond: rate, createdByRate: sweep };
      const verdict = (f: LatencyFigures) => ({
        value: `${f.p99Ms.toFixed(0)} ms${f.missed ? ` (${f.missed} never offered)` : ''}`,
        goal: '< 1000 ms',
        pass: f.p99Ms < 1000 && f.missed === 0,
      });
      for (const s of sweep)
        goals.push({
          figure: `dispatch p99, push conversation created at ${s.rate.toFixed(1)}/s -> committed offer`,
          ...verdict(s.created),
        });
      goals.push({ figure: 'dispatch p99, capacity freed -> committed offer', ...verdict(d.freed) });
      out.push(
        table(
          '(5) push dispatch latency on the local stack, commit -> committed offer (a follow-up: table stream -> stream poller -> follow-ups handler); created split into the stream part (commit -> the consumer is handed the record) and the consumer part',
          [
            'trigger',
            'samples',
            'p50 ms',
            'p99 ms',
            'max ms',
            'never offered',
            'stream p50/p99',
            'consumer p50/p99',
            'batch p50/p99',
            'DynamoDB Local CPU',
          ],
          [
            ...sweep.map((s) => [
              `push conversation created (${s.rate.toFixed(1)}/s)`,
              s.created.samples,
              s.created.p50Ms,
              s.created.p99Ms,
              s.created.maxMs,
              s.created.missed,
              `${s.created.stream?.p50Ms.toFixed(0)}/${s.created.stream?.p99Ms.toFixed(0)}`,
              `${s.created.consumer?.p50Ms.toFixed(0)}/${s.created.consumer?.p99Ms.toFixed(0)}`,
              `${s.created.consumer?.batchP50}/${s.created.consumer?.batchP99}`,
              s.dynamoCpu === undefined ? 'n/a' : `${(100 * s.dynamoCpu).toFixed(0)} % of a core`,
            ]),
            [
              'capacity freed (end, wrap-up never)',
              d.freed.samples,
              d.freed.p50Ms,
              d.freed.p99Ms,
              d.freed.maxMs,
              d.freed.missed,
              '',
              '',
              '',
            ],
          ],
        ),
      );
      for (const s of sweep)
        log(
          `  created at ${s.rate.toFixed(1)}/s: p99 ${s.created.p99Ms.toFixed(0)} ms (stream ${s.created.stream?.p99Ms.toFixed(0)}, consumer ${s.created.consumer?.p99Ms.toFixed(0)})`,
        );
      log(`  freed -> offer p99 ${d.freed.p99Ms.toFixed(0)} ms`);
    } finally {
      await rt.stop();
    }
  });
}

// ---------- 6: key heat ----------
if (runs('heat')) {
  log(`(6) key heat: ${config.heatAgents} agents, ${config.heatTransitions} transitions (a DynamoDB Local of its own)`);
  const h: HeatFigures = await ownDynamo('the key heat', async (endpoint) => {
    const rt = await startBenchRuntime(endpoint, HEAT_TABLE, { ingestConcurrency: config.ingestConcurrency });
    const heatDoc = createDocumentClient({ endpoint });
    try {
      return await keyHeat(rt, heatDoc, endpoint, {
        agents: config.heatAgents,
        transitions: config.heatTransitions,
        perRound: config.heatPerRound,
        concurrency: config.concurrency,
        log,
      });
    } finally {
      await rt.stop();
      heatDoc.destroy();
    }
  });
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
        k.conditionChecksPerSecond,
        mark(Math.max(k.perSecond, k.writeRequestsPerSecond ?? 0), WRITE_GOAL),
      ]);
    for (const k of x.reads.slice(0, 5))
      rows.push([
        index,
        'reads',
        k.key,
        k.scope,
        k.count,
        k.perSecond,
        undefined,
        undefined,
        mark(k.perSecond, READ_GOAL),
      ]);
  }
  out.push(
    table(
      `(6) key heat: ${h.transitions} transitions replayed (${h.conversations} conversations; ${h.agents} agents, ${h.bigQueueAgents} in qbig, 3 of ${h.queues} queues each; skills: every agent has 2, a third of qbig's push work requires one at priority 8, another third the other at priority 3, relaxing after 20 s; a quarter of pick work prioritized; aging 60 s) at ${h.replayPerSecond.toFixed(0)}/s here`,
      ['entry-point calls', 'count', 'transitions committed', 'count'],
      Array.from({ length: Math.max(Object.keys(h.mix).length, Object.keys(h.committed).length) }, (_, i) => {
        const m = Object.entries(h.mix)[i];
        const c = Object.entries(h.committed)[i];
        return [m?.[0], m?.[1], c?.[0], c?.[1]];
      }),
    ),
    table(
      'writes (table: from the stream | write requests) and reads (from the requests) per transition',
      ['on', 'writes', 'write requests', 'of which condition checks', 'reads'],
      Object.entries(h.perTransition).map(([k, v]) => [k, v.writes, v.writeRequests, v.conditionChecks, v.reads]),
    ),
    table(
      `hottest partition keys projected to ${h.projectedTo} transitions/s; goals <= ${WRITE_GOAL} writes/s, <= ${READ_GOAL} reads/s (per-conversation / per-agent keys: an upper bound, the replay compresses their lives)`,
      ['on', 'kind', 'partition key', 'scope', 'count', 'per s @1k/s', 'write req/s', 'cond. checks/s', 'goal'],
      rows,
    ),
  );
  // SC-1 with MX-1 / MX-3 in the mix: the follow-ups' counter writes and the reads of them
  const hotCounter = h.counters.hottestWrites[0];
  const readCounter = h.counters.hottestReads[0];
  const counterWrites = (k: (typeof h.counters.hottestWrites)[number] | undefined) =>
    Math.max(k?.perSecond ?? 0, k?.writeRequestsPerSecond ?? 0);
  out.push(
    table(
      `(6) metric counters in the mix (MX-1, MX-3: the stream follow-ups' countChange): per transition, by item (stream writes | write requests | reads); ${h.counters.partitions} counter partitions (QSTATS#<queue>#<shard>)`,
      ['item', 'writes', 'write requests', 'reads'],
      Object.entries(h.counters.perTransition).map(([k, v]) => [k, v.writes, v.writeRequests, v.reads]),
    ),
    table(
      `(6) hottest counter partitions projected to ${h.projectedTo} transitions/s; goals <= ${WRITE_GOAL} writes/s, <= ${READ_GOAL} reads/s`,
      ['kind', 'partition key', 'count', 'per s @1k/s', 'write req/s', 'goal'],
      [
        ...h.counters.hottestWrites.map((k) => [
          'writes',
          k.key,
          k.count,
          k.perSecond,
          k.writeRequestsPerSecond,
          mark(counterWrites(k), WRITE_GOAL),
        ]),
        ...h.counters.hottestReads.map((k) => [
          'reads',
          k.key,
          k.count,
          k.perSecond,
          undefined,
          mark(k.perSecond, READ_GOAL),
        ]),
      ],
    ),
  );
  goals.push({
    figure: `key heat (SC-1): the hottest metric counter partition at 1,000 transitions/s, writes (and reads)`,
    value: hotCounter
      ? `${hotCounter.key} ${counterWrites(hotCounter).toFixed(0)} writes/s (${hotCounter.perSecond.toFixed(0)} in the stream, ${(hotCounter.writeRequestsPerSecond ?? 0).toFixed(0)} requested); reads: ${readCounter ? `${readCounter.key} ${readCounter.perSecond.toFixed(0)}/s` : 'none'}`
      : 'no counter writes seen',
    goal: `<= ${WRITE_GOAL} writes/s (<= ${READ_GOAL} reads/s)`,
    pass: hotCounter
      ? counterWrites(hotCounter) <= WRITE_GOAL && (readCounter?.perSecond ?? 0) <= READ_GOAL
      : undefined,
  });
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
  const p = await ownDynamo('the push assignment', async (endpoint) => {
    await ensureTable(endpoint, TABLE);
    return pushAssignment(endpoint, TABLE, config.pushAgents, log);
  });
  results.pushAssignment = p;
  goals.push({
    figure: `reads per push assignment (dispatch + its follow-ups), ${config.pushAgents} / 10 agents`,
    value: p.readsRatio.toFixed(3),
    goal: '<= 1.2',
    pass: p.readsRatio <= 1.2,
  });
  out.push(
    table(
      '(c) push assignment: dispatchConversation (what the stream consumer runs for a conversation entering Open) + the follow-ups of its offer',
      ['agents', 'assignments', 'requests', 'reads', 'dispatch req', 'dispatch reads', 'f-u req', 'f-u reads'],
      p.runs.map((r) => [
        r.agents,
        r.assignments,
        r.requestsPerAssignment,
        r.readsPerAssignment,
        r.dispatchRequestsPerAssignment,
        r.dispatchReadsPerAssignment,
        r.followUpRequestsPerAssignment,
        r.followUpReadsPerAssignment,
      ]),
    ),
  );
}

// ---------- (c) with skills: both directions of push routing, 20 skills, 1,000 waiting ----------
if (runs('push') || runs('push-skills')) {
  const s = await ownDynamo('the push assignment with skills', async (endpoint) => {
    await ensureTable(endpoint, TABLE);
    return pushSkills(endpoint, TABLE, config.pushAgents, log);
  });
  results.pushSkills = s;
  goals.push(
    {
      figure: `reads per push assignment, new conversation with a requirement (${SKILL_COUNT} skills, ${WAITING} waiting), ${config.pushAgents} / 10 agents`,
      value: s.conversation.readsRatio.toFixed(3),
      goal: '<= 1.2',
      pass: s.conversation.readsRatio <= 1.2,
    },
    {
      figure: `reads per assignment, agent frees capacity -> best conversation she qualifies for (${SKILL_COUNT} skills, ${WAITING} waiting), ${config.pushAgents} / 10 agents`,
      value: s.agent.readsRatio.toFixed(3),
      goal: '<= 1.2',
      pass: s.agent.readsRatio <= 1.2,
    },
  );
  const row = (direction: string, r: SkilledRun): Cell[] => [
    direction,
    r.agents,
    r.requirements,
    r.entriesPerAgent,
    r.assignments,
    r.withRequirement,
    r.bestOffers,
    r.strayOffers,
    r.requestsPerAssignment,
    r.readsPerAssignment,
    r.rcuPerAssignment,
    r.triggerRequestsPerAssignment,
    r.triggerReadsPerAssignment,
    r.followUpRequestsPerAssignment,
    r.followUpReadsPerAssignment,
  ];
  out.push(
    table(
      `(c) push assignment with skills (K-4): ${SKILL_COUNT} skills, ${WAITING} Open conversations waiting in q1. Direction 1: dispatchConversation for a new conversation (trigger) + the follow-ups of its offer. Direction 2: an agent PUT raises a full agent's capacity by one (trigger, not in the figure) + the follow-ups (her refresh, dispatchAgent, the offer's follow-ups). with req.: triggers (conversations / agents) with a requirement / meeting one; best: freeings offered exactly the first Open conversation she meets in Q-2 order; other offers: offers beyond those counted (expected 0). Per assignment; RCU: read capacity the counted reads consumed (DynamoDB Local's figures).`,
      [
        'direction',
        'agents',
        'requirements',
        'entries/agent',
        'assignments',
        'with req.',
        'best',
        'other offers',
        'requests',
        'reads',
        'RCU',
        'trigger req',
        'trigger reads',
        'f-u req',
        'f-u reads',
      ],
      [
        ...s.conversation.runs.map((r) => row('new conversation -> agent', r)),
        ...s.agent.runs.map((r) => row('agent frees capacity -> conversation', r)),
      ],
    ),
    table(
      '(c) with skills: requests by command over all measured assignments (trigger | follow-ups)',
      ['direction', 'agents', 'trigger', 'follow-ups'],
      [
        ...s.conversation.runs.map((r) => [
          'new conversation',
          r.agents,
          JSON.stringify(r.byCommand),
          JSON.stringify(r.followUpByCommand),
        ]),
        ...s.agent.runs.map((r) => [
          'agent frees capacity',
          r.agents,
          JSON.stringify(r.byCommand),
          JSON.stringify(r.followUpByCommand),
        ]),
      ],
    ),
  );
}

// ---------- (e) queue reads (MX-1 metrics, MX-3 position) at 10 and 10,000 waiting ----------
if (runs('queue-reads')) {
  log(
    `(e) queue reads: metrics and queue position at 10 and ${config.queueWaiting} waiting (a DynamoDB Local of its own)`,
  );
  const q: QueueReadsFigures = await ownDynamo('the queue reads', async (endpoint) => {
    const rt = await startBenchRuntime(endpoint, TABLE, { ingestConcurrency: config.ingestConcurrency });
    const qdoc = createDocumentClient({ endpoint });
    try {
      return await queueReads(rt, qdoc, { big: config.queueWaiting, seed: config.queueSeed, log });
    } finally {
      await rt.stop();
      qdoc.destroy();
    }
  });
  results.queueReads = q;
  const N = q.waiting.big;
  out.push(
    table(
      `(e) queue reads through the queues HTTP handler (createHandler, JWT authorizer claims), per read (${q.runs[0]?.small.samples ?? 0} samples each, caches warm): ${q.agents} agents signed in, ${q.queues.length} queues; qsmall ${q.waiting.small} waiting + its last, qbig ${N} waiting + its last (${q.seeding.copies} of them item copies, ${q.seeding.counters === 'follow-ups' ? 'counted by the real stream follow-ups' : 'their counters set to what the follow-ups leave'}); RT: round trips; RCU: DynamoDB Local's consumed capacity`,
      [
        'read',
        'status',
        'req (10)',
        'RT (10)',
        'RCU (10)',
        `req (${N})`,
        `RT (${N})`,
        `RCU (${N})`,
        'req ratio',
        'RT ratio',
        'RCU ratio',
        'req, RT ratio <= 1.2',
      ],
      q.runs.map((r) => [
        r.small.read,
        `${r.small.status}/${r.big.status}`,
        r.small.requests,
        r.small.roundTrips,
        r.small.rcu,
        r.big.requests,
        r.big.roundTrips,
        r.big.rcu,
        r.requestsRatio,
        r.roundTripsRatio,
        r.rcuRatio,
        verdict(r.requestsRatio <= 1.2 && r.roundTripsRatio <= 1.2),
      ]),
    ),
    table(
      `(e) queue reads by command (per read) and what qbig's reads answered`,
      ['read', `by command (10)`, `by command (${N})`],
      [
        ...q.runs.map((r) => [r.small.read, JSON.stringify(r.small.byCommand), JSON.stringify(r.big.byCommand)]),
        [
          'answers',
          `qsmall last: position ${String(q.smallPosition.position)}, exact ${String(q.smallPosition.positionExact)}`,
          `qbig last: position ${String(q.bigPosition.position)}, positionExact ${String(q.bigPosition.positionExact)}, estimatedWaitSeconds ${String(q.bigPosition.estimatedWaitSeconds)}; 5th: ${String(q.bigHeadPosition.position)} (exact ${String(q.bigHeadPosition.positionExact)}); metrics: Open ${String(q.bigMetrics.Open)}, oldestOpenSeconds ${String(q.bigMetrics.oldestOpenSeconds)}, signedIn ${String(q.bigMetrics.signedIn)}`,
        ],
      ],
      [1, 2],
    ),
  );
  for (const r of q.runs)
    goals.push({
      figure: `requests (round trips) per ${r.small.read}, ${N} / 10 waiting`,
      value: `${r.requestsRatio.toFixed(3)} (${r.roundTripsRatio.toFixed(3)}); ${r.big.requests.toFixed(0)} requests, ${r.big.roundTrips.toFixed(0)} RT, ${r.big.rcu.toFixed(1)} RCU at ${N}`,
      goal: '<= 1.2',
      pass: r.requestsRatio <= 1.2 && r.roundTripsRatio <= 1.2,
    });
  log(
    `  ${q.runs.map((r) => `${r.small.read}: ${r.small.requests} -> ${r.big.requests} requests`).join('; ')}; qbig last at ${String(q.bigPosition.position)} (exact ${String(q.bigPosition.positionExact)}); ${q.seconds.toFixed(0)} s`,
  );
}

// ---------- (f) messages (MS-1, MS-2): a reply's request path, transcript pages at 100 and 10,000 messages ----------
if (runs('messages')) {
  log(
    `(f) messages: replies at 10 and ${LONG_TRANSCRIPT} messages, 10 and ${config.messagesAgents} agents; transcript pages at 100 and ${LONG_TRANSCRIPT} messages (a DynamoDB Local of its own)`,
  );
  const m: MessagesFigures = await ownDynamo('the messages', async (endpoint) => {
    const rt = await startBenchRuntime(endpoint, TABLE, { ingestConcurrency: config.ingestConcurrency });
    const mdoc = createDocumentClient({ endpoint });
    try {
      return await messagesBench(rt, mdoc, { agents: config.messagesAgents, log });
    } finally {
      await rt.stop();
      mdoc.destroy();
    }
  });
  results.messages = m;
  const goalCommands = Object.entries(REPLY_GOAL)
    .map(([k, v]) => `${v} ${k.replace('Command', '')}`)
    .join(' + ');
  out.push(
    table(
      `(f) POST /v1/conversations/{id}/messages (MS-2, the primary agent's reply to an Active accepted conversation) through the conversations HTTP handler (createHandler, JWT authorizer claims), per reply (${m.replies[0]?.samples ?? 0} samples each, after a warm-up reply); messages: in the transcript when the first measured reply was sent; RT: round trips; f-u: the follow-ups it caused (stream consumer)`,
      [
        'agents',
        'messages',
        'statuses',
        'req',
        'reads',
        'writes',
        'RT',
        'tx items',
        'RCU',
        'WCU',
        'sqs',
        'by command',
        'f-u req',
        'f-u sqs',
        `${goalCommands}, RT 2`,
      ],
      m.replies.map((r) => [
        r.agents,
        r.messages,
        [...new Set(r.statuses)].join('/'),
        r.requests,
        r.reads,
        r.writes,
        r.roundTrips,
        r.transactItems,
        r.rcu,
        r.wcu,
        r.sqsRequests,
        JSON.stringify(r.byCommand),
        r.followUpRequests,
        r.followUpSqs,
        verdict(r.everySampleAtGoal),
      ]),
      [2, 11],
    ),
    table(
      `(f) GET /v1/conversations/{id}/messages?limit=100&cursor=... (MS-1, the primary agent reads the transcript) per page (${m.pages[0]?.short.samples ?? 0} samples each, caches warm), at 100 and ${LONG_TRANSCRIPT} messages; RCU: DynamoDB Local's consumed capacity (consistent reads); cursors made in the form of the first page's nextCursor (${m.apiCursor ?? '?'})`,
      [
        'page',
        'req (100)',
        'RT (100)',
        'RCU (100)',
        'items, seq (100)',
        `req (${LONG_TRANSCRIPT})`,
        `RT (${LONG_TRANSCRIPT})`,
        `RCU (${LONG_TRANSCRIPT})`,
        `items, seq (${LONG_TRANSCRIPT})`,
        'req ratio',
        'RT ratio',
        'RCU ratio',
        'req ratio <= 1.2',
      ],
      m.pages.map((p) => [
        p.short.page,
        p.short.requests,
        p.short.roundTrips,
        p.short.rcu,
        `${p.short.items}, ${String(p.short.firstSeq)}-${String(p.short.lastSeq)}${p.short.nextCursor ? ' +cursor' : ''}${p.short.right ? '' : ' (WRONG)'}`,
        p.long.requests,
        p.long.roundTrips,
        p.long.rcu,
        `${p.long.items}, ${String(p.long.firstSeq)}-${String(p.long.lastSeq)}${p.long.nextCursor ? ' +cursor' : ''}${p.long.right ? '' : ' (WRONG)'}`,
        p.requestsRatio,
        p.roundTripsRatio,
        p.rcuRatio,
        verdict(p.requestsRatio <= 1.2 && p.short.right && p.long.right),
      ]),
      [4, 8],
    ),
    table(
      '(f) transcript pages by command (per page)',
      ['page', 'by command (100)', `by command (${LONG_TRANSCRIPT})`],
      m.pages.map((p) => [p.short.page, JSON.stringify(p.short.byCommand), JSON.stringify(p.long.byCommand)]),
      [1, 2],
    ),
  );
  for (const r of m.replies)
    goals.push({
      figure: `reply (MS-2) request path, ${r.agents} agents, ${r.messages} messages in the transcript`,
      value: `${r.requests.toFixed(0)} requests ${JSON.stringify(r.byCommand)}, ${r.roundTrips.toFixed(0)} RT${r.everySampleAtGoal ? '' : ` (statuses ${r.statuses.join('/')}, sqs ${r.sqsRequests})`}`,
      goal: `${goalCommands}, 2 RT`,
      pass: r.everySampleAtGoal,
    });
  const base = m.replies[0];
  const same =
    base !== undefined && m.replies.every((r) => r.sameEverySample && sameCommands(r.byCommand, base.byCommand));
  goals.push({
    figure: `reply requests (SC-2), 10 -> ${LONG_TRANSCRIPT} messages and 10 -> ${m.agents.big} agents`,
    value: same
      ? `the same (${JSON.stringify(base.byCommand)})`
      : m.replies.map((r) => JSON.stringify(r.byCommand)).join(' / '),
    goal: 'the same requests',
    pass: same,
  });
  for (const p of m.pages)
    goals.push({
      figure: `requests per transcript page (MS-1), ${p.short.page}, ${LONG_TRANSCRIPT} / 100 messages`,
      value: `${p.requestsRatio.toFixed(3)} (RCU ${p.rcuRatio.toFixed(3)}: ${p.short.rcu.toFixed(1)} -> ${p.long.rcu.toFixed(1)}); ${p.long.requests.toFixed(0)} requests, ${p.long.roundTrips.toFixed(0)} RT at ${LONG_TRANSCRIPT}${p.short.right && p.long.right ? '' : '; WRONG page'}`,
      goal: '<= 1.2',
      pass: p.requestsRatio <= 1.2 && p.short.right && p.long.right,
    });
  log(
    `  replies: ${m.replies.map((r) => `${r.agents} agents / ${r.messages} messages ${r.requests} req ${r.roundTrips} RT`).join('; ')}; pages: ${m.pages.map((p) => `${p.short.page} ${p.short.requests} -> ${p.long.requests} req, ${p.short.rcu} -> ${p.long.rcu} RCU`).join('; ')}; ${m.seconds.toFixed(0)} s`,
  );
}

if (runs('bundles')) {
  // ---------- (d) bundle size and module init time, beside each function's floor ----------
  log("(d) bundles (the stack's esbuild options) and init time, beside their floors (test/infra/bundle-floor.ts)");
  const b = await bundles(log);
  results.bundles = b;
  const over = b.filter((x) => x.ratio !== undefined && x.ratio > BUDGET_RATIO);
  goals.push({
    figure: `bundle / floor (the SDK clients and Powertools it uses alone), per function`,
    value: over.length
      ? over.map((x) => `${x.function} ${(x.ratio as number).toFixed(2)}`).join(', ')
      : `max ${Math.max(...b.map((x) => x.ratio ?? 0)).toFixed(2)}`,
    goal: `<= ${BUDGET_RATIO}`,
    pass: over.length === 0,
  });
  out.push(
    table(
      `(d) bundles (the stack's esbuild options: ESM, minified, node24, SDK bundled) and module init time (import, less node's start), beside the floor`,
      ['function', 'handler', 'KiB', 'floor KiB', 'ratio', 'init ms', 'floor init ms', 'declared, not in the bundle'],
      b.map((x) => [
        x.function,
        x.handler,
        x.bytes / 1024,
        x.floorBytes === undefined ? undefined : x.floorBytes / 1024,
        x.ratio,
        x.initMs,
        x.floorInitMs,
        x.notInBundle?.join(', '),
      ]),
      [1, 7],
    ),
  );
}

// ---------- report ----------
/** what the figures are and are not */
const NOTES = [
  'Machine: 2 cores shared with other work running at the same time (load average noted in the JSON): every rate and latency is noisy; ratios are measured side by side in the same run.',
  "Phases: 'request' = inside an HTTP handler's or SQS consumer's invocation; 'follow-up' = inside the stream consumer's invocations (the follow-ups handler fed by the table's stream, bin/local/stream-poller.ts), counted for a measured call from its start until the stream is quiet.",
  'Every handler is built by its createHandler(config, overrides) on one store over the probed DynamoDB client; round trips count DynamoDB requests only (overlapping ones once); SQS sends and CreateSchedule calls are counted apart.',
  'Timers: EventBridge Scheduler is a stand-in that records CreateSchedule and delivers nothing; the bench delivers due timers through the timers consumer (as Scheduler would) and runs the sweeper itself.',
  "Throughput: the goal's ratio holds the stream consumer while the handler is timed (its follow-ups catch up after, timed apart); the ratio with the consumer beside it shares this machine's CPU and one DynamoDB Local, which AWS would not.",
  "Ingest raw baseline runs at the consumer's concurrency (the SQS poller's concurrent FIFO groups; every event is a thread of its own).",
  'Setup: agents beyond the first 10 are item copies of a signed-in one (availability entries included); the stream records of those copies are dropped unhandled (their follow-ups would only rewrite what was copied).',
  "Key heat: writes from the stream (changed items only); write requests from the requests (no-op and failed-condition writes, and transactions' ConditionCheck items, shown apart: counted against the write goal as transaction participants), follow-ups included.",
  'Key heat: the sweeper runs once per replay round, not once a minute; per-conversation and per-agent keys are upper bounds.',
  'DynamoDB Local is not DynamoDB: its stream is not the AWS one (shards, delivery), no partition limits, splits or adaptive capacity, WCU not billed as on AWS (floor WCU = 2 per item).',
  "Queue reads: the big queue's waits beyond its first and last are item copies of the first (BatchWriteItem); their stream records go through the real follow-ups (counters, entry records), or (quick run, BENCH_QUEUE_SEED=counters) are dropped and the counters set to what those leave; the reads are the queues handler's, caches warm, with no other traffic.",
  "Messages: the transcripts are seeded with BatchWriteItem (messageEntity / messageLogEntity items, their stream records dropped), not through webhooks; the conversations are committed Open and accepted through the API; the pages' cursors are made in the API's cursor form (checked against the first page's nextCursor).",
  'Not measured: Lambda concurrency and cold starts (init ms is module load only), Scheduler, SQS and stream delivery delays in AWS (ParallelizationFactor, batching window).',
];
results.notes = NOTES;
results.loadAverageAtEnd = loadavg();
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
