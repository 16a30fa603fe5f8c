import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  CapacityExceededError,
  DomainError,
  ForbiddenActionError,
  TransitionConflictError,
} from '../../functions/domain/errors.js';
import {
  modeOf,
  STATUSES,
  type Agent,
  type ChannelKind,
  type Conversation,
  type HistoryEvent,
  type Status,
  type WrapUpBlockPolicy,
} from '../../functions/domain/model.js';
import type { Action } from '../../functions/domain/transitions.js';
import type { AllocationRecord } from '../../functions/ports/storage-types.js';
import { performAction } from '../../functions/use-cases/conversation-action.use-case.js';
import { handleCustomerEvent, type CustomerEventType } from '../../functions/use-cases/customer-event.use-case.js';
import { makeFixture, type Fixture } from '../support/fixture.js';

/**
 * Model-based random sequences on DynamoDB Local. Each run is one fresh org with 3-4 agents of mixed
 * capacities and 4-6 conversations of mixed channel kinds; the commands are random agent, customer and
 * timer actions, some fired concurrently, and the clock moving on. After every step the whole org is
 * read back and checked against the SPEC (L-1, L-2, T-11, C-2, C-3, C-5, C-6, RL-3, E-1), and every step
 * that ran alone is compared with an independent model of the SPEC's transition table (T-1..T-13, X-1,
 * X-3, TM-5), written from SPEC.md, not from functions/domain/transitions.ts.
 *
 * A failure prints fast-check's shrunk counterexample (setup and steps), then the trace of that run:
 * every step with its outcome, down to the one that broke the rule.
 */

// ---------------------------------------------------------------------------------------------------
// Commands (plain data, so fast-check prints the shrunk sequence readably)

type AgentAction =
  | { type: 'accept' | 'reject' | 'end' | 'close' | 'release' | 'resolve' | 'resume' }
  | { type: 'transfer'; queueId: 'q1' | 'q2' }
  | { type: 'transfer-agent'; agent: number }
  | { type: 'transfer-external' };
type CustomerWhat = 'ended' | 'disconnected' | 'message' | 'reconnected';
type SystemAction = 'inactivity-timeout' | 'reconnect-timeout' | 'wrapup-release';

/**
 * An agent by index; `primary`: the conversation's primary agent at that moment; `receiver`: the receiver
 * of its pending transfer (X-3). Either falls back to an agent by index when there is none.
 */
type Who = number | 'primary' | 'receiver';

/**
 * Every operation picks its conversation by `conv`, an index: with `aim`, among the conversations whose
 * status the action can apply to (so runs go deep into the lifecycle), else among all of them.
 */
interface Target {
  conv: number;
  aim: boolean;
}
type Op =
  | ({ by: 'agent'; agent: Who; action: AgentAction } & Target)
  /** `event`: through handleCustomerEvent (webhook path, addresses the thread); `action`: performAction as the customer */
  | ({ by: 'customer'; via: 'event' | 'action'; what: CustomerWhat } & Target)
  | ({ by: 'system'; action: SystemAction } & Target);

/** One step: a single operation, or 2-3 operations fired at once. */
type Step = Op[] | { clockMinutes: number };

interface KindConfig {
  units: number;
  wrapUp: WrapUpBlockPolicy;
}
const KINDS = ['chat', 'voice', 'sms', 'whatsapp', 'record'] as const satisfies readonly ChannelKind[];
type Kind = (typeof KINDS)[number];

interface Setup {
  agents: { max: number; q2: boolean }[];
  kinds: Kind[];
  /** per channel kind: the units a conversation costs and the wrap-up block policy (C-1, C-3) */
  config: Record<Kind, KindConfig>;
}

const kindConfigArb: fc.Arbitrary<KindConfig> = fc.record({
  units: fc.constantFrom(1, 1, 2),
  wrapUp: fc.constantFrom<WrapUpBlockPolicy>('always', 'never', 1, 2),
});
const setupArb: fc.Arbitrary<Setup> = fc.record({
  agents: fc.array(fc.record({ max: fc.integer({ min: 1, max: 4 }), q2: fc.boolean() }), {
    minLength: 3,
    maxLength: 4,
  }),
  kinds: fc.array(fc.constantFrom(...KINDS), { minLength: 4, maxLength: 6 }),
  config: fc.record({
    chat: kindConfigArb,
    voice: kindConfigArb,
    sms: kindConfigArb,
    whatsapp: kindConfigArb,
    record: kindConfigArb,
  }),
});

