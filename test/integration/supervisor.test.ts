import { describe, expect, it } from 'vitest';
import { ulid } from 'ulid';
import {
  CapacityExceededError,
  type DomainError,
  ForbiddenActionError,
  TransitionConflictError,
  ValidationError,
} from '../../functions/domain/errors.js';
import type { Actor, ChannelKind, Conversation, Notification, OrgSettings } from '../../functions/domain/model.js';
import type { Action } from '../../functions/domain/transitions.js';
import type { Notifier } from '../../functions/ports/notifier.js';
import { setPresence, signIn } from '../../functions/use-cases/agent-presence.use-case.js';
import { apiActor, performAction, type ActionResult } from '../../functions/use-cases/conversation-action.use-case.js';
import { handleCustomerEvent } from '../../functions/use-cases/customer-event.use-case.js';
import type { EngineDeps } from '../../functions/use-cases/engine.js';
import { addNote, listNotes } from '../../functions/use-cases/notes.use-case.js';
import { ledgerOf, makeFixture, SUPERVISOR_GATES_ON, type Fixture } from '../support/fixture.js';

/**
 * Supervisor features (S-1..S-6), consult and transfer (X-1..X-3, T-12), messaging sessions (M-1..M-5)
 * and their notifications (E-2) through the use cases on DynamoDB Local. The engine is wired with a
 * notifier that collects what it publishes.
 */

class CollectingNotifier implements Notifier {
  readonly sent: Notification[] = [];
  async publish(n: Notification): Promise<void> {
    this.sent.push(n);
  }
  of(conversationId: string, type?: Notification['type']): Notification[] {
    return this.sent.filter((n) => n.conversationId === conversationId && (type === undefined || n.type === type));
  }
}

type Gate = 'supervisorMonitor' | 'supervisorAssign' | 'supervisorTransfer' | 'forceClose' | 'agentEndMessagingSession';

const agent = (id: string): Actor => ({ role: 'agent', id });
const SUE: Actor = { role: 'supervisor', id: 'sue' };

interface World {
  f: Fixture;
  deps: EngineDeps;
  notifier: CollectingNotifier;
  act(actor: Actor | ((c: Conversation) => Actor), id: string, action: Action): Promise<ActionResult>;
  /** a customer starts a conversation; `by` picks it (Active) */
  start(kind: ChannelKind, by?: string): Promise<Conversation>;
  used(agentId: string, pool?: string): Promise<number | undefined>;
  settings(patch: Partial<Omit<OrgSettings, 'org'>>): Promise<void>;
  /** refused with `type`, naming the current status; conversation, history, capacity and outbox unchanged */
  refused(
    actor: Actor | ((c: Conversation) => Actor),
    id: string,
    action: Action,
    type: abstract new (...args: never[]) => DomainError,
  ): Promise<DomainError>;
}

/**
 * Prepare: an org with every supervisor setting on, alice (q1, 3 units) and bob (q1 and q2, 2 units),
 * both signed in (Available), and an engine whose notifications are collected.
 */
async function world(): Promise<World> {
  const notifier = new CollectingNotifier();
  const f = await makeFixture({ notifier });
  const deps = f.deps;
  await f.store.putSettings({ org: f.org, ...SUPERVISOR_GATES_ON });
  await f.addAgent('alice', { default: 3 });
  await f.addAgent('bob', { default: 2 }, ['q1', 'q2']);
  await signIn(deps, f.org, 'alice');
  await signIn(deps, f.org, 'bob');
  const act: World['act'] = (actor, id, action) =>
    performAction(deps, { org: f.org, conversationId: id, actor, action });
  const used: World['used'] = async (id, pool = 'default') => (await ledgerOf(f, id)).pools[pool]?.used;
  return {
    f,
    deps,
    notifier,
    act,
    used,
    async start(kind, by) {
      const c = await f.start(kind);
      return by ? (await act(agent(by), c.id, { type: 'accept' })).conversation : c;
    },
    settings: (patch) => f.store.putSettings({ org: f.org, ...SUPERVISOR_GATES_ON, ...patch }),
    async refused(actor, id, action, type) {
      const before = await f.conversation(id);
      const events = await f.store.listEvents(f.org, id);
      const ledgers = await Promise.all(['alice', 'bob'].map((a) => ledgerOf(f, a)));
      const sent = notifier.sent.length;
      const err = await act(actor, id, action).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(err, `${action.type} should be refused`).toBeInstanceOf(type);
      const current = (err as { currentStatus?: string }).currentStatus;
      if (type !== ValidationError) expect(current).toBe(before.status);
      expect(await f.conversation(id)).toEqual(before);
      expect(await f.store.listEvents(f.org, id)).toHaveLength(events.length);
      expect(await Promise.all(['alice', 'bob'].map((a) => ledgerOf(f, a)))).toEqual(ledgers);
      expect(notifier.sent).toHaveLength(sent);
      return err as DomainError;
    },
  };
}

const lastEvent = async (w: World, id: string) => (await w.f.store.listEvents(w.f.org, id)).at(-1);

