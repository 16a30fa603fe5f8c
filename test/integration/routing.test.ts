import { describe, expect, it } from 'vitest';
import { ulid } from 'ulid';
import {
  DEFAULT_SETTINGS,
  type Actor,
  type ChannelKind,
  type Contact,
  type Conversation,
} from '../../functions/domain/model.js';
import { presenceOf } from '../../functions/domain/presence.js';
import type { Action } from '../../functions/domain/transitions.js';
import type { DueTimer } from '../../functions/ports/due-timer.js';
import { configureAgent, configureContact, configureSettings } from '../../functions/use-cases/admin.use-case.js';
import { setPresence, signIn, signOut } from '../../functions/use-cases/agent-presence.use-case.js';
import { performAction } from '../../functions/use-cases/conversation-action.use-case.js';
import {
  handleCustomerEvent,
  identifyCustomer,
  type CustomerEvent,
} from '../../functions/use-cases/customer-event.use-case.js';
import { dispatchAgent, dispatchConversation } from '../../functions/use-cases/dispatch.use-case.js';
import { fireTimer } from '../../functions/use-cases/timers.use-case.js';
import { makeFixture, testRepositories, type Fixture, type FixtureOptions } from '../support/fixture.js';
import type { EngineDeps } from '../../functions/use-cases/engine.js';

/**
 * Routing, identification, push distribution and pick through the
 * use cases on DynamoDB Local. Nothing is mocked: the availability index (GSI5), the fresh re-check
 * and the offer transaction are the real ones. After-commit work (availability refresh, dispatch)
 * runs inside each use case call, so its effect is visible as soon as the call returns.
 */

const agent = (id: string): Actor => ({ role: 'agent', id });
/** later than any timer a test arms */
const END_OF_TIME = new Date('2999-01-01T00:00:00.000Z');

const act = (f: Fixture, actor: Actor, conversationId: string, action: Action): Promise<Conversation> =>
  performAction(f.deps, { org: f.org, conversationId, actor, action }).then((r) => r.conversation);

let threads = 0;
/** A customer starts a conversation on a fresh thread, with optional address and context. */
async function customerStarts(
  f: Fixture,
  kind: ChannelKind,
  extra: Pick<CustomerEvent, 'customer' | 'context'> = {},
): Promise<Conversation> {
  const threadId = `rt-${++threads}`;
  const r = await handleCustomerEvent(f.deps, f.org, f.channelId(kind), {
    eventId: ulid(),
    type: 'conversation.started',
    threadId,
    ...extra,
  });
  if (r.outcome !== 'created') throw new Error(`expected a new conversation, got ${r.outcome}`);
  return r.conversation;
}

/** An org whose chat workstream distributes by push. */
async function pushFixture(options: FixtureOptions = {}): Promise<Fixture> {
  const f = await makeFixture(options);
  await f.setWorkstream('chat', { distribution: 'push' });
  return f;
}

/** Adds an agent and signs them in (agents must be signed in to be routable). */
async function signedIn(
  f: Fixture,
  id: string,
  capacity: Record<string, number> = { default: 3 },
  queues = ['q1'],
): Promise<void> {
  await f.addAgent(id, capacity, queues);
  await signIn(f.deps, f.org, id);
}

const usedOf = async (f: Fixture, id: string, pool = 'default'): Promise<number | undefined> =>
  (await f.store.getAgent(f.org, id))?.pools[pool]?.used;

/** The history actions of a conversation, oldest first. */
const actionsOf = async (f: Fixture, id: string): Promise<string[]> =>
  (await f.store.listEvents(f.org, id)).map((e) => e.action);

/** The one outbox item of a kind for a conversation at its current version (the live offer's expiry). */
async function liveTimer(f: Fixture, kind: DueTimer['kind'], c: Conversation): Promise<DueTimer> {
  const items = (await f.store.listDueTimers(END_OF_TIME, 10_000)).filter(
    (t) => t.org === f.org && t.kind === kind && t.conversationId === c.id && t.version === c.version,
  );
  expect(items, `${kind} for ${c.id} v${c.version}`).toHaveLength(1);
  return items[0] as DueTimer;
}

/**
 * The safety-net dispatch armed when a push conversation was created fires (as the sweeper would,
 * 30 s later) while nobody can take it, and leaves the outbox: from then on only the engine's
 * event-driven dispatch can offer the conversation.
 */
async function safetyNetRunsEmpty(f: Fixture, c: Conversation): Promise<void> {
  const timer = await liveTimer(f, 'dispatch', await f.conversation(c.id));
  expect((await fireTimer(f.deps, timer)).outcome).toBe('stale');
  await f.store.deleteTimer(f.org, timer.name);
}

async function putContact(
  f: Fixture,
  c: Omit<Contact, 'org' | 'attributes'> & { attributes?: Record<string, string> },
): Promise<void> {
  await configureContact(f.deps, { org: f.org, attributes: {}, ...c });
}

