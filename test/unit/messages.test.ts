import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { buildTransaction, toTransactItem } from '../../functions/adapters/dynamodb/transact.js';
import { decide, type DecideInput } from '../../functions/domain/decide.js';
import {
  appendMessages,
  automatedEvents,
  EMPTY_LOG,
  messageId,
  responseTimer,
  type Message,
  type MessageDraft,
  type MessageLog,
  type OutboundMessage,
} from '../../functions/domain/messages.js';
import {
  modeOf,
  type Actor,
  type Agent,
  type ChannelKind,
  type Conversation,
  type Workstream,
} from '../../functions/domain/model.js';
import type { Action } from '../../functions/domain/transitions.js';
import type { TimerRequest, Write } from '../../functions/domain/writes.js';
import { replyBody, webhookEvent } from '../../functions/handlers/http/schemas.js';

/**
 * MS-1 / MS-2 / MS-3 / MS-4, pure: where a message goes in the transcript (appendMessages), what the
 * outbox publishes for it, which template events a change sends (automatedEvents), the agent-response
 * timer a customer message arms (responseTimer), and the exact TransactItems of the message writes.
 */

const TABLE = 'engine-test';
const CREATED = '2026-03-02T08:50:00.000Z';
const ENTERED = '2026-03-02T08:55:00.000Z';
const NOW = new Date('2026-03-02T09:00:00.000Z');
const AT = '2026-03-02T09:00:00.000Z';

const ALICE: Actor = { role: 'agent', id: 'alice' };
const BOB: Actor = { role: 'agent', id: 'bob' };
const CUSTOMER: Actor = { role: 'customer', id: 'cust1' };
const SYSTEM: Actor = { role: 'system', id: 'timer' };
const SUPERVISOR: Actor = { role: 'supervisor', id: 'sue' };

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

const agent = (id: string): Agent => ({
  org: 'acme',
  id,
  name: id,
  queues: ['q1'],
  bot: false,
  signedIn: true,
  connected: true,
  presenceOverride: 'Available',
  pools: { default: { name: 'default', max: 4, used: 0 } },
});

const openOf = (kind: ChannelKind): Conversation => ({
  org: 'acme',
  id: 'conv1',
  channelId: `ch-${kind}`,
  channelKind: kind,
  mode: modeOf(kind),
  threadId: 'th1',
  status: 'Open',
  statusReason: 'R-1: default queue',
  queueId: 'q1',
  workstreamId: `ws-${kind}`,
  customerId: 'cust1',
  consultants: [],
  session: { status: 'active' },
  ticket: { id: 'tk1', channel: kind, status: 'open' },
  statusSince: CREATED,
  enqueuedAt: CREATED,
  createdAt: CREATED,
  updatedAt: CREATED,
  version: 1,
});

/** Active for alice, accepted, one unit held. */
const activeOf = (kind: ChannelKind, patch: Partial<Conversation> = {}): Conversation => {
  const { enqueuedAt: _enqueuedAt, ...open } = openOf(kind);
  return {
    ...open,
    status: 'Active',
    statusReason: 'picked by agent',
    primaryAgentId: 'alice',
    primaryKind: 'agent',
    accepted: true,
    participants: ['alice'],
    allocation: { agentId: 'alice', pool: 'default', units: 1, since: ENTERED },
    statusSince: ENTERED,
    updatedAt: ENTERED,
    version: 4,
    ...patch,
  };
};

/** The change `action` makes, decided by the engine's own decide(): the conversation after it. */
function after(c: Conversation, actor: Actor, action: Action, more: Partial<DecideInput> = {}): Conversation {
  return decide({
    conversation: c,
    actor,
    action,
    workstream: workstream(c.channelKind),
    agent: agent(actor.id),
    now: NOW,
    ...more,
  }).conversation;
}

/** automatedEvents of the change `action` makes on `c`. */
const eventsOf = (c: Conversation, actor: Actor, action: Action, more: Partial<DecideInput> = {}) =>
  automatedEvents(c, after(c, actor, action, more), action);