describe('S-1: settings and role gates', () => {
  it('S-1 / M-2: each gated action is refused (403) while its org setting is off, naming the setting; nothing changes', async () => {
    // Prepare: one conversation in the state each action needs
    const w = await world();
    const activeChat = await w.start('chat', 'alice');
    const openChat = await w.start('chat');
    const activeSms = await w.start('sms', 'alice');
    const cases: [Gate, Actor, string, Action][] = [
      ['supervisorMonitor', SUE, activeChat.id, { type: 'monitor' }],
      ['supervisorMonitor', SUE, activeChat.id, { type: 'join' }],
      ['supervisorAssign', SUE, openChat.id, { type: 'assign', target: { kind: 'agent', agentId: 'bob' } }],
      ['supervisorAssign', SUE, openChat.id, { type: 'assign', target: { kind: 'queue', queueId: 'q2' } }],
      ['supervisorTransfer', SUE, activeSms.id, { type: 'transfer', target: { kind: 'agent', agentId: 'bob' } }],
      ['forceClose', SUE, activeChat.id, { type: 'force-close' }],
      ['agentEndMessagingSession', agent('alice'), activeSms.id, { type: 'end-session' }],
    ];

    for (const [gate, actor, id, action] of cases) {
      // Act: only this setting is off
      await w.settings({ [gate]: false });
      const err = await w.refused(actor, id, action, ForbiddenActionError);

      // Assess
      expect(err.message).toContain(gate);
      expect(err.message).toMatch(/^S-1/);
    }
  });

  it('S-1: with the setting on the same actions go through (the gate is the only thing that stopped them)', async () => {
    // Prepare
    const w = await world();
    const activeChat = await w.start('chat', 'alice');
    const openChat = await w.start('chat');
    const activeSms = await w.start('sms', 'alice');

    // Act
    const monitored = await w.act(SUE, activeChat.id, { type: 'monitor' });
    const assigned = await w.act(SUE, openChat.id, { type: 'assign', target: { kind: 'queue', queueId: 'q2' } });
    const transfer = await w.act(SUE, activeSms.id, { type: 'transfer', target: { kind: 'agent', agentId: 'bob' } });
    const closed = await w.act(SUE, activeChat.id, { type: 'force-close' });

    // Assess
    expect([monitored.rule, assigned.rule, transfer.rule, closed.rule]).toEqual(['S-2', 'S-3', 'S-4', 'S-5']);
  });

  it("S-1 / X-1: supervisorTransfer gates only a supervisor's transfer; the primary agent's own transfer needs no setting", async () => {
    // Prepare: every setting off
    const w = await world();
    await w.f.store.putSettings({
      org: w.f.org,
      supervisorMonitor: false,
      supervisorAssign: false,
      supervisorTransfer: false,
      forceClose: false,
      agentEndMessagingSession: false,
    });
    const c = await w.start('sms', 'alice');

    // Act
    const r = await w.act(agent('alice'), c.id, { type: 'transfer', target: { kind: 'agent', agentId: 'bob' } });

    // Assess
    expect(r.rule).toBe('X-3');
    expect(r.conversation.pendingTransfer).toMatchObject({ to: 'bob', by: 'alice', byRole: 'agent', from: 'alice' });
  });

  it('S-1: monitor, join, assign and force-close need the supervisor role: an agent-only caller is refused (403)', async () => {
    // Prepare
    const w = await world();
    const active = await w.start('chat', 'alice');
    const open = await w.start('chat');
    const cases: [string, Action][] = [
      [active.id, { type: 'monitor' }],
      [active.id, { type: 'join' }],
      [open.id, { type: 'assign', target: { kind: 'agent', agentId: 'bob' } }],
      [active.id, { type: 'force-close' }],
    ];

    for (const [id, action] of cases) {
      // Act: bob holds only the agent role (apiActor is how the API chooses the acting role)
      const err = await w.refused(apiActor('bob', ['agent'], action), id, action, ForbiddenActionError);

      // Assess
      expect(err.message).toContain('supervisor role');
    }
  });

  it('S-1 / S-4: a caller with only the supervisor role transfers as a supervisor; an admin-only caller cannot act on conversations', async () => {
    // Prepare
    const w = await world();
    const c = await w.start('sms', 'alice');
    const action: Action = { type: 'transfer', target: { kind: 'agent', agentId: 'bob' } };

    // Act
    await w.refused(apiActor('root', ['admin'], action), c.id, action, ForbiddenActionError);
    const r = await w.act(apiActor('sue', ['supervisor'], action), c.id, action);

    // Assess
    expect(r.rule).toBe('S-4');
    expect(r.event).toMatchObject({ actor: 'sue', role: 'supervisor' });
  });
});

describe('S-2: monitor and join', () => {
  it('S-2: monitoring an Active conversation records the supervisor without notifying anyone', async () => {
    // Prepare
    const w = await world();
    const c = await w.start('sms', 'alice');

    // Act
    const r = await w.act(SUE, c.id, { type: 'monitor' });

    // Assess
    expect(r.conversation).toMatchObject({ status: 'Active', primaryAgentId: 'alice', monitoredBy: ['sue'] });
    expect(r.event).toMatchObject({
      action: 'monitor',
      role: 'supervisor',
      actor: 'sue',
      from: 'Active',
      to: 'Active',
      reason: 'S-2: monitored by supervisor',
    });
    expect(w.notifier.of(c.id)).toEqual([]);
    expect(await w.used('alice')).toBe(1);
  });

  it('S-2 / E-2: joining an Active conversation adds the supervisor and notifies the agent and the customer', async () => {
    // Prepare
    const w = await world();
    const c = await w.start('chat', 'alice');

    // Act
    const r = await w.act(SUE, c.id, { type: 'join' });

    // Assess
    const stored = await w.f.conversation(c.id);
    expect(stored).toMatchObject({ status: 'Active', primaryAgentId: 'alice', supervisors: ['sue'] });
    expect(r.event).toMatchObject({ action: 'join', reason: 'S-2: supervisor joined' });
    const joined = w.notifier.of(c.id, 'supervisor.joined');
    expect(joined).toHaveLength(1);
    expect(joined[0]).toMatchObject({ org: w.f.org, version: stored.version, data: { supervisorId: 'sue' } });
    expect(joined[0]?.recipients).toEqual([
      { kind: 'agent', id: 'alice' },
      { kind: 'customer', id: `thread:${c.threadId}` },
    ]);
    // the outbox item was fired and removed
    expect(
      (await w.f.store.listDueTimers(new Date('2100-01-01'), 1000)).filter(
        (t) => t.conversationId === c.id && t.kind === 'notify',
      ),
    ).toEqual([]);
  });

  it('S-2: WrapUp conversations can be monitored and joined too', async () => {
    // Prepare
    const w = await world();
    const c = await w.start('chat', 'alice');
    await w.act(agent('alice'), c.id, { type: 'end' });

    // Act
    await w.act(SUE, c.id, { type: 'monitor' });
    const r = await w.act(SUE, c.id, { type: 'join' });

    // Assess
    expect(r.conversation).toMatchObject({ status: 'WrapUp', monitoredBy: ['sue'], supervisors: ['sue'] });
    expect(w.notifier.of(c.id, 'supervisor.joined')).toHaveLength(1);
  });

  it('S-2 / T-13: Open and Waiting conversations cannot be monitored or joined (409 naming the status)', async () => {
    // Prepare
    const w = await world();
    const open = await w.start('chat');
    const waiting = await w.start('sms', 'alice');
    await w.act(agent('alice'), waiting.id, { type: 'close' });

    for (const c of [open, waiting]) {
      for (const type of ['monitor', 'join'] as const) {
        // Act + Assess
        const err = await w.refused(SUE, c.id, { type }, TransitionConflictError);
        expect((err as TransitionConflictError).currentStatus).toBe(c.id === open.id ? 'Open' : 'Waiting');
      }
    }
  });

  it('S-2 / T-13: records cannot be monitored or joined (409), even Active', async () => {
    // Prepare
    const w = await world();
    const record = await w.start('record', 'alice');

    // Act + Assess
    for (const type of ['monitor', 'join'] as const) await w.refused(SUE, record.id, { type }, TransitionConflictError);
  });

  it('S-2: a supervisor cannot monitor or join a conversation assigned to them (403)', async () => {
    // Prepare: carol is agent and supervisor, and the primary
    const w = await world();
    await w.f.addAgent('carol', { default: 3 });
    const c = await w.start('chat', 'carol');

    for (const type of ['monitor', 'join'] as const) {
      // Act: the API picks the supervisor role for these actions
      const err = await w.refused(
        apiActor('carol', ['agent', 'supervisor'], { type }),
        c.id,
        { type },
        ForbiddenActionError,
      );

      // Assess
      expect(err.message).toMatch(/^S-2/);
    }
  });
});

