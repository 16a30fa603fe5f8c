import { createHash } from 'node:crypto';
import * as z from 'zod/mini';
import { ValidationError } from '../../domain/errors.js';

/**
 * Paging across the shards of a list (SC-1), without DynamoDB: the store supplies one query per
 * shard, this module merges their sorted results and carries every shard's position in the cursor.
 *
 * A shard's position is one of:
 * - `null`: nothing of the shard read yet,
 * - a sort key: the shard continues after it (everything up to it was returned or filtered out),
 * - `true`: the shard is finished.
 */
export type Position = string | null | true;

/** One query of one shard: items in sort-key order, and where the shard stopped if it has more. */
export interface ShardPage<T> {
  items: T[];
  /** the sort key of the last item the query evaluated (DynamoDB's LastEvaluatedKey); absent when the shard has no more */
  last?: string;
}

export type ShardFetch<T> = (shard: number, after: string | undefined, limit: number) => Promise<ShardPage<T>>;

export interface MergeOptions {
  /**
   * The first round asks each shard for its fair share of the page (plus a margin) instead of the
   * whole page, and asks again only the shards that ran out: about `limit` items read instead of
   * shards x `limit`. Off: one round of `limit` items per shard (the fewest round trips).
   */
  share?: boolean;
  /** at most this many rounds of queries (a filter can leave shards empty but unfinished) */
  rounds: number;
}

interface Shard<T> {
  buffer: T[];
  /** where the next query of this shard starts (undefined: from the start) */
  from: string | undefined;
  /** the shard has nothing beyond its buffer */
  finished: boolean;
  /** the position after the last item this page returned from the shard */
  returned: Position;
}

/** The first round's query size per shard under `share`: 1.5x the fair share, plus 2. */
export const shareOf = (need: number, shards: number): number => Math.min(need, Math.ceil((need / shards) * 1.5) + 2);

/**
 * One page of at most `limit` items, in sort-key order across all shards (each shard's items must
 * come in ascending sort key, and sort keys must be unique across shards; they are compared as JS
 * strings, which is DynamoDB's byte order for the ASCII keys of this table). An item is returned only
 * once no shard can hold anything before it: every other unfinished shard either has a buffered item
 * after it, or stopped at a sort key after it. So the merged order is exactly the order of one sorted
 * list of all shards' items, and the positions continue it on the next page.
 */
export async function mergeShards<T>(
  start: readonly Position[],
  limit: number,
  sortKey: (item: T) => string,
  fetch: ShardFetch<T>,
  options: MergeOptions,
): Promise<{ items: T[]; positions: Position[]; rounds: number }> {
  const shards: Shard<T>[] = start.map((p) => ({
    buffer: [],
    from: typeof p === 'string' ? p : undefined,
    finished: p === true,
    returned: p,
  }));
  const items: T[] = [];
  let rounds = 0;
  while (items.length < limit && rounds < options.rounds && shards.some((s) => !s.finished || s.buffer.length)) {
    const need = limit - items.length;
    const size = options.share && rounds === 0 ? shareOf(need, shards.length) : need;
    rounds += 1;
    await Promise.all(
      shards.map(async (s, i) => {
        if (s.finished || s.buffer.length >= need) return;
        const page = await fetch(i, s.from, Math.max(1, size - s.buffer.length));
        s.buffer.push(...page.items);
        if (page.last === undefined) s.finished = true;
        else s.from = page.last;
      }),
    );
    while (items.length < limit) {
      let best: Shard<T> | undefined;
      for (const s of shards) {
        const head = s.buffer[0];
        if (head !== undefined && (!best || sortKey(head) < sortKey(best.buffer[0] as T))) best = s;
      }
      if (!best) break;
      const key = sortKey(best.buffer[0] as T);
      // a shard that ran out of buffered items but is not finished may still hold something before `key`
      if (shards.some((s) => !s.buffer.length && !s.finished && !(key < (s.from as string)))) break;
      items.push(best.buffer.shift() as T);
      best.returned = key;
    }
  }
  const positions = shards.map((s): Position => {
    if (s.buffer.length) return s.returned; // its buffered items are read again by the next page
    if (s.finished) return true;
    return s.from ?? s.returned;
  });
  return { items, positions, rounds };
}

/**
 * What a cursor may continue: a list id (a digest of the index, partitions and filters, so a cursor
 * continues only the list it came from, hence only the caller's own org: partitions start with it),
 * the list's groups (read one after the other; each group is a set of shards merged by sort key)
 * and the shape every sort key of the list has.
 */
export interface CursorShape {
  list: string;
  /** number of shards of each group */
  groups: readonly number[];
  /** whether a string is a sort key this list can hold (the store rebuilds the keys from it) */
  sortKey: (s: string) => boolean;
}

export interface ListCursor {
  /** the group being read */
  g: number;
  /** the position of each of its shards */
  s: Position[];
}

export const listId = (parts: unknown): string =>
  createHash('sha256').update(JSON.stringify(parts)).digest('base64url').slice(0, 12);

const cursorSchema = z.strictObject({
  l: z.string(),
  g: z.int().check(z.minimum(0)),
  s: z.array(z.union([z.null(), z.literal(true), z.string()])),
});

export const startOf = (shape: CursorShape, group = 0): ListCursor => ({
  g: group,
  s: Array.from({ length: shape.groups[group] ?? 0 }, () => null),
});

export function encodeCursor(shape: CursorShape, c: ListCursor): string {
  return Buffer.from(JSON.stringify({ l: shape.list, g: c.g, s: c.s })).toString('base64url');
}

/** The cursor's positions, or 400 `invalid cursor` when this list did not return it. */
export function decodeCursor(cursor: string | undefined, shape: CursorShape): ListCursor {
  if (cursor === undefined) return startOf(shape);
  const invalid = () =>
    new ValidationError('invalid cursor', [{ field: 'cursor', message: 'is not a cursor this list returned' }]);
  let parsed: z.infer<typeof cursorSchema>;
  try {
    parsed = cursorSchema.parse(JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8')));
  } catch {
    throw invalid();
  }
  if (parsed.l !== shape.list || parsed.g >= shape.groups.length || parsed.s.length !== shape.groups[parsed.g])
    throw invalid();
  if (parsed.s.every((p) => p === true)) throw invalid(); // a finished group is never handed out
  for (const p of parsed.s) if (typeof p === 'string' && !shape.sortKey(p)) throw invalid();
  return { g: parsed.g, s: parsed.s };
}