const customer = (text: string): MessageDraft => ({ from: 'customer', text });
const reply = (text: string, agentId = 'alice'): MessageDraft => ({ from: 'agent', agentId, text });
const automated = (text: string): MessageDraft => ({ from: 'system', automated: true, text });

const typesOf = (writes: readonly Write[]): string[] => writes.map((w) => w.type);

describe('MS-1: appendMessages', () => {
  it('MS-1: the first message of a transcript is seq 1, id `<conversation>-m1`; the log is created (expect 0)', () => {
    // Prepare
    const c = activeOf('chat');

    // Act
    const r = appendMessages(c, EMPTY_LOG, [customer('Hello')], AT);

    // Assess
    expect(r.messages).toStrictEqual([
      { org: 'acme', conversationId: 'conv1', id: 'conv1-m1', seq: 1, at: AT, from: 'customer', text: 'Hello' },
    ]);
    expect(r.log).toStrictEqual({ seq: 1, replySeq: 0, customerSeq: 1 });
    expect(r.writes).toStrictEqual([
      { type: 'message', message: r.messages[0] },
      {
        type: 'message-log',
        org: 'acme',
        conversationId: 'conv1',
        expect: 0,
        log: { seq: 1, replySeq: 0, customerSeq: 1 },
      },
    ]);
    // the customer's own message is not sent back to the channel
    expect(r.timers).toEqual([]);
  });

  it('MS-1 / MS-2 / MS-4: a batch continues from the log: seqs follow the log, replySeq moves to the last reply, one notify per non-customer message', () => {
    // Prepare: five messages so far, the last reply at 3
    const c = activeOf('chat');
    const log: MessageLog = { seq: 5, replySeq: 3, customerSeq: 0 };

    // Act
    const r = appendMessages(c, log, [customer('Any news?'), reply('Yes: shipped'), automated('Bye')], AT);

    // Assess
    expect(r.messages.map((m) => [m.seq, m.id, m.from])).toEqual([
      [6, 'conv1-m6', 'customer'],
      [7, 'conv1-m7', 'agent'],
      [8, 'conv1-m8', 'system'],
    ]);
    expect(r.messages[1]).toStrictEqual({
      org: 'acme',
      conversationId: 'conv1',
      id: 'conv1-m7',
      seq: 7,
      at: AT,
      from: 'agent',
      agentId: 'alice',
      text: 'Yes: shipped',
    });
    expect(r.messages[2]).toStrictEqual({
      org: 'acme',
      conversationId: 'conv1',
      id: 'conv1-m8',
      seq: 8,
      at: AT,
      from: 'system',
      text: 'Bye',
      automated: true,
    });
    expect(r.log).toStrictEqual({ seq: 8, replySeq: 7, customerSeq: 6 });
    const outbound = (m: Message, isAutomated: boolean): OutboundMessage => ({
      id: m.id,
      org: 'acme',
      conversationId: 'conv1',
      channelId: 'ch-chat',
      threadId: 'th1',
      type: 'message.sent',
      text: m.text,
      automated: isAutomated,
      at: AT,
    });
    const timers: TimerRequest[] = [
      {
        kind: 'notify',
        org: 'acme',
        conversationId: 'conv1',
        version: 4,
        at: AT,
        key: 'm7',
        outbound: outbound(r.messages[1] as Message, false),
      },
      {
        kind: 'notify',
        org: 'acme',
        conversationId: 'conv1',
        version: 4,
        at: AT,
        key: 'm8',
        outbound: outbound(r.messages[2] as Message, true),
      },
    ];
    expect(r.timers).toStrictEqual(timers);
    expect(r.writes).toStrictEqual([
      ...r.messages.map((message) => ({ type: 'message', message })),
      // moved only from the seq it was read at
      {
        type: 'message-log',
        org: 'acme',
        conversationId: 'conv1',
        expect: 5,
        log: { seq: 8, replySeq: 7, customerSeq: 6 },
      },
      ...timers.map((timer) => ({ type: 'timer', timer })),
    ]);
  });

  it('MS-3: replySeq moves only on agent messages: customer and automated messages keep it', () => {
    // Prepare
    const c = activeOf('chat');
    const log: MessageLog = { seq: 9, replySeq: 4, customerSeq: 0 };

    // Act
    const customers = appendMessages(c, log, [customer('a'), customer('b')], AT);
    const system = appendMessages(c, log, [automated('queued')], AT);
    const twoReplies = appendMessages(c, log, [reply('one'), customer('c'), reply('two', 'sue')], AT);

    // Assess
    expect(customers.log).toStrictEqual({ seq: 11, replySeq: 4, customerSeq: 11 });
    expect(system.log).toStrictEqual({ seq: 10, replySeq: 4, customerSeq: 0 });
    expect(twoReplies.log).toStrictEqual({ seq: 12, replySeq: 12, customerSeq: 11 });
    expect(twoReplies.messages.map((m) => m.agentId)).toEqual(['alice', undefined, 'sue']);
  });

  it('MS-2: one notify timer per reply and automated message, none per customer message; each names its message (key m<seq>)', () => {
    // Prepare
    const c = activeOf('sms', { version: 9 });
    const drafts = [customer('1'), reply('2'), customer('3'), automated('4'), reply('5')];

    // Act
    const r = appendMessages(c, { seq: 100, replySeq: 90, customerSeq: 0 }, drafts, AT);

    // Assess
    expect(r.timers.map((t) => [t.kind, t.key, t.version, t.outbound?.id, t.outbound?.text])).toEqual([
      ['notify', 'm102', 9, 'conv1-m102', '2'],
      ['notify', 'm104', 9, 'conv1-m104', '4'],
      ['notify', 'm105', 9, 'conv1-m105', '5'],
    ]);
    expect(typesOf(r.writes)).toEqual([
      'message',
      'message',
      'message',
      'message',
      'message',
      'message-log',
      'timer',
      'timer',
      'timer',
    ]);
    expect(r.writes.filter((w) => w.type === 'message-log')).toEqual([
      {
        type: 'message-log',
        org: 'acme',
        conversationId: 'conv1',
        expect: 100,
        log: { seq: 105, replySeq: 105, customerSeq: 103 },
      },
    ]);
  });

  it('MS-1: no drafts: no writes, no timers, the log as it was', () => {
    const log: MessageLog = { seq: 3, replySeq: 2, customerSeq: 0 };
    expect(appendMessages(activeOf('chat'), log, [], AT)).toStrictEqual({
      messages: [],
      writes: [],
      timers: [],
      log,
    });
  });

  it('MS-1: the text is kept exactly as given (no trim, no HTML interpretation)', () => {
    const text = '  <b>hi</b> &amp; \u{1F600}\n';
    const r = appendMessages(activeOf('chat'), EMPTY_LOG, [reply(text)], AT);
    expect(r.messages[0]?.text).toBe(text);
    expect(r.timers[0]?.outbound?.text).toBe(text);
  });

  it('MS-1: messageId is `<conversation>-m<seq>`', () => {
    expect(messageId('01HX', 1)).toBe('01HX-m1');
    expect(messageId('c', 10_000)).toBe('c-m10000');
  });

  it('MS-1: any drafts appended in any number of batches get seqs 1..n, strictly increasing, without gaps; ids and the log follow', () => {
    const draftArb: fc.Arbitrary<MessageDraft> = fc.oneof(
      fc.string().map(customer),
      fc.tuple(fc.string(), fc.constantFrom('alice', 'bob', 'sue')).map(([t, a]) => reply(t, a)),
      fc.string().map(automated),
    );
    fc.assert(
      fc.property(fc.array(fc.array(draftArb, { maxLength: 8 }), { maxLength: 20 }), (batches) => {
        // Prepare
        const c = activeOf('chat');
        let log: MessageLog = EMPTY_LOG;
        const all: Message[] = [];

        // Act: each batch decided on the log the previous one left
        for (const batch of batches) {
          const r = appendMessages(c, log, batch, AT);
          const logWrites = r.writes.filter((w) => w.type === 'message-log');
          if (batch.length) expect(logWrites).toEqual([expect.objectContaining({ expect: log.seq, log: r.log })]);
          else expect(r.writes).toEqual([]);
          expect(r.timers).toHaveLength(batch.filter((d) => d.from !== 'customer').length);
          all.push(...r.messages);
          log = r.log;
        }

        // Assess
        const n = batches.reduce((s, b) => s + b.length, 0);
        expect(all.map((m) => m.seq)).toEqual(Array.from({ length: n }, (_, i) => i + 1));
        expect(all.map((m) => m.id)).toEqual(all.map((m) => `conv1-m${m.seq}`));
        expect(new Set(all.map((m) => m.id)).size).toBe(n);
        expect(log.seq).toBe(n);
        expect(log.replySeq).toBe(all.filter((m) => m.from === 'agent').at(-1)?.seq ?? 0);
        expect(all.map((m) => m.text)).toEqual(batches.flat().map((d) => d.text));
      }),
      { numRuns: 300 },
    );
  });
});

