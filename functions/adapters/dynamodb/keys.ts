import { queueOrder } from '../../domain/model.js';
import { ANY_REQUIREMENT, requirementKey } from '../../domain/skills.js';

/**
 * Every key of the single table, in one place. Every partition key starts with the org (RL-6):
 * a request built from one org's claims cannot address another org's items.
 * Ids are `[A-Za-z0-9_-]{1,64}` (API.md), so `#` never occurs inside a segment.
 */
export interface Key {
  PK: string;
  SK: string;
}

const org = (o: string): string => `ORG#${o}`;
/** K-2: keys of "any agent" entries stay as they were before requirements existed; others end with the requirement */
const requirementSuffix = (requirement: string): string =>
  requirement === ANY_REQUIREMENT ? '' : `#REQ#${requirement}`;
const pad = (n: number): string => n.toString().padStart(10, '0');

export const keys = {
  conversation: (o: string, id: string): Key => ({ PK: `${org(o)}#CONV#${id}`, SK: 'CONV' }),
  /** history events live beside their conversation, sorted by version (E-1) */
  event: (o: string, conversationId: string, version: number): Key => ({
    PK: `${org(o)}#CONV#${conversationId}`,
    SK: `EV#${pad(version)}`,
  }),
  eventPrefix: 'EV#',
  /** the agent profile and its pools share a partition and an SK prefix, so one query reads both */
  agent: (o: string, id: string): Key => ({ PK: `${org(o)}#AGENT#${id}`, SK: 'AGENT' }),
  agentPrefix: 'AGENT',
  pool: (o: string, agentId: string, pool: string): Key => ({
    PK: `${org(o)}#AGENT#${agentId}`,
    SK: `AGENT#POOL#${pool}`,
  }),
  /** one allocation item per agent x conversation (C-6) */
  allocation: (o: string, agentId: string, conversationId: string): Key => ({
    PK: `${org(o)}#AGENT#${agentId}`,
    SK: `ALLOC#${conversationId}`,
  }),
  allocationPrefix: 'ALLOC#',
  queue: (o: string, id: string): Key => ({ PK: `${org(o)}#QUEUE#${id}`, SK: 'QUEUE' }),
  workstream: (o: string, id: string): Key => ({ PK: `${org(o)}#WS#${id}`, SK: 'WS' }),
  /** MX-1: one shard of a queue's counters (SK COUNTS) and of its minute buckets (SK MIN#<minute>) */
  queueStats: (o: string, queueId: string, shard: number): Key => ({
    PK: `${org(o)}#QSTATS#${queueId}#${shard}`,
    SK: 'COUNTS',
  }),
  /** MX-1: one minute (`YYYY-MM-DDTHH:MM`) of a shard of a queue's last hour */
  queueMinute: (o: string, queueId: string, shard: number, minute: string): Key => ({
    PK: `${org(o)}#QSTATS#${queueId}#${shard}`,
    SK: `MIN#${minute}`,
  }),
  /** MX-1: a change already counted (expires with the table's TTL) */
  /** MX-3: where a conversation's current wait stood in its queue when it started (beside the conversation) */
  queueEntry: (o: string, conversationId: string): Key => ({ PK: `${org(o)}#CONV#${conversationId}`, SK: 'QPOS' }),
  statsSeen: (o: string, marker: string): Key => ({ PK: `${org(o)}#QSTATS-SEEN#${marker}`, SK: 'SEEN' }),
  /** H-1 */
  hours: (o: string, id: string): Key => ({ PK: `${org(o)}#HOURS#${id}`, SK: 'HOURS' }),
  channel: (o: string, id: string): Key => ({ PK: `${org(o)}#CHANNEL#${id}`, SK: 'CHANNEL' }),
  settings: (o: string): Key => ({ PK: `${org(o)}#SETTINGS`, SK: 'SETTINGS' }),
  /** a channel thread's current conversation */
  thread: (o: string, channelId: string, threadId: string): Key => ({
    PK: `${org(o)}#THREAD#${channelId}#${threadId}`,
    SK: 'THREAD',
  }),
  /** T-2: a customer's end that came before the thread's first conversation (expires with the table's TTL) */
  earlyEnd: (o: string, channelId: string, threadId: string): Key => ({
    PK: `${org(o)}#THREAD#${channelId}#${threadId}`,
    SK: 'EARLY-END',
  }),
  /** RL-1: an inbound event already applied (expires with the table's TTL) */
  receipt: (o: string, key: string): Key => ({ PK: `${org(o)}#RECEIPT#${key}`, SK: 'RECEIPT' }),
  /**
   * Queue membership, in the agent's partition (SC-1): every offer checks it in its transaction, and a
   * transaction's ConditionCheck is metered as a write of the item's partition (2 WCU), which in the
   * queue's partition would add up over a big queue. The agents of a queue are read from GSI3
   * (`memberIndexKeys`), written only when an agent's queues change.
   */
  member: (o: string, queueId: string, agentId: string): Key => ({
    PK: `${org(o)}#AGENT#${agentId}`,
    SK: `MEMBER#${queueId}`,
  }),
  /** the transactional timer outbox (ARCHITECTURE Timers) */
  timer: (o: string, name: string): Key => ({ PK: `${org(o)}#TIMER#${name}`, SK: 'TIMER' }),
  /**
   * one availability entry per queue x pool x agent, in the agent's own partition (SC-1): an
   * agent's capacity change writes only its own partition, never the queue's, whatever the queue's size.
   */
  availability: (o: string, queueId: string, pool: string, agentId: string, requirement = ANY_REQUIREMENT): Key => ({
    PK: `${org(o)}#AGENT#${agentId}`,
    SK: `AVAIL#${queueId}#${pool}${requirementSuffix(requirement)}`,
  }),
  /** every availability entry of an agent, and their twins, share this SK prefix */
  availabilityPrefix: 'AVAIL',
  /**
   * A-1 least-active: the entry's twin, in the same partition, listed in GSI6 by conversations held.
   * (The round-robin order is on the entry itself: an item has one GSI6 key, and one new index per
   * deploy is what DynamoDB can add to a live table.)
   */
  availabilityLeastActive: (
    o: string,
    queueId: string,
    pool: string,
    agentId: string,
    requirement = ANY_REQUIREMENT,
  ): Key => ({
    PK: `${org(o)}#AGENT#${agentId}`,
    SK: `AVAIL-LA#${queueId}#${pool}${requirementSuffix(requirement)}`,
  }),
  /**
   * K-2: the requirement keys a queue's conversations may carry (a string set), added to by every
   * workstream PUT that routes a requirement there, never taken from (an Open conversation may still
   * carry one the configuration dropped): the requirements an agent's availability is indexed under.
   */
  queueRequirements: (o: string, queueId: string): Key => ({ PK: `${org(o)}#QUEUE#${queueId}`, SK: 'REQUIREMENTS' }),
  /** identification lookups (a normalized phone or email -> the contacts and accounts holding it) */
  lookup: (o: string, field: 'phone' | 'email', value: string, contactId: string): Key => ({
    PK: `${org(o)}#LOOKUP#${field}#${value}`,
    SK: `CONTACT#${contactId}`,
  }),
  lookupPartition: (o: string, field: 'phone' | 'email', value: string): string => `${org(o)}#LOOKUP#${field}#${value}`,
  /** M-3: the org's triggers in one partition (read by actions that can fire them) */
  trigger: (o: string, id: string): Key => ({ PK: `${org(o)}#TRIGGERS`, SK: `TRIGGER#${id}` }),
  triggersPartition: (o: string): string => `${org(o)}#TRIGGERS`,
  /** the version of the org's trigger list: rewritten with every trigger PUT, checked by decisions that read it */
  triggersVersion: (o: string): Key => ({ PK: `${org(o)}#TRIGGERS`, SK: 'VERSION' }),
  /**
   * R-5 / SC-1: one of CONFIG_VERSION_SHARDS copies of a configuration item's version, each in its
   * own partition. Every transaction decided on cached configuration checks one copy (chosen by the
   * conversation), so the checks spread; every configuration write rewrites all copies with the item.
   */
  configVersion: (o: string, entity: string, id: string, shard: number): Key => ({
    PK: `${org(o)}#CFGV#${entity}#${id}#${shard}`,
    SK: 'CFGV',
  }),
  /** E-3: internal notes beside their conversation */
  note: (o: string, conversationId: string, id: string): Key => ({
    PK: `${org(o)}#CONV#${conversationId}`,
    SK: `NOTE#${id}`,
  }),
  notePrefix: 'NOTE#',
  /** MS-1: transcript entries beside their conversation, in `seq` order (a page is one Query) */
  message: (o: string, conversationId: string, seq: number): Key => ({
    PK: `${org(o)}#CONV#${conversationId}`,
    SK: `MSG#${pad(seq)}`,
  }),
  messagePrefix: 'MSG#',
  /** MS-1: the transcript's last `seq` (and last reply's), beside the conversation, never inside it */
  messageLog: (o: string, conversationId: string): Key => ({ PK: `${org(o)}#CONV#${conversationId}`, SK: 'MSGLOG' }),
  contact: (o: string, id: string): Key => ({ PK: `${org(o)}#CONTACT#${id}`, SK: 'CONTACT' }),
  /**
   * The one key that does not start with an org: a webhook names only its channel, so the channel
   * id is registered globally to find its org and secret. Registration is conditioned on the org,
   * so no org can claim another org's channel id.
   */
  channelRegistration: (channelId: string): Key => ({ PK: `CHANNELREG#${channelId}`, SK: 'CHANNELREG' }),
} as const;

