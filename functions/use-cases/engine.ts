import { setTimeout as sleep } from 'node:timers/promises';
import type { Clock, IdGenerator } from '../ports/clock.js';
import { CommitConflict } from '../ports/storage-types.js';
import type { TimerRequest } from '../domain/writes.js';
import type { Notifier } from '../ports/notifier.js';
import type { QueueSignals } from '../ports/queue-signals.js';
import type { Repositories } from '../ports/repositories.js';
import type { Scheduler } from '../ports/scheduler.js';
import type { ConfigCache } from './config-cache.js';

/**
 * What every use case needs: ports only, so the same use cases run in Lambda, locally and in tests.
 * Storage is one repository per aggregate or read model (`deps.conversations`, `deps.agents`, ...).
 */
export interface EngineDeps extends Repositories {
  clock: Clock;
  ids: IdGenerator;
  scheduler?: Scheduler;
  /** E-2: the outbound queue */
  notifier?: Notifier;
  /** configuration cached across requests, proven current by each transaction */
  config?: ConfigCache;
  /** how many times a transaction that lost a race is re-decided on fresh state (default 10) */
  maxAttempts?: number;
  /** MX-1: metrics of counted changes (the stream follow-ups' function only, where metrics are enabled) */
  queueSignals?: QueueSignals;
  log?: { warn(message: string, data?: Record<string, unknown>): void };
}

/** What the HTTP API's use cases take (the engine's ports). Handlers hand them to a use case and never reach a repository. */
export type ApiDeps = EngineDeps;

/** Outbox items the stream's follow-ups run at once (and the sweeper if that did not happen). */
export const IMMEDIATE_KINDS: ReadonlySet<TimerRequest['kind']> = new Set(['notify', 'trigger']);

/**
 * Runs `attempt` until it commits. A cancelled transaction (CommitConflict) means the state we decided
 * on is gone: `attempt` decides again on fresh state, which either commits, or refuses with the
 * typed error naming the new current status (RL-2). Jittered backoff spreads contenders out.
 */
export async function retryOnConflict<T>(
  deps: EngineDeps,
  attempt: (n: number) => Promise<T>,
  onExhausted: (last: CommitConflict) => Promise<never>,
): Promise<T> {
  const max = deps.maxAttempts ?? 10;
  let last: CommitConflict | undefined;
  for (let n = 1; n <= max; n++) {
    try {
      return await attempt(n);
    } catch (err) {
      if (!(err instanceof CommitConflict)) throw err;
      last = err;
      if (n < max) await sleep(Math.random() * Math.min(200, 10 * 2 ** n));
    }
  }
  return onExhausted(last as CommitConflict);
}
