import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LocalRuntime } from '../../bin/local/runtime.js';
import { Api, eventually, ok, setupOrg, startRuntime, type DemoOrg } from '../support/e2e.js';

/**
 * Routing, identification, presence (P-2, P-3, P-5), push and pick distribution (R-2..R-5)
 * and consult candidates over HTTP on the local runtime: signed webhooks through the ingestion
 * queue, agents and admins with their own tokens.
 */

interface Conv {
  id: string;
  status: string;
  queueId: string;
  customerId?: string;
  primaryAgentId?: string;
  accepted?: boolean;
}
interface AgentView {
  id: string;
  presence: string;
  presenceSource: string;
  signedIn: boolean;
  capacity: Record<string, { max: number; used: number }>;
}
type Kind = keyof DemoOrg['channel'];

let rt: LocalRuntime;
let api: Api;
beforeAll(async () => {
  // timers fire only when a test moves the clock
  rt = await startRuntime({ tickMs: 3_600_000 });
  api = new Api(rt.url);
});
afterAll(() => rt?.stop());

const SETTINGS = {
  supervisorMonitor: false,
  supervisorAssign: false,
  supervisorTransfer: false,
  forceClose: false,
  agentEndMessagingSession: false,
};

/** Replaces part of a workstream (GET, merge, PUT). */
async function patchWorkstream(o: DemoOrg, kind: Kind, patch: Record<string, unknown>): Promise<void> {
  const {
    org: _org,
    id: _id,
    ...body
  } = await ok(o.admin.get<Record<string, unknown>>(`/v1/admin/workstreams/ws-${kind}`));
  await ok(o.admin.put(`/v1/admin/workstreams/ws-${kind}`, { ...body, ...patch }));
}

/** Push distribution on the chat workstream; offers wait an hour (other runtimes sweep the shared table). */
const pushChat = (o: DemoOrg, patch: Record<string, unknown> = {}): Promise<void> =>
  patchWorkstream(o, 'chat', { distribution: 'push', offerTimeoutSeconds: 3600, ...patch });

const putAgent = (
  o: DemoOrg,
  id: string,
  queues: string[],
  capacity: Record<string, number>,
  bot = false,
): Promise<AgentView> =>
  ok(o.admin.put<AgentView>(`/v1/admin/agents/${id}`, { name: id, queues, capacity, ...(bot ? { bot } : {}) })).then(
    afterFollowUps,
  );

async function signIn(o: DemoOrg, id: string): Promise<AgentView> {
  return afterFollowUps(await ok((await o.agent(id)).post<AgentView>('/v1/agents/me/sign-in')));
}

/** A response, once the follow-ups of the change it made (index refresh, dispatch) ran from the stream. */
async function afterFollowUps<T>(response: T): Promise<T> {
  await rt.settle();
  return response;
}

const agentView = (o: DemoOrg, id: string): Promise<AgentView> => ok(o.admin.get<AgentView>(`/v1/agents/${id}`));

let n = 0;
/** A customer starts a conversation on a fresh thread; resolves once it exists. */
async function customerStarts(
  o: DemoOrg,
  kind: Kind,
  extra: { customer?: Record<string, string>; context?: Record<string, string> } = {},
): Promise<Conv> {
  const threadId = `rp-${++n}`;
  await ok(
    api.webhook(
      o.channel[kind],
      { eventId: `e-${threadId}`, type: 'conversation.started', threadId, ...extra },
      o.secret,
    ),
    202,
  );
  return eventually(
    async () =>
      (await o.admin.get<{ items: Conv[] }>(`/v1/conversations?channelId=${o.channel[kind]}&threadId=${threadId}`)).body
        .items?.[0],
  );
}

const conversation = (o: DemoOrg, id: string): Promise<Conv> => ok(o.admin.get<Conv>(`/v1/conversations/${id}`));

/** Waits until the conversation is Active (a push offer lands right after the commit that created it). */
const activeOf = (o: DemoOrg, id: string): Promise<Conv> =>
  eventually(async () => {
    const c = await conversation(o, id);
    return c.status === 'Active' ? c : undefined;
  });