describe('MS-4: automatedEvents', () => {
  it("MS-4: a change to Closed sends 'closed' (T-7 close after wrap-up, T-2 customer left, T-6b, S-5 force close)", () => {
    const wrapUp = activeOf('chat', { status: 'WrapUp', statusReason: 'T-3a', version: 5 });
    expect(eventsOf(wrapUp, ALICE, { type: 'close' })).toEqual(['closed']);
    expect(eventsOf(openOf('chat'), CUSTOMER, { type: 'customer-ended' })).toEqual(['closed']);
    // T-6b: the customer leaves an offer not accepted yet
    expect(eventsOf(activeOf('chat', { accepted: false }), CUSTOMER, { type: 'customer-ended' })).toEqual(['closed']);
    // T-12: a call transferred to an outside number ends
    expect(
      eventsOf(activeOf('voice', { primaryKind: 'external' }), CUSTOMER, { type: 'customer-disconnected' }),
    ).toEqual(['closed']);
    expect(
      eventsOf(activeOf('chat'), SUPERVISOR, { type: 'force-close' }, { agent: undefined, targetAgent: undefined }),
    ).toEqual(['closed']);
  });

  it("MS-4: a change to Waiting sends 'waiting' (T-5)", () => {
    const c = activeOf('sms');
    const waiting = after(c, ALICE, { type: 'close' });
    expect(waiting.status).toBe('Waiting');
    expect(automatedEvents(c, waiting, { type: 'close' })).toEqual(['waiting']);
  });

  it("MS-4: an agent answering sends 'assigned': a pick from the queue (T-1)", () => {
    const c = openOf('chat');
    const picked = after(c, ALICE, { type: 'accept' });
    expect(picked).toMatchObject({ status: 'Active', primaryAgentId: 'alice', accepted: true });
    expect(automatedEvents(c, picked, { type: 'accept' })).toEqual(['assigned']);
  });

  it("MS-4: a push offer sends nothing until it is accepted; the accept sends 'assigned' (R-3, T-1)", () => {
    // Prepare: push routing offers the Open chat to alice
    const open = openOf('chat');
    const offer: Action = { type: 'offer', agentId: 'alice' };
    const offered = after(open, SYSTEM, offer, { agent: undefined, targetAgent: agent('alice') });
    expect(offered).toMatchObject({ status: 'Active', primaryAgentId: 'alice', accepted: false });

    // Act
    const onOffer = automatedEvents(open, offered, offer);
    const accepted = after(offered, ALICE, { type: 'accept' });
    const onAccept = automatedEvents(offered, accepted, { type: 'accept' });

    // Assess
    expect(onOffer).toEqual([]);
    expect(accepted).toMatchObject({ status: 'Active', primaryAgentId: 'alice', accepted: true });
    expect(onAccept).toEqual(['assigned']);
  });

  it("MS-4: a transfer completed to another agent sends 'assigned' (T-12 voice direct; X-3 when the receiver accepts)", () => {
    // T-12: a voice call straight to bob
    const call = activeOf('voice');
    const toBob: Action = { type: 'transfer', target: { kind: 'agent', agentId: 'bob' } };
    const transferred = after(call, ALICE, toBob, { targetAgent: agent('bob') });
    expect(transferred).toMatchObject({ status: 'Active', primaryAgentId: 'bob' });
    expect(automatedEvents(call, transferred, toBob)).toEqual(['assigned']);

    // a chat transfer waits for bob (nothing yet), his accept makes him primary
    const chat = activeOf('chat');
    const pending = after(chat, ALICE, toBob, { targetAgent: agent('bob') });
    expect(pending).toMatchObject({ primaryAgentId: 'alice', pendingTransfer: { to: 'bob' } });
    expect(automatedEvents(chat, pending, toBob)).toEqual([]);
    const taken = after(pending, BOB, { type: 'accept' });
    expect(taken).toMatchObject({ status: 'Active', primaryAgentId: 'bob' });
    expect(automatedEvents(pending, taken, { type: 'accept' })).toEqual(['assigned']);
  });

  it("MS-4: a resume from Waiting by the same agent sends no 'assigned' (T-9)", () => {
    // Prepare: alice's sms conversation went to Waiting
    const waiting = after(activeOf('sms'), ALICE, { type: 'close' });
    expect(waiting.status).toBe('Waiting');
    const w = { ...waiting, version: 5 };

    // Act
    const resumed = after(w, ALICE, { type: 'resume' });

    // Assess
    expect(resumed).toMatchObject({ status: 'Active', primaryAgentId: 'alice' });
    expect(automatedEvents(w, resumed, { type: 'resume' })).toEqual([]);
  });

  it('MS-4 / M-5: the session end sends none, and nothing is sent once the session ended', () => {
    // M-2 on an Active persistent conversation
    const c = activeOf('sms');
    expect(eventsOf(c, ALICE, { type: 'end-session' })).toEqual([]);
    // a conversation whose session ended goes to Waiting, and Closed: no 'waiting', no 'closed'
    const ended: Conversation = { ...c, session: { status: 'ended', endReason: 'agent-ended-session' } };
    expect(automatedEvents(ended, { ...ended, status: 'Waiting' }, { type: 'close' })).toEqual([]);
    expect(automatedEvents(ended, { ...ended, status: 'Closed' }, { type: 'force-close' })).toEqual([]);
    // end-session itself, even if the after-state still showed an active session
    expect(automatedEvents(c, { ...c, status: 'Closed' }, { type: 'end-session' })).toEqual([]);
  });

  it("MS-4 / O-1: overflow's close sends 'outside-hours' when the rule is `closed`, 'overflow' otherwise; never 'closed'", () => {
    const open = openOf('chat');
    const close = (when: string): Action => ({ type: 'overflow', rule: 0, when, then: { close: true } });
    for (const [when, expected] of [
      ['closed', 'outside-hours'],
      ['noAgentsSignedIn', 'overflow'],
      ['queueSizeAtLeast 50', 'overflow'],
      ['waitedSecondsAtLeast 600', 'overflow'],
    ] as const) {
      const action = close(when);
      const closed = after(open, SYSTEM, action, { agent: undefined });
      expect(closed.status, when).toBe('Closed');
      expect(automatedEvents(open, closed, action), when).toEqual([expected]);
    }
  });

  it('MS-4: changes that neither close, wait nor answer send nothing', () => {
    const open = openOf('chat');
    const active = activeOf('chat');
    // a move to another queue (overflow or transfer), a release, a wrap-up, an Active -> Active consult
    const toQ2: Action = { type: 'overflow', rule: 1, when: 'queueSizeAtLeast 5', then: { transferToQueue: 'q2' } };
    expect(eventsOf(open, SYSTEM, toQ2, { agent: undefined })).toEqual([]);
    expect(eventsOf(active, ALICE, { type: 'release' })).toEqual([]);
    expect(eventsOf(active, ALICE, { type: 'end' })).toEqual([]);
    expect(eventsOf(active, ALICE, { type: 'consult', agentId: 'bob' }, { targetAgent: agent('bob') })).toEqual([]);
    // a customer message back on a Waiting conversation (T-10) moves it to Open
    const waiting = after(activeOf('sms'), ALICE, { type: 'close' });
    expect(eventsOf({ ...waiting, version: 5 }, CUSTOMER, { type: 'customer-message' })).toEqual([]);
  });
});