describe('S-3: supervisor assignment', () => {
  it('S-3: an Open conversation assigned to an agent with an allowed presence is Active for them, capacity reserved', async () => {
    // Prepare
    const w = await world();
    const c = await w.start('chat');

    // Act
    const r = await w.act(SUE, c.id, { type: 'assign', target: { kind: 'agent', agentId: 'bob' } });

    // Assess
    expect(r.conversation).toMatchObject({
      status: 'Active',
      primaryAgentId: 'bob',
      accepted: true,
      allocation: { agentId: 'bob', pool: 'default', units: 1 },
    });
    expect(r.unitsOverCapacity).toBeUndefined();
    expect(r.event).toMatchObject({
      action: 'assign',
      role: 'supervisor',
      from: 'Open',
      to: 'Active',
      reason: 'S-3: assigned by supervisor',
    });
    expect(await w.used('bob')).toBe(1);
  });

  it('S-3 / T-13: only Open conversations can be assigned (Active -> 409)', async () => {
    // Prepare
    const w = await world();
    const c = await w.start('chat', 'alice');

    // Act + Assess
    await w.refused(SUE, c.id, { type: 'assign', target: { kind: 'agent', agentId: 'bob' } }, TransitionConflictError);
    await w.refused(SUE, c.id, { type: 'assign', target: { kind: 'queue', queueId: 'q2' } }, TransitionConflictError);
  });

  it('S-3: an agent whose presence the workstream does not allow (Away, signed out) is refused (403) without override', async () => {
    // Prepare
    const w = await world();
    await setPresence(w.deps, w.f.org, 'bob', 'Away');
    await w.f.addAgent('dora', { default: 3 }); // never signed in: Offline
    const c = await w.start('chat');

    // Act + Assess
    for (const agentId of ['bob', 'dora']) {
      const err = await w.refused(
        SUE,
        c.id,
        { type: 'assign', target: { kind: 'agent', agentId } },
        ForbiddenActionError,
      );
      expect(err.message).toMatch(/^S-3: agent \w+ is (Away|Offline)/);
    }
  });

  it('S-3: with override an Away agent gets the assignment; within capacity it reports 0 units over', async () => {
    // Prepare
    const w = await world();
    await setPresence(w.deps, w.f.org, 'bob', 'Away');
    const c = await w.start('chat');

    // Act
    const r = await w.act(SUE, c.id, { type: 'assign', target: { kind: 'agent', agentId: 'bob' }, override: true });

    // Assess
    expect(r.conversation).toMatchObject({ status: 'Active', primaryAgentId: 'bob' });
    expect(r.unitsOverCapacity).toBe(0);
    expect(await w.used('bob')).toBe(1);
  });

  it('S-3 / C-5: an override past the capacity reports the units over, records them in the history and lets the pool exceed its maximum', async () => {
    // Prepare: bob (2 units) already full
    const w = await world();
    await w.start('chat', 'bob');
    await w.start('chat', 'bob');
    const c = await w.start('chat');
    const refused = await w
      .act(SUE, c.id, { type: 'assign', target: { kind: 'agent', agentId: 'bob' } })
      .catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(CapacityExceededError);

    // Act
    const r = await w.act(SUE, c.id, { type: 'assign', target: { kind: 'agent', agentId: 'bob' }, override: true });

    // Assess
    expect(r.unitsOverCapacity).toBe(1);
    expect((await lastEvent(w, c.id))?.details).toMatchObject({ unitsOverCapacity: 1, allocated: 'bob/default/1' });
    expect(await ledgerOf(w.f, 'bob')).toMatchObject({
      pools: { default: { max: 2, used: 3 } },
      allocated: { default: 3 },
    });
  });

  it('S-3: assigning to another queue keeps it Open (unassigned) there; the current queue is refused (400)', async () => {
    // Prepare
    const w = await world();
    const c = await w.start('chat');

    // Act
    const err = await w.refused(
      SUE,
      c.id,
      { type: 'assign', target: { kind: 'queue', queueId: 'q1' } },
      ValidationError,
    );
    const r = await w.act(SUE, c.id, { type: 'assign', target: { kind: 'queue', queueId: 'q2' } });

    // Assess
    expect(err.message).toContain('another queue');
    expect(r.conversation).toMatchObject({ status: 'Open', queueId: 'q2' });
    expect(r.conversation.primaryAgentId).toBeUndefined();
    expect(r.event).toMatchObject({ reason: 'S-3: assigned to queue by supervisor', details: { toQueue: 'q2' } });
    expect((await w.f.store.listOpenItems(w.f.org, 'q2', { limit: 10 })).items.map((x) => x.id)).toEqual([c.id]);
    expect((await w.f.store.listOpenItems(w.f.org, 'q1', { limit: 10 })).items.map((x) => x.id)).not.toContain(c.id);
  });
});

