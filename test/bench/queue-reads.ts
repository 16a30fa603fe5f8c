import { BatchWriteCommand, UpdateCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import type { DynamoDBRecord } from 'aws-lambda';
import { performance } from 'node:perf_hooks';
import { ulid } from 'ulid';
import { conversationEntity } from '../../functions/adapters/dynamodb/entities.js';
import { keys } from '../../functions/adapters/dynamodb/keys.js';
import { levelCounter } from '../../functions/domain/metrics.js';
import { priorityOf, type Conversation } from '../../functions/domain/model.js';
import { POSITION_HEAD } from '../../functions/use-cases/queue-position.use-case.js';
import { summarize, type PhaseFigures } from './actions.js';
import type { BenchRuntime, Claims, HttpResult } from './bench-runtime.js';
import { startedEvent } from './ingest.js';
import { inPhase, Scope } from './phases.js';
import { setupOrg, type BenchOrg } from './setup.js';

/** measured reads of each kind, per queue (the figures are per read: every sample should be the same) */
const SAMPLES = 5;
const SMALL = 10;
const WS = 'ws-pick';
/** conversations answered (accepted) in each measured queue before the waits are made */
const ANSWERED = 2;
const seconds = (since: number): string => ((performance.now() - since) / 1000).toFixed(1);

export interface QueueRead {
  /** what was read, and as whom */
  read: string;
  waiting: number;
  samples: number;
  status: number;
  /** per read (means over the samples) */
  requests: number;
  reads: number;
  roundTrips: number;
  rcu: number;
  byCommand: Record<string, number>;
  /** the last sample's body */
  body: Record<string, unknown>;
}

export interface QueueReadsFigures {
  queues: string[];
  agents: number;
  /** Open conversations in each measured queue before its last one came (the last one not included) */
  waiting: { small: number; big: number };
  /**
   * how the big queue's waits were made: the first and the last through the webhook; the rest item
   * copies of the first, counted by the real stream follow-ups ('follow-ups') or with the counters set
   * to what those would leave ('counters set')
   */
  seeding: { copies: number; counters: 'follow-ups' | 'counters set'; writeSeconds: number; followUpSeconds: number };
  setupSeconds: number;
  seconds: number;
  /** the same read at 10 and at 10,000 waiting, side by side */
  runs: { small: QueueRead; big: QueueRead; requestsRatio: number; roundTripsRatio: number; rcuRatio: number }[];
  /** what the big queue's reads answered: a real position, and the counts */
  bigPosition: { position: unknown; positionExact: unknown; estimatedWaitSeconds: unknown };
  bigHeadPosition: { position: unknown; positionExact: unknown };
  bigMetrics: { Open: unknown; oldestOpenSeconds: unknown; signedIn: unknown };
  smallPosition: { position: unknown; positionExact: unknown };
}

/**
 * (e) MX-1 / MX-3 reads at 10 and at 10,000 waiting conversations: GET /v1/queues/{id}/metrics (a
 * supervisor) and GET /v1/conversations/{id}/queue-position (the queue's last conversation as an agent
 * of the queue, RL-7, and as a supervisor; one in the first POSITION_HEAD as the agent), through the
 * queues HTTP handler the bench runtime builds by its createHandler(config, overrides) on the probed
 * store and clock, with API Gateway's JWT authorizer claims as the other sections pass them.
 *
 * Setup: an org of 5 queues and 10 agents configured and signed in through the API (members of both
 * measured queues), a pick workstream (nothing is offered: the conversations stay Open). In each
 * measured queue ANSWERED conversations come through the webhook and are accepted first (the last
 * 15 minutes have answers: minute buckets, an estimated wait). `qsmall`: 10 conversations through the
 * webhook, then its last one. `qbig`: one through the webhook, `big - 1` item copies of it (new ids
 * and threads, each its own wait, oldest first, ahead of it) written with BatchWriteItem while the
 * stream consumer waits, then their stream records handled by the real follow-ups (counters, markers,
 * entry records) unless `seed` is 'counters' (then they are dropped and the counters set to what
 * the follow-ups leave), then its last one through the webhook (its follow-up writes the entry record
 * the position is estimated from). One warm-up read of each kind before anything is measured.
 */
export async function queueReads(
  rt: BenchRuntime,
  doc: DynamoDBDocumentClient,
  opts: { big: number; seed: 'follow-ups' | 'counters'; log: (s: string) => void },
): Promise<QueueReadsFigures> {
  const t0 = performance.now();
  const queues = ['qsmall', 'qbig', 'q3', 'q4', 'q5'];
  const o: BenchOrg = await setupOrg(rt, doc, {
    queues,
    agents: 10,
    apiAgents: 10,
    agentQueues: (i) => ['qsmall', 'qbig', queues[2 + (i % 3)] as string],
    capacity: 3,
    routeByContext: true,
    workstreams: [{ id: WS, distribution: 'pick', blockCapacity: 5 }],
  });
  opts.log(
    `  org set up (${queues.length} queues, ${o.agents.length} agents signed in through the API): ${seconds(t0)} s`,
  );

  // the queues HTTP handler, as its Lambda builds it (bench-runtime.ts), with the JWT authorizer's claims
  const get = (routeKey: string, params: Record<string, string>, claims: Claims): Promise<HttpResult> =>
    rt.entry.http('queues', routeKey, params, claims);
  const supervisor: Claims = { org: o.org, sub: 'supervisor-1', roles: ['supervisor'] };
  const agent: Claims = { org: o.org, sub: o.agents[0] as string, roles: ['agent'] };
  const metrics = (queueId: string) => () => get('GET /v1/queues/{id}/metrics', { id: queueId }, supervisor);
  const position = (id: string, claims: Claims) => () =>
    get('GET /v1/conversations/{id}/queue-position', { id }, claims);

  /**
   * `n` conversations through the webhook (-> SQS -> the ingest consumer, side by side), their
   * follow-ups run; in the order their waits began
   */
  const arrive = async (queueId: string, n = 1): Promise<Conversation[]> => {
    const channel = o.channel[WS] as string;
    const events = Array.from({ length: n }, () => startedEvent({ queue: queueId }));
    const out = await rt.followUps.asSetup(async () => {
      for (const event of events) {
        const r = await inPhase('setup', () => rt.entry.webhook(channel, o.secret, event));
        if (r.status !== 202) throw new Error(`webhook answered ${r.status}`);
      }
      const ids = await Promise.all(
        events.map((event) =>
          rt.commits.until(() => rt.commits.byThread.get(`${channel}#${event.threadId}`), 30_000, 'an ingest'),
        ),
      );
      await rt.local.drain();
      return Promise.all(ids.map((id) => rt.store.getConversation(o.org, id)));
    });
    for (const c of out)
      if (c?.status !== 'Open' || c.queueId !== queueId) throw new Error(`${c?.id} is not Open in ${queueId}`);
    return (out as Conversation[]).sort((a, b) =>
      (a.enqueuedAt ?? a.statusSince).localeCompare(b.enqueuedAt ?? b.statusSince),
    );
  };
  const one = async (queueId: string): Promise<Conversation> => (await arrive(queueId))[0] as Conversation;

  // the last 15 minutes have answers (the minute buckets, the estimated wait): ANSWERED per queue accepted
  for (const [i, queueId] of ['qsmall', 'qbig'].entries())
    for (const c of await arrive(queueId, ANSWERED)) {
      const r = await inPhase('setup', () => rt.entry.action(o.org, o.agents[i] as string, c.id, 'accept'));
      if (r.status >= 300) throw new Error(`accept answered ${r.status} ${JSON.stringify(r.body)}`);
    }
  await rt.followUps.settle();
  opts.log(`  ${ANSWERED} answered per measured queue: ${seconds(t0)} s`);

  // qsmall: 10 waiting through the webhook, then its last one
  const smalls = await arrive('qsmall', SMALL);
  const smallLast = await one('qsmall');
  opts.log(`  qsmall: ${SMALL} waiting + its last through the webhook: ${seconds(t0)} s`);

  // qbig: one through the webhook, then opts.big - 1 copies of it ahead of it
  const template = await one('qbig');
  const copies = opts.big - 1;
  const mode: 'follow-ups' | 'counters set' = opts.seed === 'counters' ? 'counters set' : 'follow-ups';
  const base = Date.parse(template.enqueuedAt ?? template.statusSince) - copies * 1000;
  const seeded: Conversation[] = Array.from({ length: copies }, (_, i) => {
    const at = new Date(base + i * 1000).toISOString();
    return {
      ...template,
      id: ulid(),
      threadId: ulid(),
      createdAt: at,
      updatedAt: at,
      statusSince: at,
      enqueuedAt: at,
    };
  });
  const ids = new Set(seeded.map((c) => c.id));
  const copied = (r: DynamoDBRecord): boolean => {
    const id = r.dynamodb?.NewImage?.id?.S;
    return r.eventName === 'INSERT' && id !== undefined && ids.has(id);
  };
  const setupSeconds = (performance.now() - t0) / 1000;
  let written = 0;
  const seedStart = performance.now();
  await rt.followUps.asSetup(
    () =>
      inPhase('setup', async () => {
        // the stream consumer waits while the copies are written (their records wait in the stream)
        await rt.followUps.paused(() =>
          batchWrite(
            doc,
            rt.table,
            seeded.map((c) => conversationEntity.item(c)),
          ),
        );
        written = performance.now();
        if (mode === 'counters set') {
          // what the follow-ups of the copies would leave, summed: Open and its level (in one shard: a read sums them)
          const shard = 0;
          await doc.send(
            new UpdateCommand({
              TableName: rt.table,
              Key: keys.queueStats(o.org, 'qbig', shard),
              UpdateExpression: 'ADD #open :n, #level :n',
              ExpressionAttributeNames: { '#open': 'Open', '#level': levelCounter('open', priorityOf(template)) },
              ExpressionAttributeValues: { ':n': copies },
            }),
          );
        }
      }),
    mode === 'counters set' ? copied : undefined,
  );
  const seeding = {
    copies,
    counters: mode,
    writeSeconds: (written - seedStart) / 1000,
    followUpSeconds: (performance.now() - written) / 1000,
  };
  opts.log(
    `  qbig: ${copies} copies written in ${seeding.writeSeconds.toFixed(1)} s; ${mode === 'follow-ups' ? `their follow-ups ran in ${seeding.followUpSeconds.toFixed(1)} s` : 'the counters set'}`,
  );
  const bigLast = await one('qbig');
  const smallHead = smalls[4] as Conversation;
  const bigHead = seeded[4] as Conversation;

  // warm caches: one read of each kind on each queue before anything is measured
  const kinds: { read: string; small: () => Promise<HttpResult>; big: () => Promise<HttpResult> }[] = [
    { read: 'metrics (supervisor)', small: metrics('qsmall'), big: metrics('qbig') },
    {
      read: 'position, last (agent of the queue)',
      small: position(smallLast.id, agent),
      big: position(bigLast.id, agent),
    },
    {
      read: 'position, last (supervisor)',
      small: position(smallLast.id, supervisor),
      big: position(bigLast.id, supervisor),
    },
    {
      read: `position, 5th (agent; within the first ${POSITION_HEAD})`,
      small: position(smallHead.id, agent),
      big: position(bigHead.id, agent),
    },
  ];
  for (const k of kinds)
    for (const call of [k.small, k.big]) {
      const r = await inPhase('setup', call);
      if (r.status !== 200) throw new Error(`${k.read} answered ${r.status} ${JSON.stringify(r.body)}`);
    }

  const measure = async (read: string, waiting: number, call: () => Promise<HttpResult>): Promise<QueueRead> => {
    await rt.followUps.settle();
    const figures: PhaseFigures[] = [];
    let last: HttpResult = { status: 0, body: {} };
    for (let i = 0; i < SAMPLES; i++) {
      const scope = new Scope(true);
      last = await inPhase('request', call, scope);
      figures.push(summarize(scope.of('request')));
    }
    const mean = (f: (p: PhaseFigures) => number) => figures.reduce((a, p) => a + f(p), 0) / figures.length;
    const byCommand: Record<string, number> = {};
    for (const p of figures)
      for (const [k, v] of Object.entries(p.byCommand)) byCommand[k] = (byCommand[k] ?? 0) + v / figures.length;
    return {
      read,
      waiting,
      samples: SAMPLES,
      status: last.status,
      requests: mean((p) => p.requests),
      reads: mean((p) => p.reads),
      roundTrips: mean((p) => p.roundTrips),
      rcu: mean((p) => p.rcu),
      byCommand,
      body: last.body,
    };
  };
  const runs: QueueReadsFigures['runs'] = [];
  for (const k of kinds) {
    const small = await measure(k.read, SMALL, k.small);
    const big = await measure(k.read, opts.big, k.big);
    runs.push({
      small,
      big,
      requestsRatio: big.requests / small.requests,
      roundTripsRatio: big.roundTrips / small.roundTrips,
      rcuRatio: big.rcu / small.rcu,
    });
  }
  const body = (i: number, which: 'small' | 'big') => runs[i]?.[which].body ?? {};
  const conversations = (body(0, 'big').conversations ?? {}) as Record<string, unknown>;
  const agents = (body(0, 'big').agents ?? {}) as Record<string, unknown>;
  return {
    queues,
    agents: o.agents.length,
    waiting: { small: SMALL, big: opts.big },
    seeding,
    setupSeconds,
    seconds: (performance.now() - t0) / 1000,
    runs,
    bigPosition: {
      position: body(1, 'big').position,
      positionExact: body(1, 'big').positionExact,
      estimatedWaitSeconds: body(1, 'big').estimatedWaitSeconds,
    },
    bigHeadPosition: { position: body(3, 'big').position, positionExact: body(3, 'big').positionExact },
    bigMetrics: {
      Open: conversations.Open,
      oldestOpenSeconds: body(0, 'big').oldestOpenSeconds,
      signedIn: agents.signedIn,
    },
    smallPosition: { position: body(1, 'small').position, positionExact: body(1, 'small').positionExact },
  };
}

async function batchWrite(doc: DynamoDBDocumentClient, table: string, items: Record<string, unknown>[]): Promise<void> {
  const batches: Record<string, unknown>[][] = [];
  for (let i = 0; i < items.length; i += 25) batches.push(items.slice(i, i + 25));
  let next = 0;
  await Promise.all(
    Array.from({ length: 8 }, async () => {
      while (next < batches.length) {
        let pending = (batches[next++] as Record<string, unknown>[]).map((Item) => ({ PutRequest: { Item } }));
        while (pending.length) {
          const out = await doc.send(new BatchWriteCommand({ RequestItems: { [table]: pending } }));
          pending = (out.UnprocessedItems?.[table] ?? []) as typeof pending;
        }
      }
    }),
  );
}
