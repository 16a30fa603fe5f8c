import { DeleteMessageCommand, ReceiveMessageCommand } from '@aws-sdk/client-sqs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LocalRuntime } from '../../bin/local/runtime.js';
import type { Notification } from '../../functions/domain/model.js';
import { Api, eventually, ok, setupOrg, startRuntime, token, type DemoOrg, type HttpResult } from '../support/e2e.js';

/**
 * Supervisor features (S-1..S-6), consult and transfer (X-1..X-3, T-12) and messaging sessions
 * (M-1..M-5) over HTTP on the local runtime; participant notifications read back from the outbound
 * queue in fauxqs (E-2).
 */

interface Conv {
  id: string;
  status: string;
  state: string;
  statusReason?: string;
  queueId: string;
  threadId: string;
  channelKind: string;
  primaryAgentId?: string;
  primaryKind?: string;
  accepted?: boolean;
  consultants: string[];
  session: { status: string; endReason?: string };
  ticket: { id: string; channel: string; status: string };
  capacity?: { agentId: string; pool: string; units: number };
  unitsOverCapacity?: number;
  version: number;
}
interface Ev {
  seq: number;
  actor: string;
  role: string;
  action: string;
  from: string | null;
  to: string;
  reason?: string;
  details?: Record<string, unknown>;
}
interface AgentView {
  id: string;
  presence: string;
  capacity: Record<string, { max: number; used: number }>;
}
interface Problem {
  type: string;
  status: number;
  detail: string;
  currentStatus?: string;
}
type Kind = keyof DemoOrg['channel'];

let rt: LocalRuntime;
let api: Api;
beforeAll(async () => {
  // timers fire only when a test moves the clock; notifications go out right after each commit
  rt = await startRuntime({ tickMs: 3_600_000 });
  api = new Api(rt.url);
});
afterAll(() => rt?.stop());

const ALL_ON = {
  supervisorMonitor: true,
  supervisorAssign: true,
  supervisorTransfer: true,
  forceClose: true,
  agentEndMessagingSession: true,
};

/** Asserts a problem+json answer with this status (and currentStatus when given). */
function expectProblem(r: HttpResult<unknown>, status: number, extra: Partial<Problem> = {}): Problem {
  expect(r.status, JSON.stringify(r.body)).toBe(status);
  expect(r.contentType).toContain('application/problem+json');
  expect(r.body).toMatchObject({ status, ...extra });
  return r.body as Problem;
}

let n = 0;
/** A customer writes on a fresh thread of the channel; resolves once the conversation exists. */
async function customerStarts(o: DemoOrg, kind: Kind, threadId = `sv-${++n}`): Promise<Conv> {
  const type = kind === 'sms' ? 'message.received' : 'conversation.started';
  await ok(
    api.webhook(
      o.channel[kind],
      { eventId: `e-${++n}`, type, threadId, ...(kind === 'sms' ? { message: { text: 'hello' } } : {}) },
      o.secret,
    ),
    202,
  );
  return eventually(
    async () =>
      (
        await o.admin.get<{ items: Conv[] }>(
          `/v1/conversations?channelId=${o.channel[kind]}&threadId=${encodeURIComponent(threadId)}`,
        )
      ).body.items?.[0],
  );
}

const conversation = (o: DemoOrg, id: string): Promise<Conv> => ok(o.admin.get<Conv>(`/v1/conversations/${id}`));
const eventsOf = async (o: DemoOrg, id: string): Promise<Ev[]> =>
  (await ok(o.admin.get<{ items: Ev[] }>(`/v1/conversations/${id}/events`))).items;
const agentView = (o: DemoOrg, id: string): Promise<AgentView> => ok(o.admin.get<AgentView>(`/v1/agents/${id}`));
const used = async (o: DemoOrg, id: string, pool = 'default'): Promise<number | undefined> =>
  (await agentView(o, id)).capacity[pool]?.used;
const act = (as: Api, id: string, action: string, body?: unknown): Promise<HttpResult<Conv>> =>
  as.post<Conv>(`/v1/conversations/${id}/actions/${action}`, body);

/** Prepare: an org (queues q1/q2, alice q1 3 units, bob q1+q2 2 units), both signed in, the given settings. */
async function org(settings: Partial<typeof ALL_ON> = ALL_ON): Promise<DemoOrg & { alice: Api; bob: Api }> {
  const o = await setupOrg(api);
  await ok(
    o.admin.put('/v1/admin/settings', {
      ...Object.fromEntries(Object.keys(ALL_ON).map((k) => [k, false])),
      ...settings,
    }),
  );
  const alice = await o.agent('alice');
  const bob = await o.agent('bob');
  await ok(alice.post('/v1/agents/me/sign-in'));
  await ok(bob.post('/v1/agents/me/sign-in'));
  return { ...o, alice, bob };
}

/** A conversation the agent picked (Active). */
async function activeFor(o: DemoOrg, kind: Kind, as: Api): Promise<Conv> {
  const c = await customerStarts(o, kind);
  return ok(act(as, c.id, 'accept'));
}