describe('S-4: supervisor transfer', () => {
  it('S-4 / E-2: a supervisor transfer of an Active sms conversation asks the receiver (transfer.requested); nothing moves yet', async () => {
    // Prepare
    const w = await world();
    const c = await w.start('sms', 'alice');

    // Act
    const r = await w.act(SUE, c.id, { type: 'transfer', target: { kind: 'agent', agentId: 'bob' } });

    // Assess
    expect(r.conversation).toMatchObject({
      status: 'Active',
      primaryAgentId: 'alice',
      pendingTransfer: { to: 'bob', by: 'sue', byRole: 'supervisor', from: 'alice' },
    });
    expect(r.event).toMatchObject({ reason: 'S-4: supervisor transfer requested', details: { transferTo: 'bob' } });
    expect(w.notifier.of(c.id, 'transfer.requested')).toEqual([
      expect.objectContaining({ recipients: [{ kind: 'agent', id: 'bob' }], data: { from: 'alice', by: 'sue' } }),
    ]);
    expect([await w.used('alice'), await w.used('bob')]).toEqual([1, 0]);
  });

  it('S-4 / X-3 / C-4 / E-2: the receiver accepts: primary, the original agent stays as consultant, capacity moves', async () => {
    // Prepare
    const w = await world();
    const c = await w.start('sms', 'alice');
    await w.act(SUE, c.id, { type: 'transfer', target: { kind: 'agent', agentId: 'bob' } });
    // only the receiver answers the transfer
    await w.refused(agent('alice'), c.id, { type: 'accept' }, ForbiddenActionError);

    // Act
    const r = await w.act(agent('bob'), c.id, { type: 'accept' });

    // Assess
    expect(r.conversation).toMatchObject({
      status: 'Active',
      primaryAgentId: 'bob',
      consultants: ['alice'],
      allocation: { agentId: 'bob', units: 1 },
    });
    expect(r.conversation.pendingTransfer).toBeUndefined();
    expect(r.event).toMatchObject({
      action: 'accept',
      reason: 'X-3: transfer accepted',
      details: { transferFrom: 'alice', released: 'alice/default/1', allocated: 'bob/default/1' },
    });
    expect([await w.used('alice'), await w.used('bob')]).toEqual([0, 1]);
    expect(w.notifier.of(c.id, 'transfer.accepted')).toEqual([
      expect.objectContaining({
        recipients: [
          { kind: 'agent', id: 'alice' },
          { kind: 'supervisor', id: 'sue' },
        ],
        data: { to: 'bob' },
      }),
    ]);
  });

  it('S-4 / E-2: the receiver rejects: the conversation stays with the original agent (transfer.rejected)', async () => {
    // Prepare
    const w = await world();
    const c = await w.start('sms', 'alice');
    await w.act(SUE, c.id, { type: 'transfer', target: { kind: 'agent', agentId: 'bob' } });

    // Act
    const r = await w.act(agent('bob'), c.id, { type: 'reject' });

    // Assess
    expect(r.conversation).toMatchObject({
      status: 'Active',
      primaryAgentId: 'alice',
      consultants: [],
      allocation: { agentId: 'alice' },
    });
    expect(r.conversation.pendingTransfer).toBeUndefined();
    expect([await w.used('alice'), await w.used('bob')]).toEqual([1, 0]);
    expect(w.notifier.of(c.id, 'transfer.rejected')).toEqual([
      expect.objectContaining({
        recipients: [
          { kind: 'agent', id: 'alice' },
          { kind: 'supervisor', id: 'sue' },
        ],
        data: { to: 'bob' },
      }),
    ]);
  });

  it('S-4: a Waiting sms conversation can be transferred too; accepted, it stays Waiting with the receiver as primary and holds no capacity', async () => {
    // Prepare
    const w = await world();
    const c = await w.start('sms', 'alice');
    await w.act(agent('alice'), c.id, { type: 'close' });

    // Act
    await w.act(SUE, c.id, { type: 'transfer', target: { kind: 'agent', agentId: 'bob' } });
    const r = await w.act(agent('bob'), c.id, { type: 'accept' });

    // Assess
    expect(r.conversation).toMatchObject({ status: 'Waiting', primaryAgentId: 'bob', consultants: ['alice'] });
    expect(r.conversation.allocation).toBeUndefined();
    expect([await w.used('alice'), await w.used('bob')]).toEqual([0, 0]);
    // the receiver resumes it (T-9)
    expect((await w.act(agent('bob'), c.id, { type: 'resume' })).conversation).toMatchObject({
      status: 'Active',
      primaryAgentId: 'bob',
    });
  });

  it('S-4 / T-13: supervisor transfer is for messaging only: a voice call is refused (409)', async () => {
    // Prepare
    const w = await world();
    const c = await w.start('voice', 'alice');

    // Act + Assess
    await w.refused(
      SUE,
      c.id,
      { type: 'transfer', target: { kind: 'agent', agentId: 'bob' } },
      TransitionConflictError,
    );
  });

  it('S-4: the receiver must be a human agent of the same queue with an allowed presence (403 otherwise)', async () => {
    // Prepare
    const w = await world();
    await w.f.store.putAgent({
      org: w.f.org,
      id: 'robo',
      name: 'robo',
      queues: ['q1'],
      bot: true,
      capacity: { default: 10 },
    });
    await w.f.addAgent('erin', { default: 3 }, ['q2']);
    await signIn(w.deps, w.f.org, 'robo');
    await signIn(w.deps, w.f.org, 'erin');
    await w.f.addAgent('carl', { default: 3 });
    await signIn(w.deps, w.f.org, 'carl');
    await setPresence(w.deps, w.f.org, 'carl', 'BusyDND');
    const c = await w.start('sms', 'alice');

    // Act
    const bot = await w.refused(
      SUE,
      c.id,
      { type: 'transfer', target: { kind: 'agent', agentId: 'robo' } },
      ForbiddenActionError,
    );
    const outside = await w.refused(
      SUE,
      c.id,
      { type: 'transfer', target: { kind: 'agent', agentId: 'erin' } },
      ForbiddenActionError,
    );
    const presence = await w.refused(
      SUE,
      c.id,
      { type: 'transfer', target: { kind: 'agent', agentId: 'carl' } },
      ForbiddenActionError,
    );

    // Assess
    expect(bot.message).toMatch(/^S-4: .*bot/);
    expect(outside.message).toMatch(/^S-4: .*queue q1/);
    expect(presence.message).toMatch(/^S-4: agent carl is BusyDND/);
  });

  it('S-4 / T-13: a second transfer while one is pending is refused (409)', async () => {
    // Prepare
    const w = await world();
    await w.f.addAgent('carl', { default: 3 });
    await signIn(w.deps, w.f.org, 'carl');
    const c = await w.start('sms', 'alice');
    await w.act(SUE, c.id, { type: 'transfer', target: { kind: 'agent', agentId: 'bob' } });

    // Act + Assess
    await w.refused(
      SUE,
      c.id,
      { type: 'transfer', target: { kind: 'agent', agentId: 'carl' } },
      TransitionConflictError,
    );
  });
});

