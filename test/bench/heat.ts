import type { AttributeValue } from '@aws-sdk/client-dynamodb-streams';
import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { performance } from 'node:perf_hooks';
import { TABLE_DEFINITION } from '../../functions/adapters/dynamodb/table-definition.js';
import type { Conversation } from '../../functions/domain/model.js';
import type { TimerRequest } from '../../functions/domain/writes.js';
import type { BenchRuntime } from './bench-runtime.js';
import type { ObservedRequest } from './instrument.js';
import { startedEvent } from './ingest.js';
import { inPhase } from './phases.js';
import { setupOrg, type BenchOrg } from './setup.js';
import { StreamReader } from './stream.js';
import { pool } from './throughput.js';

/** K-1: the skills of every agent of the replay */
const SKILLS = { billing: 3, french: 3 };

export const WRITE_GOAL = 500;
export const READ_GOAL = 1500;
/** the rate every count is projected to */
export const PROJECTED_TRANSITIONS_PER_SECOND = 1000;

type Counts = Map<string, number>;
const bump = (m: Counts, k: string, n = 1): void => void m.set(k, (m.get(k) ?? 0) + n);

const INDEXES = TABLE_DEFINITION.globalSecondaryIndexes;

/**
 * MX-1 / MX-3 items the stream follow-ups write (countChange): a queue's counter shard
 * (`QSTATS#<queue>#<shard>` COUNTS) and its minute buckets (MIN#<minute>, same partition), the
 * counted-change marker (`QSTATS-SEEN#<marker>`), and a wait's entry record (QPOS, in the
 * conversation's partition).
 */
export const COUNTER_ITEMS = ['counter shard', 'minute bucket', 'counted marker', 'entry record'] as const;
export type CounterItem = (typeof COUNTER_ITEMS)[number];
/** a Query names no sort key: one on a counter partition is the minute buckets' (queueStats.read) */
export const counterItemOf = (pk: string, sk: string | undefined): CounterItem | undefined =>
  pk.includes('#QSTATS-SEEN#')
    ? 'counted marker'
    : pk.includes('#QSTATS#')
      ? sk === 'COUNTS'
        ? 'counter shard'
        : 'minute bucket'
      : sk === 'QPOS'
        ? 'entry record'
        : undefined;
const isCounterPartition = (pk: string): boolean => pk.includes('#QSTATS#');
const str = (v: unknown): string | undefined => (typeof v === 'string' ? v : undefined);

/**
 * Per partition key counts, on the table and on each index (key 'table', 'GSI1'..'GSI5').
 * Writes come from the table's stream: each record's old and new image give the item's partition
 * and every index key it leaves, keeps or enters (a key that moves is a delete there and a put
 * here). Reads come from the requests: GetItem / BatchGetItem / TransactGetItems keys, and a
 * Query's partition on the index it names. Write requests per table key are counted from the
 * requests too: a write that changes nothing (or fails its condition) leaves no stream record but
 * still lands on its partition.
 */
export class KeyHeat {
  readonly writes = new Map<string, Counts>();
  readonly reads = new Map<string, Counts>();
  readonly writeRequests: Counts = new Map();
  /** ConditionCheck items of transactions, by key (counted in writeRequests too) */
  readonly conditionChecks: Counts = new Map();
  /** the metric counters' items (COUNTER_ITEMS): stream writes, write requests, reads */
  readonly counterItems = {
    writes: new Map() as Counts,
    writeRequests: new Map() as Counts,
    reads: new Map() as Counts,
  };
  transitions = 0;

  private counted(m: Counts, pk: string | undefined, sk: unknown): void {
    const kind = pk ? counterItemOf(pk, str(sk)) : undefined;
    if (kind) bump(m, kind);
  }

  constructor(private readonly table: string) {
    for (const i of ['table', ...INDEXES.map((g) => g.indexName)]) {
      this.writes.set(i, new Map());
      this.reads.set(i, new Map());
    }
  }