async function putAgent(
  o: DemoOrg,
  id: string,
  queues: string[],
  capacity: Record<string, number>,
  bot = false,
): Promise<Api> {
  await ok(o.admin.put(`/v1/admin/agents/${id}`, { name: id, queues, capacity, ...(bot ? { bot } : {}) }));
  const a = await o.agent(id);
  await ok(a.post('/v1/agents/me/sign-in'));
  return a;
}

// ---- E-2: the outbound queue (fauxqs) ----

interface Outbound {
  notification: Notification;
  attributes: Record<string, string | undefined>;
}
const received = new Map<string, Outbound>();

/** Drains the outbound queue into `received` (deduplicated on the notification id, as consumers do). */
async function drainOutbound(): Promise<void> {
  for (;;) {
    const r = await rt.sqs.send(
      new ReceiveMessageCommand({
        QueueUrl: rt.queues.outbound.url,
        MaxNumberOfMessages: 10,
        WaitTimeSeconds: 0,
        MessageAttributeNames: ['All'],
      }),
    );
    const messages = r.Messages ?? [];
    if (!messages.length) return;
    for (const m of messages) {
      const notification = JSON.parse(m.Body ?? '{}') as Notification;
      const attributes = Object.fromEntries(
        Object.entries(m.MessageAttributes ?? {}).map(([k, v]) => [k, v.StringValue]),
      );
      received.set(notification.id, { notification, attributes });
      await rt.sqs.send(new DeleteMessageCommand({ QueueUrl: rt.queues.outbound.url, ReceiptHandle: m.ReceiptHandle }));
    }
  }
}

/** The outbound messages about one conversation (of one type), once at least `min` of them arrived. */
async function outboundOf(conversationId: string, type?: Notification['type'], min = 1): Promise<Outbound[]> {
  const pick = () =>
    [...received.values()].filter(
      (m) => m.notification.conversationId === conversationId && (type === undefined || m.notification.type === type),
    );
  return eventually(async () => {
    await drainOutbound();
    const found = pick();
    return found.length >= min ? found : undefined;
  }, 5_000);
}

/** Asserts one outbound message of this type and returns its body, checking the documented schema and attributes. */
async function oneOutbound(o: DemoOrg, c: Conv, type: Notification['type']): Promise<Notification> {
  const [m, ...more] = await outboundOf(c.id, type);
  expect(more).toEqual([]);
  const body = (m as Outbound).notification;
  expect(body).toMatchObject({
    id: expect.any(String),
    org: o.org,
    conversationId: c.id,
    type,
    at: expect.any(String),
    version: expect.any(Number),
    data: expect.any(Object),
  });
  expect(Number.isNaN(Date.parse(body.at))).toBe(false);
  expect((m as Outbound).attributes).toEqual({ type, org: o.org });
  return body;
}

describe('S-1: settings and role', () => {
  it('S-1 / M-2: with every setting off, monitor, join, assign, supervisor transfer, force-close and agent end-session answer 403 naming the setting; nothing changes', async () => {
    // Prepare
    const o = await org({});
    const activeChat = await activeFor(o, 'chat', o.alice);
    const activeSms = await activeFor(o, 'sms', o.alice);
    const openChat = await customerStarts(o, 'chat');
    const cases: [string, Api, Conv, string, unknown][] = [
      ['supervisorMonitor', o.admin, activeChat, 'monitor', undefined],
      ['supervisorMonitor', o.admin, activeChat, 'join', undefined],
      ['supervisorAssign', o.admin, openChat, 'assign', { agentId: 'bob' }],
      ['supervisorAssign', o.admin, openChat, 'assign', { queueId: 'q2' }],
      ['supervisorTransfer', o.admin, activeSms, 'transfer', { agentId: 'bob' }],
      ['forceClose', o.admin, activeChat, 'force-close', undefined],
      ['agentEndMessagingSession', o.alice, activeSms, 'end-session', undefined],
    ];

    for (const [setting, as, c, action, body] of cases) {
      // Act
      const r = await act(as, c.id, action, body);

      // Assess
      const p = expectProblem(r, 403, { currentStatus: c.status });
      expect(p.detail, action).toContain(setting);
      expect(await conversation(o, c.id)).toMatchObject({ status: c.status, version: c.version });
    }
    expect([await used(o, 'alice'), await used(o, 'bob')]).toEqual([2, 0]);
  });

  it('S-1: an agent-only token is refused (403) for monitor, join, assign and force-close even with the settings on', async () => {
    // Prepare
    const o = await org();
    const active = await activeFor(o, 'chat', o.alice);
    const open = await customerStarts(o, 'chat');

    // Act
    const results = [
      await act(o.bob, active.id, 'monitor'),
      await act(o.bob, active.id, 'join'),
      await act(o.bob, open.id, 'assign', { agentId: 'bob' }),
      await act(o.bob, active.id, 'force-close'),
    ];

    // Assess
    for (const r of results) expect(expectProblem(r, 403).detail).toContain('supervisor role');
    expect(await conversation(o, active.id)).toMatchObject({ status: 'Active', version: active.version });
    expect(await conversation(o, open.id)).toMatchObject({ status: 'Open', version: open.version });
  });
});