describe('X-1..X-3, T-12: agent consult and transfer', () => {
  it('X-1: only the primary agent starts a transfer or a consult (403)', async () => {
    // Prepare
    const w = await world();
    await w.f.addAgent('carl', { default: 3 });
    await signIn(w.deps, w.f.org, 'carl');
    const c = await w.start('chat', 'alice');

    // Act + Assess
    for (const action of [
      { type: 'transfer', target: { kind: 'agent', agentId: 'carl' } },
      { type: 'transfer', target: { kind: 'queue', queueId: 'q2' } },
      { type: 'consult', agentId: 'carl' },
    ] as Action[]) {
      const err = await w.refused(apiActor('bob', ['agent'], action), c.id, action, ForbiddenActionError);
      expect(err.message).toContain('only the primary');
    }
  });

  it('X-3 / C-4 / E-2: an agent transfer of a chat is an offer; accepted, the receiver is primary and capacity moves; the receiver can transfer in turn', async () => {
    // Prepare
    const w = await world();
    const c = await w.start('chat', 'alice');

    // Act
    const requested = await w.act(agent('alice'), c.id, {
      type: 'transfer',
      target: { kind: 'agent', agentId: 'bob' },
    });
    const accepted = await w.act(agent('bob'), c.id, { type: 'accept' });

    // Assess
    expect(requested.conversation).toMatchObject({
      status: 'Active',
      primaryAgentId: 'alice',
      pendingTransfer: { to: 'bob', byRole: 'agent' },
    });
    expect(w.notifier.of(c.id, 'transfer.requested')).toEqual([
      expect.objectContaining({ recipients: [{ kind: 'agent', id: 'bob' }] }),
    ]);
    expect(accepted.conversation).toMatchObject({
      status: 'Active',
      primaryAgentId: 'bob',
      consultants: [],
      allocation: { agentId: 'bob' },
    });
    expect([await w.used('alice'), await w.used('bob')]).toEqual([0, 1]);
    // agent-to-agent: the requester is told once (the original agent is also the one who asked)
    expect(w.notifier.of(c.id, 'transfer.accepted')).toEqual([
      expect.objectContaining({ recipients: [{ kind: 'agent', id: 'alice' }] }),
    ]);

    // Act: the former primary no longer can, the receiver transfers on
    await w.refused(
      agent('alice'),
      c.id,
      { type: 'transfer', target: { kind: 'queue', queueId: 'q2' } },
      ForbiddenActionError,
    );
    const again = await w.act(agent('bob'), c.id, { type: 'transfer', target: { kind: 'agent', agentId: 'alice' } });
    const back = await w.act(agent('alice'), c.id, { type: 'accept' });

    // Assess
    expect(again.rule).toBe('X-3');
    expect(back.conversation).toMatchObject({ primaryAgentId: 'alice', allocation: { agentId: 'alice' } });
    expect([await w.used('alice'), await w.used('bob')]).toEqual([1, 0]);
  });

  it('X-3: the receiver rejects an agent transfer: the conversation stays with the original agent', async () => {
    // Prepare
    const w = await world();
    const c = await w.start('chat', 'alice');
    await w.act(agent('alice'), c.id, { type: 'transfer', target: { kind: 'agent', agentId: 'bob' } });

    // Act
    const r = await w.act(agent('bob'), c.id, { type: 'reject' });

    // Assess
    expect(r.conversation).toMatchObject({
      status: 'Active',
      primaryAgentId: 'alice',
      allocation: { agentId: 'alice' },
    });
    expect(r.conversation.pendingTransfer).toBeUndefined();
    expect([await w.used('alice'), await w.used('bob')]).toEqual([1, 0]);
    expect(w.notifier.of(c.id, 'transfer.rejected')).toHaveLength(1);
    // the original agent can transfer again after a rejection
    expect(
      (await w.act(agent('alice'), c.id, { type: 'transfer', target: { kind: 'agent', agentId: 'bob' } })).rule,
    ).toBe('X-3');
  });

  it('X-3 / C-5: a receiver without the capacity cannot accept (409); the transfer stays pending', async () => {
    // Prepare: bob (2 units) is full
    const w = await world();
    await w.start('chat', 'bob');
    await w.start('chat', 'bob');
    const c = await w.start('chat', 'alice');
    await w.act(agent('alice'), c.id, { type: 'transfer', target: { kind: 'agent', agentId: 'bob' } });

    // Act + Assess
    await w.refused(agent('bob'), c.id, { type: 'accept' }, CapacityExceededError);
    expect((await w.f.conversation(c.id)).pendingTransfer).toMatchObject({ to: 'bob' });
  });

  it('X-2: consult adds a queue agent with an allowed presence as consultant; the primary and the capacity stay', async () => {
    // Prepare
    const w = await world();
    const c = await w.start('sms', 'alice');

    // Act
    const r = await w.act(agent('alice'), c.id, { type: 'consult', agentId: 'bob' });

    // Assess
    expect(r.conversation).toMatchObject({
      status: 'Active',
      primaryAgentId: 'alice',
      consultants: ['bob'],
      allocation: { agentId: 'alice' },
    });
    expect(r.event).toMatchObject({
      action: 'consult',
      reason: 'X-2: consultant added',
      details: { consultant: 'bob' },
    });
    expect([await w.used('alice'), await w.used('bob')]).toEqual([1, 0]);
  });

  it('X-2: consult refusals: outside the queue (403), a bot (403), presence not allowed (403), no remaining capacity (409), already consultant (400)', async () => {
    // Prepare
    const w = await world();
    await w.f.addAgent('erin', { default: 3 }, ['q2']);
    await w.f.store.putAgent({
      org: w.f.org,
      id: 'robo',
      name: 'robo',
      queues: ['q1'],
      bot: true,
      capacity: { default: 10 },
    });
    await w.f.addAgent('carl', { default: 3 });
    await w.f.addAgent('full', { default: 1 });
    for (const id of ['erin', 'robo', 'carl', 'full']) await signIn(w.deps, w.f.org, id);
    await setPresence(w.deps, w.f.org, 'carl', 'Away');
    await w.start('chat', 'full');
    const c = await w.start('chat', 'alice');
    await w.act(agent('alice'), c.id, { type: 'consult', agentId: 'bob' });

    // Act + Assess
    expect(
      (await w.refused(agent('alice'), c.id, { type: 'consult', agentId: 'erin' }, ForbiddenActionError)).message,
    ).toMatch(/^X-2: .*queue q1/);
    await w.refused(agent('alice'), c.id, { type: 'consult', agentId: 'robo' }, ForbiddenActionError);
    expect(
      (await w.refused(agent('alice'), c.id, { type: 'consult', agentId: 'carl' }, ForbiddenActionError)).message,
    ).toMatch(/^X-2: agent carl is Away/);
    await w.refused(agent('alice'), c.id, { type: 'consult', agentId: 'full' }, CapacityExceededError);
    await w.refused(agent('alice'), c.id, { type: 'consult', agentId: 'bob' }, ValidationError);
  });

  it('T-12 / C-4: voice transfers stay immediate: to an agent (Active with them), to an external number (Active, external primary), to a queue (Open there)', async () => {
    // Prepare
    const w = await world();
    const toAgent = await w.start('voice', 'alice');
    const toExternal = await w.start('voice', 'alice');
    const toQueue = await w.start('voice', 'alice');
    expect(await w.used('alice')).toBe(3);

    // Act
    const a = await w.act(agent('alice'), toAgent.id, { type: 'transfer', target: { kind: 'agent', agentId: 'bob' } });
    const e = await w.act(agent('alice'), toExternal.id, {
      type: 'transfer',
      target: { kind: 'external', number: '+14255550199' },
    });
    const q = await w.act(agent('alice'), toQueue.id, { type: 'transfer', target: { kind: 'queue', queueId: 'q2' } });

    // Assess
    expect(a.conversation).toMatchObject({
      status: 'Active',
      primaryAgentId: 'bob',
      accepted: true,
      allocation: { agentId: 'bob' },
    });
    expect(a.conversation.pendingTransfer).toBeUndefined();
    expect(a.rule).toBe('T-12');
    expect(e.conversation).toMatchObject({ status: 'Active', primaryAgentId: '+14255550199', primaryKind: 'external' });
    expect(e.conversation.allocation).toBeUndefined();
    expect(q.conversation).toMatchObject({ status: 'Open', queueId: 'q2' });
    expect(q.conversation.primaryAgentId).toBeUndefined();
    expect([await w.used('alice'), await w.used('bob')]).toEqual([0, 1]);
    expect(w.notifier.of(toAgent.id, 'transfer.requested')).toEqual([]);
  });
});

