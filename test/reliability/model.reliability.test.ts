import { DeleteMessageBatchCommand, ReceiveMessageCommand } from '@aws-sdk/client-sqs';
import fc from 'fast-check';
import { ulid } from 'ulid';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { keys } from '../../functions/adapters/dynamodb/keys.js';
import {
  earlyEndEntity,
  messageEntity,
  messageLogEntity,
  stripStorage,
} from '../../functions/adapters/dynamodb/entities.js';
import type { EarlyEnd } from '../../functions/domain/early-end.js';
import { ForbiddenActionError, NotFoundError, TransitionConflictError } from '../../functions/domain/errors.js';
import type { Message, MessageLog, OutboundMessage } from '../../functions/domain/messages.js';
import { presenceOf } from '../../functions/domain/presence.js';
import { dueStep, meets, requirementKey } from '../../functions/domain/skills.js';
import {
  ASSIGNMENT_METHODS,
  DEFAULT_SETTINGS,
  enqueuedAtOf,
  modeOf,
  priorityOf,
  STATUSES,
  type Agent,
  type AssignmentMethod,
  type ChannelKind,
  type Conversation,
  type HistoryEvent,
  type Mode,
  type OrgSettings,
  type Presence,
  type RelaxationStep,
  type RoutingRule,
  type Skills,
  type Status,
  type WrapUpBlockPolicy,
  type Workstream,
} from '../../functions/domain/model.js';
import type { Write } from '../../functions/domain/writes.js';
import type { AllocationRecord } from '../../functions/ports/storage-types.js';
import type { DueTimer } from '../../functions/ports/due-timer.js';
import {
  handleCustomerEvent,
  type CustomerEvent,
  type CustomerEventOutcome,
  type CustomerEventType,
} from '../../functions/use-cases/customer-event.use-case.js';
import { signBody } from '../../functions/use-cases/ingest-webhook.use-case.js';
import { readQueueMetrics } from '../../functions/use-cases/metrics.use-case.js';
import { sendReply } from '../../functions/use-cases/messages.use-case.js';
import { fireTimer } from '../../functions/use-cases/timers.use-case.js';
import { InjectedCrash, item, partition, startRig, type Claims, type HttpResult, type Rig } from './rig.js';

/**
 * Reliability: a model-based randomized run (fast-check) on the engine's real handlers, DynamoDB Local
 * and fauxqs (see rig.ts), with faults injected on purpose:
 *
 * - webhooks delivered twice (at once, later past SQS deduplication, an old event again, even with
 *   another body under the same event id) and reordered (a thread's events posted out of order);
 * - timers fired twice at once (the timers consumer with the same timer twice in a batch), late (the
 *   clock jumps), and stale (timers saved earlier fired after their subject moved on);
 * - the FIFO consumer crashing mid-batch: a record's transaction throws after it committed (or before),
 *   or the whole batch's response is lost, and SQS redelivers; the sweeper crashing after a timer's
 *   transaction committed (the outbox item stays and fires again); an action's Lambda dying after its
 *   commit, and the client retrying with the same Idempotency-Key;
 * - transactions cancelled by a concurrent writer: two or three operations at once, and another writer
 *   run right before a chosen transaction is sent (same conversation, or the same agent's pool);
 * - clients retrying actions with the same Idempotency-Key, in turn and at once.
 *
 * After every step the whole org is read back (consistent reads) and checked:
 * - C-5 / RL-3: every pool 0 <= used <= max (plus override units, S-3), free = max - used, used = the
 *   sum of the agent's allocations; every allocation mirrors its conversation's (C-6), C-2 / C-3;
 * - L-1 / L-2 / T-13: every status legal for its mode, every history edge a SPEC transition;
 * - T-11: a Closed conversation (item and history) never changes again;
 * - E-1: history events seq = version = 1..version, chained from -> to, in time order, ending at the status;
 * - RL-1: every accepted webhook (202) is reflected exactly once: its receipt exists, the thread's
 *   customer history grew by what an independent model of the customer rules says (each distinct
 *   event once), a duplicate changes nothing, nothing is left in the queue or its DLQ;
 * - TM-5: a stale timer changes nothing; a timer fired twice applies at most once;
 * - API.md Idempotency-Key: one key, one change, whatever the retries, at once or after a crash;
 * - TM-1..TM-3, R-3 after the clock moved: no overdue wrap-up block, Waiting conversation, offer or
 *   reconnect deadline left, and no push conversation left Open next to an idle eligible agent (one
 *   who also meets its skill requirement, K-4), nor one whose next relaxation step is overdue (K-3);
 * - K-1 / K-2 / K-4: agents have random skills (billing, french, levels 1..5) that never change;
 *   rules chosen by the `need` context variable put a requirement and/or a priority (Q-1) on new
 *   conversations; a requirement is always its rule's (step 0) or its relaxation step's; a push
 *   offer not yet accepted went to an agent who meets the requirement;
 * - K-3: at least one push workstream relaxes requirements (timers in the same outbox, swept when the
 *   clock moves, fired twice or stale); a conversation's step never goes back while it stays Open in
 *   the same wait of the same queue;
 * - Q-1 / Q-2 / A-1: supervisors `prioritize` (refused unless Open), workstreams may age priorities,
 *   and the workstreams use all three assignment methods in every run;
 * - no HTTP answer is 5xx; every 4xx is problem+json;
 * - MX-1 / MX-3 "metrics equal lists", at every quiet point (the stream settled, its follow-ups done;
 *   duplicated stream records and crashes of the stream consumer included): for each queue, the
 *   counts by status equal the queue's lists by status (read page by page), the members signed in and
 *   by presence equal what the agents' profiles say (MX-2: the presence shown is the one the engine
 *   computes), and the Open conversations by priority level equal `openP1..openP10`.
 * - MS-1 / MS-2 / MS-4 messages: customer messages (each text unique to its step) go straight to
 *   `handleCustomerEvent` (once, twice in turn or at once, crashing before or after the commit, an old
 *   event again, another writer overtaking the transaction, Waiting conversations on purpose: T-10)
 *   and come with webhooks; agents, other agents and the supervisor reply (`sendReply`: alone, two at
 *   once, an Idempotency-Key retried in turn, at once, after a crash after the commit); most runs
 *   send automated messages (templates). A model of every transcript (what the engine's answers say:
 *   `created` seq 1, `stored` at its seq, `transitioned`; the webhooks' by the customer rules) is
 *   checked at every quiet point: every customer message applied once and every reply sent is in its
 *   thread's transcript exactly once and stays where it was, nothing else is (a message is ignored
 *   only by T-2), a refused reply nowhere; `seq` 1..n without gap, in time order, the log at the last
 *   `seq` and the last reply's; the transcripts read page by page (listMessages) equal what is
 *   stored; every reply and automated message was published as `message.sent` under its id with
 *   API.md's body (again only with the same body), and nothing unknown was.
 *
 * Sizes: RELIABILITY_STEPS (default 400), RELIABILITY_STEPS_PER_RUN (default 100). `npm run
 * test:reliability` runs 10,000 steps. RELIABILITY_SHRINK=1 lets fast-check shrink a failure
 * (slow); otherwise the failing run's trace is printed as it is. RELIABILITY_SEED with RELIABILITY_PATH
 * (fast-check's `path`, e.g. "95") replays one recorded failing run alone. RELIABILITY_TOLERATE names
 * known findings to count instead of failing on (comma-separated): `message-lost` (a customer
 * message the engine answered `ignored` outside T-2, or one lost when another writer ran).
 */

const TOTAL_STEPS = Number(process.env.RELIABILITY_STEPS ?? 400);
/**
 * The small run inside `npm test` (and CI) uses a fixed seed, so CI is reproducible; the full run
 * (`npm run test:reliability`) draws new seeds each time, unless RELIABILITY_SEED is given.
 */
const SEED: number | undefined = process.env.RELIABILITY_SEED
  ? Number(process.env.RELIABILITY_SEED)
  : process.env.RELIABILITY_STEPS
    ? undefined
    : 20261121;
/** known findings counted, not failed on (see above); none by default */
const TOLERATE = new Set((process.env.RELIABILITY_TOLERATE ?? '').split(',').filter(Boolean));
const STEPS_PER_RUN = Math.min(TOTAL_STEPS, Number(process.env.RELIABILITY_STEPS_PER_RUN ?? 100));
const RUNS = Math.max(1, Math.ceil(TOTAL_STEPS / STEPS_PER_RUN));
const SECRET = 'reliability-secret-0123456789';
const INACTIVITY_SECONDS = 600;
const RECONNECT_SECONDS = 120;
const OFFER_SECONDS = 60;
/** R-3: the outbox retries a dispatch this long after the change that needed it */
const DISPATCH_RETRY_SECONDS = 30;

// ---------------------------------------------------------------------------------------------------
// Steps as plain data (fast-check prints them readably)

const KINDS = ['chat', 'voice', 'sms', 'record'] as const satisfies readonly ChannelKind[];
type Kind = (typeof KINDS)[number];

/** K-2: what a conversation needs, set by the generator as the `need` context variable */
type Need = 'none' | 'billing' | 'french' | 'vip';
interface WsConfig {
  units: number;
  wrapUp: WrapUpBlockPolicy;
  push: boolean;
  /** K-2: the levels the `need` rules require (french: also billing at `frenchBilling`, when set); Q-1: their priorities */
  billing: number;
  french: number;
  frenchBilling?: number;
  billingPriority?: number;
  vipPriority: number;
  /** Q-2 */
  aging?: number;
  /** K-3: the relaxation steps, used when `relaxOn` (or this is the run's `relaxed` workstream) */
  relax: RelaxationStep[];
  relaxOn: boolean;
}
interface Setup {
  agents: { max: number; q2: boolean; signedIn: boolean; skills: Skills }[];
  ws: Record<Kind, WsConfig>;
  /** K-3: this workstream (by KINDS index) is push and relaxes requirements, whatever its own config says */
  relaxed: number;
  /** A-1: workstream i assigns by ASSIGNMENT_METHODS[(i + assignFrom) % 3] (all three in every run) */
  assignFrom: number;
  threads: number;
  initial: { ch: number; th: number; billing: boolean; need: Need }[];
  /** MS-4: the org sends automated messages (templates for queued, assigned, waiting, closed) */
  templates: boolean;
}

/** an agent by index; the conversation's primary; the receiver of its pending transfer */
type Who = number | 'primary' | 'receiver';
type AgentAct =
  | { a: 'accept' | 'reject' | 'end' | 'close' | 'release' | 'resolve' | 'resume' | 'end-session' }
  | { a: 'transfer-queue'; q: 'q1' | 'q2' }
  | { a: 'transfer-agent'; to: number }
  | { a: 'transfer-external' }
  | { a: 'consult'; to: number };
type SupAct =
  | { s: 'assign-agent'; to: number; override: boolean }
  | { s: 'assign-queue'; q: 'q1' | 'q2' }
  | { s: 'force-close' }
  | { s: 'transfer'; to: number }
  | { s: 'join' }
  | { s: 'monitor' }
  /** Q-1 */
  | { s: 'prioritize'; priority: number };
interface Target {
  conv: number;
  /** pick among conversations whose status the action can apply to (so runs go deep) */
  aim: boolean;
}
/** Idempotency-Key: none; the client retries; sends twice at once; or the first call crashes after its commit and the client retries */
type ActOp = { t: 'act'; who: Who; act: AgentAct; idem: 'none' | 'retry' | 'parallel' | 'crash-retry' } & Target;
type EvSpec = { ch: number; th: number; type: CustomerEventType; billing: boolean; need: Need };
type Delivery =
  'single' | 'dup-http' | 'dup-late' | 'dup-old' | 'reorder' | 'batch' | 'crash-after' | 'crash-before' | 'lost-batch';
/**
 * MS-1: a customer message (text unique to the step) on a thread, straight into the engine's
 * `handleCustomerEvent` (its outcome read): once; twice in turn or at once (the second a duplicate);
 * the first attempt crashing before or after its commit, then delivered again; an old event again.
 * `interpose`: the thread's current conversation is changed by an agent or supervisor right before
 * the event's transaction (which is then decided again).
 */
type MsgOp = {
  t: 'msg';
  type: 'message.received' | 'conversation.started';
  delivery: 'once' | 'twice' | 'parallel' | 'crash-after' | 'crash-before' | 'old';
  interpose?: AgentAct | SupAct;
} & Target;
/**
 * MS-2: a reply (text unique to the step) by the current primary, another agent or the supervisor
 * (allowed once she joined); `pair`: two replies at once by the same caller; with an Idempotency-Key
 * retried in turn, at once, or after the first call crashed after its commit.
 */
type ReplyOp = {
  t: 'reply';
  who: 'primary' | 'sup' | number;
  idem: 'none' | 'retry' | 'parallel' | 'crash-retry';
  pair: boolean;
} & Target;
type Op =
  | ActOp
  | MsgOp
  | ReplyOp
  | ({ t: 'sup'; act: SupAct } & Target)
  | { t: 'state'; agent: number; what: 'sign-in' | 'sign-out' | 'connect' | 'disconnect' | Presence }
  | { t: 'hook'; delivery: Delivery; events: EvSpec[]; pick: number; crashAt: number }
  /** the clock moves and the outbox is swept; `crash`: the first timer transaction throws after it committed (the sweeper keeps the item) */
  | { t: 'clock'; seconds: number; crash?: boolean }
  | { t: 'timer'; mode: 'double' | 'stash' | 'stale'; pick: number };
type Step =
  | Op
  | { t: 'race'; ops: Op[] }
  | { t: 'interpose'; first: ActOp; second: Op; on: 'conversation' | 'pool' }
  /** a customer event whose transaction (in the FIFO consumer) an agent or supervisor action overtakes */
  | { t: 'interpose-event'; conv: number; type: CustomerEventType; second: AgentAct | SupAct }
  /** the stream consumer dies after its work on the next `crashes` batches: their records are delivered again */
  | { t: 'stream-crash'; crashes: number; op: Op };

const levelArb = fc.integer({ min: 1, max: 5 });
const needArb: fc.Arbitrary<Need> = fc.oneof(
  { weight: 4, arbitrary: fc.constant<Need>('none') },
  { weight: 3, arbitrary: fc.constantFrom<Need>('billing', 'french', 'vip') },
);
/** K-3: one or two steps, strictly increasing, around the offer (60 s) and the clock's moves */
const relaxArb: fc.Arbitrary<RelaxationStep[]> = fc
  .record({
    first: fc.integer({ min: 0, max: 150 }),
    gap: fc.integer({ min: 1, max: 300 }),
    requires: fc.oneof(
      fc.constant<Skills>({}),
      levelArb.map((billing): Skills => ({ billing })),
      levelArb.map((french): Skills => ({ french })),
    ),
    two: fc.boolean(),
  })
  .map(({ first, gap, requires, two }) =>
    two
      ? [
          { afterSeconds: first, requires },
          { afterSeconds: first + gap, requires: {} },
        ]
      : [{ afterSeconds: first, requires }],
  );
const wsArb: fc.Arbitrary<WsConfig> = fc.record(
  {
    units: fc.integer({ min: 1, max: 2 }),
    wrapUp: fc.constantFrom<WrapUpBlockPolicy>('always', 'never', 1, 2),
    push: fc.boolean(),
    billing: levelArb,
    french: levelArb,
    frenchBilling: levelArb,
    billingPriority: fc.integer({ min: 1, max: 10 }),
    vipPriority: fc.integer({ min: 1, max: 10 }),
    aging: fc.integer({ min: 20, max: 600 }),
    relax: relaxArb,
    relaxOn: fc.boolean(),
  },
  { requiredKeys: ['units', 'wrapUp', 'push', 'billing', 'french', 'vipPriority', 'relax', 'relaxOn'] },
);
const setupArb: fc.Arbitrary<Setup> = fc.record({
  agents: fc.array(
    fc.record({
      max: fc.integer({ min: 1, max: 4 }),
      q2: fc.boolean(),
      signedIn: fc.oneof({ weight: 5, arbitrary: fc.constant(true) }, { weight: 1, arbitrary: fc.constant(false) }),
      skills: fc.record({ billing: levelArb, french: levelArb }, { requiredKeys: [] }),
    }),
    {
      minLength: 3,
      maxLength: 6,
    },
  ),
  ws: fc.record({ chat: wsArb, voice: wsArb, sms: wsArb, record: wsArb }),
  relaxed: fc.nat(3),
  assignFrom: fc.nat(2),
  threads: fc.integer({ min: 2, max: 4 }),
  initial: fc.array(fc.record({ ch: fc.nat(3), th: fc.nat(3), billing: fc.boolean(), need: needArb }), {
    minLength: 3,
    maxLength: 6,
  }),
  templates: fc.oneof({ weight: 2, arbitrary: fc.constant(true) }, { weight: 1, arbitrary: fc.constant(false) }),
});

