import type { AttributeValue } from '@aws-sdk/client-dynamodb';
import {
  GetCommand,
  PutCommand,
  QueryCommand,
  TransactWriteCommand,
  type DynamoDBDocumentClient,
  type QueryCommandInput,
} from '@aws-sdk/lib-dynamodb';
import { unmarshall } from '@aws-sdk/util-dynamodb';
import type { Agent, Channel, Conversation, HistoryEvent, Pool, Workstream } from '../../domain/model.js';
import type { Write } from '../../domain/writes.js';
import {
  CommitConflict,
  type AllocationRecord,
  type ConversationStore,
  type QueueConfig,
  type WriteFailure,
} from '../../ports/conversation-store.js';
import { stripStorage } from './items.js';
import { keys } from './keys.js';
import { buildTransaction } from './transact.js';

interface CancellationReason {
  Code?: string;
  Item?: Record<string, AttributeValue>;
}

const toPlain = (item: Record<string, AttributeValue> | undefined): Record<string, unknown> | undefined => {
  if (!item) return undefined;
  try {
    return unmarshall(item);
  } catch {
    return item as Record<string, unknown>;
  }
};

export class DynamoConversationStore implements ConversationStore {
  constructor(
    private readonly doc: DynamoDBDocumentClient,
    readonly tableName: string,
  ) {}

  private async get<T>(key: { PK: string; SK: string }): Promise<T | undefined> {
    const out = await this.doc.send(new GetCommand({ TableName: this.tableName, Key: key, ConsistentRead: true }));
    return out.Item ? stripStorage<T>(out.Item) : undefined;
  }

  /** Reads every page of a query: used only for bounded collections (one agent, one conversation). */
  private async queryAll(input: Omit<QueryCommandInput, 'TableName'>): Promise<Record<string, unknown>[]> {
    const items: Record<string, unknown>[] = [];
    let start: Record<string, unknown> | undefined;
    do {
      const out = await this.doc.send(new QueryCommand({ TableName: this.tableName, ...input, ExclusiveStartKey: start }));
      items.push(...(out.Items ?? []));
      start = out.LastEvaluatedKey;
    } while (start);
    return items;
  }

  getConversation(org: string, id: string): Promise<Conversation | undefined> {
    return this.get<Conversation>(keys.conversation(org, id));
  }

  getWorkstream(org: string, id: string): Promise<Workstream | undefined> {
    return this.get<Workstream>(keys.workstream(org, id));
  }

  getChannel(org: string, id: string): Promise<Channel | undefined> {
    return this.get<Channel>(keys.channel(org, id));
  }

  getQueue(org: string, id: string): Promise<QueueConfig | undefined> {
    return this.get<QueueConfig>(keys.queue(org, id));
  }

  async getAgent(org: string, id: string): Promise<Agent | undefined> {
    const items = await this.queryAll({
      KeyConditionExpression: 'PK = :pk AND begins_with(SK, :prefix)',
      ExpressionAttributeValues: { ':pk': keys.agent(org, id).PK, ':prefix': keys.agentPrefix },
      ConsistentRead: true,
    });
    const profile = items.find((i) => i.SK === 'AGENT');
    if (!profile) return undefined;
    const pools: Record<string, Pool> = {};
    for (const i of items) {
      if (i.SK === 'AGENT') continue;
      const name = String(i.pool);
      pools[name] = { name, max: Number(i.max), used: Number(i.used) };
    }
    const { pools: _ignored, ...rest } = stripStorage<Agent>(profile);
    return { ...rest, pools };
  }

  async getThreadConversationId(org: string, channelId: string, threadId: string): Promise<string | undefined> {
    const t = await this.get<{ conversationId: string }>(keys.thread(org, channelId, threadId));
    return t?.conversationId;
  }

  async listEvents(org: string, conversationId: string): Promise<HistoryEvent[]> {
    const items = await this.queryAll({
      KeyConditionExpression: 'PK = :pk AND begins_with(SK, :prefix)',
      ExpressionAttributeValues: { ':pk': keys.conversation(org, conversationId).PK, ':prefix': keys.eventPrefix },
      ConsistentRead: true,
    });
    return items.map((i) => stripStorage<HistoryEvent>(i));
  }

