import { AsyncLocalStorage } from 'node:async_hooks';

/**
 * Which part of the work a DynamoDB request belongs to, carried by AsyncLocalStorage so the client
 * middleware (instrument.ts) can tag every request without the engine knowing:
 * - 'request': made inside an invocation of an HTTP handler or an SQS consumer (or the sweeper);
 * - 'follow-up': made inside the stream consumer's invocations (follow-ups.ts);
 * - 'setup': the bench's own preparation, never counted;
 * - 'background': no tag at all (the bench's raw baselines, calls outside any handler).
 */
export type Phase = 'request' | 'follow-up' | 'setup' | 'background';

export interface RequestRecord {
  /** 'scheduler': a CreateSchedule call (EventBridge Scheduler's stand-in records it, sends nothing) */
  service: 'dynamodb' | 'sqs' | 'scheduler';
  command: string;
  phase: Phase;
  /** performance.now() when the request was sent and when its answer was read */
  start: number;
  end: number;
  ok: boolean;
  /** items of a TransactWriteItems */
  transactItems: number;
  rcu: number;
  wcu: number;
}

/** Collects the requests made under one measured call (its request path and its follow-ups). */
export class Scope {
  readonly records: RequestRecord[] = [];
  /** ask DynamoDB for ReturnConsumedCapacity TOTAL (off where it would only slow a throughput run) */
  constructor(readonly capacity = false) {}

  of(phase: Phase, service: RequestRecord['service'] = 'dynamodb'): RequestRecord[] {
    return this.records.filter((r) => r.phase === phase && r.service === service);
  }
}

interface Tag {
  phase: Phase;
  scope?: Scope;
}

const als = new AsyncLocalStorage<Tag>();

export const currentTag = (): Tag | undefined => als.getStore();
export const currentPhase = (): Phase => als.getStore()?.phase ?? 'background';

/** Runs `fn` with every request it makes tagged `phase`; the scope is kept unless another is given. */
export function inPhase<T>(
  phase: Phase,
  fn: () => Promise<T>,
  scope: Scope | undefined = currentTag()?.scope,
): Promise<T> {
  return als.run(scope ? { phase, scope } : { phase }, fn);
}

/**
 * Sequential waits: requests in flight at the same time count as one round trip. The intervals
 * are merged (sorted by start; one that starts before the running group ends joins it).
 */
export function roundTrips(records: readonly RequestRecord[]): number {
  const sorted = [...records].sort((a, b) => a.start - b.start);
  let trips = 0;
  let groupEnd = -Infinity;
  for (const r of sorted) {
    if (r.start >= groupEnd) trips++;
    groupEnd = Math.max(groupEnd, r.end);
  }
  return trips;
}
