import { describe, expect, it } from 'vitest';
import { canTake, isValidWrapUpPolicy, remaining, unitsOver, wrapUpEffect } from '../../functions/domain/capacity.js';
import { decide, findRule, type DecideInput } from '../../functions/domain/decide.js';
import {
  CapacityExceededError,
  ForbiddenActionError,
  TransitionConflictError,
  ValidationError,
} from '../../functions/domain/errors.js';
import {
  CHANNEL_MODES,
  STATUSES,
  modeOf,
  type Actor,
  type ActorRole,
  type Agent,
  type ChannelKind,
  type Conversation,
  type Mode,
  type Status,
  type WrapUpBlockPolicy,
  type Workstream,
} from '../../functions/domain/model.js';
import { routeQueue } from '../../functions/domain/routing.js';
import { TRANSITIONS, type Action, type ActionType, type TransitionRule } from '../../functions/domain/transitions.js';
import type { Decision, Write } from '../../functions/domain/writes.js';

/**
 * Pure tests of the transition table and its interpreter: no I/O, no clock. Every conversation is
 * built by hand so each test states exactly the state it decides on.
 */

const NOW = new Date('2026-03-02T09:00:00.000Z');
const AT = '2026-03-02T09:00:00.000Z';
const CREATED = '2026-03-02T08:50:00.000Z';
const ENTERED = '2026-03-02T08:55:00.000Z';

const ALICE: Actor = { role: 'agent', id: 'alice' };
const BOB: Actor = { role: 'agent', id: 'bob' };
const CUSTOMER: Actor = { role: 'customer', id: 'cust1' };
const SYSTEM: Actor = { role: 'system', id: 'timer' };
const SUPERVISOR: Actor = { role: 'supervisor', id: 'sue' };
const ACTORS: Record<ActorRole, Actor> = {
  agent: ALICE,
  customer: CUSTOMER,
  system: SYSTEM,
  supervisor: SUPERVISOR,
  admin: { role: 'admin', id: 'root' },
};

const workstream = (kind: ChannelKind, patch: Partial<Workstream> = {}): Workstream => ({
  org: 'acme',
  id: `ws-${kind}`,
  name: kind,
  mode: modeOf(kind),
  capacity: { pool: 'default', units: 1 },
  allowedPresences: ['Available', 'Busy'],
  wrapUp: { blockCapacity: 'always' },
  waitingInactivityTimeoutSeconds: 3600,
  agentReconnectTimeoutSeconds: 120,
  routingRules: [],
  defaultQueueId: 'q1',
  distribution: 'pick',
  ...patch,
});

const agent = (id: string, options: { max?: number; used?: number; queues?: string[] } = {}): Agent => ({
  org: 'acme',
  id,
  name: id,
  queues: options.queues ?? ['q1'],
  bot: false,
  pools: { default: { name: 'default', max: options.max ?? 3, used: options.used ?? 0 } },
});

const HELD = { agentId: 'alice', pool: 'default', units: 1, since: ENTERED };

/**
 * A conversation of `kind` in `status`, shaped as the engine leaves it there: Open has no primary;
 * Active, WrapUp, Waiting and Closed belong to alice; Active and WrapUp hold her 1 unit (C-2, C-3 always).
 */
const conversation = (kind: ChannelKind, status: Status, patch: Partial<Conversation> = {}): Conversation => ({
  org: 'acme',
  id: 'conv1',
  channelId: `ch-${kind}`,
  channelKind: kind,
  mode: modeOf(kind),
  threadId: 'th1',
  status,
  queueId: 'q1',
  workstreamId: `ws-${kind}`,
  ...(status === 'Open' ? {} : { primaryAgentId: 'alice', primaryKind: 'agent' as const, accepted: true }),
  consultants: [],
  session: { status: 'active' },
  ticket: { id: 'tk1', channel: kind, status: 'open' },
  ...(status === 'Active' || status === 'WrapUp' ? { allocation: { ...HELD } } : {}),
  statusSince: ENTERED,
  createdAt: CREATED,
  updatedAt: ENTERED,
  version: 7,
  ...patch,
});

const PENDING: Partial<Conversation> = { accepted: false };
/** after a voice transfer to an external number (T-12): the external party is primary, nothing held */
const EXTERNAL: Partial<Conversation> = {
  primaryAgentId: '+14255550100',
  primaryKind: 'external',
  allocation: undefined,
};

const input = (c: Conversation, actor: Actor, action: Action, extra: Partial<DecideInput> = {}): DecideInput => ({
  conversation: c,
  actor,
  action,
  workstream: workstream(c.channelKind),
  ...(actor.role === 'agent' ? { agent: agent(actor.id, { used: c.allocation?.agentId === actor.id ? 1 : 0 }) } : {}),
  now: NOW,
  ...extra,
});

/** The capacity writes of a decision (everything after the conversation and event writes). */
const capacityTypes = (d: Decision): string[] =>
  d.writes.filter((w) => w.type !== 'conversation' && w.type !== 'event' && w.type !== 'timer').map((w) => w.type);
/** TM-1..TM-5: every timer the decision asks for is also written to the outbox in the same transaction */
const timerWrites = (d: Decision) =>
  d.writes.filter((w) => w.type === 'timer').map((w) => (w.type === 'timer' ? w.timer : undefined));

const RELEASE = ['allocation-delete', 'pool-release'];
const ALLOCATE = ['pool-consume', 'allocation-put'];
/** T-1 / R-4: a pick also proves the picking agent's queue membership in its transaction */
const PICK = [...ALLOCATE, 'member-check'];

/** Catches the refusal decide() throws, so the test can assert its type and fields. */
it('C-3: under "always" (no release time) the wrap-up timer is refused: the capacity is held until Closed', () => {
  // Prepare
  const c = conversation('chat', 'WrapUp');

  // Act
  const err = refusal(() => decide(input(c, SYSTEM, { type: 'wrapup-release' })));

  // Assess
  expect(err).toBeInstanceOf(TransitionConflictError);
  expect((err as TransitionConflictError).currentStatus).toBe('WrapUp');
});

const refusal = (run: () => unknown): unknown => {
  try {
    run();
  } catch (err) {
    return err;
  }
  throw new Error('expected a refusal, but the action was allowed');
};

interface AllowedCase {
  title: string;
  kind: ChannelKind;
  from: Status;
  actor: Actor;
  action: Action;
  conv?: Partial<Conversation>;
  extra?: Partial<DecideInput>;
  rule: string;
  to: Status;
  primary: string | undefined;
  accepted?: boolean | undefined;
  capacity: string[];
  queueId?: string;
}

const TO_Q2: Action = { type: 'transfer', target: { kind: 'queue', queueId: 'q2' } };

