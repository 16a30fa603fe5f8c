import { BatchWriteCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import type { DynamoDBRecord } from 'aws-lambda';
import { ulid } from 'ulid';
import { StreamReader } from '../../bin/local/stream-poller.js';
import { createDocumentClient } from '../../functions/adapters/dynamodb/client.js';
import { agentEntity, availabilityEntity, memberEntity } from '../../functions/adapters/dynamodb/entities.js';
import { keys } from '../../functions/adapters/dynamodb/keys.js';
import { createDynamoRepositories } from '../../functions/adapters/dynamodb/repositories/index.js';
import { ulidIds } from '../../functions/adapters/system-clock.js';
import { openConversation } from '../../functions/domain/decide.js';
import {
  queueOrder,
  type Conversation,
  type RoutingRule,
  type Skills,
  type Workstream,
} from '../../functions/domain/model.js';
import { ANY_REQUIREMENT, meets, requirementOf } from '../../functions/domain/skills.js';
import { runFollowUps } from '../../functions/follow-ups/run-follow-ups.js';
import { availabilityOf } from '../../functions/use-cases/availability.use-case.js';
import { createEngine } from '../../functions/use-cases/create-engine.js';
import { dispatchConversation } from '../../functions/use-cases/dispatch.use-case.js';
import type { EngineDeps } from '../../functions/use-cases/engine.js';
import { storeFacade } from '../support/store.js';
import { instrument, type Meter } from './instrument.js';

/** The skills of the bench's workstream, and how many of them each agent has. */
export const SKILL_COUNT = 20;
const SKILLS_PER_AGENT = 6;
export const WAITING = 1000;
/** measured assignments per direction and run */
const SAMPLES = 20;

export interface SkilledRun {
  agents: number;
  /** Open conversations in q1 before the first measured assignment */
  waiting: number;
  /** requirement keys in q1's registry */
  requirements: number;
  /** availability entries seeded per agent, on average (`any` and each requirement she meets) */
  entriesPerAgent: number;
  assignments: number;
  /** of the measured triggers (new conversations / freed agents), how many carried a requirement / met one */
  withRequirement: number;
  /** everything counted for the assignment: the engine's work (trigger request path apart) */
  requestsPerAssignment: number;
  readsPerAssignment: number;
  /** read capacity units those reads consumed (DynamoDB Local's figures), per assignment */
  rcuPerAssignment: number;
  triggerRcuPerAssignment: number;
  followUpRcuPerAssignment: number;
  /** direction 1: dispatchConversation; direction 2: the request that freed capacity (agent PUT, not in the figure) */
  triggerRequestsPerAssignment: number;
  triggerReadsPerAssignment: number;
  /** the stream follow-ups (direction 2: her refresh + dispatchAgent + the offer's follow-ups) */
  followUpRequestsPerAssignment: number;
  followUpReadsPerAssignment: number;
  byCommand: Record<string, number>;
  followUpByCommand: Record<string, number>;
  /** offers the measured follow-ups made beyond the assignments counted (expected 0: reported, not counted) */
  strayOffers?: number;
  /** direction 2: freeings that offered her exactly the first Open conversation she meets in Q-2 order */
  bestOffers?: number;
}

export interface SkilledFigures {
  /** direction 1: a new conversation with a requirement is offered to the best agent who meets it */
  conversation: { runs: SkilledRun[]; readsRatio: number; requestsRatio: number };
  /** direction 2: an agent frees capacity and is offered the best Open conversation she qualifies for */
  agent: { runs: SkilledRun[]; readsRatio: number; requestsRatio: number };
}

/** A small deterministic PRNG (mulberry32): both runs draw the same skills and conversations. */
function random(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const skill = (i: number): string => `s${(i % SKILL_COUNT).toString().padStart(2, '0')}`;

/**
 * 20 rules on the context variable `need` (r00..r19): even rules require one skill at level 1..3,
 * odd rules two (the second at level 1); priorities 1..10. So q1's registry holds 20 requirements.
 */
export const skilledRules = (): RoutingRule[] =>
  Array.from({ length: SKILL_COUNT }, (_, i) => ({
    when: { field: 'need', equals: `r${i.toString().padStart(2, '0')}` },
    queueId: 'q1',
    priority: 1 + (i % 10),
    requires: i % 2 === 0 ? { [skill(i)]: 1 + ((i / 2) % 3) } : { [skill(i)]: 1 + (i % 3), [skill(i + 5)]: 1 },
  }));

/**
 * (c) with skills (K-4), both directions of push routing at 10 and at N agents, with 20 skills and
 * 1,000 Open conversations waiting in q1 (mixed requirements and priorities) before anything is
 * measured:
 * 1. a new conversation with a requirement: dispatchConversation (what the stream consumer runs for
 *    a conversation entering Open) + the follow-ups of its offer, as the no-skill figure;
 * 2. an agent frees capacity: her capacity is raised by one unit (an agent PUT, counted apart: the
 *    trigger, not the assignment), then the stream follow-ups of that commit run (her availability
 *    refresh and dispatchAgent, which offers her the best Open conversation she qualifies for) and
 *    those of the offer: every request they make is counted.
 * Agents are seeded as items (the engine's own entities: availability entries as availabilityOf
 * computes them, one per met requirement and `any`, each with its least-active twin); the waiting
 * conversations by committing openConversation decisions. Half the agents (odd) have room; the
 * other half are full (capacity 0): the 5 of them among the first 10 free capacity in direction 2.
 * The first 10 agents (skills, capacity) and the measured conversations' requirements are the same
 * in both runs (a seeded PRNG), so the two figures differ by the number of agents only.
 */
export async function pushSkills(
  endpoint: string,
  table: string,
  bigAgents: number,
  log: (s: string) => void,
): Promise<SkilledFigures> {
  const doc: DynamoDBDocumentClient = createDocumentClient({ endpoint });
  const meter: Meter = instrument(doc);
  const clock = { now: () => new Date(Date.now()) };
  const repositories = createDynamoRepositories(doc, table);
  const store = storeFacade(repositories);
  const deps: EngineDeps = createEngine({ ...repositories, clock, ids: ulidIds });
  const followDoc = createDocumentClient({ endpoint });
  const followMeter: Meter = instrument(followDoc);
  const followDeps: EngineDeps = createEngine({ ...createDynamoRepositories(followDoc, table), clock, ids: ulidIds });
  // the trigger of direction 2 (the agent PUT) on a client of its own
  const triggerDoc = createDocumentClient({ endpoint });
  const triggerMeter: Meter = instrument(triggerDoc);
  const triggerStore = storeFacade(createDynamoRepositories(triggerDoc, table));
  const rules = skilledRules();

  function workstream(org: string): Workstream {
    return {
      org,
      id: 'ws',
      name: 'chat',
      mode: 'live',
      capacity: { pool: 'default', units: 1 },
      allowedPresences: ['Available', 'Busy'],
      wrapUp: { blockCapacity: 5 },
      waitingInactivityTimeoutSeconds: 3600,
      agentReconnectTimeoutSeconds: 120,
      routingRules: rules,
      defaultQueueId: 'q1',
      distribution: 'push',
    };
  }
  async function setupOrg(): Promise<{ org: string; ws: Workstream }> {
    const org = `bench-${ulid().toLowerCase()}`;
    const ws = workstream(org);
    await store.putQueue({ org, id: 'q1', name: 'q1' });
    await store.putWorkstream(ws);
    await store.putChannel({ org, id: `${org}-chat`, kind: 'chat', workstreamId: ws.id }, 'secret-secret-secret');
    return { org, ws };
  }
  /** a conversation as the ingest path opens it: the rule `rule` (undefined: none matched) chose q1 */
  const opened = (org: string, ws: Workstream, rule: RoutingRule | undefined, now: Date) =>
    openConversation({
      org,
      id: ulid(),
      ticketId: ulid(),
      channel: { org, id: `${org}-chat`, kind: 'chat', workstreamId: ws.id },
      workstream: ws,
      threadId: ulid(),
      queueId: 'q1',
      actor: { role: 'customer', id: 'c' },
      previousConversationId: null,
      reason: 'bench',
      ...(rule?.priority ? { priority: rule.priority } : {}),
      ...(rule?.requires ? { requires: rule.requires } : {}),
      now,
    });

  async function batchWrite(items: Record<string, unknown>[], what: string): Promise<void> {
    const batches: Record<string, unknown>[][] = [];
    for (let i = 0; i < items.length; i += 25) batches.push(items.slice(i, i + 25));
    let next = 0;
    await Promise.all(
      Array.from({ length: 6 }, async () => {
        while (next < batches.length) {
          const n = next++;
          let pending = (batches[n] as Record<string, unknown>[]).map((Item) => ({ PutRequest: { Item } }));
          while (pending.length) {
            const r = await doc.send(new BatchWriteCommand({ RequestItems: { [table]: pending } }));
            pending = (r.UnprocessedItems?.[table] ?? []) as typeof pending;
          }
          if (n % 1000 === 0 && n > 0) log(`  seeded ${n * 25} of ${items.length} ${what} items`);
        }
      }),
    );
  }

  interface Seeded {
    skills: Skills[];
    room: number[];
    full: number[];
    entries: number;
  }
  const agentId = (i: number): string => `agent-${i.toString().padStart(6, '0')}`;
  /** agent i: 6 distinct skills of the 20 at levels 1..5; odd agents have room (8..12 units), even are full */
  async function seedAgents(org: string, count: number): Promise<Seeded> {
    const settings = await store.getSettings(org);
    const registry = await store.getQueueRequirements(org, ['q1']);
    const draw = random(42);
    const now = clock.now();
    const items: Record<string, unknown>[] = [];
    const out: Seeded = { skills: [], room: [], full: [], entries: 0 };
    for (let i = 0; i < count; i++) {
      const id = agentId(i);
      const names = new Set<string>();
      while (names.size < SKILLS_PER_AGENT) names.add(skill(Math.floor(draw() * SKILL_COUNT)));
      const skills: Skills = Object.fromEntries([...names].sort().map((n) => [n, 1 + Math.floor(draw() * 5)]));
      out.skills.push(skills);
      // room for 8..12 units: the first 10 agents' share of direction 1 fits (every offer lands)
      const max = i % 2 === 1 ? 8 + (i % 5) : 0;
      (max ? out.room : out.full).push(i);
      const idle = new Date(Date.now() - i * 1000).toISOString();
      const profile = {
        ...keys.agent(org, id),
        ...agentEntity.configAttributes({ org, id, name: id, queues: ['q1'], bot: false, skills }),
        signedIn: true,
        connected: true,
        connectionEpoch: 0,
        stateVersion: 0,
        idleSince: idle,
      };
      const pool = {
        ...keys.pool(org, id, 'default'),
        ...agentEntity.poolAttributes(org, id, 'default', max),
        used: 0,
        free: max,
      };
      // the entries as the refresh writes them (availabilityOf, then writeEntries' items)
      const a = availabilityOf(agentEntity.from(profile, [pool]), settings, now, 0, registry);
      const entries = a.entries.flatMap((e) => {
        const entry = { org, agentId: id, idleSince: a.idleSince, lastAssignedAt: a.lastAssignedAt, active: 0, ...e };
        return [availabilityEntity.item(entry), availabilityEntity.leastActiveItem(entry)];
      });
      out.entries += a.entries.length;
      items.push(profile, pool, memberEntity.item(org, 'q1', id), ...entries);
    }
    await batchWrite(items, 'agent');
    return out;
  }

  /** 1,000 Open conversations: rule k % 21 (the 21st: no requirement), waiting 1,000 s down to 1 s */
  async function seedWaiting(org: string, ws: Workstream): Promise<Conversation[]> {
    const out: Conversation[] = [];
    let next = 0;
    const start = Date.now();
    await Promise.all(
      Array.from({ length: 8 }, async () => {
        while (next < WAITING) {
          const k = next++;
          const d = opened(org, ws, rules[k % (rules.length + 1)], new Date(start - (WAITING - k) * 1000));
          await store.commit(d.writes);
          out.push(d.conversation);
        }
      }),
    );
    return out;
  }

  const openedIn = (records: DynamoDBRecord[]): { id: string; agentId: string }[] =>
    records.flatMap((r) => {
      const before = r.dynamodb?.OldImage;
      const after = r.dynamodb?.NewImage;
      return after?.type?.S === 'conversation' && before?.status?.S === 'Open' && after.status?.S === 'Active'
        ? [{ id: String(after.id?.S), agentId: String(after.primaryAgentId?.S) }]
        : [];
    });

  const conversationRuns: SkilledRun[] = [];
  const agentRuns: SkilledRun[] = [];
  for (const count of [10, bigAgents]) {
    log(`(c) push assignment with skills: ${count} agents, ${SKILL_COUNT} skills, ${WAITING} waiting`);
    const { org, ws } = await setupOrg();
    const seeded = await seedAgents(org, count);
    const registry = (await store.getQueueRequirements(org, ['q1'])).get('q1') ?? [];
    log(`  ${count} agents seeded, ${(seeded.entries / count).toFixed(2)} availability entries each`);
    const open = new Map((await seedWaiting(org, ws)).map((c) => [c.id, c]));
    log(`  ${WAITING} Open conversations waiting`);
    // direction 1's conversations: the rules one of the first 10 agents with room meets, in turn (a
    // conversation nobody with room can take would only measure an empty candidate list). The
    // first 10 agents are the same in both runs: so are these conversations.
    const met = rules.filter((rule) => seeded.room.some((i) => i < 10 && meets(seeded.skills[i], rule.requires)));
    const chosen = Array.from({ length: SAMPLES }, (_, j): RoutingRule | undefined => met[j % met.length]);
    const convs: Conversation[] = [];
    for (const rule of chosen) {
      const d = opened(org, ws, rule, clock.now());
      await store.commit(d.writes);
      convs.push(d.conversation);
    }
    // the stream from here on: the measured changes, not the setup's
    const reader = await new StreamReader(endpoint, table, 1000).open();
    const ofOrg = (r: DynamoDBRecord) => (r.dynamodb?.NewImage?.org ?? r.dynamodb?.OldImage?.org)?.S === org;
    /** runs the follow-ups until the stream is quiet; returns the conversations offered meanwhile */
    const followUps = async (): Promise<{ id: string; agentId: string }[]> => {
      const offers: { id: string; agentId: string }[] = [];
      for (let quiet = 0; quiet < 2;) {
        const records = (await reader.read()).flatMap((b) => b.records).filter(ofOrg);
        quiet = records.length ? 0 : quiet + 1;
        if (records.length) {
          offers.push(...openedIn(records));
          const r = await runFollowUps(followDeps, records);
          if (r.failed.length) throw new Error(`follow-ups failed: ${r.errors.map((e) => String(e.error)).join('; ')}`);
        }
      }
      return offers;
    };
    const figures = (
      assignments: number,
      withRequirement: number,
      trigger: Meter,
      counted: { requests: number; reads: number; rcu: number },
    ): SkilledRun => {
      const t = { requests: trigger.total(), reads: trigger.reads() };
      const f = { requests: followMeter.total(), reads: followMeter.reads() };
      return {
        agents: count,
        waiting: WAITING,
        requirements: registry.length,
        entriesPerAgent: seeded.entries / count,
        assignments,
        withRequirement,
        requestsPerAssignment: (counted.requests + f.requests) / assignments,
        readsPerAssignment: (counted.reads + f.reads) / assignments,
        rcuPerAssignment: (counted.rcu + followMeter.rcu) / assignments,
        triggerRcuPerAssignment: trigger.rcu / assignments,
        followUpRcuPerAssignment: followMeter.rcu / assignments,
        triggerRequestsPerAssignment: t.requests / assignments,
        triggerReadsPerAssignment: t.reads / assignments,
        followUpRequestsPerAssignment: f.requests / assignments,
        followUpReadsPerAssignment: f.reads / assignments,
        byCommand: { ...trigger.requests },
        followUpByCommand: { ...followMeter.requests },
      };
    };

    // ---- direction 1: new conversations with requirements ----
    meter.reset();
    followMeter.reset();
    let offered = 0;
    let strays = 0;
    for (const c of convs) {
      if ((await dispatchConversation(deps, org, c.id)).offeredTo) offered++;
      else open.set(c.id, c);
      // the follow-ups of the offer only: an offer consumes capacity, it never dispatches her
      // (the offer's own record is among them: it was committed by the dispatch)
      strays += (await followUps()).filter((o) => o.id !== c.id).length;
    }
    const d1 = figures(offered, chosen.filter((r) => r?.requires).length, meter, {
      requests: meter.total(),
      reads: meter.reads(),
      rcu: meter.rcu,
    });
    d1.strayOffers = strays;
    conversationRuns.push(d1);
    log(`  new conversation -> agent: ${JSON.stringify(d1)}`);

    // ---- direction 2: a full agent frees one unit of capacity ----
    // the full agents among the first 10 (the same 5 in both runs, same skills), in turn, each
    // freeing a unit 4 times: the figure changes with the number of agents only
    const sample = seeded.full.filter((i) => i < 10);
    const freeing = Array.from({ length: SAMPLES }, (_, j) => sample[j % sample.length] as number);
    const capacity = new Map<number, number>();
    triggerMeter.reset();
    followMeter.reset();
    let assigned = 0;
    let strays2 = 0;
    let bestOffers = 0;
    let qualified = 0;
    for (const i of freeing) {
      const id = agentId(i);
      const units = (capacity.get(i) ?? 0) + 1;
      capacity.set(i, units);
      const skills = seeded.skills[i] as Skills;
      if (registry.some((k) => k !== ANY_REQUIREMENT && meets(skills, requirementOf(k)))) qualified++;
      await triggerStore.putAgent({
        org,
        id,
        name: id,
        queues: ['q1'],
        bot: false,
        capacity: { default: units },
        skills,
      });
      // the best Open conversation she qualifies for (Q-2 order, as dispatchAgent merges her listings)
      const best = [...open.values()]
        .filter((c) => meets(skills, c.requirements?.skills))
        .sort((a, b) => queueOrder(a).localeCompare(queueOrder(b)) || a.id.localeCompare(b.id))[0];
      const offers = await followUps();
      for (const o of offers) open.delete(o.id);
      assigned += offers.filter((o) => o.agentId === id).length;
      if (offers.length === 1 && offers[0]?.id === best?.id) bestOffers++;
      strays2 += offers.filter((o) => o.agentId !== id).length;
    }
    const d2 = figures(assigned, qualified, triggerMeter, { requests: 0, reads: 0, rcu: 0 });
    d2.strayOffers = strays2;
    d2.bestOffers = bestOffers;
    agentRuns.push(d2);
    log(`  agent frees capacity -> conversation: ${JSON.stringify(d2)}`);
    reader.close();
  }
  doc.destroy();
  followDoc.destroy();
  triggerDoc.destroy();
  const ratios = (runs: SkilledRun[]) => {
    const [small, big] = runs as [SkilledRun, SkilledRun];
    return {
      runs,
      readsRatio: big.readsPerAssignment / small.readsPerAssignment,
      requestsRatio: big.requestsPerAssignment / small.requestsPerAssignment,
    };
  };
  return { conversation: ratios(conversationRuns), agent: ratios(agentRuns) };
}
