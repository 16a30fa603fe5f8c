import { TransactWriteCommand, UpdateCommand, type TransactWriteCommandInput } from '@aws-sdk/lib-dynamodb';
import { ConflictError, NotFoundError } from '../../../domain/errors.js';
import { MAX_QUEUE_DELAYS } from '../../../domain/profiles.js';
import type { Agent, Presence } from '../../../domain/model.js';
import type { Page, PageRequest } from '../../../ports/read-types.js';
import { shardedPage } from '../sharded-query.js';
import type { AgentConfig, AgentStatePatch, AllocationRecord } from '../../../ports/storage-types.js';
import type { Agents } from '../../../ports/repositories.js';
import {
  agentEntity,
  allocationEntity,
  availabilityEntity,
  memberEntity,
  queueRequirementsEntity,
} from '../entities.js';
import { indexPartition, keys } from '../keys.js';
import { setAll, type Table } from '../table.js';

/** GSI3 sort keys of agent profiles and memberships: agent ids */
const AGENT_ID_SORT_KEY = /^[A-Za-z0-9_-]{1,64}$/;

type TransactItem = NonNullable<TransactWriteCommandInput['TransactItems']>[number];

/** Agents: the profile, its capacity pools, queue memberships and allocations, all in the agent's partition. */
export class DynamoAgents implements Agents {
  constructor(private readonly table: Table) {}

  /** The profile and its pools share an SK prefix: one consistent query reads both. */
  async getAgent(org: string, id: string): Promise<Agent | undefined> {
    const items = await this.table.queryPrefix(agentEntity.key(org, id).PK, keys.agentPrefix);
    const profile = items.find(agentEntity.isProfile);
    return profile
      ? agentEntity.from(
          profile,
          items.filter((i) => !agentEntity.isProfile(i)),
        )
      : undefined;
  }

  async listAllocations(org: string, agentId: string): Promise<AllocationRecord[]> {
    const items = await this.table.queryPrefix(agentEntity.key(org, agentId).PK, keys.allocationPrefix);
    return items.map(allocationEntity.from);
  }

  /** The org's agent ids (GSI3 partition of agent profiles): for org-wide refreshes only, never per decision. */
  async listAgentIds(org: string): Promise<string[]> {
    const items = await this.table.queryIndex('GSI3', indexPartition.agents(org));
    return items.map((i) => String(i.id));
  }

  /**
   * MX-2: one page of agent ids from GSI3, the org's agent profiles or the queue's memberships, both
   * sorted by agent id: a page costs the same whatever the org's size.
   */
  async listAgentIdsPage(org: string, queueId: string | undefined, page: PageRequest): Promise<Page<string>> {
    const out = await shardedPage(
      this.table,
      {
        index: 'GSI3',
        groups: [[queueId === undefined ? indexPartition.agents(org) : indexPartition.queueMembers(org, queueId)]],
        filter: {},
        share: false,
        sortKey: AGENT_ID_SORT_KEY,
        tableKey: (id) => (queueId === undefined ? agentEntity.key(org, id) : keys.member(org, queueId, id)),
      },
      page,
    );
    return {
      items: out.items.map((i) => String(i.GSI3SK)),
      ...(out.nextCursor ? { nextCursor: out.nextCursor } : {}),
    };
  }

  /** MX-2: a conditional update of the profile; the same presence again changes nothing */
  async recordPresence(org: string, agentId: string, presence: Presence, at: string): Promise<void> {
    try {
      await this.table.doc.send(
        new UpdateCommand({
          TableName: this.table.name,
          Key: agentEntity.key(org, agentId),
          UpdateExpression: 'SET #p = :p, #since = :at',
          // a slower refresh never records an older presence over a newer one
          ConditionExpression:
            'attribute_exists(PK) AND (attribute_not_exists(#p) OR #p <> :p) AND (attribute_not_exists(#since) OR #since <= :at)',
          ExpressionAttributeNames: { '#p': 'presenceShown', '#since': 'presenceSince' },
          ExpressionAttributeValues: { ':p': presence, ':at': at },
        }),
      );
    } catch (err) {
      if ((err as { name?: string }).name !== 'ConditionalCheckFailedException') throw err;
    }
  }

