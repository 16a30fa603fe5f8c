import type { AttributeValue } from '@aws-sdk/client-dynamodb';
import {
  BatchGetCommand,
  type BatchGetCommandOutput,
  BatchWriteCommand,
  DeleteCommand,
  GetCommand,
  PutCommand,
  QueryCommand,
  TransactWriteCommand,
  UpdateCommand,
  type DynamoDBDocumentClient,
  type QueryCommandInput,
} from '@aws-sdk/lib-dynamodb';
import { unmarshall } from '@aws-sdk/util-dynamodb';
import { setTimeout as sleep } from 'node:timers/promises';
import { ulid } from 'ulid';
import { ConflictError, NotFoundError, ValidationError } from '../../domain/errors.js';
import { routableFree } from '../../domain/presence.js';
import {
  DEFAULT_SETTINGS,
  stateOf,
  type Agent,
  type Channel,
  type Contact,
  type Conversation,
  type HistoryEvent,
  type OrgSettings,
  type Pool,
  type Workstream,
} from '../../domain/model.js';
import type { Write } from '../../domain/writes.js';
import {
  CommitConflict,
  type ActionReadRequest,
  type ActionReadResult,
  type EventReadRequest,
  type EventReadResult,
  type Versioned,
  type AgentConfig,
  type AgentStatePatch,
  type AllocationRecord,
  type ConversationStore,
  type QueueConfig,
  type StoredReceipt,
  type WriteFailure,
} from '../../ports/conversation-store.js';
import {
  STATUS_ORDER,
  type ChannelRegistration,
  type ConversationFilter,
  type Page,
  type PageRequest,
  type ReadStore,
} from '../../ports/read-store.js';
import { stripStorage } from './items.js';
import type { DueTimer, TimerStore } from '../../ports/timer-store.js';
import type { Trigger } from '../../domain/triggers.js';
import type { Note } from '../../ports/read-store.js';
import {
  availabilityBound,
  availabilityIndexKeys,
  availabilityShards,
  indexPartition,
  keys,
  memberIndexKeys,
  type Key,
  TIMER_SHARDS,
  timerPartition,
} from './keys.js';
import { decodeCursor, encodeCursor, listId, mergeShards, startOf, type CursorShape } from './sharded-pages.js';
import { TABLE_DEFINITION, type IndexDefinition, type IndexName } from './table-definition.js';
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