const w8 = <T>(weight: number, arbitrary: fc.Arbitrary<T>) => ({ weight, arbitrary });
const targetArb = { conv: fc.nat(40), aim: fc.oneof(w8(5, fc.constant(true)), w8(1, fc.constant(false))) };
const agentActArb: fc.Arbitrary<AgentAct> = fc.oneof(
  w8(6, fc.constant<AgentAct>({ a: 'accept' })),
  w8(5, fc.constantFrom<AgentAct>({ a: 'end' }, { a: 'close' }, { a: 'close' })),
  w8(2, fc.constantFrom<AgentAct>({ a: 'release' }, { a: 'reject' }, { a: 'resume' }, { a: 'resolve' })),
  w8(1, fc.constant<AgentAct>({ a: 'end-session' })),
  w8(1, fc.constantFrom<AgentAct>({ a: 'transfer-queue', q: 'q1' }, { a: 'transfer-queue', q: 'q2' })),
  w8(
    2,
    fc.nat(5).map((to): AgentAct => ({ a: 'transfer-agent', to })),
  ),
  w8(1, fc.constant<AgentAct>({ a: 'transfer-external' })),
  w8(
    1,
    fc.nat(5).map((to): AgentAct => ({ a: 'consult', to })),
  ),
);
const actOpArb: fc.Arbitrary<ActOp> = fc.record({
  t: fc.constant('act' as const),
  who: fc.oneof(w8(5, fc.constant<Who>('primary')), w8(1, fc.constant<Who>('receiver')), w8(3, fc.nat(5))),
  act: agentActArb,
  idem: fc.oneof(
    w8(12, fc.constant('none' as const)),
    w8(1, fc.constant('retry' as const)),
    w8(1, fc.constant('parallel' as const)),
    w8(1, fc.constant('crash-retry' as const)),
  ),
  ...targetArb,
});
const supOpArb: fc.Arbitrary<Op> = fc.record({
  t: fc.constant('sup' as const),
  act: fc.oneof(
    w8(2, fc.record({ s: fc.constant('assign-agent' as const), to: fc.nat(5), override: fc.boolean() })),
    w8(1, fc.record({ s: fc.constant('assign-queue' as const), q: fc.constantFrom('q1' as const, 'q2' as const) })),
    w8(2, fc.constant<SupAct>({ s: 'force-close' })),
    w8(1, fc.record({ s: fc.constant('transfer' as const), to: fc.nat(5) })),
    w8(1, fc.constantFrom<SupAct>({ s: 'join' }, { s: 'monitor' })),
    w8(
      2,
      fc.integer({ min: 1, max: 10 }).map((priority): SupAct => ({ s: 'prioritize', priority })),
    ),
  ),
  ...targetArb,
});
const stateOpArb: fc.Arbitrary<Op> = fc.record({
  t: fc.constant('state' as const),
  agent: fc.nat(5),
  what: fc.oneof(
    w8(1, fc.constantFrom('sign-in' as const, 'sign-out' as const)),
    w8(2, fc.constantFrom('connect' as const, 'disconnect' as const)),
    w8(2, fc.constantFrom<Presence>('Available', 'Busy', 'BusyDND', 'Away', 'Offline')),
  ),
});
const evTypeArb = fc.oneof(
  w8(3, fc.constant<CustomerEventType>('conversation.started')),
  w8(3, fc.constant<CustomerEventType>('message.received')),
  w8(2, fc.constant<CustomerEventType>('customer.ended')),
  w8(2, fc.constant<CustomerEventType>('customer.disconnected')),
  w8(1, fc.constant<CustomerEventType>('customer.reconnected')),
);
const evArb: fc.Arbitrary<EvSpec> = fc.record({
  ch: fc.nat(3),
  th: fc.nat(3),
  type: evTypeArb,
  billing: fc.oneof(w8(4, fc.constant(false)), w8(1, fc.constant(true))),
  need: needArb,
});
const hookOpArb = (deliveries: fc.Arbitrary<Delivery>): fc.Arbitrary<Op> =>
  fc.record({
    t: fc.constant('hook' as const),
    delivery: deliveries,
    events: fc.array(evArb, { minLength: 3, maxLength: 8 }),
    pick: fc.nat(1000),
    crashAt: fc.integer({ min: 1, max: 4 }),
  });
const deliveryArb = fc.oneof(
  w8(6, fc.constant<Delivery>('single')),
  w8(2, fc.constantFrom<Delivery>('dup-http', 'dup-late', 'dup-old')),
  w8(2, fc.constant<Delivery>('reorder')),
  w8(1, fc.constant<Delivery>('batch')),
  w8(3, fc.constantFrom<Delivery>('crash-after', 'crash-before', 'lost-batch')),
);
const clockOpArb: fc.Arbitrary<Op> = fc.record({
  t: fc.constant('clock' as const),
  // around the deadlines: offers (60 s), reconnect (120 s), grace (150 s), wrap-up (1-2 min), inactivity (600 s)
  seconds: fc.oneof(
    fc.integer({ min: 1, max: 40 }),
    fc.integer({ min: 40, max: 200 }),
    fc.integer({ min: 200, max: 700 }),
  ),
  crash: fc.oneof(w8(5, fc.constant(false)), w8(1, fc.constant(true))),
});
const timerOpArb: fc.Arbitrary<Op> = fc.record({
  t: fc.constant('timer' as const),
  mode: fc.constantFrom('double' as const, 'stash' as const, 'stale' as const, 'stale' as const),
  pick: fc.nat(1000),
});
const interposeArb: fc.Arbitrary<AgentAct | SupAct> = fc.oneof(
  w8(3, agentActArb),
  // T-9 / T-10: the agent resumes a Waiting conversation as the customer writes again
  w8(2, fc.constant<AgentAct>({ a: 'resume' })),
  w8(1, fc.constantFrom<SupAct>({ s: 'force-close' }, { s: 'assign-agent', to: 0, override: false }, { s: 'join' })),
);
const msgOpArb = (deliveries: fc.Arbitrary<MsgOp['delivery']>, interpose: boolean): fc.Arbitrary<Op> =>
  fc
    .record({
      t: fc.constant('msg' as const),
      type: fc.oneof(
        w8(4, fc.constant('message.received' as const)),
        w8(1, fc.constant('conversation.started' as const)),
      ),
      delivery: deliveries,
      pre: interpose ? fc.oneof(w8(2, fc.constant(null)), w8(1, interposeArb)) : fc.constant(null),
      ...targetArb,
    })
    .map(({ pre, ...op }): MsgOp => (pre ? { ...op, interpose: pre } : op));
const msgDeliveryArb: fc.Arbitrary<MsgOp['delivery']> = fc.oneof(
  w8(5, fc.constant('once' as const)),
  w8(2, fc.constantFrom('twice' as const, 'parallel' as const)),
  w8(2, fc.constantFrom('crash-after' as const, 'crash-before' as const)),
  w8(1, fc.constant('old' as const)),
);
const replyOpArb = (idems: fc.Arbitrary<ReplyOp['idem']>): fc.Arbitrary<Op> =>
  fc.record({
    t: fc.constant('reply' as const),
    who: fc.oneof(w8(6, fc.constant('primary' as const)), w8(2, fc.nat(5)), w8(1, fc.constant('sup' as const))),
    idem: idems,
    pair: fc.oneof(w8(4, fc.constant(false)), w8(1, fc.constant(true))),
    ...targetArb,
  });
const replyIdemArb: fc.Arbitrary<ReplyOp['idem']> = fc.oneof(
  w8(6, fc.constant('none' as const)),
  w8(1, fc.constantFrom('retry' as const, 'parallel' as const, 'crash-retry' as const)),
);
const opArb: fc.Arbitrary<Op> = fc.oneof(
  w8(10, actOpArb),
  w8(4, msgOpArb(msgDeliveryArb, true)),
  w8(4, replyOpArb(replyIdemArb)),
  w8(2, supOpArb),
  w8(3, stateOpArb),
  w8(6, hookOpArb(deliveryArb)),
  w8(3, clockOpArb),
  w8(3, timerOpArb),
);
/** what may run at the same moment as something else */
const raceOpArb: fc.Arbitrary<Op> = fc.oneof(
  w8(6, actOpArb),
  w8(2, msgOpArb(fc.constantFrom('once' as const, 'parallel' as const), false)),
  w8(2, replyOpArb(fc.constantFrom('none' as const, 'parallel' as const))),
  w8(1, supOpArb),
  w8(2, stateOpArb),
  w8(3, hookOpArb(fc.constant<Delivery>('single'))),
  w8(2, fc.record({ t: fc.constant('timer' as const), mode: fc.constant('double' as const), pick: fc.nat(1000) })),
  // a sweep (the sweeper Lambda, or a second one) while the others act
  w8(1, fc.record({ t: fc.constant('clock' as const), seconds: fc.integer({ min: 0, max: 130 }) })),
);
const stepArb: fc.Arbitrary<Step> = fc.oneof(
  w8(14, opArb),
  w8(3, fc.record({ t: fc.constant('race' as const), ops: fc.array(raceOpArb, { minLength: 2, maxLength: 3 }) })),
  w8(
    3,
    fc.record({
      t: fc.constant('interpose' as const),
      first: actOpArb,
      second: raceOpArb,
      on: fc.constantFrom('conversation' as const, 'pool' as const),
    }),
  ),
  w8(
    2,
    fc.record({
      t: fc.constant('interpose-event' as const),
      conv: fc.nat(40),
      type: evTypeArb,
      second: fc.oneof(w8(4, agentActArb), w8(1, fc.constant<SupAct>({ s: 'force-close' }))),
    }),
  ),
  w8(2, fc.record({ t: fc.constant('stream-crash' as const), crashes: fc.integer({ min: 1, max: 3 }), op: opArb })),
);

// ---------------------------------------------------------------------------------------------------
// The world of one run, and the org read back

interface Accepted {
  channelId: string;
  threadId: string;
  event: CustomerEvent;
}

interface World {
  rig: Rig;
  run: number;
  org: string;
  setup: Setup;
  agents: string[];
  channels: { kind: Kind; id: string; ws: Workstream }[];
  threadKeys: { channelId: string; threadId: string }[];
  convIds: string[];
  closed: Map<string, string>;
  /** every distinct event accepted (202) in this run, by `channelId#eventId` */
  accepted: Map<string, Accepted>;
  stash: DueTimer[];
  seq: number;
  trace: string[];
  /** virtual time of the last consumer crash (its after-commit work waits for the outbox) */
  lastCrashAt: number;
  /** K-1: each agent's skills as configured (they never change during a run) */
  skills: Map<string, Skills>;
  /** K-3: each Open conversation with a requirement, as last seen: its wait and step */
  waits: Map<string, { queueId: string; enqueuedAt: string; step: number; version: number }>;
  /** MS-1 / MS-2: every customer message and reply of the run, by its text (unique in the run), and what is expected of it */
  said: Map<string, Said>;
  /** MS-2 / MS-4: every `message.sent` of the org published so far, by message id: its body, and how many times */
  published: Map<string, { body: string; times: number }>;
}

interface ConvView {
  c: Conversation;
  events: HistoryEvent[];
  /** MS-1: the transcript (its items, by `seq`) and its log, as stored */
  messages: Message[];
  log?: MessageLog;
  raw: string;
}
interface AgentView {
  agent: Omit<Agent, 'pools'>;
  pools: Record<string, { max: number; used: number; free: number }>;
  allocations: AllocationRecord[];
}
interface Snap {
  convs: Map<string, ConvView>;
  agents: Map<string, AgentView>;
  /** `channelId#threadId` -> the thread's current conversation */
  threads: Map<string, string | undefined>;
  /** `channelId#threadId` -> the thread's kept early end (T-2), as stored */
  earlyEnds: Map<string, EarlyEnd | undefined>;
  now: number;
}

const threadKey = (channelId: string, threadId: string): string => `${channelId}#${threadId}`;

async function snapshot(w: World): Promise<Snap> {
  const { doc, tableName } = w.rig;
  const [convParts, agentParts, threadItems, earlyItems] = await Promise.all([
    Promise.all(w.convIds.map((id) => partition(doc, tableName, keys.conversation(w.org, id).PK))),
    Promise.all(w.agents.map((id) => partition(doc, tableName, keys.agent(w.org, id).PK))),
    Promise.all(w.threadKeys.map((t) => item(doc, tableName, keys.thread(w.org, t.channelId, t.threadId)))),
    Promise.all(w.threadKeys.map((t) => item(doc, tableName, keys.earlyEnd(w.org, t.channelId, t.threadId)))),
  ]);
  const convs = new Map<string, ConvView>();
  w.convIds.forEach((id, i) => {
    const items = [...(convParts[i] ?? [])].sort((a, b) => String(a.SK).localeCompare(String(b.SK)));
    const conv = items.find((x) => x.SK === 'CONV');
    if (!conv) throw new Error(`conversation ${id} is gone`);
    const events = items
      .filter((x) => String(x.SK).startsWith(keys.eventPrefix))
      .map((x) => stripStorage<HistoryEvent>(x));
    const messages = items.filter((x) => String(x.SK).startsWith(keys.messagePrefix)).map(messageEntity.from);
    const log = items.find((x) => x.SK === keys.messageLog(w.org, id).SK);
    convs.set(id, {
      c: stripStorage<Conversation>(conv),
      events,
      messages,
      ...(log ? { log: messageLogEntity.from(log) } : {}),
      raw: JSON.stringify(items),
    });
  });
  const agents = new Map<string, AgentView>();
  w.agents.forEach((id, i) => {
    const items = agentParts[i] ?? [];
    const profile = items.find((x) => x.SK === 'AGENT');
    if (!profile) throw new Error(`agent ${id} is gone`);
    const pools: AgentView['pools'] = {};
    for (const x of items.filter((y) => String(y.SK).startsWith('AGENT#POOL#')))
      pools[String(x.pool)] = { max: Number(x.max), used: Number(x.used), free: Number(x.free) };
    const allocations = items
      .filter((x) => String(x.SK).startsWith(keys.allocationPrefix))
      .map((x) => stripStorage<AllocationRecord>(x));
    agents.set(id, { agent: stripStorage<Omit<Agent, 'pools'>>(profile), pools, allocations });
  });
  const threads = new Map<string, string | undefined>();
  w.threadKeys.forEach((t, i) =>
    threads.set(threadKey(t.channelId, t.threadId), threadItems[i]?.conversationId as string | undefined),
  );
  const earlyEnds = new Map<string, EarlyEnd | undefined>();
  w.threadKeys.forEach((t, i) => {
    const x = earlyItems[i];
    earlyEnds.set(threadKey(t.channelId, t.threadId), x ? earlyEndEntity.from(x) : undefined);
  });
  return { convs, agents, threads, earlyEnds, now: w.rig.clock.now().getTime() };
}

/** The whole org as one string: a step that must change nothing compares these. */
const fingerprint = (s: Snap): string =>
  JSON.stringify([
    [...s.convs.entries()].map(([id, v]) => [id, v.raw]),
    [...s.agents.entries()].map(([id, v]) => [id, v.agent, v.pools, v.allocations]),
    [...s.threads.entries()],
  ]);

// ---------------------------------------------------------------------------------------------------
// The SPEC: legal edges (T-1..T-12, R-3, S-2..S-5, M-2, X-2, X-3, C-3), independent of transitions.ts

function legalEdges(kind: ChannelKind): Set<string> {
  const mode = modeOf(kind);
  const live = mode === 'live';
  const persistent = mode === 'persistent';
  const e = new Set<string>([
    'created:null>Open',
    ...(live ? ['created:null>Closed'] : []), // T-2: the customer's end came first
    'accept:Open>Active', // T-1
    'offer:Open>Active', // R-3
    'accept:Active>Active', // R-3 offer accepted, X-3 transfer accepted
    'reject:Active>Open', // R-3
    'reject:Active>Active', // X-3
    'offer-expired:Active>Open', // R-3
    'end:Active>WrapUp', // T-3a
    'end:WrapUp>Closed', // T-7
    'close:WrapUp>Closed', // T-7
    'release:Active>Open', // T-4b
    'transfer:Active>Open', // T-4c
    'transfer:Active>Active', // X-3 request, T-12 voice, S-4
    'reconnect-timeout:Active>Open', // T-4a
    'wrapup-release:WrapUp>WrapUp', // C-3
    'consult:Active>Active', // X-2
    'assign:Open>Active', // S-3
    'assign:Open>Open', // S-3 to a queue
    'force-close:Open>Closed', // S-5
    'force-close:Active>Closed',
    'force-close:WrapUp>Closed',
    'prioritize:Open>Open', // Q-1
    'relax:Open>Open', // K-3
  ]);
  if (kind !== 'record') for (const st of ['Active', 'WrapUp']) e.add(`monitor:${st}>${st}`).add(`join:${st}>${st}`); // S-2
  if (live)
    for (const a of ['customer-ended', 'customer-disconnected'])
      e.add(`${a}:Open>Closed`).add(`${a}:Active>WrapUp`).add(`${a}:Active>Closed`); // T-2, T-3b/c, T-6b, T-12
  if (kind === 'chat') e.add('close:Active>Open'); // T-4d
  if (persistent) {
    e.add('close:Active>Waiting'); // T-5
    e.add('resume:Waiting>Active'); // T-9
    e.add('customer-message:Waiting>Open'); // T-10
    e.add('inactivity-timeout:Waiting>Closed'); // T-8
    e.add('accept:Waiting>Waiting').add('reject:Waiting>Waiting').add('transfer:Waiting>Waiting'); // X-3, S-4
    e.add('end-session:Active>Active').add('end-session:Waiting>Waiting'); // M-2
    e.add('force-close:Waiting>Closed');
  }
  if (kind === 'record') e.add('resolve:Active>Closed'); // T-6a
  return e;
}
const EDGES = new Map<ChannelKind, Set<string>>(KINDS.map((k) => [k, legalEdges(k)]));

