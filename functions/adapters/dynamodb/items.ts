import type { Conversation, HistoryEvent } from '../../domain/model.js';
import { timerName } from '../../domain/timers.js';
import type { TimerRequest } from '../../domain/writes.js';
import { conversationIndexKeys, keys, timerIndexKeys } from './keys.js';

/** Entity <-> item mapping. Index keys are derived from the entity on every write, never stored by hand. */

const STORAGE_ATTRS = new Set([
  'PK',
  'SK',
  'type',
  'GSI1PK',
  'GSI1SK',
  'GSI2PK',
  'GSI2SK',
  'GSI3PK',
  'GSI3SK',
  'GSI4PK',
  'GSI4SK',
  'expiresAt',
  'configVersion',
]);

export const stripStorage = <T>(item: Record<string, unknown>): T =>
  Object.fromEntries(Object.entries(item).filter(([k]) => !STORAGE_ATTRS.has(k))) as T;

export const conversationItem = (c: Conversation): Record<string, unknown> => ({
  ...keys.conversation(c.org, c.id),
  type: 'conversation',
  ...conversationIndexKeys(c),
  ...c,
});

export const eventItem = (e: HistoryEvent): Record<string, unknown> => ({
  ...keys.event(e.org, e.conversationId, e.version),
  type: 'event',
  ...e,
});

/** Due timers are kept a week past their time at most (the sweeper fires them long before). */
const TIMER_RETENTION_SECONDS = 7 * 24 * 3600;

export const timerItem = (t: TimerRequest): Record<string, unknown> => {
  const name = timerName(t);
  return {
    ...keys.timer(t.org, name),
    type: 'timer',
    name,
    ...timerIndexKeys(t.org, name, t.at),
    ...t,
    expiresAt: Math.floor(Date.parse(t.at) / 1000) + TIMER_RETENTION_SECONDS,
  };
};
