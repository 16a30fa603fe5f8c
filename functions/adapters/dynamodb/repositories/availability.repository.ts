import { DEFAULT_ASSIGNMENT, type AssignmentMethod } from '../../../domain/model.js';
import type { AgentAvailability, AvailabilityIndex } from '../../../ports/repositories.js';
import { availabilityEntity } from '../entities.js';
import { ANY_REQUIREMENT } from '../../../domain/skills.js';
import { assignmentShards, availabilityBound, availabilityShards, keys } from '../keys.js';
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
    requirement: string = ANY_REQUIREMENT,
  ): Promise<{ agents: { agentId: string; free: number }[]; next?: string }> {
    const list =
      method === 'most-capacity'
        ? {
            index: 'GSI5' as const,
            groups: [availabilityShards(org, queueId, pool, requirement)],
            below: availabilityBound(units),
            sortKey: AVAILABILITY_SORT_KEY,
            tableKey: (sortKey: string) => availabilityEntity.key(org, queueId, pool, idOf(sortKey), requirement),
          }
        : {
            index: 'GSI6' as const,
            groups: [assignmentShards(method === 'round-robin' ? 'RR' : 'LA', org, queueId, pool, requirement)],
            sortKey: method === 'round-robin' ? ROUND_ROBIN_SORT_KEY : AVAILABILITY_SORT_KEY,
            tableKey: (sortKey: string) =>
              (method === 'round-robin' ? availabilityEntity.key : availabilityEntity.leastActiveKey)(
                org,
                queueId,
                pool,
                idOf(sortKey),
                requirement,
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

  /**
   * Writes the entries that differ from what is stored and deletes those no longer wanted (a queue,
   * pool or requirement she left): one consistent query of her own partition's entries first, so an
   * unchanged entry costs no write (and no index write).
   */
  async writeEntries(a: AgentAvailability): Promise<void> {
    const stored = await this.table.queryPrefix(
      availabilityEntity.key(a.org, '', '', a.agentId).PK,
      keys.availabilityPrefix,
    );
    const wanted = a.entries.flatMap((e) => {
      const entry = {
        org: a.org,
        agentId: a.agentId,
        idleSince: a.idleSince,
        lastAssignedAt: a.lastAssignedAt,
        active: a.active,
        ...e,
      };
      return [availabilityEntity.item(entry), availabilityEntity.leastActiveItem(entry)];
    });
    const bySk = new Map(stored.map((i) => [String(i.SK), i]));
    const keep = new Set(wanted.map((i) => String(i.SK)));
    await this.table.batchWrite([
      ...wanted.filter((i) => !sameItem(bySk.get(String(i.SK)), i)).map((Item) => ({ PutRequest: { Item } })),
      ...stored
        .filter((i) => !keep.has(String(i.SK)))
        .map((i) => ({ DeleteRequest: { Key: availabilityEntity.storedKey(i) } })),
    ]);
  }
}

/** Flat items (strings and numbers) with the same attributes and values. */
function sameItem(a: Record<string, unknown> | undefined, b: Record<string, unknown>): boolean {
  if (!a) return false;
  const ka = Object.keys(a);
  return ka.length === Object.keys(b).length && ka.every((k) => a[k] === b[k]);
}