// ---------------------------------------------------------------------------------------------------
// RL-1: what one new customer event does to its thread, from the SPEC's customer rules (T-2, T-3b,
// T-3c, T-6b, T-10, T-12, M-4, R-1): a new conversation and/or one customer history event, or nothing.

type ThreadState = { status: Status; mode: Mode; accepted: boolean; external: boolean } | 'none';

/**
 * A thread as the customer rules see it: its current conversation's state, whether it ever had a
 * conversation, and its kept early end (T-2: an end before the first conversation, for 5 minutes).
 */
interface ThreadModel {
  st: ThreadState;
  started: boolean;
  early?: { endedAt: number; expiresAt: number; linked: boolean };
}

const startsConversation = (type: CustomerEventType): boolean =>
  type === 'conversation.started' || type === 'message.received';
const isEnd = (type: CustomerEventType): boolean => type === 'customer.ended' || type === 'customer.disconnected';

/** `at`: the event's time (its occurredAt); `now`: when it is applied. */
function customerEffect(
  t: ThreadModel,
  type: CustomerEventType,
  mode: Mode,
  at: number,
  now: number,
): { events: number; convs: number; next: ThreadModel } {
  const { st } = t;
  const none = { events: 0, convs: 0, next: t };
  const unaccepted: ThreadState = { status: 'Open', mode, accepted: false, external: false };
  const early = t.early && mode === 'live' && now < t.early.expiresAt * 1000 ? t.early : undefined;
  if (st === 'none') {
    if (startsConversation(type)) {
      // T-2: the same contact (not after the kept end): created Closed once, then ignored
      if (early && at <= early.endedAt)
        return early.linked
          ? none
          : { events: 1, convs: 1, next: { ...t, started: true, early: { ...early, linked: true } } };
      return { events: 1, convs: 1, next: { ...t, st: unaccepted, started: true } };
    }
    if (isEnd(type) && mode === 'live' && !t.started && !early)
      return {
        events: 0,
        convs: 0,
        next: { ...t, early: { endedAt: at, expiresAt: Math.floor(now / 1000) + 300, linked: false } },
      };
    return none;
  }
  const to = (next: ThreadState, events = 1): { events: number; convs: number; next: ThreadModel } => ({
    events,
    convs: 0,
    next: { ...t, st: next },
  });
  if (type === 'message.received' && st.status === 'Waiting') return to(unaccepted);
  if (isEnd(type) && st.mode === 'live') {
    if (st.status === 'Open') return to('none');
    if (st.status === 'Active') return to(st.accepted && !st.external ? { ...st, status: 'WrapUp' } : 'none');
  }
  return none;
}

function threadState(s: Snap, channelId: string, threadId: string): ThreadModel {
  const id = s.threads.get(threadKey(channelId, threadId));
  const c = id ? s.convs.get(id)?.c : undefined;
  const end = s.earlyEnds.get(threadKey(channelId, threadId));
  const early = end
    ? { endedAt: Date.parse(end.endedAt), expiresAt: end.expiresAt, linked: end.conversationId !== undefined }
    : undefined;
  const st: ThreadState =
    !c || c.status === 'Closed' || c.session.status !== 'active'
      ? 'none'
      : { status: c.status, mode: c.mode, accepted: c.accepted !== false, external: c.primaryKind === 'external' };
  return { st, started: id !== undefined, ...(early ? { early } : {}) };
}

const customerEventsOn = (s: Snap, channelId: string, threadId: string): { events: number; convs: number } => {
  let events = 0;
  let convs = 0;
  for (const v of s.convs.values()) {
    if (v.c.channelId !== channelId || v.c.threadId !== threadId) continue;
    convs++;
    events += v.events.filter((e) => e.role === 'customer').length;
  }
  return { events, convs };
};

// ---------------------------------------------------------------------------------------------------
// MS-1 / MS-2 / MS-4: what each transcript holds, and what the outbound queue carried

/**
 * One customer message or agent reply of the run, by its text (unique in the run, so the text names
 * the message). `once`: stored exactly once, in a conversation of its thread; where, once known (the
 * engine's answer, or the first quiet point that found it), never changes: the conversation and the
 * `seq`. `none`: never stored (a refused reply; a customer message T-2 ignores: its contact already
 * left, and the conversation it would start exists, Closed). `maybe`: at most once, settled by the
 * next quiet point (only where the model cannot tell: a message racing a T-2 end on its thread).
 */
interface Said {
  from: 'customer' | 'agent';
  text: string;
  channelId: string;
  threadId: string;
  expect: 'once' | 'none' | 'maybe';
  conversationId?: string;
  seq?: number;
  /** in a conversation this step created (unknown before it) */
  fresh?: boolean;
  /** a reply's agent (or joined supervisor) */
  agentId?: string;
  /** the step and what told the model, for the report */
  why: string;
}

/** MS-4: the run's templates (when `setup.templates`), each text marked so a system message names its event */
const TEMPLATES = {
  queued: '[queued] you are number {{position}}',
  assigned: '[assigned] {{agentName}} is with you',
  waiting: '[waiting] we are waiting for your answer',
  closed: '[closed] goodbye',
} as const;
const AUTOMATED = /^\[(queued|assigned|waiting|closed)\] /;
/** the page sizes the transcript is read with (MS-1: page by page, oldest first) */
const TRANSCRIPT_PAGES = [2, 3, 5, 50] as const;

/**
 * MS-1 / T-2: whether a customer message on a thread in state `t` is stored (somewhere): always,
 * except a start of the same contact (not after the end) on a thread whose kept end already made its
 * conversation, Closed: that one is ignored (as customerEffect says: no event, no conversation).
 */
function messageStored(t: ThreadModel, mode: Mode, at: number, now: number): boolean {
  if (t.st !== 'none') return true;
  const early = t.early && mode === 'live' && now < t.early.expiresAt * 1000 ? t.early : undefined;
  return !(early && at <= early.endedAt && early.linked);
}

/** MS-2 / MS-4: what the channel must get for a reply or an automated message (API.md's `message.sent`) */
const outboundOf = (m: Message, c: Conversation): OutboundMessage => ({
  id: m.id,
  org: m.org,
  conversationId: c.id,
  channelId: c.channelId,
  threadId: c.threadId,
  type: 'message.sent',
  text: m.text,
  automated: m.automated === true,
  at: m.at,
});

/** Everything on the outbound queue now (read and deleted): the org's `message.sent`, by id (at least once). */
async function drainOutbound(w: World): Promise<void> {
  const QueueUrl = w.rig.queues.outbound.url;
  for (;;) {
    const got =
      (await w.rig.sqs.send(new ReceiveMessageCommand({ QueueUrl, MaxNumberOfMessages: 10, WaitTimeSeconds: 0 })))
        .Messages ?? [];
    if (!got.length) return;
    for (const m of got) {
      const body = JSON.parse(m.Body ?? '{}') as Record<string, unknown>;
      if (body.org !== w.org || body.type !== 'message.sent') continue;
      const id = String(body.id);
      const known = w.published.get(id);
      stats.published++;
      if (known) {
        stats.publishedAgain++;
        // at least once: a message published again is the same message, body and all
        check(
          known.body === canonical(body),
          `MS-2: message.sent ${id} published twice with different bodies:\n${known.body}\n${canonical(body)}`,
        );
        known.times++;
      } else w.published.set(id, { body: canonical(body), times: 1 });
    }
    await w.rig.sqs.send(
      new DeleteMessageBatchCommand({
        QueueUrl,
        Entries: got.map((m, i) => ({ Id: String(i), ReceiptHandle: m.ReceiptHandle ?? '' })),
      }),
    );
  }
}

/** MS-1: a transcript as the engine reads it (deps.messages.listMessages), page by page from the start. */
async function transcriptPages(w: World, conversationId: string, limit: number): Promise<Message[]> {
  const out: Message[] = [];
  let after = 0;
  for (let pages = 0; pages < 10_000; pages++) {
    const page = await w.rig.deps.messages.listMessages(w.org, conversationId, { limit, after });
    stats.transcriptPages++;
    check(
      page.items.length <= limit,
      `MS-1: a page of ${conversationId}'s transcript (limit ${limit}) has ${page.items.length} messages`,
    );
    out.push(...page.items);
    if (page.after === undefined) return out;
    check(
      page.after === page.items.at(-1)?.seq,
      `MS-1: a page of ${conversationId}'s transcript ends at seq ${page.items.at(-1)?.seq}, its cursor says ${page.after}`,
    );
    after = page.after;
  }
  throw new Violation(`MS-1: ${conversationId}'s transcript never ends`);
}

/** MS-1: the transcripts of `ids` read page by page equal what the snapshot holds. */
async function checkPaging(w: World, s: Snap, ids: readonly string[]): Promise<void> {
  await Promise.all(
    ids.map(async (id, i) => {
      const limit = TRANSCRIPT_PAGES[(i + stats.steps) % TRANSCRIPT_PAGES.length] as number;
      const read = await transcriptPages(w, id, limit);
      const held = s.convs.get(id)?.messages ?? [];
      check(
        canonical(read) === canonical(held),
        `MS-1: ${id}'s transcript read by pages of ${limit} is ${read.map((m) => `${m.seq}:${m.text}`).join(' | ')}, stored ${held.map((m) => `${m.seq}:${m.text}`).join(' | ')}`,
      );
    }),
  );
}

/** Where a message was found: its conversation and place. */
type Place = { conversationId: string; m: Message; c: Conversation };

/**
 * At a quiet point, for every conversation of the run: MS-1 `seq` 1..n with no gap or repeat, each
 * message named `<conversationId>-m<seq>`, in time order, the log at the last `seq` and the last
 * reply's; every customer message and reply is one the model knows, found as it expects (exactly once
 * in its thread, where it was, or not at all); system messages are the run's templates (MS-4), a
 * `closed` one at most once and only on a Closed conversation; every reply and automated message was
 * published as `message.sent` (one id, the body API.md names), and nothing else was.
 */
function checkTranscripts(w: World, before: Snap, s: Snap): void {
  const found = new Map<string, Place[]>();
  const sent = new Map<string, string>();
  for (const [id, { c, messages, log }] of s.convs) {
    const where = `${id} (${c.channelKind}, ${c.status})`;
    const text = (): string => messages.map((m) => `${m.seq}:${m.from}:${m.text}`).join(' | ');
    check(
      messages.every((m, i) => m.seq === i + 1),
      `MS-1: ${where} transcript seq ${JSON.stringify(messages.map((m) => m.seq))} is not 1..${messages.length}: ${text()}`,
    );
    check(
      (log?.seq ?? 0) === messages.length,
      `MS-1: ${where} transcript log says seq ${log?.seq}, the transcript has ${messages.length}: ${text()}`,
    );
    const lastReply = messages.filter((m) => m.from === 'agent').at(-1)?.seq ?? 0;
    check(
      (log?.replySeq ?? 0) === lastReply,
      `MS-3: ${where} transcript log says the last reply is ${log?.replySeq}, it is ${lastReply}: ${text()}`,
    );
    let closings = 0;
    messages.forEach((m, i) => {
      const prev = messages[i - 1];
      check(
        m.id === `${id}-m${m.seq}` && m.conversationId === id && m.org === w.org,
        `MS-1: ${where} message ${m.seq} is ${m.id} of ${m.org}/${m.conversationId}`,
      );
      check(
        !prev || prev.at <= m.at,
        `MS-1: ${where} message ${m.seq} at ${m.at} is before ${prev?.seq} at ${prev?.at}`,
      );
      if (m.from === 'system') {
        check(
          w.setup.templates && m.automated === true && AUTOMATED.test(m.text),
          `MS-4: ${where} has a system message no template of the run wrote: ${JSON.stringify(m)}`,
        );
        if (m.text.startsWith('[closed]')) closings++;
      } else {
        check(m.automated === undefined, `MS-4: ${where} ${m.from} message ${m.seq} is marked automated`);
        found.set(m.text, [...(found.get(m.text) ?? []), { conversationId: id, m, c }]);
      }
      if (m.from !== 'customer') sent.set(m.id, canonical(outboundOf(m, c)));
    });
    check(
      closings === 0 || (closings === 1 && c.status === 'Closed'),
      `MS-4: ${where} has ${closings} closed messages: ${text()}`,
    );
  }
  for (const [text, places] of found)
    check(
      w.said.has(text),
      `MS-1: ${places.map((p) => `${p.conversationId} seq ${p.m.seq}`).join(', ')} holds a ${places[0]?.m.from} message no step sent: ${JSON.stringify(text)}`,
    );
  for (const said of w.said.values()) {
    const places = found.get(said.text) ?? [];
    const what = `${said.from} message ${JSON.stringify(said.text)} on ${threadKey(said.channelId, said.threadId)} (${said.why})`;
    const at = places.map((p) => `${p.conversationId} seq ${p.m.seq}`).join(', ');
    check(places.length <= 1, `MS-1 / RL-1: ${what} is stored ${places.length} times: ${at}`);
    const p = places[0];
    if (said.expect === 'once' && !p && said.conversationId === undefined && TOLERATE.has('message-lost')) {
      // a webhook's message lost while another writer ran (where the engine's answer is not seen)
      stats.toleratedLost.push(what);
      said.expect = 'none';
    }
    if (said.expect === 'once')
      check(
        p !== undefined,
        `MS-1 / RL-1: ${what} is lost: in no transcript${said.conversationId ? ` (expected in ${said.conversationId}${said.seq ? ` at seq ${said.seq}` : ''})` : ''}`,
      );
    if (said.expect === 'none') check(p === undefined, `MS-1 / MS-2: ${what} must not be stored, it is: ${at}`);
    if (!p) {
      if (said.expect === 'maybe') said.expect = 'none';
      continue;
    }
    check(
      p.m.from === said.from && (said.from === 'customer' || p.m.agentId === said.agentId),
      `MS-1: ${what} is stored as from ${p.m.from} ${p.m.agentId ?? ''}`,
    );
    check(
      p.c.channelId === said.channelId && p.c.threadId === said.threadId,
      `MS-1: ${what} is stored in ${p.conversationId}, of thread ${threadKey(p.c.channelId, p.c.threadId)}`,
    );
    check(
      (said.conversationId === undefined || said.conversationId === p.conversationId) &&
        (said.seq === undefined || said.seq === p.m.seq),
      `MS-1: ${what} is at ${at}, expected ${said.conversationId ?? 'its thread'}${said.seq ? ` seq ${said.seq}` : ''}`,
    );
    if (said.fresh)
      check(!before.convs.has(p.conversationId), `MS-1: ${what} is in ${p.conversationId}, not a new conversation`);
    said.expect = 'once';
    said.conversationId = p.conversationId;
    said.seq = p.m.seq;
    delete said.fresh;
  }
  // MS-2 / MS-4: at the quiet point, what the outbound queue carried is exactly the replies and automated messages
  for (const [id, body] of sent) {
    const got = w.published.get(id);
    check(got !== undefined, `MS-2: ${body} was never published as message.sent`);
    check(got?.body === body, `MS-2: message.sent ${id} was published as ${got?.body}, the message is ${body}`);
  }
  for (const [id, { body }] of w.published)
    check(sent.has(id), `MS-2: message.sent ${id} was published, no transcript holds it: ${body}`);
}

// ---------------------------------------------------------------------------------------------------
// Invariants

class Violation extends Error {
  override name = 'Violation';
}
const check = (ok: boolean, message: string): void => {
  if (!ok) throw new Violation(message);
};

const wsOf = (w: World, c: Pick<Conversation, 'channelKind'>): Workstream =>
  (w.channels.find((x) => x.kind === c.channelKind) as { ws: Workstream }).ws;

