/**
 * T-2 for events that arrive out of order: the customer left (`customer.ended`, `customer.disconnected`)
 * before the thread had any conversation. The end is kept for a short window; a conversation-starting
 * event of the same contact that arrives within it (its time not after the end) creates the conversation
 * already Closed. Pure: the caller passes the times.
 */

/** How long an early end is kept for the thread's start (the table's TTL removes it, but lags). */
export const EARLY_END_WINDOW_SECONDS = 300;

/** The status reason (and, after `T-2: `, the history reason) of a conversation closed at creation. */
export const LEFT_BEFORE_START = 'customer-left-before-start';

export type EarlyEndAction = 'customer-ended' | 'customer-disconnected';

export interface EarlyEnd {
  org: string;
  channelId: string;
  threadId: string;
  /** when the customer left: the event's `occurredAt`, or when the engine received it */
  endedAt: string;
  /** the customer's action the event stood for */
  action: EarlyEndAction;
  /** epoch seconds: the end counts only before then (also the item's TTL) */
  expiresAt: number;
  /** the conversation created Closed from this end, once there is one */
  conversationId?: string;
}

/** An event's own time: its `occurredAt` when the channel gave one (that parses), else when the engine received it. */
export const eventTime = (occurredAt: string | undefined, receivedAt: Date): Date => {
  const at = occurredAt === undefined ? Number.NaN : Date.parse(occurredAt);
  return Number.isNaN(at) ? receivedAt : new Date(at);
};

/** The end as kept from `now` on, for `EARLY_END_WINDOW_SECONDS`. */
export const keptEnd = (end: Omit<EarlyEnd, 'expiresAt' | 'conversationId'>, now: Date): EarlyEnd => ({
  ...end,
  expiresAt: Math.floor(now.getTime() / 1000) + EARLY_END_WINDOW_SECONDS,
});

/** Still within its window: TTL deletion lags, so an item read back after `expiresAt` counts as gone. */
export const inForce = (end: EarlyEnd | undefined, now: Date): end is EarlyEnd =>
  end !== undefined && now.getTime() < end.expiresAt * 1000;

/** A start at `startedAt` belongs to the contact that left: it is not after the end. */
export const startedBeforeEnd = (end: EarlyEnd, startedAt: Date): boolean =>
  startedAt.getTime() <= Date.parse(end.endedAt);
