import type { QueueDelta } from '../domain/metrics.js';

/**
 * MX-1: what a counted change tells the outside about its queues, after its counters committed (in AWS,
 * CloudWatch metrics for the dashboard). Best effort: the counters stay the source of truth, and a
 * signal that fails is logged, never retried.
 */
export interface QueueSignals {
  /** the deltas of one change that counted now (never one counted before: nothing is signalled twice) */
  changed(org: string, deltas: readonly QueueDelta[]): Promise<void>;
}