const agentActionArb: fc.Arbitrary<AgentAction> = fc.oneof(
  { weight: 4, arbitrary: fc.constant({ type: 'accept' as const }) },
  { weight: 5, arbitrary: fc.constantFrom<AgentAction>({ type: 'end' }, { type: 'close' }, { type: 'close' }) },
  { weight: 2, arbitrary: fc.constant({ type: 'resume' as const }) },
  { weight: 2, arbitrary: fc.constantFrom<AgentAction>({ type: 'release' }, { type: 'resolve' }, { type: 'reject' }) },
  {
    weight: 1,
    arbitrary: fc.constantFrom<AgentAction>({ type: 'transfer', queueId: 'q1' }, { type: 'transfer', queueId: 'q2' }),
  },
  { weight: 2, arbitrary: fc.nat(3).map((agent): AgentAction => ({ type: 'transfer-agent', agent })) },
  { weight: 1, arbitrary: fc.constant<AgentAction>({ type: 'transfer-external' }) },
);
const convArb = fc.nat(7);
const aimArb = fc.oneof({ weight: 4, arbitrary: fc.constant(true) }, { weight: 1, arbitrary: fc.constant(false) });
const agentOpArb: fc.Arbitrary<Op> = fc.record({
  by: fc.constant('agent' as const),
  // Mostly the primary, so runs go deep into the lifecycle; sometimes anyone, so refusals (T-13) are exercised too.
  agent: fc.oneof(
    { weight: 4, arbitrary: fc.constant<Who>('primary') },
    { weight: 2, arbitrary: fc.constant<Who>('receiver') },
    { weight: 2, arbitrary: fc.nat(3) },
  ),
  conv: convArb,
  aim: aimArb,
  action: agentActionArb,
});
const opArb: fc.Arbitrary<Op> = fc.oneof(
  { weight: 6, arbitrary: agentOpArb },
  {
    weight: 2,
    arbitrary: fc.oneof(
      fc.record({
        by: fc.constant('customer' as const),
        via: fc.constant('event' as const),
        conv: convArb,
        aim: aimArb,
        what: fc.constantFrom<CustomerWhat>('ended', 'disconnected', 'message', 'message', 'reconnected'),
      }),
      fc.record({
        by: fc.constant('customer' as const),
        via: fc.constant('action' as const),
        conv: convArb,
        aim: aimArb,
        what: fc.constantFrom<CustomerWhat>('ended', 'disconnected', 'message'),
      }),
    ),
  },
  {
    weight: 2,
    arbitrary: fc.record({
      by: fc.constant('system' as const),
      conv: convArb,
      aim: aimArb,
      action: fc.constantFrom<SystemAction>(
        'inactivity-timeout',
        'reconnect-timeout',
        'wrapup-release',
        'wrapup-release',
      ),
    }),
  },
);
const stepArb: fc.Arbitrary<Step> = fc.oneof(
  { weight: 10, arbitrary: opArb.map((op) => [op]) },
  { weight: 2, arbitrary: fc.array(opArb, { minLength: 2, maxLength: 3 }) },
  // time passes, so timers come due (TM-1, TM-2)
  { weight: 1, arbitrary: fc.integer({ min: 1, max: 3 }).map((clockMinutes) => ({ clockMinutes })) },
);
const stepsArb = fc.array(stepArb, { minLength: 25, maxLength: 35 });

// ---------------------------------------------------------------------------------------------------
// The SPEC model (SPEC.md T-1..T-12, C-3), independent of the engine's own transition table

const isChat = (k: ChannelKind): boolean => k === 'chat';
const isPersistent = (k: ChannelKind): boolean => modeOf(k) === 'persistent';

/**
 * The edges the SPEC allows, as `action:from>to`, per channel kind. `created` is the R-1 entry.
 * Customer end / disconnect (T-2, T-3b, T-3c, T-6b) are "chat" / "live chat" in the SPEC, which says
 * nothing of a voice caller hanging up; the model lets voice take the chat edges (and the end of a call
 * handed to an external number, T-12) and does not judge the outcome there (`expectCustomer`).
 */
function allowedEdges(kind: ChannelKind): Set<string> {
  const e = new Set<string>([
    'created:null>Open',
    'accept:Open>Active',
    'end:Active>WrapUp',
    'end:WrapUp>Closed',
    'close:WrapUp>Closed',
  ]);
  e.add('release:Active>Open')
    .add('transfer:Active>Open')
    .add('reconnect-timeout:Active>Open')
    .add('wrapup-release:WrapUp>WrapUp');
  // X-3: a transfer to an agent is requested (Active stays Active), then accepted or rejected by the receiver; T-12 on voice.
  e.add('transfer:Active>Active').add('accept:Active>Active').add('reject:Active>Active');
  if (isPersistent(kind)) e.add('accept:Waiting>Waiting').add('reject:Waiting>Waiting');
  if (isChat(kind) || kind === 'voice') {
    // T-2, T-3b/c, T-6b; on voice also the end of a call handed to an external number (no agent left to wrap up).
    for (const a of ['customer-ended', 'customer-disconnected'])
      e.add(`${a}:Open>Closed`).add(`${a}:Active>WrapUp`).add(`${a}:Active>Closed`);
  }
  if (isChat(kind)) e.add('close:Active>Open');
  if (kind === 'voice') e.add('transfer:Active>Active');
  if (isPersistent(kind))
    e.add('close:Active>Waiting')
      .add('resume:Waiting>Active')
      .add('customer-message:Waiting>Open')
      .add('inactivity-timeout:Waiting>Closed');
  if (kind === 'record') e.add('resolve:Active>Closed');
  return e;
}