/** Waits until the ingestion consumer has finished everything sent so far, and the stream's follow-ups too. */
const settled = (): Promise<void> => rt.drain();

const actionsOf = async (o: DemoOrg, id: string): Promise<string[]> =>
  (await ok(o.admin.get<{ items: { action: string }[] }>(`/v1/conversations/${id}/events`))).items.map((e) => e.action);

async function act(as: Api, id: string, action: string): Promise<Conv> {
  return afterFollowUps(await ok(as.post<Conv>(`/v1/conversations/${id}/actions/${action}`)));
}

describe('R-6 / R-1: identification over webhooks', () => {
  it('R-6 / R-1: 14251234567, +1 425-123-4567 and (425) 123-4567 (default region US) identify the same contact; its contact.tier gold routes to q2', async () => {
    // Prepare
    const o = await setupOrg(api);
    await ok(o.admin.put('/v1/admin/settings', { ...SETTINGS, defaultPhoneRegion: 'US' }));
    await ok(
      o.admin.put('/v1/admin/contacts/jane', {
        kind: 'contact',
        name: 'Jane',
        phone: '+14251234567',
        attributes: { tier: 'gold' },
      }),
    );
    await patchWorkstream(o, 'sms', {
      routingRules: [{ when: { field: 'contact.tier', equals: 'gold' }, queueId: 'q2' }],
    });

    // Act
    const started: Conv[] = [];
    for (const phone of ['14251234567', '+1 425-123-4567', '(425) 123-4567'])
      started.push(await customerStarts(o, 'sms', { customer: { phone } }));
    const stranger = await customerStarts(o, 'sms', { customer: { phone: '+14259876543' } });

    // Assess
    expect(started.map((c) => [c.customerId, c.queueId])).toEqual([
      ['jane', 'q2'],
      ['jane', 'q2'],
      ['jane', 'q2'],
    ]);
    expect(stranger.customerId).toBeUndefined();
    expect(stranger.queueId).toBe('q1');
  });

  it('R-6: an email identifies the contact whatever its case; with phone AND email given both must match', async () => {
    // Prepare
    const o = await setupOrg(api);
    await ok(
      o.admin.put('/v1/admin/contacts/both', {
        kind: 'contact',
        name: 'Both',
        phone: '(425) 555-0100',
        email: 'Both.Fields@Example.com',
      }),
    );

    // Act
    const byEmail = await customerStarts(o, 'record', { customer: { email: 'BOTH.FIELDS@EXAMPLE.COM' } });
    const byBoth = await customerStarts(o, 'sms', {
      customer: { phone: '+1 425 555 0100', email: 'both.fields@example.com' },
    });
    const wrongEmail = await customerStarts(o, 'sms', {
      customer: { phone: '+1 425 555 0100', email: 'someone.else@example.com' },
    });
    const wrongPhone = await customerStarts(o, 'sms', {
      customer: { phone: '+1 425 555 0199', email: 'both.fields@example.com' },
    });

    // Assess
    expect([byEmail.customerId, byBoth.customerId]).toEqual(['both', 'both']);
    expect([wrongEmail.customerId, wrongPhone.customerId]).toEqual([undefined, undefined]);
  });

  it('R-6: an unparseable number ("not-a-number") identifies nobody: the webhook is 202 and the conversation is created without customerId', async () => {
    // Prepare
    const o = await setupOrg(api);
    await ok(o.admin.put('/v1/admin/contacts/jane', { kind: 'contact', name: 'Jane', phone: '+14251234567' }));

    // Act
    const c = await customerStarts(o, 'sms', { customer: { phone: 'not-a-number' } });

    // Assess
    expect(c).toMatchObject({ status: 'Open', queueId: 'q1' });
    expect(c.customerId).toBeUndefined();
    // a contact cannot be stored with such a number (RL-4)
    expect(
      (await o.admin.put('/v1/admin/contacts/bad', { kind: 'contact', name: 'Bad', phone: 'not-a-number' })).status,
    ).toBe(400);
  });

  it('R-6: an account is identified by its phone when no contact matches', async () => {
    // Prepare
    const o = await setupOrg(api);
    await ok(o.admin.put('/v1/admin/contacts/acme', { kind: 'account', name: 'Acme Corp', phone: '+14255550142' }));
    await ok(o.admin.put('/v1/admin/contacts/jane', { kind: 'contact', name: 'Jane', phone: '+14251234567' }));

    // Act
    const c = await customerStarts(o, 'voice', { customer: { phone: '425-555-0142' } });

    // Assess
    expect(c.customerId).toBe('acme');
  });
});

