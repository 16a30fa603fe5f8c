import { TransitionConflictError } from '../domain/errors.js';
import { queuePosition, type QueuePosition } from '../domain/metrics.js';
import { priorityOf, type Conversation } from '../domain/model.js';
import type { Caller } from './caller.js';
import { readConversation } from './conversation-reads.use-case.js';
import type { EngineDeps } from './engine.js';

/** MX-3: how far into the queue the index is counted: the position is exact that far */
export const POSITION_HEAD = 20;
/** MX-3: the answer rate of the estimated wait is that of the last 15 minutes */
const RATE_WINDOW_SECONDS = 15 * 60;

export interface QueuePositionView extends QueuePosition {
  queueId: string;
  at: Date;
}

/**
 * MX-3: an Open conversation's place in its queue (seen by whoever may read the conversation, RL-7):
 * its own read, then in parallel a count of the index up to POSITION_HEAD, the queue's counters and the
 * last 15 minute buckets, and its wait's entry record. The same requests at 10 waiting or 10,000.
 */
export async function readQueuePosition(
  deps: Pick<EngineDeps, 'conversations' | 'agents' | 'lists' | 'queueStats' | 'clock'>,
  caller: Caller,
  id: string,
): Promise<QueuePositionView> {
  const c = await readConversation(deps, caller, id);
  if (c.status !== 'Open')
    throw new TransitionConflictError(
      c.status,
      `MX-3: only an Open conversation has a queue position; it is ${c.status}`,
    );
  return positionOf(deps, c);
}

/** MX-3: an Open conversation's position, from its queue's index head, counters, recent answers and its entry record. */
export async function positionOf(
  deps: Pick<EngineDeps, 'lists' | 'queueStats' | 'clock'>,
  c: Conversation,
): Promise<QueuePositionView> {
  const at = deps.clock.now();
  // the minute buckets from the one 15 minutes ago: the rate is over the seconds they actually cover
  const from = new Date(at.getTime() - RATE_WINDOW_SECONDS * 1000).toISOString().slice(0, 16);
  const windowSeconds = Math.max(1, (at.getTime() - Date.parse(`${from}:00.000Z`)) / 1000);
  const [head, stats, entry] = await Promise.all([
    deps.lists.countAhead(c.org, c, POSITION_HEAD),
    deps.queueStats.read(c.org, c.queueId, from),
    deps.queueStats.entryOf(c.org, c.id),
  ]);
  const priority = priorityOf(c);
  const mine =
    entry?.queueId === c.queueId && entry.priority === priority && entry.enqueuedAt === (c.enqueuedAt ?? c.statusSince);
  return {
    queueId: c.queueId,
    at,
    ...queuePosition({
      priority,
      head,
      counts: stats.counts,
      entry: mine ? entry : undefined,
      answered: stats.lastHour.answered,
      windowSeconds,
    }),
  };
}