describe('R-1: routing rules pick the queue', () => {
  it('R-1: equals, in-list and exists match on context variables; nothing matching goes to the default queue', async () => {
    // Prepare
    const f = await makeFixture();
    await f.setWorkstream('chat', {
      routingRules: [
        { when: { field: 'topic', equals: 'billing' }, queueId: 'q2' },
        { when: { field: 'lang', in: ['fr', 'es'] }, queueId: 'q2' },
        { when: { field: 'vip', exists: true }, queueId: 'q2' },
      ],
    });

    // Act
    const byEquals = await customerStarts(f, 'chat', { context: { topic: 'billing' } });
    const notEquals = await customerStarts(f, 'chat', { context: { topic: 'Billing' } });
    const byIn = await customerStarts(f, 'chat', { context: { lang: 'es' } });
    const notIn = await customerStarts(f, 'chat', { context: { lang: 'de' } });
    const byExists = await customerStarts(f, 'chat', { context: { vip: '' } });
    const none = await customerStarts(f, 'chat');

    // Assess
    expect([byEquals, byIn, byExists].map((c) => c.queueId)).toEqual(['q2', 'q2', 'q2']);
    expect([notEquals, notIn, none].map((c) => c.queueId)).toEqual(['q1', 'q1', 'q1']);
    expect(byIn.statusReason).toBe('R-1: routing rule 2');
    expect(none.statusReason).toBe('R-1: default queue');
  });

  it('R-1: exists:false matches an absent variable only', async () => {
    // Prepare
    const f = await makeFixture();
    await f.setWorkstream('chat', { routingRules: [{ when: { field: 'accountId', exists: false }, queueId: 'q2' }] });

    // Act
    const anonymous = await customerStarts(f, 'chat', { context: { lang: 'en' } });
    const known = await customerStarts(f, 'chat', { context: { accountId: 'A-1' } });

    // Assess
    expect(anonymous.queueId).toBe('q2');
    expect(known.queueId).toBe('q1');
  });

  it('R-1: rules are evaluated in order and the first match wins', async () => {
    // Prepare
    const f = await makeFixture();
    await f.store.putQueue({ org: f.org, id: 'q3', name: 'Queue 3' });
    await f.setWorkstream('chat', {
      routingRules: [
        { when: { field: 'lang', equals: 'fr' }, queueId: 'q3' },
        { when: { field: 'topic', in: ['billing', 'refund'] }, queueId: 'q2' },
        { when: { field: 'lang', exists: true }, queueId: 'q2' },
      ],
    });

    // Act
    const both = await customerStarts(f, 'chat', { context: { lang: 'fr', topic: 'billing' } });
    const second = await customerStarts(f, 'chat', { context: { lang: 'en', topic: 'refund' } });
    const third = await customerStarts(f, 'chat', { context: { lang: 'en' } });

    // Assess
    expect(both).toMatchObject({ queueId: 'q3', statusReason: 'R-1: routing rule 1' });
    expect(second).toMatchObject({ queueId: 'q2', statusReason: 'R-1: routing rule 2' });
    expect(third).toMatchObject({ queueId: 'q2', statusReason: 'R-1: routing rule 3' });
  });

  it("R-1 / R-6: a rule on the identified contact's attribute (contact.tier equals gold) routes to q2; others go to the default", async () => {
    // Prepare
    const f = await makeFixture();
    await putContact(f, {
      id: 'gold-1',
      kind: 'contact',
      name: 'Gold',
      phone: '+14251234567',
      attributes: { tier: 'gold' },
    });
    await putContact(f, {
      id: 'silver-1',
      kind: 'contact',
      name: 'Silver',
      phone: '+14257654321',
      attributes: { tier: 'silver' },
    });
    await f.setWorkstream('sms', {
      routingRules: [{ when: { field: 'contact.tier', equals: 'gold' }, queueId: 'q2' }],
    });

    // Act
    const gold = await customerStarts(f, 'sms', { customer: { phone: '(425) 123-4567' } });
    const silver = await customerStarts(f, 'sms', { customer: { phone: '+14257654321' } });
    const unknown = await customerStarts(f, 'sms', { customer: { phone: '+14250000000' } });

    // Assess
    expect(gold).toMatchObject({ queueId: 'q2', customerId: 'gold-1', statusReason: 'R-1: routing rule 1' });
    expect(silver).toMatchObject({ queueId: 'q1', customerId: 'silver-1' });
    expect(unknown.queueId).toBe('q1');
    expect(unknown.customerId).toBeUndefined();
  });

  it('R-1: rules on unknown fields (never sent, prototype names, unknown contact attributes) never crash and never match', async () => {
    // Prepare
    const f = await makeFixture();
    await putContact(f, { id: 'c-1', kind: 'contact', name: 'Plain', email: 'plain@example.com' });
    await f.setWorkstream('chat', {
      routingRules: [
        { when: { field: 'no-such-variable', equals: 'x' }, queueId: 'q2' },
        { when: { field: 'constructor', exists: true }, queueId: 'q2' },
        { when: { field: 'toString', in: ['x'] }, queueId: 'q2' },
        { when: { field: '__proto__', exists: true }, queueId: 'q2' },
        { when: { field: 'contact.segment', equals: 'enterprise' }, queueId: 'q2' },
        { when: { field: 'contact.hasOwnProperty', exists: true }, queueId: 'q2' },
      ],
    });

    // Act
    const plain = await customerStarts(f, 'chat', {
      context: { lang: 'en' },
      customer: { email: 'plain@example.com' },
    });
    const empty = await customerStarts(f, 'chat', { context: {} });
    const odd = await customerStarts(f, 'chat', { context: { 'weird key with spaces': 'v', '': 'empty name' } });

    // Assess
    expect(plain).toMatchObject({ queueId: 'q1', customerId: 'c-1', statusReason: 'R-1: default queue' });
    expect(empty).toMatchObject({ queueId: 'q1', statusReason: 'R-1: default queue' });
    expect(odd).toMatchObject({ queueId: 'q1', statusReason: 'R-1: default queue' });
  });
});