/**
 * SC-1: a partition that every transition writes is split into a FIXED number of shards, so its
 * writes spread and its reads stay bounded (a read asks every shard once, in parallel). The shard
 * of an item is a stable hash of its own id, so an item keeps its shard for life (a conversation
 * changing status moves from `STATUS#A#n` to `STATUS#B#n`). Changing a shard count moves items
 * between partitions: it needs a migration once there is data.
 *
 * FNV-1a over the UTF-16 code units, then murmur3's finalizer, so that every input character reaches
 * the low bits the modulo keeps (ids often differ only in their last characters).
 */
export const hash32 = (s: string): number => {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
};

export const shardOf = (value: string, shards: number): number => hash32(value) % shards;

/**
 * Copies of each configuration version (keys.configVersion). The replay metered the push
 * workstream's ConditionChecks at 587/s at 1,000 transitions/s, all on one item (a ConditionCheck
 * may be metered as a write): 8 copies take 73/s each. A configuration write rewrites 1 + 8 items,
 * in one transaction: rare, admin-paced.
 */
export const CONFIG_VERSION_SHARDS = 8;

/**
 * Shards of the org x status lists (GSI3, S-6). Every transition writes the conversation item, so at
 * most one index write in each status partition it touches (a delete in the old status, a put in the
 * new one, or an in-place update): at 1,000 transitions/s in one org, even if every one of them wrote
 * the same status, 1,000 / 8 = 125 writes/s per shard (the replay's mix, WrapUp 521 / Active 479 /
 * Open 392 writes/s, becomes 65 / 60 / 49), 4x under the 500 writes/s of SC-1. A list page reads each
 * shard of its status once (8 parallel queries), so per-shard reads equal the pages asked for.
 */