  private w(index: string, pk: string): void {
    bump(this.writes.get(index) as Counts, pk);
  }

  private r(index: string, pk: string | undefined): void {
    if (pk) bump(this.reads.get(index) as Counts, pk);
  }

  onStreamRecord(rec: {
    eventName?: string;
    dynamodb?: {
      Keys?: Record<string, AttributeValue>;
      OldImage?: Record<string, AttributeValue>;
      NewImage?: Record<string, AttributeValue>;
    };
  }): void {
    const d = rec.dynamodb ?? {};
    const pk = d.Keys?.PK?.S;
    if (!pk) return;
    this.w('table', pk);
    this.counted(this.counterItems.writes, pk, d.Keys?.SK?.S);
    if (rec.eventName === 'INSERT' && d.Keys?.SK?.S?.startsWith('EV#')) this.transitions++;
    for (const g of INDEXES) {
      const key = (img?: Record<string, AttributeValue>) => {
        const p = img?.[g.partitionKey]?.S;
        const s = img?.[g.sortKey]?.S;
        return p !== undefined && s !== undefined ? { p, s } : undefined;
      };
      const before = key(d.OldImage);
      const after = key(d.NewImage);
      if (before && after && before.p === after.p && before.s === after.s) this.w(g.indexName, after.p);
      else {
        if (before) this.w(g.indexName, before.p);
        if (after) this.w(g.indexName, after.p);
      }
    }
  }

