import type { TimerRequest } from '../domain/writes.js';

/** Arms one-time timers. Creating the same timer twice is harmless (deterministic names, TM-5). */
export interface Scheduler {
  schedule(timers: readonly TimerRequest[]): Promise<void>;
}