describe('presence (P-2, P-3, P-5)', () => {
  it('P-2: presence is Busy when the pool is full and Available again when capacity frees; GET /v1/agents/{id} shows presence, source and capacity', async () => {
    // Prepare: bob has 2 units (pick workstreams)
    const o = await setupOrg(api);
    const bob = await o.agent('bob');
    expect(await signIn(o, 'bob')).toMatchObject({
      presence: 'Available',
      presenceSource: 'computed',
      capacity: { default: { max: 2, used: 0 } },
    });
    const c1 = await customerStarts(o, 'chat');
    const c2 = await customerStarts(o, 'chat');

    // Act 1: bob takes one, then the second
    await act(bob, c1.id, 'accept');
    const half = await agentView(o, 'bob');
    await act(bob, c2.id, 'accept');
    const full = await agentView(o, 'bob');

    // Assess 1
    expect(half).toMatchObject({
      presence: 'Available',
      presenceSource: 'computed',
      capacity: { default: { max: 2, used: 1 } },
    });
    expect(full).toMatchObject({
      presence: 'Busy',
      presenceSource: 'computed',
      capacity: { default: { max: 2, used: 2 } },
    });
    expect(await ok(bob.get<AgentView>('/v1/agents/me'))).toMatchObject({
      presence: 'Busy',
      presenceSource: 'computed',
    });

    // Act 2: bob ends and closes one (wrap-up holds the unit until Closed)
    await act(bob, c1.id, 'end');
    const wrapUp = await agentView(o, 'bob');
    await act(bob, c1.id, 'close');

    // Assess 2
    expect(wrapUp).toMatchObject({ presence: 'Busy', capacity: { default: { used: 2 } } });
    expect(await agentView(o, 'bob')).toMatchObject({
      presence: 'Available',
      presenceSource: 'computed',
      capacity: { default: { max: 2, used: 1 } },
    });
  });

  it('P-3: a manual presence shows source manual and is cleared on sign-out', async () => {
    // Prepare
    const o = await setupOrg(api);
    const alice = await o.agent('alice');
    await signIn(o, 'alice');

    // Act
    const manual = await ok(alice.put<AgentView>('/v1/agents/me/presence', { presence: 'Away' }));
    const out = await ok(alice.post<AgentView>('/v1/agents/me/sign-out'));
    const back = await signIn(o, 'alice');

    // Assess
    expect(manual).toMatchObject({ presence: 'Away', presenceSource: 'manual', signedIn: true });
    expect(out).toMatchObject({ presence: 'Offline', signedIn: false });
    expect(back).toMatchObject({ presence: 'Available', presenceSource: 'computed', signedIn: true });
    expect(await agentView(o, 'alice')).toMatchObject({ presence: 'Available', presenceSource: 'computed' });
  });

  it('P-5: with the org default presence Away a signed-in agent without override shows Away (default) and gets no push offer when only Available is allowed', async () => {
    // Prepare
    const o = await setupOrg(api);
    await ok(o.admin.put('/v1/admin/settings', { ...SETTINGS, defaultPresence: 'Away' }));
    await pushChat(o, { allowedPresences: ['Available'] });
    const alice = await o.agent('alice');

    // Act
    const signed = await signIn(o, 'alice');
    const c = await customerStarts(o, 'chat');
    await settled();

    // Assess
    expect(signed).toMatchObject({ presence: 'Away', presenceSource: 'default', signedIn: true });
    expect(await conversation(o, c.id)).toMatchObject({ status: 'Open' });
    expect(await actionsOf(o, c.id)).toEqual(['created']);

    // Act 2: alice sets Available by hand (the override beats the default)
    expect(
      await afterFollowUps(await ok(alice.put<AgentView>('/v1/agents/me/presence', { presence: 'Available' }))),
    ).toMatchObject({
      presence: 'Available',
      presenceSource: 'manual',
    });

    // Assess 2: offered at once
    expect(await conversation(o, c.id)).toMatchObject({ status: 'Active', primaryAgentId: 'alice', accepted: false });
  });
});