/** Allowed transitions per mode and kind, with the status, primary agent and capacity writes each must give. */
const ALLOWED: AllowedCase[] = [
  // live: chat
  {
    title: 'T-1, R-4: an agent picks an Open chat of their queue',
    kind: 'chat',
    from: 'Open',
    actor: ALICE,
    action: { type: 'accept' },
    rule: 'T-1',
    to: 'Active',
    primary: 'alice',
    accepted: true,
    capacity: PICK,
  },
  {
    title: 'T-1, R-3: the offered agent accepts a pending chat assignment (capacity already reserved)',
    kind: 'chat',
    from: 'Active',
    conv: PENDING,
    actor: ALICE,
    action: { type: 'accept' },
    rule: 'T-1',
    to: 'Active',
    primary: 'alice',
    accepted: true,
    capacity: [],
  },
  {
    title: 'R-3: push routing offers an Open chat to an agent, reserving their capacity, not yet accepted',
    kind: 'chat',
    from: 'Open',
    actor: SYSTEM,
    action: { type: 'offer', agentId: 'bob' },
    extra: { targetAgent: agent('bob') },
    rule: 'R-3',
    to: 'Active',
    primary: 'bob',
    accepted: false,
    capacity: ['pool-consume', 'allocation-put'],
  },
  {
    title: 'R-3: the offered agent rejects, the chat goes back Open and the reservation is released',
    kind: 'chat',
    from: 'Active',
    conv: PENDING,
    actor: ALICE,
    action: { type: 'reject' },
    rule: 'R-3',
    to: 'Open',
    primary: undefined,
    capacity: RELEASE,
  },
  {
    title: 'R-3: an expired offer goes back Open and the reservation is released',
    kind: 'chat',
    from: 'Active',
    conv: PENDING,
    actor: SYSTEM,
    action: { type: 'offer-expired' },
    rule: 'R-3',
    to: 'Open',
    primary: undefined,
    capacity: RELEASE,
  },
  {
    title: 'T-2: the customer ends an Open chat',
    kind: 'chat',
    from: 'Open',
    actor: CUSTOMER,
    action: { type: 'customer-ended' },
    rule: 'T-2',
    to: 'Closed',
    primary: undefined,
    capacity: [],
  },
  {
    title: 'T-2: the customer disconnects from an Open chat',
    kind: 'chat',
    from: 'Open',
    actor: CUSTOMER,
    action: { type: 'customer-disconnected' },
    rule: 'T-2',
    to: 'Closed',
    primary: undefined,
    capacity: [],
  },
  {
    title: "T-3a, C-3: the agent ends an Active chat (policy 'always': capacity held)",
    kind: 'chat',
    from: 'Active',
    actor: ALICE,
    action: { type: 'end' },
    rule: 'T-3a',
    to: 'WrapUp',
    primary: 'alice',
    accepted: true,
    capacity: [],
  },
  {
    title: 'T-3b: the customer ends an Active chat in the widget',
    kind: 'chat',
    from: 'Active',
    actor: CUSTOMER,
    action: { type: 'customer-ended' },
    rule: 'T-3b',
    to: 'WrapUp',
    primary: 'alice',
    accepted: true,
    capacity: [],
  },
  {
    title: 'T-3c: the customer of an Active chat is disconnected',
    kind: 'chat',
    from: 'Active',
    actor: CUSTOMER,
    action: { type: 'customer-disconnected' },
    rule: 'T-3c',
    to: 'WrapUp',
    primary: 'alice',
    accepted: true,
    capacity: [],
  },
  {
    title: 'T-4a, C-4: the agent does not reconnect in time, the chat goes Open',
    kind: 'chat',
    from: 'Active',
    actor: SYSTEM,
    action: { type: 'reconnect-timeout' },
    rule: 'T-4a',
    to: 'Open',
    primary: undefined,
    capacity: RELEASE,
  },
  {
    title: 'T-4b, C-4: the agent releases the chat to its queue',
    kind: 'chat',
    from: 'Active',
    actor: ALICE,
    action: { type: 'release' },
    rule: 'T-4b',
    to: 'Open',
    primary: undefined,
    capacity: RELEASE,
  },
  {
    title: 'T-4c, C-4, X-4: the agent transfers the chat to another queue',
    kind: 'chat',
    from: 'Active',
    actor: ALICE,
    action: TO_Q2,
    rule: 'T-4c',
    to: 'Open',
    primary: undefined,
    capacity: RELEASE,
    queueId: 'q2',
  },
  {
    title: 'T-4d, C-4: the agent closes the session (X) of an Active live chat',
    kind: 'chat',
    from: 'Active',
    actor: ALICE,
    action: { type: 'close' },
    rule: 'T-4d',
    to: 'Open',
    primary: undefined,
    capacity: RELEASE,
  },
  {
    title: 'T-6b: the customer ends a chat before the agent accepted it',
    kind: 'chat',
    from: 'Active',
    conv: PENDING,
    actor: CUSTOMER,
    action: { type: 'customer-ended' },
    rule: 'T-6b',
    to: 'Closed',
    primary: undefined,
    capacity: RELEASE,
  },
  {
    title: 'T-6b: the customer disconnects before the agent accepted the chat',
    kind: 'chat',
    from: 'Active',
    conv: PENDING,
    actor: CUSTOMER,
    action: { type: 'customer-disconnected' },
    rule: 'T-6b',
    to: 'Closed',
    primary: undefined,
    capacity: RELEASE,
  },
  {
    title: 'T-7, C-3: End in WrapUp closes the chat and releases the held capacity',
    kind: 'chat',
    from: 'WrapUp',
    actor: ALICE,
    action: { type: 'end' },
    rule: 'T-7',
    to: 'Closed',
    primary: 'alice',
    accepted: true,
    capacity: RELEASE,
  },
  {
    title: 'T-7, C-3: X in WrapUp closes the chat and releases the held capacity',
    kind: 'chat',
    from: 'WrapUp',
    actor: ALICE,
    action: { type: 'close' },
    rule: 'T-7',
    to: 'Closed',
    primary: 'alice',
    accepted: true,
    capacity: RELEASE,
  },
  {
    title: 'C-3, TM-1: the wrap-up block timer releases the chat capacity and stays WrapUp',
    kind: 'chat',
    from: 'WrapUp',
    conv: { wrapUpReleaseAt: AT },
    actor: SYSTEM,
    action: { type: 'wrapup-release' },
    rule: 'C-3',
    to: 'WrapUp',
    primary: 'alice',
    accepted: true,
    capacity: RELEASE,
  },
  // live: voice
  {
    title: 'T-1: an agent picks an Open call',
    kind: 'voice',
    from: 'Open',
    actor: ALICE,
    action: { type: 'accept' },
    rule: 'T-1',
    to: 'Active',
    primary: 'alice',
    accepted: true,
    capacity: PICK,
  },
  {
    title: 'T-2: the caller hangs up before assignment',
    kind: 'voice',
    from: 'Open',
    actor: CUSTOMER,
    action: { type: 'customer-disconnected' },
    rule: 'T-2',
    to: 'Closed',
    primary: undefined,
    capacity: [],
  },
  {
    title: 'T-3a: the agent ends an Active call',
    kind: 'voice',
    from: 'Active',
    actor: ALICE,
    action: { type: 'end' },
    rule: 'T-3a',
    to: 'WrapUp',
    primary: 'alice',
    accepted: true,
    capacity: [],
  },
  {
    title: 'T-3c: the caller is disconnected from an Active call',
    kind: 'voice',
    from: 'Active',
    actor: CUSTOMER,
    action: { type: 'customer-disconnected' },
    rule: 'T-3c',
    to: 'WrapUp',
    primary: 'alice',
    accepted: true,
    capacity: [],
  },
  {
    title: 'T-4b: the agent releases the call to its queue',
    kind: 'voice',
    from: 'Active',
    actor: ALICE,
    action: { type: 'release' },
    rule: 'T-4b',
    to: 'Open',
    primary: undefined,
    capacity: RELEASE,
  },
  {
    title: 'T-12, T-4c, C-4: a voice transfer to another queue goes Open in that queue, capacity released',
    kind: 'voice',
    from: 'Active',
    actor: ALICE,
    action: TO_Q2,
    rule: 'T-4c',
    to: 'Open',
    primary: undefined,
    capacity: RELEASE,
    queueId: 'q2',
  },
  {
    title: 'T-12, C-4: a voice transfer to an agent stays Active with the receiver as primary, capacity moved',
    kind: 'voice',
    from: 'Active',
    actor: ALICE,
    action: { type: 'transfer', target: { kind: 'agent', agentId: 'bob' } },
    extra: { targetAgent: agent('bob') },
    rule: 'T-12',
    to: 'Active',
    primary: 'bob',
    accepted: true,
    capacity: [...RELEASE, ...ALLOCATE],
  },
  {
    title:
      'T-12, C-4: a voice transfer to an external number stays Active with the number as primary, capacity released',
    kind: 'voice',
    from: 'Active',
    actor: ALICE,
    action: { type: 'transfer', target: { kind: 'external', number: '+33612345678' } },
    rule: 'T-12',
    to: 'Active',
    primary: '+33612345678',
    accepted: true,
    capacity: RELEASE,
  },
  {
    title: 'T-6b: the caller hangs up before the agent accepted the call',
    kind: 'voice',
    from: 'Active',
    conv: PENDING,
    actor: CUSTOMER,
    action: { type: 'customer-disconnected' },
    rule: 'T-6b',
    to: 'Closed',
    primary: undefined,
    capacity: RELEASE,
  },
  {
    title: 'T-7: End in WrapUp closes the call',
    kind: 'voice',
    from: 'WrapUp',
    actor: ALICE,
    action: { type: 'end' },
    rule: 'T-7',
    to: 'Closed',
    primary: 'alice',
    accepted: true,
    capacity: RELEASE,
  },
  // persistent: sms
  {
    title: 'T-1: an agent picks an Open SMS conversation',
    kind: 'sms',
    from: 'Open',
    actor: ALICE,
    action: { type: 'accept' },
    rule: 'T-1',
    to: 'Active',
    primary: 'alice',
    accepted: true,
    capacity: PICK,
  },
  {
    title: 'T-3a: the agent ends an Active SMS conversation',
    kind: 'sms',
    from: 'Active',
    actor: ALICE,
    action: { type: 'end' },
    rule: 'T-3a',
    to: 'WrapUp',
    primary: 'alice',
    accepted: true,
    capacity: [],
  },
  {
    title: 'T-4a: the agent does not reconnect in time on SMS',
    kind: 'sms',
    from: 'Active',
    actor: SYSTEM,
    action: { type: 'reconnect-timeout' },
    rule: 'T-4a',
    to: 'Open',
    primary: undefined,
    capacity: RELEASE,
  },
  {
    title: 'T-4b: the agent releases an SMS conversation',
    kind: 'sms',
    from: 'Active',
    actor: ALICE,
    action: { type: 'release' },
    rule: 'T-4b',
    to: 'Open',
    primary: undefined,
    capacity: RELEASE,
  },
  {
    title: 'T-4c: the agent transfers an SMS conversation to another queue',
    kind: 'sms',
    from: 'Active',
    actor: ALICE,
    action: TO_Q2,
    rule: 'T-4c',
    to: 'Open',
    primary: undefined,
    capacity: RELEASE,
    queueId: 'q2',
  },
  {
    title: 'T-5, C-2: X on an Active SMS conversation parks it Waiting, primary kept, capacity released',
    kind: 'sms',
    from: 'Active',
    actor: ALICE,
    action: { type: 'close' },
    rule: 'T-5',
    to: 'Waiting',
    primary: 'alice',
    accepted: true,
    capacity: RELEASE,
  },
  {
    title: 'T-7: X in WrapUp closes an SMS conversation',
    kind: 'sms',
    from: 'WrapUp',
    actor: ALICE,
    action: { type: 'close' },
    rule: 'T-7',
    to: 'Closed',
    primary: 'alice',
    accepted: true,
    capacity: RELEASE,
  },
  {
    title: 'T-8: the inactivity timeout closes a Waiting SMS conversation',
    kind: 'sms',
    from: 'Waiting',
    actor: SYSTEM,
    action: { type: 'inactivity-timeout' },
    rule: 'T-8',
    to: 'Closed',
    primary: 'alice',
    accepted: true,
    capacity: [],
  },
  {
    title: 'T-9, C-2: the agent resumes a Waiting SMS conversation, capacity reserved again',
    kind: 'sms',
    from: 'Waiting',
    actor: ALICE,
    action: { type: 'resume' },
    rule: 'T-9',
    to: 'Active',
    primary: 'alice',
    accepted: true,
    capacity: ALLOCATE,
  },
  {
    title: 'T-10: the customer writes again on a Waiting SMS conversation, it goes Open without a primary',
    kind: 'sms',
    from: 'Waiting',
    actor: CUSTOMER,
    action: { type: 'customer-message' },
    rule: 'T-10',
    to: 'Open',
    primary: undefined,
    capacity: [],
  },
  {
    title: 'C-3: the wrap-up block timer releases SMS capacity',
    kind: 'sms',
    from: 'WrapUp',
    actor: SYSTEM,
    action: { type: 'wrapup-release' },
    conv: { wrapUpReleaseAt: ENTERED },
    rule: 'C-3',
    to: 'WrapUp',
    primary: 'alice',
    accepted: true,
    capacity: RELEASE,
  },
  // persistent: whatsapp
  {
    title: 'T-1: an agent picks an Open WhatsApp conversation',
    kind: 'whatsapp',
    from: 'Open',
    actor: ALICE,
    action: { type: 'accept' },
    rule: 'T-1',
    to: 'Active',
    primary: 'alice',
    accepted: true,
    capacity: PICK,
  },
  {
    title: 'T-5: X on an Active WhatsApp conversation parks it Waiting',
    kind: 'whatsapp',
    from: 'Active',
    actor: ALICE,
    action: { type: 'close' },
    rule: 'T-5',
    to: 'Waiting',
    primary: 'alice',
    accepted: true,
    capacity: RELEASE,
  },
  {
    title: 'T-8: the inactivity timeout closes a Waiting WhatsApp conversation',
    kind: 'whatsapp',
    from: 'Waiting',
    actor: SYSTEM,
    action: { type: 'inactivity-timeout' },
    rule: 'T-8',
    to: 'Closed',
    primary: 'alice',
    accepted: true,
    capacity: [],
  },
  {
    title: 'T-9: the agent resumes a Waiting WhatsApp conversation',
    kind: 'whatsapp',
    from: 'Waiting',
    actor: ALICE,
    action: { type: 'resume' },
    rule: 'T-9',
    to: 'Active',
    primary: 'alice',
    accepted: true,
    capacity: ALLOCATE,
  },
  {
    title: 'T-10: the customer writes again on a Waiting WhatsApp conversation',
    kind: 'whatsapp',
    from: 'Waiting',
    actor: CUSTOMER,
    action: { type: 'customer-message' },
    rule: 'T-10',
    to: 'Open',
    primary: undefined,
    capacity: [],
  },
  {
    title: 'T-7: End in WrapUp closes a WhatsApp conversation',
    kind: 'whatsapp',
    from: 'WrapUp',
    actor: ALICE,
    action: { type: 'end' },
    rule: 'T-7',
    to: 'Closed',
    primary: 'alice',
    accepted: true,
    capacity: RELEASE,
  },
  // record
  {
    title: 'T-1: an agent picks an Open record',
    kind: 'record',
    from: 'Open',
    actor: ALICE,
    action: { type: 'accept' },
    rule: 'T-1',
    to: 'Active',
    primary: 'alice',
    accepted: true,
    capacity: PICK,
  },
  {
    title: 'T-3a: the agent ends an Active record',
    kind: 'record',
    from: 'Active',
    actor: ALICE,
    action: { type: 'end' },
    rule: 'T-3a',
    to: 'WrapUp',
    primary: 'alice',
    accepted: true,
    capacity: [],
  },
  {
    title: 'T-4b: the agent releases a record to its queue',
    kind: 'record',
    from: 'Active',
    actor: ALICE,
    action: { type: 'release' },
    rule: 'T-4b',
    to: 'Open',
    primary: undefined,
    capacity: RELEASE,
  },
  {
    title: 'T-4c: the agent transfers a record to another queue',
    kind: 'record',
    from: 'Active',
    actor: ALICE,
    action: TO_Q2,
    rule: 'T-4c',
    to: 'Open',
    primary: undefined,
    capacity: RELEASE,
    queueId: 'q2',
  },
  {
    title: 'T-6a: the agent resolves a record, it closes and the capacity is released',
    kind: 'record',
    from: 'Active',
    actor: ALICE,
    action: { type: 'resolve' },
    rule: 'T-6a',
    to: 'Closed',
    primary: 'alice',
    accepted: true,
    capacity: RELEASE,
  },
  {
    title: 'T-7: End in WrapUp closes a record',
    kind: 'record',
    from: 'WrapUp',
    actor: ALICE,
    action: { type: 'end' },
    rule: 'T-7',
    to: 'Closed',
    primary: 'alice',
    accepted: true,
    capacity: RELEASE,
  },
];

