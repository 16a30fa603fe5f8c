import { QueryCommand } from '@aws-sdk/lib-dynamodb';
import type { ConversationFilter, PageRequest } from '../../ports/read-types.js';
import type { Key } from './keys.js';
import { decodeCursor, encodeCursor, listId, mergeShards, startOf, type CursorShape } from './sharded-pages.js';
import { TABLE_DEFINITION, type IndexDefinition, type IndexName } from './table-definition.js';
import type { Table } from './table.js';

type Item = Record<string, unknown>;

/** Query rounds per page at most (a round asks every unfinished shard of the group once, in parallel). */
const MAX_ROUNDS = 8;

/**
 * Sort keys of the conversation indexes, `<time>#<conversation id>`, and of the availability index,
 * `<inverted free>#<idle since>#<agent id>`. A cursor position must have this shape: the item's key
 * is rebuilt from its id (and the caller's org), so nothing else of the cursor reaches a key.
 */
export const CONVERSATION_SORT_KEY = /^[^#\s]{1,40}#[A-Za-z0-9_-]{1,64}$/;
export const AVAILABILITY_SORT_KEY = /^\d{6}#[^#\s]{1,40}#[A-Za-z0-9_-]{1,64}$/;
/** A-1 round-robin: last assigned + agent id */
export const ROUND_ROBIN_SORT_KEY = /^[^#\s]{1,40}#[A-Za-z0-9_-]{1,64}$/;
/** the id a sort key ends with (ids never hold `#`) */
export const idOf = (sortKey: string): string => sortKey.slice(sortKey.lastIndexOf('#') + 1);

export interface QueryPlan {
  index: IndexName;
  /** read one group after the other; the partitions of a group are shards of one list, merged by sort key */
  groups: string[][];
  /** equality filters on attributes the index key does not cover */
  filter: Partial<Record<keyof ConversationFilter, string>>;
}

/** A list paged across shards: the plan, plus how its sort keys look and which item each stands for. */
export interface ShardedList extends QueryPlan {
  /** exclusive upper bound on the sort key (the availability index's `units`) */
  below?: string;
  share: boolean;
  sortKey: RegExp;
  tableKey: (sortKey: string) => Key;
}

/**
 * Reads one page of a list whose partitions are in groups (read one group after the other) of
 * shards (read in parallel, merged by the index's sort key; see sharded-pages.ts). The cursor is
 * opaque to clients: the list's id, the group and each shard's sort-key position. Keys are rebuilt
 * from the list's own partitions and the caller's org, never taken from the cursor (RL-6), and a
 * cursor of another list, org or shape is 400 `invalid cursor`. At most MAX_ROUNDS rounds of
 * queries per page (a filter can leave shards empty): a short page then carries a cursor.
 */
export async function shardedPage(
  table: Table,
  list: ShardedList,
  page: PageRequest,
): Promise<{ items: Item[]; nextCursor?: string }> {
  const gsi = TABLE_DEFINITION.globalSecondaryIndexes.find((g) => g.indexName === list.index) as IndexDefinition;
  const shape: CursorShape = {
    list: listId([list.index, list.groups, list.filter, list.below ?? null]),
    groups: list.groups.map((g) => g.length),
    sortKey: (s) => list.sortKey.test(s) && (list.below === undefined || s < list.below),
  };
  let { g, s } = decodeCursor(page.cursor, shape);
  const items: Item[] = [];
  let rounds = MAX_ROUNDS;
  for (;;) {
    const partitions = list.groups[g] as string[];
    const merged = await mergeShards(
      s,
      page.limit - items.length,
      (i: Item) => String(i[gsi.sortKey]),
      (shard, after, limit) => queryShard(table, gsi, list, partitions[shard] as string, after, limit),
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
async function queryShard(
  table: Table,
  gsi: IndexDefinition,
  list: ShardedList,
  partition: string,
  after: string | undefined,
  limit: number,
): Promise<{ items: Item[]; last?: string }> {
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
  const out = await table.doc.send(
    new QueryCommand({
      TableName: table.name,
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