  onRequest(r: ObservedRequest): void {
    if (r.phase === 'setup') return;
    const input = r.input;
    const mine = (t: unknown) => t === this.table;
    const keyPk = (k: unknown) => str((k as { PK?: unknown } | undefined)?.PK);
    const keySk = (k: unknown) => (k as { SK?: unknown } | undefined)?.SK;
    const { reads: counterReads, writeRequests: counterWrites } = this.counterItems;
    switch (r.command) {
      case 'GetItemCommand':
        if (mine(input.TableName)) {
          this.r('table', keyPk(input.Key));
          this.counted(counterReads, keyPk(input.Key), keySk(input.Key));
        }
        break;
      case 'BatchGetItemCommand':
        for (const k of (input.RequestItems as Record<string, { Keys?: unknown[] }>)?.[this.table]?.Keys ?? []) {
          this.r('table', keyPk(k));
          this.counted(counterReads, keyPk(k), keySk(k));
        }
        break;
      case 'TransactGetItemsCommand':
        for (const t of (input.TransactItems ?? []) as { Get?: { TableName?: string; Key?: unknown } }[])
          if (mine(t.Get?.TableName)) {
            this.r('table', keyPk(t.Get?.Key));
            this.counted(counterReads, keyPk(t.Get?.Key), keySk(t.Get?.Key));
          }
        break;
      case 'QueryCommand': {
        if (!mine(input.TableName)) break;
        const index = str(input.IndexName) ?? 'table';
        const pkName = INDEXES.find((g) => g.indexName === index)?.partitionKey ?? TABLE_DEFINITION.partitionKey;
        const names = (input.ExpressionAttributeNames ?? {}) as Record<string, string>;
        const values = (input.ExpressionAttributeValues ?? {}) as Record<string, unknown>;
        for (const m of String(input.KeyConditionExpression ?? '').matchAll(/([#\w]+)\s*=\s*(:\w+)/g)) {
          const attr = m[1]?.startsWith('#') ? names[m[1]] : m[1];
          if (attr === pkName) {
            this.r(index, str(values[m[2] as string]));
            if (index === 'table') this.counted(counterReads, str(values[m[2] as string]), undefined);
          }
        }
        break;
      }
      case 'ScanCommand':
        if (mine(input.TableName)) this.r(str(input.IndexName) ?? 'table', '(scan)');
        break;
      case 'TransactWriteItemsCommand':
        for (const t of (input.TransactItems ?? []) as Record<
          string,
          { TableName?: string; Item?: unknown; Key?: unknown }
        >[])
          for (const [kind, op] of Object.entries(t))
            if (mine(op.TableName)) {
              const pk = keyPk(op.Item ?? op.Key);
              if (pk) bump(this.writeRequests, pk);
              if (pk && kind === 'ConditionCheck') bump(this.conditionChecks, pk);
              else this.counted(counterWrites, pk, keySk(op.Item ?? op.Key));
            }
        break;
      case 'BatchWriteItemCommand':
        for (const w of ((input.RequestItems as Record<string, unknown[]>)?.[this.table] ?? []) as {
          PutRequest?: { Item?: unknown };
          DeleteRequest?: { Key?: unknown };
        }[]) {
          const pk = keyPk(w.PutRequest?.Item ?? w.DeleteRequest?.Key);
          if (pk) bump(this.writeRequests, pk);
          this.counted(counterWrites, pk, keySk(w.PutRequest?.Item ?? w.DeleteRequest?.Key));
        }
        break;
      case 'PutItemCommand':
      case 'UpdateItemCommand':
      case 'DeleteItemCommand': {
        const pk = mine(input.TableName) ? keyPk(input.Item ?? input.Key) : undefined;
        if (pk) bump(this.writeRequests, pk);
        this.counted(counterWrites, pk, keySk(input.Item ?? input.Key));
        break;
      }
      default:
        break;
    }
  }
}

/**
 * Whose traffic a key carries. A shared key's rate grows with the total rate, so the projection is
 * its rate at 1,000 transitions/s. A conversation's or an agent's key carries only that entity's
 * transitions: the replay compresses their lives, so its projection is an upper bound.
 */
export type KeyScope = 'shared' | 'per-conversation' | 'per-agent';
export const scopeOf = (key: string): KeyScope =>
  /#(CONV|THREAD|TIMER|RECEIPT)#/.test(key) ? 'per-conversation' : /#AGENT#/.test(key) ? 'per-agent' : 'shared';

export interface HotKey {
  key: string;
  scope: KeyScope;
  count: number;
  perSecond: number;
  /** table writes only: write requests (changed or not) on the key, projected */
  writeRequestsPerSecond?: number;
  /** ...of which a transaction's ConditionCheck items (the configuration checks of R-5, queue checks...) */
  conditionChecksPerSecond?: number;
}

export interface HeatFigures {
  agents: number;
  bigQueueAgents: number;
  queues: number;
  conversations: number;
  transitions: number;
  streamRecords: number;
  seconds: number;
  mix: Record<string, number>;
  /** the history events committed during the replay, by action */
  committed: Record<string, number>;
  projectedTo: number;
  goals: { writesPerSecond: number; readsPerSecond: number };
  /** transitions per second of the replay itself on this machine */
  replayPerSecond: number;
  /** writes and reads per transition, on the table and on each index */
  perTransition: Record<string, { writes: number; reads: number; writeRequests?: number; conditionChecks?: number }>;
  hottest: Record<string, { writes: HotKey[]; reads: HotKey[] }>;
  failing: { index: string; kind: 'writes' | 'reads'; key: string; scope: KeyScope; perSecond: number }[];
  /**
   * MX-1 / MX-3 in the mix: the stream follow-ups' counter writes (counter shards and minute buckets,
   * markers, entry records) and the reads of them, per transition; the counter partitions
   * (`QSTATS#<queue>#<shard>`) hottest by writes (the larger of the stream's and the requests', as the
   * table ranking) and by reads, projected
   */
  counters: {
    partitions: number;
    perTransition: Record<CounterItem, { writes: number; writeRequests: number; reads: number }>;
    hottestWrites: HotKey[];
    hottestReads: HotKey[];
  };
}

const redact = (org: string, k: string): string => k.split(org).join('<org>');

/**
 * (6) Key heat: one org of `agents` agents (half of them in queue `qbig`, every agent in 3 of 20
 * queues, signed in), replaying rounds of conversations through the entry points until
 * `transitions` history events were committed: webhooks (half push, half pick; half of the
 * traffic to qbig) -> offer (push) / accept -> a quarter of the pick ones transferred to another
 * queue and accepted there -> end -> the wrap-up release and offer-expiry timers delivered as
 * Scheduler would -> close -> the sweeper. Counts per key are projected to 1,000 transitions/s.
 */
export async function keyHeat(
  rt: BenchRuntime,
  doc: DynamoDBDocumentClient,
  endpoint: string,
  opts: { agents: number; transitions: number; perRound: number; concurrency: number; log: (s: string) => void },
): Promise<HeatFigures> {
  const queues = ['qbig', ...Array.from({ length: 19 }, (_, i) => `q${(i + 1).toString().padStart(2, '0')}`)];
  const other = (i: number) => queues[1 + (((i % 19) + 19) % 19)] as string;
  const half = Math.floor(opts.agents / 2);
  const t0 = performance.now();
  const o: BenchOrg = await setupOrg(rt, doc, {
    queues,
    agents: opts.agents,
    apiAgents: 10,
    agentQueues: (i) => (i < half ? ['qbig', other(i), other(i + 7)] : [other(i), other(i + 5), other(i + 11)]),
    capacity: 3,
    routeByContext: true,
    // K-1: every agent has two skills; a third of the push traffic to qbig needs one of them (K-2),
    // with a priority and a relaxation step (K-3); pick work is prioritized by a supervisor
    skills: SKILLS,
    supervisorAssign: true,
    workstreams: [
      { id: 'ws-pick', distribution: 'pick', blockCapacity: 1, priorityAgingSeconds: 60 },
      // offers wait up to 2 minutes: the next round's offers (made while this round is worked) outlive one minute
      {
        id: 'ws-push',
        distribution: 'push',
        blockCapacity: 1,
        offerTimeoutSeconds: 120,
        priorityAgingSeconds: 60,
        rules: [
          { when: { field: 'need', equals: 'billing' }, queueId: 'qbig', requires: { billing: 2 }, priority: 8 },
          { when: { field: 'need', equals: 'french' }, queueId: 'qbig', requires: { french: 3 }, priority: 3 },
        ],
        skillRelaxation: [{ afterSeconds: 20, requires: { billing: 1 } }],
      },
    ],
  });
  opts.log(`  ${opts.agents} agents set up in ${((performance.now() - t0) / 1000).toFixed(0)} s`);

  const heat = new KeyHeat(rt.table);
  const stream = new StreamReader(endpoint, rt.table, (r) => heat.onStreamRecord(r));
  await stream.start();
  const stopReads = rt.probe.observe((r) => heat.onRequest(r));
  const eventsAtStart = rt.commits.eventLog.length;
  const mix: Record<string, number> = {};
  const count = (k: string, n = 1) => (mix[k] = (mix[k] ?? 0) + n);
  const used = new Map<string, number>();
  const cursor = new Map<string, number>();
  /** the next member of the queue with room (round robin), as agents pick work from a queue */
  const picker = (queueId: string): string => {
    const members = o.membersOf.get(queueId) as string[];
    for (let n = 0; n < members.length; n++) {
      const i = ((cursor.get(queueId) ?? 0) + n) % members.length;
      const a = members[i] as string;
      if ((used.get(a) ?? 0) < 3) {
        cursor.set(queueId, i + 1);
        return a;
      }
    }
    throw new Error(`no agent of ${queueId} has room`);
  };
  const delivered = new Set<string>();
  const PRECISE = new Set<TimerRequest['kind']>([
    'wrapup-release',
    'offer-expiry',
    'inactivity-timeout',
    'reconnect-timeout',
    'presence-grace',
  ]);
  /** what EventBridge Scheduler delivers: every precise timer of the outbox that fell due, once */
  const deliverDue = async () => {
    const due = [...rt.commits.timers.values()].filter(
      (t) => PRECISE.has(t.kind) && !delivered.has(t.name) && Date.parse(t.at) <= rt.local.clock.now().getTime(),
    );
    for (const t of due) delivered.add(t.name);
    await pool(due, opts.concurrency, async (t) => {
      await inPhase('request', () => rt.entry.timer(t));
      count(`timer ${t.kind}`);
    });
    await rt.followUps.settle();
  };
  const ok = (what: string, status: number) => {
    if (status >= 300) count(`${what} refused (${status})`);
  };
  let conversations = 0;
  /** posts one round of webhooks (half push, half pick; half of the traffic to qbig) */
  const arrive = (round: number) => {
    const arrivals = Array.from({ length: opts.perRound }, (_, i) => {
      const ws = i % 2 === 0 ? 'ws-push' : 'ws-pick';
      const queueId = (i >> 1) % 2 === 0 ? 'qbig' : other(round * 31 + i);
      // K-2: of the push traffic to qbig, a third needs billing, a third french
      const need = ws === 'ws-push' && queueId === 'qbig' ? ['billing', 'french', undefined][i % 3] : undefined;
      return { ws, queueId, event: startedEvent({ queue: queueId, ...(need ? { need } : {}) }) };
    });
    const posted = pool(arrivals, opts.concurrency, async (a) => {
      const r = await inPhase('request', () => rt.entry.webhook(o.channel[a.ws] as string, o.secret, a.event));
      ok('webhook', r.status);
    });
    count('webhook', arrivals.length);
    return { arrivals, posted };
  };
  const replay0 = performance.now();
  let round = 1;
  let next: ReturnType<typeof arrive> | undefined = arrive(round);
  let perRoundSeen = opts.perRound * 5.5;
  while (next) {
    const before = rt.commits.eventLog.length - eventsAtStart;
    // 1. the round's webhooks ingested (the local runtime's poller, one consumer): push ones offered
    const { arrivals, posted } = next;
    await posted;
    await rt.followUps.settle();
    const convs: { ws: string; c: Conversation }[] = [];
    for (const a of arrivals) {
      const id = await rt.commits.until(
        () => rt.commits.byThread.get(`${o.channel[a.ws]}#${a.event.threadId}`),
        120_000,
        'the round to be ingested',
      );
      if (a.ws === 'ws-push')
        await rt.commits.until(
          () => (rt.commits.conversations.get(id)?.status === 'Active' ? true : undefined),
          10_000,
          'an offer',
        );
      convs.push({ ws: a.ws, c: rt.commits.conversations.get(id) as Conversation });
    }
    // the next round's customers arrive while this round is worked (ingest runs beside the actions)
    const current = round;
    next = before + perRoundSeen < opts.transitions ? arrive(++round) : undefined;
    conversations += convs.length;
    // 2. accepts: the offered agent (push), the next member with room (pick)
    const act = async (c: Conversation, agent: string, action: string, body?: unknown) => {
      const r = await inPhase('request', () => rt.entry.action(o.org, agent, c.id, action, body));
      count(action);
      ok(action, r.status);
      return r.status < 300;
    };
    // a supervisor raises one pick conversation in four while it waits (the Q-2 key moves)
    const raised = convs.filter((x, i) => x.ws === 'ws-pick' && i % 4 === 3);
    await pool(raised, opts.concurrency, async ({ c }) => {
      const r = await inPhase('request', () =>
        rt.entry.http(
          'conversations',
          'POST /v1/conversations/{id}/actions/{action}',
          { id: c.id, action: 'prioritize' },
          { org: o.org, sub: 'supervisor-1', roles: ['supervisor'] },
          { priority: 9 },
        ),
      );
      count('prioritize');
      ok('prioritize', r.status);
    });
    await rt.followUps.settle();
    const owner = new Map<string, string>();
    await pool(convs, opts.concurrency, async ({ ws, c }) => {
      const agent = ws === 'ws-push' ? (c.primaryAgentId as string) : picker(c.queueId);
      used.set(agent, (used.get(agent) ?? 0) + 1);
      if (await act(c, agent, 'accept')) owner.set(c.id, agent);
    });
    await rt.followUps.settle();
    // 3. a quarter of the pick ones go to another queue and are accepted there
    const moved = convs.filter((x, i) => x.ws === 'ws-pick' && i % 8 === 1 && owner.has(x.c.id));
    await pool(moved, opts.concurrency, async ({ c }) => {
      const from = owner.get(c.id) as string;
      const to = (o.queuesOf.get(from) as string[]).find((q) => q !== c.queueId) as string;
      if (!(await act(c, from, 'transfer', { queueId: to }))) return;
      used.set(from, (used.get(from) ?? 1) - 1);
      const agent = picker(to);
      used.set(agent, (used.get(agent) ?? 0) + 1);
      if (await act(c, agent, 'accept')) owner.set(c.id, agent);
      else owner.delete(c.id);
    });
    await rt.followUps.settle();
    // 4. ends
    const held = convs.filter((x) => owner.has(x.c.id));
    await pool(held, opts.concurrency, async ({ c }) => void (await act(c, owner.get(c.id) as string, 'end')));
    await rt.followUps.settle();
    // 5. a minute passes: Scheduler delivers what fell due (wrap-up releases; offer expiries, stale by now)
    rt.local.clock.advance(61);
    await deliverDue();
    // 6. closes
    await pool(held, opts.concurrency, async ({ c }) => {
      const agent = owner.get(c.id) as string;
      await act(c, agent, 'close');
      used.set(agent, Math.max(0, (used.get(agent) ?? 1) - 1));
    });
    await rt.followUps.settle();
    // 7. the sweeper's rule (the outbox's dispatch safety nets, due + its grace)
    await inPhase('request', () => rt.entry.sweep());
    await rt.followUps.settle();
    count('sweeper run');
    perRoundSeen = rt.commits.eventLog.length - eventsAtStart - before;
    opts.log(
      `  round ${current}: ${rt.commits.eventLog.length - eventsAtStart} transitions, ${((performance.now() - replay0) / 1000).toFixed(0)} s`,
    );
  }
  // the outbox runs dry: the last offers' expiries and the last dispatch safety nets fall due and fire
  opts.log('  the outbox runs dry');
  await rt.local.drain();
  rt.local.clock.advance(200);
  await deliverDue();
  await inPhase('request', () => rt.entry.sweep());
  count('sweeper run');
  await rt.followUps.settle();
  stopReads();
  opts.log('  reading the rest of the stream');
  await stream.stop();
  const seconds = (performance.now() - replay0) / 1000;

  const committed: Record<string, number> = {};
  for (const e of rt.commits.eventLog.slice(eventsAtStart))
    committed[e.event.action] = (committed[e.event.action] ?? 0) + 1;
  const T = heat.transitions || rt.commits.eventLog.length - eventsAtStart;
  const scale = PROJECTED_TRANSITIONS_PER_SECOND / T;
  const hottest: HeatFigures['hottest'] = {};
  const failing: HeatFigures['failing'] = [];
  const perTransition: HeatFigures['perTransition'] = {};
  const sum = (m: Counts) => [...m.values()].reduce((a, b) => a + b, 0);
  const top = (m: Counts, n = 10) => [...m.entries()].sort((a, b) => b[1] - a[1]).slice(0, n);
  for (const index of heat.writes.keys()) {
    const writes = heat.writes.get(index) as Counts;
    const reads = heat.reads.get(index) as Counts;
    // table writes: the larger of what the stream saw and what was requested decides the ranking
    const writeRank: Counts =
      index === 'table'
        ? new Map(
            [...new Set([...writes.keys(), ...heat.writeRequests.keys()])].map((k) => [
              k,
              Math.max(writes.get(k) ?? 0, heat.writeRequests.get(k) ?? 0),
            ]),
          )
        : writes;
    perTransition[index] = {
      writes: sum(writes) / T,
      reads: sum(reads) / T,
      ...(index === 'table'
        ? { writeRequests: sum(heat.writeRequests) / T, conditionChecks: sum(heat.conditionChecks) / T }
        : {}),
    };
    hottest[index] = {
      writes: top(writeRank).map(([k]) => ({
        key: redact(o.org, k),
        scope: scopeOf(k),
        count: writes.get(k) ?? 0,
        perSecond: (writes.get(k) ?? 0) * scale,
        ...(index === 'table'
          ? {
              writeRequestsPerSecond: (heat.writeRequests.get(k) ?? 0) * scale,
              conditionChecksPerSecond: (heat.conditionChecks.get(k) ?? 0) * scale,
            }
          : {}),
      })),
      reads: top(reads).map(([k, v]) => ({ key: redact(o.org, k), scope: scopeOf(k), count: v, perSecond: v * scale })),
    };
    for (const [k, v] of writeRank)
      if (v * scale > WRITE_GOAL)
        failing.push({ index, kind: 'writes', key: redact(o.org, k), scope: scopeOf(k), perSecond: v * scale });
    for (const [k, v] of reads)
      if (v * scale > READ_GOAL)
        failing.push({ index, kind: 'reads', key: redact(o.org, k), scope: scopeOf(k), perSecond: v * scale });
  }
  failing.sort((a, b) => b.perSecond - a.perSecond);
  const tableWrites = heat.writes.get('table') as Counts;
  const tableReads = heat.reads.get('table') as Counts;
  const counterKeys = [...new Set([...tableWrites.keys(), ...heat.writeRequests.keys()])].filter(isCounterPartition);
  const counterWriteRank = counterKeys
    .map((k): [string, number] => [k, Math.max(tableWrites.get(k) ?? 0, heat.writeRequests.get(k) ?? 0)])
    .sort((a, b) => b[1] - a[1]);
  const counters: HeatFigures['counters'] = {
    partitions: new Set([...counterKeys, ...[...tableReads.keys()].filter(isCounterPartition)]).size,
    perTransition: Object.fromEntries(
      COUNTER_ITEMS.map((kind) => [
        kind,
        {
          writes: (heat.counterItems.writes.get(kind) ?? 0) / T,
          writeRequests: (heat.counterItems.writeRequests.get(kind) ?? 0) / T,
          reads: (heat.counterItems.reads.get(kind) ?? 0) / T,
        },
      ]),
    ) as HeatFigures['counters']['perTransition'],
    hottestWrites: counterWriteRank.slice(0, 5).map(([k]) => ({
      key: redact(o.org, k),
      scope: scopeOf(k),
      count: tableWrites.get(k) ?? 0,
      perSecond: (tableWrites.get(k) ?? 0) * scale,
      writeRequestsPerSecond: (heat.writeRequests.get(k) ?? 0) * scale,
      conditionChecksPerSecond: (heat.conditionChecks.get(k) ?? 0) * scale,
    })),
    hottestReads: top(new Map([...tableReads].filter(([k]) => isCounterPartition(k))), 5).map(([k, v]) => ({
      key: redact(o.org, k),
      scope: scopeOf(k),
      count: v,
      perSecond: v * scale,
    })),
  };
  return {
    agents: opts.agents,
    bigQueueAgents: half,
    queues: queues.length,
    conversations,
    transitions: T,
    streamRecords: stream.records,
    seconds,
    replayPerSecond: T / seconds,
    mix,
    committed,
    projectedTo: PROJECTED_TRANSITIONS_PER_SECOND,
    goals: { writesPerSecond: WRITE_GOAL, readsPerSecond: READ_GOAL },
    perTransition,
    hottest,
    failing,
    counters,
  };
}
