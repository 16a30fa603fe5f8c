import { openConversation } from '../domain/decide.js';
import {
  eventTime,
  inForce,
  keptEnd,
  startedBeforeEnd,
  type EarlyEnd,
  type EarlyEndAction,
} from '../domain/early-end.js';
import { DomainError, DuplicateRequestError, NotFoundError, RaceLostError } from '../domain/errors.js';
import {
  modeOf,
  type Actor,
  type Channel,
  type Contact,
  type Conversation,
  type OrgSettings,
} from '../domain/model.js';
import { normalizeEmail, pickIdentified, toE164 } from '../domain/identification.js';
import {
  appendMessages,
  EMPTY_LOG,
  responseTimer,
  type Message,
  type MessageDraft,
  type MessageLog,
} from '../domain/messages.js';
import { routeQueue, routingVariables } from '../domain/routing.js';
import type { Action } from '../domain/transitions.js';
import type { Write } from '../domain/writes.js';
import { CommitConflict, type Versioned } from '../ports/storage-types.js';
import { configCacheOf } from './config-cache.js';
import { classify, performAction, workstreamOf } from './conversation-action.use-case.js';
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
  /** MS-1: a customer message joined the transcript of a conversation whose status it does not change */
  | { outcome: 'stored'; conversationId: string; seq: number }
  /** the event changes no state (activity on a live conversation, or a refused transition) */
  | { outcome: 'ignored'; conversationId?: string; reason: string }
  /** T-2: an end before the thread's first conversation, kept for a short while for its start */
  | { outcome: 'kept'; reason: string }
  /** RL-1: the same event (channel + event id) was applied before */
  | { outcome: 'duplicate' };

/** How long an event's receipt is kept: far beyond SQS's 5-minute deduplication window (RL-1). */
export const RECEIPT_TTL_SECONDS = 30 * 24 * 3600;

const CUSTOMER_ACTIONS: Partial<Record<CustomerEventType, EarlyEndAction>> = {
  'customer.ended': 'customer-ended',
  'customer.disconnected': 'customer-disconnected',
};

/** The thread's current conversation, if it can still take customer events (M-4: not after session end). */
const isCurrent = (c: Conversation | undefined): c is Conversation =>
  !!c && c.status !== 'Closed' && c.session.status === 'active';

/** What a channel event is decided on: one BatchGetItem with the channel and settings warm. */
interface EventState {
  duplicate: boolean;
  channel: Versioned<Channel>;
  settings?: Versioned<OrgSettings>;
  threadConversationId?: string;
  earlyEnd?: EarlyEnd;
}

/**
 * Applies one channel event: maps the thread to its current conversation, starts a new one when
 * there is none (R-1 routing), or applies the customer's transition (T-2, T-3b, T-3c, T-6b, T-10).
 * The same lean path as an action: one round trip of reads (the receipt, the thread, uncached
 * configuration; the thread's conversation when it has one), the decision, one transaction that
 * proves the configuration it used. A lost race is decided again on fresh state; one that keeps
 * losing throws (the message goes back to its queue), it is never recorded as ignored.
 */