describe('R-6: the customer is identified from the channel address', () => {
  it('R-6: 14251234567, +1 425-123-4567 and (425) 123-4567 (default region US) identify the same contact', async () => {
    // Prepare
    const f = await makeFixture();
    await putContact(f, { id: 'jane', kind: 'contact', name: 'Jane', phone: '+1 (425) 123-4567' });

    // Act
    const started = [];
    for (const phone of ['14251234567', '+1 425-123-4567', '(425) 123-4567', '+14251234567'])
      started.push(await customerStarts(f, 'sms', { customer: { phone } }));

    // Assess
    expect(started.map((c) => c.customerId)).toEqual(['jane', 'jane', 'jane', 'jane']);
    expect(await f.store.findContacts(f.org, 'phone', '+14251234567')).toEqual([{ id: 'jane', kind: 'contact' }]);
  });

  it("R-6: national numbers are read in the org's default phone region", async () => {
    // Prepare
    const f = await makeFixture();
    await configureSettings(f.deps, { org: f.org, ...DEFAULT_SETTINGS, defaultPhoneRegion: 'FR' });
    await putContact(f, { id: 'marie', kind: 'contact', name: 'Marie', phone: '06 12 34 56 78' });

    // Act
    const national = await customerStarts(f, 'sms', { customer: { phone: '0612345678' } });
    const international = await customerStarts(f, 'sms', { customer: { phone: '+33 6 12 34 56 78' } });

    // Assess
    expect(await f.store.findContacts(f.org, 'phone', '+33612345678')).toEqual([{ id: 'marie', kind: 'contact' }]);
    expect([national.customerId, international.customerId]).toEqual(['marie', 'marie']);
  });

  it('R-6: an email address identifies the contact whatever its case', async () => {
    // Prepare
    const f = await makeFixture();
    await putContact(f, { id: 'jd', kind: 'contact', name: 'John', email: 'John.Doe@Example.com' });

    // Act
    const upper = await customerStarts(f, 'record', { customer: { email: 'JOHN.DOE@EXAMPLE.COM' } });
    const lower = await customerStarts(f, 'record', { customer: { email: ' john.doe@example.com ' } });
    const other = await customerStarts(f, 'record', { customer: { email: 'jane.doe@example.com' } });

    // Assess
    expect([upper.customerId, lower.customerId]).toEqual(['jd', 'jd']);
    expect(other.customerId).toBeUndefined();
  });

  it('R-6: a contact with phone AND email is identified only when every field given matches it', async () => {
    // Prepare
    const f = await makeFixture();
    await putContact(f, {
      id: 'both',
      kind: 'contact',
      name: 'Both',
      phone: '+14251234567',
      email: 'both@example.com',
    });
    await putContact(f, { id: 'mailonly', kind: 'contact', name: 'Mail only', email: 'other@example.com' });
    const identify = async (customer: CustomerEvent['customer']) =>
      (await identifyCustomer(f.deps, f.org, customer))?.id;

    // Act
    const results = {
      phoneAndEmail: await identify({ phone: '425-123-4567', email: 'BOTH@example.com' }),
      phoneOnly: await identify({ phone: '425-123-4567' }),
      emailOnly: await identify({ email: 'both@example.com' }),
      phoneWrongEmail: await identify({ phone: '425-123-4567', email: 'nobody@example.com' }),
      phoneOtherContactsEmail: await identify({ phone: '425-123-4567', email: 'other@example.com' }),
      wrongPhoneEmail: await identify({ phone: '+14259999999', email: 'both@example.com' }),
    };
    const viaEvent = await customerStarts(f, 'sms', {
      customer: { phone: '425-123-4567', email: 'nobody@example.com' },
    });

    // Assess
    expect(results).toEqual({
      phoneAndEmail: 'both',
      phoneOnly: 'both',
      emailOnly: 'both',
      phoneWrongEmail: undefined,
      phoneOtherContactsEmail: undefined,
      wrongPhoneEmail: undefined,
    });
    expect(viaEvent.customerId).toBeUndefined();
  });

  it('R-6: an unparseable number ("not-a-number") identifies nobody and the conversation is still created', async () => {
    // Prepare
    const f = await makeFixture();
    await putContact(f, { id: 'jane', kind: 'contact', name: 'Jane', phone: '+14251234567' });

    // Act
    const r = await handleCustomerEvent(f.deps, f.org, f.channelId('sms'), {
      eventId: ulid(),
      type: 'conversation.started',
      threadId: 'nan-thread',
      customer: { phone: 'not-a-number' },
    });

    // Assess
    expect(r.outcome).toBe('created');
    const c = r.outcome === 'created' ? r.conversation : undefined;
    expect(c).toMatchObject({ status: 'Open', queueId: 'q1' });
    expect(c?.customerId).toBeUndefined();
    expect((await f.conversation(c?.id as string)).customerId).toBeUndefined();
  });

  it('R-6: an account is identified by its phone when no contact has it; a contact with the same phone wins over an account', async () => {
    // Prepare
    const f = await makeFixture();
    await putContact(f, {
      id: 'acme',
      kind: 'account',
      name: 'Acme Corp',
      phone: '+14255550100',
      attributes: { tier: 'gold' },
    });
    await putContact(f, { id: 'globex', kind: 'account', name: 'Globex', phone: '+14255550199' });
    await putContact(f, { id: 'hank', kind: 'contact', name: 'Hank (Globex)', phone: '+14255550199' });
    await f.setWorkstream('voice', {
      routingRules: [{ when: { field: 'contact.tier', equals: 'gold' }, queueId: 'q2' }],
    });

    // Act
    const account = await customerStarts(f, 'voice', { customer: { phone: '425 555 0100' } });
    const contactFirst = await customerStarts(f, 'voice', { customer: { phone: '4255550199' } });

    // Assess
    expect(account).toMatchObject({ customerId: 'acme', queueId: 'q2' });
    expect(contactFirst).toMatchObject({ customerId: 'hank', queueId: 'q1' });
  });
});