/** What the SPEC says one action does to one conversation, given the state before it. */
type Expectation =
  /** `primary` undefined: the SPEC says nothing about it (Closed) */
  | { outcome: 'ok'; to: Status; primary?: string | null; queueId?: string }
  | { outcome: 'refused'; capacity?: true }
  /** the SPEC leaves it open here (voice customer end, timer release under `always`): only invariants apply */
  | { outcome: 'any' };

const ok = (to: Status, primary?: string | null, queueId?: string): Expectation => ({
  outcome: 'ok',
  to,
  ...(primary !== undefined ? { primary } : {}),
  ...(queueId ? { queueId } : {}),
});
const refused: Expectation = { outcome: 'refused' };

interface World {
  f: Fixture;
  setup: Setup;
  agentIds: string[];
  /** tracked conversations, in creation order (new ones appear when a customer writes on a closed thread) */
  convIds: string[];
  closed: Map<string, { conversation: Conversation; events: HistoryEvent[] }>;
  trace: string[];
  /** webhook event ids handed out so far */
  events: number;
}

interface Snapshot {
  convs: Map<string, Conversation>;
  events: Map<string, HistoryEvent[]>;
  agents: Map<string, Agent>;
  allocations: Map<string, AllocationRecord[]>;
  /** `channelId/threadId` -> the thread's current conversation */
  threads: Map<string, string | undefined>;
}

const configOf = (w: World, kind: ChannelKind): KindConfig => w.setup.config[kind as Kind];

/**
 * X-1 / X-3, read from the history: the last transfer request to an agent, if it can still be completed.
 * - `live`: nothing happened to the conversation since but same-status events: the receiver may accept
 *   or reject it.
 * - `live: false`: the conversation only went between Active and Waiting since (X then resume); the SPEC
 *   does not say whether the request survives that, so the model does not judge it.
 * - undefined: no request, or it was accepted or rejected, or the conversation went back to the queue
 *   (or ended): a request of an earlier assignment can never be completed, and the next primary may
 *   ask again.
 */
function transferRequest(events: HistoryEvent[], c: Conversation): { to: string; live: boolean } | undefined {
  if (c.channelKind === 'voice') return undefined; // voice transfers are immediate (T-12)
  const i = events.findLastIndex((e) => e.action === 'transfer' && e.from === 'Active' && e.to === 'Active');
  if (i < 0) return undefined;
  const since = events.slice(i + 1);
  if (since.some((e) => e.action === 'accept' || e.action === 'reject' || (e.to !== 'Active' && e.to !== 'Waiting')))
    return undefined;
  const to = (events[i] as HistoryEvent).details?.transferTo;
  return {
    to: typeof to === 'string' ? to : (c.pendingTransfer?.to ?? '?'),
    live: since.every((e) => e.from === e.to),
  };
}

const fits = (w: World, s: Snapshot, agentId: string, c: Conversation): boolean => {
  const pool = s.agents.get(agentId)?.pools.default;
  return pool !== undefined && pool.used + configOf(w, c.channelKind).units <= pool.max;
};

function expectAgent(w: World, s: Snapshot, op: Extract<Op, { by: 'agent' }>, c: Conversation): Expectation {
  const a = actorOf(w, op, c);
  const primary = c.primaryKind !== 'external' && c.primaryAgentId === a;
  const member = s.agents.get(a)?.queues.includes(c.queueId) ?? false;
  const request = transferRequest(s.events.get(c.id) ?? [], c);
  const receiver = request?.to === a;
  const x = op.action;
  switch (x.type) {
    case 'accept':
      if (c.status === 'Open') {
        if (!member) return refused;
        return fits(w, s, a, c) ? ok('Active', a) : { outcome: 'refused', capacity: true };
      }
      // X-3: the receiver of a live transfer request takes over (and, when Active, their capacity is reserved).
      if (!receiver) return refused;
      if (!request.live) return { outcome: 'any' };
      if (c.status === 'Waiting') return ok('Waiting', a);
      return fits(w, s, a, c) ? ok('Active', a) : { outcome: 'refused', capacity: true };
    case 'reject':
      if (!receiver) return refused;
      return request.live ? ok(c.status, c.primaryAgentId ?? null) : { outcome: 'any' };
    case 'end':
      if (!primary) return refused;
      return c.status === 'Active' ? ok('WrapUp', a) : c.status === 'WrapUp' ? ok('Closed') : refused;
    case 'close':
      if (!primary) return refused;
      if (c.status === 'WrapUp') return ok('Closed');
      if (c.status !== 'Active') return refused;
      return isChat(c.channelKind) ? ok('Open', null) : isPersistent(c.channelKind) ? ok('Waiting', a) : refused;
    case 'release':
      return primary && c.status === 'Active' ? ok('Open', null) : refused;
    case 'resolve':
      return primary && c.status === 'Active' && c.channelKind === 'record' ? ok('Closed') : refused;
    case 'resume':
      if (!primary || c.status !== 'Waiting') return refused;
      return fits(w, s, a, c) ? ok('Active', a) : { outcome: 'refused', capacity: true };
    case 'transfer':
      return primary && c.status === 'Active' && c.queueId !== x.queueId ? ok('Open', null, x.queueId) : refused;
    case 'transfer-agent': {
      const b = agentOf(w, x.agent);
      if (!primary || c.status !== 'Active' || b === a) return refused;
      // T-12: a voice call moves at once, with the receiver's capacity.
      if (c.channelKind === 'voice') return fits(w, s, b, c) ? ok('Active', b) : { outcome: 'refused', capacity: true };
      // X-1 / X-3: the primary may ask; the SPEC is silent on a second request while one is live, or on a full receiver.
      return request === undefined && fits(w, s, b, c) ? ok('Active', a) : { outcome: 'any' };
    }
    case 'transfer-external':
      return primary && c.status === 'Active' && c.channelKind === 'voice' ? ok('Active', EXTERNAL) : refused;
  }
}