describe('S-5: force close', () => {
  it('S-5 / C-4: a supervisor force-closes conversations in Open, Active, WrapUp and Waiting: Closed, capacity released', async () => {
    // Prepare
    const w = await world();
    const open = await w.start('chat');
    const active = await w.start('voice', 'alice');
    const wrapUp = await w.start('chat', 'alice');
    await w.act(agent('alice'), wrapUp.id, { type: 'end' });
    const waiting = await w.start('sms', 'alice');
    await w.act(agent('alice'), waiting.id, { type: 'close' });
    expect(await w.used('alice')).toBe(2);

    for (const c of [open, active, wrapUp, waiting]) {
      // Act
      const before = await w.f.conversation(c.id);
      const r = await w.act(SUE, c.id, { type: 'force-close' });

      // Assess
      expect(r.conversation).toMatchObject({ status: 'Closed', statusReason: 'ended by supervisor' });
      expect(r.conversation.allocation).toBeUndefined();
      expect(r.event).toMatchObject({
        action: 'force-close',
        role: 'supervisor',
        actor: 'sue',
        from: before.status,
        to: 'Closed',
        reason: 'S-5: ended by supervisor',
      });
      expect(w.notifier.of(c.id, 'conversation.force-closed')).toHaveLength(1);
    }
    expect(await ledgerOf(w.f, 'alice')).toMatchObject({ pools: { default: { used: 0 } }, allocated: {} });
    expect((await w.f.store.listWorkItems(w.f.org, 'alice')).map((c) => c.id)).toEqual([]);
  });

  it('S-5 / E-2: the force-close notification goes to every participant: customer, primary, consultants and supervisors', async () => {
    // Prepare: alice primary, bob consultant, sue and tom joined
    const w = await world();
    const c = await w.start('chat', 'alice');
    await w.act(agent('alice'), c.id, { type: 'consult', agentId: 'bob' });
    await w.act(SUE, c.id, { type: 'join' });
    await w.act({ role: 'supervisor', id: 'tom' }, c.id, { type: 'join' });

    // Act
    await w.act({ role: 'supervisor', id: 'tom' }, c.id, { type: 'force-close' });

    // Assess
    const [n, ...more] = w.notifier.of(c.id, 'conversation.force-closed');
    expect(more).toEqual([]);
    expect(n?.recipients).toEqual(
      expect.arrayContaining([
        { kind: 'customer', id: `thread:${c.threadId}` },
        { kind: 'agent', id: 'alice' },
        { kind: 'agent', id: 'bob' },
        { kind: 'supervisor', id: 'sue' },
        { kind: 'supervisor', id: 'tom' },
      ]),
    );
    expect(n?.recipients).toHaveLength(5);
    expect(n?.data).toMatchObject({ reason: 'ended by supervisor', supervisorId: 'tom' });
    expect(await w.used('alice')).toBe(0);
  });

  it('S-5 / T-11: a Closed conversation cannot be force-closed again (409)', async () => {
    // Prepare
    const w = await world();
    const c = await w.start('chat', 'alice');
    await w.act(SUE, c.id, { type: 'force-close' });

    // Act + Assess
    await w.refused(SUE, c.id, { type: 'force-close' }, TransitionConflictError);
  });
});