export const STATUS_SHARDS = 8;

export const statusShard = (conversationId: string): number => shardOf(conversationId, STATUS_SHARDS);

/** MX-1: shards of a queue's waiting list (GSI2): a big queue's Open entries and exits spread over them */
export const WAITING_SHARDS = 4;
export const waitingShard = (conversationId: string): number => shardOf(conversationId, WAITING_SHARDS);

/**
 * Index keys of a conversation item. Each GSI serves a read of API.md without a scan:
 * - GSI1 queue x status: open items of a queue in Q-2 order (`queueOrder`), other statuses oldest
 *   first; lists by queue and status
 * - GSI2 primary agent x state: my work items, lists by agent; overloaded for Open conversations (which
 *   have no primary): the queue's waiting list by `enqueuedAt`, in WAITING_SHARDS shards (MX-1 oldest wait)
 * - GSI3 org x status x shard: supervisor lists by status (S-6), read across the STATUS_SHARDS shards
 * - GSI4 channel thread: thread -> conversations, newest last
 * - GSI5 (overloaded, see the availability index below) customer: an identified customer's
 *   conversations, newest last (A-2 `preferredAgent: "last"`)
 * - GSI6 (overloaded, see the availability index below) queue x requirement: the Open items of a
 *   queue that carry one requirement (K-4), in Q-2 order, for an agent's dispatch: she reads only the
 *   partitions of requirements she meets, so every item she reads is one she may be offered
 */