function expectCustomer(what: CustomerWhat, c: Conversation): Expectation {
  if (what === 'message') return c.status === 'Waiting' && isPersistent(c.channelKind) ? ok('Open', null) : refused;
  if (what === 'reconnected') return refused;
  if (c.channelKind === 'voice' && (c.status === 'Open' || c.status === 'Active')) return { outcome: 'any' }; // SPEC silent on voice hang-ups
  if (!isChat(c.channelKind)) return refused;
  return c.status === 'Open' ? ok('Closed') : c.status === 'Active' ? ok('WrapUp', c.primaryAgentId ?? null) : refused;
}

/**
 * Timers fire at least once, possibly late or twice, never early (TM-5): a firing before the due time is
 * outside the SPEC, except the wrap-up block, which C-3 says lasts N minutes.
 */
function expectSystem(w: World, action: SystemAction, c: Conversation): Expectation {
  const now = w.f.clock.now().getTime();
  switch (action) {
    case 'inactivity-timeout':
      if (c.status !== 'Waiting') return refused;
      return now >= Date.parse(c.statusSince) + INACTIVITY_SECONDS * 1000 ? ok('Closed') : { outcome: 'any' };
    case 'reconnect-timeout':
      return c.status === 'Active' ? ok('Open', null) : refused;
    case 'wrapup-release': {
      if (c.status !== 'WrapUp' || !c.allocation) return refused;
      const policy = configOf(w, c.channelKind).wrapUp;
      // C-3: only an N-minute policy arms this timer; under `always` a stray firing is not specified.
      if (typeof policy !== 'number') return { outcome: 'any' };
      return now >= Date.parse(c.statusSince) + policy * 60_000 ? ok('WrapUp', c.primaryAgentId ?? null) : refused;
    }
  }
}

/** TM-2: the Waiting inactivity timeout of every workstream in these runs. */
const INACTIVITY_SECONDS = 180;

const EXTERNAL = '+15550100';
const agentOf = (w: World, i: number): string => w.agentIds[i % w.agentIds.length] as string;
/** The acting agent of an agent operation on conversation `c` (as it was before the step). */
const actorOf = (w: World, op: Extract<Op, { by: 'agent' }>, c: Conversation): string => {
  if (typeof op.agent === 'number') return agentOf(w, op.agent);
  if (op.agent === 'receiver' && c.pendingTransfer?.to) return c.pendingTransfer.to;
  return c.primaryKind === 'agent' && c.primaryAgentId ? c.primaryAgentId : agentOf(w, op.conv);
};

// ---------------------------------------------------------------------------------------------------
// Running one operation

type Outcome =
  | { kind: 'ok'; conversationId: string }
  | { kind: 'created'; conversationId: string }
  | { kind: 'refused'; conversationId: string; error?: unknown };

const toAction = (w: World, x: AgentAction): Action => {
  switch (x.type) {
    case 'transfer':
      return { type: 'transfer', target: { kind: 'queue', queueId: x.queueId } };
    case 'transfer-agent':
      return { type: 'transfer', target: { kind: 'agent', agentId: agentOf(w, x.agent) } };
    case 'transfer-external':
      return { type: 'transfer', target: { kind: 'external', number: EXTERNAL } };
    default:
      return { type: x.type };
  }
};

const EVENT_TYPES: Record<CustomerWhat, CustomerEventType> = {
  ended: 'customer.ended',
  disconnected: 'customer.disconnected',
  message: 'message.received',
  reconnected: 'customer.reconnected',
};
const CUSTOMER_ACTIONS: Record<Exclude<CustomerWhat, 'reconnected'>, Action> = {
  ended: { type: 'customer-ended' },
  disconnected: { type: 'customer-disconnected' },
  message: { type: 'customer-message' },
};

