import type { Conversation, HistoryEvent } from '../../domain/model.js';
import { conversationIndexKeys, keys } from './keys.js';

/** Entity <-> item mapping. Index keys are derived from the entity on every write, never stored by hand. */

const STORAGE_ATTRS = new Set(['PK', 'SK', 'type', 'GSI1PK', 'GSI1SK', 'GSI2PK', 'GSI2SK', 'GSI3PK', 'GSI3SK', 'GSI4PK', 'GSI4SK', 'expiresAt']);

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
