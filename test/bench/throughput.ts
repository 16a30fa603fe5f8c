import { BatchGetCommand, GetCommand, TransactWriteCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { performance } from 'node:perf_hooks';
import { keys } from '../../functions/adapters/dynamodb/keys.js';
import { buildTransaction } from '../../functions/adapters/dynamodb/transact.js';
import { decide } from '../../functions/domain/decide.js';
import type { Agent, Conversation, Workstream } from '../../functions/domain/model.js';
import type { Versioned } from '../../functions/ports/storage-types.js';
import type { BenchRuntime } from './bench-runtime.js';
import { inPhase } from './phases.js';
import { openConv, setupOrg } from './setup.js';

/** Runs `items` through `run`, `concurrency` at a time; returns the seconds it took and each call's latency (ms). */
export async function pool<T>(
  items: readonly T[],
  concurrency: number,
  run: (t: T, i: number) => Promise<void>,
): Promise<{ seconds: number; latencies: number[] }> {
  const latencies: number[] = [];
  const t0 = performance.now();
  let i = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (i < items.length) {
        const n = i++;
        const s = performance.now();
        await run(items[n] as T, n);
        latencies.push(performance.now() - s);
      }
    }),
  );
  return { seconds: (performance.now() - t0) / 1000, latencies };
}

export function percentile(xs: readonly number[], p: number): number {
  if (!xs.length) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.ceil((p / 100) * s.length) - 1)] as number;
}

export interface ThroughputFigures {
  actions: number;
  concurrency: number;
  agents: number;
  /** the handler with the stream consumer held while it runs (its follow-ups caught up afterwards, untimed) */
  handlerPerSecond: number;
  /** the same, then its follow-ups settled: accepts / (handler time + catch-up time) */
  handlerSettledPerSecond: number;
  /** the handler with the stream consumer running beside it on this machine (as in production) */
  handlerLivePerSecond: number;
  handlerLiveSettledPerSecond: number;
  rawPerSecond: number;
  /** the raw baseline reading what the handler reads (conversation, agent, pool) in one BatchGetItem */
  rawBatchPerSecond: number;
  ratio: number;
  liveRatio: number;
  /** handler (consumer held) / the raw baseline with the handler's reads */
  batchRatio: number;
  handlerFailures: number;
  rawRetries: number;
  handlerP50Ms: number;
  handlerP99Ms: number;
  handlerLiveP50Ms: number;
  handlerLiveP99Ms: number;
  rawP50Ms: number;
  rawP99Ms: number;
  rawBatchP50Ms: number;
  rawBatchP99Ms: number;
  /** keys per BatchGetItem of the handler */
  handlerKeysPerBatchGet: number;
  /** DynamoDB requests per accept on the handler's request path, by command, and its transaction's items */
  handlerRequestsPerAccept: Record<string, number>;
  handlerTransactItems: number;
  rawTransactItems: number;
}

/**
 * (3) Accepts through the conversations HTTP handler by signed-in agents (Available, 3 queues, so
 * every accept has its availability refreshed by the follow-ups), against a raw baseline per accept
 * of one GetItem (the conversation) plus one TransactWriteItems with the very items the engine
 * commits (the decision's writes and its configuration ConditionCheck), at the same concurrency, in
 * the same run. Each round runs four passes in a rotating order so machine noise hits all:
 * - the handler with the stream consumer held (the request path alone; the goal's figure), its
 *   follow-ups then caught up (timed apart);
 * - the handler with the stream consumer running beside it (both share this machine's 2 cores and
 *   one DynamoDB Local; in AWS they share neither);
 * - the raw baseline (the goal's: GetItem of the conversation + the transaction);
 * - the raw baseline reading what the handler reads (conversation, agent profile, pool) in one
 *   BatchGetItem, then the transaction: what is left of the gap is the handler's own work.
 */