/** The thread's current conversation among the tracked ones: the newest on that thread. */
const currentOnThread = (w: World, s: Snapshot, c: Conversation): string =>
  [...w.convIds].reverse().find((id) => {
    const x = s.convs.get(id);
    return x?.channelId === c.channelId && x.threadId === c.threadId;
  }) as string;

/** The statuses an operation can apply to (used only to aim operations, never to judge outcomes). */
function aimedStatuses(op: Op): Status[] {
  if (op.by === 'customer')
    return op.what === 'message'
      ? ['Waiting', 'Closed']
      : op.what === 'reconnected'
        ? [...STATUSES]
        : ['Open', 'Active'];
  if (op.by === 'system')
    return op.action === 'inactivity-timeout'
      ? ['Waiting']
      : op.action === 'reconnect-timeout'
        ? ['Active']
        : ['WrapUp'];
  if (op.agent === 'receiver' && (op.action.type === 'accept' || op.action.type === 'reject'))
    return ['Active', 'Waiting'];
  switch (op.action.type) {
    case 'accept':
      return ['Open'];
    case 'end':
    case 'close':
      return ['Active', 'WrapUp'];
    case 'reject':
      return ['Active', 'Waiting'];
    case 'resume':
      return ['Waiting'];
    default:
      return ['Active'];
  }
}

/** Which conversation an operation addresses (webhook events address the thread's current one). */
function targetOf(w: World, s: Snapshot, op: Op): Conversation {
  const all = [...s.convs.values()];
  const aimed = op.aim ? all.filter((c) => aimedStatuses(op).includes(c.status)) : [];
  const candidates = aimed.length ? aimed : all;
  const c = candidates[op.conv % candidates.length] as Conversation;
  return op.by === 'customer' && op.via === 'event' ? (s.convs.get(currentOnThread(w, s, c)) as Conversation) : c;
}

/** Refusals are typed domain errors (T-13); anything else is a failure of the property. */
async function refusable(id: string, run: () => Promise<unknown>): Promise<Outcome> {
  try {
    await run();
    return { kind: 'ok', conversationId: id };
  } catch (error) {
    if (error instanceof DomainError) return { kind: 'refused', conversationId: id, error };
    throw error;
  }
}

async function runOp(w: World, s: Snapshot, op: Op): Promise<Outcome> {
  const { f } = w;
  const c = targetOf(w, s, op);
  if (op.by === 'agent') {
    return refusable(c.id, () =>
      performAction(f.deps, {
        org: f.org,
        conversationId: c.id,
        actor: { role: 'agent', id: actorOf(w, op, c) },
        action: toAction(w, op.action),
      }),
    );
  }
  if (op.by === 'system') {
    return refusable(c.id, () =>
      performAction(f.deps, {
        org: f.org,
        conversationId: c.id,
        actor: { role: 'system', id: 'timer' },
        action: { type: op.action },
      }),
    );
  }
  if (op.via === 'action' && op.what !== 'reconnected') {
    const action = CUSTOMER_ACTIONS[op.what];
    return refusable(c.id, () =>
      performAction(f.deps, {
        org: f.org,
        conversationId: c.id,
        actor: { role: 'customer', id: `thread:${c.threadId}` },
        action,
      }),
    );
  }
  const r = await handleCustomerEvent(f.deps, f.org, c.channelId, {
    eventId: `ev-${++w.events}`,
    type: EVENT_TYPES[op.what],
    threadId: c.threadId,
  });
  // Every event id is new, so RL-1 deduplication must never kick in here.
  expect(r.outcome, 'RL-1: a first delivery is not a duplicate').not.toBe('duplicate');
  if (r.outcome === 'created') {
    w.convIds.push(r.conversation.id);
    return { kind: 'created', conversationId: r.conversation.id };
  }
  if (r.outcome === 'transitioned') {
    expect(r.conversation.id, 'a webhook event applies to the thread current conversation').toBe(c.id);
    return { kind: 'ok', conversationId: c.id };
  }
  return { kind: 'refused', conversationId: c.id };
}

// ---------------------------------------------------------------------------------------------------
// Reading the org back and checking the invariants

