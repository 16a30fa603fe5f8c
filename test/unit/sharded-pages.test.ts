import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  AVAILABILITY_SHARDS,
  availabilityIndexKeys,
  availabilityShard,
  availabilityShards,
  conversationIndexKeys,
  indexPartition,
  keys,
  shardOf,
  STATUS_SHARDS,
  statusShard,
  TIMER_SHARDS,
  timerIndexKeys,
  timerShard,
} from '../../functions/adapters/dynamodb/keys.js';
import {
  decodeCursor,
  encodeCursor,
  listId,
  mergeShards,
  shareOf,
  type CursorShape,
  type Position,
  type ShardFetch,
} from '../../functions/adapters/dynamodb/sharded-pages.js';
import { ValidationError } from '../../functions/domain/errors.js';

/**
 * SC-1 sharding without DynamoDB: which shard an item lands in, that merging the shards' heads
 * page by page gives exactly the order of one sorted list, and that cursors continue only their list.
 */

describe('SC-1: shard selection', () => {
  it('the shard counts are the documented ones', () => {
    expect([AVAILABILITY_SHARDS, STATUS_SHARDS, TIMER_SHARDS]).toEqual([8, 8, 16]);
  });

  it('a shard is a stable function of the id alone, pinned (changing it moves items: a migration)', () => {
    // Assess: the values the exact-key tests (transact-params) rely on
    expect(statusShard('conv1')).toBe(6);
    expect(timerShard('wrapup-release.conv1.v5.1772442300')).toBe(7);
    expect(['alice', 'bob', 'carol'].map(availabilityShard)).toEqual([6, 6, 5]);
    fc.assert(
      fc.property(fc.stringMatching(/^[A-Za-z0-9_-]{1,64}$/), fc.integer({ min: 1, max: 64 }), (id, n) => {
        const shard = shardOf(id, n);
        expect(Number.isInteger(shard) && shard >= 0 && shard < n).toBe(true);
        expect(shardOf(id, n)).toBe(shard);
      }),
    );
  });

  it('items go to the partition of their own shard, in every writer', () => {
    // Act
    const conversation = conversationIndexKeys({
      org: 'acme',
      id: 'conv1',
      queueId: 'q1',
      status: 'WrapUp',
      statusSince: '2026-03-02T09:00:00.000Z',
      createdAt: '2026-03-02T08:50:00.000Z',
      channelId: 'ch',
      threadId: 'th',
    });
    const availability = availabilityIndexKeys('acme', 'qbig', 'default', 'carol', 3, '2026-03-02T08:00:00.000Z');

    // Assess
    expect(conversation.GSI3PK).toBe('ORG#acme#STATUS#WrapUp#6');
    expect(indexPartition.statusShards('acme', 'WrapUp')[6]).toBe(conversation.GSI3PK);
    expect(availability).toEqual({
      GSI5PK: 'ORG#acme#AVAIL#qbig#default#5',
      GSI5SK: '999996#2026-03-02T08:00:00.000Z#carol',
    });
    expect(availabilityShards('acme', 'qbig', 'default')).toHaveLength(AVAILABILITY_SHARDS);
    expect(availabilityShards('acme', 'qbig', 'default')[5]).toBe(availability.GSI5PK);
    // the entry itself lives in the agent's partition, not the queue's
    expect(keys.availability('acme', 'qbig', 'default', 'carol')).toEqual({
      PK: 'ORG#acme#AGENT#carol',
      SK: 'AVAIL#qbig#default',
    });
    expect(timerIndexKeys('acme', 'wrapup-release.conv1.v5.1772442300', '2026-03-02T09:05:00.000Z').GSI3PK).toBe(
      'TIMERS#7',
    );
  });

  it('10,000 agents of one queue (or conversations, or timers) spread evenly: no shard over 1.15x its share', () => {
    // Prepare: ids as the engine makes them (sequential agent ids, ULID-like conversation ids, timer names)
    const agents = Array.from({ length: 10_000 }, (_, i) => `agent-${i.toString().padStart(6, '0')}`);
    const conversations = Array.from(
      { length: 10_000 },
      (_, i) => `01J${(1e12 + i * 7919).toString(36).toUpperCase()}`,
    );
    const timers = conversations.map((c, i) => `notify.${c}.v${i % 9}.17724${i}`);

    // Act
    const spread = (ids: string[], f: (id: string) => number, n: number): number[] => {
      const counts = Array.from({ length: n }, () => 0);
      for (const id of ids) counts[f(id)] = (counts[f(id)] ?? 0) + 1;
      return counts;
    };

    // Assess
    for (const [ids, f, n] of [
      [agents, availabilityShard, AVAILABILITY_SHARDS],
      [conversations, statusShard, STATUS_SHARDS],
      [timers, timerShard, TIMER_SHARDS],
    ] as const) {
      const counts = spread(ids, f, n);
      expect(Math.max(...counts), JSON.stringify(counts)).toBeLessThan((1.15 * ids.length) / n);
      expect(Math.min(...counts), JSON.stringify(counts)).toBeGreaterThan((0.85 * ids.length) / n);
    }
  });
});