describe('S-2: monitor and join', () => {
  it('S-2 / E-2: a supervisor joins an Active chat; supervisor.joined goes to the agent and the customer on the outbound queue', async () => {
    // Prepare
    const o = await org();
    const c = await activeFor(o, 'chat', o.alice);

    // Act
    const monitored = await ok(act(o.admin, c.id, 'monitor'));
    const joined = await ok(act(o.admin, c.id, 'join'));

    // Assess
    expect(monitored).toMatchObject({ status: 'Active', primaryAgentId: 'alice' });
    expect(joined).toMatchObject({ status: 'Active', primaryAgentId: 'alice' });
    expect((await eventsOf(o, c.id)).slice(-2)).toEqual([
      expect.objectContaining({
        action: 'monitor',
        role: 'supervisor',
        actor: 'admin',
        reason: 'S-2: monitored by supervisor',
      }),
      expect.objectContaining({ action: 'join', role: 'supervisor', actor: 'admin', reason: 'S-2: supervisor joined' }),
    ]);
    const n = await oneOutbound(o, c, 'supervisor.joined');
    expect(n).toMatchObject({ version: joined.version, data: { supervisorId: 'admin' } });
    expect(n.recipients).toEqual([
      { kind: 'agent', id: 'alice' },
      { kind: 'customer', id: `thread:${c.threadId}` },
    ]);
    // monitoring alone notifies nobody
    expect((await outboundOf(c.id)).map((m) => m.notification.type)).toEqual(['supervisor.joined']);
  });

  it('S-2 / T-13: Open and Waiting conversations answer 409 with currentStatus; records 409; nothing changes', async () => {
    // Prepare
    const o = await org();
    const open = await customerStarts(o, 'chat');
    const waiting = await activeFor(o, 'sms', o.alice);
    await ok(act(o.alice, waiting.id, 'close'));
    const record = await activeFor(o, 'record', o.alice);

    // Act + Assess
    for (const action of ['monitor', 'join']) {
      expectProblem(await act(o.admin, open.id, action), 409, { currentStatus: 'Open' });
      expectProblem(await act(o.admin, waiting.id, action), 409, { currentStatus: 'Waiting' });
      expectProblem(await act(o.admin, record.id, action), 409, { currentStatus: 'Active' });
    }
    expect((await eventsOf(o, record.id)).map((e) => e.action)).toEqual(['created', 'accept']);
  });

  it('S-2: a supervisor who is the primary agent cannot monitor or join that conversation (403)', async () => {
    // Prepare: carol holds the agent and the supervisor roles and picked the chat
    const o = await org();
    await putAgent(o, 'carol', ['q1'], { default: 3 });
    const carol = api.as(await token(o.org, 'carol', ['agent', 'supervisor']));
    const c = await activeFor(o, 'chat', carol);

    // Act
    const monitor = await act(carol, c.id, 'monitor');
    const join = await act(carol, c.id, 'join');

    // Assess
    for (const r of [monitor, join]) expect(expectProblem(r, 403, { currentStatus: 'Active' }).detail).toMatch(/^S-2/);
    // another supervisor may
    expect((await ok(act(o.admin, c.id, 'monitor'))).status).toBe('Active');
  });
});

describe('S-3: supervisor assignment', () => {
  it('S-3: an Open conversation assigned to an available agent becomes Active for them; an Active one answers 409', async () => {
    // Prepare
    const o = await org();
    const c = await customerStarts(o, 'chat');

    // Act
    const assigned = await ok(act(o.admin, c.id, 'assign', { agentId: 'bob' }));
    const again = await act(o.admin, c.id, 'assign', { agentId: 'alice' });

    // Assess
    expect(assigned).toMatchObject({
      status: 'Active',
      primaryAgentId: 'bob',
      accepted: true,
      capacity: { agentId: 'bob', units: 1 },
    });
    expect(assigned.unitsOverCapacity).toBeUndefined();
    expectProblem(again, 409, { currentStatus: 'Active' });
    expect([await used(o, 'alice'), await used(o, 'bob')]).toEqual([0, 1]);
  });

  it('S-3 / C-5: an Away agent is refused (403) without override; with override the assignment works and reports and records the units over capacity', async () => {
    // Prepare: bob (2 units) holds 2 chats and is Away
    const o = await org();
    await activeFor(o, 'chat', o.bob);
    await activeFor(o, 'chat', o.bob);
    await ok(o.bob.put('/v1/agents/me/presence', { presence: 'Away' }));
    const c = await customerStarts(o, 'sms');

    // Act
    const refused = await act(o.admin, c.id, 'assign', { agentId: 'bob' });
    const forced = await act(o.admin, c.id, 'assign', { agentId: 'bob', override: true });

    // Assess
    expect(expectProblem(refused, 403, { currentStatus: 'Open' }).detail).toContain('Away');
    expect(forced.status, JSON.stringify(forced.body)).toBe(200);
    expect(forced.body).toMatchObject({ status: 'Active', primaryAgentId: 'bob', unitsOverCapacity: 1 });
    expect((await eventsOf(o, c.id)).at(-1)).toMatchObject({
      action: 'assign',
      role: 'supervisor',
      reason: 'S-3: assigned by supervisor',
      details: { unitsOverCapacity: 1 },
    });
    expect((await agentView(o, 'bob')).capacity.default).toEqual({ max: 2, used: 3 });
  });

  it('S-3: assigning to another queue keeps it Open in that queue; the current queue answers 400', async () => {
    // Prepare
    const o = await org();
    const c = await customerStarts(o, 'chat');

    // Act
    const same = await o.admin.post(`/v1/conversations/${c.id}/actions/assign`, { queueId: 'q1' });
    const moved = await ok(act(o.admin, c.id, 'assign', { queueId: 'q2' }));

    // Assess
    expectProblem(same, 400);
    expect(moved).toMatchObject({ status: 'Open', queueId: 'q2' });
    expect(moved.primaryAgentId).toBeUndefined();
    expect((await ok(o.bob.get<{ items: Conv[] }>('/v1/queues/q2/open-items'))).items.map((x) => x.id)).toEqual([c.id]);
    expect((await eventsOf(o, c.id)).at(-1)).toMatchObject({
      reason: 'S-3: assigned to queue by supervisor',
      details: { toQueue: 'q2' },
    });
  });
});