export const conversationIndexKeys = (c: {
  org: string;
  id: string;
  queueId: string;
  status: string;
  statusSince: string;
  createdAt: string;
  channelId: string;
  threadId: string;
  primaryAgentId?: string | undefined;
  primaryKind?: string | undefined;
  priority?: number | undefined;
  enqueuedAt?: string | undefined;
  priorityAgingSeconds?: number | undefined;
  requirements?: { skills: Record<string, number> } | undefined;
  customerId?: string | undefined;
}): Record<string, string> => {
  const state = c.status === 'Closed' ? 'closed' : 'open';
  const byCreation = `${c.createdAt}#${c.id}`;
  const open = c.status === 'Open';
  return {
    GSI1PK: indexPartition.queueStatus(c.org, c.queueId, c.status),
    GSI1SK: `${open ? queueOrder(c) : c.statusSince}#${c.id}`,
    ...(open
      ? {
          GSI6PK: indexPartition.openByRequirement(c.org, c.queueId, requirementKey(c.requirements?.skills)),
          GSI6SK: `${queueOrder(c)}#${c.id}`,
        }
      : {}),
    ...(c.primaryAgentId && c.primaryKind !== 'external'
      ? { GSI2PK: indexPartition.agentState(c.org, c.primaryAgentId, state), GSI2SK: byCreation }
      : open
        ? // MX-1 (overloaded): an Open conversation has no primary; its queue's waiting, oldest first
          {
            GSI2PK: indexPartition.waiting(c.org, c.queueId, waitingShard(c.id)),
            GSI2SK: `${c.enqueuedAt ?? c.statusSince}#${c.id}`,
          }
        : {}),
    GSI3PK: indexPartition.status(c.org, c.status, statusShard(c.id)),
    GSI3SK: byCreation,
    GSI4PK: indexPartition.thread(c.org, c.channelId, c.threadId),
    GSI4SK: byCreation,
    ...(c.customerId ? { GSI5PK: indexPartition.customer(c.org, c.customerId), GSI5SK: byCreation } : {}),
  };
};

export const indexPartition = {
  /** agent profiles of an org (GSI3), for org-wide presence refreshes (P-5) */
  agents: (o: string): string => `${org(o)}#AGENTS`,
  queueStatus: (o: string, queueId: string, status: string): string => `${org(o)}#QUEUE#${queueId}#${status}`,
  /** K-4: the Open items of a queue with one requirement (GSI6) */
  openByRequirement: (o: string, queueId: string, requirement: string): string =>
    `${org(o)}#OPEN#${queueId}#${requirement}`,
  agentState: (o: string, agentId: string, state: 'open' | 'closed'): string => `${org(o)}#AGENT#${agentId}#${state}`,
  /** the member agents of a queue (GSI3, sorted by agent id) */
  queueMembers: (o: string, queueId: string): string => `${org(o)}#QUEUE#${queueId}#MEMBERS`,
  /** one of the STATUS_SHARDS partitions of an org x status list */
  status: (o: string, status: string, shard: number): string => `${org(o)}#STATUS#${status}#${shard}`,
  /** every shard of an org x status list, in shard order */
  statusShards: (o: string, status: string): string[] =>
    Array.from({ length: STATUS_SHARDS }, (_, shard) => indexPartition.status(o, status, shard)),
  thread: (o: string, channelId: string, threadId: string): string => `${org(o)}#THREAD#${channelId}#${threadId}`,
  /** MX-1: one shard of a queue's Open conversations by when they entered it (GSI2, overloaded) */
  waiting: (o: string, queueId: string, shard: number): string => `${org(o)}#WAITING#${queueId}#${shard}`,
  /** an identified customer's conversations (GSI5, beside the availability partitions) */
  customer: (o: string, customerId: string): string => `${org(o)}#CUSTOMER#${customerId}`,
};