interface Row {
  key: string;
  keep: boolean;
}

/**
 * An in-memory DynamoDB query of one shard: evaluates up to `limit` items after `after`, returns those
 * the filter keeps, and a LastEvaluatedKey whenever the limit stopped it (even if nothing follows,
 * as DynamoDB does).
 */
function memoryShards(shards: Row[][], log?: { queries: number; evaluated: number }): ShardFetch<Row> {
  return async (shard, after, limit) => {
    expect(limit).toBeGreaterThanOrEqual(1);
    const rows = (shards[shard] ?? []).filter((r) => after === undefined || r.key > after);
    const evaluated = rows.slice(0, limit);
    if (log) {
      log.queries += 1;
      log.evaluated += evaluated.length;
    }
    const last = evaluated.length === limit ? evaluated[evaluated.length - 1]?.key : undefined;
    return { items: evaluated.filter((r) => r.keep), ...(last !== undefined ? { last } : {}) };
  };
}

/** Walks every page from the start; returns the keys in the order the pages gave them. */
async function walk(
  shards: Row[][],
  limit: number,
  options: { share: boolean; rounds: number },
  log?: { queries: number; evaluated: number; pages: number },
): Promise<string[]> {
  const fetch = memoryShards(shards, log);
  let positions: Position[] = shards.map(() => null);
  const out: string[] = [];
  for (let page = 0; page < 10_000; page++) {
    const r = await mergeShards(positions, limit, (row) => row.key, fetch, options);
    expect(r.items.length).toBeLessThanOrEqual(limit);
    expect(r.rounds).toBeLessThanOrEqual(options.rounds);
    out.push(...r.items.map((row) => row.key));
    if (log) log.pages += 1;
    if (r.positions.every((p) => p === true)) return out;
    // every page moves on: a position after (or at) where it started, and some shard further, or items
    expect(r.items.length > 0 || JSON.stringify(r.positions) !== JSON.stringify(positions)).toBe(true);
    positions = r.positions;
  }
  throw new Error('no end');
}

/** Unique sort keys dealt to shards (each shard sorted, as a partition is), and which the filter keeps. */
const shardedRows = fc
  .record({
    shards: fc.integer({ min: 1, max: 9 }),
    rows: fc.uniqueArray(fc.record({ key: fc.stringMatching(/^[0-9a-f]{1,6}$/), keep: fc.boolean() }), {
      selector: (r) => r.key,
      maxLength: 120,
    }),
  })
  .map(({ shards, rows }) => {
    const out: Row[][] = Array.from({ length: shards }, () => []);
    for (const r of rows) out[shardOf(r.key, shards)]?.push(r);
    for (const s of out) s.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
    return { shards: out, rows };
  });

describe('SC-1 / R-3: merging shard heads gives the order of one sorted list', () => {
  it('property: page by page, every kept item once, in global sort order (any shards, limit, share, filter)', async () => {
    await fc.assert(
      fc.asyncProperty(
        shardedRows,
        fc.integer({ min: 1, max: 12 }),
        fc.boolean(),
        fc.integer({ min: 1, max: 4 }),
        async ({ shards, rows }, limit, share, rounds) => {
          // Act
          const seen = await walk(shards, limit, { share, rounds });

          // Assess
          const expected = rows
            .filter((r) => r.keep)
            .map((r) => r.key)
            .sort();
          expect(seen).toEqual(expected);
        },
      ),
      { numRuns: 300 },
    );
  });

  it('property: without a filter, the first page is exactly the global top `limit` (the best agents of all shards), in one round', async () => {
    await fc.assert(
      fc.asyncProperty(shardedRows, fc.integer({ min: 1, max: 20 }), async ({ shards, rows }, limit) => {
        // Prepare
        const all = shards.map((s) => s.map((r) => ({ ...r, keep: true })));
        const log = { queries: 0, evaluated: 0 };

        // Act
        const page = await mergeShards(
          all.map(() => null),
          limit,
          (r) => r.key,
          memoryShards(all, log),
          { share: false, rounds: 2 },
        );

        // Assess: the global best, one query per shard, at most shards x limit entries read
        expect(page.items.map((r) => r.key)).toEqual(
          rows
            .map((r) => r.key)
            .sort()
            .slice(0, limit),
        );
        expect(page.rounds).toBe(1);
        expect(log.queries).toBe(all.length);
        expect(log.evaluated).toBeLessThanOrEqual(all.length * limit);
      }),
      { numRuns: 300 },
    );
  });

  it('share: a page of 50 over 8 even shards reads about the page, not 8 pages', async () => {
    // Prepare: 1,000 rows over 8 shards
    const rows = Array.from({ length: 1000 }, (_, i) => ({ key: i.toString().padStart(4, '0'), keep: true }));
    const shards: Row[][] = Array.from({ length: 8 }, () => []);
    for (const r of rows) shards[shardOf(r.key, 8)]?.push(r);
    const shared = { queries: 0, evaluated: 0, pages: 0 };
    const whole = { queries: 0, evaluated: 0, pages: 0 };

    // Act
    const a = await walk(shards, 50, { share: true, rounds: 8 }, shared);
    const b = await walk(shards, 50, { share: false, rounds: 8 }, whole);

    // Assess
    expect(a).toEqual(rows.map((r) => r.key));
    expect(b).toEqual(a);
    expect(shareOf(50, 8)).toBe(12);
    expect(shared.evaluated / shared.pages).toBeLessThan(2 * 50);
    expect(whole.evaluated / whole.pages).toBeGreaterThan(4 * 50);
  });
});

