import { GetCommand, TransactWriteCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { performance } from 'node:perf_hooks';
import { keys } from '../../functions/adapters/dynamodb/keys.js';
import { buildTransaction } from '../../functions/adapters/dynamodb/transact.js';
import { decide } from '../../functions/domain/decide.js';
import type { Agent, Conversation } from '../../functions/domain/model.js';
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
  handlerPerSecond: number;
  /** handler calls returned and their follow-ups settled */
  handlerSettledPerSecond: number;
  rawPerSecond: number;
  ratio: number;
  handlerFailures: number;
  rawRetries: number;
  handlerP50Ms: number;
  handlerP99Ms: number;
  rawP50Ms: number;
  rawP99Ms: number;
}

/**
 * (3) Accepts through the conversations HTTP handler by signed-in agents (Available, 3 queues, so
 * every accept refreshes availability), against a raw baseline per accept of one GetItem (the
 * conversation) plus the TransactWriteItems with the very items the engine commits, at the same
 * concurrency, in the same run: the two alternate in rounds (A B B A ...) so machine noise hits both.
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
  const handlerOp = async (c: Conversation, i: number): Promise<void> => {
    const r = await inPhase('request', () => rt.entry.action(o.org, agentFor(i), c.id, 'accept'));
    if (r.status !== 200) failures++;
  };
  let retries = 0;
  const rawOp = async (p: { c: Conversation; tx: ReturnType<typeof buildTransaction> }): Promise<void> => {
    await doc.send(
      new GetCommand({ TableName: rt.table, Key: keys.conversation(o.org, p.c.id), ConsistentRead: true }),
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
  const prepare = async (convs: Conversation[], offset: number) => {
    const snapshots = new Map<string, Agent>();
    for (const a of o.agents) snapshots.set(a, (await inPhase('setup', () => rt.store.getAgent(o.org, a))) as Agent);
    return convs.map((c, i) => {
      const agentId = agentFor(offset + i);
      const d = decide({
        conversation: c,
        actor: { role: 'agent', id: agentId },
        action: { type: 'accept' },
        workstream: o.workstream['ws-pick'] as never,
        agent: snapshots.get(agentId) as Agent,
        now: now(),
      });
      return { c, tx: buildTransaction(rt.table, d.writes) };
    });
  };

  // warm-up: both paths, unmeasured
  await pool(await open(warm), concurrency, handlerOp);
  await pool(await prepare(await open(warm), 0), concurrency, rawOp);
  await rt.followUps.settle();
  failures = 0;
  retries = 0;

  const rounds = 4;
  const per = Math.ceil(n / rounds);
  let handlerSeconds = 0;
  let settleSeconds = 0;
  let rawSeconds = 0;
  const hl: number[] = [];
  const rl: number[] = [];
  for (let r = 0; r < rounds; r++) {
    const hc = await open(per);
    const rc = await prepare(await open(per), r * per);
    const runHandler = async () => {
      const h = await pool(hc, concurrency, (c, i) => handlerOp(c, r * per + i));
      const s0 = performance.now();
      await rt.followUps.settle();
      settleSeconds += (performance.now() - s0) / 1000;
      handlerSeconds += h.seconds;
      hl.push(...h.latencies);
    };
    const runRaw = async () => {
      const x = await pool(rc, concurrency, rawOp);
      rawSeconds += x.seconds;
      rl.push(...x.latencies);
    };
    if (r % 2 === 0) {
      await runHandler();
      await runRaw();
    } else {
      await runRaw();
      await runHandler();
    }
  }
  const total = per * rounds;
  const handlerPerSecond = total / handlerSeconds;
  const rawPerSecond = total / rawSeconds;
  return {
    actions: total,
    concurrency,
    agents: agentsCount,
    handlerPerSecond,
    handlerSettledPerSecond: total / (handlerSeconds + settleSeconds),
    rawPerSecond,
    ratio: handlerPerSecond / rawPerSecond,
    handlerFailures: failures,
    rawRetries: retries,
    handlerP50Ms: percentile(hl, 50),
    handlerP99Ms: percentile(hl, 99),
    rawP50Ms: percentile(rl, 50),
    rawP99Ms: percentile(rl, 99),
  };
}
