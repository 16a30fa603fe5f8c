import { DEFAULT_ASSIGNMENT, type AssignmentMethod } from '../../../domain/model.js';
import type { AgentAvailability, AvailabilityIndex } from '../../../ports/repositories.js';
import { availabilityEntity } from '../entities.js';
import { assignmentShards, availabilityBound, availabilityShards } from '../keys.js';
import { AVAILABILITY_SORT_KEY, idOf, ROUND_ROBIN_SORT_KEY, shardedPage } from '../sharded-query.js';
import type { Table } from '../table.js';

/**
 * The availability index (GSI5, and GSI6 for A-1's other orders): one entry per agent x queue x pool
 * (with its least-active twin) in the agent's own partition
 * (SC-1), listed in the index only while the agent is routable with room. What the entries are is
 * decided by the refresh use case (use-cases/availability.use-case.ts); this module only stores
 * and reads them.
 */
export class DynamoAvailability implements AvailabilityIndex {
  constructor(private readonly table: Table) {}

  /**
   * routable agents of a queue with room in the pool, best first by the assignment method
   * most-capacity (GSI5, only agents with `units` free: most remaining first, then idle
   * longest), round-robin or least-active (GSI6, see keys.ts). The top `limit` entries of every
   * availability shard, read in parallel and merged by that order. `after` is the `next` of the
   * previous page.
   */
  async availableAgents(
    org: string,
    queueId: string,
    pool: string,
    units: number,
    limit: number,
    after?: string,
    method: AssignmentMethod = DEFAULT_ASSIGNMENT,
  ): Promise<{ agents: { agentId: string; free: number }[]; next?: string }> {
    const list =
      method === 'most-capacity'
        ? {
            index: 'GSI5' as const,
            groups: [availabilityShards(org, queueId, pool)],
            below: availabilityBound(units),
            sortKey: AVAILABILITY_SORT_KEY,
            tableKey: (sortKey: string) => availabilityEntity.key(org, queueId, pool, idOf(sortKey)),
          }
        : {
            index: 'GSI6' as const,
            groups: [assignmentShards(method === 'round-robin' ? 'RR' : 'LA', org, queueId, pool)],
            sortKey: method === 'round-robin' ? ROUND_ROBIN_SORT_KEY : AVAILABILITY_SORT_KEY,
            tableKey: (sortKey: string) =>
              (method === 'round-robin' ? availabilityEntity.key : availabilityEntity.leastActiveKey)(
                org,
                queueId,
                pool,
                idOf(sortKey),
              ),
          };
    const page = await shardedPage(
      this.table,
      { ...list, filter: {}, share: false },
      { limit, ...(after !== undefined ? { cursor: after } : {}) },
    );
    return {
      agents: page.items.map(availabilityEntity.from),
      ...(page.nextCursor ? { next: page.nextCursor } : {}),
    };
  }

  async writeEntries(a: AgentAvailability): Promise<void> {
    const entries = a.entries.map((e) => ({
      org: a.org,
      agentId: a.agentId,
      idleSince: a.idleSince,
      lastAssignedAt: a.lastAssignedAt,
      active: a.active,
      ...e,
    }));
    await this.table.batchWrite(
      entries.flatMap((e) => [
        { PutRequest: { Item: availabilityEntity.item(e) } },
        { PutRequest: { Item: availabilityEntity.leastActiveItem(e) } },
      ]),
    );
  }
}
