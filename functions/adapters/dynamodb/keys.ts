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
  channel: (o: string, id: string): Key => ({ PK: `${org(o)}#CHANNEL#${id}`, SK: 'CHANNEL' }),
  settings: (o: string): Key => ({ PK: `${org(o)}#SETTINGS`, SK: 'SETTINGS' }),
  /** a channel thread's current conversation */
  thread: (o: string, channelId: string, threadId: string): Key => ({
    PK: `${org(o)}#THREAD#${channelId}#${threadId}`,
    SK: 'THREAD',
  }),
  /** RL-1: an inbound event already applied (expires with the table's TTL) */
  receipt: (o: string, key: string): Key => ({ PK: `${org(o)}#RECEIPT#${key}`, SK: 'RECEIPT' }),
  /** queue membership, so the agents of a queue are read without touching other queues' agents */
  member: (o: string, queueId: string, agentId: string): Key => ({
    PK: `${org(o)}#QUEUE#${queueId}`,
    SK: `MEMBER#${agentId}`,
  }),
  memberPrefix: 'MEMBER#',
  /** the transactional timer outbox (ARCHITECTURE Timers) */
  timer: (o: string, name: string): Key => ({ PK: `${org(o)}#TIMER#${name}`, SK: 'TIMER' }),
  /** one availability entry per queue x pool x agent, beside the queue's members */
  availability: (o: string, queueId: string, pool: string, agentId: string): Key => ({
    PK: `${org(o)}#QUEUE#${queueId}`,
    SK: `AVAIL#${pool}#${agentId}`,
  }),
  /** identification lookups (a normalized phone or email -> the contacts and accounts holding it) */
  lookup: (o: string, field: 'phone' | 'email', value: string, contactId: string): Key => ({
    PK: `${org(o)}#LOOKUP#${field}#${value}`,
    SK: `CONTACT#${contactId}`,
  }),
  lookupPartition: (o: string, field: 'phone' | 'email', value: string): string => `${org(o)}#LOOKUP#${field}#${value}`,
  /** M-3: the org's triggers in one partition (read by actions that can fire them) */
  trigger: (o: string, id: string): Key => ({ PK: `${org(o)}#TRIGGERS`, SK: `TRIGGER#${id}` }),
  triggersPartition: (o: string): string => `${org(o)}#TRIGGERS`,
  /** E-3: internal notes beside their conversation */
  note: (o: string, conversationId: string, id: string): Key => ({
    PK: `${org(o)}#CONV#${conversationId}`,
    SK: `NOTE#${id}`,
  }),
  notePrefix: 'NOTE#',
  contact: (o: string, id: string): Key => ({ PK: `${org(o)}#CONTACT#${id}`, SK: 'CONTACT' }),
  /**
   * The one key that does not start with an org: a webhook names only its channel, so the channel
   * id is registered globally to find its org and secret. Registration is conditioned on the org,
   * so no org can claim another org's channel id.
   */
  channelRegistration: (channelId: string): Key => ({ PK: `CHANNELREG#${channelId}`, SK: 'CHANNELREG' }),
} as const;

/**
 * Index keys of a conversation item. Each GSI serves a read of API.md without a scan:
 * - GSI1 queue x status, oldest first: open items of a queue, lists by queue and status
 * - GSI2 primary agent x state: my work items, lists by agent
 * - GSI3 org x status: supervisor lists by status (S-6)
 * - GSI4 channel thread: thread -> conversations, newest last
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
}): Record<string, string> => {
  const state = c.status === 'Closed' ? 'closed' : 'open';
  const byCreation = `${c.createdAt}#${c.id}`;
  return {
    GSI1PK: `${org(c.org)}#QUEUE#${c.queueId}#${c.status}`,
    GSI1SK: `${c.statusSince}#${c.id}`,
    ...(c.primaryAgentId && c.primaryKind !== 'external'
      ? { GSI2PK: `${org(c.org)}#AGENT#${c.primaryAgentId}#${state}`, GSI2SK: byCreation }
      : {}),
    GSI3PK: `${org(c.org)}#STATUS#${c.status}`,
    GSI3SK: byCreation,
    GSI4PK: `${org(c.org)}#THREAD#${c.channelId}#${c.threadId}`,
    GSI4SK: byCreation,
  };
};

export const indexPartition = {
  /** agent profiles of an org (GSI3), for org-wide presence refreshes (P-5) */
  agents: (o: string): string => `${org(o)}#AGENTS`,
  queueStatus: (o: string, queueId: string, status: string): string => `${org(o)}#QUEUE#${queueId}#${status}`,
  agentState: (o: string, agentId: string, state: 'open' | 'closed'): string => `${org(o)}#AGENT#${agentId}#${state}`,
  status: (o: string, status: string): string => `${org(o)}#STATUS#${status}`,
  thread: (o: string, channelId: string, threadId: string): string => `${org(o)}#THREAD#${channelId}#${threadId}`,
};

/**
 * Timer items share GSI3 with the status lists (index overloading): partition `TIMERS#<shard>`,
 * sorted by due time, so the sweeper reads only what is due. These index partitions are the one
 * place org-less keys exist: the sweeper serves every org, and reads each item's own org from it.
 */
export const TIMER_SHARDS = 4;

export const timerShard = (name: string): number => {
  let h = 0;
  for (const ch of name) h = (h * 31 + ch.charCodeAt(0)) >>> 0;
  return h % TIMER_SHARDS;
};

export const timerIndexKeys = (o: string, name: string, at: string): Record<string, string> => ({
  GSI3PK: `TIMERS#${timerShard(name)}`,
  GSI3SK: `${at}#${org(o)}#${name}`,
});

export const timerPartition = (shard: number): string => `TIMERS#${shard}`;

/**
 * GSI5, the availability index: partition = org + queue + pool, sort = remaining capacity
 * descending (stored inverted), then idle longest, then agent id. Only routable agents with
 * remaining capacity have these attributes (a sparse index), so choosing an agent reads the first
 * entries of one partition whatever the number of agents.
 */
export const AVAILABILITY_MAX = 999_999;
const inv = (free: number): string =>
  (AVAILABILITY_MAX - Math.min(Math.max(free, 0), AVAILABILITY_MAX)).toString().padStart(6, '0');

export const availabilityIndexKeys = (
  o: string,
  queueId: string,
  pool: string,
  agentId: string,
  free: number,
  idleSince: string,
): Record<string, string> => ({
  GSI5PK: availabilityPartition(o, queueId, pool),
  GSI5SK: `${inv(free)}#${idleSince}#${agentId}`,
});

export const availabilityPartition = (o: string, queueId: string, pool: string): string =>
  `${org(o)}#AVAIL#${queueId}#${pool}`;

/** Sort keys strictly below this bound belong to agents with at least `units` free. */
export const availabilityBound = (units: number): string => (AVAILABILITY_MAX - units + 1).toString().padStart(6, '0');
