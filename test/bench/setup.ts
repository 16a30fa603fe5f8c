import type { DynamoDBRecord } from 'aws-lambda';
import { BatchWriteCommand, GetCommand, QueryCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { ulid } from 'ulid';
import type { Commits } from '../../functions/ports/repositories.js';
import { assignmentIndexKeys, availabilityIndexKeys, keys } from '../../functions/adapters/dynamodb/keys.js';
import { openConversation } from '../../functions/domain/decide.js';
import type { Conversation, Workstream } from '../../functions/domain/model.js';
import type { BenchRuntime, HttpResult } from './bench-runtime.js';
import { inPhase } from './phases.js';

export interface WorkstreamSpec {
  id: string;
  distribution: 'push' | 'pick';
  /** C-3: 'always', 'never' or minutes */
  blockCapacity: 'always' | 'never' | number;
  offerTimeoutSeconds?: number;
  /** routing rules before the per-queue ones (K-2 `requires`, Q-1 `priority`) */
  rules?: Record<string, unknown>[];
  skillRelaxation?: { afterSeconds: number; requires: Record<string, number> }[];
  priorityAgingSeconds?: number;
}

export interface OrgSpec {
  queues: string[];
  agents: number;
  /** agents configured and signed in through the API one by one; the rest are copies of the first */
  apiAgents?: number;
  /** the 3 queues of agent i */
  agentQueues: (i: number) => string[];
  capacity: number;
  workstreams: WorkstreamSpec[];
  /** a routing rule per queue on the context variable `queue` */
  routeByContext?: boolean;
  /** K-1: every agent's skills (the copies have the template's) */
  skills?: Record<string, number>;
  /** S-1: the org settings, supervisor features on (for `prioritize`) */
  supervisorAssign?: boolean;
}

export interface BenchOrg {
  org: string;
  secret: string;
  /** channel id of each workstream (one chat channel per workstream) */
  channel: Record<string, string>;
  workstream: Record<string, Workstream>;
  agents: string[];
  queuesOf: Map<string, string[]>;
  membersOf: Map<string, string[]>;
}

export const agentId = (i: number): string => `agent-${i.toString().padStart(6, '0')}`;

const must = async (what: string, p: Promise<HttpResult>): Promise<HttpResult> => {
  const r = await p;
  if (r.status >= 300) throw new Error(`setup ${what} failed: ${r.status} ${JSON.stringify(r.body)}`);
  return r;
};

/**
 * An org as production has it: queues, workstreams and channels configured through the admin API;
 * agents configured through the admin API and signed in through the agents API (so they are
 * Available, members of their 3 queues, with availability entries). Beyond `apiAgents`, agents are
 * exact copies of the first one's items (profile, pools, memberships, availability entries) with
 * the ids and queues replaced: the same state at a fraction of the setup time.
 */
export async function setupOrg(rt: BenchRuntime, doc: DynamoDBDocumentClient, spec: OrgSpec): Promise<BenchOrg> {
  const org = `bench-${ulid().toLowerCase()}`;
  const copies = new Set(Array.from({ length: spec.agents }, (_, i) => agentId(i)).slice(spec.apiAgents ?? 10));
  // the copies' own items, as they are put: their availability entries are copied too, nothing follows
  const copied = (r: DynamoDBRecord): boolean => {
    const image = r.dynamodb?.NewImage;
    if (r.eventName !== 'INSERT' || image?.org?.S !== org) return false;
    const id = image.agentId?.S ?? (image.type?.S === 'agent' ? image.id?.S : undefined);
    return id !== undefined && copies.has(id);
  };
  return rt.followUps.asSetup(() => inPhase('setup', () => build(rt, doc, spec, org)), copied);
}

async function build(rt: BenchRuntime, doc: DynamoDBDocumentClient, spec: OrgSpec, org: string): Promise<BenchOrg> {
  const admin = { org, sub: 'admin', roles: ['admin'] };
  const secret = 'bench-secret-0123456789';
  const { http } = rt.entry;
  for (const q of spec.queues)
    await must(`queue ${q}`, http('admin', 'PUT /v1/admin/queues/{id}', { id: q }, admin, { name: q }));
  const channel: Record<string, string> = {};
  const workstream: Record<string, Workstream> = {};
  for (const ws of spec.workstreams) {
    await must(
      `workstream ${ws.id}`,
      http('admin', 'PUT /v1/admin/workstreams/{id}', { id: ws.id }, admin, {
        name: ws.id,
        mode: 'live',
        capacity: { units: 1 },
        allowedPresences: ['Available', 'Busy'],
        wrapUp: { blockCapacity: ws.blockCapacity },
        defaultQueueId: spec.queues[0],
        distribution: ws.distribution,
        ...(ws.offerTimeoutSeconds ? { offerTimeoutSeconds: ws.offerTimeoutSeconds } : {}),
        ...(ws.skillRelaxation ? { skillRelaxation: ws.skillRelaxation } : {}),
        ...(ws.priorityAgingSeconds ? { priorityAgingSeconds: ws.priorityAgingSeconds } : {}),
        ...(spec.routeByContext || ws.rules
          ? {
              routingRules: [
                ...(ws.rules ?? []),
                ...(spec.routeByContext
                  ? spec.queues.map((q) => ({ when: { field: 'queue', equals: q }, queueId: q }))
                  : []),
              ],
            }
          : {}),
      }),
    );
    const channelId = `${org}-${ws.id}`;
    channel[ws.id] = channelId;
    await must(
      `channel ${ws.id}`,
      http('admin', 'PUT /v1/admin/channels/{id}', { id: channelId }, admin, {
        kind: 'chat',
        workstreamId: ws.id,
        secret,
      }),
    );
    workstream[ws.id] = (await rt.store.getWorkstream(org, ws.id)) as Workstream;
  }
  if (spec.supervisorAssign) {
    await must(
      'settings',
      http('admin', 'PUT /v1/admin/settings', {}, admin, {
        supervisorMonitor: true,
        supervisorAssign: true,
        supervisorTransfer: true,
        forceClose: true,
        agentEndMessagingSession: true,
      }),
    );
  }
  const agents = Array.from({ length: spec.agents }, (_, i) => agentId(i));
  const queuesOf = new Map(agents.map((a, i) => [a, spec.agentQueues(i)]));
  const apiAgents = Math.min(spec.agents, spec.apiAgents ?? 10);
  for (let i = 0; i < apiAgents; i++) {
    const id = agents[i] as string;
    await must(
      `agent ${id}`,
      http('admin', 'PUT /v1/admin/agents/{id}', { id }, admin, {
        name: id,
        queues: queuesOf.get(id),
        capacity: { default: spec.capacity },
        ...(spec.skills ? { skills: spec.skills } : {}),
      }),
    );
    await must(`sign-in ${id}`, http('agents', 'POST /v1/agents/me/sign-in', {}, { org, sub: id, roles: ['agent'] }));
  }
  if (spec.agents > apiAgents) {
    // the template's sign-in has its follow-ups (its availability entries) before it is copied
    await rt.followUps.settle();
    await cloneAgents(doc, rt.table, org, agents[0] as string, agents.slice(apiAgents), queuesOf);
  }
  const membersOf = new Map<string, string[]>(spec.queues.map((q) => [q, []]));
  for (const [a, qs] of queuesOf) for (const q of qs) membersOf.get(q)?.push(a);
  return { org, secret, channel, workstream, agents, queuesOf, membersOf };
}

/** Copies the template agent's items to `ids`, replacing the agent id and its queues segment by segment. */
async function cloneAgents(
  doc: DynamoDBDocumentClient,
  table: string,
  org: string,
  template: string,
  ids: string[],
  queuesOf: Map<string, string[]>,
): Promise<void> {
  const own = await doc.send(
    new QueryCommand({
      TableName: table,
      KeyConditionExpression: 'PK = :pk',
      ExpressionAttributeValues: { ':pk': keys.agent(org, template).PK },
      ConsistentRead: true,
    }),
  );
  const items: Record<string, unknown>[] = (own.Items ?? []).filter((i) => !String(i.SK).startsWith('ALLOC#'));
  const tq = queuesOf.get(template) as string[];
  const held = new Set(items.map((i) => `${String(i.PK)}|${String(i.SK)}`));
  for (const q of tq) {
    for (const key of [keys.member(org, q, template), keys.availability(org, q, 'default', template)]) {
      // memberships and availability entries live in the agent's own partition now: read once
      if (held.has(`${key.PK}|${key.SK}`)) continue;
      const got = await doc.send(new GetCommand({ TableName: table, Key: key, ConsistentRead: true }));
      if (got.Item) items.push(got.Item);
    }
  }
  const copies: Record<string, unknown>[] = [];
  for (const id of ids) {
    const map = new Map<string, string>([[template, id]]);
    (queuesOf.get(id) as string[]).forEach((q, i) => map.set(tq[i] as string, q));
    const seg = (s: string): string =>
      s
        .split('#')
        .map((x) => map.get(x) ?? x)
        .join('#');
    for (const item of items) {
      const copy: Record<string, unknown> = Object.fromEntries(
        Object.entries(item).map(([k, v]) => [
          k,
          typeof v === 'string' ? seg(v) : Array.isArray(v) ? v.map((x) => (typeof x === 'string' ? seg(x) : x)) : v,
        ]),
      );
      // an availability entry's index shard is a hash of its own agent id: derived again, never copied
      // the index keys hold the agent's shard: derived again for the copy (with the entry's requirement, K-4)
      const requirement = typeof copy.requirement === 'string' ? copy.requirement : undefined;
      if (copy.type === 'availability' && copy.GSI5PK) {
        Object.assign(
          copy,
          availabilityIndexKeys(
            org,
            String(copy.queueId),
            String(copy.pool),
            id,
            Number(copy.free),
            String(String(copy.GSI5SK).split('#')[1] ?? ''),
            requirement,
          ),
        );
      }
      if ((copy.type === 'availability' || copy.type === 'availability-least-active') && copy.GSI6PK) {
        const order = copy.type === 'availability' ? 'RR' : 'LA';
        const rank = String(copy.GSI6SK).slice(0, String(copy.GSI6SK).lastIndexOf('#'));
        Object.assign(
          copy,
          assignmentIndexKeys(order, org, String(copy.queueId), String(copy.pool), id, rank, requirement),
        );
      }
      copies.push(copy);
    }
  }
  const batches: Record<string, unknown>[][] = [];
  for (let i = 0; i < copies.length; i += 25) batches.push(copies.slice(i, i + 25));
  let next = 0;
  await Promise.all(
    Array.from({ length: 4 }, async () => {
      while (next < batches.length) {
        const batch = batches[next++] as Record<string, unknown>[];
        let pending: Record<string, unknown>[] = batch.map((Item) => ({ PutRequest: { Item } }));
        while (pending.length) {
          const out = await doc.send(new BatchWriteCommand({ RequestItems: { [table]: pending as never } }));
          pending = (out.UnprocessedItems?.[table] ?? []) as Record<string, unknown>[];
        }
      }
    }),
  );
}

/** An Open conversation committed directly with the items ingest would write (setup for actions). */
export async function openConv(
  store: Commits,
  o: BenchOrg,
  wsId: string,
  queueId: string,
  now: Date,
): Promise<Conversation> {
  const ws = o.workstream[wsId] as Workstream;
  const d = openConversation({
    org: o.org,
    id: ulid(),
    ticketId: ulid(),
    channel: { org: o.org, id: o.channel[wsId] as string, kind: 'chat', workstreamId: ws.id },
    workstream: ws,
    threadId: ulid(),
    queueId,
    actor: { role: 'customer', id: 'c' },
    previousConversationId: null,
    reason: 'bench',
    now,
  });
  await inPhase('setup', () => store.commit(d.writes));
  return d.conversation;
}