describe('S-4: supervisor transfer', () => {
  it('S-4 / X-3 / E-2: a supervisor transfers an Active sms to bob (transfer.requested); bob accepts: primary, alice consultant, capacity moves (transfer.accepted)', async () => {
    // Prepare
    const o = await org();
    const c = await activeFor(o, 'sms', o.alice);

    // Act: request
    const requested = await ok(act(o.admin, c.id, 'transfer', { agentId: 'bob' }));

    // Assess: nothing moved yet; bob is asked on the outbound queue
    expect(requested).toMatchObject({ status: 'Active', primaryAgentId: 'alice', capacity: { agentId: 'alice' } });
    const asked = await oneOutbound(o, c, 'transfer.requested');
    expect(asked).toMatchObject({ recipients: [{ kind: 'agent', id: 'bob' }], data: { from: 'alice', by: 'admin' } });
    // only the receiver answers
    expectProblem(await act(o.alice, c.id, 'accept'), 403, { currentStatus: 'Active' });

    // Act: accept
    const accepted = await ok(act(o.bob, c.id, 'accept'));

    // Assess
    expect(accepted).toMatchObject({
      status: 'Active',
      primaryAgentId: 'bob',
      consultants: ['alice'],
      capacity: { agentId: 'bob', units: 1 },
    });
    expect([await used(o, 'alice'), await used(o, 'bob')]).toEqual([0, 1]);
    const done = await oneOutbound(o, c, 'transfer.accepted');
    expect(done).toMatchObject({ version: accepted.version, data: { to: 'bob' } });
    expect(done.recipients).toEqual([
      { kind: 'agent', id: 'alice' },
      { kind: 'supervisor', id: 'admin' },
    ]);
    expect((await eventsOf(o, c.id)).map((e) => e.reason?.split(':')[0])).toEqual([
      expect.any(String),
      'T-1',
      'S-4',
      'X-3',
    ]);
  });

  it('S-4 / E-2: the receiver rejects: the conversation stays with the original agent (transfer.rejected)', async () => {
    // Prepare
    const o = await org();
    const c = await activeFor(o, 'sms', o.alice);
    await ok(act(o.admin, c.id, 'transfer', { agentId: 'bob' }));

    // Act
    const rejected = await ok(act(o.bob, c.id, 'reject'));

    // Assess
    expect(rejected).toMatchObject({
      status: 'Active',
      primaryAgentId: 'alice',
      consultants: [],
      capacity: { agentId: 'alice' },
    });
    expect([await used(o, 'alice'), await used(o, 'bob')]).toEqual([1, 0]);
    expect((await oneOutbound(o, c, 'transfer.rejected')).recipients).toEqual([
      { kind: 'agent', id: 'alice' },
      { kind: 'supervisor', id: 'admin' },
    ]);
  });

  it('S-4: a Waiting sms can be transferred; accepted, it stays Waiting with the receiver', async () => {
    // Prepare
    const o = await org();
    const c = await activeFor(o, 'sms', o.alice);
    await ok(act(o.alice, c.id, 'close'));

    // Act
    await ok(act(o.admin, c.id, 'transfer', { agentId: 'bob' }));
    const accepted = await ok(act(o.bob, c.id, 'accept'));

    // Assess
    expect(accepted).toMatchObject({ status: 'Waiting', primaryAgentId: 'bob', consultants: ['alice'] });
    expect(accepted.capacity).toBeUndefined();
    expect([await used(o, 'alice'), await used(o, 'bob')]).toEqual([0, 0]);
  });

  it('S-4 / T-13: a voice call cannot be transferred by a supervisor (409 naming Active)', async () => {
    // Prepare
    const o = await org();
    const c = await activeFor(o, 'voice', o.alice);

    // Act
    const r = await act(o.admin, c.id, 'transfer', { agentId: 'bob' });

    // Assess
    expectProblem(r, 409, { currentStatus: 'Active' });
    expect(await conversation(o, c.id)).toMatchObject({ primaryAgentId: 'alice', version: c.version });
  });

  it('S-4: the receiver must be a human agent (bot 403), of the same queue (403), with an allowed presence (403)', async () => {
    // Prepare
    const o = await org();
    await putAgent(o, 'robo', ['q1'], { default: 10 }, true);
    await putAgent(o, 'erin', ['q2'], { default: 3 });
    const carl = await putAgent(o, 'carl', ['q1'], { default: 3 });
    await ok(carl.put('/v1/agents/me/presence', { presence: 'Away' }));
    const c = await activeFor(o, 'sms', o.alice);

    // Act
    const bot = await act(o.admin, c.id, 'transfer', { agentId: 'robo' });
    const outside = await act(o.admin, c.id, 'transfer', { agentId: 'erin' });
    const away = await act(o.admin, c.id, 'transfer', { agentId: 'carl' });

    // Assess
    expect(expectProblem(bot, 403, { currentStatus: 'Active' }).detail).toContain('bot');
    expect(expectProblem(outside, 403, { currentStatus: 'Active' }).detail).toContain('queue q1');
    expect(expectProblem(away, 403, { currentStatus: 'Active' }).detail).toContain('Away');
    expect(await conversation(o, c.id)).toMatchObject({ primaryAgentId: 'alice', version: c.version });
    expect(await outboundOf(c.id, undefined, 0)).toEqual([]);
  });
});