describe('push distribution (R-2, R-3, R-5) and pick (R-4)', () => {
  it('R-2: agents in a disallowed presence (manual Away), outside the queue, or signed out are never offered; an eligible agent is', async () => {
    // Prepare: allowed presences [Available]; alice Away by hand, carl only in q2, bob signed in then out
    const o = await setupOrg(api);
    await pushChat(o, { allowedPresences: ['Available'] });
    await signIn(o, 'alice');
    await afterFollowUps(await ok((await o.agent('alice')).put('/v1/agents/me/presence', { presence: 'Away' })));
    await putAgent(o, 'carl', ['q2'], { default: 5 });
    await signIn(o, 'carl');
    await signIn(o, 'bob');
    await afterFollowUps(await ok((await o.agent('bob')).post('/v1/agents/me/sign-out')));
    await putAgent(o, 'dana', ['q1'], { default: 1 }); // never signs in

    // Act
    const c = await customerStarts(o, 'chat');
    await settled();

    // Assess
    expect(await conversation(o, c.id)).toMatchObject({ status: 'Open', queueId: 'q1' });
    expect(await actionsOf(o, c.id)).toEqual(['created']);
    for (const id of ['alice', 'carl', 'bob', 'dana'])
      expect((await agentView(o, id)).capacity.default?.used, id).toBe(0);

    // Act 2: bob signs in again
    await signIn(o, 'bob');

    // Assess 2
    expect(await conversation(o, c.id)).toMatchObject({ status: 'Active', primaryAgentId: 'bob', accepted: false });
  });

  it('R-3: with every agent full an Open conversation waits; closing one offers the oldest Open one to that agent at once; a newly signed-in agent gets the next oldest', async () => {
    // Prepare: alice and bob with one unit each, both busy; two conversations wait
    const o = await setupOrg(api);
    await pushChat(o);
    await putAgent(o, 'alice', ['q1'], { default: 1 });
    await putAgent(o, 'bob', ['q1', 'q2'], { default: 1 });
    await signIn(o, 'alice');
    await signIn(o, 'bob');
    const first = await activeOf(o, (await customerStarts(o, 'chat')).id);
    const second = await activeOf(o, (await customerStarts(o, 'chat')).id);
    expect(new Set([first.primaryAgentId, second.primaryAgentId])).toEqual(new Set(['alice', 'bob']));
    const holder = first.primaryAgentId as string;
    const holderApi = await o.agent(holder);
    await act(holderApi, first.id, 'accept');
    const older = await customerStarts(o, 'chat');
    const newer = await customerStarts(o, 'chat');
    await settled();
    expect((await conversation(o, older.id)).status).toBe('Open');
    expect((await conversation(o, newer.id)).status).toBe('Open');

    // Act 1: the holder ends and closes the first conversation
    await act(holderApi, first.id, 'end');
    await act(holderApi, first.id, 'close');

    // Assess 1: the oldest Open conversation is offered to that agent at once; the newer one waits
    expect(await conversation(o, older.id)).toMatchObject({
      status: 'Active',
      primaryAgentId: holder,
      accepted: false,
    });
    expect((await conversation(o, newer.id)).status).toBe('Open');

    // Act 2: a new agent signs in
    await putAgent(o, 'dana', ['q1'], { default: 1 });
    await signIn(o, 'dana');

    // Assess 2
    expect(await conversation(o, newer.id)).toMatchObject({
      status: 'Active',
      primaryAgentId: 'dana',
      accepted: false,
    });
  });

  it("R-4: a 'pick' workstream makes no automatic offer; an agent of the queue picks it", async () => {
    // Prepare: setupOrg's workstreams distribute by pick
    const o = await setupOrg(api);
    await signIn(o, 'alice');
    await signIn(o, 'bob');

    // Act
    const c = await customerStarts(o, 'chat');
    await settled();
    const before = await conversation(o, c.id);
    const picked = await act(await o.agent('bob'), c.id, 'accept');

    // Assess
    expect(before.status).toBe('Open');
    expect(before.primaryAgentId).toBeUndefined();
    expect(picked).toMatchObject({ status: 'Active', primaryAgentId: 'bob', accepted: true });
    expect(await actionsOf(o, c.id)).toEqual(['created', 'accept']);
  });

  it('R-5: adding a queue to a signed-in agent (PUT agent) applies to the next decision: they are offered the Open work of that queue', async () => {
    // Prepare: context topic=billing routes to q2; alice (q1 only) is the only one signed in
    const o = await setupOrg(api);
    await pushChat(o);
    await signIn(o, 'alice');
    const c = await customerStarts(o, 'chat', { context: { topic: 'billing' } });
    await settled();
    expect(await conversation(o, c.id)).toMatchObject({ status: 'Open', queueId: 'q2' });

    // Act
    const updated = await putAgent(o, 'alice', ['q1', 'q2'], { default: 3 });

    // Assess: the answer shows the new configuration; the offer its follow-ups made (from the stream, before
    // putAgent above returned) holds one of her units
    expect(updated).toMatchObject({ capacity: { default: { max: 3 } } });
    expect(await agentView(o, 'alice')).toMatchObject({ capacity: { default: { max: 3, used: 1 } } });
    expect(await conversation(o, c.id)).toMatchObject({
      status: 'Active',
      primaryAgentId: 'alice',
      accepted: false,
      queueId: 'q2',
    });
  });
});

