import { openConversation } from '../domain/decide.js';
import { DomainError, DuplicateRequestError, NotFoundError, RaceLostError } from '../domain/errors.js';
import type { Contact, Conversation } from '../domain/model.js';
import { normalizeEmail, pickIdentified, toE164 } from '../domain/identification.js';
import { routeQueue, routingVariables } from '../domain/routing.js';
import type { Action } from '../domain/transitions.js';
import type { Write } from '../domain/writes.js';
import { classify, performAction } from './conversation-action.use-case.js';
import { retryOnConflict, type EngineDeps } from './engine.js';

export const CUSTOMER_EVENT_TYPES = [
  'conversation.started',
  'message.received',
  'customer.ended',
  'customer.disconnected',
  'customer.reconnected',
] as const;
export type CustomerEventType = (typeof CUSTOMER_EVENT_TYPES)[number];

export interface CustomerEvent {
  eventId: string;
  type: CustomerEventType;
  threadId: string;
  occurredAt?: string;
  customer?: { id?: string; phone?: string; email?: string; name?: string };
  context?: Record<string, string>;
  message?: { text: string };
}

export type CustomerEventOutcome =
  | { outcome: 'created'; conversation: Conversation }
  | { outcome: 'transitioned'; conversation: Conversation; rule: string }
  /** the event changes no state (activity on a live conversation, or a refused transition) */
  | { outcome: 'ignored'; conversationId?: string; reason: string }
  /** RL-1: the same event (channel + event id) was applied before */
  | { outcome: 'duplicate' };

/** How long an event's receipt is kept: far beyond SQS's 5-minute deduplication window (RL-1). */
export const RECEIPT_TTL_SECONDS = 30 * 24 * 3600;

const CUSTOMER_ACTIONS: Partial<Record<CustomerEventType, Action['type']>> = {
  'customer.ended': 'customer-ended',
  'customer.disconnected': 'customer-disconnected',
};

/** The thread's current conversation, if it can still take customer events (M-4: not after session end). */
const isCurrent = (c: Conversation | undefined): c is Conversation =>
  !!c && c.status !== 'Closed' && c.session.status === 'active';

/**
 * Applies one channel event: maps the thread to its current conversation, starts a new one when
 * there is none (R-1 routing), or applies the customer's transition (T-2, T-3b, T-3c, T-6b, T-10).
 */
export async function handleCustomerEvent(
  deps: EngineDeps,
  org: string,
  channelId: string,
  event: CustomerEvent,
): Promise<CustomerEventOutcome> {
  const { store } = deps;
  const channel = await store.getChannel(org, channelId);
  if (!channel) throw new NotFoundError('channel', channelId);
  const customer = { role: 'customer' as const, id: event.customer?.id ?? `thread:${event.threadId}` };
  // RL-1: the receipt commits in the same transaction as the event's effect, so it applies once.
  const receiptKey = `${channelId}#${event.eventId}`;
  if (await store.hasReceipt(org, receiptKey)) return { outcome: 'duplicate' };
  const receipt: Write = {
    type: 'receipt',
    org,
    key: receiptKey,
    expiresAt: Math.floor(deps.clock.now().getTime() / 1000) + RECEIPT_TTL_SECONDS,
  };

  const apply = async (current: Conversation, type: Action['type']): Promise<CustomerEventOutcome> => {
    try {
      const r = await performAction(deps, {
        org,
        conversationId: current.id,
        actor: customer,
        action: { type } as Action,
        extraWrites: [receipt],
      });
      return { outcome: 'transitioned', conversation: r.conversation, rule: r.rule };
    } catch (err) {
      // RL-1 duplicates are answered by the caller; a lost race is not a refusal: the event goes back to
      // its queue and is applied on redelivery (never recorded as ignored, never dropped)
      if (err instanceof DuplicateRequestError || err instanceof RaceLostError) throw err;
      // A customer event the current status does not take (T-13) is recorded as ignored, not retried forever.
      if (err instanceof DomainError && err.kind !== 'not-found')
        return ignore({ outcome: 'ignored', conversationId: current.id, reason: err.message });
      throw err;
    }
  };
  const ignore = async (outcome: CustomerEventOutcome): Promise<CustomerEventOutcome> => {
    try {
      await store.commit([receipt]);
    } catch (err) {
      throw classify(err);
    }
    return outcome;
  };

  const run = retryOnConflict<CustomerEventOutcome>(
    deps,
    async () => {
      const currentId = await store.getThreadConversationId(org, channelId, event.threadId);
      const current = currentId ? await store.getConversation(org, currentId) : undefined;
      const action = CUSTOMER_ACTIONS[event.type];
      if (action)
        return isCurrent(current)
          ? apply(current, action)
          : ignore({ outcome: 'ignored', reason: `no open conversation on thread ${event.threadId}` });
      if (event.type === 'customer.reconnected')
        return ignore({
          outcome: 'ignored',
          ...(current ? { conversationId: current.id } : {}),
          reason: 'reconnection changes no status',
        });
      if (isCurrent(current)) {
        if (event.type === 'message.received' && current.status === 'Waiting')
          return apply(current, 'customer-message');
        return ignore({
          outcome: 'ignored',
          conversationId: current.id,
          reason: `thread already has a ${current.status} conversation`,
        });
      }
      const workstream = await store.getWorkstream(org, channel.workstreamId);
      if (!workstream) throw new NotFoundError('workstream', channel.workstreamId);
      const identified = await identifyCustomer(deps, org, event.customer);
      const route = routeQueue(workstream, routingVariables(event.context, identified?.attributes));
      const decision = openConversation({
        org,
        id: deps.ids.newId(),
        ticketId: deps.ids.newId(),
        channel,
        workstream,
        threadId: event.threadId,
        queueId: route.queueId,
        ...(identified ? { customerId: identified.id } : {}),
        actor: customer,
        previousConversationId: currentId ?? null,
        reason: route.rule === null ? 'R-1: default queue' : `R-1: routing rule ${route.rule + 1}`,
        now: deps.clock.now(),
      });
      try {
        await store.commit([...decision.writes, receipt]);
      } catch (err) {
        throw classify(err);
      }
      return { outcome: 'created' as const, conversation: decision.conversation };
    },
    async () => {
      throw new RaceLostError(
        'Open',
        `RL-2: could not apply ${event.type} on thread ${event.threadId} after repeated races`,
      );
    },
  );
  try {
    return await run;
  } catch (err) {
    if (err instanceof DuplicateRequestError) return { outcome: 'duplicate' };
    throw err;
  }
}

/**
 * identifies the customer from the channel address: the phone (normalized to E.164 in the org's
 * region) against contacts' and accounts' phones, the email against their emails, each by a key
 * read. Every field given must match the same record. An unreadable number identifies nobody.
 */
export async function identifyCustomer(
  deps: EngineDeps,
  org: string,
  customer: CustomerEvent['customer'],
): Promise<Contact | undefined> {
  if (!customer) return undefined;
  const settings = await deps.store.getSettings(org);
  const phone = toE164(customer.phone, settings.defaultPhoneRegion);
  const email = normalizeEmail(customer.email);
  const lists = await Promise.all([
    ...(phone ? [deps.store.findContacts(org, 'phone', phone)] : []),
    ...(email ? [deps.store.findContacts(org, 'email', email)] : []),
  ]);
  const id = pickIdentified(lists);
  return id ? deps.store.getContact(org, id) : undefined;
}
