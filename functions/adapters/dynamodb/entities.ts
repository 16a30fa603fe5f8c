import type { Hours } from '../../domain/hours.js';
import { ulid } from 'ulid';
import {
  DEFAULT_SETTINGS,
  type Agent,
  type Channel,
  type Contact,
  type Conversation,
  type HistoryEvent,
  type OrgSettings,
  type Pool,
  type Workstream,
} from '../../domain/model.js';
import type { EarlyEnd } from '../../domain/early-end.js';
import { EMPTY_LOG, type Message, type MessageLog } from '../../domain/messages.js';
import { TEMPLATE_EVENTS, type MessageTemplate } from '../../domain/templates.js';
import { timerName } from '../../domain/timers.js';
import type { Trigger } from '../../domain/triggers.js';
import type { ConfigEntity, TimerRequest } from '../../domain/writes.js';
import type { AllocationRecord, QueueConfig, StoredReceipt, Versioned } from '../../ports/storage-types.js';
import type { ChannelRegistration, Note } from '../../ports/read-types.js';
import type { DueTimer } from '../../ports/due-timer.js';
import {
  availabilityIndexKeys,
  assignmentIndexKeys,
  CONFIG_VERSION_SHARDS,
  conversationIndexKeys,
  indexPartition,
  padCount,
  keys,
  memberIndexKeys,
  shardOf,
  templateKeys,
  timerIndexKeys,
  type Key,
} from './keys.js';

/**
 * Entities: the one place an item of the table is assembled or read back. Each entity names its
 * item `type`, its key (from keys.ts), its index keys, and how the stored item maps back to the
 * domain value. The transaction builder (transact.ts) and the repositories use these, so no key,
 * index attribute or storage attribute is written anywhere else.
 */

type Item = Record<string, unknown>;

const STORAGE_ATTRS = new Set([
  'PK',
  'SK',
  'type',
  'GSI1PK',
  'GSI1SK',
  'GSI2PK',
  'GSI2SK',
  'GSI3PK',
  'GSI3SK',
  'GSI4PK',
  'GSI4SK',
  'GSI5PK',
  'GSI5SK',
  'GSI6PK',
  'GSI6SK',
  'expiresAt',
  'configVersion',
]);

/** The domain value of an item: the item without its keys, index keys and storage attributes. */
export const stripStorage = <T>(item: Item): T =>
  Object.fromEntries(Object.entries(item).filter(([k]) => !STORAGE_ATTRS.has(k))) as T;

/** A configuration item's version: '' when the item or its version is absent. */
const versionOf = (item: Item | undefined): string => String(item?.configVersion ?? '');

/**
 * Every write of a configuration item carries a new version, and rewrites every copy of it
 * (keys.configVersion) in the same transaction: decisions on a cached copy fail their check.
 */
export const newVersion = (): string => ulid();

export const configVersionEntity = {
  key: (org: string, entity: ConfigEntity, id: string, spread: string): Key =>
    keys.configVersion(org, entity, id, shardOf(spread, CONFIG_VERSION_SHARDS)),
  /** every copy of the version of one configuration item */
  copies: (org: string, entity: ConfigEntity, id: string, version: string): Item[] =>
    Array.from({ length: CONFIG_VERSION_SHARDS }, (_, shard) => ({
      ...keys.configVersion(org, entity, id, shard),
      type: 'config-version',
      org,
      entity,
      id,
      configVersion: version,
    })),
};

export const conversationEntity = {
  key: keys.conversation,
  item: (c: Conversation): Item => ({
    ...keys.conversation(c.org, c.id),
    type: 'conversation',
    ...conversationIndexKeys(c),
    ...c,
  }),
  from: (item: Item): Conversation => stripStorage<Conversation>(item),
};

export const eventEntity = {
  key: keys.event,
  item: (e: HistoryEvent): Item => ({ ...keys.event(e.org, e.conversationId, e.version), type: 'event', ...e }),
  from: (item: Item): HistoryEvent => stripStorage<HistoryEvent>(item),
};

/** Due timers are kept a week past their time at most (the sweeper fires them long before). */
const TIMER_RETENTION_SECONDS = 7 * 24 * 3600;

export const timerEntity = {
  key: keys.timer,
  item: (t: TimerRequest): Item => {
    const name = timerName(t);
    return {
      ...keys.timer(t.org, name),
      type: 'timer',
      name,
      ...timerIndexKeys(t.org, name, t.at),
      ...t,
      expiresAt: Math.floor(Date.parse(t.at) / 1000) + TIMER_RETENTION_SECONDS,
    };
  },
  from: (item: Item): DueTimer => stripStorage<DueTimer>(item),
};