describe('RL-4 / RL-6: cursors of sharded lists', () => {
  const shape: CursorShape = {
    list: listId(['GSI3', [['ORG#acme#STATUS#Open#0', 'ORG#acme#STATUS#Open#1']], {}, null]),
    groups: [2, 3],
    sortKey: (s) => /^\d{4}#[a-z]+$/.test(s),
  };
  const invalid = (cursor: string) => {
    try {
      decodeCursor(cursor, shape);
    } catch (err) {
      expect(err).toBeInstanceOf(ValidationError);
      expect((err as ValidationError).message).toBe('invalid cursor');
      return true;
    }
    return false;
  };
  const raw = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');

  it('round trip: what a page hands out is what the next page continues from', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 1 }).chain((g) =>
          fc.tuple(
            fc.constant(g),
            fc
              .array(fc.oneof(fc.constant(null), fc.constant(true as const), fc.stringMatching(/^\d{4}#[a-z]{1,8}$/)), {
                minLength: shape.groups[g] as number,
                maxLength: shape.groups[g] as number,
              })
              .filter((s) => !s.every((p) => p === true)),
          ),
        ),
        ([g, s]) => {
          expect(decodeCursor(encodeCursor(shape, { g, s }), shape)).toEqual({ g, s });
        },
      ),
    );
    expect(decodeCursor(undefined, shape)).toEqual({ g: 0, s: [null, null] });
  });

  it('API: the longest cursor a sharded list can hand out fits the 2048 characters a cursor may have', () => {
    // Prepare: every shard of a status list after a sort key of the longest shape (a 64-character id)
    const longest = `2026-03-02T09:00:00.000000000Z#${'x'.repeat(64)}`;
    const status: CursorShape = { list: listId(['GSI3']), groups: [STATUS_SHARDS], sortKey: () => true };

    // Act
    const cursor = encodeCursor(status, { g: 0, s: Array.from({ length: STATUS_SHARDS }, () => longest) });

    // Assess
    expect(cursor.length).toBeLessThanOrEqual(2048);
    expect(decodeCursor(cursor, status).s).toHaveLength(STATUS_SHARDS);
  });

  it('tampered, foreign or malformed cursors are 400 invalid cursor', () => {
    const good = encodeCursor(shape, { g: 1, s: [null, '0001#ab', true] });
    const other: CursorShape = { ...shape, list: listId(['GSI3', [['ORG#other#STATUS#Open#0']], {}, null]) };
    const cases = [
      'not-a-cursor',
      '%%%',
      raw({ p: 0, k: { PK: 'ORG#other#CONV#x', SK: 'CONV' } }), // the old shape
      raw({ p: 99 }),
      encodeCursor(other, { g: 1, s: [null, '0001#ab', true] }), // another list (another org's, filters, index)
      raw({ l: shape.list, g: 2, s: [null] }), // no such group
      raw({ l: shape.list, g: 0, s: [null, null, null] }), // not that group's shard count
      raw({ l: shape.list, g: 1, s: [null, 'ORG#other#CONV#x', true] }), // not a sort key of the list
      raw({ l: shape.list, g: 1, s: [null, 5, true] }),
      raw({ l: shape.list, g: 0, s: [true, true] }), // a finished group is never handed out
      raw({ l: shape.list, g: -1, s: [null, null] }),
      raw({ l: shape.list, g: 0, s: [null, null], k: {} }), // unknown fields
    ];

    // Assess
    expect(invalid(good)).toBe(false);
    for (const c of cases) expect(invalid(c), c).toBe(true);
  });

  it('a flipped character anywhere makes a cursor invalid or another valid position of the same list, never a crash', () => {
    const good = encodeCursor(shape, { g: 1, s: ['0001#ab', '0002#cd', null] });
    fc.assert(
      fc.property(fc.integer({ min: 0, max: good.length - 1 }), fc.integer({ min: 0, max: 63 }), (at, c) => {
        const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
        const tampered = good.slice(0, at) + alphabet[c] + good.slice(at + 1);
        try {
          const decoded = decodeCursor(tampered, shape);
          expect(decoded.s).toHaveLength(shape.groups[decoded.g] as number);
          for (const p of decoded.s) if (typeof p === 'string') expect(shape.sortKey(p)).toBe(true);
        } catch (err) {
          expect(err).toBeInstanceOf(ValidationError);
        }
      }),
    );
  });
});