describe('R-3: push distribution', () => {
  it('R-3: a new conversation is offered to the agent with most remaining capacity, not to the one idle longest', async () => {
    // Prepare
    const f = await pushFixture();
    await signedIn(f, 'bob', { default: 2 }); // idle longer
    f.clock.advance(30);
    await signedIn(f, 'alice', { default: 3 });

    // Act
    const c = await customerStarts(f, 'chat');

    // Assess
    expect(c.status).toBe('Open'); // as created; the offer follows at once
    expect(await f.conversation(c.id)).toMatchObject({
      status: 'Active',
      primaryAgentId: 'alice',
      accepted: false,
      allocation: { agentId: 'alice', units: 1 },
    });
    expect(await usedOf(f, 'alice')).toBe(1);
    expect(await actionsOf(f, c.id)).toEqual(['created', 'offer']);
  });

  it('R-3: a tie on remaining capacity goes to the agent idle longest (older idleSince), not by name', async () => {
    // Prepare
    const f = await pushFixture();
    await signedIn(f, 'zed', { default: 2 }); // signed in first: idle since 09:00:00
    f.clock.advance(10);
    await signedIn(f, 'amy', { default: 2 }); // idle since 09:00:10

    // Act: each new conversation goes to the most remaining capacity, ties to the longest idle
    const offeredTo: (string | undefined)[] = [];
    for (let i = 0; i < 4; i++) {
      f.clock.advance(1);
      const c = await customerStarts(f, 'chat');
      offeredTo.push((await f.conversation(c.id)).primaryAgentId);
    }

    // Assess
    // 1: tie 2/2 -> zed (idle longer); 2: amy 2 > zed 1; 3: tie 1/1 -> zed (got work before amy); 4: amy
    expect(offeredTo).toEqual(['zed', 'amy', 'zed', 'amy']);
    expect(await usedOf(f, 'zed')).toBe(2);
    expect(await usedOf(f, 'amy')).toBe(2);
  });

  it('R-3: a rejected offer goes to the next agent; an expired one too; when everyone declined it starts over', async () => {
    // Prepare
    const f = await pushFixture();
    await signedIn(f, 'alice', { default: 3 });
    await signedIn(f, 'bob', { default: 2 });
    const c = await customerStarts(f, 'chat');
    const toAlice = await f.conversation(c.id);
    expect(toAlice).toMatchObject({ status: 'Active', primaryAgentId: 'alice', accepted: false });

    // Act 1: alice rejects
    await act(f, agent('alice'), c.id, { type: 'reject' });

    // Assess 1: offered to bob at once, alice's capacity back
    const toBob = await f.conversation(c.id);
    expect(toBob).toMatchObject({ status: 'Active', primaryAgentId: 'bob', accepted: false, declinedBy: ['alice'] });
    expect([await usedOf(f, 'alice'), await usedOf(f, 'bob')]).toEqual([0, 1]);

    // Act 2: bob lets it expire (the offer-expiry timer of bob's offer fires)
    const expiry = await liveTimer(f, 'offer-expiry', toBob);
    f.clock.advance(60);
    const fired = await fireTimer(f.deps, expiry);

    // Assess 2: everyone declined: offered again, the one who declined longest ago first
    expect(fired.outcome).toBe('applied');
    expect(await f.conversation(c.id)).toMatchObject({
      status: 'Active',
      primaryAgentId: 'alice',
      accepted: false,
      declinedBy: ['alice', 'bob'],
    });
    expect([await usedOf(f, 'alice'), await usedOf(f, 'bob')]).toEqual([1, 0]);
    expect(await actionsOf(f, c.id)).toEqual(['created', 'offer', 'reject', 'offer', 'offer-expired', 'offer']);
    expect(await act(f, agent('alice'), c.id, { type: 'accept' })).toMatchObject({ status: 'Active', accepted: true });
  });

  it("R-3: a rejected offer goes to the next agent even when the rejecting agent's own dispatch runs first", async () => {
    // Prepare: follow-ups by hand; alice (3 units) is offered the chat, bob (2) is free too
    const f = await pushFixture({ settle: 'manual' });
    await signedIn(f, 'alice', { default: 3 });
    await signedIn(f, 'bob', { default: 2 });
    await f.settle();
    const c = await customerStarts(f, 'chat');
    await f.settle();
    expect(await f.conversation(c.id)).toMatchObject({ primaryAgentId: 'alice', accepted: false });
    await act(f, agent('alice'), c.id, { type: 'reject' });

    // Act: her capacity is back, and her own dispatch runs before the conversation's (another stream shard)
    await dispatchAgent(f.deps, f.org, 'alice', false);
    await f.settle();

    // Assess: not offered back to her while bob can take it
    expect(await f.conversation(c.id)).toMatchObject({ status: 'Active', primaryAgentId: 'bob', accepted: false });
  });

  it('R-3: a rejected offer goes to an agent who has not declined even with less remaining capacity', async () => {
    // Prepare
    const f = await pushFixture();
    await signedIn(f, 'big', { default: 5 });
    await signedIn(f, 'small', { default: 1 });
    const c = await customerStarts(f, 'chat');
    expect((await f.conversation(c.id)).primaryAgentId).toBe('big');

    // Act
    await act(f, agent('big'), c.id, { type: 'reject' });

    // Assess
    expect(await f.conversation(c.id)).toMatchObject({ status: 'Active', primaryAgentId: 'small', accepted: false });
  });

  it('R-3: with every agent full an Open conversation waits; closing one conversation offers the oldest Open one to that agent at once', async () => {
    // Prepare: two agents with one unit each, both busy; two conversations wait (older first)
    const f = await pushFixture();
    await signedIn(f, 'alice', { default: 1 });
    await signedIn(f, 'bob', { default: 1 });
    const first = await customerStarts(f, 'chat');
    f.clock.advance(1);
    const second = await customerStarts(f, 'chat');
    f.clock.advance(1);
    const older = await customerStarts(f, 'chat');
    f.clock.advance(1);
    const newer = await customerStarts(f, 'chat');
    const holder = (await f.conversation(first.id)).primaryAgentId as string;
    const other = holder === 'alice' ? 'bob' : 'alice';
    expect((await f.conversation(second.id)).primaryAgentId).toBe(other);
    await act(f, agent(holder), first.id, { type: 'accept' });
    await act(f, agent(other), second.id, { type: 'accept' });
    expect((await f.conversation(older.id)).status).toBe('Open');
    expect((await f.conversation(newer.id)).status).toBe('Open');
    // more dispatching changes nothing while everyone is full
    expect(await dispatchConversation(f.deps, f.org, older.id)).toEqual({});
    expect(await dispatchAgent(f.deps, f.org, holder)).toEqual({ offered: [] });

    // Act: the holder ends (WrapUp holds the capacity: policy always) and closes
    await act(f, agent(holder), first.id, { type: 'end' });
    expect((await f.conversation(older.id)).status).toBe('Open');
    await act(f, agent(holder), first.id, { type: 'close' });

    // Assess
    expect(await f.conversation(older.id)).toMatchObject({ status: 'Active', primaryAgentId: holder, accepted: false });
    expect((await f.conversation(newer.id)).status).toBe('Open');
    expect(await usedOf(f, holder)).toBe(1);
  });

  it('R-3: a newly signed-in agent is offered the oldest Open conversation of their queues', async () => {
    // Prepare: alice (1 unit) is full, two conversations wait
    const f = await pushFixture();
    await signedIn(f, 'alice', { default: 1 });
    await customerStarts(f, 'chat');
    f.clock.advance(1);
    const older = await customerStarts(f, 'chat');
    f.clock.advance(1);
    const newer = await customerStarts(f, 'chat');
    await f.addAgent('carol', { default: 1 }, ['q1']);
    expect((await f.conversation(older.id)).status).toBe('Open');

    // Act
    await signIn(f.deps, f.org, 'carol');

    // Assess
    expect(await f.conversation(older.id)).toMatchObject({
      status: 'Active',
      primaryAgentId: 'carol',
      accepted: false,
    });
    expect((await f.conversation(newer.id)).status).toBe('Open');
  });
});