const decideCase = (k: AllowedCase): { before: Conversation; decision: Decision } => {
  const before = conversation(k.kind, k.from, k.conv);
  return { before, decision: decide(input(before, k.actor, k.action, k.extra)) };
};

describe('decide(): allowed transitions per mode and kind', () => {
  it.each(ALLOWED.map((k) => [k.title, k] as const))('%s', (_title, k) => {
    // Prepare
    const before = conversation(k.kind, k.from, k.conv);

    // Act
    const d = decide(input(before, k.actor, k.action, k.extra));

    // Assess
    expect(d.rule).toBe(k.rule);
    expect(d.conversation.status).toBe(k.to);
    expect(d.conversation.primaryAgentId).toBe(k.primary);
    expect(d.conversation.accepted).toBe(k.accepted);
    expect(capacityTypes(d)).toStrictEqual(k.capacity);
    expect(d.conversation.queueId).toBe(k.queueId ?? 'q1');
    // C-6, C-7: the conversation mirrors its allocation item: present exactly when it still holds one
    const holds =
      k.capacity.includes('allocation-put') ||
      (before.allocation !== undefined && !k.capacity.includes('allocation-delete'));
    expect(d.conversation.allocation !== undefined).toBe(holds);
  });
});

describe('decide(): details of allowed transitions', () => {
  it('T-1, C-2: a pick reserves the workstream units in the workstream pool for the picking agent', () => {
    // Prepare
    const ws = workstream('chat', { capacity: { pool: 'chat', units: 2 } });
    const alice: Agent = { ...agent('alice'), pools: { chat: { name: 'chat', max: 4, used: 1 } } };

    // Act
    const d = decide({
      conversation: conversation('chat', 'Open'),
      actor: ALICE,
      action: { type: 'accept' },
      workstream: ws,
      agent: alice,
      now: NOW,
    });

    // Assess
    expect(d.writes.slice(2)).toStrictEqual<Write[]>([
      { type: 'pool-consume', org: 'acme', agentId: 'alice', pool: 'chat', units: 2 },
      {
        type: 'allocation-put',
        org: 'acme',
        agentId: 'alice',
        conversationId: 'conv1',
        pool: 'chat',
        units: 2,
        since: AT,
      },
      { type: 'member-check', org: 'acme', queueId: 'q1', agentId: 'alice' },
    ]);
    expect(d.conversation.allocation).toStrictEqual({ agentId: 'alice', pool: 'chat', units: 2, since: AT });
    expect(d.conversation.statusSince).toBe(AT);
  });

  it('C-4, C-6: a release frees exactly the units the conversation holds, for the agent who holds them', () => {
    // Prepare
    const held = { agentId: 'alice', pool: 'premium', units: 3, since: ENTERED };

    // Act
    const d = decide(input(conversation('chat', 'Active', { allocation: held }), ALICE, { type: 'release' }));

    // Assess
    expect(d.writes.slice(2)).toStrictEqual<Write[]>([
      { type: 'allocation-delete', org: 'acme', agentId: 'alice', conversationId: 'conv1' },
      { type: 'pool-release', org: 'acme', agentId: 'alice', pool: 'premium', units: 3 },
    ]);
  });

  it('T-5, TM-2: going Waiting asks for an inactivity timer at now + the workstream timeout, for the new version', () => {
    // Prepare
    const c = conversation('sms', 'Active');

    // Act
    const d = decide(
      input(c, ALICE, { type: 'close' }, { workstream: workstream('sms', { waitingInactivityTimeoutSeconds: 900 }) }),
    );

    // Assess
    expect(d.timers).toStrictEqual([
      { kind: 'inactivity-timeout', org: 'acme', conversationId: 'conv1', version: 8, at: '2026-03-02T09:15:00.000Z' },
    ]);
  });

  it('R-3: an offer asks for an offer-expiry timer (workstream timeout, 60 s by default)', () => {
    // Prepare
    const c = conversation('chat', 'Open');

    // Act
    const byDefault = decide(input(c, SYSTEM, { type: 'offer', agentId: 'bob' }, { targetAgent: agent('bob') }));
    const configured = decide(
      input(
        c,
        SYSTEM,
        { type: 'offer', agentId: 'bob' },
        { targetAgent: agent('bob'), workstream: workstream('chat', { offerTimeoutSeconds: 30 }) },
      ),
    );

    // Assess
    expect(byDefault.timers).toStrictEqual([
      {
        kind: 'offer-expiry',
        org: 'acme',
        conversationId: 'conv1',
        agentId: 'bob',
        version: 8,
        at: '2026-03-02T09:01:00.000Z',
        subjectSince: byDefault.conversation.statusSince,
      },
    ]);
    expect(configured.timers.map((t) => t.at)).toStrictEqual(['2026-03-02T09:00:30.000Z']);
  });

  it('T-12: a voice transfer to an external number marks the primary as external', () => {
    // Prepare
    const c = conversation('voice', 'Active');

    // Act
    const d = decide(input(c, ALICE, { type: 'transfer', target: { kind: 'external', number: '+33612345678' } }));

    // Assess
    expect(d.conversation.primaryKind).toBe('external');
    expect(d.conversation.allocation).toBeUndefined();
  });

  it('T-12, X-3: after a voice transfer the receiver is primary and can transfer in turn; the original agent no longer can', () => {
    // Prepare
    const first = decide(
      input(
        conversation('voice', 'Active'),
        ALICE,
        { type: 'transfer', target: { kind: 'agent', agentId: 'bob' } },
        { targetAgent: agent('bob') },
      ),
    );

    // Act
    const second = decide(input(first.conversation, BOB, TO_Q2, { agent: agent('bob', { used: 1 }) }));
    const byAlice = refusal(() => decide(input(first.conversation, ALICE, TO_Q2)));

    // Assess
    expect(second.rule).toBe('T-4c');
    expect(second.writes.slice(2)).toStrictEqual<Write[]>([
      { type: 'allocation-delete', org: 'acme', agentId: 'bob', conversationId: 'conv1' },
      { type: 'pool-release', org: 'acme', agentId: 'bob', pool: 'default', units: 1 },
    ]);
    expect(byAlice).toBeInstanceOf(ForbiddenActionError);
  });

  it('T-7, C-3: closing after the wrap-up block was already released writes no capacity change (released exactly once)', () => {
    // Prepare
    const released = decide(
      input(conversation('chat', 'WrapUp', { wrapUpReleaseAt: AT }), SYSTEM, { type: 'wrapup-release' }),
    );

    // Act
    const closed = decide(input(released.conversation, ALICE, { type: 'end' }, { agent: agent('alice') }));

    // Assess
    expect(released.conversation.wrapUpReleaseAt).toBeUndefined();
    expect(released.conversation.statusSince).toBe(ENTERED);
    expect(closed.rule).toBe('T-7');
    expect(capacityTypes(closed)).toStrictEqual([]);
  });
});