/** GSI3 keys of a queue membership item: the queue's agents in one partition, written only by agent configuration. */
export const memberIndexKeys = (o: string, queueId: string, agentId: string): Record<string, string> => ({
  GSI3PK: indexPartition.queueMembers(o, queueId),
  GSI3SK: agentId,
});

/**
 * Timer items share GSI3 with the status lists (index overloading): partition `TIMERS#<shard>`,
 * sorted by due time, so the sweeper reads only what is due. These index partitions are the one
 * place org-less keys exist: the sweeper serves every org, and reads each item's own org from it.
 *
 * SC-1 sizing: an outbox item costs two index writes over its life, its put (in the transaction of
 * the change that armed it) and its delete (once it fired or ran). The replay measured about 0.9
 * of them per transition (4 shards x 223 writes/s at 1,000 transitions/s); counting 2 per transition
 * (one put, one delete) gives 2,000 writes/s, so 16 shards take 125 writes/s each, and still 250
 * if a transition armed twice that (notifications): well under 500. The sweeper asks all 16 shards in
 * parallel, each for at most `limit` due items: bounded, 16 queries per sweep round.
 */
export const TIMER_SHARDS = 16;

export const timerShard = (name: string): number => shardOf(name, TIMER_SHARDS);

export const timerIndexKeys = (o: string, name: string, at: string): Record<string, string> => ({
  GSI3PK: timerPartition(timerShard(name)),
  GSI3SK: `${at}#${org(o)}#${name}`,
});

export const timerPartition = (shard: number): string => `TIMERS#${shard}`;

/**
 * GSI5, the availability index (R-2, R-3): partition = org + queue + pool + shard, sort = remaining
 * capacity descending (stored inverted), then idle longest, then agent id. Only routable agents with
 * remaining capacity have these attributes (a sparse index). Choosing an agent reads the first entries
 * of every shard in parallel and merges them by the same sort key (the best of all shards' heads is
 * the global best), so it costs AVAILABILITY_SHARDS queries of `limit` entries whatever the number of
 * agents.
 *
 * SC-1 sizing: every capacity or presence change of an agent rewrites its entry in each of its
 * queues; in the replay the big queue's one partition took 943 writes/s at 1,000 transitions/s. With
 * 8 shards (by agent id) that is 118 writes/s per shard; even at 2 index writes for each of 1,000
 * transitions/s (an entry that moves is a delete and a put in the index), 2,000 / 8 = 250 < 500.
 * A dispatch page asks each shard once, so per-shard reads equal the dispatch pages (as the single
 * partition took before), and a page reads at most 8 x `limit` entries.
 */
export const AVAILABILITY_SHARDS = 8;

export const availabilityShard = (agentId: string): number => shardOf(agentId, AVAILABILITY_SHARDS);

export const AVAILABILITY_MAX = 999_999;
/** a count as six digits, clamped to 0..AVAILABILITY_MAX, so it sorts as text */
export const padCount = (n: number): string => Math.min(Math.max(n, 0), AVAILABILITY_MAX).toString().padStart(6, '0');
const inv = (free: number): string => padCount(AVAILABILITY_MAX - Math.min(Math.max(free, 0), AVAILABILITY_MAX));