describe('R-3: freed or new capacity picks up the push backlog whatever else shares the queue', () => {
  it('R-3: an agent who frees capacity by closing a pick-workstream conversation is offered the oldest Open push conversation at once', async () => {
    // Prepare: alice (1 unit) works an sms conversation (pick workstream, queue q1); a push chat waits in q1
    const f = await pushFixture();
    await signedIn(f, 'alice', { default: 1 });
    const sms = await customerStarts(f, 'sms');
    await act(f, agent('alice'), sms.id, { type: 'accept' });
    const chat = await customerStarts(f, 'chat');
    expect((await f.conversation(chat.id)).status).toBe('Open');
    await safetyNetRunsEmpty(f, chat);

    // Act: alice ends and closes the sms conversation: her unit is free
    await act(f, agent('alice'), sms.id, { type: 'end' });
    await act(f, agent('alice'), sms.id, { type: 'close' });

    // Assess
    expect(await f.conversation(chat.id)).toMatchObject({ status: 'Active', primaryAgentId: 'alice', accepted: false });
    expect(await usedOf(f, 'alice')).toBe(1);
  });

  it('R-3: a newly signed-in agent is offered the push backlog even behind more than 10 older Open items of a pick workstream in the same queue', async () => {
    // Prepare: 12 older sms conversations (pick) and then one push chat wait in q1; alice is not signed in
    const f = await pushFixture();
    for (let i = 0; i < 12; i++) {
      await customerStarts(f, 'sms');
      f.clock.advance(1);
    }
    const chat = await customerStarts(f, 'chat');
    await f.addAgent('alice', { default: 3 }, ['q1']);
    await safetyNetRunsEmpty(f, chat);

    // Act
    await signIn(f.deps, f.org, 'alice');

    // Assess
    expect(await f.conversation(chat.id)).toMatchObject({ status: 'Active', primaryAgentId: 'alice', accepted: false });
  });
});