async function checkInvariants(w: World, s: Snap): Promise<void> {
  const allocationsByConv = new Map<string, AllocationRecord[]>();
  for (const v of s.agents.values()) {
    for (const a of v.allocations)
      allocationsByConv.set(a.conversationId, [...(allocationsByConv.get(a.conversationId) ?? []), a]);
  }
  // S-3: units an override assignment put over the maximum, still held
  const overUnits = new Map<string, number>();
  for (const [id, v] of s.convs) {
    const a = v.c.allocation;
    if (!a) continue;
    const allocating = [...v.events]
      .reverse()
      .find((e) => e.details?.allocated === `${a.agentId}/${a.pool}/${a.units}` && e.at === a.since);
    if (allocating?.action === 'assign' && Number(allocating.details?.unitsOverCapacity ?? 0) > 0) {
      overUnits.set(`${a.agentId}/${a.pool}`, (overUnits.get(`${a.agentId}/${a.pool}`) ?? 0) + a.units);
    }
    check(allocating !== undefined, `C-6: ${id} holds ${JSON.stringify(a)} but no history event allocated it`);
  }

  for (const [agentId, v] of s.agents) {
    check(
      requirementKey(v.agent.skills) === requirementKey(w.skills.get(agentId)),
      `K-1: ${agentId} has skills ${JSON.stringify(v.agent.skills)}, configured ${JSON.stringify(w.skills.get(agentId))}`,
    );
    const held: Record<string, number> = {};
    for (const a of v.allocations) held[a.pool] = (held[a.pool] ?? 0) + a.units;
    for (const [pool, p] of Object.entries(v.pools)) {
      const over = overUnits.get(`${agentId}/${pool}`) ?? 0;
      check(p.used >= 0, `C-5: ${agentId}/${pool} used ${p.used} < 0`);
      check(p.used <= p.max + over, `C-5: ${agentId}/${pool} used ${p.used} > max ${p.max} (+${over} override units)`);
      check(p.free === p.max - p.used, `C-5: ${agentId}/${pool} free ${p.free} != max ${p.max} - used ${p.used}`);
      check(
        p.used === (held[pool] ?? 0),
        `RL-3: ${agentId}/${pool} used ${p.used} != allocations ${held[pool] ?? 0} ${JSON.stringify(v.allocations)}`,
      );
    }
    for (const pool of Object.keys(held))
      check(v.pools[pool] !== undefined, `RL-3: ${agentId} holds units in an unknown pool ${pool}`);
  }
  for (const id of allocationsByConv.keys())
    check(s.convs.has(id), `C-6: an allocation for an unknown conversation ${id}`);

  const byThread = new Map<string, Conversation[]>();
  for (const [id, { c, events, raw }] of s.convs) {
    const where = `${id} (${c.channelKind}, ${c.status}, v${c.version})`;
    const ws = wsOf(w, c);
    // L-1 / L-2
    check((STATUSES as readonly string[]).includes(c.status), `L-1: ${where} has an unknown status`);
    check(c.mode === modeOf(c.channelKind), `L-1: ${where} mode ${c.mode}`);
    if (c.status === 'Waiting') check(c.mode === 'persistent', `L-2: Waiting on ${where}`);
    if (c.status === 'Open')
      check(c.primaryAgentId === undefined, `L-2: Open ${where} has a primary ${c.primaryAgentId}`);
    if (c.status === 'Active' || c.status === 'WrapUp')
      check(c.primaryAgentId !== undefined, `L-2: ${where} has no primary`);
    // Q-1
    if (c.priority !== undefined)
      check(
        Number.isInteger(c.priority) && c.priority >= 1 && c.priority <= 10,
        `Q-1: ${where} priority ${c.priority}`,
      );
    // K-2 / K-3: a requirement is its rule's (step 0, in the rule's queue) or its relaxation step's
    const req = c.requirements;
    if (req) {
      const stepsOf = ws.skillRelaxation ?? [];
      if (req.step === 0)
        check(
          ws.routingRules.some(
            (r) => r.queueId === c.queueId && requirementKey(r.requires) === requirementKey(req.skills),
          ),
          `K-2: ${where} in ${c.queueId} requires ${requirementKey(req.skills)}, no rule of ${ws.id} to that queue does`,
        );
      else {
        const step = stepsOf[req.step - 1];
        check(
          step !== undefined && requirementKey(step.requires) === requirementKey(req.skills),
          `K-3: ${where} at step ${req.step} requires ${requirementKey(req.skills)}, the step says ${JSON.stringify(step)}`,
        );
      }
    }
    // K-3: the step never goes back while the conversation stays Open in the same wait of the same queue
    const seen = w.waits.get(id);
    if (c.status === 'Open' && req) {
      const sameWait =
        seen !== undefined &&
        seen.queueId === c.queueId &&
        seen.enqueuedAt === enqueuedAtOf(c) &&
        events.slice(seen.version).every((e) => e.to === 'Open');
      if (sameWait)
        check(
          req.step >= seen.step,
          `K-3: ${where} went back from step ${seen.step} to ${req.step} in its wait since ${seen.enqueuedAt}: ${historyText(events.slice(seen.version - 1))}`,
        );
      w.waits.set(id, { queueId: c.queueId, enqueuedAt: enqueuedAtOf(c), step: req.step, version: c.version });
    } else w.waits.delete(id);
    // K-4: an offer of push routing (not yet accepted) went to an agent who meets the requirement
    if (c.status === 'Active' && c.accepted === false && req && c.primaryAgentId) {
      const into = [...events].reverse().find((e) => e.to === 'Active' && e.from !== 'Active');
      if (into?.action === 'offer')
        check(
          meets(s.agents.get(c.primaryAgentId)?.agent.skills, req.skills),
          `K-4: ${where} requires ${requirementKey(req.skills)} and was offered to ${c.primaryAgentId} with ${JSON.stringify(s.agents.get(c.primaryAgentId)?.agent.skills ?? {})}: ${historyText(events)}`,
        );
    }

    // X-3 / S-4: a pending transfer belongs to the current assignment of an Active or Waiting conversation
    if (c.pendingTransfer) {
      check(
        c.status === 'Active' || c.status === 'Waiting',
        `X-3: ${c.status} ${where} keeps a pending transfer ${JSON.stringify(c.pendingTransfer)}`,
      );
      check(
        c.pendingTransfer.from === c.primaryAgentId && c.pendingTransfer.to !== c.primaryAgentId,
        `X-3: ${where} (primary ${c.primaryAgentId}) keeps a pending transfer of another assignment ${JSON.stringify(c.pendingTransfer)}`,
      );
    }

    // C-2 / C-3 / C-6: who holds capacity for this conversation, mirrored on the conversation
    const held = allocationsByConv.get(id) ?? [];
    check(held.length <= 1, `C-6: ${where} has ${held.length} allocations`);
    const h = held[0];
    check(
      JSON.stringify(
        c.allocation ? [c.allocation.agentId, c.allocation.pool, c.allocation.units, c.allocation.since] : null,
      ) === JSON.stringify(h ? [h.agentId, h.pool, h.units, h.since] : null),
      `C-6: ${where} says ${JSON.stringify(c.allocation)}, allocation items ${JSON.stringify(held)}`,
    );
    const agentPrimary = c.primaryKind !== 'external' && c.primaryAgentId !== undefined;
    if (c.status === 'Active' && agentPrimary && c.session.status === 'active') {
      check(
        h?.agentId === c.primaryAgentId,
        `C-2: Active ${where} must hold the primary's capacity, holds ${JSON.stringify(held)}`,
      );
    } else if (c.status === 'Active') {
      if (h) check(h.agentId === c.primaryAgentId, `C-2: ${where} holds capacity of ${h.agentId}, not of its primary`);
    } else if (c.status === 'WrapUp') {
      if (h)
        check(
          h.agentId === c.primaryAgentId,
          `C-3: WrapUp ${where} holds capacity of ${h.agentId}, not of its primary`,
        );
      if (ws.wrapUp.blockCapacity === 'never') check(!h, `C-3: never-policy WrapUp ${where} holds capacity`);
    } else {
      check(!h, `C-2: ${c.status} ${where} holds capacity ${JSON.stringify(held)}`);
    }
    if (h)
      check(h.units === ws.capacity.units && h.pool === ws.capacity.pool, `C-1: ${where} holds ${h.units} ${h.pool}`);
    if (c.wrapUpReleaseAt)
      check(c.status === 'WrapUp' && !!c.allocation, `C-3: ${where} has a wrap-up release time without a held block`);

    // E-1: one event per version, in order, chained, in time order, each a SPEC edge (T-13); T-11
    check(
      JSON.stringify(events.map((e) => [e.seq, e.version])) ===
        JSON.stringify(Array.from({ length: c.version }, (_, i) => [i + 1, i + 1])),
      `E-1: ${where} history ${JSON.stringify(events.map((e) => e.seq))} is not 1..${c.version}`,
    );
    const edges = EDGES.get(c.channelKind) as Set<string>;
    events.forEach((e, i) => {
      const prev = events[i - 1];
      check(e.conversationId === id && e.org === w.org, `E-1: ${where} event ${e.seq} belongs elsewhere`);
      check(
        e.from === (prev ? prev.to : null),
        `E-1: ${where} event ${e.seq} starts at ${e.from}, the previous ended at ${prev?.to ?? null}`,
      );
      check(
        !prev || prev.at <= e.at,
        `E-1: ${where} event ${e.seq} at ${e.at} is before event ${prev?.seq} at ${prev?.at}`,
      );
      check(
        edges.has(`${e.action}:${e.from}>${e.to}`),
        `T-13: ${where} event ${e.seq} ${e.action}:${e.from}>${e.to} is not a SPEC transition`,
      );
    });
    check(events.at(-1)?.to === c.status, `E-1: ${where} last event ends at ${events.at(-1)?.to}`);

    // T-11
    const closed = w.closed.get(id);
    if (closed !== undefined)
      check(closed === raw, `T-11: ${where} changed after it was Closed:\nbefore ${closed}\nafter  ${raw}`);
    else if (c.status === 'Closed') w.closed.set(id, raw);

    const tk = threadKey(c.channelId, c.threadId);
    byThread.set(tk, [...(byThread.get(tk) ?? []), c]);
  }
  // the thread points at its newest conversation
  for (const [tk, list] of byThread) {
    const newest = [...list]
      .sort((a, b) => a.createdAt.localeCompare(b.createdAt) || a.id.localeCompare(b.id))
      .at(-1) as Conversation;
    check(
      s.threads.get(tk) === newest.id,
      `thread ${tk} points at ${s.threads.get(tk)}, its newest conversation is ${newest.id}`,
    );
  }
  const depth = await w.rig.depth();
  check(
    depth.ingest === 0 && depth.dlq === 0,
    `RL-1: messages left in the ingestion queue or its DLQ: ${JSON.stringify(depth)}`,
  );
}

const historyText = (events: readonly HistoryEvent[]): string =>
  events.map((e) => `v${e.version} ${e.at.slice(11, 19)} ${e.actor} ${e.action} ${e.from}>${e.to}`).join('; ');

/** TM-1..TM-3, R-3: after the clock moved and the outbox was swept, nothing is overdue. */
function checkDeadlines(w: World, s: Snap, settings: OrgSettings): void {
  const now = s.now;
  const sec = (iso: string, plus: number): number => Date.parse(iso) + plus * 1000;
  for (const [id, { c, events }] of s.convs) {
    const where = `${id} (${c.channelKind}, ${c.status}, v${c.version})`;
    if (c.status === 'WrapUp' && c.allocation && c.wrapUpReleaseAt)
      check(
        Date.parse(c.wrapUpReleaseAt) > now,
        `TM-1 / C-3: ${where} still blocks capacity after ${c.wrapUpReleaseAt}`,
      );
    if (c.status === 'Waiting')
      check(
        sec(c.statusSince, INACTIVITY_SECONDS) > now,
        `TM-2 / T-8: ${where} is Waiting since ${c.statusSince}, past the inactivity timeout`,
      );
    if (c.status === 'Active' && c.accepted === false) {
      const offer = [...events]
        .reverse()
        .find((e) => e.to === 'Active' && (e.action === 'offer' || e.action === 'assign'));
      if (offer?.action === 'offer')
        check(
          sec(offer.at, OFFER_SECONDS) > now,
          `R-3: ${where} offer of ${offer.at} not answered nor expired (now ${new Date(now).toISOString()}); history ${historyText(events)}`,
        );
    }
    if (c.status === 'Active' && c.primaryKind !== 'external' && c.primaryAgentId) {
      const agent = s.agents.get(c.primaryAgentId)?.agent;
      // the assignment began before the disconnect (a conservative start: the last event into Active or within it)
      const since = [...events].reverse().find((e) => e.to === 'Active')?.at ?? c.statusSince;
      if (agent && agent.connected === false && agent.disconnectedAt && since < agent.disconnectedAt) {
        check(
          sec(agent.disconnectedAt, RECONNECT_SECONDS) > now,
          `TM-3 / T-4a: ${where}: ${agent.id} disconnected at ${agent.disconnectedAt} and did not reconnect, the conversation is still theirs`,
        );
      }
    }
    // R-3: a push conversation Open for longer than the dispatch retry, while an agent could take it
    const ws = wsOf(w, c);
    const settled = w.lastCrashAt + (DISPATCH_RETRY_SECONDS + 1) * 1000 <= now;
    // K-3: after a sweep, no relaxation step is overdue (its timer is in the outbox from the change that began the wait)
    if (c.status === 'Open' && ws.distribution === 'push' && c.requirements && settled) {
      const due = dueStep(ws, (now - Date.parse(enqueuedAtOf(c))) / 1000);
      check(
        due <= c.requirements.step,
        `K-3: ${where} waits in ${c.queueId} since ${enqueuedAtOf(c)} at step ${c.requirements.step}, step ${due} is due (now ${new Date(now).toISOString()}); history ${historyText(events)}`,
      );
    }
    if (
      c.status === 'Open' &&
      ws.distribution === 'push' &&
      sec(c.statusSince, DISPATCH_RETRY_SECONDS + 1) <= now &&
      settled
    ) {
      for (const [agentId, v] of s.agents) {
        const agent: Agent = {
          ...v.agent,
          pools: Object.fromEntries(
            Object.entries(v.pools).map(([n, p]) => [n, { name: n, max: p.max, used: p.used }]),
          ),
        } as Agent;
        if (!agent.signedIn || !agent.connected || !agent.queues.includes(c.queueId)) continue;
        const presence = presenceOf(agent, settings, new Date(now)).presence;
        const pool = agent.pools[ws.capacity.pool];
        if (!ws.allowedPresences.includes(presence) || !pool || pool.used + ws.capacity.units > pool.max) continue;
        // K-4: only an agent who meets the conversation's current requirement could be offered it
        if (!meets(agent.skills, c.requirements?.skills)) continue;
        check(
          false,
          `R-3: push ${where} in ${c.queueId}${c.requirements ? ` requiring ${requirementKey(c.requirements.skills)} (step ${c.requirements.step})` : ''} is Open since ${c.statusSince}, while ${agentId} (${presence}, ${pool.used}/${pool.max}, skills ${JSON.stringify(agent.skills ?? {})}) could take it${c.declinedBy?.includes(agentId) ? ` (declined it before: ${c.declinedBy.join(',')})` : ''}`,
        );
      }
    }
  }
}

// ---------------------------------------------------------------------------------------------------
// MX-1 / MX-3: the metrics equal the lists, at a quiet point

/** the queues of every run (the workstreams' rules and the transfers use no other) */
const QUEUES = ['q1', 'q2'] as const;
/** the counts by status (Closed is not counted), by presence (Offline is not counted), and the Q-1 levels */
const COUNTED: readonly Status[] = ['Open', 'Active', 'WrapUp', 'Waiting'];
const PRESENCES: readonly Presence[] = ['Available', 'Busy', 'BusyDND', 'Away'];
const LEVELS = Array.from({ length: 10 }, (_, i) => i + 1);
const LIST_PAGE = 100;
const METRICS_READ_EVERY = 10;
/** the last crash of the stream consumer the metrics were checked after */
let streamCrashesChecked = 0;
/** time spent in those checks (their reads), for the summary */
let metricsMs = 0;
/** time spent in the transcripts' checks (MS-1 / MS-2: their reads and the outbound queue's) */
let messagesMs = 0;

/** What the lists show: the queue's conversations of one status, page by page (an index, never a scan). */
async function listed(w: World, queueId: string, status: Status): Promise<Conversation[]> {
  const out: Conversation[] = [];
  let cursor: string | undefined;
  do {
    const page = await w.rig.deps.lists.listConversations(
      w.org,
      { queueId, status },
      { limit: LIST_PAGE, ...(cursor ? { cursor } : {}) },
    );
    out.push(...page.items);
    cursor = page.nextCursor;
  } while (cursor);
  return out;
}

const idsText = (list: readonly Pick<Conversation, 'id'>[]): string =>
  `[${list
    .map((c) => c.id)
    .sort()
    .join(', ')}]`;

/**
 * MX-1 / MX-3 at a quiet point (the stream settled), for every queue of the run; per queue one read of
 * its counters (the shards summed, as MX-1 reads them: one BatchGet) and one page per status of its
 * lists (one query each), and every METRICS_READ_EVERY-th quiet point MX-1's whole read as well:
 * - counts.Open / Active / WrapUp / Waiting = the queue's lists by status (an offer not accepted yet
 *   is Active there, and counted Active), and the lists = the conversations read back;
 * - signedIn and counts by presence = the queue's members as their profiles say: signed in, with the
 *   presence shown (`presenceShown`, what the availability follow-up records and the counts follow);
 *   MX-2: that is the presence the engine computes now, for an agent connected (a disconnected one's
 *   presence changes with the grace's timer, which a step may leave unfired);
 * - MX-3: openP1 + ... + openP10 = counts.Open + the offers not accepted yet (still waiting, R-3), and
 *   openP<p> = those of them listed at priority p.
 */