describe('decide(): wrap-up policies (C-3)', () => {
  const end = (blockCapacity: WrapUpBlockPolicy): Decision =>
    decide(
      input(
        conversation('chat', 'Active'),
        ALICE,
        { type: 'end' },
        { workstream: workstream('chat', { wrapUp: { blockCapacity } }) },
      ),
    );

  it("C-3: 'always' holds the capacity until Closed: no capacity write, no timer", () => {
    // Act
    const d = end('always');

    // Assess
    expect(capacityTypes(d)).toStrictEqual([]);
    expect(d.conversation.allocation).toStrictEqual(HELD);
    expect(d.conversation.wrapUpReleaseAt).toBeUndefined();
    expect(d.timers).toStrictEqual([]);
  });

  it("C-3: 'never' releases the capacity on entering WrapUp", () => {
    // Act
    const d = end('never');

    // Assess
    expect(capacityTypes(d)).toStrictEqual(RELEASE);
    expect(d.conversation.allocation).toBeUndefined();
    expect(d.timers).toStrictEqual([]);
  });

  it.each([
    [1, '2026-03-02T09:01:00.000Z'],
    [5, '2026-03-02T09:05:00.000Z'],
    [60, '2026-03-02T10:00:00.000Z'],
  ])('C-3, TM-1: %i minute(s) holds the capacity and asks for a release timer at now + N minutes', (minutes, at) => {
    // Act
    const d = end(minutes);

    // Assess
    expect(capacityTypes(d)).toStrictEqual([]);
    expect(d.conversation.allocation).toStrictEqual(HELD);
    expect(d.conversation.wrapUpReleaseAt).toBe(at);
    expect(d.timers).toStrictEqual([{ kind: 'wrapup-release', org: 'acme', conversationId: 'conv1', version: 8, at }]);
  });

  it('C-3: the customer ending the chat (T-3b) follows the same policy', () => {
    // Prepare
    const ws = workstream('chat', { wrapUp: { blockCapacity: 'never' } });

    // Act
    const d = decide(input(conversation('chat', 'Active'), CUSTOMER, { type: 'customer-ended' }, { workstream: ws }));

    // Assess
    expect(d.rule).toBe('T-3b');
    expect(capacityTypes(d)).toStrictEqual(RELEASE);
  });

  it.each<[unknown, boolean]>([
    ['always', true],
    ['never', true],
    [1, true],
    [30, true],
    [60, true],
    [0, false],
    [61, false],
    [1.5, false],
    [-5, false],
    [Number.NaN, false],
    [Number.POSITIVE_INFINITY, false],
    ['5', false],
    ['Always', false],
    [null, false],
    [undefined, false],
  ])('C-3: isValidWrapUpPolicy(%s) is %s', (policy, valid) => {
    // Act
    const result = isValidWrapUpPolicy(policy);

    // Assess
    expect(result).toBe(valid);
  });

  it('C-3: wrapUpEffect maps each policy to its effect', () => {
    // Act
    const effects = [wrapUpEffect('always'), wrapUpEffect('never'), wrapUpEffect(15)];

    // Assess
    expect(effects).toStrictEqual([{ release: false }, { release: true }, { release: false, releaseAfterMinutes: 15 }]);
  });
});