describe('S-6: ongoing conversations', () => {
  it('S-6: the list filters by status, queue, agent and channel, page by page, each conversation once', async () => {
    // Prepare: Open chat x2 (q1), Open sms in q2, Active chat alice, Active sms bob, WrapUp voice alice, Closed chat
    const w = await world();
    const open1 = await w.start('chat');
    const open2 = await w.start('chat');
    const openQ2 = await w.start('sms');
    await w.act(SUE, openQ2.id, { type: 'assign', target: { kind: 'queue', queueId: 'q2' } });
    const aliceChat = await w.start('chat', 'alice');
    const bobSms = await w.start('sms', 'bob');
    const aliceVoice = await w.start('voice', 'alice');
    await w.act(agent('alice'), aliceVoice.id, { type: 'end' });
    const closed = await w.start('chat', 'alice');
    await w.act(SUE, closed.id, { type: 'force-close' });
    const all = async (filter: Parameters<typeof w.f.store.listConversations>[1], limit = 2): Promise<string[]> => {
      const ids: string[] = [];
      let cursor: string | undefined;
      do {
        const page = await w.f.store.listConversations(w.f.org, filter, { limit, ...(cursor ? { cursor } : {}) });
        expect(page.items.length).toBeLessThanOrEqual(limit);
        ids.push(...page.items.map((c) => c.id));
        cursor = page.nextCursor;
      } while (cursor);
      expect(new Set(ids).size).toBe(ids.length);
      return ids.sort();
    };
    const sorted = (...cs: Conversation[]) => cs.map((c) => c.id).sort();

    // Act + Assess
    expect(await all({}, 1)).toEqual(sorted(open1, open2, openQ2, aliceChat, bobSms, aliceVoice, closed));
    expect(await all({ status: 'Open' })).toEqual(sorted(open1, open2, openQ2));
    expect(await all({ status: 'Active' })).toEqual(sorted(aliceChat, bobSms));
    expect(await all({ queueId: 'q2' })).toEqual(sorted(openQ2));
    expect(await all({ queueId: 'q1', status: 'Open' })).toEqual(sorted(open1, open2));
    expect(await all({ agentId: 'alice' })).toEqual(sorted(aliceChat, aliceVoice, closed));
    expect(await all({ agentId: 'alice', status: 'WrapUp' })).toEqual(sorted(aliceVoice));
    expect(await all({ channelId: w.f.channelId('sms') })).toEqual(sorted(openQ2, bobSms));
    expect(await all({ channelId: w.f.channelId('chat'), status: 'Closed' })).toEqual(sorted(closed));
  });
});

