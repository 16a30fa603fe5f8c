import { BatchWriteCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import type { DynamoDBRecord } from 'aws-lambda';
import { ulid } from 'ulid';
import { StreamReader } from '../../bin/local/stream-poller.js';
import { createDocumentClient } from '../../functions/adapters/dynamodb/client.js';
import { createDynamoRepositories } from '../../functions/adapters/dynamodb/repositories/index.js';
import { storeFacade } from '../support/store.js';
import { availabilityIndexKeys, keys } from '../../functions/adapters/dynamodb/keys.js';
import { ulidIds } from '../../functions/adapters/system-clock.js';
import { openConversation } from '../../functions/domain/decide.js';
import type { Conversation, Workstream } from '../../functions/domain/model.js';
import { createEngine } from '../../functions/use-cases/create-engine.js';
import { runFollowUps } from '../../functions/follow-ups/run-follow-ups.js';
import { dispatchConversation } from '../../functions/use-cases/dispatch.use-case.js';
import type { EngineDeps } from '../../functions/use-cases/engine.js';
import { instrument, type Meter } from './instrument.js';

export interface PushAssignmentRun {
  agents: number;
  assignments: number;
  /** dispatch + its follow-ups */
  requestsPerAssignment: number;
  readsPerAssignment: number;
  /** dispatchConversation alone (what the stream consumer runs for a conversation entering Open) */
  dispatchRequestsPerAssignment: number;
  dispatchReadsPerAssignment: number;
  /** the follow-ups of the offer's commit (the offered agent's availability entries...) */
  followUpRequestsPerAssignment: number;
  followUpReadsPerAssignment: number;
  byCommand: Record<string, number>;
  followUpByCommand: Record<string, number>;
}

/**
 * (c) Reads per push assignment at 10 and at N agents (the figure README reports since the first
 * bench): agents seeded signed in with capacity in q1, 20 Open push conversations dispatched one
 * by one through dispatchConversation (the use case the stream consumer runs for a conversation
 * entering Open) on an engine of its own, then the follow-ups of each offer read from the table's
 * stream and run by the consumer's use case (runFollowUps) on a second engine: every request
 * counted, each engine on its own metered client.
 */
export async function pushAssignment(
  endpoint: string,
  table: string,
  bigAgents: number,
  log: (s: string) => void,
): Promise<{ runs: PushAssignmentRun[]; readsRatio: number; requestsRatio: number }> {
  const doc: DynamoDBDocumentClient = createDocumentClient({ endpoint });
  const meter: Meter = instrument(doc);
  const clock = { now: () => new Date(Date.now()) };
  const repositories = createDynamoRepositories(doc, table);
  const store = storeFacade(repositories);
  const deps: EngineDeps = createEngine({ ...repositories, clock, ids: ulidIds });
  const followDoc = createDocumentClient({ endpoint });
  const followMeter: Meter = instrument(followDoc);
  const followDeps: EngineDeps = createEngine({
    ...createDynamoRepositories(followDoc, table),
    clock,
    ids: ulidIds,
  });

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
      routingRules: [],
      defaultQueueId: 'q1',
      distribution: 'push',
    };
  }
  async function setupOrg(): Promise<{ org: string; ws: Workstream }> {
    const org = `bench-${ulid().toLowerCase()}`;
    const ws = workstream(org);
    await store.putQueue({ org, id: 'q1', name: 'q1' });
    await store.putQueue({ org, id: 'q2', name: 'q2' });
    await store.putWorkstream(ws);
    await store.putChannel({ org, id: `${org}-chat`, kind: 'chat', workstreamId: ws.id }, 'secret-secret-secret');
    return { org, ws };
  }
  async function openConv(org: string, ws: Workstream): Promise<Conversation> {
    const d = openConversation({
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
      now: clock.now(),
    });
    await store.commit(d.writes);
    return d.conversation;
  }
  async function seedAgents(org: string, count: number): Promise<void> {
    const items: Record<string, unknown>[] = [];
    for (let i = 0; i < count; i++) {
      const id = `agent-${i.toString().padStart(6, '0')}`;
      const max = 1 + (i % 5);
      const idle = new Date(Date.now() - i * 1000).toISOString();
      items.push(
        {
          ...keys.agent(org, id),
          type: 'agent',
          org,
          id,
          name: id,
          queues: ['q1'],
          bot: false,
          signedIn: true,
          connected: true,
          connectionEpoch: 0,
          stateVersion: 0,
          idleSince: idle,
        },
        { ...keys.pool(org, id, 'default'), type: 'pool', org, agentId: id, pool: 'default', max, used: 0, free: max },
        { ...keys.member(org, 'q1', id), type: 'member', org, queueId: 'q1', agentId: id },
        {
          ...keys.availability(org, 'q1', 'default', id),
          type: 'availability',
          org,
          queueId: 'q1',
          pool: 'default',
          agentId: id,
          free: max,
          ...availabilityIndexKeys(org, 'q1', 'default', id, max, idle),
        },
      );
    }
    const batches: Record<string, unknown>[][] = [];
    for (let i = 0; i < items.length; i += 25) batches.push(items.slice(i, i + 25));
    let next = 0;
    await Promise.all(
      Array.from({ length: 4 }, async () => {
        while (next < batches.length) {
          const n = next++;
          await doc.send(
            new BatchWriteCommand({
              RequestItems: {
                [table]: (batches[n] as Record<string, unknown>[]).map((Item) => ({ PutRequest: { Item } })),
              },
            }),
          );
          if (n % 400 === 0 && n > 0) log(`  seeded ${(n * 25) / 4} agents`);
        }
      }),
    );
  }

  const assignments: PushAssignmentRun[] = [];
  for (const count of [10, bigAgents]) {
    log(`(c) push assignment with ${count} agents`);
    const { org, ws } = await setupOrg();
    await seedAgents(org, count);
    const convs: Conversation[] = [];
    for (let i = 0; i < 20; i++) convs.push(await openConv(org, ws));
    // the stream from here on: the offers' changes, not the setup's
    const reader = await new StreamReader(endpoint, table, 1000).open();
    const ofOrg = (r: DynamoDBRecord) => (r.dynamodb?.NewImage?.org ?? r.dynamodb?.OldImage?.org)?.S === org;
    const followUps = async (): Promise<void> => {
      for (let quiet = 0; quiet < 2;) {
        const records = (await reader.read()).flatMap((b) => b.records).filter(ofOrg);
        quiet = records.length ? 0 : quiet + 1;
        if (records.length) {
          const r = await runFollowUps(followDeps, records);
          if (r.failed.length) throw new Error(`follow-ups failed: ${r.errors.map((e) => String(e.error)).join('; ')}`);
        }
      }
    };
    meter.reset();
    followMeter.reset();
    let offered = 0;
    for (const c of convs) {
      if ((await dispatchConversation(deps, org, c.id)).offeredTo) offered++;
      await followUps();
    }
    reader.close();
    const d = { requests: meter.total(), reads: meter.reads() };
    const f = { requests: followMeter.total(), reads: followMeter.reads() };
    const r: PushAssignmentRun = {
      agents: count,
      assignments: offered,
      requestsPerAssignment: (d.requests + f.requests) / offered,
      readsPerAssignment: (d.reads + f.reads) / offered,
      dispatchRequestsPerAssignment: d.requests / offered,
      dispatchReadsPerAssignment: d.reads / offered,
      followUpRequestsPerAssignment: f.requests / offered,
      followUpReadsPerAssignment: f.reads / offered,
      byCommand: { ...meter.requests },
      followUpByCommand: { ...followMeter.requests },
    };
    assignments.push(r);
    log(`  ${JSON.stringify(r)}`);
  }
  doc.destroy();
  followDoc.destroy();
  const [small, big] = assignments as [PushAssignmentRun, PushAssignmentRun];
  return {
    runs: assignments,
    readsRatio: big.readsPerAssignment / small.readsPerAssignment,
    requestsRatio: big.requestsPerAssignment / small.requestsPerAssignment,
  };
}