  async listAllocations(org: string, agentId: string): Promise<AllocationRecord[]> {
    const items = await this.queryAll({
      KeyConditionExpression: 'PK = :pk AND begins_with(SK, :prefix)',
      ExpressionAttributeValues: { ':pk': keys.agent(org, agentId).PK, ':prefix': keys.allocationPrefix },
      ConsistentRead: true,
    });
    return items.map((i) => stripStorage<AllocationRecord>(i));
  }

  async commit(writes: readonly Write[], options: { idempotencyToken?: string } = {}): Promise<void> {
    try {
      await this.doc.send(new TransactWriteCommand(buildTransaction(this.tableName, writes, options.idempotencyToken)));
    } catch (err) {
      const name = (err as { name?: string }).name;
      if (name === 'TransactionCanceledException') {
        const reasons = ((err as { CancellationReasons?: CancellationReason[] }).CancellationReasons ?? []) as CancellationReason[];
        const failures: WriteFailure[] = [];
        reasons.forEach((r, i) => {
          const write = writes[i];
          if (!write || !r.Code || r.Code === 'None') return;
          const current = toPlain(r.Item);
          failures.push({ write, code: r.Code, ...(current ? { current } : {}) });
        });
        throw new CommitConflict(failures, { cause: err });
      }
      if (name === 'IdempotentParameterMismatchException' || name === 'TransactionInProgressException' || name === 'TransactionConflictException') {
        throw new CommitConflict([], { cause: err });
      }
      throw err;
    }
  }

  async putWorkstream(ws: Workstream): Promise<void> {
    await this.doc.send(new PutCommand({ TableName: this.tableName, Item: { ...keys.workstream(ws.org, ws.id), type: 'workstream', ...ws } }));
  }

  async putQueue(q: QueueConfig): Promise<void> {
    await this.doc.send(new PutCommand({ TableName: this.tableName, Item: { ...keys.queue(q.org, q.id), type: 'queue', ...q } }));
  }

  async putChannel(ch: Channel & { secret?: string }): Promise<void> {
    await this.doc.send(new PutCommand({ TableName: this.tableName, Item: { ...keys.channel(ch.org, ch.id), type: 'channel', ...ch } }));
  }

  /**
   * The profile and every pool in one transaction. A pool's maximum changes without touching `used`
   * (that belongs to the allocations, RL-3); `free` is recomputed from the stored `used`. A pool
   * dropped from the configuration keeps its live allocations and gets a maximum of 0.
   */
  async putAgent(agent: Omit<Agent, 'pools'> & { capacity: Record<string, number> }): Promise<void> {
    const { capacity, ...profile } = agent;
    const existing = await this.getAgent(agent.org, agent.id);
    const maxima: Record<string, number> = { ...Object.fromEntries(Object.keys(existing?.pools ?? {}).map((p) => [p, 0])), ...capacity };
    await this.doc.send(
      new TransactWriteCommand({
        TransactItems: [
          { Put: { TableName: this.tableName, Item: { ...keys.agent(agent.org, agent.id), type: 'agent', ...profile } } },
          ...Object.entries(maxima).map(([pool, max]) => ({
            Update: {
              TableName: this.tableName,
              Key: keys.pool(agent.org, agent.id, pool),
              UpdateExpression: 'SET #type = :type, #org = :org, #agentId = :agentId, #pool = :pool, #max = :max, #used = if_not_exists(#used, :zero), #free = :max - if_not_exists(#used, :zero)',
              ExpressionAttributeNames: { '#type': 'type', '#org': 'org', '#agentId': 'agentId', '#pool': 'pool', '#max': 'max', '#used': 'used', '#free': 'free' },
              ExpressionAttributeValues: { ':type': 'pool', ':org': agent.org, ':agentId': agent.id, ':pool': pool, ':max': max, ':zero': 0 },
            },
          })),
        ],
      }),
    );
  }
}