describe('findRule()/decide(): refusals (T-11, T-13)', () => {
  const ACTION_TYPES: Action[] = [
    { type: 'offer', agentId: 'bob' },
    { type: 'accept' },
    { type: 'reject' },
    { type: 'offer-expired' },
    { type: 'end' },
    { type: 'close' },
    { type: 'release' },
    { type: 'transfer', target: { kind: 'queue', queueId: 'q2' } },
    { type: 'transfer', target: { kind: 'agent', agentId: 'bob' } },
    { type: 'transfer', target: { kind: 'external', number: '+33612345678' } },
    { type: 'resolve' },
    { type: 'resume' },
    { type: 'customer-ended' },
    { type: 'customer-disconnected' },
    { type: 'customer-message' },
    { type: 'reconnect-timeout' },
    { type: 'inactivity-timeout' },
    { type: 'wrapup-release' },
    { type: 'monitor' },
    { type: 'join' },
    { type: 'assign', target: { kind: 'agent', agentId: 'bob' } },
    { type: 'assign', target: { kind: 'queue', queueId: 'q2' } },
    { type: 'consult', agentId: 'bob' },
    { type: 'force-close' },
    { type: 'end-session' },
    { type: 'reassign', queueId: 'q2' },
    { type: 'prioritize', priority: 8 },
    { type: 'relax' },
    { type: 'overflow', rule: 0, when: 'closed', then: { transferToQueue: 'q2' } },
    { type: 'overflow', rule: 0, when: 'closed', then: { setPriority: 9 } },
    { type: 'overflow', rule: 0, when: 'closed', then: { close: true } },
    { type: 'agent-not-responding' },
  ];
  const CASES = (['chat', 'voice', 'sms', 'record'] as const).flatMap((kind) =>
    ACTION_TYPES.flatMap((action) =>
      Object.values(ACTORS).map((actor) => [kind, action.type, actor.role, action, actor] as const),
    ),
  );

  it('T-11: the action list above covers every action type of the table', () => {
    // Act
    const listed = new Set(ACTION_TYPES.map((a) => a.type));

    // Assess
    expect([...new Set(TRANSITIONS.map((r) => r.action))].filter((a) => !listed.has(a))).toStrictEqual([]);
  });

  it.each(CASES)(
    'T-11: on a Closed %s conversation, %s by the %s is refused with a conflict naming Closed',
    (kind, _type, _role, action, actor) => {
      // Prepare
      const c = conversation(kind, 'Closed');
      const snapshot = structuredClone(c);

      // Act
      const err = refusal(() => decide(input(c, actor, action, { targetAgent: agent('bob') })));

      // Assess
      expect(err).toBeInstanceOf(TransitionConflictError);
      expect((err as TransitionConflictError).currentStatus).toBe('Closed');
      expect((err as TransitionConflictError).kind).toBe('conflict');
      expect(c).toStrictEqual(snapshot);
    },
  );

  const CONFLICTS: {
    title: string;
    kind: ChannelKind;
    status: Status;
    conv?: Partial<Conversation>;
    actor: Actor;
    action: Action;
  }[] = [
    {
      title: 'T-13, T-4d: close (X) on an Active voice call is refused',
      kind: 'voice',
      status: 'Active',
      actor: ALICE,
      action: { type: 'close' },
    },
    {
      title: 'T-13, T-5: close (X) on an Active record is refused',
      kind: 'record',
      status: 'Active',
      actor: ALICE,
      action: { type: 'close' },
    },
    {
      title: 'T-13, T-6a: resolve on an Active chat is refused (records only)',
      kind: 'chat',
      status: 'Active',
      actor: ALICE,
      action: { type: 'resolve' },
    },
    {
      title: 'T-13, T-6a: resolve on an Active SMS conversation is refused',
      kind: 'sms',
      status: 'Active',
      actor: ALICE,
      action: { type: 'resolve' },
    },
    {
      title: 'T-13, T-9: resume on an Active chat is refused',
      kind: 'chat',
      status: 'Active',
      actor: ALICE,
      action: { type: 'resume' },
    },
    {
      title: 'T-13, T-9: resume on an Active SMS conversation is refused (Waiting only)',
      kind: 'sms',
      status: 'Active',
      actor: ALICE,
      action: { type: 'resume' },
    },
    {
      title: 'T-13, T-10: a customer message on an Active live chat is refused',
      kind: 'chat',
      status: 'Active',
      actor: CUSTOMER,
      action: { type: 'customer-message' },
    },
    {
      title: 'T-13, T-10: a customer message on an Open voice call is refused',
      kind: 'voice',
      status: 'Open',
      actor: CUSTOMER,
      action: { type: 'customer-message' },
    },
    {
      title: 'T-13: end on an Open chat is refused',
      kind: 'chat',
      status: 'Open',
      actor: ALICE,
      action: { type: 'end' },
    },
    {
      title: 'T-13: end on a Waiting SMS conversation is refused',
      kind: 'sms',
      status: 'Waiting',
      actor: ALICE,
      action: { type: 'end' },
    },
    {
      title: 'T-13, R-3: end on a chat whose offer is not accepted yet is refused',
      kind: 'chat',
      status: 'Active',
      conv: PENDING,
      actor: ALICE,
      action: { type: 'end' },
    },
    {
      title: 'T-13, R-3: transfer on a chat whose offer is not accepted yet is refused',
      kind: 'chat',
      status: 'Active',
      conv: PENDING,
      actor: ALICE,
      action: TO_Q2,
    },
    {
      title: 'T-13, T-1: accept on an accepted Active chat is refused',
      kind: 'chat',
      status: 'Active',
      actor: ALICE,
      action: { type: 'accept' },
    },
    {
      title: 'T-13, R-3: reject on an accepted Active chat is refused',
      kind: 'chat',
      status: 'Active',
      actor: ALICE,
      action: { type: 'reject' },
    },
    {
      title: 'T-13, T-2: the customer ending an Open SMS conversation is refused (live only)',
      kind: 'sms',
      status: 'Open',
      actor: CUSTOMER,
      action: { type: 'customer-ended' },
    },
    {
      title: 'T-13, T-3b: the customer ending an Active SMS conversation is refused (live only)',
      kind: 'sms',
      status: 'Active',
      actor: CUSTOMER,
      action: { type: 'customer-ended' },
    },
    {
      title: 'T-13, T-8: the inactivity timeout on an Active SMS conversation is refused',
      kind: 'sms',
      status: 'Active',
      actor: SYSTEM,
      action: { type: 'inactivity-timeout' },
    },
    {
      title: 'T-13, T-12: transfer to an external number on a chat is refused (voice only)',
      kind: 'chat',
      status: 'Active',
      actor: ALICE,
      action: { type: 'transfer', target: { kind: 'external', number: '+33612345678' } },
    },
    {
      title: 'T-13, T-7: close on an Open chat is refused',
      kind: 'chat',
      status: 'Open',
      actor: ALICE,
      action: { type: 'close' },
    },
    {
      title: 'T-13, C-3: the wrap-up release timer on an Active chat is refused',
      kind: 'chat',
      status: 'Active',
      actor: SYSTEM,
      action: { type: 'wrapup-release' },
    },
    {
      title: 'T-13, C-3, C-6: a second wrap-up release (nothing held any more) is refused',
      kind: 'chat',
      status: 'WrapUp',
      conv: { allocation: undefined },
      actor: SYSTEM,
      action: { type: 'wrapup-release' },
    },
    {
      title: 'T-13, T-1: accept on a WrapUp chat is refused',
      kind: 'chat',
      status: 'WrapUp',
      actor: ALICE,
      action: { type: 'accept' },
    },
  ];

  it.each(CONFLICTS.map((k) => [k.title, k] as const))('%s', (_title, k) => {
    // Prepare
    const c = conversation(k.kind, k.status, k.conv);
    const snapshot = structuredClone(c);

    // Act
    const err = refusal(() => decide(input(c, k.actor, k.action)));

    // Assess
    expect(err).toBeInstanceOf(TransitionConflictError);
    expect((err as TransitionConflictError).currentStatus).toBe(k.status);
    expect(c).toStrictEqual(snapshot);
  });

  it('T-13: the conflict message names the action and the current status', () => {
    // Act
    const err = refusal(() => decide(input(conversation('voice', 'Active'), ALICE, { type: 'close' })));

    // Assess
    expect((err as Error).message).toContain('close');
    expect((err as Error).message).toContain('Active');
  });

  const FORBIDDEN: {
    title: string;
    kind: ChannelKind;
    status: Status;
    conv?: Partial<Conversation>;
    actor: Actor;
    action: Action;
    agentQueues?: string[];
  }[] = [
    {
      title: 'T-13, X-1: a non-primary agent ends an Active chat',
      kind: 'chat',
      status: 'Active',
      actor: BOB,
      action: { type: 'end' },
    },
    {
      title: 'T-13, X-1: a non-primary agent transfers an Active chat',
      kind: 'chat',
      status: 'Active',
      actor: BOB,
      action: TO_Q2,
    },
    {
      title: 'T-13: a non-primary agent closes a WrapUp chat',
      kind: 'chat',
      status: 'WrapUp',
      actor: BOB,
      action: { type: 'close' },
    },
    {
      title: 'T-13, T-9: a non-primary agent resumes a Waiting SMS conversation',
      kind: 'sms',
      status: 'Waiting',
      actor: BOB,
      action: { type: 'resume' },
    },
    {
      title: 'T-13, R-3: another agent accepts an offer made to alice',
      kind: 'chat',
      status: 'Active',
      conv: PENDING,
      actor: BOB,
      action: { type: 'accept' },
    },
    {
      title: 'T-13, R-4: an agent who is not a member of the queue picks an Open chat',
      kind: 'chat',
      status: 'Open',
      actor: BOB,
      action: { type: 'accept' },
      agentQueues: ['q2'],
    },
    {
      title: 'T-13: a customer tries to accept an Open chat',
      kind: 'chat',
      status: 'Open',
      actor: CUSTOMER,
      action: { type: 'accept' },
    },
    {
      title: 'T-13: a supervisor tries to end an Active chat (no supervisor row)',
      kind: 'chat',
      status: 'Active',
      actor: SUPERVISOR,
      action: { type: 'end' },
    },
    {
      title: 'T-13: an agent fires the reconnect timeout (system only)',
      kind: 'chat',
      status: 'Active',
      actor: ALICE,
      action: { type: 'reconnect-timeout' },
    },
    {
      title: 'T-13: the customer fires the inactivity timeout (system only)',
      kind: 'sms',
      status: 'Waiting',
      actor: CUSTOMER,
      action: { type: 'inactivity-timeout' },
    },
    {
      title: 'T-13: an agent sends a customer message on a Waiting SMS conversation',
      kind: 'sms',
      status: 'Waiting',
      actor: ALICE,
      action: { type: 'customer-message' },
    },
    {
      title: 'T-13, T-12: after an external transfer the original agent is no longer primary',
      kind: 'voice',
      status: 'Active',
      conv: { primaryAgentId: '+33612345678', primaryKind: 'external', allocation: undefined },
      actor: ALICE,
      action: { type: 'end' },
    },
    {
      title: 'T-13, T-12: an agent whose id equals the external number is not the primary',
      kind: 'voice',
      status: 'Active',
      conv: { primaryAgentId: 'alice', primaryKind: 'external', allocation: undefined },
      actor: ALICE,
      action: { type: 'end' },
    },
  ];

  it.each(FORBIDDEN.map((k) => [k.title, k] as const))('%s: forbidden, naming the current status', (_title, k) => {
    // Prepare
    const c = conversation(k.kind, k.status, k.conv);
    const snapshot = structuredClone(c);
    const extra: Partial<DecideInput> =
      k.actor.role === 'agent' ? { agent: agent(k.actor.id, { queues: k.agentQueues ?? ['q1'] }) } : {};

    // Act
    const err = refusal(() => decide(input(c, k.actor, k.action, extra)));

    // Assess
    expect(err).toBeInstanceOf(ForbiddenActionError);
    expect((err as ForbiddenActionError).kind).toBe('forbidden');
    expect((err as ForbiddenActionError).currentStatus).toBe(k.status);
    expect(c).toStrictEqual(snapshot);
  });

  it('T-13, R-4: a pick without the agent profile (membership unknown) is forbidden', () => {
    // Act
    const err = refusal(() => findRule(conversation('chat', 'Open'), ALICE, { type: 'accept' }));

    // Assess
    expect(err).toBeInstanceOf(ForbiddenActionError);
  });

  it('T-4c: a transfer to the current queue is a validation error', () => {
    // Act
    const err = refusal(() =>
      decide(
        input(conversation('chat', 'Active'), ALICE, { type: 'transfer', target: { kind: 'queue', queueId: 'q1' } }),
      ),
    );

    // Assess
    expect(err).toBeInstanceOf(ValidationError);
    expect((err as ValidationError).errors).toStrictEqual([{ field: 'queueId', message: 'is the current queue' }]);
  });

  it('T-12: a voice transfer to the current primary is a validation error', () => {
    // Act
    const err = refusal(() =>
      decide(
        input(
          conversation('voice', 'Active'),
          ALICE,
          { type: 'transfer', target: { kind: 'agent', agentId: 'alice' } },
          { targetAgent: agent('alice', { used: 1 }) },
        ),
      ),
    );

    // Assess
    expect(err).toBeInstanceOf(ValidationError);
  });

  it('T-12: a voice transfer whose loaded receiver is not the named agent is a validation error', () => {
    // Act
    const missing = refusal(() =>
      decide(
        input(conversation('voice', 'Active'), ALICE, { type: 'transfer', target: { kind: 'agent', agentId: 'bob' } }),
      ),
    );
    const mismatched = refusal(() =>
      decide(
        input(
          conversation('voice', 'Active'),
          ALICE,
          { type: 'transfer', target: { kind: 'agent', agentId: 'bob' } },
          { targetAgent: agent('carol') },
        ),
      ),
    );

    // Assess
    expect(missing).toBeInstanceOf(ValidationError);
    expect(mismatched).toBeInstanceOf(ValidationError);
  });
});

