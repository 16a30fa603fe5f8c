import { ulid } from 'ulid';
import { createDocumentClient } from '../../functions/adapters/dynamodb/client.js';
import {
  createDynamoRepositories,
  type DynamoRepositories,
} from '../../functions/adapters/dynamodb/repositories/index.js';
import { ulidIds } from '../../functions/adapters/system-clock.js';
import type {
  ChannelKind,
  Conversation,
  OrgSettings,
  Presence,
  WrapUpBlockPolicy,
  Workstream,
} from '../../functions/domain/model.js';
import { CHANNEL_MODES } from '../../functions/domain/model.js';
import type { Clock } from '../../functions/ports/clock.js';
import type { Notifier } from '../../functions/ports/notifier.js';
import type { Outbox } from '../../functions/ports/repositories.js';
import type { Scheduler } from '../../functions/ports/scheduler.js';
import { handleCustomerEvent } from '../../functions/use-cases/customer-event.use-case.js';
import { createEngine } from '../../functions/use-cases/create-engine.js';
import type { ApiDeps, EngineDeps } from '../../functions/use-cases/engine.js';
import { followUpsOf, settlingRepositories, type FollowUpsDriver } from './follow-ups.js';
import { storeFacade, type TestStore } from './store.js';
import { TEST_TABLE, dynamoEndpoint } from './dynamo.js';

/** A clock the test moves by hand (the Clock port). */
export class TestClock implements Clock {
  constructor(private t = new Date('2026-03-02T09:00:00.000Z')) {}
  now(): Date {
    return new Date(this.t);
  }
  advance(seconds: number): void {
    this.t = new Date(this.t.getTime() + seconds * 1000);
  }
}

let shared: DynamoRepositories | undefined;
/** The repositories on the run's DynamoDB Local (started by global setup; never mocked). */
export function testRepositories(): DynamoRepositories {
  shared ??= createDynamoRepositories(createDocumentClient({ endpoint: dynamoEndpoint(), maxAttempts: 3 }), TEST_TABLE);
  return shared;
}

/** Every repository on one object, for arranging and inspecting data in tests. */
export function testStore(): TestStore {
  return storeFacade(testRepositories());
}

/** S-1: every supervisor gate of the org settings open (monitor, assign, transfer, force close, session end) */
export const SUPERVISOR_GATES_ON: Omit<OrgSettings, 'org'> = {
  supervisorMonitor: true,
  supervisorAssign: true,
  supervisorTransfer: true,
  forceClose: true,
  agentEndMessagingSession: true,
};

export interface FixtureOptions {
  /** 'manual': follow-ups run only when the test calls `settle()` (default: after every write) */
  settle?: 'auto' | 'manual';
  /** what the engine (its follow-ups included) publishes to and schedules with */
  notifier?: Notifier;
  scheduler?: Scheduler;
  log?: EngineDeps['log'];
  wrapUp?: WrapUpBlockPolicy;
  units?: number;
  allowedPresences?: Presence[];
}

export interface Fixture {
  org: string;
  /** every repository of the engine's on one object (as the engine's deps hold them) */
  store: TestStore;
  clock: TestClock;
  /** the engine on the fixture's store, which also serves the API's reads (as the HTTP runtime's does) */
  deps: ApiDeps;
  /** runs the follow-ups of every change committed so far (from the stream) until none are left */
  settle(): Promise<void>;
  /** the stream records of this org's changes whose follow-ups have not run, taken from the stream */
  takePending: FollowUpsDriver['takePending'];
  /** one channel per kind, each with its own workstream (`ws-<kind>`), all routed to queue `q1` */
  channelId(kind: ChannelKind): string;
  addAgent(id: string, capacity?: Record<string, number>, queues?: string[]): Promise<void>;
  /** a customer starts a conversation on a fresh thread of the channel kind */
  start(kind: ChannelKind, threadId?: string): Promise<Conversation>;
  conversation(id: string): Promise<Conversation>;
  setWorkstream(kind: ChannelKind, patch: Partial<Workstream>): Promise<void>;
}

const KINDS: ChannelKind[] = ['chat', 'voice', 'sms', 'whatsapp', 'record'];