async function checkMetrics(w: World, s: Snap, settings: OrgSettings): Promise<void> {
  stats.metricsChecks++;
  if (w.rig.streamFaults.fired > streamCrashesChecked) {
    stats.metricsChecksAfterStreamCrash++;
    streamCrashesChecked = w.rig.streamFaults.fired;
  }
  // MX-1's whole read (the counters, the last hour's buckets, the oldest wait) costs some 14 requests
  // a queue: the counters alone at every quiet point, the whole read now and then
  const viaApi = stats.metricsChecks % METRICS_READ_EVERY === 1;
  if (viaApi) stats.metricsReads++;
  const reads = await Promise.all(
    QUEUES.map(async (queueId) => {
      const [counts, metrics, ...lists] = await Promise.all([
        w.rig.deps.queueStats.counts(w.org, queueId),
        viaApi ? readQueueMetrics(w.rig.deps, w.org, queueId) : undefined,
        ...COUNTED.map((status) => listed(w, queueId, status)),
      ]);
      return { queueId, counts: counts as Record<string, number>, metrics, lists };
    }),
  );
  const now = new Date(s.now);
  const agents = [...s.agents.values()].map((v) => v.agent);
  // MX-2: the presence shown is the one the engine computes now (what GET /v1/agents shows)
  for (const v of s.agents.values()) {
    if (v.agent.signedIn !== true || v.agent.connected === false) continue;
    const agent = {
      ...v.agent,
      pools: Object.fromEntries(Object.entries(v.pools).map(([n, p]) => [n, { name: n, max: p.max, used: p.used }])),
    } as Agent;
    const computed = presenceOf(agent, settings, now).presence;
    check(
      v.agent.presenceShown === computed,
      `MX-2: ${v.agent.id} (queues ${v.agent.queues.join(',')}) shows presence ${String(v.agent.presenceShown)}, the engine computes ${computed} now (override ${String(v.agent.presenceOverride)}, pools ${JSON.stringify(v.pools)})`,
    );
  }
  for (const { queueId, counts, metrics, lists } of reads) {
    const counter = (name: string, actual: number | undefined, expected: number, detail: string): void =>
      check(
        actual === expected,
        `${name.startsWith('openP') ? 'MX-3' : 'MX-1'}: queue ${queueId} counter ${name} is ${String(actual)}, expected ${expected} ${detail}`,
      );
    // MX-1's read reports the counters as summed
    if (metrics)
      for (const [name, n] of Object.entries(metrics.counts))
        check(
          n === counts[name],
          `MX-1: queue ${queueId} GET metrics counter ${name} is ${n}, the counters sum to ${String(counts[name])}`,
        );
    COUNTED.forEach((status, i) => {
      const list = lists[i] ?? [];
      const read = [...s.convs.values()].map((v) => v.c).filter((c) => c.queueId === queueId && c.status === status);
      check(
        idsText(list) === idsText(read),
        `MX-1: queue ${queueId} lists ${status} ${idsText(list)}, the conversations read back are ${idsText(read)}`,
      );
      counter(status, counts[status], list.length, `(the lists show ${idsText(list)})`);
    });
    const members = agents.filter((a) => a.queues.includes(queueId) && a.signedIn === true);
    const membersText = `(members signed in: ${members.map((a) => `${a.id} ${String(a.presenceShown)}`).join(', ') || 'none'})`;
    counter('signedIn', counts.signedIn, members.length, membersText);
    for (const p of PRESENCES) counter(p, counts[p], members.filter((a) => a.presenceShown === p).length, membersText);
    // R-3: an offer not accepted yet is still waiting in the queue (listed Active)
    const waiting = [...(lists[0] ?? []), ...(lists[1] ?? []).filter((c) => c.accepted === false)];
    const offered = waiting.length - (lists[0] ?? []).length;
    const byLevel = LEVELS.map((p) => counts[`openP${p}`]);
    const sum = byLevel.reduce<number>((n, x) => n + (x ?? 0), 0);
    check(
      sum === (counts.Open ?? 0) + offered,
      `MX-3: queue ${queueId} counter openP1..openP10 sums to ${sum} [${byLevel.join(', ')}], expected counts.Open ${String(counts.Open)} + ${offered} offered`,
    );
    for (const p of LEVELS) {
      const at = waiting.filter((c) => priorityOf(c) === p);
      counter(`openP${p}`, counts[`openP${p}`], at.length, `(the lists show waiting at priority ${p}: ${idsText(at)})`);
    }
  }
}

// ---------------------------------------------------------------------------------------------------
// Running steps

const pick = <T>(list: readonly T[], i: number): T => list[i % list.length] as T;

function expectHttp(r: HttpResult, what: string): HttpResult {
  check(r.status < 500, `no 5xx: ${what} answered ${r.status} ${r.raw}`);
  if (r.status >= 400) {
    check(
      r.contentType.startsWith('application/problem+json'),
      `RL-4: ${what} ${r.status} is not problem+json: ${r.contentType}`,
    );
    check(
      r.body.status === r.status && typeof r.body.detail === 'string',
      `RL-4: ${what} ${r.status} problem body ${r.raw}`,
    );
  }
  return r;
}

/** JSON with sorted keys: the same answer, whatever order its keys were stored in */
const canonical = (v: unknown): string =>
  JSON.stringify(v, (_k, x: unknown) =>
    x && typeof x === 'object' && !Array.isArray(x)
      ? Object.fromEntries(Object.entries(x).sort(([a], [b]) => a.localeCompare(b)))
      : x,
  );

const agentClaims = (w: World, id: string): Claims => ({ org: w.org, sub: id, roles: ['agent'] });
const supClaims = (w: World): Claims => ({ org: w.org, sub: 'sup', roles: ['supervisor'] });

/** statuses an operation can apply to, to aim it (never to judge it) */
function aimed(op: ActOp | Extract<Op, { t: 'sup' }>): Status[] {
  if (op.t === 'sup') {
    switch (op.act.s) {
      case 'assign-agent':
      case 'assign-queue':
      case 'prioritize':
        return ['Open'];
      case 'force-close':
        return ['Open', 'Active', 'WrapUp', 'Waiting'];
      case 'transfer':
        return ['Active', 'Waiting'];
      default:
        return ['Active', 'WrapUp'];
    }
  }
  if (op.who === 'receiver') return ['Active', 'Waiting'];
  switch (op.act.a) {
    case 'accept':
      return ['Open', 'Active'];
    case 'end':
    case 'close':
      return ['Active', 'WrapUp'];
    case 'resume':
      return ['Waiting'];
    case 'end-session':
      return ['Active', 'Waiting'];
    default:
      return ['Active'];
  }
}

function targetOf(w: World, s: Snap, op: ActOp | Extract<Op, { t: 'sup' }>): Conversation | undefined {
  const all = w.convIds.map((id) => s.convs.get(id)?.c).filter((c): c is Conversation => !!c && c.status !== 'Closed');
  if (!all.length) return undefined;
  const want = aimed(op);
  const hits = op.aim ? all.filter((c) => want.includes(c.status)) : [];
  return pick(hits.length ? hits : all, op.conv);
}

function actorOf(w: World, op: ActOp, c: Conversation): string {
  if (typeof op.who === 'number') return pick(w.agents, op.who);
  if (op.who === 'receiver' && c.pendingTransfer?.to) return c.pendingTransfer.to;
  return c.primaryKind !== 'external' && c.primaryAgentId && w.agents.includes(c.primaryAgentId)
    ? c.primaryAgentId
    : pick(w.agents, op.conv);
}

function actionRequest(w: World, act: AgentAct): { name: string; body?: unknown } {
  switch (act.a) {
    case 'transfer-queue':
      return { name: 'transfer', body: { queueId: act.q } };
    case 'transfer-agent':
      return { name: 'transfer', body: { agentId: pick(w.agents, act.to) } };
    case 'transfer-external':
      return { name: 'transfer', body: { externalNumber: '+15550100' } };
    case 'consult':
      return { name: 'consult', body: { agentId: pick(w.agents, act.to) } };
    default:
      return { name: act.a };
  }
}

const actionCall = (
  w: World,
  claims: Claims,
  conversationId: string,
  name: string,
  body: unknown,
  key?: string,
): Promise<HttpResult> =>
  w.rig.http('conversations', 'POST /v1/conversations/{id}/actions/{action}', {
    params: { id: conversationId, action: name },
    claims,
    ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
    headers: { 'content-type': 'application/json', ...(key ? { 'idempotency-key': key } : {}) },
  });

interface StepReport {
  label: string;
  /** distinct events accepted for the first time, in the order they were applied per thread */
  newEvents: Accepted[];
  /** RL-1 model: 'exact' when nothing else ran meanwhile, 'bounded' otherwise */
  model: 'exact' | 'bounded' | 'none';
  /** the step must change nothing at all (duplicates only, strictly stale timers) */
  unchanged?: boolean;
  swept?: boolean;
  /** timers fired twice in this step: (conversation, action) pairs that may apply at most once */
  doubleFired?: { conversationId: string; action: string }[];
  /** an action sent twice under one Idempotency-Key: applied at most once */
  atMostOnce?: { conversationId: string; actor: string; action: string };
  /** MS-1 / MS-2: the customer messages and replies of the step, as the engine's answers place them */
  said?: Said[];
}

const stats = {
  steps: 0,
  runs: 0,
  http: 0,
  http4xx: 0,
  webhooks: 0,
  duplicates: 0,
  reordered: 0,
  /** T-2: conversations the model expects created Closed (their customer's end came first) */
  closedAtCreation: 0,
  crashes: 0,
  lostBatches: 0,
  redeliveredRecords: 0,
  sweeps: 0,
  timersFired: 0,
  doubleFires: 0,
  staleFires: 0,
  races: 0,
  interposed: 0,
  interposedHit: 0,
  interposedEvents: 0,
  interposedEventsHit: 0,
  idempotentRetries: 0,
  crashedActions: 0,
  crashedTimers: 0,
  streamCrashes: 0,
  /** K-2 / K-4: push offers of conversations with a requirement; K-3: relaxation steps applied; Q-1: priorities set */
  requiredOffers: 0,
  relaxations: 0,
  prioritized: 0,
  /** stream records in the batches of the crashed follow-up invocations: each handed over again */
  redeliveredStreamRecords: 0,
  /** quiet points where the metrics were checked against the lists and the agents (MX-1 / MX-3) */
  metricsChecks: 0,
  /** of those, right after a step whose stream consumer crashed (its records counted twice, or not) */
  metricsChecksAfterStreamCrash: 0,
  /** of those, the ones that also read the metrics as MX-1 answers them (readQueueMetrics) */
  metricsReads: 0,
  /** quiet points where the step had left stream records unread (settled before the checks) */
  settledAtQuietPoint: 0,
  /** MS-1: customer messages sent straight to handleCustomerEvent, by the outcome of their applied delivery */
  customerMessages: 0,
  messageOutcomes: {} as Record<string, number>,
  /** deliveries answered `duplicate` (a second delivery, at once or later, or after a crash) */
  messageDuplicates: 0,
  /** customer messages of webhooks (through the queue), with a text */
  webhookMessages: 0,
  /** customer messages whose transaction another writer overtook (decided again) */
  messagesInterposed: 0,
  /** customer messages on a Waiting conversation (T-10) */
  messagesOnWaiting: 0,
  /** MS-2: replies attempted (distinct texts), sent (sendReply resolved), refused (403 / 404 / 409), replayed (same key) */
  replies: 0,
  repliesSent: 0,
  repliesRefused: 0,
  /** the refusals by the engine's error */
  refusedBy: {} as Record<string, number>,
  replyReplays: 0,
  /** replies whose first call crashed after its commit */
  replyCrashes: 0,
  /** MS-2 / MS-4: message.sent received from the outbound queue, and of those, again (the same id) */
  published: 0,
  publishedAgain: 0,
  /** MS-1: transcript pages read through listMessages */
  transcriptPages: 0,
  /** RELIABILITY_TOLERATE=message-lost: the customer messages lost (what the step was) */
  toleratedLost: [] as string[],
  /** at the end of each run: messages checked, by sender, and message.sent ids */
  checkedCustomer: 0,
  checkedAgent: 0,
  checkedSystem: 0,
  checkedSentIds: 0,
};

async function postEvent(w: World, a: Accepted, times = 1): Promise<void> {
  const raw = JSON.stringify(a.event);
  const posts = await Promise.all(
    Array.from({ length: times }, () =>
      w.rig.http('webhooks', 'POST /v1/webhooks/{channelId}', {
        params: { channelId: a.channelId },
        body: raw,
        headers: { 'x-signature': signBody(SECRET, raw), 'content-type': 'application/json' },
      }),
    ),
  );
  for (const r of posts) {
    stats.webhooks++;
    expectHttp(r, `webhook ${a.event.type} ${a.event.eventId}`);
    check(r.status === 202, `a valid signed webhook answered ${r.status} ${r.raw}`);
  }
}

function newEvent(w: World, e: EvSpec): Accepted {
  const ch = pick(w.channels, e.ch);
  const threadId = `th${e.th % w.setup.threads}`;
  const event: CustomerEvent = {
    eventId: `ev-${w.run}-${++w.seq}`,
    type: e.type,
    threadId,
    occurredAt: w.rig.clock.now().toISOString(),
    ...(e.type === 'message.received' ? { message: { text: `hello ${w.seq}` } } : {}),
    ...(e.billing || e.need !== 'none'
      ? { context: { ...(e.billing ? { topic: 'billing' } : {}), ...(e.need !== 'none' ? { need: e.need } : {}) } }
      : {}),
  };
  return { channelId: ch.id, threadId, event };
}

async function runHook(w: World, before: Snap, op: Extract<Op, { t: 'hook' }>, alone: boolean): Promise<StepReport> {
  const label = `webhook ${op.delivery}`;
  const report = (newEvents: Accepted[], extra: Partial<StepReport> = {}): StepReport => ({
    label,
    newEvents,
    model: alone ? 'exact' : 'bounded',
    ...extra,
  });
  const first = op.events[0] as EvSpec;
  switch (alone ? op.delivery : 'single') {
    case 'single': {
      const a = newEvent(w, first);
      await postEvent(w, a);
      await w.rig.consume();
      return report([a]);
    }
    case 'dup-http': {
      // the same event posted twice at once, consumed, and posted again (SQS deduplication, then the receipt)
      const a = newEvent(w, first);
      await postEvent(w, a, 2);
      await w.rig.consume();
      await postEvent(w, a);
      await w.rig.consume();
      stats.duplicates += 2;
      return report([a]);
    }
    case 'dup-late': {
      // applied, then redelivered past SQS's deduplication window: the engine's receipt must stop it
      const a = newEvent(w, first);
      await postEvent(w, a);
      await w.rig.consume();
      const mid = fingerprint(await snapshot(w));
      await w.rig.redeliver(w.org, a.channelId, a.event);
      await w.rig.consume();
      stats.duplicates++;
      check(fingerprint(await snapshot(w)) === mid, `RL-1: a late redelivery of ${a.event.eventId} changed the org`);
      return report([a]);
    }
    case 'dup-old': {
      // an event accepted earlier in the run comes back, possibly with another body under the same id
      const old = [...w.accepted.values()];
      if (!old.length) return runHook(w, before, { ...op, delivery: 'single' }, alone);
      const a = pick(old, op.pick);
      const mutated: CustomerEvent =
        op.pick % 3 === 0 ? { ...a.event, type: first.type === a.event.type ? 'customer.ended' : first.type } : a.event;
      if (op.pick % 2 === 0) await w.rig.redeliver(w.org, a.channelId, mutated);
      else await postEvent(w, { ...a, event: mutated });
      await w.rig.consume();
      stats.duplicates++;
      return report([], { unchanged: true });
    }
    case 'reorder': {
      // a thread's events in their natural order, posted (hence queued and applied) out of order
      const natural: CustomerEventType[] = ['conversation.started', 'message.received', first.type, 'customer.ended'];
      const n = 2 + (op.pick % 2);
      const events = natural.slice(0, n).map((type) => newEvent(w, { ...first, type }));
      const order = [...events];
      for (let i = order.length - 1; i > 0; i--) {
        const j = (op.pick + i * 7) % (i + 1);
        [order[i], order[j]] = [order[j] as Accepted, order[i] as Accepted];
      }
      if (order.every((e, i) => e === events[i])) order.reverse();
      for (const a of order) await postEvent(w, a);
      await w.rig.consume();
      stats.reordered++;
      return report(order);
    }
    default: {
      // a batch of events on several threads, consumed in one go: plain, or with a consumer fault
      const events = op.events.map((e) => newEvent(w, e));
      for (const a of events) await postEvent(w, a);
      const options =
        op.delivery === 'crash-after' || op.delivery === 'crash-before'
          ? {
              crash: {
                at: Math.min(op.crashAt, events.length),
                where: op.delivery === 'crash-after' ? ('after' as const) : ('before' as const),
              },
            }
          : op.delivery === 'lost-batch'
            ? { loseFirstResponse: true }
            : {};
      const r = await w.rig.consume(options);
      if (op.delivery !== 'batch') {
        if (op.delivery === 'lost-batch') stats.lostBatches++;
        else stats.crashes++;
        stats.redeliveredRecords += r.failures;
        w.lastCrashAt = w.rig.clock.now().getTime();
      }
      return report(events);
    }
  }
}

