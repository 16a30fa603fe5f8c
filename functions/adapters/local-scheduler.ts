import type { Clock } from '../ports/clock.js';
import type { TimerRequest } from '../domain/writes.js';
import type { Scheduler } from '../ports/scheduler.js';

/** A clock that runs with real time plus an offset the local runtime can move forward. */
export class VirtualClock implements Clock {
  private offsetMs = 0;
  now(): Date {
    return new Date(Date.now() + this.offsetMs);
  }
  advance(seconds: number): Date {
    this.offsetMs += seconds * 1000;
    return this.now();
  }
}

/**
 * The local Scheduler: the due-timer items the change committed (the outbox, in DynamoDB Local) are
 * the schedule; this adapter wakes the local sweeper when the earliest one falls due on the virtual
 * clock, and a ticker sweeps every second regardless.
 */
export class LocalScheduler implements Scheduler {
  private readonly wakeups = new Set<NodeJS.Timeout>();
  constructor(
    private readonly clock: Clock,
    private readonly wake: () => void,
  ) {}

  async schedule(timers: readonly TimerRequest[]): Promise<void> {
    for (const t of timers) {
      const delay = Math.max(0, Date.parse(t.at) - this.clock.now().getTime());
      const h = setTimeout(
        () => {
          this.wakeups.delete(h);
          this.wake();
        },
        Math.min(delay, 2 ** 31 - 1),
      );
      h.unref();
      this.wakeups.add(h);
    }
  }

  close(): void {
    for (const h of this.wakeups) clearTimeout(h);
    this.wakeups.clear();
  }
}
