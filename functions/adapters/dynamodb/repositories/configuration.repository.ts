import { PutCommand, TransactWriteCommand, UpdateCommand, type TransactWriteCommandInput } from '@aws-sdk/lib-dynamodb';
import { ConflictError } from '../../../domain/errors.js';
import type { Hours } from '../../../domain/hours.js';
import type { Channel, OrgSettings, Workstream } from '../../../domain/model.js';
import { requirementsByQueue } from '../../../domain/skills.js';
import type { MessageTemplate } from '../../../domain/templates.js';
import type { Trigger } from '../../../domain/triggers.js';
import type { ConfigEntity } from '../../../domain/writes.js';
import type { QueueConfig, Versioned } from '../../../ports/storage-types.js';
import type { ChannelRegistration } from '../../../ports/read-types.js';
import type { Configuration } from '../../../ports/repositories.js';
import {
  channelEntity,
  channelRegistrationEntity,
  configVersionEntity,
  newVersion,
  hoursEntity,
  messageTemplateEntity,
  QUEUE_OPTIONAL,
  queueEntity,
  queueRequirementsEntity,
  settingsEntity,
  triggerEntity,
  workstreamEntity,
} from '../entities.js';
import { setAll, type Table } from '../table.js';

type TransactItem = NonNullable<TransactWriteCommandInput['TransactItems']>[number];

/**
 * What admins configure. Every write of a workstream, channel, settings, trigger or message template carries a new
 * configVersion (entities.ts): a decision made on a cached copy fails its ConditionCheck (R-5).
 */
export class DynamoConfiguration implements Configuration {
  constructor(private readonly table: Table) {}

  /**
   * A configuration item with a new version, and every copy of that version, in one transaction
   * (with `also`: items that change with it). Decisions made on the old version fail their check.
   */
  private async putVersioned(
    entity: ConfigEntity,
    org: string,
    id: string,
    item: (version: string) => Record<string, unknown>,
    also: TransactItem[] = [],
  ): Promise<void> {
    const version = newVersion();
    const t = this.table.name;
    await this.table.doc.send(
      new TransactWriteCommand({
        TransactItems: [
          { Put: { TableName: t, Item: item(version) } },
          ...also,
          ...configVersionEntity.copies(org, entity, id, version).map((Item) => ({ Put: { TableName: t, Item } })),
        ],
      }),
    );
  }

  async getWorkstream(org: string, id: string): Promise<Workstream | undefined> {
    return (await this.getWorkstreamVersioned(org, id))?.value;
  }

  async getWorkstreamVersioned(org: string, id: string): Promise<Versioned<Workstream> | undefined> {
    const item = await this.table.getItem(workstreamEntity.key(org, id));
    return item ? workstreamEntity.versioned(item) : undefined;
  }

  /**
   * The workstream, and (K-2) the requirements it routes added to each queue's registry in the same
   * transaction: the registry only grows, so a requirement a conversation still carries stays indexed.
   */
  async putWorkstream(ws: Workstream): Promise<void> {
    const t = this.table.name;
    const registry = [...requirementsByQueue(ws)].map(([queueId, keys]): TransactItem => ({
      Update: {
        TableName: t,
        Key: queueRequirementsEntity.key(ws.org, queueId),
        UpdateExpression: 'ADD #r :r SET #t = :t, #org = :org, #q = :q',
        ExpressionAttributeNames: { '#r': 'requirements', '#t': 'type', '#org': 'org', '#q': 'queueId' },
        ExpressionAttributeValues: { ':r': new Set(keys), ':t': 'queue-requirements', ':org': ws.org, ':q': queueId },
      },
    }));
    await this.putVersioned('workstream', ws.org, ws.id, (v) => workstreamEntity.item(ws, v), registry);
  }

  /** K-2: each queue's requirement registry (callers cache it a few seconds: requirements-cache.ts). */
  async getQueueRequirements(org: string, queueIds: readonly string[]): Promise<Map<string, string[]>> {
    const items = await this.table.batchGet(queueIds.map((q) => queueRequirementsEntity.key(org, q)));
    const out = new Map(queueIds.map((q): [string, string[]] => [q, []]));
    for (const item of items) out.set(String(item.queueId), queueRequirementsEntity.requirementsOf(item));
    return out;
  }

  /** Q-3: the distinct delays of the queue's members, ascending (callers cache them: requirements-cache.ts) */
  async getQueueDelays(org: string, queueId: string): Promise<number[]> {
    return queueRequirementsEntity.delaysOf(await this.table.getItem(queueRequirementsEntity.key(org, queueId)));
  }

  async getQueue(org: string, id: string): Promise<QueueConfig | undefined> {
    const item = await this.table.getItem(queueEntity.key(org, id));
    return item ? queueEntity.from(item) : undefined;
  }