async function runAct(w: World, s: Snap, given: ActOp, alone: boolean): Promise<StepReport> {
  // a crash hook must not hit a concurrent operation's transaction: with company, a plain retry
  const op: ActOp = !alone && given.idem === 'crash-retry' ? { ...given, idem: 'retry' } : given;
  const c = targetOf(w, s, op);
  if (!c) return { label: 'act (no conversation)', newEvents: [], model: 'none' };
  const agentId = actorOf(w, op, c);
  const { name, body } = actionRequest(w, op.act);
  const label = `${agentId} ${name}${body ? ` ${JSON.stringify(body)}` : ''} on ${c.id} (${c.channelKind} ${c.status})`;
  const claims = agentClaims(w, agentId);
  if (op.idem === 'none') {
    const r = expectHttp(await actionCall(w, claims, c.id, name, body), label);
    stats.http++;
    if (r.status >= 400) stats.http4xx++;
    return {
      label: `${label} -> ${r.status}${r.status >= 400 ? ` ${String(r.body.detail)}` : ''}`,
      newEvents: [],
      model: 'none',
    };
  }
  const key = `k-${ulid()}`;
  if (op.idem === 'crash-retry') {
    // the first call commits, then its Lambda dies before answering; the client retries with the same key
    const type = name === 'transfer' || name === 'consult' ? name : op.act.a;
    const hook = w.rig.faults.add({
      match: (writes) =>
        writes.some(
          (x) =>
            x.type === 'event' &&
            x.event.conversationId === c.id &&
            x.event.actor === agentId &&
            x.event.action === type,
        ),
      crash: 'after',
    });
    const a = await actionCall(w, claims, c.id, name, body, key);
    const crashed = w.rig.faults.take(hook);
    if (crashed) check(a.status === 500, `${label}: the injected crash answered ${a.status}`);
    else expectHttp(a, `${label} [Idempotency-Key]`);
    const b = expectHttp(
      await actionCall(w, claims, c.id, name, body, key),
      `${label} [Idempotency-Key retry after a crash]`,
    );
    stats.idempotentRetries++;
    stats.http += 2;
    if (crashed) {
      stats.crashedActions++;
      w.lastCrashAt = w.rig.clock.now().getTime();
    }
    return {
      label: `${label} [key crash-retry] -> ${a.status}${crashed ? ' (crashed after commit)' : ''}/${b.status}`,
      newEvents: [],
      model: 'none',
      atMostOnce: { conversationId: c.id, actor: agentId, action: type },
    };
  }
  // a client retry with the same Idempotency-Key: in turn, or at once
  const results =
    op.idem === 'retry'
      ? [await actionCall(w, claims, c.id, name, body, key), await actionCall(w, claims, c.id, name, body, key)]
      : await Promise.all([actionCall(w, claims, c.id, name, body, key), actionCall(w, claims, c.id, name, body, key)]);
  stats.idempotentRetries++;
  stats.http += 2;
  results.forEach((r) => expectHttp(r, `${label} [Idempotency-Key]`));
  const [a, b] = results as [HttpResult, HttpResult];
  if (op.idem === 'retry' && a.status === 200)
    check(
      b.status === 200 && canonical(b.body) === canonical(a.body),
      `Idempotency-Key: the retry of ${label} answered ${b.status} ${b.raw}, the first ${a.raw}`,
    );
  if (a.status === 200 && b.status === 200)
    check(
      canonical(a.body) === canonical(b.body),
      `Idempotency-Key: two answers for one key on ${label}: ${a.raw} / ${b.raw}`,
    );
  const type = name === 'transfer' || name === 'consult' ? name : op.act.a;
  return {
    label: `${label} [key ${op.idem}] -> ${a.status}/${b.status}`,
    newEvents: [],
    model: 'none',
    atMostOnce: { conversationId: c.id, actor: agentId, action: type },
  };
}

/** MS-1: the thread's current conversation, if it takes customer events (as the engine decides: not Closed, session active) */
const currentOf = (s: Snap, channelId: string, threadId: string): Conversation | undefined => {
  const id = s.threads.get(threadKey(channelId, threadId));
  const c = id ? s.convs.get(id)?.c : undefined;
  return c && c.status !== 'Closed' && c.session.status === 'active' ? c : undefined;
};

/**
 * What a customer message's applied delivery tells the model: where its text is (MS-1), from the
 * engine's outcome. A message is never dropped: it starts a conversation (seq 1), moves a Waiting one
 * (T-10) or joins the transcript; the only message ignored is T-2's (the contact already left, and the
 * conversation it would have started exists, Closed).
 */
function saidOn(
  a: Accepted,
  out: CustomerEventOutcome,
  what: string,
): Pick<Said, 'expect' | 'conversationId' | 'seq' | 'fresh'> {
  switch (out.outcome) {
    case 'created':
      check(
        out.conversation.channelId === a.channelId && out.conversation.threadId === a.threadId,
        `MS-1: ${what} created ${out.conversation.id} on another thread`,
      );
      return { expect: 'once', conversationId: out.conversation.id, seq: 1, fresh: true };
    case 'transitioned':
      return { expect: 'once', conversationId: out.conversation.id };
    case 'stored':
      return { expect: 'once', conversationId: out.conversationId, seq: out.seq };
    case 'ignored':
      if (!out.reason.startsWith('T-2') && TOLERATE.has('message-lost')) {
        stats.toleratedLost.push(what);
        return { expect: 'none' };
      }
      check(
        out.reason.startsWith('T-2'),
        `MS-1 / RL-1: ${what} was ignored (${out.reason}${out.conversationId ? ` on ${out.conversationId}` : ''}): its text is in no transcript, the customer's message is lost`,
      );
      return { expect: 'none' };
    default:
      throw new Violation(`RL-1: ${what}, delivered for the first time, answered ${JSON.stringify(out)}`);
  }
}

/** The outcome of one delivery, or the error it threw. */
type Delivered = { out: CustomerEventOutcome } | { err: unknown };
const deliver = (w: World, a: Accepted): Promise<Delivered> =>
  handleCustomerEvent(w.rig.deps, w.org, a.channelId, a.event).then(
    (out) => ({ out }),
    (err: unknown) => ({ err }),
  );
const outcomeText = (d: Delivered): string =>
  'out' in d
    ? `${d.out.outcome}${'seq' in d.out ? ` seq ${d.out.seq}` : ''}${'reason' in d.out ? ` (${d.out.reason})` : ''}`
    : `threw ${String(d.err)}`;

async function runMsg(w: World, given0: Snap, given: MsgOp, alone: boolean): Promise<StepReport> {
  let s = given0;
  // with company, no crash hook (it could hit another writer's transaction): a plain delivery
  const op: MsgOp = alone || given.delivery === 'parallel' ? given : { ...given, delivery: 'once' };
  if (op.delivery === 'old') {
    // an event accepted earlier in the run, delivered again: nothing changes
    const old = [...w.accepted.values()];
    if (!old.length) return runMsg(w, s, { ...op, delivery: 'once' }, alone);
    const a = pick(old, op.conv);
    const d = await deliver(w, a);
    stats.messageDuplicates++;
    check(
      'out' in d && d.out.outcome === 'duplicate',
      `RL-1: ${a.event.type} ${a.event.eventId} delivered again answered ${outcomeText(d)}`,
    );
    return {
      label: `msg again ${a.event.type} ${a.event.eventId} -> ${outcomeText(d)}`,
      newEvents: [],
      model: alone ? 'exact' : 'none',
      unchanged: alone,
    };
  }
  let live = w.convIds.map((id) => s.convs.get(id)?.c).filter((c): c is Conversation => !!c && c.status !== 'Closed');
  let waiting = live.filter((c) => c.status === 'Waiting');
  // T-5 then T-10: with another writer to come and no Waiting conversation, the primary of an
  // accepted persistent one first closes it to Waiting (then the customer writes as someone acts)
  let prepared = '';
  const closable = live.filter(
    (c) =>
      c.mode === 'persistent' &&
      c.status === 'Active' &&
      c.accepted !== false &&
      c.primaryKind !== 'external' &&
      c.primaryAgentId !== undefined &&
      c.session.status === 'active',
  );
  if (alone && op.aim && op.interpose && !waiting.length && closable.length) {
    const c = pick(closable, op.conv);
    const r = expectHttp(
      await actionCall(w, agentClaims(w, c.primaryAgentId as string), c.id, 'close', undefined),
      `${c.primaryAgentId} close on ${c.id}`,
    );
    stats.http++;
    prepared = `${c.primaryAgentId} close on ${c.id} -> ${r.status}; then `;
    await w.rig.settle();
    s = await snapshot(w);
    live = w.convIds.map((id) => s.convs.get(id)?.c).filter((x): x is Conversation => !!x && x.status !== 'Closed');
    waiting = live.filter((x) => x.status === 'Waiting');
  }
  // aimed: a thread with a conversation (a Waiting one, T-10, when another writer comes, or every
  // other time, if any); else any thread
  const toWaiting = waiting.length > 0 && (op.interpose !== undefined || op.conv % 2 === 0);
  const thread = op.aim && live.length ? pick(toWaiting ? waiting : live, op.conv) : pick(w.threadKeys, op.conv);
  const ch = w.channels.findIndex((x) => x.id === thread.channelId);
  const plain = newEvent(w, { ch, th: Number(thread.threadId.slice(2)), type: op.type, billing: false, need: 'none' });
  const text = `says ${w.run}.${w.seq}`;
  const a: Accepted = { ...plain, event: { ...plain.event, message: { text } } };
  const tk = threadKey(a.channelId, a.threadId);
  const current = currentOf(s, a.channelId, a.threadId);
  const receiptKey = `${a.channelId}#${a.event.eventId}`;
  const ours = (writes: readonly Write[]): boolean => writes.some((x) => x.type === 'receipt' && x.key === receiptKey);
  stats.customerMessages++;

  // another writer changes the thread's conversation right before the event's (first) transaction;
  // and / or that transaction crashes (before it commits, or after)
  let second: StepReport | undefined;
  const crash = op.delivery === 'crash-after' ? 'after' : op.delivery === 'crash-before' ? 'before' : undefined;
  // on a Waiting conversation, the agent's action is one Waiting takes (T-9 resume, M-2, S-4 / X-3 transfers)
  const x =
    current?.status === 'Waiting' &&
    op.interpose &&
    'a' in op.interpose &&
    !['resume', 'end-session', 'transfer-agent', 'transfer-queue'].includes(op.interpose.a)
      ? ({ a: 'resume' } as const)
      : current
        ? op.interpose
        : undefined;
  if (current?.status === 'Waiting') stats.messagesOnWaiting++;
  let hook: object | undefined;
  if (x || crash) {
    const only = current ? { ...s, convs: new Map([[current.id, s.convs.get(current.id) as ConvView]]) } : s;
    const other: Op | undefined = !x
      ? undefined
      : 's' in x
        ? { t: 'sup', act: x, conv: 0, aim: false }
        : { t: 'act', who: 'primary', act: x, idem: 'none', conv: 0, aim: false };
    hook = w.rig.faults.add({
      match: ours,
      ...(other
        ? {
            before: async () => {
              second = await runOp(w, only, other, false);
            },
          }
        : {}),
      ...(crash ? { crash } : {}),
    });
  }
  let deliveries: Delivered[];
  if (op.delivery === 'parallel') deliveries = await Promise.all([deliver(w, a), deliver(w, a)]);
  else if (op.delivery === 'once') deliveries = [await deliver(w, a)];
  else deliveries = [await deliver(w, a), await deliver(w, a)];
  const fired = hook ? w.rig.faults.take(hook) : false;
  const hit = fired && x !== undefined;
  if (hit) stats.messagesInterposed++;
  // the first delivery died with the injected crash (after the other writer, its commit may have been
  // cancelled instead: then it was decided again, and committed without a crash)
  const crashed = 'err' in (deliveries[0] as Delivered);
  if (crashed) w.lastCrashAt = w.rig.clock.now().getTime();
  const what = `${a.event.type} ${a.event.eventId} ${JSON.stringify(text)} on ${tk}`;
  const label = `${prepared}msg ${what} (${current ? `${current.id} ${current.channelKind} ${current.status}` : 'no current conversation'}) [${op.delivery}] -> ${deliveries.map(outcomeText).join(' / ')}${second ? ` <- [${second.label}]` : ''}`;
  deliveries.forEach((d) =>
    check(
      !('err' in d) || d.err instanceof InjectedCrash,
      `RL-1: ${label}: a delivery threw ${String((d as { err: unknown }).err)}`,
    ),
  );
  const outcomes = deliveries.flatMap((d) => ('out' in d ? [d.out] : []));
  const applied = outcomes.filter((o) => o.outcome !== 'duplicate');
  stats.messageDuplicates += outcomes.length - applied.length;
  if (crash) check(fired && (crashed || (crash === 'after' && hit)), `${label}: the injected crash did not happen`);
  else check(!crashed, `${label}: a delivery crashed`);
  check(
    applied.length === (crashed && crash === 'after' ? 0 : 1),
    `RL-1: ${label}: applied ${applied.length} times for one event`,
  );
  let place: Pick<Said, 'expect' | 'conversationId' | 'seq' | 'fresh'>;
  const first = applied[0];
  if (first) {
    stats.messageOutcomes[first.outcome] = (stats.messageOutcomes[first.outcome] ?? 0) + 1;
    place = saidOn(a, first, label);
  } else {
    // committed, then the consumer died: the retry is a duplicate, the model says where the text went
    const mode = modeOf((w.channels[ch] as { kind: Kind }).kind);
    const stored = messageStored(
      threadState(s, a.channelId, a.threadId),
      mode,
      Date.parse(a.event.occurredAt ?? ''),
      s.now,
    );
    place = !stored
      ? { expect: 'none' }
      : current && !hit
        ? { expect: 'once', conversationId: current.id }
        : current
          ? { expect: 'once' }
          : { expect: 'once', seq: 1, fresh: true };
    stats.messageOutcomes['committed-then-crashed'] = (stats.messageOutcomes['committed-then-crashed'] ?? 0) + 1;
  }
  const said: Said = { from: 'customer', text, channelId: a.channelId, threadId: a.threadId, why: label, ...place };
  return {
    label,
    newEvents: [a],
    model: alone && !hit && !prepared ? 'exact' : 'bounded',
    said: [said],
  };
}

/**
 * MS-2: who may reply, as the rule says (independently of the engine's code): the primary agent, or
 * the supervisor once she joined; and when: Active, accepted (not an offer), the session not ended.
 */
function replyAllowed(c: Conversation, caller: { id: string; supervisor: boolean }): { who: boolean; when: boolean } {
  const who = caller.supervisor
    ? (c.supervisors ?? []).includes(caller.id)
    : c.primaryKind !== 'external' && c.primaryAgentId === caller.id;
  return { who, when: c.status === 'Active' && c.accepted !== false && c.session.status !== 'ended' };
}

type Replied = { text: string; m?: Message; err?: unknown };

async function runReply(w: World, s: Snap, given: ReplyOp, alone: boolean): Promise<StepReport> {
  const op: ReplyOp = alone || given.idem !== 'crash-retry' ? given : { ...given, idem: 'retry' };
  const live = w.convIds.map((id) => s.convs.get(id)?.c).filter((c): c is Conversation => !!c && c.status !== 'Closed');
  if (!live.length) return { label: 'reply (no conversation)', newEvents: [], model: 'none' };
  const hits = op.aim ? live.filter((c) => c.status === 'Active' && c.accepted !== false) : [];
  const c = pick(hits.length ? hits : live, op.conv);
  const supervisor = op.who === 'sup';
  const callerId =
    op.who === 'sup'
      ? 'sup'
      : op.who === 'primary'
        ? c.primaryKind !== 'external' && c.primaryAgentId && w.agents.includes(c.primaryAgentId)
          ? c.primaryAgentId
          : pick(w.agents, op.conv)
        : pick(w.agents, op.who);
  const caller = { org: w.org, id: callerId, roles: supervisor ? ['supervisor'] : ['agent'] };
  const send = (text: string, key?: string): Promise<Replied> =>
    sendReply(w.rig.deps, { caller, conversationId: c.id, text, ...(key ? { idempotencyKey: key } : {}) }).then(
      (m) => ({ text, m }),
      (err: unknown) => ({ text, err }),
    );
  const texts = [`reply ${w.run}.${++w.seq}`, ...(op.pair && op.idem === 'none' ? [`reply ${w.run}.${++w.seq}`] : [])];
  const [t1, t2] = texts as [string, string | undefined];
  stats.replies += texts.length;
  const key = `rk-${ulid()}`;
  let results: Replied[];
  let crashed = false;
  if (op.idem === 'none') results = await Promise.all(texts.map((t) => send(t)));
  else if (op.idem === 'parallel') results = await Promise.all([send(t1, key), send(t1, key)]);
  else if (op.idem === 'retry') results = [await send(t1, key), await send(t1, key)];
  else {
    // the first call commits, then its Lambda dies before answering; the client retries with the same key
    const hook = w.rig.faults.add({
      match: (writes) => writes.some((x) => x.type === 'message' && x.message.text === t1),
      crash: 'after',
    });
    const a = await send(t1, key);
    crashed = w.rig.faults.take(hook);
    if (crashed) {
      check(a.err instanceof InjectedCrash, `MS-2: the injected crash of a reply answered ${String(a.m?.id ?? a.err)}`);
      stats.replyCrashes++;
      w.lastCrashAt = w.rig.clock.now().getTime();
    }
    results = [...(crashed ? [] : [a]), await send(t1, key)];
  }
  const label = `${supervisor ? 'sup' : callerId} reply${op.pair && t2 ? ' x2' : ''} on ${c.id} (${c.channelKind} ${c.status}${c.accepted === false ? ' offered' : ''}, primary ${c.primaryAgentId ?? '-'}) [${op.idem}${crashed ? ', crashed after commit' : ''}] -> ${results.map((r) => (r.m ? `${r.m.id}` : ((r.err as Error)?.name ?? String(r.err)))).join(' / ')}`;
  const refusal = (err: unknown): boolean =>
    err instanceof ForbiddenActionError ||
    err instanceof NotFoundError ||
    err instanceof TransitionConflictError ||
    // with company, a reply may lose every race (RL-2, nothing committed)
    (!alone && err instanceof Error && err.name === 'RaceLostError');
  for (const r of results)
    if (r.err !== undefined) check(refusal(r.err), `MS-2: ${label}: ${JSON.stringify(r.text)} threw ${String(r.err)}`);
  const allowed = replyAllowed(c, { id: callerId, supervisor });
  const said: Said[] = [];
  for (const text of texts) {
    const mine = results.filter((r) => r.text === text);
    const ok = mine.flatMap((r) => (r.m ? [r.m] : []));
    const m = ok[0];
    // one key, one message: every answer that succeeded is the first message
    check(
      ok.every((x) => canonical(x) === canonical(m)),
      `MS-2 Idempotency-Key: ${label}: different messages for one key: ${ok.map((x) => canonical(x)).join(' / ')}`,
    );
    if (alone) {
      // nothing else ran: the answer is the rule's, and both answers under one key agree
      const errs = mine.flatMap((r) => (r.err !== undefined ? [r.err] : []));
      if (allowed.who && allowed.when)
        check(
          m !== undefined && errs.length === 0,
          `MS-2: ${label}: the primary's reply on an Active conversation was refused`,
        );
      else {
        check(
          m === undefined,
          `MS-2: ${label}: a reply was sent though the rule refuses it (${JSON.stringify(allowed)})`,
        );
        check(
          errs.every((e) =>
            allowed.who
              ? e instanceof TransitionConflictError
              : e instanceof ForbiddenActionError || e instanceof NotFoundError,
          ),
          `MS-2: ${label}: refused with ${errs.map((e) => (e as Error).name).join(', ')}, the rule says ${allowed.who ? '409 (not Active and accepted)' : '403 / 404 (not the primary, nor a joined supervisor)'}`,
        );
      }
    }
    if (m) {
      check(
        m.text === text &&
          m.from === 'agent' &&
          m.agentId === callerId &&
          m.conversationId === c.id &&
          m.automated === undefined,
        `MS-2: ${label}: sendReply answered ${canonical(m)} for ${JSON.stringify(text)}`,
      );
      stats.repliesSent++;
      stats.replyReplays += ok.length - 1;
    } else {
      stats.repliesRefused++;
      const name = (mine.find((r) => r.err !== undefined)?.err as Error | undefined)?.name ?? 'none';
      stats.refusedBy[name] = (stats.refusedBy[name] ?? 0) + 1;
    }
    said.push({
      from: 'agent',
      text,
      channelId: c.channelId,
      threadId: c.threadId,
      agentId: callerId,
      why: label,
      ...(m ? { expect: 'once' as const, conversationId: m.conversationId, seq: m.seq } : { expect: 'none' as const }),
    });
  }
  return { label, newEvents: [], model: 'none', said };
}