describe('MS-3: responseTimer', () => {
  const ws = workstream('chat', { agentResponseTimeoutSeconds: 120 });

  it('MS-3: a customer message on an Active, accepted conversation arms an agent-response timer: key s<seq>, the agent, the Active period', () => {
    const c = activeOf('chat', { version: 7 });
    expect(responseTimer(c, ws, 12, NOW)).toStrictEqual({
      kind: 'agent-response',
      org: 'acme',
      conversationId: 'conv1',
      agentId: 'alice',
      version: 7,
      at: '2026-03-02T09:02:00.000Z',
      key: 's12',
      subjectSince: ENTERED,
    });
  });

  it('MS-3: the due time is rounded up to the whole second', () => {
    const t = responseTimer(activeOf('chat'), ws, 1, new Date('2026-03-02T09:00:00.250Z'));
    expect(t?.at).toBe('2026-03-02T09:02:01.000Z');
  });

  it('MS-3: no timer without a timeout, or off an Active, accepted conversation with an agent as primary', () => {
    const active = activeOf('chat');
    expect(responseTimer(active, workstream('chat'), 1, NOW)).toBeUndefined();
    expect(responseTimer(active, workstream('chat', { agentResponseTimeoutSeconds: 0 }), 1, NOW)).toBeUndefined();
    expect(responseTimer(activeOf('chat', { accepted: false }), ws, 1, NOW)).toBeUndefined();
    expect(responseTimer(activeOf('voice', { primaryKind: 'external' }), ws, 1, NOW)).toBeUndefined();
    const { primaryAgentId: _p, ...noPrimary } = active;
    expect(responseTimer(noPrimary as Conversation, ws, 1, NOW)).toBeUndefined();
    for (const status of ['Open', 'Waiting', 'WrapUp', 'Closed'] as const)
      expect(responseTimer({ ...active, status }, ws, 1, NOW), status).toBeUndefined();
  });

  it('MS-3: an Active conversation whose `accepted` is absent (older items) counts as accepted', () => {
    const { accepted: _a, ...older } = activeOf('chat');
    expect(responseTimer(older as Conversation, ws, 3, NOW)?.key).toBe('s3');
  });
});