export const allocationEntity = {
  key: keys.allocation,
  item: (a: AllocationRecord): Item => ({
    ...keys.allocation(a.org, a.agentId, a.conversationId),
    type: 'allocation',
    org: a.org,
    agentId: a.agentId,
    conversationId: a.conversationId,
    pool: a.pool,
    units: a.units,
    since: a.since,
  }),
  from: (item: Item): AllocationRecord => stripStorage<AllocationRecord>(item),
};

export interface ThreadPointer {
  org: string;
  channelId: string;
  threadId: string;
  conversationId: string;
}

export const threadEntity = {
  key: keys.thread,
  item: (t: ThreadPointer): Item => ({
    ...keys.thread(t.org, t.channelId, t.threadId),
    type: 'thread',
    org: t.org,
    channelId: t.channelId,
    threadId: t.threadId,
    conversationId: t.conversationId,
  }),
  conversationIdOf: (item: Item | undefined): string | undefined => (item ? String(item.conversationId) : undefined),
};

/** T-2: an early end, beside the thread's pointer; kept until `expiresAt` (the table's TTL attribute). */
export const earlyEndEntity = {
  key: keys.earlyEnd,
  item: (e: EarlyEnd): Item => ({
    ...keys.earlyEnd(e.org, e.channelId, e.threadId),
    type: 'early-end',
    org: e.org,
    channelId: e.channelId,
    threadId: e.threadId,
    endedAt: e.endedAt,
    action: e.action,
    expiresAt: e.expiresAt,
    ...(e.conversationId !== undefined ? { conversationId: e.conversationId } : {}),
  }),
  from: (item: Item): EarlyEnd => ({
    ...stripStorage<Omit<EarlyEnd, 'expiresAt'>>(item),
    expiresAt: Number(item.expiresAt),
  }),
};

export const receiptEntity = {
  key: keys.receipt,
  item: (r: { org: string; key: string; expiresAt: number; fingerprint?: string; result?: unknown }): Item => ({
    ...keys.receipt(r.org, r.key),
    type: 'receipt',
    org: r.org,
    key: r.key,
    expiresAt: r.expiresAt,
    ...(r.fingerprint !== undefined ? { fingerprint: r.fingerprint, result: r.result } : {}),
  }),
  from: (item: Item): StoredReceipt => stripStorage<StoredReceipt>(item),
};

/**
 * The agent: a profile item and one item per capacity pool, in the agent's partition under one SK
 * prefix. The profile is written by update expressions (its presence fields and counters belong to
 * other writers), so the entity gives the attributes the configuration sets.
 */
export const agentEntity = {
  key: keys.agent,
  poolKey: keys.pool,
  /** what an agent's configuration sets on the profile (the GSI3 keys list the org's agents, P-5) */
  configAttributes: (a: Pick<Agent, 'org' | 'id' | 'name' | 'queues' | 'memberships' | 'bot' | 'skills'>): Item => ({
    type: 'agent',
    org: a.org,
    id: a.id,
    name: a.name,
    queues: a.queues,
    memberships: a.memberships ?? {},
    bot: a.bot,
    skills: a.skills ?? {},
    GSI3PK: indexPartition.agents(a.org),
    GSI3SK: a.id,
  }),
  poolAttributes: (org: string, agentId: string, pool: string, max: number): Item => ({
    type: 'pool',
    org,
    agentId,
    pool,
    max,
  }),
  isProfile: (item: Item): boolean => item.SK === keys.agentPrefix,
  poolOf: (item: Item): Pool => ({ name: String(item.pool), max: Number(item.max), used: Number(item.used) }),
  /** the agent from its profile item and the pool items found */
  from: (profile: Item, poolItems: readonly Item[]): Agent => {
    const pools: Record<string, Pool> = {};
    for (const i of poolItems) pools[String(i.pool)] = agentEntity.poolOf(i);
    return { ...stripStorage<Omit<Agent, 'pools'>>(profile), pools };
  },
};

export const memberEntity = {
  key: keys.member,
  item: (org: string, queueId: string, agentId: string): Item => ({
    ...keys.member(org, queueId, agentId),
    type: 'member',
    ...memberIndexKeys(org, queueId, agentId),
    org,
    queueId,
    agentId,
  }),
  agentIdOf: (item: Item): string => String(item.agentId),
};

export interface AvailabilityEntry {
  org: string;
  queueId: string;
  pool: string;
  /** K-4: the requirement (its key, `any` for none) the agent meets that this entry lists her under */
  requirement: string;
  agentId: string;
  free: number;
  /** routable with room: the entry is in the index (GSI5), sorted by `free` then `idleSince` (and in GSI6) */
  listed: boolean;
  idleSince: string;
  lastAssignedAt: string;
  active: number;
}

