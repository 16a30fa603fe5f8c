import type { AgentAvailability, AvailabilityIndex } from '../../../ports/repositories.js';
import { availabilityEntity } from '../entities.js';
import { availabilityBound, availabilityShards } from '../keys.js';
import { AVAILABILITY_SORT_KEY, idOf, shardedPage } from '../sharded-query.js';
import type { Table } from '../table.js';

/**
 * The availability index (GSI5): one entry per agent x queue x pool in the agent's own partition
 * (SC-1), listed in the index only while the agent is routable with room. What the entries are is
 * decided by the refresh use case (use-cases/availability.use-case.ts); this module only stores
 * and reads them.
 */
export class DynamoAvailability implements AvailabilityIndex {
  constructor(private readonly table: Table) {}

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
    const page = await shardedPage(
      this.table,
      {
        index: 'GSI5',
        groups: [availabilityShards(org, queueId, pool)],
        filter: {},
        below: availabilityBound(units),
        share: false,
        sortKey: AVAILABILITY_SORT_KEY,
        tableKey: (sortKey) => availabilityEntity.key(org, queueId, pool, idOf(sortKey)),
      },
      { limit, ...(after !== undefined ? { cursor: after } : {}) },
    );
    return {
      agents: page.items.map(availabilityEntity.from),
      ...(page.nextCursor ? { next: page.nextCursor } : {}),
    };
  }

  async writeEntries(a: AgentAvailability): Promise<void> {
    await this.table.batchWrite(
      a.entries.map((e) => ({
        PutRequest: { Item: availabilityEntity.item({ org: a.org, agentId: a.agentId, idleSince: a.idleSince, ...e }) },
      })),
    );
  }
}
