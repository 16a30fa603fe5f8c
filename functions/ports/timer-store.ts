import type { TimerRequest } from '../domain/writes.js';

export interface DueTimer extends TimerRequest {
  name: string;
}

/** The timer outbox: items written with the change that armed them, read when due. */
export interface TimerStore {
  /** timers due at or before `until`, oldest first, across every org */
  listDueTimers(until: Date, limit: number): Promise<DueTimer[]>;
  deleteTimer(org: string, name: string): Promise<void>;
}