export async function handleCustomerEvent(
  deps: EngineDeps,
  org: string,
  channelId: string,
  event: CustomerEvent,
  /** when the webhook took the event: its time when it has no `occurredAt` (T-2 early ends) */
  receivedAt: Date = deps.clock.now(),
): Promise<CustomerEventOutcome> {
  // RL-1: the receipt commits in the same transaction as the event's effect, so it applies once.
  const receiptKey = `${channelId}#${event.eventId}`;
  const receipt: Write = {
    type: 'receipt',
    org,
    key: receiptKey,
    expiresAt: Math.floor(deps.clock.now().getTime() / 1000) + RECEIPT_TTL_SECONDS,
  };
  const attempt = async (n: number): Promise<CustomerEventOutcome> => {
    const state = await readEventState(deps, org, channelId, receiptKey, event, n > 1);
    if (state.duplicate) return { outcome: 'duplicate' };
    // the thread's conversation with its transcript's log (MS-1), in one round trip
    const read = state.threadConversationId
      ? await deps.messages.readWithLog(org, state.threadConversationId)
      : { log: EMPTY_LOG };
    const current = read.conversation;
    return applyEvent(deps, {
      org,
      event,
      receivedAt,
      receipt,
      state,
      log: read.log,
      fresh: n > 1,
      ...(current ? { current } : {}),
    });
  };
  try {
    return await retryOnConflict<CustomerEventOutcome>(deps, attempt, async () => {
      throw new RaceLostError(
        'Open',
        `RL-2: could not apply ${event.type} on thread ${event.threadId} after repeated races`,
      );
    });
  } catch (err) {
    if (err instanceof DuplicateRequestError) return { outcome: 'duplicate' };
    throw err;
  }
}

interface EventContext {
  org: string;
  event: CustomerEvent;
  receivedAt: Date;
  receipt: Write;
  state: EventState;
  current?: Conversation;
  /** MS-1: the current conversation's transcript log (EMPTY_LOG without one) */
  log: MessageLog;
  /** a retry after a lost race: configuration read afresh */
  fresh: boolean;
}

/** MS-1: the customer's text an event carries into the transcript (a start or a message). */
const draftsOf = (event: CustomerEvent): MessageDraft[] =>
  event.message && (event.type === 'message.received' || event.type === 'conversation.started')
    ? [{ from: 'customer', text: event.message.text }]
    : [];

/** The event's effect on the thread's current conversation, or a new conversation. */
async function applyEvent(deps: EngineDeps, ctx: EventContext): Promise<CustomerEventOutcome> {
  const { event, current } = ctx;
  const action = CUSTOMER_ACTIONS[event.type];
  if (action) {
    if (isCurrent(current)) return transition(deps, ctx, current, action);
    if (!ctx.state.threadConversationId) return keepEarlyEnd(deps, ctx, action);
    return ignore(deps, ctx, { outcome: 'ignored', reason: `no open conversation on thread ${event.threadId}` });
  }
  if (event.type === 'customer.reconnected') {
    return ignore(deps, ctx, {
      outcome: 'ignored',
      ...(current ? { conversationId: current.id } : {}),
      reason: 'reconnection changes no status',
    });
  }
  if (!isCurrent(current)) return startConversation(deps, ctx);
  if (event.type === 'message.received' && current.status === 'Waiting') {
    return transition(deps, ctx, current, 'customer-message');
  }
  if (draftsOf(event).length) return storeMessage(deps, ctx, current);
  return ignore(deps, ctx, {
    outcome: 'ignored',
    conversationId: current.id,
    reason: `thread already has a ${current.status} conversation`,
  });
}

async function transition(
  deps: EngineDeps,
  ctx: EventContext,
  current: Conversation,
  type: Action['type'],
): Promise<CustomerEventOutcome> {
  const customer = customerOf(ctx.event);
  try {
    const r = await performAction(deps, {
      org: ctx.org,
      conversationId: current.id,
      actor: customer,
      action: { type } as Action,
      extraWrites: [ctx.receipt],
      messages: draftsOf(ctx.event),
    });
    return { outcome: 'transitioned', conversation: r.conversation, rule: r.rule };
  } catch (err) {
    // RL-1 duplicates are answered by the caller; a lost race is not a refusal: the event goes back to
    // its queue and is applied on redelivery (never recorded as ignored, never dropped)
    if (err instanceof DuplicateRequestError || err instanceof RaceLostError) throw err;
    if (err instanceof DomainError && err.kind !== 'not-found') {
      // MS-1: a message's text is never dropped. Refused because the conversation moved after it was read
      // (an agent resumed it, a supervisor closed it): the event is decided again on the fresh state (stored
      // on it, or starting a new conversation, M-4); refused as it is: stored on it as it is.
      if (draftsOf(ctx.event).length) {
        const now = (err as { currentStatus?: Conversation['status'] }).currentStatus;
        if (now !== undefined && now !== current.status) throw new CommitConflict([], { cause: err });
        return storeMessage(deps, ctx, current);
      }
      // A customer event the current status does not take (T-13) is recorded as ignored, not retried forever.
      return ignore(deps, ctx, { outcome: 'ignored', conversationId: current.id, reason: err.message });
    }
    throw err;
  }
}