describe('MS-1 / MS-2: the TransactItems of the message writes', () => {
  const message: Message = {
    org: 'acme',
    conversationId: 'conv1',
    id: 'conv1-m7',
    seq: 7,
    at: AT,
    from: 'agent',
    agentId: 'alice',
    text: 'On its way',
  };

  it('MS-1: a message is put beside its conversation, at MSG#<seq 10 digits>, only if absent', () => {
    expect(toTransactItem(TABLE, { type: 'message', message })).toStrictEqual({
      Put: {
        TableName: TABLE,
        Item: {
          PK: 'ORG#acme#CONV#conv1',
          SK: 'MSG#0000000007',
          type: 'message',
          org: 'acme',
          conversationId: 'conv1',
          id: 'conv1-m7',
          seq: 7,
          at: AT,
          from: 'agent',
          agentId: 'alice',
          text: 'On its way',
        },
        ConditionExpression: 'attribute_not_exists(PK)',
      },
    });
  });

  it('MS-1: an automated message keeps `automated`, a customer message has no agentId', () => {
    const auto: Message = {
      org: 'acme',
      conversationId: 'conv1',
      id: 'conv1-m1',
      seq: 1,
      at: AT,
      from: 'system',
      text: 'Hi',
      automated: true,
    };
    expect(toTransactItem(TABLE, { type: 'message', message: auto })).toStrictEqual({
      Put: {
        TableName: TABLE,
        Item: { PK: 'ORG#acme#CONV#conv1', SK: 'MSG#0000000001', type: 'message', ...auto },
        ConditionExpression: 'attribute_not_exists(PK)',
      },
    });
  });

  it('MS-1: the first log is put only if absent (expect 0)', () => {
    expect(
      toTransactItem(TABLE, {
        type: 'message-log',
        org: 'acme',
        conversationId: 'conv1',
        expect: 0,
        log: { seq: 2, replySeq: 0, customerSeq: 0 },
      }),
    ).toStrictEqual({
      Put: {
        TableName: TABLE,
        Item: { PK: 'ORG#acme#CONV#conv1', SK: 'MSGLOG', type: 'message-log', seq: 2, replySeq: 0, customerSeq: 0 },
        ConditionExpression: 'attribute_not_exists(PK)',
      },
    });
  });

  it('MS-1: a later log is moved only from the seq it was read at (`#seq = :expect`)', () => {
    expect(
      toTransactItem(TABLE, {
        type: 'message-log',
        org: 'acme',
        conversationId: 'conv1',
        expect: 6,
        log: { seq: 7, replySeq: 7, customerSeq: 0 },
      }),
    ).toStrictEqual({
      Put: {
        TableName: TABLE,
        Item: { PK: 'ORG#acme#CONV#conv1', SK: 'MSGLOG', type: 'message-log', seq: 7, replySeq: 7, customerSeq: 0 },
        ConditionExpression: '#seq = :expect',
        ExpressionAttributeNames: { '#seq': 'seq' },
        ExpressionAttributeValues: { ':expect': 6 },
      },
    });
  });

  it('MS-1 / MS-2: a conversation-check is a ConditionCheck of the conversation item at the version decided on', () => {
    expect(
      toTransactItem(TABLE, { type: 'conversation-check', org: 'acme', conversationId: 'conv1', version: 4 }),
    ).toStrictEqual({
      ConditionCheck: {
        TableName: TABLE,
        Key: { PK: 'ORG#acme#CONV#conv1', SK: 'CONV' },
        ConditionExpression: '#version = :version',
        ExpressionAttributeNames: { '#version': 'version' },
        ExpressionAttributeValues: { ':version': 4 },
      },
    });
  });

  it("MS-2: a reply is one transaction: the message, the log from where it was read, the outbox's message.sent, the conversation's version check", () => {
    // Prepare: the reply as sendReply decides it
    const c = activeOf('chat');
    const appended = appendMessages(c, { seq: 6, replySeq: 3, customerSeq: 0 }, [reply('On its way')], AT);

    // Act
    const params = buildTransaction(TABLE, [
      ...appended.writes,
      { type: 'conversation-check', org: 'acme', conversationId: 'conv1', version: 4 },
    ]);

    // Assess
    const items = params.TransactItems ?? [];
    expect(items).toHaveLength(4);
    expect(items[0]).toStrictEqual(toTransactItem(TABLE, { type: 'message', message }));
    expect(items[1]).toStrictEqual({
      Put: {
        TableName: TABLE,
        Item: { PK: 'ORG#acme#CONV#conv1', SK: 'MSGLOG', type: 'message-log', seq: 7, replySeq: 7, customerSeq: 0 },
        ConditionExpression: '#seq = :expect',
        ExpressionAttributeNames: { '#seq': 'seq' },
        ExpressionAttributeValues: { ':expect': 6 },
      },
    });
    const name = `notify.conv1.v4.${Date.parse(AT) / 1000}.m7`;
    expect(items[2]).toStrictEqual({
      Put: {
        TableName: TABLE,
        Item: {
          PK: `ORG#acme#TIMER#${name}`,
          SK: 'TIMER',
          type: 'timer',
          name,
          GSI3PK: expect.stringMatching(/^TIMERS#\d+$/),
          GSI3SK: expect.stringContaining(AT),
          kind: 'notify',
          org: 'acme',
          conversationId: 'conv1',
          version: 4,
          at: AT,
          key: 'm7',
          outbound: {
            id: 'conv1-m7',
            org: 'acme',
            conversationId: 'conv1',
            channelId: 'ch-chat',
            threadId: 'th1',
            type: 'message.sent',
            text: 'On its way',
            automated: false,
            at: AT,
          },
          expiresAt: Date.parse(AT) / 1000 + 7 * 24 * 3600,
        },
      },
    });
    expect(items[3]).toStrictEqual({
      ConditionCheck: {
        TableName: TABLE,
        Key: { PK: 'ORG#acme#CONV#conv1', SK: 'CONV' },
        ConditionExpression: '#version = :version',
        ExpressionAttributeNames: { '#version': 'version' },
        ExpressionAttributeValues: { ':version': 4 },
      },
    });
  });
});

describe('RL-4 / MS-1 / MS-2: what a message text may be (the webhook and reply schemas)', () => {
  const received = (text: unknown) => ({ eventId: 'e1', type: 'message.received', threadId: 't1', message: { text } });
  const accepts = (schema: typeof webhookEvent | typeof replyBody, body: unknown): boolean =>
    schema.safeParse(body).success;

  it('RL-4: 1 to 10,000 (webhook) and 1 to 4,000 (reply) characters, kept exactly as sent (no trim)', () => {
    expect(accepts(webhookEvent, received('x'))).toBe(true);
    expect(accepts(webhookEvent, received('x'.repeat(10_000)))).toBe(true);
    expect(accepts(webhookEvent, received('x'.repeat(10_001)))).toBe(false);
    expect(accepts(replyBody, { text: 'x'.repeat(4_000) })).toBe(true);
    expect(accepts(replyBody, { text: 'x'.repeat(4_001) })).toBe(false);
    expect(webhookEvent.parse(received('  hi \n')).message?.text).toBe('  hi \n');
    expect(replyBody.parse({ text: '\u00a0ok ' }).text).toBe('\u00a0ok ');
  });

  it('RL-4: empty, blank (any white space String.prototype.trim removes) or not a string is refused', () => {
    for (const text of ['', ' ', '\t\n\r', '\u00a0', '\ufeff', '\u2028\u2029', '\u3000 ', ' '.repeat(10_000)]) {
      expect(accepts(webhookEvent, received(text)), JSON.stringify(text)).toBe(false);
      expect(accepts(replyBody, { text }), JSON.stringify(text)).toBe(false);
    }
    for (const text of [null, 42, true, [], {}, ['hi']]) {
      expect(accepts(webhookEvent, received(text)), JSON.stringify(text)).toBe(false);
      expect(accepts(replyBody, { text }), JSON.stringify(text)).toBe(false);
    }
    expect(accepts(webhookEvent, { eventId: 'e1', type: 'message.received', threadId: 't1', message: {} })).toBe(false);
  });

  it('RL-4: lengths are UTF-16 code units (REPLY_MAX_CHARS, MAX_TEMPLATE_TEXT): 5,000 emoji are 10,000 units and pass; 5,001 are 10,002 and do not', () => {
    // at the bound in units
    expect(accepts(webhookEvent, received('😀'.repeat(5_000)))).toBe(true);
    expect(accepts(replyBody, { text: '😀'.repeat(2_000) })).toBe(true);
    // over it in units, not in code points
    expect(accepts(webhookEvent, received('😀'.repeat(5_001))), '10,002 UTF-16 units (5,001 code points)').toBe(false);
    expect(accepts(replyBody, { text: '😀'.repeat(2_001) }), '4,002 UTF-16 units (2,001 code points)').toBe(false);
  });
});