describe('X-1..X-3, T-12: consult and transfer by agents', () => {
  it('X-1: only the primary agent starts a transfer or a consult (403)', async () => {
    // Prepare
    const o = await org();
    await putAgent(o, 'carl', ['q1'], { default: 3 });
    const c = await activeFor(o, 'chat', o.alice);

    // Act
    const results = [
      await act(o.bob, c.id, 'transfer', { agentId: 'carl' }),
      await act(o.bob, c.id, 'transfer', { queueId: 'q2' }),
      await act(o.bob, c.id, 'consult', { agentId: 'carl' }),
    ];

    // Assess
    for (const r of results)
      expect(expectProblem(r, 403, { currentStatus: 'Active' }).detail).toContain('only the primary');
    expect(await conversation(o, c.id)).toMatchObject({ version: c.version });
  });

  it('X-3 / E-2: a chat transfer to an agent is an offer; accepted, the receiver is primary with the capacity, and can transfer in turn', async () => {
    // Prepare
    const o = await org();
    const c = await activeFor(o, 'chat', o.alice);

    // Act
    const requested = await ok(act(o.alice, c.id, 'transfer', { agentId: 'bob' }));
    const accepted = await ok(act(o.bob, c.id, 'accept'));

    // Assess
    expect(requested).toMatchObject({ status: 'Active', primaryAgentId: 'alice' });
    expect((await oneOutbound(o, c, 'transfer.requested')).recipients).toEqual([{ kind: 'agent', id: 'bob' }]);
    expect(accepted).toMatchObject({
      status: 'Active',
      primaryAgentId: 'bob',
      consultants: [],
      capacity: { agentId: 'bob' },
    });
    expect([await used(o, 'alice'), await used(o, 'bob')]).toEqual([0, 1]);
    expect((await oneOutbound(o, c, 'transfer.accepted')).recipients).toEqual([{ kind: 'agent', id: 'alice' }]);

    // Act (X-3): the receiver transfers on; the former primary no longer can
    const former = await act(o.alice, c.id, 'transfer', { queueId: 'q2' });
    const onward = await ok(act(o.bob, c.id, 'transfer', { queueId: 'q2' }));

    // Assess
    expectProblem(former, 403, { currentStatus: 'Active' });
    expect(onward).toMatchObject({ status: 'Open', queueId: 'q2' });
    expect(await used(o, 'bob')).toBe(0);
  });

  it('X-3: the receiver rejects a chat transfer: it stays with the original agent and capacity', async () => {
    // Prepare
    const o = await org();
    const c = await activeFor(o, 'chat', o.alice);
    await ok(act(o.alice, c.id, 'transfer', { agentId: 'bob' }));

    // Act
    const rejected = await ok(act(o.bob, c.id, 'reject'));

    // Assess
    expect(rejected).toMatchObject({ status: 'Active', primaryAgentId: 'alice', capacity: { agentId: 'alice' } });
    expect([await used(o, 'alice'), await used(o, 'bob')]).toEqual([1, 0]);
    expect((await oneOutbound(o, c, 'transfer.rejected')).recipients).toEqual([{ kind: 'agent', id: 'alice' }]);
  });

  it('X-2: consult adds a queue agent as consultant (the primary stays); an agent outside the queue answers 403', async () => {
    // Prepare
    const o = await org();
    await putAgent(o, 'erin', ['q2'], { default: 3 });
    const c = await activeFor(o, 'chat', o.alice);

    // Act
    const outside = await act(o.alice, c.id, 'consult', { agentId: 'erin' });
    const consulted = await ok(act(o.alice, c.id, 'consult', { agentId: 'bob' }));

    // Assess
    expect(expectProblem(outside, 403, { currentStatus: 'Active' }).detail).toMatch(/^X-2/);
    expect(consulted).toMatchObject({
      status: 'Active',
      primaryAgentId: 'alice',
      consultants: ['bob'],
      capacity: { agentId: 'alice' },
    });
    expect((await eventsOf(o, c.id)).at(-1)).toMatchObject({
      action: 'consult',
      reason: 'X-2: consultant added',
      details: { consultant: 'bob' },
    });
  });

  it('T-12 / C-4: voice transfers to an agent, an external number and a queue stay immediate and release the original capacity at once', async () => {
    // Prepare
    const o = await org();
    const toAgent = await activeFor(o, 'voice', o.alice);
    const toExternal = await activeFor(o, 'voice', o.alice);
    const toQueue = await activeFor(o, 'voice', o.alice);

    // Act
    const a = await ok(act(o.alice, toAgent.id, 'transfer', { agentId: 'bob' }));
    const e = await ok(act(o.alice, toExternal.id, 'transfer', { externalNumber: '+14255550199' }));
    const q = await ok(act(o.alice, toQueue.id, 'transfer', { queueId: 'q2' }));

    // Assess
    expect(a).toMatchObject({ status: 'Active', primaryAgentId: 'bob', accepted: true, capacity: { agentId: 'bob' } });
    expect(e).toMatchObject({ status: 'Active', primaryAgentId: '+14255550199', primaryKind: 'external' });
    expect(e.capacity).toBeUndefined();
    expect(q).toMatchObject({ status: 'Open', queueId: 'q2' });
    expect([await used(o, 'alice'), await used(o, 'bob')]).toEqual([0, 1]);
    expect(await outboundOf(toAgent.id, undefined, 0)).toEqual([]);
  });
});