async function snapshot(w: World): Promise<Snapshot> {
  const { f } = w;
  const convs = await Promise.all(w.convIds.map((id) => f.conversation(id)));
  const events = await Promise.all(w.convIds.map((id) => f.store.listEvents(f.org, id)));
  const agents = await Promise.all(w.agentIds.map(async (id) => (await f.store.getAgent(f.org, id)) as Agent));
  const allocations = await Promise.all(w.agentIds.map((id) => f.store.listAllocations(f.org, id)));
  const threadKeys = [...new Set(convs.map((c) => `${c.channelId}/${c.threadId}`))];
  const threads = await Promise.all(
    threadKeys.map(async (k) => {
      const [channelId, threadId] = k.split('/') as [string, string];
      return [k, await f.store.getThreadConversationId(f.org, channelId, threadId)] as const;
    }),
  );
  return {
    convs: new Map(convs.map((c) => [c.id, c])),
    events: new Map(w.convIds.map((id, i) => [id, events[i] ?? []])),
    agents: new Map(agents.map((a) => [a.id, a])),
    allocations: new Map(w.agentIds.map((id, i) => [id, allocations[i] ?? []])),
    threads: new Map(threads),
  };
}

function checkInvariants(w: World, s: Snapshot): void {
  const allocationsByConv = new Map<string, AllocationRecord[]>();
  for (const [agentId, list] of s.allocations) {
    const agent = s.agents.get(agentId) as Agent;
    const used = agent.pools.default?.used ?? 0;
    const max = agent.pools.default?.max ?? 0;
    // C-5: never over the maximum, never below zero (no supervisor override in these runs).
    expect(used, `C-5: ${agentId} used units`).toBeGreaterThanOrEqual(0);
    expect(used, `C-5: ${agentId} used units`).toBeLessThanOrEqual(max);
    // RL-3: used units = the sum of the agent's live allocations.
    expect(used, `RL-3: ${agentId} pool counter vs allocations ${JSON.stringify(list)}`).toBe(
      list.reduce((n, a) => n + a.units, 0),
    );
    for (const a of list)
      allocationsByConv.set(a.conversationId, [...(allocationsByConv.get(a.conversationId) ?? []), a]);
  }
  for (const id of allocationsByConv.keys())
    expect(w.convIds, `allocation for an unknown conversation ${id}`).toContain(id);

  for (const id of w.convIds) {
    const c = s.convs.get(id) as Conversation;
    const where = `${id} (${c.channelKind}, ${c.status})`;
    // L-1 / L-2: a legal status for the mode; Waiting for persistent channels only.
    expect(STATUSES, `L-1: ${where}`).toContain(c.status);
    expect(c.mode, `L-1: ${where}`).toBe(modeOf(c.channelKind));
    if (c.status === 'Waiting') expect(c.mode, `L-2: Waiting on ${where}`).toBe('persistent');
    if (c.status === 'Open') expect(c.primaryAgentId, `L-2: Open has no primary agent: ${where}`).toBeUndefined();
    if (c.status === 'Active') expect(c.primaryAgentId, `L-2: Active has a primary: ${where}`).toBeDefined();

    // T-11: a Closed conversation never changes again (nor does its history).
    const events = s.events.get(id) ?? [];
    const closed = w.closed.get(id);
    if (closed) {
      expect(c, `T-11: ${where} changed after Closed`).toEqual(closed.conversation);
      expect(events, `T-11: ${where} history grew after Closed`).toEqual(closed.events);
    } else if (c.status === 'Closed') {
      w.closed.set(id, { conversation: c, events });
    }

    // E-1: exactly one event per version, in version order, chained from -> to, each an edge of the SPEC.
    expect(
      events.map((e) => [e.seq, e.version]),
      `E-1: ${where}`,
    ).toEqual(Array.from({ length: c.version }, (_, i) => [i + 1, i + 1]));
    const edges = allowedEdges(c.channelKind);
    events.forEach((e, i) => {
      expect(e.from, `E-1: ${where} event ${e.seq} starts where the previous ended`).toBe(
        i === 0 ? null : (events[i - 1] as HistoryEvent).to,
      );
      expect([...edges], `T-13: ${where} event ${e.seq} is not a SPEC transition`).toContain(
        `${e.action}:${e.from}>${e.to}`,
      );
    });
    expect(events.at(-1)?.to, `E-1: ${where} last event`).toBe(c.status);

    // C-2 / C-3: who holds capacity for this conversation.
    const held = allocationsByConv.get(id) ?? [];
    const agentPrimary = c.primaryKind !== 'external' && c.primaryAgentId !== undefined;
    if (c.status === 'Active' && agentPrimary) {
      expect(held, `C-2: Active ${where} holds exactly one allocation`).toHaveLength(1);
      expect(held[0], `C-2: ${where}`).toMatchObject({
        agentId: c.primaryAgentId,
        pool: 'default',
        units: configOf(w, c.channelKind).units,
      });
    } else if (c.status === 'WrapUp') {
      expect(held.length, `C-3: WrapUp ${where} holds at most one allocation`).toBeLessThanOrEqual(1);
      if (held[0]) expect(held[0].agentId, `C-3: ${where}`).toBe(c.primaryAgentId);
      if (configOf(w, c.channelKind).wrapUp === 'never')
        expect(held, `C-3: never-policy WrapUp ${where}`).toHaveLength(0);
    } else {
      expect(held, `C-2: ${where} consumes no capacity`).toHaveLength(0);
    }
    // The conversation's own record of its allocation mirrors the allocation item (C-6).
    expect(c.allocation ? [c.allocation.agentId, c.allocation.units] : null, `C-6: ${where}`).toEqual(
      held[0] ? [held[0].agentId, held[0].units] : null,
    );

    // X-3: a live transfer request (per the history) is the one the conversation holds.
    const request = transferRequest(events, c);
    if (request?.live) expect(c.pendingTransfer?.to, `X-3: ${where} lost its pending transfer`).toBe(request.to);

    // The thread points at its newest conversation.
    expect(s.threads.get(`${c.channelId}/${c.threadId}`), `thread of ${where}`).toBe(currentOnThread(w, s, c));
  }
}