describe('decide(): capacity pre-check (C-5)', () => {
  it('C-5, T-1: a pick by an agent whose pool is full is refused with CapacityExceededError naming Open', () => {
    // Prepare
    const full = agent('alice', { max: 3, used: 3 });

    // Act
    const err = refusal(() => decide(input(conversation('chat', 'Open'), ALICE, { type: 'accept' }, { agent: full })));

    // Assess
    expect(err).toBeInstanceOf(CapacityExceededError);
    expect(err).toMatchObject({ currentStatus: 'Open', agentId: 'alice', pool: 'default', units: 1, kind: 'conflict' });
  });

  it('C-5, T-1: a pick that exactly fills the pool is allowed; one unit more is refused', () => {
    // Prepare
    const ws = workstream('chat', { capacity: { pool: 'default', units: 2 } });
    const c = conversation('chat', 'Open');

    // Act
    const fits = decide(
      input(c, ALICE, { type: 'accept' }, { workstream: ws, agent: agent('alice', { max: 3, used: 1 }) }),
    );
    const over = refusal(() =>
      decide(input(c, ALICE, { type: 'accept' }, { workstream: ws, agent: agent('alice', { max: 3, used: 2 }) })),
    );

    // Assess
    expect(fits.conversation.status).toBe('Active');
    expect(over).toBeInstanceOf(CapacityExceededError);
  });

  it('C-1, C-5: a pick by an agent without the workstream pool is refused', () => {
    // Prepare
    const ws = workstream('chat', { capacity: { pool: 'chat', units: 1 } });

    // Act
    const err = refusal(() =>
      decide(input(conversation('chat', 'Open'), ALICE, { type: 'accept' }, { workstream: ws })),
    );

    // Assess
    expect(err).toBeInstanceOf(CapacityExceededError);
    expect(err).toMatchObject({ pool: 'chat' });
  });

  it('C-5, T-9: resuming a Waiting conversation with a full pool is refused naming Waiting', () => {
    // Act
    const err = refusal(() =>
      decide(
        input(
          conversation('sms', 'Waiting'),
          ALICE,
          { type: 'resume' },
          { agent: agent('alice', { max: 2, used: 2 }) },
        ),
      ),
    );

    // Assess
    expect(err).toBeInstanceOf(CapacityExceededError);
    expect((err as CapacityExceededError).currentStatus).toBe('Waiting');
  });

  it('C-5, T-12: a voice transfer to an agent without remaining capacity is refused naming Active', () => {
    // Act
    const err = refusal(() =>
      decide(
        input(
          conversation('voice', 'Active'),
          ALICE,
          { type: 'transfer', target: { kind: 'agent', agentId: 'bob' } },
          { targetAgent: agent('bob', { max: 1, used: 1 }) },
        ),
      ),
    );

    // Assess
    expect(err).toBeInstanceOf(CapacityExceededError);
    expect(err).toMatchObject({ currentStatus: 'Active', agentId: 'bob' });
  });

  it('C-5, R-3: an offer to an agent without remaining capacity is refused', () => {
    // Act
    const err = refusal(() =>
      decide(
        input(
          conversation('chat', 'Open'),
          SYSTEM,
          { type: 'offer', agentId: 'bob' },
          { targetAgent: agent('bob', { max: 1, used: 1 }) },
        ),
      ),
    );

    // Assess
    expect(err).toBeInstanceOf(CapacityExceededError);
  });
});