async function runSup(w: World, s: Snap, op: Extract<Op, { t: 'sup' }>): Promise<StepReport> {
  const c = targetOf(w, s, op);
  if (!c) return { label: 'sup (no conversation)', newEvents: [], model: 'none' };
  const x = op.act;
  const [name, body]: [string, unknown] =
    x.s === 'assign-agent'
      ? ['assign', { agentId: pick(w.agents, x.to), ...(x.override ? { override: true } : {}) }]
      : x.s === 'assign-queue'
        ? ['assign', { queueId: x.q }]
        : x.s === 'transfer'
          ? ['transfer', { agentId: pick(w.agents, x.to) }]
          : x.s === 'prioritize'
            ? ['prioritize', { priority: x.priority }]
            : [x.s, undefined];
  const label = `sup ${name}${body ? ` ${JSON.stringify(body)}` : ''} on ${c.id} (${c.channelKind} ${c.status})`;
  const r = expectHttp(await actionCall(w, supClaims(w), c.id, name, body), label);
  stats.http++;
  if (r.status >= 400) stats.http4xx++;
  return {
    label: `${label} -> ${r.status}${r.status >= 400 ? ` ${String(r.body.detail)}` : ''}`,
    newEvents: [],
    model: 'none',
  };
}

async function runState(w: World, op: Extract<Op, { t: 'state' }>): Promise<StepReport> {
  const agentId = pick(w.agents, op.agent);
  const claims = agentClaims(w, agentId);
  const [routeKey, body]: [string, unknown] =
    op.what === 'sign-in'
      ? ['POST /v1/agents/me/sign-in', undefined]
      : op.what === 'sign-out'
        ? ['POST /v1/agents/me/sign-out', undefined]
        : op.what === 'connect' || op.what === 'disconnect'
          ? ['POST /v1/agents/me/connection', { connected: op.what === 'connect' }]
          : ['PUT /v1/agents/me/presence', { presence: op.what }];
  const r = expectHttp(
    await w.rig.http('agents', routeKey, { claims, ...(body !== undefined ? { body: JSON.stringify(body) } : {}) }),
    `${agentId} ${op.what}`,
  );
  stats.http++;
  check(r.status === 200, `${agentId} ${op.what} answered ${r.status} ${r.raw}`);
  return { label: `${agentId} ${op.what} -> ${r.status}`, newEvents: [], model: 'none' };
}

const TIMER_ACTIONS: Partial<Record<DueTimer['kind'], string>> = {
  'wrapup-release': 'wrapup-release',
  'inactivity-timeout': 'inactivity-timeout',
  'reconnect-timeout': 'reconnect-timeout',
  'offer-expiry': 'offer-expired',
  relax: 'relax',
};
/** EventBridge Scheduler delivers these (the others are run after the commit or swept) */
const PRECISE = new Set<DueTimer['kind']>([
  'wrapup-release',
  'inactivity-timeout',
  'reconnect-timeout',
  'offer-expiry',
  'presence-grace',
]);

/** TM-5: a timer whose subject moved on (by the facts it was armed for) must change nothing. */
function strictlyStale(s: Snap, t: DueTimer): boolean {
  const c = t.conversationId ? s.convs.get(t.conversationId)?.c : undefined;
  const agent = t.agentId ? s.agents.get(t.agentId)?.agent : undefined;
  switch (t.kind) {
    case 'offer-expiry':
      return !c || c.version !== t.version || c.status !== 'Active' || c.accepted !== false;
    case 'wrapup-release':
      return !c || c.status !== 'WrapUp' || !c.allocation;
    case 'inactivity-timeout':
      return !c || c.status !== 'Waiting' || Date.parse(c.statusSince) + INACTIVITY_SECONDS * 1000 > s.now;
    case 'reconnect-timeout':
      return (
        !agent ||
        agent.connected !== false ||
        (agent.connectionEpoch ?? 0) !== t.version ||
        c?.status !== 'Active' ||
        c.primaryAgentId !== t.agentId
      );
    case 'presence-grace':
      return !agent || agent.connected !== false || (agent.connectionEpoch ?? 0) !== t.version;
    case 'relax':
      // K-3: the wait it was armed for is over (left Open, or entered the queue again)
      return !c || c.status !== 'Open' || !c.requirements || enqueuedAtOf(c) !== t.subjectSince;
    default:
      return false;
  }
}

async function fireTwice(w: World, timers: DueTimer[]): Promise<void> {
  const precise = timers.filter((t) => PRECISE.has(t.kind));
  const others = timers.filter((t) => !PRECISE.has(t.kind));
  // the timers consumer gets each timer twice in one batch (processed in parallel); the others fire twice at once
  const [res] = await Promise.all([
    precise.length ? w.rig.timersBatch(precise.flatMap((t) => [t, t])) : Promise.resolve({ batchItemFailures: [] }),
    ...others.flatMap((t) => [fireTimer(w.rig.deps, t), fireTimer(w.rig.deps, t)]),
  ]);
  check(
    (res?.batchItemFailures ?? []).length === 0,
    `TM-5: the timers consumer failed records: ${JSON.stringify(res?.batchItemFailures)}`,
  );
  for (const t of others) await w.rig.store.deleteTimer(t.org, t.name);
  stats.timersFired += timers.length * 2;
}

async function runTimer(w: World, s: Snap, op: Extract<Op, { t: 'timer' }>): Promise<StepReport> {
  if (op.mode === 'stash') {
    w.stash = [...w.stash, ...(await w.rig.outbox(w.org))].slice(-60);
    return { label: `stash timers (${w.stash.length})`, newEvents: [], model: 'none' };
  }
  if (op.mode === 'stale') {
    const now = w.rig.clock.now().getTime();
    let due = w.stash.filter((t) => Date.parse(t.at) <= now && t.kind !== 'notify' && t.kind !== 'trigger');
    if (!due.length) return { label: 'stale timers (none due)', newEvents: [], model: 'none' };
    due = [pick(due, op.pick), pick(due, op.pick + 1)].filter((t, i, l) => l.indexOf(t) === i);
    const strict = due.every((t) => strictlyStale(s, t));
    const precise = due.filter((t) => PRECISE.has(t.kind));
    if (precise.length) {
      const res = await w.rig.timersBatch(precise);
      check(
        res.batchItemFailures.length === 0,
        `TM-5: the timers consumer failed a stale timer: ${JSON.stringify(res.batchItemFailures)}`,
      );
    }
    for (const t of due.filter((x) => !PRECISE.has(x.kind))) await fireTimer(w.rig.deps, t);
    stats.staleFires += due.length;
    return {
      label: `stale timers ${due.map((t) => `${t.kind}/${t.conversationId ?? t.agentId}/v${t.version}`).join(', ')}${strict ? ' (strictly stale)' : ''}`,
      newEvents: [],
      model: 'none',
      unchanged: strict,
    };
  }
  // double: what is due fires twice at once; if nothing is due yet, the clock goes to the next timer first
  let box = (await w.rig.outbox(w.org)).filter((t) => t.kind !== 'notify' && t.kind !== 'trigger');
  let now = w.rig.clock.now().getTime();
  if (box.length && !box.some((t) => Date.parse(t.at) <= now)) {
    const next = Math.min(...box.map((t) => Date.parse(t.at)));
    w.rig.clock.advance(Math.ceil((next - now) / 1000));
    now = w.rig.clock.now().getTime();
  }
  box = box.filter((t) => Date.parse(t.at) <= now);
  if (!box.length) return { label: 'double fire (nothing armed)', newEvents: [], model: 'none' };
  const chosen = [pick(box, op.pick), pick(box, op.pick + 1), pick(box, op.pick + 2)].filter(
    (t, i, l) => l.indexOf(t) === i,
  );
  await fireTwice(w, chosen);
  stats.doubleFires += chosen.length;
  const doubleFired = chosen.flatMap((t) =>
    t.conversationId && TIMER_ACTIONS[t.kind]
      ? [{ conversationId: t.conversationId, action: TIMER_ACTIONS[t.kind] as string }]
      : [],
  );
  return {
    label: `double fire ${chosen.map((t) => `${t.kind}/${t.conversationId ?? t.agentId}/v${t.version}`).join(', ')}`,
    newEvents: [],
    model: 'none',
    doubleFired,
  };
}

async function runOp(w: World, s: Snap, op: Op, alone: boolean): Promise<StepReport> {
  switch (op.t) {
    case 'act':
      return runAct(w, s, op, alone);
    case 'msg':
      return runMsg(w, s, op, alone);
    case 'reply':
      return runReply(w, s, op, alone);
    case 'sup':
      return runSup(w, s, op);
    case 'state':
      return runState(w, op);
    case 'hook':
      return runHook(w, s, op, alone);
    case 'clock': {
      const hook = op.crash
        ? w.rig.faults.add({
            match: (writes) =>
              writes.some((x) => x.type === 'event' && x.event.role === 'system' && x.event.org === w.org),
            crash: 'after',
          })
        : undefined;
      const fired = await w.rig.advance(op.seconds);
      if (hook && w.rig.faults.take(hook)) {
        stats.crashedTimers++;
        w.lastCrashAt = w.rig.clock.now().getTime();
      }
      stats.sweeps++;
      stats.timersFired += fired.length;
      return {
        label: `clock +${op.seconds}s, fired ${
          fired
            .filter((f) => f.org === w.org)
            .map((f) => `${f.kind}:${f.outcome}`)
            .join(' ') || 'nothing'
        }`,
        newEvents: [],
        model: 'none',
        swept: true,
      };
    }
    case 'timer':
      return runTimer(w, s, op);
  }
}

async function runStep(w: World, s: Snap, step: Step): Promise<StepReport> {
  if (step.t === 'stream-crash') {
    // the follow-ups consumer runs its work, then dies, on the next batches: the stream hands the same
    // records over again (at-least-once); follow-ups must change nothing twice
    w.rig.streamFaults.crashes = step.crashes;
    const before = { ...w.rig.streamFaults };
    const report = await runOp(w, s, step.op, true);
    w.rig.streamFaults.crashes = 0;
    stats.streamCrashes += w.rig.streamFaults.fired - before.fired;
    stats.redeliveredStreamRecords += w.rig.streamFaults.records - before.records;
    return { ...report, label: `stream consumer crashes x${step.crashes} [${report.label}]` };
  }
  if (step.t === 'race') {
    stats.races++;
    const reports = await Promise.all(step.ops.map((op) => runOp(w, s, op, false)));
    return {
      label: `race [${reports.map((r) => r.label).join(' || ')}]`,
      newEvents: reports.flatMap((r) => r.newEvents),
      model: reports.some((r) => r.model !== 'none') ? 'bounded' : 'none',
      doubleFired: [],
      said: reports.flatMap((r) => r.said ?? []),
    };
  }
  if (step.t === 'interpose') {
    // another writer commits right before the first operation's transaction: it is cancelled and decided again
    stats.interposed++;
    const c = targetOf(w, s, step.first);
    let second: StepReport | undefined;
    let hook: object | undefined;
    if (c) {
      const agentId = actorOf(w, step.first, c);
      hook = w.rig.faults.add({
        match: (writes) =>
          step.on === 'conversation'
            ? writes.some((x) => x.type === 'conversation' && x.item.id === c.id && x.expect !== 'absent')
            : writes.some((x) => x.type === 'pool-consume' && x.agentId === agentId),
        before: async () => {
          second = await runOp(w, s, step.second, false);
        },
      });
    }
    const first = await runOp(w, s, step.first, false);
    if (hook && w.rig.faults.take(hook)) stats.interposedHit++;
    second ??= await runOp(w, s, step.second, false);
    return {
      label: `interpose on ${step.on} [${first.label}] <- [${second.label}]`,
      newEvents: [...first.newEvents, ...second.newEvents],
      model: second.model === 'none' ? 'none' : 'bounded',
      said: [...(first.said ?? []), ...(second.said ?? [])],
    };
  }
  if (step.t === 'interpose-event') {
    stats.interposedEvents++;
    const open = w.convIds
      .map((id) => s.convs.get(id)?.c)
      .filter((c): c is Conversation => !!c && c.status !== 'Closed');
    if (!open.length) return { label: 'interpose-event (no conversation)', newEvents: [], model: 'none' };
    const c = pick(open, step.conv);
    const ch = w.channels.findIndex((x) => x.id === c.channelId);
    const a = newEvent(w, { ch, th: Number(c.threadId.slice(2)), type: step.type, billing: false, need: 'none' });
    let second: StepReport | undefined;
    const op: Op =
      's' in step.second
        ? { t: 'sup', act: step.second, conv: w.convIds.indexOf(c.id), aim: false }
        : { t: 'act', who: 'primary', act: step.second, idem: 'none', conv: 0, aim: false };
    const only = { ...s, convs: new Map([[c.id, s.convs.get(c.id) as ConvView]]) };
    const hook = w.rig.faults.add({
      match: (writes) => writes.some((x) => x.type === 'receipt'),
      before: async () => {
        second = await runOp(w, only, op, false);
      },
    });
    await postEvent(w, a);
    await w.rig.consume();
    if (w.rig.faults.take(hook)) stats.interposedEventsHit++;
    return {
      label: `interpose-event ${a.event.type} on ${c.id} (${c.channelKind} ${c.status}) <- [${second?.label ?? 'not reached'}]`,
      newEvents: [a],
      model: 'bounded',
    };
  }
  return runOp(w, s, step, true);
}

// ---------------------------------------------------------------------------------------------------
// After a step: discover new conversations, check RL-1, TM-5 and the invariants

async function discover(w: World, events: readonly Accepted[]): Promise<void> {
  const threads = new Map(events.map((a) => [threadKey(a.channelId, a.threadId), a]));
  for (const a of threads.values()) {
    const page = await w.rig.store.listConversations(
      w.org,
      { channelId: a.channelId, threadId: a.threadId },
      { limit: 100 },
    );
    for (const c of page.items) if (!w.convIds.includes(c.id)) w.convIds.push(c.id);
  }
}

