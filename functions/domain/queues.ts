import { isOpenAt, nextChangeAt, type Hours } from './hours.js';

/** MX-1: answered within this many seconds of entering the queue counts toward its service level */
export const DEFAULT_SERVICE_LEVEL_SECONDS = 20;

/** H-2: a queue without hours is always open, and that never changes */
export const openState = (hours: Hours | undefined, now: Date): { isOpen: boolean; nextChangeAt: Date | null } =>
  hours
    ? { isOpen: isOpenAt(hours, now), nextChangeAt: nextChangeAt(hours, now) }
    : { isOpen: true, nextChangeAt: null };