/** What an entry and its least-active twin both hold. */
const entryAttributes = (e: AvailabilityEntry, type: string): Item => ({
  type,
  org: e.org,
  queueId: e.queueId,
  pool: e.pool,
  requirement: e.requirement,
  agentId: e.agentId,
  free: e.free,
});

export const availabilityEntity = {
  key: keys.availability,
  item: (e: AvailabilityEntry): Item => ({
    ...keys.availability(e.org, e.queueId, e.pool, e.agentId, e.requirement),
    ...entryAttributes(e, 'availability'),
    ...(e.listed
      ? {
          ...availabilityIndexKeys(e.org, e.queueId, e.pool, e.agentId, e.free, e.idleSince, e.requirement),
          ...assignmentIndexKeys('RR', e.org, e.queueId, e.pool, e.agentId, e.lastAssignedAt, e.requirement),
        }
      : {}),
  }),
  /** the entry's least-active twin (keys.availabilityLeastActive), listed when the entry is */
  leastActiveKey: keys.availabilityLeastActive,
  leastActiveItem: (e: AvailabilityEntry): Item => ({
    ...keys.availabilityLeastActive(e.org, e.queueId, e.pool, e.agentId, e.requirement),
    ...entryAttributes(e, 'availability-least-active'),
    ...(e.listed
      ? assignmentIndexKeys(
          'LA',
          e.org,
          e.queueId,
          e.pool,
          e.agentId,
          `${padCount(e.active)}#${e.idleSince}`,
          e.requirement,
        )
      : {}),
  }),
  from: (item: Item): { agentId: string; free: number } => ({ agentId: String(item.agentId), free: Number(item.free) }),
  /** the table key of a stored entry or twin, as read back */
  storedKey: (item: Item): Key => ({ PK: String(item.PK), SK: String(item.SK) }),
};

/** K-2: a queue's requirement registry (keys.queueRequirements): a string set, only ever added to. */
export const queueRequirementsEntity = {
  key: keys.queueRequirements,
  requirementsOf: (item: Item | undefined): string[] => [...((item?.requirements as Set<string> | undefined) ?? [])],
  /** the distinct delays of the queue's members (a number set beside the requirements, also only added to) */
  delaysOf: (item: Item | undefined): number[] =>
    [...((item?.delays as Set<number> | undefined) ?? [])].map(Number).sort((a, b) => a - b),
};

/** the queue's optional settings: a PUT that leaves one out removes it */
export const QUEUE_OPTIONAL = ['hoursId', 'serviceLevelSeconds', 'overflow'] as const;

export const queueEntity = {
  key: keys.queue,
  attributes: (q: QueueConfig): Item => ({
    type: 'queue',
    org: q.org,
    id: q.id,
    name: q.name,
    ...Object.fromEntries(QUEUE_OPTIONAL.flatMap((k) => (q[k] === undefined ? [] : [[k, q[k]]]))),
  }),
  from: (item: Item): QueueConfig => stripStorage<QueueConfig>(item),
};

export const hoursEntity = {
  key: keys.hours,
  item: (h: Hours): Item => ({ ...keys.hours(h.org, h.id), type: 'hours', ...h }),
  from: (item: Item): Hours => stripStorage<Hours>(item),
};

export const workstreamEntity = {
  key: keys.workstream,
  item: (ws: Workstream, configVersion: string): Item => ({
    ...keys.workstream(ws.org, ws.id),
    type: 'workstream',
    ...ws,
    configVersion,
  }),
  versioned: (item: Item): Versioned<Workstream> => ({
    value: stripStorage<Workstream>(item),
    version: versionOf(item),
  }),
};

export const channelEntity = {
  key: keys.channel,
  item: (ch: Channel, configVersion: string): Item => ({
    ...keys.channel(ch.org, ch.id),
    type: 'channel',
    ...ch,
    configVersion,
  }),
  versioned: (item: Item): Versioned<Channel> => ({ value: stripStorage<Channel>(item), version: versionOf(item) }),
};

export const channelRegistrationEntity = {
  key: keys.channelRegistration,
  item: (r: ChannelRegistration): Item => ({
    ...keys.channelRegistration(r.channelId),
    type: 'channel-registration',
    org: r.org,
    channelId: r.channelId,
    secret: r.secret,
    signature: r.signature ?? 'body',
  }),
  from: (item: Item): ChannelRegistration => stripStorage<ChannelRegistration>(item),
};

export const settingsEntity = {
  key: keys.settings,
  item: (s: OrgSettings, configVersion: string): Item => ({
    ...keys.settings(s.org),
    type: 'settings',
    ...s,
    configVersion,
  }),
  /** the settings (defaults when never set) with their version */
  versioned: (org: string, item: Item | undefined): Versioned<OrgSettings> =>
    item
      ? { value: stripStorage<OrgSettings>(item), version: versionOf(item) }
      : { value: { org, ...DEFAULT_SETTINGS }, version: '' },
};

