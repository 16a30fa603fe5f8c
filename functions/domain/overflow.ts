/**
 * O-1, O-2 overflow: a queue's rules, evaluated in order when a conversation enters it (`closed`,
 * `queueSizeAtLeast`, `noAgentsSignedIn`) or while it waits (`waitedSecondsAtLeast`, by a timer);
 * the first that matches acts.
 */

export const OVERFLOW_ENTER_CONDITIONS = ['closed', 'noAgentsSignedIn'] as const;
export const MAX_OVERFLOW_RULES = 10;

export type OverflowWhen =
  (typeof OVERFLOW_ENTER_CONDITIONS)[number] | { queueSizeAtLeast: number } | { waitedSecondsAtLeast: number };

export type OverflowThen = { transferToQueue: string } | { setPriority: number } | { close: true };

export interface OverflowRule {
  when: OverflowWhen;
  then: OverflowThen;
}

export type OverflowAction = 'transferToQueue' | 'setPriority' | 'close';

export const overflowActionOf = (then: OverflowThen): OverflowAction =>
  'transferToQueue' in then ? 'transferToQueue' : 'setPriority' in then ? 'setPriority' : 'close';

/** `closed`, `noAgentsSignedIn`, `queueSizeAtLeast 50`, `waitedSecondsAtLeast 600`: for the history */
export const describeWhen = (when: OverflowWhen): string =>
  typeof when === 'string'
    ? when
    : 'queueSizeAtLeast' in when
      ? `queueSizeAtLeast ${when.queueSizeAtLeast}`
      : `waitedSecondsAtLeast ${when.waitedSecondsAtLeast}`;