/** T-13 and the SPEC model, for a step that ran alone. */
function checkSequential(
  w: World,
  before: Snapshot,
  after: Snapshot,
  op: Op,
  target: Conversation,
  outcome: Outcome,
): void {
  const expected: Expectation =
    op.by === 'agent'
      ? expectAgent(w, before, op, target)
      : op.by === 'system'
        ? expectSystem(w, op.action, target)
        : expectCustomer(op.what, target);

  if (outcome.kind === 'created') {
    expect(
      op.by === 'customer' && op.what === 'message' && target.status === 'Closed',
      'a new conversation only for a message on a closed thread (M-4)',
    ).toBe(true);
    const c = after.convs.get(outcome.conversationId) as Conversation;
    expect(c).toMatchObject({ status: 'Open', version: 1, channelId: target.channelId, threadId: target.threadId });
    return;
  }
  if (op.by === 'customer' && op.via === 'event' && op.what === 'message' && target.status === 'Closed') {
    throw new Error(`M-4: a message on a closed thread must start a new conversation, got ${outcome.kind}`);
  }

  const others = [...before.convs.keys()].filter((id) => id !== target.id);
  for (const id of others)
    expect(after.convs.get(id), `an action on ${target.id} changed ${id}`).toEqual(before.convs.get(id));

  if (outcome.kind === 'refused') {
    if (expected.outcome === 'ok')
      throw new Error(`SPEC allows this (-> ${expected.to}) but it was refused: ${String(outcome.error)}`);
    // T-13: nothing changes, and the refusal names the current status.
    expect(after.convs.get(target.id), 'T-13: a refusal changes nothing').toEqual(target);
    expect(after.events.get(target.id), 'T-13: a refusal writes no event').toEqual(before.events.get(target.id));
    expect(after.allocations, 'T-13: a refusal moves no capacity').toEqual(before.allocations);
    const err = outcome.error;
    if (
      err instanceof TransitionConflictError ||
      err instanceof CapacityExceededError ||
      err instanceof ForbiddenActionError
    ) {
      expect(err.currentStatus, `T-13: ${err.name} names the current status`).toBe(target.status);
    }
    if (expected.outcome === 'refused' && expected.capacity)
      expect(err, 'C-5: not enough capacity').toBeInstanceOf(CapacityExceededError);
    return;
  }

  if (expected.outcome === 'refused')
    throw new Error(`SPEC refuses this on a ${target.status} ${target.channelKind} conversation, but it succeeded`);
  const c = after.convs.get(target.id) as Conversation;
  expect(c.version, 'one change, one version').toBe(target.version + 1);
  if (expected.outcome === 'any') return;
  expect(c.status, 'the SPEC target status').toBe(expected.to);
  if (expected.primary !== undefined) expect(c.primaryAgentId ?? null, 'the SPEC primary agent').toBe(expected.primary);
  expect(c.queueId, 'the queue').toBe(expected.queueId ?? target.queueId);
}

function describeOp(w: World, s: Snapshot, op: Op): string {
  const conv = targetOf(w, s, op).id;
  if (op.by === 'agent') return `${actorOf(w, op, targetOf(w, s, op))} ${JSON.stringify(op.action)} on ${conv}`;
  if (op.by === 'system') return `system ${op.action} on ${conv}`;
  return `customer ${op.what} (${op.via}) on ${conv}`;
}

