import { setTimeout as sleep } from 'node:timers/promises';
import type { Clock, IdGenerator } from '../ports/clock.js';
import { CommitConflict, type ConversationStore } from '../ports/conversation-store.js';
import type { Decision, TimerRequest } from '../domain/writes.js';
import type { Notifier } from '../ports/notifier.js';
import type { Scheduler } from '../ports/scheduler.js';
import type { ConfigCache } from './config-cache.js';

/** What every use case needs: ports only, so the same use cases run in Lambda, locally and in tests. */
export interface EngineDeps {
  store: ConversationStore;
  clock: Clock;
  ids: IdGenerator;
  scheduler?: Scheduler;
  /** E-2: the outbound queue */
  notifier?: Notifier;
  /** configuration cached across requests, proven current by each transaction */
  config?: ConfigCache;
  /** how many times a transaction that lost a race is re-decided on fresh state (default 10) */
  maxAttempts?: number;
  log?: { warn(message: string, data?: Record<string, unknown>): void };
  /**
   * Runs after every committed decision (availability refresh, push dispatch). Wired by
   * createEngine; its failures are logged, never undo the commit: the outbox's dispatch timers
   * retry what it did not finish.
   */
  afterCommit?: (decision: Decision) => Promise<void>;
}

/** Outbox items run right after the commit (and by the sweeper if that did not happen). */
export const IMMEDIATE_KINDS: ReadonlySet<TimerRequest['kind']> = new Set(['notify', 'trigger']);

export async function runAfterCommit(deps: EngineDeps, decision: Decision): Promise<void> {
  if (!deps.afterCommit) return;
  try {
    await deps.afterCommit(decision);
  } catch (err) {
    deps.log?.warn('after-commit work failed; the dispatch timer in the outbox will retry it', {
      conversationId: decision.conversation.id,
      error: String(err),
    });
  }
}

/**
 * After a commit, asks the scheduler for the precise trigger of the timers the change armed. The
 * timers themselves were committed in the change's transaction (the outbox), so a scheduler that
 * fails here, or a crash before this line, loses nothing: the sweeper fires due outbox items.
 */
export async function armTimers(deps: EngineDeps, timers: readonly TimerRequest[]): Promise<void> {
  // Dispatch retries, notifications and trigger actions are run right after the commit and swept
  // from the outbox otherwise: they need no precise trigger of their own.
  const precise = timers.filter((t) => !IMMEDIATE_KINDS.has(t.kind) && t.kind !== 'dispatch');
  if (!precise.length || !deps.scheduler) return;
  try {
    await deps.scheduler.schedule(precise);
  } catch (err) {
    deps.log?.warn('scheduler unavailable; the sweeper will fire these timers from the outbox', {
      timers: timers.length,
      error: String(err),
    });
  }
}

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