describe('S-5: force close', () => {
  it('S-5 / C-4 / E-2: force close of an Active chat: Closed, capacity released, conversation.force-closed to customer, primary, consultant and supervisor', async () => {
    // Prepare: alice primary, bob consultant, the admin (supervisor) joined
    const o = await org();
    const c = await activeFor(o, 'chat', o.alice);
    await ok(act(o.alice, c.id, 'consult', { agentId: 'bob' }));
    await ok(act(o.admin, c.id, 'join'));

    // Act
    const closed = await ok(act(o.admin, c.id, 'force-close'));

    // Assess
    expect(closed).toMatchObject({ status: 'Closed', state: 'closed', statusReason: 'ended by supervisor' });
    expect(closed.capacity).toBeUndefined();
    expect(await used(o, 'alice')).toBe(0);
    const n = await oneOutbound(o, c, 'conversation.force-closed');
    expect(n).toMatchObject({
      version: closed.version,
      data: { reason: 'ended by supervisor', supervisorId: 'admin' },
    });
    expect(n.recipients).toHaveLength(4);
    expect(n.recipients).toEqual(
      expect.arrayContaining([
        { kind: 'customer', id: `thread:${c.threadId}` },
        { kind: 'agent', id: 'alice' },
        { kind: 'agent', id: 'bob' },
        { kind: 'supervisor', id: 'admin' },
      ]),
    );
    expect((await eventsOf(o, c.id)).at(-1)).toMatchObject({
      action: 'force-close',
      role: 'supervisor',
      from: 'Active',
      to: 'Closed',
      reason: 'S-5: ended by supervisor',
    });
    // T-11: nothing reopens it
    expectProblem(await act(o.admin, c.id, 'force-close'), 409, { currentStatus: 'Closed' });
  });

  it('S-5: Open, WrapUp and Waiting conversations (voice and messaging) are force-closed too; every hold is released', async () => {
    // Prepare
    const o = await org();
    const open = await customerStarts(o, 'voice');
    const wrapUp = await activeFor(o, 'voice', o.alice);
    await ok(act(o.alice, wrapUp.id, 'end'));
    const waiting = await activeFor(o, 'sms', o.alice);
    await ok(act(o.alice, waiting.id, 'close'));
    expect(await used(o, 'alice')).toBe(1);

    for (const c of [open, wrapUp, waiting]) {
      // Act
      const closed = await ok(act(o.admin, c.id, 'force-close'));

      // Assess
      expect(closed).toMatchObject({ status: 'Closed' });
      expect((await oneOutbound(o, c, 'conversation.force-closed')).recipients).toContainEqual({
        kind: 'customer',
        id: `thread:${c.threadId}`,
      });
    }
    expect(await used(o, 'alice')).toBe(0);
    expect((await ok(o.alice.get<{ items: Conv[] }>('/v1/agents/me/work-items'))).items).toEqual([]);
  });
});