  /**
   * The configuration, pool maxima and memberships in one transaction. A pool the agent no longer
   * has goes to max 0 (its `used` stays exact, RL-3); leaving a queue deletes the membership and the
   * agent's availability entries there. The rest of the index follows from the committed agent and
   * pool changes (the stream's follow-ups).
   */
  async putAgent(agent: AgentConfig): Promise<void> {
    const { capacity, org, id } = agent;
    const existing = await this.getAgent(org, id);
    const maxima: Record<string, number> = {
      ...Object.fromEntries(Object.keys(existing?.pools ?? {}).map((p) => [p, 0])),
      ...capacity,
    };
    const dropped = (existing?.queues ?? []).filter((q) => !agent.queues.includes(q));
    const t = this.table.name;
    const delayed = Object.entries(agent.memberships ?? {}).filter(
      ([q, m]) => m.delaySeconds > 0 && agent.queues.includes(q),
    );
    try {
      await this.table.doc.send(
        new TransactWriteCommand({
          TransactItems: [
            profileUpdate(t, agent),
            ...Object.entries(maxima).map(([pool, max]) => poolMaximumUpdate(t, org, id, pool, max)),
            ...agent.queues.map((queueId) => ({ Put: { TableName: t, Item: memberEntity.item(org, queueId, id) } })),
            ...dropped.map((queueId) => ({ Delete: { TableName: t, Key: memberEntity.key(org, queueId, id) } })),
            ...delayed.map(([queueId, m]) => delayRegistration(t, org, queueId, m.delaySeconds)),
          ],
        }),
      );
    } catch (err) {
      const reasons = (err as { CancellationReasons?: { Code?: string }[] }).CancellationReasons ?? [];
      const failed = reasons.findIndex((r) => r.Code === 'ConditionalCheckFailed');
      const base = 1 + Object.keys(maxima).length + agent.queues.length + dropped.length;
      const lane = failed >= base ? delayed[failed - base] : undefined;
      if (lane) {
        throw new ConflictError(
          `queue ${lane[0]} already has ${MAX_QUEUE_DELAYS} distinct member delays; use one of them for delaySeconds`,
        );
      }
      throw err;
    }
    const deletes = dropped.flatMap((q) =>
      Object.keys(maxima).flatMap((pool) => [
        availabilityEntity.key(org, q, pool, id),
        availabilityEntity.leastActiveKey(org, q, pool, id),
      ]),
    );
    await this.table.batchWrite(deletes.map((Key) => ({ DeleteRequest: { Key } })));
  }

  async updateAgentState(org: string, id: string, patch: AgentStatePatch): Promise<void> {
    const set: string[] = [];
    const remove: string[] = [];
    const names: Record<string, string> = {};
    const values: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(patch)) {
      if (v === undefined) continue;
      names[`#${k}`] = k;
      if (v === null) remove.push(`#${k}`);
      else {
        set.push(`#${k} = :${k}`);
        values[`:${k}`] = v;
      }
    }
    if (!set.length && !remove.length) return;
    // a presence-affecting change: offers in flight check stateVersion
    names['#sv'] = 'stateVersion';
    values[':svZero'] = 0;
    values[':svOne'] = 1;
    set.push('#sv = if_not_exists(#sv, :svZero) + :svOne');
    try {
      await this.table.doc.send(
        new UpdateCommand({
          TableName: this.table.name,
          Key: agentEntity.key(org, id),
          UpdateExpression: [`SET ${set.join(', ')}`, remove.length ? `REMOVE ${remove.join(', ')}` : '']
            .join(' ')
            .trim(),
          ConditionExpression: 'attribute_exists(PK)',
          ExpressionAttributeNames: names,
          ExpressionAttributeValues: values,
        }),
      );
    } catch (err) {
      if ((err as { name?: string }).name === 'ConditionalCheckFailedException') throw new NotFoundError('agent', id);
      throw err;
    }
  }
}

/**
 * the delay joins the queue's registry of member delays (its availability lanes), at most
 * MAX_QUEUE_DELAYS distinct ones: a conversation's dispatch reads one lane per delay (SC-2).
 */
function delayRegistration(table: string, org: string, queueId: string, delay: number): TransactItem {
  return {
    Update: {
      TableName: table,
      Key: queueRequirementsEntity.key(org, queueId),
      UpdateExpression: 'ADD #d :set SET #t = :t, #org = :org, #q = :q',
      ConditionExpression: 'attribute_not_exists(#d) OR contains(#d, :delay) OR size(#d) < :cap',
      ExpressionAttributeNames: { '#d': 'delays', '#t': 'type', '#org': 'org', '#q': 'queueId' },
      ExpressionAttributeValues: {
        ':set': new Set([delay]),
        ':delay': delay,
        ':cap': MAX_QUEUE_DELAYS,
        ':t': 'queue-requirements',
        ':org': org,
        ':q': queueId,
      },
    },
  };
}

/** The agent's configuration; presence and connection are left as they are (counters started at 0). */
function profileUpdate(table: string, agent: AgentConfig): TransactItem {
  const s = setAll(agentEntity.configAttributes(agent));
  return {
    Update: {
      TableName: table,
      Key: agentEntity.key(agent.org, agent.id),
      // stateVersion moves: an offer decided on her previous queues or skills (K-4) does not commit
      UpdateExpression: `SET ${s.expr}, #epoch = if_not_exists(#epoch, :zero), #sv = if_not_exists(#sv, :zero) + :one`,
      ExpressionAttributeNames: { ...s.names, '#epoch': 'connectionEpoch', '#sv': 'stateVersion' },
      ExpressionAttributeValues: { ...s.values, ':zero': 0, ':one': 1 },
    },
  };
}

/** A pool's maximum changes without touching `used` (RL-3); `free` follows from both. */
function poolMaximumUpdate(table: string, org: string, id: string, pool: string, max: number): TransactItem {
  const s = setAll(agentEntity.poolAttributes(org, id, pool, max));
  return {
    Update: {
      TableName: table,
      Key: agentEntity.poolKey(org, id, pool),
      UpdateExpression: `SET ${s.expr}, #used = if_not_exists(#used, :zero), #free = :max - if_not_exists(#used, :zero)`,
      ExpressionAttributeNames: { ...s.names, '#used': 'used', '#free': 'free' },
      ExpressionAttributeValues: { ...s.values, ':zero': 0 },
    },
  };
}