describe('R-2: only eligible agents are offered work', () => {
  it('R-2: an agent in a disallowed presence (manual Away), a non-member and a signed-out agent are never offered; an eligible one is', async () => {
    // Prepare
    const f = await pushFixture({ allowedPresences: ['Available'] });
    await signedIn(f, 'away', { default: 5 });
    await setPresence(f.deps, f.org, 'away', 'Away');
    await signedIn(f, 'dnd', { default: 5 });
    await setPresence(f.deps, f.org, 'dnd', 'BusyDND');
    await signedIn(f, 'outsider', { default: 5 }, ['q2']);
    await f.addAgent('never', { default: 5 }); // never signed in
    await signedIn(f, 'left', { default: 5 });
    await signOut(f.deps, f.org, 'left');

    // Act
    const c = await customerStarts(f, 'chat');
    const again = await dispatchConversation(f.deps, f.org, c.id);
    const byAgent = await Promise.all(
      ['away', 'dnd', 'outsider', 'never', 'left'].map((id) => dispatchAgent(f.deps, f.org, id)),
    );

    // Assess
    expect(again).toEqual({});
    expect(byAgent.flatMap((r) => r.offered)).toEqual([]);
    expect((await f.conversation(c.id)).status).toBe('Open');
    expect(await actionsOf(f, c.id)).toEqual(['created']);
    for (const id of ['away', 'dnd', 'outsider', 'never', 'left']) expect(await usedOf(f, id), id).toBe(0);

    // Act 2: an eligible agent signs in
    await signedIn(f, 'eve', { default: 1 });

    // Assess 2
    expect(await f.conversation(c.id)).toMatchObject({ status: 'Active', primaryAgentId: 'eve', accepted: false });
  });

  it('R-2: an agent whose presence changed without an index refresh is re-checked fresh and skipped (the index is only a candidate list)', async () => {
    // Prepare: alice (most capacity) is in the index; her override lands and its follow-ups (the index
    // refresh) have not run yet when a conversation is dispatched: the plain store, no settling
    const f = await pushFixture({ allowedPresences: ['Available'] });
    await signedIn(f, 'alice', { default: 5 });
    await signedIn(f, 'bob', { default: 1 });
    const lagging: EngineDeps = { ...f.deps, ...testRepositories() };
    await lagging.agents.updateAgentState(f.org, 'alice', { presenceOverride: 'Away' });
    expect((await f.store.availableAgents(f.org, 'q1', 'default', 1, 5)).agents.map((a) => a.agentId)).toEqual([
      'alice',
      'bob',
    ]);
    const started = await handleCustomerEvent(lagging, f.org, f.channelId('chat'), {
      eventId: ulid(),
      type: 'conversation.started',
      threadId: `rt-${++threads}`,
    });
    if (started.outcome !== 'created') throw new Error(started.outcome);
    const c = started.conversation;

    // Act
    await dispatchConversation(lagging, f.org, c.id);

    // Assess: bob got it; alice's index entry was healed by the dispatch itself (bob's follow-ups, not run
    // yet, still list him), and once the follow-ups ran nobody is left with room
    expect(await f.conversation(c.id)).toMatchObject({ status: 'Active', primaryAgentId: 'bob', accepted: false });
    expect((await f.store.availableAgents(f.org, 'q1', 'default', 1, 5)).agents.map((a) => a.agentId)).toEqual(['bob']);
    await f.settle();
    expect((await f.store.availableAgents(f.org, 'q1', 'default', 1, 5)).agents.map((a) => a.agentId)).toEqual([]);
    expect(await usedOf(f, 'alice')).toBe(0);
  });

  it('R-2: an agent whose pool is full (Busy) is not offered more, even when Busy is an allowed presence', async () => {
    // Prepare
    const f = await pushFixture({ allowedPresences: ['Available', 'Busy'] });
    await signedIn(f, 'solo', { default: 1 });
    const first = await customerStarts(f, 'chat');

    // Act
    const second = await customerStarts(f, 'chat');

    // Assess
    expect((await f.conversation(first.id)).primaryAgentId).toBe('solo');
    expect((await f.conversation(second.id)).status).toBe('Open');
    const solo = await f.store.getAgent(f.org, 'solo');
    expect(presenceOf(solo!, await f.store.getSettings(f.org), f.clock.now())).toEqual({
      presence: 'Busy',
      source: 'computed',
    });
  });
});