  /** An update, not a put: what else the queue item holds stays; the settings left out are removed. */
  async putQueue(q: QueueConfig): Promise<void> {
    const attributes = queueEntity.attributes(q);
    const set = setAll(attributes);
    const absent = QUEUE_OPTIONAL.filter((k) => !(k in attributes));
    for (const k of absent) set.names[`#${k}`] = k;
    await this.table.doc.send(
      new UpdateCommand({
        TableName: this.table.name,
        Key: queueEntity.key(q.org, q.id),
        UpdateExpression: `SET ${set.expr}${absent.length ? ` REMOVE ${absent.map((k) => `#${k}`).join(', ')}` : ''}`,
        ExpressionAttributeNames: set.names,
        ExpressionAttributeValues: set.values,
      }),
    );
  }

  /** H-1 */
  async getHours(org: string, id: string): Promise<Hours | undefined> {
    const item = await this.table.getItem(hoursEntity.key(org, id));
    return item ? hoursEntity.from(item) : undefined;
  }

  async putHours(h: Hours): Promise<void> {
    await this.table.doc.send(new PutCommand({ TableName: this.table.name, Item: hoursEntity.item(h) }));
  }

  async getChannel(org: string, id: string): Promise<Channel | undefined> {
    const item = await this.table.getItem(channelEntity.key(org, id));
    return item ? channelEntity.versioned(item).value : undefined;
  }

  /** The channel and its global registration together; the registration is conditioned on the org (RL-6). */
  async putChannel(ch: Channel, secret: string): Promise<void> {
    try {
      await this.putVersioned('channel', ch.org, ch.id, (v) => channelEntity.item(ch, v), [
        {
          Put: {
            TableName: this.table.name,
            Item: channelRegistrationEntity.item({
              org: ch.org,
              channelId: ch.id,
              secret,
              signature: ch.signature ?? 'body',
            }),
            ConditionExpression: 'attribute_not_exists(PK) OR #org = :org',
            ExpressionAttributeNames: { '#org': 'org' },
            ExpressionAttributeValues: { ':org': ch.org },
          },
        },
      ]);
    } catch (err) {
      if ((err as { name?: string }).name === 'TransactionCanceledException') {
        throw new ConflictError(`channel id ${ch.id} is already registered by another organization`, { cause: err });
      }
      throw err;
    }
  }

  async getChannelRegistration(channelId: string): Promise<ChannelRegistration | undefined> {
    const item = await this.table.getItem(channelRegistrationEntity.key(channelId));
    return item ? channelRegistrationEntity.from(item) : undefined;
  }

  async getSettings(org: string): Promise<OrgSettings> {
    return (await this.getSettingsVersioned(org)).value;
  }

  /** The org settings (defaults when never set) with their configVersion, for the config cache. */
  async getSettingsVersioned(org: string): Promise<Versioned<OrgSettings>> {
    return settingsEntity.versioned(org, await this.table.getItem(settingsEntity.key(org)));
  }

  async putSettings(settings: OrgSettings): Promise<void> {
    await this.putVersioned('settings', settings.org, settings.org, (v) => settingsEntity.item(settings, v));
  }

  async listTriggers(org: string): Promise<Trigger[]> {
    return (await this.listTriggersVersioned(org)).value;
  }

  /** The org's triggers with the version of the list (its VERSION item), read consistently. */
  async listTriggersVersioned(org: string): Promise<Versioned<Trigger[]>> {
    const items = await this.table.queryAll({
      KeyConditionExpression: 'PK = :pk',
      ExpressionAttributeValues: { ':pk': triggerEntity.partition(org) },
      ConsistentRead: true,
    });
    return triggerEntity.versioned(org, items);
  }

  /** The trigger and a new version of the org's list, together (decisions on a cached list fail their check). */
  async putTrigger(t: Trigger): Promise<void> {
    await this.putVersioned('triggers', t.org, t.org, (v) => triggerEntity.versionItem(t.org, v), [
      { Put: { TableName: this.table.name, Item: triggerEntity.item(t) } },
    ]);
  }

  /** MS-4 */
  async listMessageTemplates(org: string): Promise<MessageTemplate[]> {
    return (await this.listMessageTemplatesVersioned(org)).value;
  }

  /** MS-4: the org's templates (TEMPLATE_EVENTS order) and the version of the list (its VERSION item), consistently */
  async listMessageTemplatesVersioned(org: string): Promise<Versioned<MessageTemplate[]>> {
    const items = await this.table.queryAll({
      KeyConditionExpression: 'PK = :pk',
      ExpressionAttributeValues: { ':pk': messageTemplateEntity.partition(org) },
      ConsistentRead: true,
    });
    return messageTemplateEntity.versioned(org, items);
  }

  /** MS-4: the template and a new version of the org's list together (decisions on a cached list fail their check). */
  async putMessageTemplate(t: MessageTemplate): Promise<void> {
    await this.putVersioned('templates', t.org, t.org, (v) => messageTemplateEntity.versionItem(t.org, v), [
      { Put: { TableName: this.table.name, Item: messageTemplateEntity.item(t) } },
    ]);
  }
}