/**
 * MS-1: a customer message on a conversation it does not move (Open, Active, WrapUp) joins the
 * transcript with the event's receipt, proven on the conversation's version (a change in between
 * decides it again). MS-3: on an Active, accepted conversation it arms the agent-response timer.
 */
async function storeMessage(deps: EngineDeps, ctx: EventContext, current: Conversation): Promise<CustomerEventOutcome> {
  const now = deps.clock.now();
  const workstream = await workstreamOf(deps, ctx.org, current.workstreamId, ctx.fresh);
  const appended = appendMessages(current, ctx.log, draftsOf(ctx.event), now.toISOString());
  const seq = (appended.messages[0] as Message).seq;
  const timer = responseTimer(current, workstream.value, seq, now);
  // whether a timer is armed was decided on the (cached) workstream: proven current whenever it could be
  const answered = current.status === 'Active' && current.accepted !== false;
  const proof: Write = {
    type: 'config-current',
    org: ctx.org,
    entity: 'workstream',
    id: workstream.value.id,
    version: workstream.version,
    spread: current.id,
  };
  const armed: Write[] = [...(timer ? [{ type: 'timer', timer } as const] : []), ...(answered ? [proof] : [])];
  try {
    await deps.commits.commit([
      ctx.receipt,
      { type: 'conversation-check', org: ctx.org, conversationId: current.id, version: current.version },
      ...appended.writes,
      ...armed,
    ]);
  } catch (err) {
    throw onConfigStale(deps, ctx.org, err, [current.channelId, workstream.value.id]) ?? classify(err);
  }
  return { outcome: 'stored', conversationId: current.id, seq };
}

async function ignore(
  deps: EngineDeps,
  ctx: EventContext,
  outcome: CustomerEventOutcome,
): Promise<CustomerEventOutcome> {
  try {
    await deps.commits.commit([ctx.receipt]);
  } catch (err) {
    throw classify(err);
  }
  return outcome;
}

/**
 * T-2, out of order: the customer left before the thread had a conversation (the channel posted the
 * end before the start). On a live channel the end is kept, in the transaction of its receipt, for the
 * thread's start; an end already kept (ended, then disconnected) stays as it is. Elsewhere T-2 does not
 * apply: the receipt alone.
 */
async function keepEarlyEnd(
  deps: EngineDeps,
  ctx: EventContext,
  action: EarlyEndAction,
): Promise<CustomerEventOutcome> {
  const { org, event, state } = ctx;
  const channel = state.channel;
  const now = deps.clock.now();
  const keep = modeOf(channel.value.kind) === 'live' && !inForce(state.earlyEnd, now);
  const end = keptEnd(
    {
      org,
      channelId: channel.value.id,
      threadId: event.threadId,
      endedAt: eventTime(event.occurredAt, ctx.receivedAt).toISOString(),
      action,
    },
    now,
  );
  return commitOnChannel(
    deps,
    ctx,
    keep
      ? { outcome: 'kept', reason: `T-2: the customer left thread ${event.threadId} before it had a conversation` }
      : { outcome: 'ignored', reason: `no open conversation on thread ${event.threadId}` },
    keep ? [{ type: 'early-end', end }] : [],
  );
}

