import { BatchWriteCommand, GetCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import type { DynamoDBRecord } from 'aws-lambda';
import { performance } from 'node:perf_hooks';
import { messageEntity, messageLogEntity } from '../../functions/adapters/dynamodb/entities.js';
import { messageId, type Message } from '../../functions/domain/messages.js';
import type { Conversation } from '../../functions/domain/model.js';
import { measure as measureAction, summarize, type PhaseFigures } from './actions.js';
import type { BenchRuntime, Claims, HttpResult } from './bench-runtime.js';
import { inPhase, Scope } from './phases.js';
import { openConv, setupOrg, type BenchOrg } from './setup.js';

/** measured calls of each kind (every sample should cost the same) */
const SAMPLES = 5;
/** MS-1's page size the transcript is read with */
const LIMIT = 100;
/** the transcript lengths the pages are read at, and the reply's */
export const SHORT_TRANSCRIPT = 100;
export const LONG_TRANSCRIPT = 10_000;
const REPLY_SHORT = 10;
/** a page near the start read from a cursor: the messages after this seq (90 of 100, 100 of 10,000) */
const START_CURSOR = 10;
/** the end page: the cursor after seq (length - END_PAGE), so both lengths read the same last END_PAGE messages */
const END_PAGE = 50;
const WS = { id: 'ws-pick', distribution: 'pick', blockCapacity: 5 } as const;
const QUEUES = ['q1', 'q2', 'q3', 'q4', 'q5'];
/** MS-2's goal for a reply's request path, with caches warm: one BatchGetItem, one transaction */
export const REPLY_GOAL: Record<string, number> = { BatchGetItemCommand: 1, TransactWriteItemsCommand: 1 };
const seconds = (since: number): string => ((performance.now() - since) / 1000).toFixed(1);

export interface ReplyRun {
  /** the org's agents and the messages in the transcript when the first measured reply was sent */
  agents: number;
  messages: number;
  samples: number;
  statuses: number[];
  /** per reply (means over the samples) */
  requests: number;
  reads: number;
  writes: number;
  roundTrips: number;
  transactItems: number;
  rcu: number;
  wcu: number;
  sqsRequests: number;
  byCommand: Record<string, number>;
  /** every sample: exactly REPLY_GOAL's requests, 2 round trips, no SQS on the request path, 201 */
  everySampleAtGoal: boolean;
  /** every sample made the same requests (by command) */
  sameEverySample: boolean;
  /** the follow-ups one reply caused (the stream consumer: its message.sent notification) */
  followUpRequests: number;
  followUpSqs: number;
  followUpByCommand: Record<string, number>;
  /** the last sample's message: seq and id (the transcript's next seq) */
  lastSeq: unknown;
}

export interface PageRead {
  page: string;
  transcript: number;
  cursorAfter: number | undefined;
  samples: number;
  status: number;
  /** per page (means over the samples) */
  requests: number;
  roundTrips: number;
  rcu: number;
  byCommand: Record<string, number>;
  /** what the last sample answered */
  items: number;
  firstSeq: unknown;
  lastSeq: unknown;
  nextCursor: boolean;
  /** the page holds exactly the messages expected (seq after the cursor, in order, the page's count) */
  right: boolean;
}

export interface MessagesFigures {
  agents: { small: number; big: number };
  queues: number;
  seeded: { messages: number; seconds: number };
  setupSeconds: number;
  seconds: number;
  replies: ReplyRun[];
  /** the same page at 100 and at 10,000 messages, side by side */
  pages: { short: PageRead; long: PageRead; requestsRatio: number; roundTripsRatio: number; rcuRatio: number }[];
  /** the first page's nextCursor, decoded: the form of the cursors the end pages are read from */
  apiCursor: string | undefined;
}

/** MS-1's opaque cursor (messages.use-case.ts): the last `seq` returned, `m:<seq>` in base64url */
const cursorAfter = (seq: number): string => Buffer.from(`m:${seq}`, 'utf8').toString('base64url');

/**
 * MS-1 / MS-2 on the request path: POST /v1/conversations/{id}/messages (the primary agent's reply,
 * sendReply) and GET /v1/conversations/{id}/messages?limit=100&cursor=... (readTranscript), through
 * the conversations HTTP handler the bench runtime builds by its createHandler(config, overrides), with
 * API Gateway's JWT authorizer claims.
 *
 * Setup: two orgs of 5 queues and a pick workstream, agents configured and signed in through the API
 * (3 queues each, q1 for all): one of 10 agents, one of `agents` (10 through the API, the rest item
 * copies, setup.ts). Every measured conversation is committed Open (the items ingest writes) and
 * accepted by its agent through the API (Active, accepted). Transcripts are seeded with BatchWriteItem:
 * `messageEntity.item` for each message (customer and agent alternating) and `messageLogEntity.item`
 * for where it stands; their stream records are dropped (a follow-up has nothing to do for them).
 *
 * Replies: at 10 and at 10,000 messages in the 10-agent org, at 10 messages in the big org (SC-2: the
 * same requests); one warm-up reply first on each (the transcript holds N when the first measured one
 * is sent). Pages: the primary agent reads, with limit=100, the first page (no cursor), the page from
 * the cursor after seq 10 (90 messages of the short transcript, 100 of the long one) and the last 50
 * messages (the cursor after seq N - 50) of a 100- and a 10,000-message transcript; one warm-up read
 * of each first.
 */
export async function messagesBench(
  rt: BenchRuntime,
  doc: DynamoDBDocumentClient,
  opts: { agents: number; log: (s: string) => void },
): Promise<MessagesFigures> {
  const t0 = performance.now();
  const org = (agents: number): Promise<BenchOrg> =>
    setupOrg(rt, doc, {
      queues: QUEUES,
      agents,
      apiAgents: 10,
      agentQueues: (i) => ['q1', QUEUES[1 + (i % 2)] as string, QUEUES[3 + (i % 2)] as string],
      capacity: 3,
      workstreams: [WS],
    });
  const small = await org(10);
  opts.log(`  org of 10 agents set up: ${seconds(t0)} s`);
  const big = await org(opts.agents);
  opts.log(`  org of ${opts.agents} agents set up (10 through the API, the rest copies): ${seconds(t0)} s`);

  const claims = (o: BenchOrg, agent: string): Claims => ({ org: o.org, sub: agent, roles: ['agent'] });
  /** an Active, accepted conversation of `agent`'s (committed Open, accepted through the API) */
  const active = async (o: BenchOrg, agent: string): Promise<Conversation> => {
    const c = await openConv(rt.store, o, WS.id, 'q1', rt.local.clock.now());
    const r = await rt.followUps.asSetup(() => inPhase('setup', () => rt.entry.action(o.org, agent, c.id, 'accept')));
    if (r.status >= 300) throw new Error(`accept answered ${r.status} ${JSON.stringify(r.body)}`);
    return c;
  };
  const [a0, a1] = [small.agents[0] as string, small.agents[1] as string];
  const replyShort = await active(small, a0);
  const replyLong = await active(small, a0);
  const replyBig = await active(big, big.agents[0] as string);
  const readShort = await active(small, a1);
  const readLong = await active(small, a1);

  // the transcripts: N messages each (the reply conversations N - 1: their warm-up reply is the Nth)
  const seed: { o: BenchOrg; c: Conversation; agent: string; n: number }[] = [
    { o: small, c: replyShort, agent: a0, n: REPLY_SHORT - 1 },
    { o: small, c: replyLong, agent: a0, n: LONG_TRANSCRIPT - 1 },
    { o: big, c: replyBig, agent: big.agents[0] as string, n: REPLY_SHORT - 1 },
    { o: small, c: readShort, agent: a1, n: SHORT_TRANSCRIPT },
    { o: small, c: readLong, agent: a1, n: LONG_TRANSCRIPT },
  ];
  const seededIds = new Set(seed.map((s) => s.c.id));
  const transcript = (r: DynamoDBRecord): boolean => {
    const img = r.dynamodb?.NewImage;
    const type = img?.type?.S;
    return (type === 'message' || type === 'message-log') && seededIds.has(img?.conversationId?.S ?? '');
  };
  const setupSeconds = (performance.now() - t0) / 1000;
  const seedStart = performance.now();
  let messages = 0;
  await rt.followUps.asSetup(
    () =>
      inPhase('setup', async () => {
        for (const s of seed) {
          const logKey = messageLogEntity.key(s.o.org, s.c.id);
          const had = await doc.send(new GetCommand({ TableName: rt.table, Key: logKey, ConsistentRead: true }));
          const log = messageLogEntity.from(had.Item);
          if (log.seq !== 0) throw new Error(`${s.c.id} already has ${log.seq} messages`);
          const items = transcriptOf(s.o.org, s.c, s.agent, s.n, rt.local.clock.now());
          const replySeq = items.filter((m) => m.from === 'agent').at(-1)?.seq ?? 0;
          await batchWrite(doc, rt.table, [
            ...items.map((m) => messageEntity.item(m)),
            messageLogEntity.item(s.o.org, s.c.id, { seq: s.n, replySeq, customerSeq: 0 }),
          ]);
          messages += s.n;
        }
      }),
    transcript,
  );
  const seeded = { messages, seconds: (performance.now() - seedStart) / 1000 };
  opts.log(`  ${messages} messages seeded with BatchWriteItem in ${seeded.seconds.toFixed(1)} s`);

  // the conversations handler, as its Lambda builds it (bench-runtime.ts), with the JWT authorizer's claims
  let replies = 0;
  const reply = (o: BenchOrg, agent: string, c: Conversation) => (): Promise<HttpResult> =>
    rt.entry.http('conversations', 'POST /v1/conversations/{id}/messages', { id: c.id }, claims(o, agent), {
      text: `bench reply ${++replies}: thanks for waiting, I am looking at your order now.`,
    });
  const page = (o: BenchOrg, agent: string, c: Conversation, after: number | undefined) => (): Promise<HttpResult> =>
    rt.entry.http(
      'conversations',
      'GET /v1/conversations/{id}/messages',
      { id: c.id },
      claims(o, agent),
      undefined,
      {},
      { limit: String(LIMIT), ...(after === undefined ? {} : { cursor: cursorAfter(after) }) },
    );

  const replyKinds = [
    { agents: 10, messages: REPLY_SHORT, call: reply(small, a0, replyShort) },
    { agents: 10, messages: LONG_TRANSCRIPT, call: reply(small, a0, replyLong) },
    { agents: opts.agents, messages: REPLY_SHORT, call: reply(big, big.agents[0] as string, replyBig) },
  ];
  const pageKinds = [
    { page: `first page (no cursor)`, after: () => undefined },
    { page: `near the start (cursor after seq ${START_CURSOR})`, after: () => START_CURSOR },
    { page: `last ${END_PAGE} (cursor after seq N - ${END_PAGE})`, after: (n: number) => n - END_PAGE },
  ].map((k) => ({
    page: k.page,
    short: {
      n: SHORT_TRANSCRIPT,
      after: k.after(SHORT_TRANSCRIPT),
      call: page(small, a1, readShort, k.after(SHORT_TRANSCRIPT)),
    },
    long: {
      n: LONG_TRANSCRIPT,
      after: k.after(LONG_TRANSCRIPT),
      call: page(small, a1, readLong, k.after(LONG_TRANSCRIPT)),
    },
  }));

  // warm caches: one call of each kind before anything is measured (the warm-up reply is the transcript's Nth message)
  for (const k of replyKinds) {
    const r = await rt.followUps.asSetup(() => inPhase('setup', k.call));
    if (r.status !== 201) throw new Error(`warm-up reply answered ${r.status} ${JSON.stringify(r.body)}`);
  }
  let apiCursor: string | undefined;
  for (const k of pageKinds)
    for (const p of [k.short, k.long]) {
      const r = await inPhase('setup', p.call);
      if (r.status !== 200) throw new Error(`warm-up page answered ${r.status} ${JSON.stringify(r.body)}`);
      if (p.after === undefined && typeof r.body.nextCursor === 'string')
        apiCursor = Buffer.from(r.body.nextCursor, 'base64url').toString('utf8');
    }
  if (apiCursor !== `m:${LIMIT}`) throw new Error(`the first page's cursor reads ${apiCursor}, not m:${LIMIT}`);

  const measureReply = async (k: (typeof replyKinds)[number]): Promise<ReplyRun> => {
    const samples: { request: PhaseFigures; followUp: PhaseFigures; status: number; body: HttpResult['body'] }[] = [];
    for (let i = 0; i < SAMPLES; i++) {
      let last: HttpResult = { status: 0, body: {} };
      const f = await measureAction(rt, 'reply', async () => (last = await k.call()));
      samples.push({ request: f.request, followUp: f.followUp, status: last.status, body: last.body });
    }
    const mean = (f: (p: (typeof samples)[number]) => number) => samples.reduce((a, p) => a + f(p), 0) / SAMPLES;
    const meanBy = (f: (p: (typeof samples)[number]) => Record<string, number>) => {
      const out: Record<string, number> = {};
      for (const p of samples) for (const [c, v] of Object.entries(f(p))) out[c] = (out[c] ?? 0) + v / SAMPLES;
      return out;
    };
    const atGoal = (p: (typeof samples)[number]) =>
      p.status === 201 &&
      sameCommands(p.request.byCommand, REPLY_GOAL) &&
      p.request.roundTrips === 2 &&
      p.request.sqsRequests === 0;
    const first = samples[0] as (typeof samples)[number];
    return {
      agents: k.agents,
      messages: k.messages,
      samples: SAMPLES,
      statuses: samples.map((p) => p.status),
      requests: mean((p) => p.request.requests),
      reads: mean((p) => p.request.reads),
      writes: mean((p) => p.request.writes),
      roundTrips: mean((p) => p.request.roundTrips),
      transactItems: mean((p) => p.request.transactItems),
      rcu: mean((p) => p.request.rcu),
      wcu: mean((p) => p.request.wcu),
      sqsRequests: mean((p) => p.request.sqsRequests),
      byCommand: meanBy((p) => p.request.byCommand),
      everySampleAtGoal: samples.every(atGoal),
      sameEverySample: samples.every((p) => sameCommands(p.request.byCommand, first.request.byCommand)),
      followUpRequests: mean((p) => p.followUp.requests),
      followUpSqs: mean((p) => p.followUp.sqsRequests),
      followUpByCommand: meanBy((p) => p.followUp.byCommand),
      lastSeq: samples.at(-1)?.body.seq,
    };
  };

  const measurePage = async (
    name: string,
    p: { n: number; after: number | undefined; call: () => Promise<HttpResult> },
  ): Promise<PageRead> => {
    const figures: PhaseFigures[] = [];
    let last: HttpResult = { status: 0, body: {} };
    for (let i = 0; i < SAMPLES; i++) {
      const scope = new Scope(true);
      last = await inPhase('request', p.call, scope);
      figures.push(summarize(scope.of('request')));
    }
    const mean = (f: (x: PhaseFigures) => number) => figures.reduce((a, x) => a + f(x), 0) / figures.length;
    const byCommand: Record<string, number> = {};
    for (const x of figures)
      for (const [k, v] of Object.entries(x.byCommand)) byCommand[k] = (byCommand[k] ?? 0) + v / figures.length;
    const items = (last.body.items ?? []) as { seq?: number }[];
    const from = p.after ?? 0;
    const expected = Math.min(LIMIT, p.n - from);
    return {
      page: name,
      transcript: p.n,
      cursorAfter: p.after,
      samples: SAMPLES,
      status: last.status,
      requests: mean((x) => x.requests),
      roundTrips: mean((x) => x.roundTrips),
      rcu: mean((x) => x.rcu),
      byCommand,
      items: items.length,
      firstSeq: items[0]?.seq,
      lastSeq: items.at(-1)?.seq,
      nextCursor: typeof last.body.nextCursor === 'string',
      right: last.status === 200 && items.length === expected && items.every((m, i) => m.seq === from + i + 1),
    };
  };

  const replyRuns: ReplyRun[] = [];
  for (const k of replyKinds) replyRuns.push(await measureReply(k));
  await rt.followUps.settle();
  const pages: MessagesFigures['pages'] = [];
  for (const k of pageKinds) {
    const short = await measurePage(k.page, k.short);
    const long = await measurePage(k.page, k.long);
    pages.push({
      short,
      long,
      requestsRatio: long.requests / short.requests,
      roundTripsRatio: long.roundTrips / short.roundTrips,
      rcuRatio: long.rcu / short.rcu,
    });
  }
  return {
    agents: { small: small.agents.length, big: big.agents.length },
    queues: QUEUES.length,
    seeded,
    setupSeconds,
    seconds: (performance.now() - t0) / 1000,
    replies: replyRuns,
    pages,
    apiCursor,
  };
}

/** the same commands, each as many times */
export function sameCommands(a: Record<string, number>, b: Record<string, number>): boolean {
  const keys = new Set([...Object.keys(a), ...Object.keys(b)]);
  return [...keys].every((k) => (a[k] ?? 0) === (b[k] ?? 0));
}

/** `n` messages, customer and agent alternating (the customer first), a second apart, ending before `now` */
function transcriptOf(org: string, c: Conversation, agent: string, n: number, now: Date): Message[] {
  const base = now.getTime() - (n + 1) * 1000;
  return Array.from({ length: n }, (_, i): Message => {
    const seq = i + 1;
    const customer = i % 2 === 0;
    return {
      org,
      conversationId: c.id,
      id: messageId(c.id, seq),
      seq,
      at: new Date(base + i * 1000).toISOString(),
      from: customer ? 'customer' : 'agent',
      ...(customer ? {} : { agentId: agent }),
      text: customer
        ? `Message ${seq}: my order has not arrived yet and the tracking page has not changed since Monday.`
        : `Reply ${seq}: sorry about that, let me check with the carrier; it should update within the hour.`,
    };
  });
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