describe('capacity math (C-5, C-7)', () => {
  it('C-7: remaining() is maximum minus used units', () => {
    // Act
    const values = [
      remaining({ name: 'default', max: 3, used: 1 }),
      remaining({ name: 'default', max: 3, used: 0 }),
      remaining({ name: 'default', max: 3, used: 3 }),
    ];

    // Assess
    expect(values).toStrictEqual([2, 3, 0]);
  });

  it('C-7, S-3: remaining() never reports below zero, even over capacity after an override, and is 0 for a missing pool', () => {
    // Act
    const values = [remaining({ name: 'default', max: 3, used: 5 }), remaining(undefined)];

    // Assess
    expect(values).toStrictEqual([0, 0]);
  });

  it('C-5: canTake() allows up to the maximum and no further; a missing pool takes nothing', () => {
    // Prepare
    const a = agent('alice', { max: 3, used: 1 });

    // Act
    const results = [canTake(a, 'default', 2), canTake(a, 'default', 3), canTake(a, 'other', 1)];

    // Assess
    expect(results).toStrictEqual([true, false, false]);
  });

  it('S-3, C-5: unitsOver() reports the units by which an override assignment exceeds the pool', () => {
    // Prepare
    const a = agent('alice', { max: 3, used: 2 });

    // Act
    const results = [unitsOver(a, 'default', 1), unitsOver(a, 'default', 3), unitsOver(a, 'missing', 2)];

    // Assess
    expect(results).toStrictEqual([0, 2, 2]);
  });
});

describe('routeQueue() (R-1)', () => {
  const ws = workstream('chat', {
    defaultQueueId: 'general',
    routingRules: [
      { when: { field: 'language', equals: 'fr' }, queueId: 'french' },
      { when: { field: 'contact.tier', equals: 'gold' }, queueId: 'vip' },
      { when: { field: 'language', equals: 'fr' }, queueId: 'never-reached' },
    ],
  });

  it('R-1: the first matching rule wins', () => {
    // Act
    const route = routeQueue(ws, { language: 'fr', 'contact.tier': 'gold' });

    // Assess
    expect(route).toStrictEqual({ queueId: 'french', rule: 0 });
  });

  it('R-1, R-6: a later rule matches on a contact attribute when earlier ones do not', () => {
    // Act
    const route = routeQueue(ws, { language: 'es', 'contact.tier': 'gold' });

    // Assess
    expect(route).toStrictEqual({ queueId: 'vip', rule: 1 });
  });

  it('R-1: without a match the default queue is used', () => {
    // Act
    const route = routeQueue(ws, { language: 'de' });

    // Assess
    expect(route).toStrictEqual({ queueId: 'general', rule: null });
  });

  it('R-1: unknown, missing, undefined and prototype fields do not match and do not crash', () => {
    // Prepare
    const odd = workstream('chat', {
      defaultQueueId: 'general',
      routingRules: [
        { when: { field: 'toString', equals: 'x' }, queueId: 'proto' },
        { when: { field: 'missing', equals: 'undefined' }, queueId: 'missing' },
      ],
    });

    // Act
    const routes = [
      routeQueue(odd, {}),
      routeQueue(odd, { missing: undefined, unrelated: 'y' }),
      routeQueue(workstream('chat'), { anything: 'z' }),
    ];

    // Assess
    expect(routes).toStrictEqual([
      { queueId: 'general', rule: null },
      { queueId: 'general', rule: null },
      { queueId: 'q1', rule: null },
    ]);
  });

  it('R-1: matching is exact (case-sensitive, no partial match)', () => {
    // Act
    const routes = [routeQueue(ws, { language: 'FR' }), routeQueue(ws, { language: 'fr-CA' })];

    // Assess
    expect(routes.map((r) => r.queueId)).toStrictEqual(['general', 'general']);
  });
});

describe('history events (E-1)', () => {
  it.each(ALLOWED.map((k) => [k.title, k] as const))('E-1: one event, version + 1, from/to match: %s', (_title, k) => {
    // Act
    const { before, decision: d } = decideCase(k);

    // Assess
    const events = d.writes.filter((w) => w.type === 'event');
    expect(events).toStrictEqual([{ type: 'event', event: d.event }]);
    expect(d.writes[0]).toStrictEqual({
      type: 'conversation',
      item: d.conversation,
      expect: { version: before.version, status: before.status },
    });
    expect(d.event).toMatchObject({
      org: 'acme',
      conversationId: 'conv1',
      seq: before.version + 1,
      version: before.version + 1,
      at: AT,
      actor: k.actor.id,
      role: k.actor.role,
      action: k.action.type,
      from: before.status,
      to: d.conversation.status,
    });
    expect(d.event.reason).toMatch(new RegExp(`^${d.rule}: `));
    expect(timerWrites(d)).toStrictEqual(d.timers);
    expect(d.conversation.version).toBe(before.version + 1);
    expect(d.conversation.updatedAt).toBe(AT);
  });
});

