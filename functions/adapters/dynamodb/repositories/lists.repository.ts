import { QueryCommand } from '@aws-sdk/lib-dynamodb';
import { ValidationError } from '../../../domain/errors.js';
import { stateOf, type Conversation } from '../../../domain/model.js';
import { STATUS_ORDER, type ConversationFilter, type Page, type PageRequest } from '../../../ports/read-types.js';
import type { Lists } from '../../../ports/repositories.js';
import { conversationEntity, memberEntity } from '../entities.js';
import { conversationIndexKeys, indexPartition, WAITING_SHARDS } from '../keys.js';
import { CONVERSATION_SORT_KEY, idOf, shardedPage, type QueryPlan } from '../sharded-query.js';
import type { Table } from '../table.js';

/** how many of the latest conversations are looked at for one that had a primary agent. */
const LAST_CONVERSATIONS = 5;

/** The lists of API.md, each served by an index (never a scan). */
export class DynamoLists implements Lists {
  constructor(private readonly table: Table) {}

  listConversations(org: string, filter: ConversationFilter, page: PageRequest): Promise<Page<Conversation>> {
    return this.conversationPage(org, conversationQueryPlan(org, filter), page);
  }

  listOpenItems(org: string, queueId: string, page: PageRequest): Promise<Page<Conversation>> {
    return this.conversationPage(
      org,
      { index: 'GSI1', groups: [[indexPartition.queueStatus(org, queueId, 'Open')]], filter: {} },
      page,
    );
  }

  listOpenItemsFor(
    org: string,
    queueId: string,
    requirements: readonly string[],
    page: PageRequest,
  ): Promise<Page<Conversation>> {
    return this.conversationPage(
      org,
      {
        index: 'GSI6',
        groups: [requirements.map((r) => indexPartition.openByRequirement(org, queueId, r))],
        filter: {},
      },
      page,
    );
  }

  async listWorkItems(org: string, agentId: string): Promise<Conversation[]> {
    const items = await this.table.queryIndex('GSI2', indexPartition.agentState(org, agentId, 'open'));
    return items.map(conversationEntity.from);
  }

  /**
   * the primary agent of the most recent earlier conversation of the customer (GSI5), or else of
   * the thread (GSI4), among its last few: one query of at most LAST_CONVERSATIONS items.
   */
  async lastPrimaryAgent(
    org: string,
    of: { customerId?: string | undefined; channelId: string; threadId: string },
  ): Promise<string | undefined> {
    const [index, pk] = of.customerId
      ? (['GSI5', indexPartition.customer(org, of.customerId)] as const)
      : (['GSI4', indexPartition.thread(org, of.channelId, of.threadId)] as const);
    const out = await this.table.doc.send(
      new QueryCommand({
        TableName: this.table.name,
        IndexName: index,
        KeyConditionExpression: '#pk = :pk',
        ExpressionAttributeNames: { '#pk': `${index}PK` },
        ExpressionAttributeValues: { ':pk': pk },
        ScanIndexForward: false,
        Limit: LAST_CONVERSATIONS,
      }),
    );
    const withAgent = (out.Items ?? []).find(
      (i) => i.type === 'conversation' && i.primaryAgentId && i.primaryKind !== 'external',
    );
    return withAgent ? String(withAgent.primaryAgentId) : undefined;
  }

  /** MX-1: when the queue's longest-waiting Open conversation entered it: one item from each shard */
  async oldestWaiting(org: string, queueId: string): Promise<string | undefined> {
    const firsts = await Promise.all(
      Array.from({ length: WAITING_SHARDS }, (_, shard) =>
        this.table.doc.send(
          new QueryCommand({
            TableName: this.table.name,
            IndexName: 'GSI2',
            KeyConditionExpression: 'GSI2PK = :pk',
            ExpressionAttributeValues: { ':pk': indexPartition.waiting(org, queueId, shard) },
            Limit: 1,
          }),
        ),
      ),
    );
    const since = firsts.flatMap((out) => (out.Items ?? []).map((i) => String(i.GSI2SK).split('#')[0] as string));
    return since.sort()[0];
  }

  /**
   * MX-3: how many Open conversations of its queue come before this one in Q-2 order, counted in the
   * queue's open-items index (GSI1) up to `limit` of them: one query, whatever the queue's size.
   */
  async countAhead(org: string, c: Conversation, limit: number): Promise<{ ahead: number; complete: boolean }> {
    const out = await this.table.doc.send(
      new QueryCommand({
        TableName: this.table.name,
        IndexName: 'GSI1',
        KeyConditionExpression: 'GSI1PK = :pk AND GSI1SK < :mine',
        ExpressionAttributeValues: {
          ':pk': indexPartition.queueStatus(org, c.queueId, 'Open'),
          ':mine': conversationIndexKeys(c).GSI1SK,
        },
        Select: 'COUNT',
        Limit: limit,
      }),
    );
    return { ahead: out.Count ?? 0, complete: !out.LastEvaluatedKey };
  }

  async listQueueMembers(org: string, queueId: string): Promise<string[]> {
    const items = await this.table.queryIndex('GSI3', indexPartition.queueMembers(org, queueId));
    return items.map(memberEntity.agentIdOf);
  }

  /** A page of conversations: the plan's groups one after the other, the shards of a group merged by sort key. */
  private async conversationPage(org: string, plan: QueryPlan, page: PageRequest): Promise<Page<Conversation>> {
    const out = await shardedPage(
      this.table,
      {
        ...plan,
        // S-6 needs no order across shards, but merging keeps each status oldest first for ~`limit` reads
        share: true,
        sortKey: CONVERSATION_SORT_KEY,
        tableKey: (sortKey) => conversationEntity.key(org, idOf(sortKey)),
      },
      page,
    );
    return {
      items: out.items.map(conversationEntity.from),
      ...(out.nextCursor ? { nextCursor: out.nextCursor } : {}),
    };
  }
}

/** Picks the index that narrows the most; the other filters become a FilterExpression (never a scan). */
export function conversationQueryPlan(org: string, f: ConversationFilter): QueryPlan {
  const statuses = f.status ? [f.status] : STATUS_ORDER;
  if (f.threadId) {
    if (!f.channelId)
      throw new ValidationError('threadId needs channelId', [
        { field: 'channelId', message: 'is required with threadId' },
      ]);
    return {
      index: 'GSI4',
      groups: [[indexPartition.thread(org, f.channelId, f.threadId)]],
      filter: { status: f.status, queueId: f.queueId, primaryAgentId: f.agentId } as QueryPlan['filter'],
    };
  }
  if (f.agentId) {
    const states = f.status ? [stateOf(f.status)] : (['open', 'closed'] as const);
    return {
      index: 'GSI2',
      groups: states.map((s) => [indexPartition.agentState(org, f.agentId as string, s)]),
      filter: { status: f.status, queueId: f.queueId, channelId: f.channelId },
    };
  }
  if (f.queueId) {
    return {
      index: 'GSI1',
      groups: statuses.map((s) => [indexPartition.queueStatus(org, f.queueId as string, s)]),
      filter: { channelId: f.channelId },
    };
  }
  return {
    index: 'GSI3',
    // SC-1: each status is STATUS_SHARDS partitions, merged back into one list per status
    groups: statuses.map((s) => indexPartition.statusShards(org, s)),
    filter: { channelId: f.channelId },
  };
}