/** A fresh org (unique id: tests share one table and stay isolated by org, as tenants do). */
export async function makeFixture(options: FixtureOptions = {}): Promise<Fixture> {
  const org = `org-${ulid().toLowerCase()}`;
  const clock = new TestClock();
  // follow-ups come from the table's stream, run to completion after each write of the test's org
  const followUps = await followUpsOf(org, () => deps);
  const repositories =
    options.settle === 'manual' ? testRepositories() : settlingRepositories(testRepositories(), followUps.settle);
  const store = storeFacade(repositories);
  const deps: ApiDeps = createEngine({
    ...repositories,
    clock,
    ids: ulidIds,
    ...(options.notifier ? { notifier: options.notifier } : {}),
    ...(options.scheduler ? { scheduler: options.scheduler } : {}),
    ...(options.log ? { log: options.log } : {}),
  });
  const workstreams = new Map<ChannelKind, Workstream>();
  await store.putQueue({ org, id: 'q1', name: 'Queue 1' });
  await store.putQueue({ org, id: 'q2', name: 'Queue 2' });
  for (const kind of KINDS) {
    const ws: Workstream = {
      org,
      id: `ws-${kind}`,
      name: kind,
      mode: CHANNEL_MODES[kind],
      capacity: { pool: 'default', units: options.units ?? 1 },
      allowedPresences: options.allowedPresences ?? ['Available', 'Busy'],
      wrapUp: { blockCapacity: options.wrapUp ?? 'always' },
      waitingInactivityTimeoutSeconds: 3600,
      agentReconnectTimeoutSeconds: 120,
      routingRules: [],
      defaultQueueId: 'q1',
      distribution: 'pick',
    };
    workstreams.set(kind, ws);
    await store.putWorkstream(ws);
    await store.putChannel({ org, id: `${org}-${kind}`, kind, workstreamId: ws.id }, 'secret');
  }
  let thread = 0;
  const fixture: Fixture = {
    org,
    store,
    clock,
    deps,
    settle: followUps.settle,
    takePending: followUps.takePending,
    channelId: (kind) => `${org}-${kind}`,
    addAgent: (id, capacity = { default: 3 }, queues = ['q1']) =>
      store.putAgent({ org, id, name: id, queues, bot: false, capacity }),
    async start(kind, threadId = `t${++thread}`) {
      const r = await handleCustomerEvent(deps, org, `${org}-${kind}`, {
        eventId: ulid(),
        type: 'conversation.started',
        threadId,
      });
      if (r.outcome !== 'created') throw new Error(`expected a new conversation, got ${r.outcome}`);
      return r.conversation;
    },
    async conversation(id) {
      const c = await store.getConversation(org, id);
      if (!c) throw new Error(`conversation ${id} missing`);
      return c;
    },
    async setWorkstream(kind, patch) {
      const ws = { ...(workstreams.get(kind) as Workstream), ...patch };
      workstreams.set(kind, ws);
      await store.putWorkstream(ws);
    },
  };
  return fixture;
}

/** RL-3: every pool's `used` equals the sum of the agent's live allocations in that pool. */
export async function ledgerOf(
  f: Fixture,
  agentId: string,
): Promise<{ pools: Record<string, { max: number; used: number }>; allocated: Record<string, number> }> {
  const agent = await f.store.getAgent(f.org, agentId);
  const allocations = await f.store.listAllocations(f.org, agentId);
  const allocated: Record<string, number> = {};
  for (const a of allocations) allocated[a.pool] = (allocated[a.pool] ?? 0) + a.units;
  return { pools: agent?.pools ?? {}, allocated };
}

/**
 * The table's outbox as one org sees it: tests share the table, and a sweep must fire only its own
 * org's items (another test's due timers are that test's to fire).
 */
export function orgOutbox(f: Pick<Fixture, 'org' | 'deps'>): Outbox {
  const outbox = f.deps.outbox;
  return {
    listDueTimers: async (until, limit) =>
      (await outbox.listDueTimers(until, 10_000)).filter((t) => t.org === f.org).slice(0, limit),
    getTimer: (org, name) => outbox.getTimer(org, name),
    deleteTimer: (org, name) => outbox.deleteTimer(org, name),
    armTimer: (timer) => outbox.armTimer(timer),
  };
}