export const triggerEntity = {
  key: keys.trigger,
  versionKey: keys.triggersVersion,
  partition: keys.triggersPartition,
  item: (t: Trigger): Item => ({ ...keys.trigger(t.org, t.id), type: 'trigger', ...t }),
  /** the list's version item, rewritten with every trigger PUT */
  versionItem: (org: string, configVersion: string): Item => ({
    ...keys.triggersVersion(org),
    type: 'triggers-version',
    org,
    configVersion,
  }),
  /** the org's triggers and the version of the list, from the items of its partition */
  versioned: (org: string, items: readonly Item[]): Versioned<Trigger[]> => ({
    value: items.filter((i) => i.type === 'trigger').map((i) => stripStorage<Trigger>(i)),
    version: versionOf(items.find((i) => i.SK === keys.triggersVersion(org).SK)),
  }),
};

export const noteEntity = {
  key: keys.note,
  prefix: keys.notePrefix,
  item: (n: Note): Item => ({ ...keys.note(n.org, n.conversationId, n.id), type: 'note', ...n }),
  from: (item: Item): Note => stripStorage<Note>(item),
};

export const messageEntity = {
  key: keys.message,
  prefix: keys.messagePrefix,
  item: (m: Message): Item => ({ ...keys.message(m.org, m.conversationId, m.seq), type: 'message', ...m }),
  from: (item: Item): Message => stripStorage<Message>(item),
};

export const messageLogEntity = {
  key: keys.messageLog,
  item: (org: string, conversationId: string, log: MessageLog): Item => ({
    ...keys.messageLog(org, conversationId),
    type: 'message-log',
    seq: log.seq,
    replySeq: log.replySeq,
    customerSeq: log.customerSeq,
  }),
  from: (item: Item | undefined): MessageLog =>
    item
      ? {
          seq: Number(item.seq ?? 0),
          replySeq: Number(item.replySeq ?? 0),
          customerSeq: Number(item.customerSeq ?? 0),
        }
      : { ...EMPTY_LOG },
};

export type Lookups = { phone?: string; email?: string };

export const contactEntity = {
  key: keys.contact,
  /** the contact keeps its own lookups, so a change removes the old ones */
  item: (c: Contact, lookups: Lookups): Item => ({ ...keys.contact(c.org, c.id), type: 'contact', ...c, lookups }),
  lookupsOf: (item: Item | undefined): Lookups => (item?.lookups as Lookups | undefined) ?? {},
  from: (item: Item): Contact => {
    const { lookups: _lookups, ...contact } = stripStorage<Contact & { lookups?: unknown }>(item);
    return contact;
  },
};

export const lookupEntity = {
  key: keys.lookup,
  partition: keys.lookupPartition,
  item: (c: Pick<Contact, 'org' | 'id' | 'kind'>, field: 'phone' | 'email', value: string): Item => ({
    ...keys.lookup(c.org, field, value, c.id),
    type: 'lookup',
    org: c.org,
    contactId: c.id,
    kind: c.kind,
  }),
  from: (item: Item): { id: string; kind: 'contact' | 'account' } => ({
    id: String(item.contactId),
    kind: item.kind === 'account' ? 'account' : 'contact',
  }),
};

// ---- MS-4: message templates (appended as a block; imports are hoisted)

/** MS-4: a message template per event, and the version of the org's list beside them (R-5, as the triggers) */
export const messageTemplateEntity = {
  key: templateKeys.template,
  versionKey: templateKeys.version,
  partition: templateKeys.partition,
  item: (t: MessageTemplate): Item => ({
    ...templateKeys.template(t.org, t.event),
    type: 'message-template',
    org: t.org,
    event: t.event,
    text: t.text,
    enabled: t.enabled,
  }),
  /** the list's version item, rewritten with every template PUT */
  versionItem: (org: string, configVersion: string): Item => ({
    ...templateKeys.version(org),
    type: 'message-templates-version',
    org,
    configVersion,
  }),
  /** the org's templates in TEMPLATE_EVENTS order, and the version of the list, from the items of its partition */
  versioned: (org: string, items: readonly Item[]): Versioned<MessageTemplate[]> => ({
    value: items
      .filter((i) => i.type === 'message-template')
      .map((i) => stripStorage<MessageTemplate>(i))
      .sort((a, b) => TEMPLATE_EVENTS.indexOf(a.event) - TEMPLATE_EVENTS.indexOf(b.event)),
    version: versionOf(items.find((i) => i.SK === templateKeys.version(org).SK)),
  }),
};