export const availabilityIndexKeys = (
  o: string,
  queueId: string,
  pool: string,
  agentId: string,
  free: number,
  idleSince: string,
  requirement = ANY_REQUIREMENT,
): Record<string, string> => ({
  GSI5PK: availabilityPartition(o, queueId, pool, availabilityShard(agentId), requirement),
  GSI5SK: `${inv(free)}#${idleSince}#${agentId}`,
});

/**
 * K-4: a queue x pool x requirement list: an agent is listed under `any` and under every requirement
 * of the queue she meets, so every entry of a partition is an agent eligible for its conversations.
 */
export const availabilityPartition = (
  o: string,
  queueId: string,
  pool: string,
  shard: number,
  requirement = ANY_REQUIREMENT,
): string => `${org(o)}#AVAIL#${queueId}#${pool}${requirementSuffix(requirement)}#${shard}`;

/** every shard of a queue x pool x requirement availability index, in shard order */
export const availabilityShards = (o: string, queueId: string, pool: string, requirement = ANY_REQUIREMENT): string[] =>
  Array.from({ length: AVAILABILITY_SHARDS }, (_, shard) =>
    availabilityPartition(o, queueId, pool, shard, requirement),
  );

/**
 * GSI6, the availability index of the other assignment methods, overloaded: the same
 * (queue, pool, requirement, shard) partitions as GSI5 under two prefixes (this type), listed only
 * while the entry is.
 * - `RR` round-robin (`AVAILRR`, on the entry item): assigned least recently first (never first), then id;
 * - `LA` least-active (`AVAILLA`, on its twin item): fewest conversations holding capacity, then idle
 *   longest, then id.
 * Same sharding and the same writes per refresh as GSI5 (the twin adds one item write), so the
 * same SC-1 sizing holds; a choice reads AVAILABILITY_SHARDS queries of `limit` entries per page.
 * Neither order has the free units first, so a page may hold agents with room for less than the
 * workstream's units: the caller skips them, within its bounded pages. (GSI6 also lists Open
 * conversations by queue x requirement, `indexPartition.openByRequirement`, K-4.)
 */
export type AssignmentOrder = 'RR' | 'LA';

export const assignmentShards = (
  order: AssignmentOrder,
  o: string,
  queueId: string,
  pool: string,
  requirement = ANY_REQUIREMENT,
): string[] => availabilityShards(o, queueId, pool, requirement).map((p) => p.replace('#AVAIL#', `#AVAIL${order}#`));

/** GSI6 keys: `rank` is the order's sort key before the agent id (last assigned; or held + idle since) */
export const assignmentIndexKeys = (
  order: AssignmentOrder,
  o: string,
  queueId: string,
  pool: string,
  agentId: string,
  rank: string,
  requirement = ANY_REQUIREMENT,
): Record<string, string> => ({
  GSI6PK: availabilityPartition(o, queueId, pool, availabilityShard(agentId), requirement).replace(
    '#AVAIL#',
    `#AVAIL${order}#`,
  ),
  GSI6SK: `${rank}#${agentId}`,
});

/** Sort keys strictly below this bound belong to agents with at least `units` free. */
export const availabilityBound = (units: number): string => (AVAILABILITY_MAX - units + 1).toString().padStart(6, '0');

/**
 * MS-4: the org's message templates, one item per event, in one partition with the version of the
 * list, as the triggers: a template PUT rewrites its item and the version together, and a
 * decision that read the list proves it current with a `config-current` check of entity `templates`.
 */
export const templateKeys = {
  template: (o: string, event: string): Key => ({ PK: `${org(o)}#TEMPLATES`, SK: `TEMPLATE#${event}` }),
  partition: (o: string): string => `${org(o)}#TEMPLATES`,
  /** the version of the org's template list: rewritten with every template PUT */
  version: (o: string): Key => ({ PK: `${org(o)}#TEMPLATES`, SK: 'VERSION' }),
} as const;
