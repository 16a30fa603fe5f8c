import { openConversation } from '../domain/decide.js';
import { DomainError, NotFoundError, TransitionConflictError } from '../domain/errors.js';
import type { Conversation } from '../domain/model.js';
import { routeQueue } from '../domain/routing.js';
import type { Action } from '../domain/transitions.js';
import { performAction } from './conversation-action.use-case.js';
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
  | { outcome: 'ignored'; conversationId?: string; reason: string };

const CUSTOMER_ACTIONS: Partial<Record<CustomerEventType, Action['type']>> = {
  'customer.ended': 'customer-ended',
  'customer.disconnected': 'customer-disconnected',
};

/** The thread's current conversation, if it can still take customer events (M-4: not after session end). */
const isCurrent = (c: Conversation | undefined): c is Conversation => !!c && c.status !== 'Closed' && c.session.status === 'active';

/**
 * Applies one channel event: maps the thread to its current conversation, starts a new one when
 * there is none (R-1 routing), or applies the customer's transition (T-2, T-3b, T-3c, T-6b, T-10).
 */
export async function handleCustomerEvent(deps: EngineDeps, org: string, channelId: string, event: CustomerEvent): Promise<CustomerEventOutcome> {
  const { store } = deps;
  const channel = await store.getChannel(org, channelId);
  if (!channel) throw new NotFoundError('channel', channelId);
  const customer = { role: 'customer' as const, id: event.customer?.id ?? `thread:${event.threadId}` };

  const apply = async (current: Conversation, type: Action['type']): Promise<CustomerEventOutcome> => {
    try {
      const r = await performAction(deps, { org, conversationId: current.id, actor: customer, action: { type } as Action });
      return { outcome: 'transitioned', conversation: r.conversation, rule: r.rule };
    } catch (err) {
      // A customer event the current status does not take (T-13) is recorded as ignored, not retried forever.
      if (err instanceof DomainError && err.kind !== 'not-found') return { outcome: 'ignored', conversationId: current.id, reason: err.message };
      throw err;
    }
  };

  return retryOnConflict(
    deps,
    async () => {
      const currentId = await store.getThreadConversationId(org, channelId, event.threadId);
      const current = currentId ? await store.getConversation(org, currentId) : undefined;
      const action = CUSTOMER_ACTIONS[event.type];
      if (action) return isCurrent(current) ? apply(current, action) : { outcome: 'ignored', reason: `no open conversation on thread ${event.threadId}` };
      if (event.type === 'customer.reconnected') return { outcome: 'ignored', ...(current ? { conversationId: current.id } : {}), reason: 'reconnection changes no status' };
      if (isCurrent(current)) {
        if (event.type === 'message.received' && current.status === 'Waiting') return apply(current, 'customer-message');
        return { outcome: 'ignored', conversationId: current.id, reason: `thread already has a ${current.status} conversation` };
      }
      const workstream = await store.getWorkstream(org, channel.workstreamId);
      if (!workstream) throw new NotFoundError('workstream', channel.workstreamId);
      const route = routeQueue(workstream, event.context ?? {});
      const decision = openConversation({
        org,
        id: deps.ids.newId(),
        ticketId: deps.ids.newId(),
        channel,
        workstream,
        threadId: event.threadId,
        queueId: route.queueId,
        ...(event.customer?.id ? { customerId: event.customer.id } : {}),
        actor: customer,
        previousConversationId: currentId ?? null,
        reason: route.rule === null ? 'R-1: default queue' : `R-1: routing rule ${route.rule + 1}`,
        now: deps.clock.now(),
      });
      await store.commit(decision.writes);
      return { outcome: 'created', conversation: decision.conversation };
    },
    async () => {
      throw new TransitionConflictError('Open', `RL-2: could not start a conversation on thread ${event.threadId} after repeated races`);
    },
  );
}