async function assess(w: World, before: Snap, report: StepReport, settings: OrgSettings): Promise<Snap> {
  // a quiet point: what the step committed has gone through the stream's follow-ups (timers fired
  // straight through `fireTimer` do not settle by themselves)
  if ((await w.rig.settle()) > 0) stats.settledAtQuietPoint++;
  await discover(w, report.newEvents);
  const after = await snapshot(w);
  await checkInvariants(w, after);
  const t0 = performance.now();
  await checkMetrics(w, after, settings);
  metricsMs += performance.now() - t0;
  for (const [id, v] of after.convs)
    for (const e of v.events.slice(before.convs.get(id)?.events.length ?? 0)) {
      if (e.action === 'relax') stats.relaxations++;
      else if (e.action === 'prioritize') stats.prioritized++;
      else if (e.action === 'offer' && v.c.requirements) stats.requiredOffers++;
    }

  // RL-1: every accepted event applied (its receipt exists), each thread changed by what the model says
  const fresh = report.newEvents.filter((a) => !w.accepted.has(`${a.channelId}#${a.event.eventId}`));
  const receipts = await Promise.all(
    fresh.map((a) => item(w.rig.doc, w.rig.tableName, keys.receipt(w.org, `${a.channelId}#${a.event.eventId}`))),
  );
  fresh.forEach((a, i) =>
    check(
      receipts[i] !== undefined,
      `RL-1: accepted event ${a.event.eventId} (${a.event.type}) has no receipt: never applied`,
    ),
  );
  const byThread = new Map<string, Accepted[]>();
  for (const a of fresh)
    byThread.set(threadKey(a.channelId, a.threadId), [...(byThread.get(threadKey(a.channelId, a.threadId)) ?? []), a]);
  // MS-1: the customer messages of webhooks (the step's own messages came with the engine's answers)
  const own = new Set((report.said ?? []).map((x) => x.text));
  const heard: Said[] = [];
  for (const [tk, list] of byThread) {
    const { channelId, threadId } = list[0] as Accepted;
    const mode = modeOf((w.channels.find((c) => c.id === channelId) as { kind: Kind }).kind);
    let st = threadState(before, channelId, threadId);
    let events = 0;
    let convs = 0;
    // the thread's current conversation as the events go: known before the step, or one it created
    let cur: string | undefined = st.st === 'none' ? undefined : before.threads.get(tk);
    for (const a of list) {
      const at = Date.parse(a.event.occurredAt ?? '');
      const text = a.event.message?.text;
      if (text !== undefined && startsConversation(a.event.type) && !own.has(text)) {
        stats.webhookMessages++;
        // exact: where the customer rules put it; bounded (another writer ran): exactly once in its
        // thread, unless a T-2 end on the thread may have made the conversation it would start
        const place: Pick<Said, 'expect' | 'conversationId' | 'seq' | 'fresh'> =
          report.model !== 'exact'
            ? { expect: after.earlyEnds.get(tk)?.conversationId !== undefined ? 'maybe' : 'once' }
            : !messageStored(st, mode, at, before.now)
              ? { expect: 'none' }
              : st.st === 'none'
                ? { expect: 'once', seq: 1, fresh: true }
                : cur === undefined || !before.convs.has(cur)
                  ? { expect: 'once', fresh: true }
                  : { expect: 'once', conversationId: cur };
        heard.push({
          from: 'customer',
          text,
          channelId,
          threadId,
          why: `webhook ${a.event.type} ${a.event.eventId} in ${report.label}`,
          ...place,
        });
      }
      const e = customerEffect(st, a.event.type, mode, at, before.now);
      events += e.events;
      convs += e.convs;
      if (e.convs && e.next.st === 'none' && report.model === 'exact') stats.closedAtCreation++;
      st = e.next;
      cur = st.st === 'none' ? undefined : e.convs ? '(new)' : cur;
    }
    const b = customerEventsOn(before, channelId, threadId);
    const x = customerEventsOn(after, channelId, threadId);
    const what = `RL-1: thread ${tk} after ${list.map((a) => `${a.event.type}(${a.event.eventId})`).join(', ')} from ${JSON.stringify(threadState(before, channelId, threadId))}`;
    if (report.model === 'exact') {
      check(x.convs - b.convs === convs, `${what}: ${x.convs - b.convs} new conversation(s), expected ${convs}`);
      check(
        x.events - b.events === events,
        `${what}: ${x.events - b.events} new customer history event(s), expected ${events}`,
      );
    } else {
      check(
        x.convs - b.convs <= list.length && x.events - b.events <= list.length,
        `${what}: more effects than distinct events (${x.convs - b.convs} conversations, ${x.events - b.events} events)`,
      );
    }
  }
  for (const a of fresh) w.accepted.set(`${a.channelId}#${a.event.eventId}`, a);
  // MS-1 / MS-2 / MS-4: the transcripts as the model says, and what the outbound queue carried
  for (const x of [...heard, ...(report.said ?? [])]) {
    check(!w.said.has(x.text), `a step reused the text ${JSON.stringify(x.text)}`);
    w.said.set(x.text, x);
  }
  const t1 = performance.now();
  // the outbound queue is read when the transcripts hold a reply or automated message not seen
  // published yet (what was published meanwhile, again or not, is read then, or at the run's end)
  if ([...after.convs.values()].some((v) => v.messages.some((m) => m.from !== 'customer' && !w.published.has(m.id))))
    await drainOutbound(w);
  checkTranscripts(w, before, after);
  await checkPaging(
    w,
    after,
    [...after.convs.keys()].filter(
      (id) => after.convs.get(id)?.messages.length !== (before.convs.get(id)?.messages.length ?? 0),
    ),
  );
  messagesMs += performance.now() - t1;
  if (!report.newEvents.length && report.model !== 'none') {
    // nothing new was accepted: customer history must not have grown
    for (const t of w.threadKeys)
      check(
        customerEventsOn(after, t.channelId, t.threadId).events ===
          customerEventsOn(before, t.channelId, t.threadId).events,
        `RL-1: customer history of ${threadKey(t.channelId, t.threadId)} grew without a new event`,
      );
  }
  if (report.unchanged)
    check(
      fingerprint(after) === fingerprint(before),
      `RL-1 / TM-5: ${report.label} must change nothing, but the org changed`,
    );
  for (const d of report.doubleFired ?? []) {
    const n =
      (after.convs.get(d.conversationId)?.events.length ?? 0) -
      (before.convs.get(d.conversationId)?.events.length ?? 0);
    const applied =
      n > 0
        ? (after.convs.get(d.conversationId)?.events ?? []).slice(-n).filter((e) => e.action === d.action).length
        : 0;
    check(
      applied <= 1,
      `TM-5: ${d.action} fired twice applied ${applied} times on ${d.conversationId}: ${historyText(after.convs.get(d.conversationId)?.events ?? [])}`,
    );
  }
  if (report.atMostOnce) {
    const { conversationId, actor, action } = report.atMostOnce;
    const added = (after.convs.get(conversationId)?.events ?? []).slice(
      before.convs.get(conversationId)?.events.length ?? 0,
    );
    const applied = added.filter((e) => e.actor === actor && e.action === action);
    check(
      applied.length <= 1,
      `API Idempotency-Key: ${actor} ${action} on ${conversationId} applied ${applied.length} times for one key: ${historyText(applied)}`,
    );
  }
  if (report.swept) checkDeadlines(w, after, settings);
  return after;
}

// ---------------------------------------------------------------------------------------------------
// One run

/**
 * R-1, K-2, Q-1: the `need` context variable picks a rule with a requirement and/or a priority; the
 * `topic` one (no requirement) goes on to q2 as before.
 */
const rulesOf = (cfg: WsConfig): RoutingRule[] => [
  {
    when: { field: 'need', equals: 'billing' },
    queueId: 'q1',
    requires: { billing: cfg.billing },
    ...(cfg.billingPriority !== undefined ? { priority: cfg.billingPriority } : {}),
  },
  {
    when: { field: 'need', equals: 'french' },
    queueId: 'q2',
    requires: { french: cfg.french, ...(cfg.frenchBilling !== undefined ? { billing: cfg.frenchBilling } : {}) },
  },
  { when: { field: 'need', equals: 'vip' }, queueId: 'q1', priority: cfg.vipPriority },
  { when: { field: 'topic', equals: 'billing' }, queueId: 'q2' },
];

async function runScenario(rig: Rig, run: number, setup: Setup, steps: Step[]): Promise<void> {
  const org = `r${ulid().toLowerCase()}`;
  const { store } = rig;
  await store.putQueue({ org, id: 'q1', name: 'Queue 1' });
  await store.putQueue({ org, id: 'q2', name: 'Queue 2' });
  const settings: OrgSettings = {
    org,
    ...DEFAULT_SETTINGS,
    supervisorMonitor: true,
    supervisorAssign: true,
    supervisorTransfer: true,
    forceClose: true,
    agentEndMessagingSession: true,
  };
  await store.putSettings(settings);
  const channels: World['channels'] = [];
  for (const [i, kind] of KINDS.entries()) {
    const cfg = setup.ws[kind];
    const relaxed = i === setup.relaxed;
    const ws: Workstream = {
      org,
      id: `ws-${kind}`,
      name: kind,
      mode: modeOf(kind),
      capacity: { pool: 'default', units: cfg.units },
      allowedPresences: ['Available', 'Busy'],
      wrapUp: { blockCapacity: cfg.wrapUp },
      waitingInactivityTimeoutSeconds: INACTIVITY_SECONDS,
      agentReconnectTimeoutSeconds: RECONNECT_SECONDS,
      offerTimeoutSeconds: OFFER_SECONDS,
      routingRules: rulesOf(cfg),
      defaultQueueId: 'q1',
      distribution: cfg.push || relaxed ? 'push' : 'pick',
      assignment: ASSIGNMENT_METHODS[(i + setup.assignFrom) % ASSIGNMENT_METHODS.length] as AssignmentMethod,
      ...(cfg.aging !== undefined ? { priorityAgingSeconds: cfg.aging } : {}),
      ...(cfg.relaxOn || relaxed ? { skillRelaxation: cfg.relax } : {}),
    };
    await store.putWorkstream(ws);
    const id = `${org}-${kind}`;
    await store.putChannel({ org, id, kind, workstreamId: ws.id }, SECRET);
    channels.push({ kind, id, ws });
  }
  const agents = setup.agents.map((_, i) => `a${i}`);
  await Promise.all(
    setup.agents.map((a, i) =>
      store.putAgent({
        org,
        id: `a${i}`,
        name: `Agent ${i}`,
        queues: a.q2 ? ['q1', 'q2'] : ['q1'],
        bot: false,
        capacity: { default: a.max },
        ...(Object.keys(a.skills).length ? { skills: a.skills } : {}),
      }),
    ),
  );
  const threadKeys = channels.flatMap((c) =>
    Array.from({ length: setup.threads }, (_, i) => ({ channelId: c.id, threadId: `th${i}` })),
  );
  const w: World = {
    rig,
    run,
    org,
    setup,
    agents,
    channels,
    threadKeys,
    convIds: [],
    closed: new Map(),
    accepted: new Map(),
    stash: [],
    seq: 0,
    trace: [],
    lastCrashAt: 0,
    skills: new Map(setup.agents.map((a, i) => [`a${i}`, a.skills])),
    waits: new Map(),
    said: new Map(),
    published: new Map(),
  };
  if (setup.templates)
    for (const [event, text] of Object.entries(TEMPLATES))
      await rig.deps.configuration.putMessageTemplate({
        org,
        event: event as keyof typeof TEMPLATES,
        text,
        enabled: true,
      });
  for (const [i, a] of setup.agents.entries())
    if (a.signedIn) await runState(w, { t: 'state', agent: i, what: 'sign-in' });
  let before = await snapshot(w);
  for (const e of setup.initial) {
    const report = await runHook(
      w,
      before,
      { t: 'hook', delivery: 'single', events: [{ ...e, type: 'conversation.started' }], pick: 0, crashAt: 1 },
      true,
    );
    before = await assess(w, before, report, settings);
  }
  w.trace.push(`setup: ${JSON.stringify(setup)}`);

  try {
    for (const [i, step] of steps.entries()) {
      const report = await runStep(w, before, step);
      w.trace.push(`#${i} @${rig.clock.now().toISOString().slice(11, 19)} ${report.label}`);
      before = await assess(w, before, report, settings);
      stats.steps++;
    }
    // at the end: every transcript read page by page, the outbound queue read, and what was checked
    await checkPaging(w, before, w.convIds);
    await drainOutbound(w);
    checkTranscripts(w, before, before);
    for (const v of before.convs.values())
      for (const m of v.messages)
        if (m.from === 'customer') stats.checkedCustomer++;
        else if (m.from === 'agent') stats.checkedAgent++;
        else stats.checkedSystem++;
    stats.checkedSentIds += w.published.size;
  } catch (err) {
    const tail = w.trace.slice(-40).join('\n  ');
    const box = (await rig.outbox(org))
      .map((t) => `${t.kind}/${t.conversationId ?? t.agentId}/v${t.version}@${t.at.slice(11, 19)}`)
      .join(', ');
    // the push routing index (GSI5 entries, kept in each agent's partition), for R-3 findings
    const index = (await Promise.all(w.agents.map((id) => partition(rig.doc, rig.tableName, keys.agent(org, id).PK))))
      .flat()
      .filter((x) => String(x.SK).startsWith('AVAIL#'))
      .map(
        (x) => `${String(x.queueId)}/${String(x.agentId)} free ${String(x.free)}${x.GSI5PK ? '' : ' (not routable)'}`,
      )
      .join(', ');
    const agentsNow = (await snapshot(w).catch(() => undefined))?.agents;
    const agentText = [...(agentsNow?.values() ?? [])]
      .map(
        (v) =>
          `${v.agent.id} ${JSON.stringify({ ...v.pools.default, signedIn: v.agent.signedIn, connected: v.agent.connected, override: v.agent.presenceOverride, queues: v.agent.queues, skills: v.agent.skills })}`,
      )
      .join('; ');
    throw new Error(
      `${err instanceof Error ? err.message : String(err)}\norg ${org}, run ${run}, now ${rig.clock.now().toISOString()}, outbox [${box}]\nindex [${index}]\nagents ${agentText}\ntrace (last 40):\n  ${tail}`,
      { cause: err },
    );
  } finally {
    // this run's timers must not fire into the next one's sweeps
    for (const t of await rig.outbox(org)) await store.deleteTimer(t.org, t.name);
  }
}

// ---------------------------------------------------------------------------------------------------

let rig: Rig;
beforeAll(async () => {
  rig = await startRig();
});
afterAll(async () => {
  await rig?.stop();
});

describe('reliability: model-based randomized run with injected faults', () => {
  it(
    `RL-1, RL-2, RL-3, C-5, C-6, T-11, T-13, E-1, TM-5, K-3, K-4, MX-1, MX-3, MS-1, MS-2, MS-4: ${TOTAL_STEPS} random steps with duplicated and reordered webhooks and messages, replies, double/late/stale timers, consumer crashes and concurrent writers keep every invariant`,
    async () => {
      const started = Date.now();
      let run = 0;
      await fc.assert(
        fc.asyncProperty(
          setupArb,
          fc.array(stepArb, { minLength: STEPS_PER_RUN, maxLength: STEPS_PER_RUN }),
          async (setup, steps) => {
            stats.runs++;
            await runScenario(rig, ++run, setup, steps);
          },
        ),
        {
          // a replayed path is one run; fast-check would otherwise go on with new runs after it
          numRuns: process.env.RELIABILITY_PATH ? 1 : RUNS,
          endOnFailure: process.env.RELIABILITY_SHRINK !== '1',
          ...(SEED !== undefined ? { seed: SEED } : {}),
          ...(process.env.RELIABILITY_PATH ? { path: process.env.RELIABILITY_PATH } : {}),
        },
      );
      const seconds = ((Date.now() - started) / 1000).toFixed(1);
      console.log(`reliability: ${stats.steps} steps, ${stats.runs} runs in ${seconds}s`);
      console.log(
        `reliability faults: ${JSON.stringify({ ...stats, toleratedLost: stats.toleratedLost.length, faults: rig.faults.fired })}`,
      );
      console.log(
        `reliability metrics: ${(metricsMs / 1000).toFixed(1)}s, ${stats.metricsChecks} quiet points checked (MX-1 / MX-3 metrics = lists, x${QUEUES.length} queues), ${stats.metricsChecksAfterStreamCrash} right after a stream consumer crash (${stats.streamCrashes} crashes, ${stats.redeliveredStreamRecords} stream records handed over again)`,
      );
      console.log(
        `reliability messages: ${(messagesMs / 1000).toFixed(1)}s of checks; at the runs' ends ${stats.checkedCustomer} customer, ${stats.checkedAgent} agent and ${stats.checkedSystem} automated messages in the transcripts, ${stats.checkedSentIds} message.sent ids (${stats.published} received, ${stats.publishedAgain} of them again); ${stats.customerMessages} customer messages straight to the engine ${JSON.stringify(stats.messageOutcomes)}, ${stats.messagesInterposed} overtaken by another writer, ${stats.messagesOnWaiting} on a Waiting conversation, ${stats.webhookMessages} through webhooks, ${stats.messageDuplicates} duplicate deliveries; replies: ${stats.replies} tried, ${stats.repliesSent} sent, ${stats.repliesRefused} refused ${JSON.stringify(stats.refusedBy)}, ${stats.replyReplays} replayed under their key, ${stats.replyCrashes} crashed after their commit; ${stats.transcriptPages} transcript pages read`,
      );
      if (stats.toleratedLost.length)
        console.log(
          `reliability KNOWN FINDING message-lost (tolerated): ${stats.toleratedLost.length} customer messages lost:\n  ${stats.toleratedLost.join('\n  ')}`,
        );
      expect(stats.steps).toBeGreaterThanOrEqual(process.env.RELIABILITY_PATH ? STEPS_PER_RUN : TOTAL_STEPS);
      // every quiet point checked the metrics; in a run of some length, the stream consumer crashed and
      // its records came again before some of those checks
      expect(stats.metricsChecks).toBeGreaterThanOrEqual(stats.steps);
      if (stats.steps >= 200) expect(stats.metricsChecksAfterStreamCrash).toBeGreaterThan(0);
      // MS-1 / MS-2: replies were sent and refused, customer messages stored, and message.sent checked
      if (stats.steps >= 200) {
        expect(stats.repliesSent).toBeGreaterThan(0);
        expect(stats.repliesRefused).toBeGreaterThan(0);
        expect(stats.checkedCustomer).toBeGreaterThan(0);
        expect(stats.checkedSentIds).toBeGreaterThanOrEqual(stats.repliesSent - stats.replyReplays);
      }
    },
    TOTAL_STEPS * 2_000 + 120_000,
  );
});
