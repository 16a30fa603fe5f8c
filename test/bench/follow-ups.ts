import { performance } from 'node:perf_hooks';
import type { DynamoDBBatchResponse, DynamoDBRecord } from 'aws-lambda';
import { startStreamPoller, type StreamLambdaHandler } from '../../bin/local/stream-poller.js';
import { inPhase, type Phase, type Scope } from './phases.js';

/** How the bench waits for, and attributes, the follow-ups of what was committed. */
export interface FollowUps {
  /**
   * resolves once the stream consumer has run the follow-ups of every change committed before the
   * call (and of the changes those made); also called concurrently
   */
  settle(): Promise<void>;
  /**
   * runs `fn` with every follow-up the consumer runs meanwhile counted in `scope` (phase
   * 'follow-up'): `fn` settles before it returns, and the caller settles before it starts, so the
   * window holds the follow-ups of what `fn` committed and nothing else. One at a time.
   */
  collect<T>(scope: Scope, fn: () => Promise<T>): Promise<T>;
  /**
   * the bench's own preparation: follow-ups run while `fn` runs are tagged 'setup' (never counted),
   * and stream records `skip` matches are dropped unhandled (agents the setup copied item by item,
   * availability entries included, have nothing left for a follow-up to do); settles before it returns
   */
  asSetup<T>(fn: () => Promise<T>, skip?: (r: DynamoDBRecord) => boolean): Promise<T>;
  /** the consumer waits (its records wait in the stream) while `fn` runs; it catches up afterwards */
  paused<T>(fn: () => Promise<T>): Promise<T>;
  readonly deadLetters: readonly DynamoDBRecord[];
  stop(): Promise<void>;
}

/**
 * When the stream consumer was first handed each conversation's Open image, and the size of that
 * batch: the dispatch bench splits its latency into the stream's part and the follow-up's.
 */
export const openSeen = new Map<string, { at: number; batch: number }>();

/**
 * THE one place that knows where follow-ups (availability index refresh, push dispatch, schedules,
 * notifications, triggers) run: from the table's DynamoDB Stream, by the follow-ups Lambda handler
 * (`functions/handlers/stream/follow-ups.handler.ts`, built by its factory on the bench's probed
 * store), delivered by the local runtime's stream poller (`bin/local/stream-poller.ts`: Lambda's
 * event source mapping, its batches, retries and order). Each invocation runs under the
 * AsyncLocalStorage tag 'follow-up' (or 'setup'), in the scope being collected if there is one, so
 * the probe counts its requests apart from the request path's.
 */
export async function attachFollowUps(opts: {
  endpoint: string;
  table: string;
  handler: StreamLambdaHandler;
}): Promise<FollowUps> {
  let tag: { phase: Phase; scope?: Scope } = { phase: 'follow-up' };
  let skip: ((r: DynamoDBRecord) => boolean) | undefined;
  let gate: Promise<void> | undefined;
  let collecting = false;
  const wrapped: StreamLambdaHandler = async (event, context): Promise<DynamoDBBatchResponse> => {
    const received = performance.now();
    for (const r of event.Records) {
      const img = r.dynamodb?.NewImage;
      if (img?.type?.S === 'conversation' && img.status?.S === 'Open' && img.id?.S && !openSeen.has(img.id.S))
        openSeen.set(img.id.S, { at: received, batch: event.Records.length });
    }
    while (gate) await gate;
    const records = skip ? event.Records.filter((r) => !(skip as (r: DynamoDBRecord) => boolean)(r)) : event.Records;
    if (!records.length) return { batchItemFailures: [] };
    const t = tag;
    return inPhase(t.phase, () => opts.handler({ Records: records }, context), t.scope);
  };
  const poller = await startStreamPoller(wrapped, { endpoint: opts.endpoint, tableName: opts.table });
  const settle = (): Promise<void> => poller.settle();
  return {
    settle,
    async collect(scope, fn) {
      if (collecting) throw new Error('follow-ups are collected for one measured call at a time');
      collecting = true;
      tag = { phase: 'follow-up', scope };
      try {
        const out = await fn();
        await settle();
        return out;
      } finally {
        tag = { phase: 'follow-up' };
        collecting = false;
      }
    },
    async asSetup(fn, skipping) {
      const before = tag;
      tag = { phase: 'setup' };
      skip = skipping;
      try {
        const out = await fn();
        await settle();
        return out;
      } finally {
        tag = before;
        skip = undefined;
      }
    },
    async paused(fn) {
      let release = (): void => undefined;
      gate = new Promise<void>((resolve) => (release = resolve));
      try {
        return await fn();
      } finally {
        gate = undefined;
        release();
      }
    },
    deadLetters: poller.deadLetters,
    stop: () => poller.stop(),
  };
}