describe('R-4: pick distribution', () => {
  it("R-4: a 'pick' workstream makes no automatic offer; an agent of the queue picks within capacity", async () => {
    // Prepare
    const f = await makeFixture(); // every workstream distributes by pick
    await signedIn(f, 'alice', { default: 1 });
    await signedIn(f, 'bob', { default: 3 });

    // Act
    const c = await customerStarts(f, 'chat');
    const dispatched = await dispatchConversation(f.deps, f.org, c.id);
    const byAgent = await dispatchAgent(f.deps, f.org, 'bob');

    // Assess
    expect(dispatched).toEqual({});
    expect(byAgent).toEqual({ offered: [] });
    expect((await f.conversation(c.id)).status).toBe('Open');
    expect(await actionsOf(f, c.id)).toEqual(['created']);
    expect(await act(f, agent('alice'), c.id, { type: 'accept' })).toMatchObject({
      status: 'Active',
      primaryAgentId: 'alice',
      accepted: true,
    });
    expect(await usedOf(f, 'alice')).toBe(1);
  });
});

describe('R-5: configuration changes apply to the next decision', () => {
  it('R-5: adding a queue to an agent offers them the Open work of that queue at once', async () => {
    // Prepare: the conversation is routed to q2; alice is only in q1
    const f = await pushFixture();
    await f.setWorkstream('chat', { routingRules: [{ when: { field: 'topic', equals: 'billing' }, queueId: 'q2' }] });
    await signedIn(f, 'alice', { default: 2 }, ['q1']);
    const c = await customerStarts(f, 'chat', { context: { topic: 'billing' } });
    expect(await f.conversation(c.id)).toMatchObject({ status: 'Open', queueId: 'q2' });

    // Act
    await configureAgent(f.deps, {
      org: f.org,
      id: 'alice',
      name: 'alice',
      queues: ['q1', 'q2'],
      bot: false,
      capacity: { default: 2 },
    });

    // Assess
    expect(await f.conversation(c.id)).toMatchObject({
      status: 'Active',
      primaryAgentId: 'alice',
      accepted: false,
      queueId: 'q2',
    });
  });

  it('R-5: removing a queue from an agent keeps them out of the next decision for it', async () => {
    // Prepare
    const f = await pushFixture();
    await signedIn(f, 'alice', { default: 5 }, ['q1', 'q2']);
    await signedIn(f, 'bob', { default: 1 }, ['q1']);

    // Act
    await configureAgent(f.deps, {
      org: f.org,
      id: 'alice',
      name: 'alice',
      queues: ['q2'],
      bot: false,
      capacity: { default: 5 },
    });
    const c = await customerStarts(f, 'chat');

    // Assess
    expect(await f.conversation(c.id)).toMatchObject({ status: 'Active', primaryAgentId: 'bob' });
  });

  it('R-5: a workstream change (units per conversation) applies to the next dispatch', async () => {
    // Prepare: each conversation costs 3 units; alice has 2
    const f = await pushFixture({ units: 3 });
    await signedIn(f, 'alice', { default: 2 });
    const c = await customerStarts(f, 'chat');
    expect((await f.conversation(c.id)).status).toBe('Open');

    // Act: the cost drops to 1; the dispatch retry armed at creation fires
    await f.setWorkstream('chat', { capacity: { pool: 'default', units: 1 } });
    const fired = await fireTimer(f.deps, await liveTimer(f, 'dispatch', await f.conversation(c.id)));

    // Assess
    expect(fired).toMatchObject({ outcome: 'applied', detail: 'offered to alice' });
    expect(await f.conversation(c.id)).toMatchObject({
      status: 'Active',
      primaryAgentId: 'alice',
      allocation: { units: 1 },
    });
  });
});