export class DynamoConversationStore implements ConversationStore, ReadStore, TimerStore {
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
      const out = await this.doc.send(
        new QueryCommand({ TableName: this.tableName, ...input, ExclusiveStartKey: start }),
      );
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
    return { ...stripStorage<Omit<Agent, 'pools'>>(profile), pools };
  }

  /**
   * Everything an action decides on, in ONE BatchGetItem (consistent reads): the conversation, the
   * acting and target agents with the pools asked for, an Idempotency-Key receipt, and the org
   * settings when they are not cached. Unprocessed keys are asked again (DynamoDB's own contract).
   */
  async readActionState(org: string, req: ActionReadRequest): Promise<ActionReadResult> {
    const wanted: Key[] = [keys.conversation(org, req.conversationId)];
    for (const a of req.agents) {
      wanted.push(keys.agent(org, a.id), ...a.pools.map((p) => keys.pool(org, a.id, p)));
    }
    if (req.receiptKey) wanted.push(keys.receipt(org, req.receiptKey));
    if (req.settings) wanted.push(keys.settings(org));
    const unique = [...new Map(wanted.map((k) => [`${k.PK}\u0000${k.SK}`, k])).values()];
    const items = await this.batchGet(unique);
    const byKey = new Map(items.map((i) => [`${String(i.PK)}\u0000${String(i.SK)}`, i]));
    const at = (k: Key): Record<string, unknown> | undefined => byKey.get(`${k.PK}\u0000${k.SK}`);
    const agents: Record<string, Agent | undefined> = {};
    for (const a of req.agents) {
      const profile = at(keys.agent(org, a.id));
      if (!profile) continue;
      const pools: Record<string, Pool> = {};
      for (const name of a.pools) {
        const i = at(keys.pool(org, a.id, name));
        if (i) pools[name] = { name, max: Number(i.max), used: Number(i.used) };
      }
      agents[a.id] = { ...stripStorage<Omit<Agent, 'pools'>>(profile), pools };
    }
    const conversation = at(keys.conversation(org, req.conversationId));
    const receipt = req.receiptKey ? at(keys.receipt(org, req.receiptKey)) : undefined;
    return {
      ...(conversation ? { conversation: stripStorage<Conversation>(conversation) } : {}),
      agents,
      ...(receipt ? { receipt: stripStorage<StoredReceipt>(receipt) } : {}),
      ...(req.settings ? { settings: versionedSettings(org, at(keys.settings(org))) } : {}),
    };
  }

  private async batchGet(wanted: readonly Key[]): Promise<Record<string, unknown>[]> {
    const out: Record<string, unknown>[] = [];
    for (let i = 0; i < wanted.length; i += 100) {
      let pending: Record<string, unknown>[] | undefined = wanted.slice(i, i + 100) as unknown as Record<
        string,
        unknown
      >[];
      for (let round = 0; pending?.length; round++) {
        if (round > 0) await sleep(Math.min(500, 20 * 2 ** round));
        const res: BatchGetCommandOutput = await this.doc.send(
          new BatchGetCommand({ RequestItems: { [this.tableName]: { Keys: pending, ConsistentRead: true } } }),
        );
        out.push(...(res.Responses?.[this.tableName] ?? []));
        pending = res.UnprocessedKeys?.[this.tableName]?.Keys;
      }
    }
    return out;
  }

  /**
   * What a channel event is decided on, in ONE BatchGetItem: its receipt (RL-1), the thread's current
   * conversation id, and the channel and settings when they are not cached.
   */
  async readEventState(org: string, req: EventReadRequest): Promise<EventReadResult> {
    const wanted: Key[] = [keys.receipt(org, req.receiptKey), keys.thread(org, req.channelId, req.threadId)];
    if (req.channel) wanted.push(keys.channel(org, req.channelId));
    if (req.settings) wanted.push(keys.settings(org));
    const items = await this.batchGet(wanted);
    const at = (k: Key): Record<string, unknown> | undefined => items.find((i) => i.PK === k.PK && i.SK === k.SK);
    const thread = at(keys.thread(org, req.channelId, req.threadId));
    const channel = req.channel ? at(keys.channel(org, req.channelId)) : undefined;
    return {
      duplicate: at(keys.receipt(org, req.receiptKey)) !== undefined,
      ...(thread ? { threadConversationId: String(thread.conversationId) } : {}),
      ...(channel
        ? { channel: { value: stripStorage<Channel>(channel), version: String(channel.configVersion ?? '') } }
        : {}),
      ...(req.settings ? { settings: versionedSettings(org, at(keys.settings(org))) } : {}),
    };
  }

  /** The workstream with its configVersion, for the config cache. */
  async getWorkstreamVersioned(org: string, id: string): Promise<Versioned<Workstream> | undefined> {
    const out = await this.doc.send(
      new GetCommand({ TableName: this.tableName, Key: keys.workstream(org, id), ConsistentRead: true }),
    );
    if (!out.Item) return undefined;
    return { value: stripStorage<Workstream>(out.Item), version: String(out.Item.configVersion ?? '') };
  }

  /** The org settings (defaults when never set) with their configVersion, for the config cache. */
  async getSettingsVersioned(org: string): Promise<Versioned<OrgSettings>> {
    const out = await this.doc.send(
      new GetCommand({ TableName: this.tableName, Key: keys.settings(org), ConsistentRead: true }),
    );
    return versionedSettings(org, out.Item);
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

  async commit(writes: readonly Write[]): Promise<void> {
    try {
      await this.doc.send(new TransactWriteCommand(buildTransaction(this.tableName, writes)));
    } catch (err) {
      const name = (err as { name?: string }).name;
      if (name === 'TransactionCanceledException') {
        const reasons = ((err as { CancellationReasons?: CancellationReason[] }).CancellationReasons ??
          []) as CancellationReason[];
        const failures: WriteFailure[] = [];
        reasons.forEach((r, i) => {
          const write = writes[i];
          if (!write || !r.Code || r.Code === 'None') return;
          const current = toPlain(r.Item);
          failures.push({ write, code: r.Code, ...(current ? { current } : {}) });
        });
        throw new CommitConflict(failures, { cause: err });
      }
      if (
        name === 'IdempotentParameterMismatchException' ||
        name === 'TransactionInProgressException' ||
        name === 'TransactionConflictException'
      ) {
        throw new CommitConflict([], { cause: err });
      }
      throw err;
    }
  }

  async putWorkstream(ws: Workstream): Promise<void> {
    await this.doc.send(
      new PutCommand({
        TableName: this.tableName,
        // a new configVersion on every write: cached copies decided on the old one fail their check
        Item: { ...keys.workstream(ws.org, ws.id), type: 'workstream', ...ws, configVersion: ulid() },
      }),
    );
  }

  async putQueue(q: QueueConfig): Promise<void> {
    await this.doc.send(
      new UpdateCommand({
        TableName: this.tableName,
        Key: keys.queue(q.org, q.id),
        UpdateExpression: 'SET #type = :type, #org = :org, #id = :id, #name = :name',
        ExpressionAttributeNames: { '#type': 'type', '#org': 'org', '#id': 'id', '#name': 'name' },
        ExpressionAttributeValues: { ':type': 'queue', ':org': q.org, ':id': q.id, ':name': q.name },
      }),
    );
  }

  async putChannel(ch: Channel, secret: string): Promise<void> {
    try {
      await this.doc.send(
        new TransactWriteCommand({
          TransactItems: [
            {
              Put: {
                TableName: this.tableName,
                Item: { ...keys.channel(ch.org, ch.id), type: 'channel', ...ch, configVersion: ulid() },
              },
            },
            {
              Put: {
                TableName: this.tableName,
                Item: {
                  ...keys.channelRegistration(ch.id),
                  type: 'channel-registration',
                  org: ch.org,
                  channelId: ch.id,
                  secret,
                },
                ConditionExpression: 'attribute_not_exists(PK) OR #org = :org',
                ExpressionAttributeNames: { '#org': 'org' },
                ExpressionAttributeValues: { ':org': ch.org },
              },
            },
          ],
        }),
      );
    } catch (err) {
      if ((err as { name?: string }).name === 'TransactionCanceledException') {
        throw new ConflictError(`channel id ${ch.id} is already registered by another organization`, { cause: err });
      }
      throw err;
    }
  }

  async putAgent(agent: AgentConfig): Promise<void> {
    const { capacity, org, id } = agent;
    const existing = await this.getAgent(org, id);
    const maxima: Record<string, number> = {
      ...Object.fromEntries(Object.keys(existing?.pools ?? {}).map((p) => [p, 0])),
      ...capacity,
    };
    const dropped = (existing?.queues ?? []).filter((q) => !agent.queues.includes(q));
    await this.doc.send(
      new TransactWriteCommand({
        TransactItems: [
          agentProfileUpdate(this.tableName, agent),
          ...Object.entries(maxima).map(([pool, max]) => poolMaximumUpdate(this.tableName, org, id, pool, max)),
          ...agent.queues.map((queueId) => membershipPut(this.tableName, org, queueId, id)),
          ...dropped.map((queueId) => ({ Delete: { TableName: this.tableName, Key: keys.member(org, queueId, id) } })),
        ],
      }),
    );
    // Leaving a queue removes the agent's availability there; the rest is recomputed.
    const deletes = dropped.flatMap((q) => Object.keys(maxima).map((pool) => keys.availability(org, q, pool, id)));
    for (let i = 0; i < deletes.length; i += 25) {
      await this.doc.send(
        new BatchWriteCommand({
          RequestItems: { [this.tableName]: deletes.slice(i, i + 25).map((Key) => ({ DeleteRequest: { Key } })) },
        }),
      );
    }
    // the rest of the index follows from the committed agent and pool changes (the stream)
  }

  /**
   * Rewrites the agent's availability entries (GSI5) from a consistent read of the agent and pools.
   * Called after every change to an agent's capacity or presence. The index is a candidate list:
   * an offer re-checks the agent and commits with its own conditions, so a stale entry can cost a
   * retry, never a wrong assignment; and each refresh heals it.
   */
  async refreshAvailability(org: string, agentId: string, now: Date, known?: Agent): Promise<void> {
    const settings = await this.getSettings(org);
    let agent = known ?? (await this.getAgent(org, agentId));
    // A refresh that read the agent before a concurrent change could overwrite a newer refresh with
    // stale entries. So each refresh reads again after writing and writes again until what it wrote
    // is what is committed: the last refresh to finish always leaves the latest state (bounded).
    for (let round = 0; agent && round < 5; round++) {
      const written = availabilitySignature(agent, settings, now);
      await this.writeAvailability(org, agent, settings, now);
      const after = await this.getAgent(org, agentId);
      if (!after || availabilitySignature(after, settings, now) === written) return;
      agent = after;
    }
  }

  private async writeAvailability(org: string, agent: Agent, settings: OrgSettings, now: Date): Promise<void> {
    const routable = routableFree(agent, settings, now);
    const idle = agent.idleSince ?? '0000-00-00T00:00:00.000Z';
    const puts = agent.queues.flatMap((queueId) =>
      Object.keys(agent.pools).map((pool) => {
        const free = routable?.free[pool] ?? 0;
        return {
          PutRequest: {
            Item: {
              ...keys.availability(org, queueId, pool, agent.id),
              type: 'availability',
              org,
              queueId,
              pool,
              agentId: agent.id,
              free,
              ...(routable && free > 0 ? availabilityIndexKeys(org, queueId, pool, agent.id, free, idle) : {}),
            },
          },
        };
      }),
    );
    for (let i = 0; i < puts.length; i += 25) {
      await this.doc.send(new BatchWriteCommand({ RequestItems: { [this.tableName]: puts.slice(i, i + 25) } }));
    }
  }

  /**
   * routable agents of a queue with at least `units` free in the pool, most remaining first, then
   * idle longest, then agent id: the top `limit` entries of every availability shard, read in parallel
   * and merged by that order. `after` is the `next` of the previous page.
   */
  async availableAgents(
    org: string,
    queueId: string,
    pool: string,
    units: number,
    limit: number,
    after?: string,
  ): Promise<{ agents: { agentId: string; free: number }[]; next?: string }> {
    const page = await this.shardedPage(
      {
        index: 'GSI5',
        groups: [availabilityShards(org, queueId, pool)],
        filter: {},
        below: availabilityBound(units),
        share: false,
        sortKey: AVAILABILITY_SORT_KEY,
        tableKey: (sortKey) => keys.availability(org, queueId, pool, idOf(sortKey)),
      },
      { limit, ...(after !== undefined ? { cursor: after } : {}) },
    );
    return {
      agents: page.items.map((i) => ({ agentId: String(i.agentId), free: Number(i.free) })),
      ...(page.nextCursor ? { next: page.nextCursor } : {}),
    };
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
      await this.doc.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: keys.agent(org, id),
          UpdateExpression: [
            set.length ? `SET ${set.join(', ')}` : '',
            remove.length ? `REMOVE ${remove.join(', ')}` : '',
          ]
            .join(' ')
            .trim(),
          ConditionExpression: 'attribute_exists(PK)',
          ExpressionAttributeNames: names,
          ...(Object.keys(values).length ? { ExpressionAttributeValues: values } : {}),
        }),
      );
    } catch (err) {
      if ((err as { name?: string }).name === 'ConditionalCheckFailedException') throw new NotFoundError('agent', id);
      throw err;
    }
  }

  /** The org's agent ids (GSI3 partition of agent profiles): for org-wide refreshes only, never per decision. */
  async listAgentIds(org: string): Promise<string[]> {
    const items = await this.queryAll({
      IndexName: 'GSI3',
      KeyConditionExpression: 'GSI3PK = :pk',
      ExpressionAttributeValues: { ':pk': indexPartition.agents(org) },
    });
    return items.map((i) => String(i.id));
  }

  // ---- triggers (M-3) and internal notes (E-3) ----

  async listTriggers(org: string): Promise<Trigger[]> {
    return (await this.listTriggersVersioned(org)).value;
  }

  /** The org's triggers with the version of the list (its VERSION item), read consistently. */
  async listTriggersVersioned(org: string): Promise<Versioned<Trigger[]>> {
    const items = await this.queryAll({
      KeyConditionExpression: 'PK = :pk',
      ExpressionAttributeValues: { ':pk': keys.triggersPartition(org) },
      ConsistentRead: true,
    });
    const version = items.find((i) => i.SK === keys.triggersVersion(org).SK);
    return {
      value: items.filter((i) => i.type === 'trigger').map((i) => stripStorage<Trigger>(i)),
      version: String(version?.configVersion ?? ''),
    };
  }

  /** The trigger and a new version of the org's list, together (decisions on a cached list fail their check). */
  async putTrigger(t: Trigger): Promise<void> {
    const version = { ...keys.triggersVersion(t.org), type: 'triggers-version', org: t.org, configVersion: ulid() };
    await this.doc.send(
      new TransactWriteCommand({
        TransactItems: [
          { Put: { TableName: this.tableName, Item: { ...keys.trigger(t.org, t.id), type: 'trigger', ...t } } },
          { Put: { TableName: this.tableName, Item: version } },
        ],
      }),
    );
  }

  async addNote(note: Note): Promise<void> {
    await this.doc.send(
      new PutCommand({
        TableName: this.tableName,
        Item: { ...keys.note(note.org, note.conversationId, note.id), type: 'note', ...note },
        ConditionExpression: 'attribute_not_exists(PK)',
      }),
    );
  }

  async listNotes(org: string, conversationId: string): Promise<Note[]> {
    const items = await this.queryAll({
      KeyConditionExpression: 'PK = :pk AND begins_with(SK, :prefix)',
      ExpressionAttributeValues: { ':pk': keys.conversation(org, conversationId).PK, ':prefix': keys.notePrefix },
    });
    return items.map((i) => stripStorage<Note>(i));
  }

  // ---- the timer outbox (TimerStore) ----

  async listDueTimers(until: Date, limit: number): Promise<DueTimer[]> {
    const upper = `${until.toISOString()}$`; // '$' sorts after '#', so everything due at `until` is included
    const shards = await Promise.all(
      Array.from({ length: TIMER_SHARDS }, (_, shard) =>
        this.doc.send(
          new QueryCommand({
            TableName: this.tableName,
            IndexName: 'GSI3',
            KeyConditionExpression: 'GSI3PK = :pk AND GSI3SK < :upper',
            ExpressionAttributeValues: { ':pk': timerPartition(shard), ':upper': upper },
            Limit: limit,
          }),
        ),
      ),
    );
    return shards
      .flatMap((out) => out.Items ?? [])
      .map((i) => stripStorage<DueTimer>(i))
      .sort((a, b) => a.at.localeCompare(b.at))
      .slice(0, limit);
  }

  getTimer(org: string, name: string): Promise<DueTimer | undefined> {
    return this.get<DueTimer>(keys.timer(org, name));
  }

  async deleteTimer(org: string, name: string): Promise<void> {
    await this.doc.send(new DeleteCommand({ TableName: this.tableName, Key: keys.timer(org, name) }));
  }

  // ---- reads served by indexes (ReadStore) ----

  async listConversations(org: string, filter: ConversationFilter, page: PageRequest): Promise<Page<Conversation>> {
    return this.conversationPage(org, conversationQueryPlan(org, filter), page);
  }

  listOpenItems(org: string, queueId: string, page: PageRequest): Promise<Page<Conversation>> {
    return this.conversationPage(
      org,
      { index: 'GSI1', groups: [[indexPartition.queueStatus(org, queueId, 'Open')]], filter: {} },
      page,
    );
  }

  async listWorkItems(org: string, agentId: string): Promise<Conversation[]> {
    const items = await this.queryAll({
      IndexName: 'GSI2',
      KeyConditionExpression: 'GSI2PK = :pk',
      ExpressionAttributeValues: { ':pk': indexPartition.agentState(org, agentId, 'open') },
    });
    return items.map((i) => stripStorage<Conversation>(i));
  }

  async listQueueMembers(org: string, queueId: string): Promise<string[]> {
    const items = await this.queryAll({
      IndexName: 'GSI3',
      KeyConditionExpression: 'GSI3PK = :pk',
      ExpressionAttributeValues: { ':pk': indexPartition.queueMembers(org, queueId) },
    });
    return items.map((i) => String(i.agentId));
  }

  async getSettings(org: string): Promise<OrgSettings> {
    return (await this.get<OrgSettings>(keys.settings(org))) ?? { org, ...DEFAULT_SETTINGS };
  }

  async putSettings(settings: OrgSettings): Promise<void> {
    await this.doc.send(
      new PutCommand({
        TableName: this.tableName,
        Item: { ...keys.settings(settings.org), type: 'settings', ...settings, configVersion: ulid() },
      }),
    );
  }

  /** The contact and its identification lookups in one transaction; lookups of old values go. */
  async putContact(contact: Contact, lookups: { phone?: string; email?: string }): Promise<void> {
    const before = await this.get<Contact & { lookups?: { phone?: string; email?: string } }>(
      keys.contact(contact.org, contact.id),
    );
    const old = before?.lookups ?? {};
    const items: NonNullable<ConstructorParameters<typeof TransactWriteCommand>[0]['TransactItems']> = [
      {
        Put: {
          TableName: this.tableName,
          Item: { ...keys.contact(contact.org, contact.id), type: 'contact', ...contact, lookups },
        },
      },
    ];
    for (const field of ['phone', 'email'] as const) {
      const prev = old[field];
      const next = lookups[field];
      if (prev && prev !== next)
        items.push({ Delete: { TableName: this.tableName, Key: keys.lookup(contact.org, field, prev, contact.id) } });
      if (next) {
        items.push({
          Put: {
            TableName: this.tableName,
            Item: {
              ...keys.lookup(contact.org, field, next, contact.id),
              type: 'lookup',
              org: contact.org,
              contactId: contact.id,
              kind: contact.kind,
            },
          },
        });
      }
    }
    await this.doc.send(new TransactWriteCommand({ TransactItems: items }));
  }

  /** the contacts and accounts whose normalized phone or email is `value` (a key read, not a scan). */
  async findContacts(
    org: string,
    field: 'phone' | 'email',
    value: string,
  ): Promise<{ id: string; kind: 'contact' | 'account' }[]> {
    const items = await this.queryAll({
      KeyConditionExpression: 'PK = :pk',
      ExpressionAttributeValues: { ':pk': keys.lookupPartition(org, field, value) },
    });
    return items.map((i) => ({ id: String(i.contactId), kind: i.kind === 'account' ? 'account' : 'contact' }));
  }

  async getContact(org: string, id: string): Promise<Contact | undefined> {
    const c = await this.get<Contact & { lookups?: unknown }>(keys.contact(org, id));
    if (!c) return undefined;
    const { lookups: _lookups, ...contact } = c;
    return contact;
  }

  getChannelRegistration(channelId: string): Promise<ChannelRegistration | undefined> {
    return this.get<ChannelRegistration>(keys.channelRegistration(channelId));
  }

  getReceipt(org: string, key: string): Promise<StoredReceipt | undefined> {
    return this.get<StoredReceipt>(keys.receipt(org, key));
  }

  async hasReceipt(org: string, key: string): Promise<boolean> {
    return (await this.get(keys.receipt(org, key))) !== undefined;
  }

  /** A page of conversations: the plan's groups one after the other, the shards of a group merged by sort key. */
  private async conversationPage(org: string, plan: QueryPlan, page: PageRequest): Promise<Page<Conversation>> {
    const out = await this.shardedPage(
      {
        ...plan,
        // S-6 needs no order across shards, but merging keeps each status oldest first for ~`limit` reads
        share: true,
        sortKey: CONVERSATION_SORT_KEY,
        tableKey: (sortKey) => keys.conversation(org, idOf(sortKey)),
      },
      page,
    );
    return {
      items: out.items.map((i) => stripStorage<Conversation>(i)),
      ...(out.nextCursor ? { nextCursor: out.nextCursor } : {}),
    };
  }

  /**
   * Reads one page of a list whose partitions are in groups (read one group after the other) of
   * shards (read in parallel, merged by the index's sort key; see sharded-pages.ts). The cursor is
   * opaque to clients: the list's id, the group and each shard's sort-key position. Keys are rebuilt
   * from the list's own partitions and the caller's org, never taken from the cursor (RL-6), and a
   * cursor of another list, org or shape is 400 `invalid cursor`. At most MAX_ROUNDS rounds of
   * queries per page (a filter can leave shards empty): a short page then carries a cursor.
   */
  private async shardedPage(
    list: ShardedList,
    page: PageRequest,
  ): Promise<{ items: Record<string, unknown>[]; nextCursor?: string }> {
    const gsi = TABLE_DEFINITION.globalSecondaryIndexes.find((g) => g.indexName === list.index) as IndexDefinition;
    const shape: CursorShape = {
      list: listId([list.index, list.groups, list.filter, list.below ?? null]),
      groups: list.groups.map((g) => g.length),
      sortKey: (s) => list.sortKey.test(s) && (list.below === undefined || s < list.below),
    };
    let { g, s } = decodeCursor(page.cursor, shape);
    const items: Record<string, unknown>[] = [];
    let rounds = MAX_ROUNDS;
    for (;;) {
      const partitions = list.groups[g] as string[];
      const merged = await mergeShards(
        s,
        page.limit - items.length,
        (i: Record<string, unknown>) => String(i[gsi.sortKey]),
        (shard, after, limit) => this.queryShard(gsi, list, partitions[shard] as string, after, limit),
        { share: list.share, rounds },
      );
      items.push(...merged.items);
      rounds -= merged.rounds;
      if (!merged.positions.every((p) => p === true)) {
        return { items, nextCursor: encodeCursor(shape, { g, s: merged.positions }) };
      }
      g += 1;
      if (g >= list.groups.length) return { items };
      s = startOf(shape, g).s;
      if (items.length >= page.limit || rounds <= 0) return { items, nextCursor: encodeCursor(shape, { g, s }) };
    }
  }

  /** One query of one shard, from just after `after` (a sort key of that shard's list). */
  private async queryShard(
    gsi: IndexDefinition,
    list: ShardedList,
    partition: string,
    after: string | undefined,
    limit: number,
  ): Promise<{ items: Record<string, unknown>[]; last?: string }> {
    const names: Record<string, string> = { '#pk': gsi.partitionKey };
    const values: Record<string, unknown> = { ':pk': partition };
    let keyCondition = '#pk = :pk';
    if (list.below !== undefined) {
      names['#sk'] = gsi.sortKey;
      values[':below'] = list.below;
      keyCondition += ' AND #sk < :below';
    }
    const conditions: string[] = [];
    for (const [field, value] of Object.entries(list.filter)) {
      if (value === undefined) continue;
      names[`#f_${field}`] = field;
      values[`:f_${field}`] = value;
      conditions.push(`#f_${field} = :f_${field}`);
    }
    const out = await this.doc.send(
      new QueryCommand({
        TableName: this.tableName,
        IndexName: list.index,
        KeyConditionExpression: keyCondition,
        ...(conditions.length ? { FilterExpression: conditions.join(' AND ') } : {}),
        ExpressionAttributeNames: names,
        ExpressionAttributeValues: values,
        Limit: limit,
        ...(after !== undefined
          ? { ExclusiveStartKey: { ...list.tableKey(after), [gsi.partitionKey]: partition, [gsi.sortKey]: after } }
          : {}),
      }),
    );
    const last = out.LastEvaluatedKey?.[gsi.sortKey];
    return { items: out.Items ?? [], ...(last !== undefined ? { last: String(last) } : {}) };
  }
}

