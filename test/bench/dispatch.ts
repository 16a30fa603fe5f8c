import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { setTimeout as sleep } from 'node:timers/promises';
import { performance } from 'node:perf_hooks';
import type { BenchRuntime } from './bench-runtime.js';
import { postWebhook, startedEvent } from './ingest.js';
import { openSeen } from './follow-ups.js';
import { inPhase } from './phases.js';
import { openConv, setupOrg } from './setup.js';
import { percentile } from './throughput.js';

export interface LatencyFigures {
  /** created only: commit -> the consumer handed the Open image (stream), and from there -> offer committed */
  stream?: { p50Ms: number; p99Ms: number };
  consumer?: { p50Ms: number; p99Ms: number; batchP50: number; batchP99: number };
  samples: number;
  p50Ms: number;
  p99Ms: number;
  maxMs: number;
  missed: number;
}

const figures = (xs: number[], missed: number): LatencyFigures => ({
  samples: xs.length,
  p50Ms: percentile(xs, 50),
  p99Ms: percentile(xs, 99),
  maxMs: xs.length ? Math.max(...xs) : NaN,
  missed,
});

/** the first offer of `conversationId`, or to `agentId`, committed after `after` */
function offerAfter(rt: BenchRuntime, after: number, match: { conversationId?: string; agentId?: string }) {
  for (let i = rt.commits.eventLog.length - 1; i >= 0; i--) {
    const e = rt.commits.eventLog[i];
    if (!e || e.at < after) break;
    if (e.event.action !== 'offer') continue;
    if (match.conversationId && e.event.conversationId !== match.conversationId) continue;
    if (match.agentId && e.conversation?.primaryAgentId !== match.agentId) continue;
    return e;
  }
  return undefined;
}

/**
 * (5) Push dispatch latency on the local stack, commit to commit (times seen on the wire). Both
 * offers are follow-ups: the table's stream -> the stream poller -> the follow-ups handler, which
 * runs beside everything else as its event source mapping would.
 * - created: a push conversation's creation (webhook -> ingest) to its committed offer, with free
 *   agents (the conversation entering Open is dispatched);
 * - freed: an agent's end (wrap-up 'never', so it frees capacity) to the committed offer of the
 *   oldest waiting push conversation to that agent, with a backlog waiting and every agent full
 *   (the pool's freed unit refreshes the agent's entries, then offers them waiting work).
 */
export async function dispatchLatency(
  rt: BenchRuntime,
  doc: DynamoDBDocumentClient,
  opts: { created: number; freed: number; ratePerSecond: number },
): Promise<{ created: LatencyFigures; freed: LatencyFigures }> {
  const ws = { id: 'ws-push', distribution: 'push', blockCapacity: 'never', offerTimeoutSeconds: 3600 } as const;

  // created -> offered
  const a = await setupOrg(rt, doc, {
    queues: ['q1', 'q2', 'q3'],
    agents: 10,
    agentQueues: () => ['q1', 'q2', 'q3'],
    capacity: 1000,
    workstreams: [ws],
  });
  const created: number[] = [];
  const streamPart: number[] = [];
  const consumerPart: number[] = [];
  const batches: number[] = [];
  let missedCreated = 0;
  const waits: Promise<void>[] = [];
  const start = performance.now();
  for (let i = 0; i < opts.created; i++) {
    const wait = start + (i * 1000) / opts.ratePerSecond - performance.now();
    if (wait > 0) await sleep(wait);
    const e = startedEvent();
    waits.push(
      postWebhook(rt, a, ws.id, e).then(async () => {
        const key = `${a.channel[ws.id]}#${e.threadId}`;
        const id = await rt.commits.until(() => rt.commits.byThread.get(key), 60_000, 'a push conversation');
        const at = rt.commits.createdAt.get(id) as number;
        try {
          const offer = await rt.commits.until(() => offerAfter(rt, at, { conversationId: id }), 10_000, 'an offer');
          created.push(offer.at - at);
          const seen = openSeen.get(id);
          if (seen) {
            streamPart.push(seen.at - at);
            consumerPart.push(offer.at - seen.at);
            batches.push(seen.batch);
          }
        } catch {
          missedCreated++;
        }
      }),
    );
  }
  await Promise.all(waits);
  await rt.local.drain();

  const p = (xs: number[]) => ({ p50Ms: percentile(xs, 50), p99Ms: percentile(xs, 99) });
  const createdFigures: LatencyFigures = {
    ...figures(created, missedCreated),
    stream: p(streamPart),
    consumer: { ...p(consumerPart), batchP50: percentile(batches, 50), batchP99: percentile(batches, 99) },
  };
  if (opts.freed === 0) return { created: createdFigures, freed: figures([], 0) };

  // freed -> offered: every agent holds one conversation (capacity 1), a backlog waits in q1
  const agents = 8;
  const b = await setupOrg(rt, doc, {
    queues: ['q1', 'q2', 'q3'],
    agents,
    agentQueues: () => ['q1', 'q2', 'q3'],
    capacity: 1,
    workstreams: [ws],
  });
  const holding = new Map<string, string>();
  await inPhase('setup', async () => {
    for (let i = 0; i < agents; i++) {
      const e = startedEvent();
      await postWebhook(rt, b, ws.id, e);
      const id = await rt.commits.until(
        () => rt.commits.byThread.get(`${b.channel[ws.id]}#${e.threadId}`),
        60_000,
        'a push conversation',
      );
      const offer = await rt.commits.until(() => offerAfter(rt, 0, { conversationId: id }), 10_000, 'an offer');
      const agent = offer.conversation?.primaryAgentId as string;
      const r = await rt.entry.action(b.org, agent, id, 'accept');
      if (r.status !== 200) throw new Error(`accept of the offer: ${r.status}`);
      holding.set(agent, id);
    }
    await rt.local.drain();
    for (let i = 0; i < opts.freed + agents; i++) await openConv(rt.store, b, ws.id, 'q1', rt.local.clock.now());
    // the backlog's own dispatch (no agent has room) has run before anything is timed
    await rt.followUps.settle();
  });
  const freed: number[] = [];
  let missedFreed = 0;
  let left = opts.freed;
  await Promise.all(
    [...holding.keys()].slice(0, 4).map(async (agent) => {
      while (left-- > 0) {
        const conversationId = holding.get(agent) as string;
        const r = await inPhase('request', () => rt.entry.action(b.org, agent, conversationId, 'end'));
        if (r.status !== 200) throw new Error(`end: ${r.status} ${JSON.stringify(r.body)}`);
        const released = [...rt.commits.eventLog]
          .reverse()
          .find((e) => e.event.action === 'end' && e.event.conversationId === conversationId);
        if (!released) throw new Error('the end was not seen on the wire');
        try {
          const offer = await rt.commits.until(
            () => offerAfter(rt, released.at, { agentId: agent }),
            10_000,
            'an offer',
          );
          freed.push(offer.at - released.at);
          const acc = await inPhase('setup', () => rt.entry.action(b.org, agent, offer.event.conversationId, 'accept'));
          if (acc.status !== 200) throw new Error(`accept: ${acc.status}`);
          holding.set(agent, offer.event.conversationId);
        } catch (err) {
          missedFreed++;
          if (!(err instanceof Error) || !err.message.startsWith('timed out')) throw err;
          break;
        }
      }
    }),
  );
  return { created: createdFigures, freed: figures(freed, missedFreed) };
}