async function runScenario(setup: Setup, steps: Step[]): Promise<void> {
  // Prepare: one fresh org per run.
  const f = await makeFixture();
  for (const kind of KINDS) {
    const k = setup.config[kind];
    await f.setWorkstream(kind, {
      capacity: { pool: 'default', units: k.units },
      wrapUp: { blockCapacity: k.wrapUp },
      waitingInactivityTimeoutSeconds: INACTIVITY_SECONDS,
    });
  }
  const agentIds = setup.agents.map((_, i) => `a${i}`);
  await Promise.all(setup.agents.map((a, i) => f.addAgent(`a${i}`, { default: a.max }, a.q2 ? ['q1', 'q2'] : ['q1'])));
  const convIds: string[] = [];
  for (const kind of setup.kinds) convIds.push((await f.start(kind)).id);
  const w: World = { f, setup, agentIds, convIds, closed: new Map(), trace: [], events: 0 };

  let before = await snapshot(w);
  checkInvariants(w, before);
  for (const step of steps) {
    if (!Array.isArray(step)) {
      f.clock.advance(step.clockMinutes * 60);
      w.trace.push(`clock +${step.clockMinutes} min`);
      continue;
    }
    const label = step.map((op) => describeOp(w, before, op)).join(' || ');
    try {
      // Act
      if (step.length === 1) {
        const op = step[0] as Op;
        const target = targetOf(w, before, op);
        const outcome = await runOp(w, before, op);
        w.trace.push(
          `${label} -> ${outcome.kind}${outcome.kind === 'refused' && outcome.error ? ` (${String(outcome.error)})` : ''}`,
        );
        const after = await snapshot(w);
        // Assess
        checkInvariants(w, after);
        checkSequential(w, before, after, op, target, outcome);
        before = after;
      } else {
        const results = await Promise.allSettled(step.map((op) => runOp(w, before, op)));
        w.trace.push(
          `${label} -> ${results.map((r) => (r.status === 'fulfilled' ? r.value.kind : 'threw')).join(', ')}`,
        );
        for (const r of results) if (r.status === 'rejected') throw r.reason;
        const after = await snapshot(w);
        // Assess
        checkInvariants(w, after);
        before = after;
      }
    } catch (err) {
      const setupText = `agents ${JSON.stringify(setup.agents)}, conversations ${w.convIds.map((id) => `${id}:${before.convs.get(id)?.channelKind ?? 'new'}`).join(' ')}`;
      throw new Error(
        `${err instanceof Error ? err.message : String(err)}\n${setupText}\ntrace:\n  ${w.trace.join('\n  ')}`,
        { cause: err },
      );
    }
  }
}

/** Sequences the random search found, replayed as they are (shrunk form) so they run on every run. */
const chatsOnly: Setup = {
  agents: [
    { max: 1, q2: false },
    { max: 1, q2: false },
    { max: 1, q2: false },
  ],
  kinds: ['chat', 'chat', 'chat', 'chat'],
  config: Object.fromEntries(KINDS.map((k) => [k, { units: 1, wrapUp: 'always' }])) as Record<Kind, KindConfig>,
};
const on0 = (agent: Who, action: AgentAction): Step => [{ by: 'agent', agent, conv: 0, aim: false, action }];
/** a0 takes the chat and asks to transfer it to a1, then releases it to the queue, where a2 picks it */
const staleTransfer: Step[] = [
  on0(0, { type: 'accept' }),
  on0('primary', { type: 'transfer-agent', agent: 1 }),
  on0('primary', { type: 'release' }),
  on0(2, { type: 'accept' }),
];

describe('random sequences on DynamoDB Local', () => {
  it('L-1, L-2, T-11, T-13, X-1, X-3, C-2, C-3, C-5, C-6, RL-3, E-1: random agent, customer and timer actions keep every invariant and follow the SPEC table', async () => {
    await fc.assert(
      fc.asyncProperty(setupArb, stepsArb, async (setup, steps) => runScenario(setup, steps)),
      { numRuns: 15, plugins: [fc.interruptAfterTimeLimit(35_000)] },
    );
  }, 120_000);

  it('X-3, C-2: the receiver of a live transfer request accepts it and the capacity moves to them; a second receiver cannot', async () => {
    // Prepare / Act / Assess: a0 asks to transfer to a1, a1 accepts, then a2 (never asked) tries too.
    await runScenario(chatsOnly, [
      on0(0, { type: 'accept' }),
      on0('primary', { type: 'transfer-agent', agent: 1 }),
      on0('receiver', { type: 'accept' }),
      on0(2, { type: 'accept' }),
    ]);
  });

  it('X-3: the receiver rejects a live transfer request and the primary keeps the conversation', async () => {
    // Prepare / Act / Assess: a0 asks to transfer to a1, a1 rejects, then a1 cannot accept any more.
    await runScenario(chatsOnly, [
      on0(0, { type: 'accept' }),
      on0('primary', { type: 'transfer-agent', agent: 1 }),
      on0('receiver', { type: 'reject' }),
      on0(1, { type: 'accept' }),
    ]);
  });

  it('X-1, X-3: a transfer request of an earlier assignment cannot be accepted once the conversation went back to the queue', async () => {
    // Prepare / Act / Assess: the last step is a1 accepting a0's old request on a2's conversation (must be refused).
    await runScenario(chatsOnly, [...staleTransfer, on0(1, { type: 'accept' })]);
  });

  it('X-1, X-3: the next primary can transfer in turn after an earlier transfer request went stale', async () => {
    // Prepare / Act / Assess: the last step is a2, the primary now, asking to transfer to a0 (must be accepted).
    await runScenario(chatsOnly, [...staleTransfer, on0('primary', { type: 'transfer-agent', agent: 0 })]);
  });
});