describe('P-5 / R-5: the org default presence', () => {
  it('P-5: with the org default presence Away a signed-in agent without override shows Away (default) and is not offered push work', async () => {
    // Prepare
    const f = await pushFixture({ allowedPresences: ['Available'] });
    await configureSettings(f.deps, { org: f.org, ...DEFAULT_SETTINGS, defaultPresence: 'Away' });
    await signedIn(f, 'alice', { default: 2 });

    // Act
    const c = await customerStarts(f, 'chat');

    // Assess
    const alice = await f.store.getAgent(f.org, 'alice');
    expect(presenceOf(alice!, await f.store.getSettings(f.org), f.clock.now())).toEqual({
      presence: 'Away',
      source: 'default',
    });
    expect((await f.conversation(c.id)).status).toBe('Open');
    expect(await dispatchConversation(f.deps, f.org, c.id)).toEqual({});

    // Act 2: alice sets Available by hand (P-3 override beats the default)
    await setPresence(f.deps, f.org, 'alice', 'Available');

    // Assess 2
    expect(await f.conversation(c.id)).toMatchObject({ status: 'Active', primaryAgentId: 'alice', accepted: false });
  });

  it('P-5 / R-5 / R-3: switching the org default presence from Away back to computed makes signed-in agents routable for the next decision', async () => {
    // Prepare: default Away; alice (2 units) signed in; one conversation waits
    const f = await pushFixture({ allowedPresences: ['Available'] });
    await configureSettings(f.deps, { org: f.org, ...DEFAULT_SETTINGS, defaultPresence: 'Away' });
    await signedIn(f, 'alice', { default: 2 });
    const waiting = await customerStarts(f, 'chat');
    expect((await f.conversation(waiting.id)).status).toBe('Open');

    // Act: the admin sets the default presence to Available (computed, P-2); a new conversation arrives
    await configureSettings(f.deps, { org: f.org, ...DEFAULT_SETTINGS, defaultPresence: 'Available' });
    f.clock.advance(1);
    const next = await customerStarts(f, 'chat');

    // Assess: alice now shows Available (computed): the waiting conversation and the new one are offered to her
    const alice = await f.store.getAgent(f.org, 'alice');
    expect(presenceOf(alice!, await f.store.getSettings(f.org), f.clock.now()).source).toBe('computed');
    expect(await f.conversation(next.id)).toMatchObject({ status: 'Active', primaryAgentId: 'alice', accepted: false });
    expect(await f.conversation(waiting.id)).toMatchObject({
      status: 'Active',
      primaryAgentId: 'alice',
      accepted: false,
    });
  });
});

describe('R-3 / C-5 / RL-3: concurrent push dispatch', () => {
  it(
    'R-3 / C-5 / RL-3: 50 Open conversations and 10 agents (1..5 units) dispatched all at once, repeatedly -> never over capacity, each conversation offered once',
    { timeout: 180_000 },
    async () => {
      // Prepare: the conversations arrive while the workstream picks (no offers), then it switches to push
      const f = await makeFixture();
      const capacities = [1, 2, 3, 4, 5, 1, 2, 3, 4, 5];
      const agents = capacities.map((_, i) => `agent-${String(i).padStart(2, '0')}`);
      await Promise.all(agents.map((id, i) => f.addAgent(id, { default: capacities[i] as number }, ['q1'])));
      for (const id of agents) await signIn(f.deps, f.org, id);
      const conversations: Conversation[] = [];
      for (let i = 0; i < 50; i++) conversations.push(await customerStarts(f, 'chat'));
      await f.setWorkstream('chat', { distribution: 'push' });
      const totalCapacity = capacities.reduce((a, b) => a + b, 0);

      // Act
      for (let round = 0; round < 3; round++) {
        await Promise.all([
          ...conversations.map((c) => dispatchConversation(f.deps, f.org, c.id)),
          ...agents.map((id) => dispatchAgent(f.deps, f.org, id)),
        ]);
      }

      // Assess
      const after = await Promise.all(conversations.map((c) => f.conversation(c.id)));
      const byAgent = new Map<string, string[]>();
      for (const c of after) {
        if (c.status === 'Open') {
          expect(c.allocation, c.id).toBeUndefined();
          expect(c.primaryAgentId, c.id).toBeUndefined();
          continue;
        }
        expect(c, c.id).toMatchObject({
          status: 'Active',
          accepted: false,
          allocation: { agentId: c.primaryAgentId, units: 1 },
        });
        byAgent.set(c.primaryAgentId as string, [...(byAgent.get(c.primaryAgentId as string) ?? []), c.id]);
      }
      for (const [i, id] of agents.entries()) {
        const a = await f.store.getAgent(f.org, id);
        const pool = a?.pools.default;
        const allocations = await f.store.listAllocations(f.org, id);
        expect(pool?.used, `C-5 ${id}`).toBeLessThanOrEqual(pool?.max ?? -1);
        expect(pool?.max, id).toBe(capacities[i]);
        expect(pool?.used, `RL-3 ${id}`).toBe(allocations.reduce((n, x) => n + x.units, 0));
        expect(allocations.map((x) => x.conversationId).sort(), `RL-3 ${id}`).toEqual(
          [...(byAgent.get(id) ?? [])].sort(),
        );
      }
      const offered = after.filter((c) => c.status === 'Active');
      expect(offered).toHaveLength(Math.min(50, totalCapacity));
      expect(after.filter((c) => c.status === 'Open')).toHaveLength(50 - Math.min(50, totalCapacity));
      // each conversation was offered exactly once
      const offers = await Promise.all(
        offered.map(async (c) => (await actionsOf(f, c.id)).filter((a) => a === 'offer').length),
      );
      expect(offers.every((n) => n === 1)).toBe(true);
    },
  );
});