describe('M-1..M-5: messaging sessions', () => {
  /** Prepare: alice has a messaging pool and an email pool; a record (email pool) and an sms (default pool) are Active for her. */
  async function sessionWorld() {
    const w = await world();
    await w.f.setWorkstream('record', { capacity: { pool: 'email', units: 1 } });
    await w.f.store.putAgent({
      org: w.f.org,
      id: 'alice',
      name: 'alice',
      queues: ['q1'],
      bot: false,
      capacity: { default: 3, email: 2 },
    });
    const record = await w.start('record', 'alice');
    const sms = await w.start('sms', 'alice');
    expect([await w.used('alice'), await w.used('alice', 'email')]).toEqual([1, 1]);
    return { w, record, sms };
  }

  it('M-1 / M-2: the primary ends the messaging session: session ended by agent, ticket on email, status unchanged, messaging capacity released, email capacity untouched', async () => {
    // Prepare
    const { w, sms, record } = await sessionWorld();
    expect(sms).toMatchObject({ session: { status: 'active' }, ticket: { channel: 'messaging', status: 'open' } });

    // Act
    const r = await w.act(agent('alice'), sms.id, { type: 'end-session' });

    // Assess
    const stored = await w.f.conversation(sms.id);
    expect(stored).toMatchObject({
      status: 'Active',
      primaryAgentId: 'alice',
      session: { status: 'ended', endReason: 'ended-by-agent' },
      ticket: { id: sms.ticket.id, channel: 'email', status: 'open' },
    });
    expect(stored.allocation).toBeUndefined();
    expect(r.event).toMatchObject({
      action: 'end-session',
      role: 'agent',
      actor: 'alice',
      from: 'Active',
      to: 'Active',
      reason: 'M-2: session ended by agent',
      details: { released: 'alice/default/1' },
    });
    expect(await ledgerOf(w.f, 'alice')).toMatchObject({
      pools: { default: { used: 0 }, email: { max: 2, used: 1 } },
      allocated: { email: 1 },
    });
    expect((await w.f.conversation(record.id)).allocation).toMatchObject({ pool: 'email', units: 1 });
  });

  it('M-2: a Waiting sms session can be ended too; its status stays Waiting', async () => {
    // Prepare
    const { w, sms } = await sessionWorld();
    await w.act(agent('alice'), sms.id, { type: 'close' });

    // Act
    const r = await w.act(agent('alice'), sms.id, { type: 'end-session' });

    // Assess
    expect(r.conversation).toMatchObject({
      status: 'Waiting',
      session: { status: 'ended', endReason: 'ended-by-agent' },
      ticket: { channel: 'email' },
    });
    expect(await w.used('alice')).toBe(0);
    expect(await w.used('alice', 'email')).toBe(1);
  });

  it('M-2 / T-13: only the primary ends the session (403), only on messaging channels (409)', async () => {
    // Prepare
    const { w, sms } = await sessionWorld();
    const chat = await w.start('chat', 'bob');

    // Act + Assess
    await w.refused(agent('bob'), sms.id, { type: 'end-session' }, ForbiddenActionError);
    await w.refused(SUE, sms.id, { type: 'end-session' }, ForbiddenActionError);
    await w.refused(agent('bob'), chat.id, { type: 'end-session' }, TransitionConflictError);
  });

  it('M-2 / T-13 / E-1: a session that already ended cannot be ended again (409); the history keeps one "session ended" event', async () => {
    // Prepare
    const { w, sms } = await sessionWorld();
    await w.act(agent('alice'), sms.id, { type: 'end-session' });

    // Act + Assess
    await w.refused(agent('alice'), sms.id, { type: 'end-session' }, TransitionConflictError);
    expect((await w.f.store.listEvents(w.f.org, sms.id)).filter((e) => e.action === 'end-session')).toHaveLength(1);
  });

  it('M-2 / E-3: internal notes still work after the session ended', async () => {
    // Prepare
    const { w, sms } = await sessionWorld();
    await w.act(agent('alice'), sms.id, { type: 'end-session' });

    // Act
    const alice = { org: w.f.org, id: 'alice', roles: ['agent'] };
    const note = await addNote(w.f.deps, alice, {
      conversationId: sms.id,
      authorRole: 'agent',
      text: 'customer will email the invoice',
    });
    const notes = await listNotes(w.f.deps, alice, sms.id);

    // Assess
    expect(notes).toEqual([note]);
    expect(note).toMatchObject({ authorId: 'alice', text: 'customer will email the invoice' });
  });

  it('M-4: a customer message after the session ended starts a new conversation with a new session and ticket', async () => {
    // Prepare
    const { w, sms } = await sessionWorld();
    await w.act(agent('alice'), sms.id, { type: 'end-session' });

    // Act
    const r = await handleCustomerEvent(w.deps, w.f.org, w.f.channelId('sms'), {
      eventId: ulid(),
      type: 'message.received',
      threadId: sms.threadId,
      message: { text: 'one more thing' },
    });

    // Assess
    expect(r.outcome).toBe('created');
    const next = (r as { conversation: Conversation }).conversation;
    expect(next.id).not.toBe(sms.id);
    expect(next.ticket.id).not.toBe(sms.ticket.id);
    expect(next).toMatchObject({
      status: 'Open',
      threadId: sms.threadId,
      session: { status: 'active' },
      ticket: { channel: 'messaging' },
    });
    expect(await w.f.store.getThreadConversationId(w.f.org, w.f.channelId('sms'), sms.threadId)).toBe(next.id);
    // the old conversation is untouched
    expect(await w.f.conversation(sms.id)).toMatchObject({
      status: 'Active',
      session: { status: 'ended' },
      ticket: { channel: 'email' },
    });
  });

  it('M-5: ending the session publishes nothing to the customer (no trigger configured)', async () => {
    // Prepare
    const { w, sms } = await sessionWorld();

    // Act
    await w.act(agent('alice'), sms.id, { type: 'end-session' });

    // Assess
    expect(w.notifier.of(sms.id)).toEqual([]);
    expect(
      (await w.f.store.listDueTimers(new Date('2100-01-01'), 1000)).filter(
        (t) => t.conversationId === sms.id && (t.kind === 'notify' || t.kind === 'trigger'),
      ),
    ).toEqual([]);
  });

  it('M-3 / E-2: a trigger on "session end reason changed to ended-by-agent" sends a survey to the customer and reassigns the ticket to q2', async () => {
    // Prepare
    const { w, sms } = await sessionWorld();
    await w.f.store.putTrigger({
      org: w.f.org,
      id: 'after-session',
      when: { event: 'end-session', field: 'session.endReason', changedTo: 'ended-by-agent' },
      then: [
        { type: 'send-survey', text: 'How did we do?' },
        { type: 'reassign', queueId: 'q2' },
      ],
    });

    // Act
    await w.act(agent('alice'), sms.id, { type: 'end-session' });

    // Assess: the survey is a customer notification
    expect(w.notifier.of(sms.id)).toEqual([
      expect.objectContaining({
        type: 'survey.requested',
        recipients: [{ kind: 'customer', id: `thread:${sms.threadId}` }],
        data: { trigger: 'after-session', text: 'How did we do?', channel: 'email' },
      }),
    ]);
    // ... and the ticket went Open in q2, the agent's messaging capacity released once
    const stored = await w.f.conversation(sms.id);
    expect(stored).toMatchObject({
      status: 'Open',
      queueId: 'q2',
      session: { status: 'ended', endReason: 'ended-by-agent' },
      ticket: { channel: 'email' },
    });
    expect(stored.primaryAgentId).toBeUndefined();
    expect(await lastEvent(w, sms.id)).toMatchObject({
      action: 'reassign',
      role: 'system',
      actor: 'trigger',
      from: 'Active',
      to: 'Open',
      reason: 'M-3: reassigned by trigger',
      details: { toQueue: 'q2' },
    });
    expect(await ledgerOf(w.f, 'alice')).toMatchObject({ pools: { default: { used: 0 }, email: { used: 1 } } });
  });

  it('M-3: a trigger on another end reason, or another event, does nothing', async () => {
    // Prepare
    const { w, sms } = await sessionWorld();
    await w.f.store.putTrigger({
      org: w.f.org,
      id: 'other-reason',
      when: { event: 'end-session', field: 'session.endReason', changedTo: 'ended-by-customer' },
      then: [{ type: 'send-survey' }],
    });
    await w.f.store.putTrigger({
      org: w.f.org,
      id: 'other-event',
      when: { event: 'end', field: 'session.endReason', changedTo: 'ended-by-agent' },
      then: [{ type: 'reassign', queueId: 'q2' }],
    });

    // Act
    await w.act(agent('alice'), sms.id, { type: 'end-session' });

    // Assess
    expect(w.notifier.of(sms.id)).toEqual([]);
    expect(await w.f.conversation(sms.id)).toMatchObject({ status: 'Active', queueId: 'q1' });
  });
});