describe('the transition table itself (TRANSITIONS)', () => {
  const KIND_OF: Record<Mode, ChannelKind> = { live: 'chat', persistent: 'sms', record: 'record' };

  const actionFor = (rule: TransitionRule): Action => {
    const type: ActionType = rule.action;
    if (type === 'transfer') {
      if (rule.target === 'agent') return { type, target: { kind: 'agent', agentId: 'bob' } };
      if (rule.target === 'external') return { type, target: { kind: 'external', number: '+33612345678' } };
      return { type, target: { kind: 'queue', queueId: 'q2' } };
    }
    if (type === 'offer' || type === 'consult') return { type, agentId: 'bob' };
    if (type === 'assign')
      return rule.target === 'queue'
        ? { type, target: { kind: 'queue', queueId: 'q2' } }
        : { type, target: { kind: 'agent', agentId: 'bob' } };
    if (type === 'reassign') return { type, queueId: 'q2' };
    if (type === 'overflow') {
      const then =
        rule.overflow === 'transferToQueue'
          ? { transferToQueue: 'q2' }
          : rule.overflow === 'setPriority'
            ? { setPriority: 9 }
            : { close: true as const };
      return { type, rule: 0, when: 'closed', then };
    }
    return { type } as Action;
  };

  /** Every (rule, channel kind) the rule applies to: its kinds, or one representative kind per mode. */
  const ROWS = TRANSITIONS.flatMap((rule, index) =>
    rule.modes.flatMap((mode) =>
      (rule.kinds ?? [KIND_OF[mode]])
        .filter((kind) => CHANNEL_MODES[kind] === mode)
        .map((kind) => [`#${index} ${rule.id} ${rule.action} ${rule.from}->${rule.to}`, kind, rule] as const),
    ),
  );

  it.each(ROWS)('T-1..T-12, C-3, R-3: row %s is reachable on %s and decide() applies it', (_name, kind, rule) => {
    // Prepare
    // a pending transfer (X-3, S-4) waits for bob, who is then the actor
    const pending = rule.pending
      ? { pendingTransfer: { to: 'bob', by: 'alice', byRole: 'agent' as const, from: 'alice', at: ENTERED } }
      : {};
    // a minutes wrap-up policy that fell due (C-3)
    const due = rule.action === 'wrapup-release' ? { wrapUpReleaseAt: ENTERED } : {};
    // a requirement whose first relaxation step is due (K-3)
    const relaxing =
      rule.action === 'relax' ? { requirements: { skills: { billing: 3 }, step: 0 }, enqueuedAt: ENTERED } : {};
    const c = conversation(kind, rule.from, {
      ...(rule.offer === 'pending' ? PENDING : {}),
      ...(rule.party === 'external' ? EXTERNAL : {}),
      ...pending,
      ...due,
      ...relaxing,
    });
    const actor = rule.who === 'transfer-receiver' ? BOB : ACTORS[rule.role];
    const action = actionFor(rule);
    // bob, signed in and Available, is the target of offers, transfers, assignments and consults
    const bob = { ...agent('bob'), signedIn: true };
    const targetAgent =
      rule.target === 'agent' || rule.action === 'offer' || rule.action === 'consult' ? { targetAgent: bob } : {};
    const ws = workstream(kind, {
      wrapUp: { blockCapacity: 'never' },
      skillRelaxation: [{ afterSeconds: 0, requires: {} }],
    });

    // Act
    const found = findRule(c, actor, action, agent(actor.id));
    const d = decide(input(c, actor, action, { ...targetAgent, workstream: ws }));

    // Assess
    expect(found).toBe(rule);
    expect(d.rule).toBe(rule.id);
    expect(d.conversation.status).toBe(rule.to);
    const expected: Record<TransitionRule['capacity'], string[]> = {
      allocate: ALLOCATE,
      release: c.allocation ? RELEASE : [],
      keep: [],
      'wrap-up-policy': RELEASE, // the workstream above uses 'never'
      'move-to-target': c.allocation ? [...RELEASE, ...ALLOCATE] : ALLOCATE,
      'move-to-actor': c.allocation ? [...RELEASE, ...ALLOCATE] : ALLOCATE,
    };
    // a rule that needs the actor's queue membership proves it in the same transaction
    const membership = rule.who === 'queue-member' ? ['member-check'] : [];
    expect(capacityTypes(d)).toStrictEqual([...expected[rule.capacity], ...membership]);
  });

  it('T-11: no rule leaves Closed', () => {
    // Act
    const fromClosed = TRANSITIONS.filter((r) => r.from === 'Closed');

    // Assess
    expect(fromClosed).toStrictEqual([]);
  });

  it('L-1: every rule goes between known statuses', () => {
    // Act
    const unknown = TRANSITIONS.filter((r) => !STATUSES.includes(r.from) || !STATUSES.includes(r.to));

    // Assess
    expect(unknown).toStrictEqual([]);
  });

  it('T-5, L-2: only persistent channels ever enter Waiting', () => {
    // Act
    const intoWaiting = TRANSITIONS.filter((r) => r.to === 'Waiting' || r.from === 'Waiting');

    // Assess
    expect(intoWaiting.length).toBeGreaterThan(0);
    expect(intoWaiting.filter((r) => r.modes.some((m) => m !== 'persistent'))).toStrictEqual([]);
  });

  it('C-2: every rule into Active reserves or keeps capacity, and every rule into Open, Waiting or Closed holds none afterwards', () => {
    // Act
    const intoActiveWithoutCapacity = TRANSITIONS.filter(
      (r) => r.to === 'Active' && r.from !== 'Active' && !['allocate', 'move-to-target'].includes(r.capacity),
    );
    // An external primary (T-12) holds nothing, so its rows have nothing to release.
    const leavingWithCapacity = TRANSITIONS.filter(
      (r) =>
        ['Open', 'Waiting', 'Closed'].includes(r.to) &&
        r.from !== 'Open' &&
        r.from !== 'Waiting' &&
        r.party !== 'external' &&
        r.capacity !== 'release',
    );

    // Assess
    expect(intoActiveWithoutCapacity).toStrictEqual([]);
    expect(leavingWithCapacity).toStrictEqual([]);
  });

  it('T-13: a rule narrowing to channel kinds names only kinds of its modes', () => {
    // Act
    const inconsistent = TRANSITIONS.filter((r) => r.kinds?.some((k) => !r.modes.includes(CHANNEL_MODES[k])));

    // Assess
    expect(inconsistent).toStrictEqual([]);
  });

  it('T-13: no two rules match the same situation (the table is unambiguous)', () => {
    // Prepare
    const overlaps = (a: TransitionRule, b: TransitionRule): boolean =>
      a.action === b.action &&
      a.role === b.role &&
      a.from === b.from &&
      a.modes.some(
        (m) =>
          b.modes.includes(m) &&
          (a.kinds === undefined || b.kinds === undefined || a.kinds.some((k) => b.kinds?.includes(k))),
      ) &&
      (a.target === undefined || b.target === undefined || a.target === b.target) &&
      (a.overflow === undefined || b.overflow === undefined || a.overflow === b.overflow) &&
      (a.offer === undefined || b.offer === undefined || a.offer === b.offer) &&
      (a.party === undefined || b.party === undefined || a.party === b.party) &&
      (a.pending === undefined || b.pending === undefined || a.pending === b.pending);

    // Act
    const pairs = TRANSITIONS.flatMap((a, i) =>
      TRANSITIONS.slice(i + 1)
        .filter((b) => overlaps(a, b))
        .map((b) => `${a.id}/${b.id} ${a.action} from ${a.from}`),
    );

    // Assess
    expect(pairs).toStrictEqual([]);
  });
});