/** The receipt and `writes`, decided on the channel's mode (T-2 is live only), so its version is proven. */
async function commitOnChannel(
  deps: EngineDeps,
  ctx: EventContext,
  outcome: CustomerEventOutcome,
  writes: Write[],
): Promise<CustomerEventOutcome> {
  const { org, event, state } = ctx;
  const channel = state.channel;
  const proof: Write = {
    type: 'config-current',
    org,
    entity: 'channel',
    id: channel.value.id,
    version: channel.version,
    spread: event.threadId,
  };
  try {
    await deps.commits.commit([ctx.receipt, proof, ...writes]);
  } catch (err) {
    throw onConfigStale(deps, org, err, [channel.value.id, channel.value.workstreamId]) ?? classify(err);
  }
  return outcome;
}

/** The thread's kept end, when it is in force and this starting event is not after it (same contact). */
function endBefore(deps: EngineDeps, ctx: EventContext): EarlyEnd | undefined {
  const { event, state } = ctx;
  const end = state.earlyEnd;
  if (modeOf(state.channel.value.kind) !== 'live' || !inForce(end, deps.clock.now())) return undefined;
  return startedBeforeEnd(end, eventTime(event.occurredAt, ctx.receivedAt)) ? end : undefined;
}

/**
 * R-1 routing and a new conversation, committed with the receipt and the configuration it was decided on.
 * T-2: when the customer already left (a kept end this event is not after), it is created Closed, and the
 * end records it; a later start or message of that contact (not after the end either) is ignored.
 */
async function startConversation(deps: EngineDeps, ctx: EventContext): Promise<CustomerEventOutcome> {
  const { org, event, state } = ctx;
  const left = endBefore(deps, ctx);
  if (left?.conversationId !== undefined) {
    const reason = `T-2: the customer left at ${left.endedAt}; conversation ${left.conversationId} is Closed`;
    return commitOnChannel(deps, ctx, { outcome: 'ignored', conversationId: left.conversationId, reason }, []);
  }
  const channel = state.channel.value;
  const workstream = await workstreamOf(deps, org, channel.workstreamId, false);
  const identified = await identifyCustomer(deps, org, event.customer, state.settings?.value);
  const route = routeQueue(workstream.value, routingVariables(event.context, identified?.attributes));
  const preferredAgent = await preferredAgentOf(deps, ctx, route.preferredAgent, identified?.id);
  const decision = openConversation({
    org,
    id: deps.ids.newId(),
    ticketId: deps.ids.newId(),
    channel,
    workstream: workstream.value,
    threadId: event.threadId,
    queueId: route.queueId,
    ...(route.priority !== undefined ? { priority: route.priority } : {}),
    ...(route.requires ? { requires: route.requires } : {}),
    ...(preferredAgent ? { preferredAgent } : {}),
    ...(identified ? { customerId: identified.id } : {}),
    actor: customerOf(event),
    previousConversationId: state.threadConversationId ?? null,
    reason: route.rule === null ? 'R-1: default queue' : `R-1: routing rule ${route.rule + 1}`,
    now: deps.clock.now(),
    ...(left ? { leftBeforeStart: left } : {}),
  });
  const spread = decision.conversation.id;
  const proofs: Write[] = [
    { type: 'config-current', org, entity: 'channel', id: channel.id, version: state.channel.version, spread },
    { type: 'config-current', org, entity: 'workstream', id: workstream.value.id, version: workstream.version, spread },
    ...(event.customer && state.settings
      ? [{ type: 'config-current', org, entity: 'settings', id: org, version: state.settings.version, spread } as const]
      : []),
  ];
  const closedBy: Write[] = left
    ? [{ type: 'early-end', end: { ...left, conversationId: decision.conversation.id } }]
    : [];
  const said = appendMessages(decision.conversation, EMPTY_LOG, draftsOf(event), decision.event.at);
  try {
    await deps.commits.commit([...decision.writes, ctx.receipt, ...proofs, ...closedBy, ...said.writes]);
  } catch (err) {
    throw onConfigStale(deps, org, err, [channel.id, workstream.value.id]) ?? classify(err);
  }
  return { outcome: 'created' as const, conversation: decision.conversation };
}

