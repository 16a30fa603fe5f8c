import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { ulid } from 'ulid';
import type { BenchRuntime, HttpResult } from './bench-runtime.js';
import { isRead } from './instrument.js';
import { inPhase, roundTrips, Scope, type RequestRecord } from './phases.js';
import { openConv, setupOrg, type BenchOrg } from './setup.js';

/** DynamoDB requests of one phase of one measured call. */
export interface PhaseFigures {
  requests: number;
  byCommand: Record<string, number>;
  reads: number;
  writes: number;
  /** sequential waits (requests in flight together count once) */
  roundTrips: number;
  transactItems: number;
  /** 2 WCU per item of a transaction, as DynamoDB bills them */
  floorWcu: number;
  rcu: number;
  wcu: number;
  /** SQS requests (the webhook's SendMessage, notifications), not in the DynamoDB figures */
  sqsRequests: number;
  /** CreateSchedule calls (EventBridge Scheduler), not in the DynamoDB figures */
  schedules: number;
}

export interface ActionFigures {
  action: string;
  status: number | string;
  request: PhaseFigures;
  followUp: PhaseFigures;
}

export function summarize(
  records: readonly RequestRecord[],
  sqs: readonly RequestRecord[] = [],
  schedules: readonly RequestRecord[] = [],
): PhaseFigures {
  const byCommand: Record<string, number> = {};
  for (const r of records) byCommand[r.command] = (byCommand[r.command] ?? 0) + 1;
  const transactItems = records.reduce((a, r) => a + r.transactItems, 0);
  const reads = records.filter((r) => isRead(r.command)).length;
  return {
    requests: records.length,
    byCommand,
    reads,
    writes: records.length - reads,
    roundTrips: roundTrips(records),
    transactItems,
    floorWcu: 2 * transactItems,
    rcu: records.reduce((a, r) => a + r.rcu, 0),
    wcu: records.reduce((a, r) => a + r.wcu, 0),
    sqsRequests: sqs.length,
    schedules: schedules.length,
  };
}

/**
 * Runs one entry-point call (its handler's requests are tagged 'request'), then lets the stream
 * consumer run its follow-ups (tagged 'follow-up', follow-ups.ts), and splits what it cost by
 * phase. Everything committed before is settled first, so the window holds this call's
 * follow-ups only.
 */
export async function measure(
  rt: BenchRuntime,
  action: string,
  call: () => Promise<HttpResult | { batchItemFailures?: unknown[] }>,
): Promise<ActionFigures> {
  await rt.followUps.settle();
  const scope = new Scope(true);
  const out = await rt.followUps.collect(scope, () => inPhase('request', call, scope));
  const status = 'status' in out ? out.status : (out.batchItemFailures?.length ?? 0) === 0 ? 'ok' : 'batch item failed';
  return {
    action,
    status,
    request: summarize(scope.of('request'), scope.of('request', 'sqs'), scope.of('request', 'scheduler')),
    followUp: summarize(scope.of('follow-up'), scope.of('follow-up', 'sqs'), scope.of('follow-up', 'scheduler')),
  };
}

const PICK = { id: 'ws-pick', distribution: 'pick', blockCapacity: 5 } as const;
const PUSH = { id: 'ws-push', distribution: 'push', blockCapacity: 'never', offerTimeoutSeconds: 3600 } as const;

/** Signed-in agents, each in 3 of the org's queues (q1 for all), a pick and a push workstream. */
export function actionOrg(rt: BenchRuntime, doc: DynamoDBDocumentClient, agents: number): Promise<BenchOrg> {
  const queues = ['q1', 'q2', 'q3', 'q4', 'q5'];
  return setupOrg(rt, doc, {
    queues,
    agents,
    apiAgents: Math.min(agents, 10),
    agentQueues: (i) => ['q1', queues[1 + (i % 2)] as string, queues[3 + (i % 2)] as string],
    capacity: 3,
    workstreams: [PICK, PUSH],
  });
}

/**
 * One pass of every measured action by one signed-in agent (pick workstream, 5-minute wrap-up):
 * accept -> end -> the wrap-up release timer -> close; accept -> release; accept -> transfer to a
 * queue; an accept with an Idempotency-Key, and its replay; and a push conversation arriving: the
 * webhook, and the ingest consumer applying it.
 */
export async function actionPass(rt: BenchRuntime, o: BenchOrg): Promise<ActionFigures[]> {
  const out: ActionFigures[] = [];
  const { entry, commits, local } = rt;
  const agent = o.agents[0] as string;
  const now = () => local.clock.now();
  const act = (c: string, a: string, body?: unknown) => () => entry.action(o.org, agent, c, a, body);

  const c1 = await openConv(rt.store, o, PICK.id, 'q1', now());
  out.push(await measure(rt, 'accept', act(c1.id, 'accept')));
  out.push(await measure(rt, 'end', act(c1.id, 'end')));
  const timer = [...commits.timers.values()].find((t) => t.conversationId === c1.id && t.kind === 'wrapup-release');
  if (!timer) throw new Error('the end committed no wrap-up release timer');
  local.clock.advance(Math.max(0, (Date.parse(timer.at) - now().getTime()) / 1000) + 1);
  out.push(await measure(rt, 'timer fire (wrap-up release)', () => entry.timer(timer)));
  out.push(await measure(rt, 'close', act(c1.id, 'close')));

  const c2 = await openConv(rt.store, o, PICK.id, 'q1', now());
  await inPhase('setup', act(c2.id, 'accept'));
  out.push(await measure(rt, 'release', act(c2.id, 'release')));

  const c3 = await openConv(rt.store, o, PICK.id, 'q1', now());
  await inPhase('setup', act(c3.id, 'accept'));
  out.push(await measure(rt, 'transfer (to queue)', act(c3.id, 'transfer', { queueId: 'q2' })));

  // Idempotency-Key: the key's receipt is read with the action's state and written in its transaction
  const c4 = await openConv(rt.store, o, PICK.id, 'q1', now());
  const keyed = (key: string) => () =>
    entry.http(
      'conversations',
      'POST /v1/conversations/{id}/actions/{action}',
      { id: c4.id, action: 'accept' },
      { org: o.org, sub: agent, roles: ['agent'] },
      undefined,
      { 'idempotency-key': key },
    );
  const key = `bench-${ulid()}`;
  out.push(await measure(rt, 'accept (Idempotency-Key)', keyed(key)));
  out.push(await measure(rt, 'accept replayed (same key)', keyed(key)));
  await inPhase('setup', act(c4.id, 'release'));

  const push = o.channel[PUSH.id] as string;
  const started = () => ({ eventId: ulid(), type: 'conversation.started' as const, threadId: ulid() });
  // the ingest consumer holds the message while the webhook is measured (a webhook has no follow-ups of its own)
  const webhook = await rt.holdingIngest(() =>
    measure(rt, 'webhook (202, push)', () => entry.webhook(push, o.secret, started())),
  );
  out.push(webhook);
  await local.drain(); // the SQS poller ingests it; the consumer is measured on its own below
  out.push(await measure(rt, 'ingest consumer (push, offered)', () => entry.ingest(o.org, push, started())));
  return out;
}