export async function throughput(
  rt: BenchRuntime,
  doc: DynamoDBDocumentClient,
  n: number,
  concurrency: number,
): Promise<ThroughputFigures> {
  const agentsCount = 40;
  const o = await setupOrg(rt, doc, {
    queues: ['q1', 'q2', 'q3'],
    agents: agentsCount,
    apiAgents: 10,
    agentQueues: () => ['q1', 'q2', 'q3'],
    capacity: 1000,
    workstreams: [{ id: 'ws-pick', distribution: 'pick', blockCapacity: 5 }],
  });
  const warm = Math.max(8, Math.min(40, Math.floor(n / 4)));
  const now = () => rt.local.clock.now();
  const open = async (count: number): Promise<Conversation[]> => {
    const out: Conversation[] = [];
    await pool(Array.from({ length: count }), 8, async () => {
      out.push(await openConv(rt.store, o, 'ws-pick', 'q1', now()));
    });
    return out;
  };
  const agentFor = (i: number): string => o.agents[i % o.agents.length] as string;

  let failures = 0;
  const byCommand: Record<string, number> = {};
  let handlerTxItems = 0;
  let batchKeys = 0;
  const stopCounting = rt.probe.observe((r) => {
    if (r.phase !== 'request') return;
    byCommand[r.command] = (byCommand[r.command] ?? 0) + 1;
    if (r.command === 'BatchGetItemCommand')
      batchKeys += (r.input.RequestItems as Record<string, { Keys: unknown[] }>)[rt.table]?.Keys.length ?? 0;
    if (r.command === 'TransactWriteItemsCommand') handlerTxItems += (r.input.TransactItems as unknown[]).length;
  });
  const handlerOp = async (c: Conversation, i: number): Promise<void> => {
    const r = await rt.entry.action(o.org, agentFor(i), c.id, 'accept');
    if (r.status !== 200) failures++;
  };
  let retries = 0;
  type Prepared = { c: Conversation; agentId: string; tx: ReturnType<typeof buildTransaction> };
  const rawOp = (read: 'get' | 'batch') => async (p: Prepared) => {
    if (read === 'get')
      await doc.send(
        new GetCommand({ TableName: rt.table, Key: keys.conversation(o.org, p.c.id), ConsistentRead: true }),
      );
    else
      await doc.send(
        new BatchGetCommand({
          RequestItems: {
            [rt.table]: {
              Keys: [
                keys.conversation(o.org, p.c.id),
                keys.agent(o.org, p.agentId),
                keys.pool(o.org, p.agentId, 'default'),
              ],
              ConsistentRead: true,
            },
          },
        }),
      );
    for (let attempt = 0; ; attempt++) {
      try {
        await doc.send(new TransactWriteCommand(p.tx));
        return;
      } catch (err) {
        // two accepts of one agent in flight together: resent, as the engine re-decides
        if (attempt >= 10 || (err as { name?: string }).name !== 'TransactionCanceledException') throw err;
        retries++;
      }
    }
  };
  let rawTxItems = 0;
  const prepare = async (convs: Conversation[], offset: number) => {
    const snapshots = new Map<string, Agent>();
    for (const a of o.agents) snapshots.set(a, (await inPhase('setup', () => rt.store.getAgent(o.org, a))) as Agent);
    const ws = (await inPhase('setup', () =>
      rt.store.getWorkstreamVersioned(o.org, 'ws-pick'),
    )) as Versioned<Workstream>;
    return convs.map((c, i) => {
      const agentId = agentFor(offset + i);
      const d = decide({
        conversation: c,
        actor: { role: 'agent', id: agentId },
        action: { type: 'accept' },
        workstream: ws.value,
        agent: snapshots.get(agentId) as Agent,
        now: now(),
      });
      const tx = buildTransaction(rt.table, [
        ...d.writes,
        {
          type: 'config-current',
          org: o.org,
          entity: 'workstream',
          id: ws.value.id,
          version: ws.version,
          spread: c.id,
        },
      ]);
      rawTxItems += tx.TransactItems?.length ?? 0;
      return { c, agentId, tx };
    });
  };

  // warm-up: every path, unmeasured
  await pool(await open(warm), concurrency, handlerOp);
  await pool(await prepare(await open(warm), 0), concurrency, rawOp('get'));
  await pool(await prepare(await open(warm), 0), concurrency, rawOp('batch'));
  await rt.followUps.settle();
  failures = 0;
  retries = 0;
  rawTxItems = 0;
  handlerTxItems = 0;
  batchKeys = 0;
  for (const k of Object.keys(byCommand)) delete byCommand[k];

  // short rounds in a rotating order: the machine's noise (other work runs beside the bench) hits every pass
  const rounds = 8;
  const per = Math.ceil(n / rounds);
  const t = { held: 0, heldSettle: 0, live: 0, liveSettle: 0, raw: 0, batch: 0 };
  const lat = { held: [] as number[], live: [] as number[], raw: [] as number[], batch: [] as number[] };
  for (let r = 0; r < rounds; r++) {
    const held = await open(per);
    const live = await open(per);
    const rc = await prepare(await open(per), r * per);
    const bc = await prepare(await open(per), r * per);
    // what the setup committed has its follow-ups before anything is timed
    await rt.followUps.settle();
    const passes: (() => Promise<void>)[] = [
      async () => {
        const h = await rt.followUps.paused(() => pool(held, concurrency, (c, i) => handlerOp(c, r * per + i)));
        const s0 = performance.now();
        await rt.followUps.settle();
        t.heldSettle += (performance.now() - s0) / 1000;
        t.held += h.seconds;
        lat.held.push(...h.latencies);
      },
      async () => {
        const h = await pool(live, concurrency, (c, i) => handlerOp(c, r * per + i));
        const s0 = performance.now();
        await rt.followUps.settle();
        t.liveSettle += (performance.now() - s0) / 1000;
        t.live += h.seconds;
        lat.live.push(...h.latencies);
      },
      async () => {
        const x = await pool(rc, concurrency, rawOp('get'));
        t.raw += x.seconds;
        lat.raw.push(...x.latencies);
      },
      async () => {
        const x = await pool(bc, concurrency, rawOp('batch'));
        t.batch += x.seconds;
        lat.batch.push(...x.latencies);
      },
    ];
    for (let k = 0; k < passes.length; k++) await (passes[(k + r) % passes.length] as () => Promise<void>)();
  }
  stopCounting();
  const total = per * rounds;
  const handlerPerSecond = total / t.held;
  const handlerLivePerSecond = total / t.live;
  const rawPerSecond = total / t.raw;
  const rawBatchPerSecond = total / t.batch;
  return {
    actions: total,
    concurrency,
    agents: agentsCount,
    handlerPerSecond,
    handlerSettledPerSecond: total / (t.held + t.heldSettle),
    handlerLivePerSecond,
    handlerLiveSettledPerSecond: total / (t.live + t.liveSettle),
    rawPerSecond,
    rawBatchPerSecond,
    ratio: handlerPerSecond / rawPerSecond,
    liveRatio: handlerLivePerSecond / rawPerSecond,
    batchRatio: handlerPerSecond / rawBatchPerSecond,
    handlerFailures: failures,
    rawRetries: retries,
    handlerP50Ms: percentile(lat.held, 50),
    handlerP99Ms: percentile(lat.held, 99),
    handlerLiveP50Ms: percentile(lat.live, 50),
    handlerLiveP99Ms: percentile(lat.live, 99),
    rawP50Ms: percentile(lat.raw, 50),
    rawP99Ms: percentile(lat.raw, 99),
    rawBatchP50Ms: percentile(lat.batch, 50),
    rawBatchP99Ms: percentile(lat.batch, 99),
    handlerKeysPerBatchGet: batchKeys / Math.max(1, byCommand.BatchGetItemCommand ?? 0),
    handlerRequestsPerAccept: Object.fromEntries(Object.entries(byCommand).map(([k, v]) => [k, v / (2 * total)])),
    handlerTransactItems: handlerTxItems / (2 * total),
    rawTransactItems: rawTxItems / (2 * total),
  };
}