/** Query rounds per page at most (a round asks every unfinished shard of the group once, in parallel). */
const MAX_ROUNDS = 8;

/**
 * Sort keys of the conversation indexes, `<time>#<conversation id>`, and of the availability index,
 * `<inverted free>#<idle since>#<agent id>`. A cursor position must have this shape: the item's key
 * is rebuilt from its id (and the caller's org), so nothing else of the cursor reaches a key.
 */
const CONVERSATION_SORT_KEY = /^[^#\s]{1,40}#[A-Za-z0-9_-]{1,64}$/;
const AVAILABILITY_SORT_KEY = /^\d{6}#[^#\s]{1,40}#[A-Za-z0-9_-]{1,64}$/;
/** the id a sort key ends with (ids never hold `#`) */
const idOf = (sortKey: string): string => sortKey.slice(sortKey.lastIndexOf('#') + 1);

/** A list the store pages: the plan, plus how its sort keys look and which item each stands for. */
interface ShardedList extends QueryPlan {
  /** exclusive upper bound on the sort key (the availability index's `units`) */
  below?: string;
  share: boolean;
  sortKey: RegExp;
  tableKey: (sortKey: string) => Key;
}

/** What an agent's availability entries are made of: equal signatures, equal entries. */
function availabilitySignature(agent: Agent, settings: OrgSettings, now: Date): string {
  const routable = routableFree(agent, settings, now);
  return JSON.stringify([
    agent.queues,
    Object.keys(agent.pools).sort(),
    routable?.free ?? null,
    routable ? (agent.idleSince ?? '') : null,
  ]);
}

interface QueryPlan {
  index: IndexName;
  /** read one group after the other; the partitions of a group are shards of one list, merged by sort key */
  groups: string[][];
  /** equality filters on attributes the index key does not cover */
  filter: Partial<Record<keyof ConversationFilter, string>>;
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

function versionedSettings(org: string, item: Record<string, unknown> | undefined): Versioned<OrgSettings> {
  if (!item) return { value: { org, ...DEFAULT_SETTINGS }, version: '' };
  return { value: stripStorage<OrgSettings>(item), version: String(item.configVersion ?? '') };
}

type TransactItems = NonNullable<ConstructorParameters<typeof TransactWriteCommand>[0]['TransactItems']>;

/** The agent's configuration; presence, connection and counters are left as they are (or started at 0). */
function agentProfileUpdate(table: string, agent: AgentConfig): TransactItems[number] {
  const { org, id } = agent;
  return {
    Update: {
      TableName: table,
      Key: keys.agent(org, id),
      UpdateExpression:
        'SET #type = :type, #org = :org, #id = :id, #name = :name, #queues = :queues, #bot = :bot, #epoch = if_not_exists(#epoch, :zero), #sv = if_not_exists(#sv, :zero), GSI3PK = :agents, GSI3SK = :id',
      ExpressionAttributeNames: {
        '#type': 'type',
        '#org': 'org',
        '#id': 'id',
        '#name': 'name',
        '#queues': 'queues',
        '#bot': 'bot',
        '#epoch': 'connectionEpoch',
        '#sv': 'stateVersion',
      },
      ExpressionAttributeValues: {
        ':type': 'agent',
        ':org': org,
        ':id': id,
        ':name': agent.name,
        ':queues': agent.queues,
        ':bot': agent.bot,
        ':zero': 0,
        ':agents': indexPartition.agents(org),
      },
    },
  };
}

/** A pool's maximum changes without touching `used` (RL-3); `free` follows from both. */
function poolMaximumUpdate(table: string, org: string, id: string, pool: string, max: number): TransactItems[number] {
  return {
    Update: {
      TableName: table,
      Key: keys.pool(org, id, pool),
      UpdateExpression:
        'SET #type = :type, #org = :org, #agentId = :agentId, #pool = :pool, #max = :max, #used = if_not_exists(#used, :zero), #free = :max - if_not_exists(#used, :zero)',
      ExpressionAttributeNames: {
        '#type': 'type',
        '#org': 'org',
        '#agentId': 'agentId',
        '#pool': 'pool',
        '#max': 'max',
        '#used': 'used',
        '#free': 'free',
      },
      ExpressionAttributeValues: {
        ':type': 'pool',
        ':org': org,
        ':agentId': id,
        ':pool': pool,
        ':max': max,
        ':zero': 0,
      },
    },
  };
}

function membershipPut(table: string, org: string, queueId: string, agentId: string): TransactItems[number] {
  return {
    Put: {
      TableName: table,
      Item: {
        ...keys.member(org, queueId, agentId),
        type: 'member',
        ...memberIndexKeys(org, queueId, agentId),
        org,
        queueId,
        agentId,
      },
    },
  };
}