describe('S-6: ongoing conversations', () => {
  it('S-6: a supervisor lists conversations by status, queue, agent and channel, page by page', async () => {
    // Prepare: Open chat (q1), Open sms moved to q2, Active chat alice, Active sms bob, Closed chat
    const o = await org();
    const supervisor = api.as(await token(o.org, 'sue', ['supervisor']));
    const openChat = await customerStarts(o, 'chat');
    const openSms = await customerStarts(o, 'sms');
    await ok(act(o.admin, openSms.id, 'assign', { queueId: 'q2' }));
    const aliceChat = await activeFor(o, 'chat', o.alice);
    const bobSms = await activeFor(o, 'sms', o.bob);
    const closed = await activeFor(o, 'chat', o.alice);
    await ok(act(o.admin, closed.id, 'force-close'));
    const all = async (query: string, limit = 1): Promise<string[]> => {
      const ids: string[] = [];
      let cursor: string | undefined;
      do {
        const page = await ok(
          supervisor.get<{ items: Conv[]; nextCursor?: string }>(
            `/v1/conversations?${query}&limit=${limit}${cursor ? `&cursor=${cursor}` : ''}`,
          ),
        );
        expect(page.items.length).toBeLessThanOrEqual(limit);
        ids.push(...page.items.map((c) => c.id));
        cursor = page.nextCursor;
      } while (cursor);
      expect(new Set(ids).size).toBe(ids.length);
      return ids.sort();
    };
    const ids = (...cs: Conv[]) => cs.map((c) => c.id).sort();

    // Act + Assess
    expect(await all('status=Open')).toEqual(ids(openChat, openSms));
    expect(await all('status=Active', 2)).toEqual(ids(aliceChat, bobSms));
    expect(await all('queueId=q2')).toEqual(ids(openSms));
    expect(await all('agentId=alice')).toEqual(ids(aliceChat, closed));
    expect(await all('agentId=bob&status=Active')).toEqual(ids(bobSms));
    expect(await all(`channelId=${o.channel.sms}`)).toEqual(ids(openSms, bobSms));
    expect(await all(`channelId=${o.channel.chat}&status=Closed`)).toEqual(ids(closed));
  });
});

