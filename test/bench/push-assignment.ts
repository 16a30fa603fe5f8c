import { BatchWriteCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { ulid } from 'ulid';
import { DynamoConversationStore } from '../../functions/adapters/dynamodb/conversation-store.js';
import { availabilityIndexKeys, keys } from '../../functions/adapters/dynamodb/keys.js';
import { ulidIds } from '../../functions/adapters/system-clock.js';
import { openConversation } from '../../functions/domain/decide.js';
import type { Conversation, Workstream } from '../../functions/domain/model.js';
import { createEngine } from '../../functions/use-cases/create-engine.js';
import { dispatchConversation } from '../../functions/use-cases/dispatch.use-case.js';
import type { EngineDeps } from '../../functions/use-cases/engine.js';
import { instrument, type Meter } from './instrument.js';

/**
 * (c) Reads per push assignment at 10 and at N agents (the figure README reports since the first
 * bench): agents seeded signed in with capacity in q1, 20 Open push conversations dispatched one
 * by one through dispatchConversation on an engine of its own; every request counted (the
 * assignment's follow-ups included).
 */
export async function pushAssignment(
  doc: DynamoDBDocumentClient,
  table: string,
  bigAgents: number,
  log: (s: string) => void,
): Promise<{ runs: Record<string, unknown>[]; readsRatio: number; requestsRatio: number }> {
  const meter: Meter = instrument(doc);
  const clock = { now: () => new Date(Date.now()) };
  const store = new DynamoConversationStore(doc, table);
  const deps: EngineDeps = createEngine({ store, clock, ids: ulidIds });

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

  const assignments: Record<string, unknown>[] = [];
  for (const count of [10, bigAgents]) {
    log(`(c) push assignment with ${count} agents`);
    const { org, ws } = await setupOrg();
    await seedAgents(org, count);
    const convs: Conversation[] = [];
    for (let i = 0; i < 20; i++) convs.push(await openConv(org, ws));
    meter.reset();
    let offered = 0;
    for (const c of convs) if ((await dispatchConversation(deps, org, c.id)).offeredTo) offered++;
    const r = {
      agents: count,
      assignments: offered,
      requestsPerAssignment: meter.total() / offered,
      readsPerAssignment: meter.reads() / offered,
      byCommand: { ...meter.requests },
    };
    assignments.push(r);
    log(`  ${JSON.stringify(r)}`);
  }
  const [small, big] = assignments as { readsPerAssignment: number; requestsPerAssignment: number }[];
  return {
    runs: assignments,
    readsRatio: (big?.readsPerAssignment ?? 0) / (small?.readsPerAssignment ?? 1),
    requestsRatio: (big?.requestsPerAssignment ?? 0) / (small?.requestsPerAssignment ?? 1),
  };
}
