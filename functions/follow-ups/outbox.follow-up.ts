import type { DueTimer } from '../ports/due-timer.js';
import { IMMEDIATE_KINDS, type EngineDeps } from '../use-cases/engine.js';
import { fireTimer } from '../use-cases/timers.use-case.js';

/**
 * An outbox item was committed. Notifications (E-2) and trigger actions (M-3) run now and leave the
 * outbox; timers get their precise trigger from the scheduler (the item stays: the sweeper fires it
 * if the schedule never does, so a scheduler fault is logged, not retried). Dispatch retries need
 * neither: the sweeper fires them when due.
 */
export async function runOutboxItem(deps: EngineDeps, timer: DueTimer): Promise<void> {
  // without an outbound queue (a deployment or test without one) notifications wait in the outbox
  if (timer.kind === 'notify' && !deps.notifier) return;
  if (IMMEDIATE_KINDS.has(timer.kind)) {
    // a redelivered record of an item that already ran (and was deleted) does nothing
    const current = await deps.outbox.getTimer(timer.org, timer.name);
    if (!current) return;
    const fired = await fireTimer(deps, current);
    if (!fired.keep && !fired.removed) await deps.outbox.deleteTimer(timer.org, timer.name);
    return;
  }
  if (timer.kind === 'dispatch' || !deps.scheduler) return;
  try {
    const { name: _name, ...request } = timer;
    await deps.scheduler.schedule([request]);
  } catch (err) {
    // not retried from the stream: the committed outbox item is the record, and the sweeper fires it
    deps.log?.warn('scheduler unavailable; the sweeper will fire this timer from the outbox', {
      timer: timer.name,
      error: String(err),
    });
  }
}