describe('M-1..M-5: the agent ends the messaging session', () => {
  /** Prepare: records use an `email` pool; alice has {default: 3, email: 2} and holds one record and one sms. */
  async function sessionOrg() {
    const o = await org();
    const {
      org: _org,
      id: _id,
      ...ws
    } = await ok(o.admin.get<Record<string, unknown>>('/v1/admin/workstreams/ws-record'));
    await ok(o.admin.put('/v1/admin/workstreams/ws-record', { ...ws, capacity: { pool: 'email', units: 1 } }));
    await ok(
      o.admin.put('/v1/admin/agents/alice', { name: 'Alice', queues: ['q1'], capacity: { default: 3, email: 2 } }),
    );
    const record = await activeFor(o, 'record', o.alice);
    const sms = await activeFor(o, 'sms', o.alice);
    expect((await agentView(o, 'alice')).capacity).toEqual({
      default: { max: 3, used: 1 },
      email: { max: 2, used: 1 },
    });
    return { o, record, sms };
  }

  it('M-1 / M-2 / M-5: end-session ends the session (ended-by-agent), moves the ticket to email with its status unchanged, releases messaging capacity only, and tells the customer nothing', async () => {
    // Prepare
    const { o, sms } = await sessionOrg();
    expect(sms).toMatchObject({ session: { status: 'active' }, ticket: { channel: 'messaging', status: 'open' } });

    // Act
    const r = await ok(act(o.alice, sms.id, 'end-session'));

    // Assess
    expect(r).toMatchObject({
      status: 'Active',
      primaryAgentId: 'alice',
      session: { status: 'ended', endReason: 'ended-by-agent' },
      ticket: { id: sms.ticket.id, channel: 'email', status: sms.ticket.status },
    });
    expect(r.capacity).toBeUndefined();
    expect((await eventsOf(o, sms.id)).at(-1)).toMatchObject({
      action: 'end-session',
      role: 'agent',
      actor: 'alice',
      from: 'Active',
      to: 'Active',
      reason: 'M-2: session ended by agent',
    });
    expect((await agentView(o, 'alice')).capacity).toEqual({
      default: { max: 3, used: 0 },
      email: { max: 2, used: 1 },
    });
    // M-5: nothing on the outbound queue about this conversation
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(await outboundOf(sms.id, undefined, 0)).toEqual([]);
  });

  it('M-2 / E-3: internal notes still work after the session ended (201 / 200); an admin-only token is refused (403)', async () => {
    // Prepare
    const { o, sms } = await sessionOrg();
    await ok(act(o.alice, sms.id, 'end-session'));
    const adminOnly = api.as(await token(o.org, 'root', ['admin']));

    // Act
    const posted = await o.alice.post<{ id: string; text: string; authorId: string }>(
      `/v1/conversations/${sms.id}/notes`,
      { text: 'customer will email the invoice' },
    );
    const bySupervisor = await o.admin.post(`/v1/conversations/${sms.id}/notes`, { text: 'checked' });
    const listed = await o.alice.get<{ items: { id: string; text: string }[] }>(`/v1/conversations/${sms.id}/notes`);
    const adminPost = await adminOnly.post(`/v1/conversations/${sms.id}/notes`, { text: 'nope' });
    const adminGet = await adminOnly.get(`/v1/conversations/${sms.id}/notes`);

    // Assess
    expect(posted.status, JSON.stringify(posted.body)).toBe(201);
    expect(posted.body).toMatchObject({ authorId: 'alice', text: 'customer will email the invoice' });
    expect(bySupervisor.status).toBe(201);
    expect(listed.status).toBe(200);
    expect(listed.body.items.map((x) => x.text)).toEqual(['customer will email the invoice', 'checked']);
    expectProblem(adminPost, 403);
    expectProblem(adminGet, 403);
  });

  it('M-2 / T-13: only the primary ends the session (403); a live chat has no messaging session to end (409)', async () => {
    // Prepare
    const { o, sms } = await sessionOrg();
    const chat = await activeFor(o, 'chat', o.bob);

    // Act + Assess
    expectProblem(await act(o.bob, sms.id, 'end-session'), 403, { currentStatus: 'Active' });
    expectProblem(await act(o.bob, chat.id, 'end-session'), 409, { currentStatus: 'Active' });
    expect(await conversation(o, sms.id)).toMatchObject({ session: { status: 'active' }, version: sms.version });
  });

  it('M-4: a customer message after the session ended starts a new conversation with a new ticket on the same thread', async () => {
    // Prepare
    const { o, sms } = await sessionOrg();
    await ok(act(o.alice, sms.id, 'end-session'));

    // Act
    await ok(
      api.webhook(
        o.channel.sms,
        { eventId: `e-${++n}`, type: 'message.received', threadId: sms.threadId, message: { text: 'one more thing' } },
        o.secret,
      ),
      202,
    );

    // Assess
    const all = await eventually(async () => {
      const items = (
        await ok(
          o.admin.get<{ items: Conv[] }>(
            `/v1/conversations?channelId=${o.channel.sms}&threadId=${encodeURIComponent(sms.threadId)}`,
          ),
        )
      ).items;
      return items.length === 2 ? items : undefined;
    });
    const next = all.find((c) => c.id !== sms.id) as Conv;
    expect(next).toMatchObject({
      status: 'Open',
      queueId: 'q1',
      session: { status: 'active' },
      ticket: { channel: 'messaging' },
    });
    expect(next.ticket.id).not.toBe(sms.ticket.id);
    expect(await conversation(o, sms.id)).toMatchObject({
      status: 'Active',
      session: { status: 'ended' },
      ticket: { channel: 'email' },
    });
  });

  it('M-3 / E-2: a trigger on session.endReason changed to ended-by-agent sends a survey to the customer and reassigns the ticket to q2', async () => {
    // Prepare
    const { o, sms } = await sessionOrg();
    await ok(
      o.admin.put('/v1/admin/triggers/after-session', {
        when: { event: 'end-session', field: 'session.endReason', changedTo: 'ended-by-agent' },
        then: [
          { type: 'send-survey', text: 'How did we do?' },
          { type: 'reassign', queueId: 'q2' },
        ],
      }),
    );

    // Act
    await ok(act(o.alice, sms.id, 'end-session'));

    // Assess: the survey on the outbound queue
    const survey = await oneOutbound(o, sms, 'survey.requested');
    expect(survey).toMatchObject({
      recipients: [{ kind: 'customer', id: `thread:${sms.threadId}` }],
      data: { trigger: 'after-session', text: 'How did we do?', channel: 'email' },
    });
    expect((await outboundOf(sms.id)).map((m) => m.notification.type)).toEqual(['survey.requested']);
    // ... and the ticket is Open in q2, its session still ended
    const now = await eventually(async () => {
      const c = await conversation(o, sms.id);
      return c.status === 'Open' ? c : undefined;
    });
    expect(now).toMatchObject({
      queueId: 'q2',
      session: { status: 'ended', endReason: 'ended-by-agent' },
      ticket: { channel: 'email' },
    });
    expect(now.primaryAgentId).toBeUndefined();
    expect((await eventsOf(o, sms.id)).slice(-2)).toEqual([
      expect.objectContaining({ action: 'end-session', reason: 'M-2: session ended by agent' }),
      expect.objectContaining({
        action: 'reassign',
        role: 'system',
        from: 'Active',
        to: 'Open',
        reason: 'M-3: reassigned by trigger',
        details: expect.objectContaining({ toQueue: 'q2' }),
      }),
    ]);
    expect((await agentView(o, 'alice')).capacity).toEqual({
      default: { max: 3, used: 0 },
      email: { max: 2, used: 1 },
    });
  });
});