describe('X-2: consult candidates', () => {
  it('X-2: GET consult-candidates lists the queue agents with an allowed presence and remaining capacity, never the primary or a bot', async () => {
    // Prepare: pick chat in q1 (allowed Available, Busy); alice will be the primary
    const o = await setupOrg(api);
    await putAgent(o, 'carl', ['q1'], { default: 3 }); // Away by hand
    await putAgent(o, 'dana', ['q1'], { default: 1 }); // full
    await putAgent(o, 'robo', ['q1'], { default: 10 }, true); // a bot
    await putAgent(o, 'erin', ['q2'], { default: 3 }); // another queue
    await putAgent(o, 'frank', ['q1'], { default: 3 }); // signed out
    for (const id of ['alice', 'bob', 'carl', 'dana', 'robo', 'erin']) await signIn(o, id);
    await ok((await o.agent('carl')).put('/v1/agents/me/presence', { presence: 'Away' }));
    const other = await customerStarts(o, 'chat');
    await act(await o.agent('dana'), other.id, 'accept');
    const c = await customerStarts(o, 'chat');
    const alice = await o.agent('alice');
    await act(alice, c.id, 'accept');

    // Act
    const byPrimary = await ok(
      alice.get<{ items: { id: string; presence: string; remaining: number }[] }>(
        `/v1/conversations/${c.id}/consult-candidates`,
      ),
    );
    const byAdmin = await ok(o.admin.get<{ items: { id: string }[] }>(`/v1/conversations/${c.id}/consult-candidates`));

    // Assess
    expect(byPrimary.items).toEqual([expect.objectContaining({ id: 'bob', presence: 'Available', remaining: 2 })]);
    expect(byAdmin.items.map((a) => a.id)).toEqual(['bob']);
  });
});