/** a context's `preferredAgentId` that is not an agent id form names nobody (routing never fails on context). */
const AGENT_ID = /^[A-Za-z0-9_-]{1,64}$/;

/**
 * the agent the new conversation waits for first: the one the channel's context names, else,
 * when the routing rule asks for `last`, the primary agent of the customer's (or thread's) most
 * recent earlier conversation (one index query, only for such a rule).
 */
async function preferredAgentOf(
  deps: EngineDeps,
  ctx: EventContext,
  rule: 'last' | undefined,
  customerId: string | undefined,
): Promise<{ agentId: string; source: 'last' | 'context' } | undefined> {
  const named = ctx.event.context?.preferredAgentId;
  if (named !== undefined && AGENT_ID.test(named)) return { agentId: named, source: 'context' };
  if (rule !== 'last') return undefined;
  const last = await deps.lists.lastPrimaryAgent(ctx.org, {
    customerId,
    channelId: ctx.state.channel.value.id,
    threadId: ctx.event.threadId,
  });
  return last ? { agentId: last, source: 'last' } : undefined;
}

/** A failed configuration check: the cached entries go and the event is decided again. */
function onConfigStale(deps: EngineDeps, org: string, err: unknown, [channelId, workstreamId]: string[]): unknown {
  const conflict = err as CommitConflict;
  if (conflict?.name !== 'CommitConflict') return undefined;
  if (!conflict.failures.some((f) => f.write.type === 'config-current' && f.code === 'ConditionalCheckFailed')) {
    return undefined;
  }
  const cache = configCacheOf(deps);
  cache.drop('channel', org, channelId as string);
  cache.drop('workstream', org, workstreamId as string);
  cache.drop('settings', org, org);
  return conflict;
}

const customerOf = (event: CustomerEvent): Actor => ({
  role: 'customer',
  id: event.customer?.id ?? `thread:${event.threadId}`,
});

/** The event's reads in one round trip; configuration from the cache unless `fresh` (a retry). */
async function readEventState(
  deps: EngineDeps,
  org: string,
  channelId: string,
  receiptKey: string,
  event: CustomerEvent,
  fresh: boolean,
): Promise<EventState> {
  const cache = configCacheOf(deps);
  const cachedChannel = fresh ? undefined : cache.get('channel', org, channelId);
  const wantsSettings = !!(event.customer?.phone || event.customer?.email);
  const cachedSettings = wantsSettings && !fresh ? cache.get('settings', org, org) : undefined;
  const read = await deps.decisions.readEventState(org, {
    channelId,
    receiptKey,
    threadId: event.threadId,
    channel: !cachedChannel,
    settings: wantsSettings && !cachedSettings,
    earlyEnd: event.type !== 'customer.reconnected',
  });
  const channel = cachedChannel ?? read.channel;
  if (!channel) throw new NotFoundError('channel', channelId);
  if (read.channel) cache.set('channel', org, channelId, read.channel);
  if (read.settings) cache.set('settings', org, org, read.settings);
  const settings = cachedSettings ?? read.settings;
  return {
    duplicate: read.duplicate,
    channel,
    ...(settings ? { settings } : {}),
    ...(read.threadConversationId ? { threadConversationId: read.threadConversationId } : {}),
    ...(read.earlyEnd ? { earlyEnd: read.earlyEnd } : {}),
  };
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
  known?: OrgSettings,
): Promise<Contact | undefined> {
  if (!customer) return undefined;
  const settings = known ?? (await deps.configuration.getSettings(org));
  const phone = toE164(customer.phone, settings.defaultPhoneRegion);
  const email = normalizeEmail(customer.email);
  const lists = await Promise.all([
    ...(phone ? [deps.contacts.findContacts(org, 'phone', phone)] : []),
    ...(email ? [deps.contacts.findContacts(org, 'email', email)] : []),
  ]);
  const id = pickIdentified(lists);
  return id ? deps.contacts.getContact(org, id) : undefined;
}
