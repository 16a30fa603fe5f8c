import { DescribeTableCommand, DynamoDBClient } from '@aws-sdk/client-dynamodb';
import {
  DescribeStreamCommand,
  DynamoDBStreamsClient,
  ExpiredIteratorException,
  GetRecordsCommand,
  GetShardIteratorCommand,
  TrimmedDataAccessException,
  type ShardIteratorType,
} from '@aws-sdk/client-dynamodb-streams';
import type { Context, DynamoDBBatchResponse, DynamoDBRecord, DynamoDBStreamEvent } from 'aws-lambda';
import { setTimeout as sleep } from 'node:timers/promises';
import { lambdaContext } from './http-server.js';

export type StreamLambdaHandler = (event: DynamoDBStreamEvent, context: Context) => Promise<DynamoDBBatchResponse>;

interface Shard {
  id: string;
  iterator: string | undefined;
  /** the last sequence number consumed (every record up to it is done): where a lost iterator resumes */
  checkpoint?: string;
  /** the last sequence number handed out: records up to it are not handed out again */
  lastRead?: string;
}

export interface ShardBatch {
  shardId: string;
  records: DynamoDBRecord[];
}

/**
 * A reader of a table's stream on DynamoDB Local, from the moment it is opened: every open shard
 * from its latest position, and every shard found later (a split) from its beginning, so no change
 * committed after `open()` is missed. Records come per shard, in order.
 */
export class StreamReader {
  private readonly client: DynamoDBStreamsClient;
  private readonly shards = new Map<string, Shard>();
  private streamArn: string | undefined;
  private opened = false;
  private reads = 0;

  constructor(
    private readonly endpoint: string,
    private readonly tableName: string,
    private readonly batchSize = 100,
  ) {
    this.client = new DynamoDBStreamsClient({
      endpoint,
      region: 'us-east-1',
      credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
    });
  }

  async open(): Promise<this> {
    await this.discover();
    return this;
  }

  /**
   * One GetRecords per open shard (side by side); shards with records come back with them. `skip`
   * leaves a shard unread this time (its consumer is still busy with what it has).
   */
  async read(options: { skip?: (shardId: string) => boolean } = {}): Promise<ShardBatch[]> {
    if (!this.opened || this.reads++ % 20 === 0 || ![...this.shards.values()].some((s) => s.iterator)) {
      await this.discover();
    }
    const open = [...this.shards.values()].filter((s) => s.iterator && !options.skip?.(s.id));
    const batches = await Promise.all(open.map((s) => this.readShard(s)));
    return batches.filter((b): b is ShardBatch => !!b && b.records.length > 0);
  }

  /** Records up to `sequenceNumber` are consumed (a lost iterator resumes after it). */
  checkpoint(shardId: string, sequenceNumber: string | undefined): void {
    const shard = this.shards.get(shardId);
    if (shard && sequenceNumber) shard.checkpoint = sequenceNumber;
  }

  close(): void {
    this.client.destroy();
  }

  private async readShard(shard: Shard): Promise<ShardBatch | undefined> {
    try {
      const out = await this.client.send(
        new GetRecordsCommand({ ShardIterator: shard.iterator, Limit: this.batchSize }),
      );
      shard.iterator = out.NextShardIterator;
      // after a lost iterator the shard is read again from its checkpoint: records handed out since
      // (still being delivered by a consumer that reads ahead) are not handed out twice
      const records = ((out.Records ?? []) as unknown as DynamoDBRecord[]).filter(
        (r) => shard.lastRead === undefined || later(seq(r), shard.lastRead),
      );
      const last = records.at(-1);
      if (last) shard.lastRead = seq(last);
      return { shardId: shard.id, records };
    } catch (err) {
      if (!(err instanceof ExpiredIteratorException || err instanceof TrimmedDataAccessException)) throw err;
      shard.iterator = shard.checkpoint
        ? await this.iterator(shard.id, 'AFTER_SEQUENCE_NUMBER', shard.checkpoint)
        : await this.iterator(shard.id, 'TRIM_HORIZON');
      return undefined;
    }
  }

  private async discover(): Promise<void> {
    this.streamArn ??= await latestStreamArn(this.endpoint, this.tableName);
    let start: string | undefined;
    do {
      const out = await this.client.send(
        new DescribeStreamCommand({ StreamArn: this.streamArn, ...(start ? { ExclusiveStartShardId: start } : {}) }),
      );
      for (const s of out.StreamDescription?.Shards ?? []) {
        if (!s.ShardId || this.shards.has(s.ShardId)) continue;
        const closed = s.SequenceNumberRange?.EndingSequenceNumber !== undefined;
        // shards closed before we opened hold only changes from before: nothing to read there
        if (!this.opened && closed) {
          this.shards.set(s.ShardId, { id: s.ShardId, iterator: undefined });
          continue;
        }
        const type: ShardIteratorType = this.opened ? 'TRIM_HORIZON' : 'LATEST';
        this.shards.set(s.ShardId, { id: s.ShardId, iterator: await this.iterator(s.ShardId, type) });
      }
      start = out.StreamDescription?.LastEvaluatedShardId;
    } while (start);
    this.opened = true;
  }

  private async iterator(shardId: string, type: ShardIteratorType, sequenceNumber?: string) {
    const out = await this.client.send(
      new GetShardIteratorCommand({
        StreamArn: this.streamArn,
        ShardId: shardId,
        ShardIteratorType: type,
        ...(sequenceNumber ? { SequenceNumber: sequenceNumber } : {}),
      }),
    );
    return out.ShardIterator;
  }
}

export interface StreamPoller {
  /** resolves once every change committed before the call, and every change its follow-ups made, was handled */
  settle(): Promise<void>;
  stop(): Promise<void>;
  /** records that failed every retry (Lambda would send their metadata to the on-failure destination) */
  readonly deadLetters: DynamoDBRecord[];
}

export interface StreamPollerOptions {
  endpoint: string;
  tableName: string;
  /** pause after a round that found nothing (Lambda polls each shard 4 times a second) */
  idleMs?: number;
  /** attempts of one batch before its failed record is given up (Lambda's MaximumRetryAttempts) */
  maxAttempts?: number;
  /** batches of one shard delivered at once (Lambda's ParallelizationFactor; the stack sets 4) */
  parallelization?: number;
  /** records per batch (the stack's BatchSize) */
  batchSize?: number;
  name?: string;
}

/** Records of a shard read but not yet delivered, past which the shard is not read further for now. */
const READ_AHEAD_BATCHES = 4;

/**
 * Does what Lambda's DynamoDB Streams event source mapping does, on DynamoDB Local's stream: polls
 * every shard and hands its records to the same handler module, up to `parallelization` batches of
 * a shard at once (ParallelizationFactor): the records of one partition key always go to the same
 * lane, in order, and a lane delivers one batch at a time, so each item's changes are handled in the
 * order they committed, as Lambda guarantees. It honours the handler's batch item failures (the lane
 * resumes at the first failed record, after a backoff: `deliverStreamBatch`), and gives up on a
 * record that failed every attempt (kept in `deadLetters`) to go on with the rest. The shard's
 * checkpoint only moves past records whose batch finished: a record still being delivered (or
 * waiting behind a failing one) keeps it where it is, whatever the other lanes did meanwhile.
 */
export async function startStreamPoller(
  handler: StreamLambdaHandler,
  options: StreamPollerOptions,
): Promise<StreamPoller> {
  const name = options.name ?? 'follow-ups';
  const idleMs = options.idleMs ?? 25;
  const maxAttempts = options.maxAttempts ?? 8;
  const lanesPerShard = Math.max(1, options.parallelization ?? 4);
  const batchSize = options.batchSize ?? 100;
  const reader = await new StreamReader(options.endpoint, options.tableName, batchSize).open();
  const deadLetters: DynamoDBRecord[] = [];
  const shards = new Map<string, ShardLanes>();
  let running = true;
  let round = 0;
  /** completed rounds in a row that found nothing, with nothing left to deliver */
  let quietRounds = 0;

  const lanesOf = (shardId: string): ShardLanes => {
    let s = shards.get(shardId);
    if (!s) {
      s = new ShardLanes(lanesPerShard, (sequenceNumber) => reader.checkpoint(shardId, sequenceNumber));
      shards.set(shardId, s);
    }
    return s;
  };
  const deliver = (shard: ShardLanes, lane: Lane): void => {
    if (!running || lane.busy || !lane.queue.length) return;
    lane.busy = (async () => {
      while (running && lane.queue.length) {
        const batch = lane.queue.splice(0, batchSize);
        let from = 0;
        const given = await deliverStreamBatch(handler, batch, {
          name,
          maxAttempts,
          running: () => running,
          // every record of the batch up to this one is done
          checkpoint: (sequenceNumber) => {
            const to = batch.findIndex((r, i) => i >= from && seq(r) === sequenceNumber) + 1;
            shard.done(batch.slice(from, to));
            from = Math.max(from, to);
          },
        });
        deadLetters.push(...given);
      }
    })()
      .catch((err: unknown) => console.error(`[${name}] stream delivery failed`, err))
      .finally(() => {
        lane.busy = undefined;
        deliver(shard, lane);
      });
  };
  const pending = (): boolean => [...shards.values()].some((s) => s.pending > 0);

  const loop = (async () => {
    while (running) {
      let active = false;
      try {
        const batches = await reader.read({
          skip: (shardId) => (shards.get(shardId)?.pending ?? 0) >= READ_AHEAD_BATCHES * batchSize * lanesPerShard,
        });
        for (const { shardId, records } of batches) {
          const shard = lanesOf(shardId);
          for (const lane of shard.add(records)) deliver(shard, lane);
          active = true;
        }
      } catch (err) {
        if (!running) break;
        console.error(`[${name}] stream poll failed`, err);
        await sleep(250);
      }
      quietRounds = active || pending() ? 0 : quietRounds + 1;
      round++;
      if (!active) await sleep(idleMs);
    }
  })();

  return {
    deadLetters,
    async settle() {
      // two rounds in a row found nothing with nothing left to deliver, and the later one started after this call
      const start = round;
      while (running && !(round - start >= 2 && quietRounds >= 2)) await sleep(idleMs);
    },
    async stop() {
      running = false;
      await loop.catch(() => undefined);
      await Promise.all([...shards.values()].flatMap((s) => s.lanes.map((l) => l.busy)));
      reader.close();
    },
  };
}

interface Lane {
  queue: DynamoDBRecord[];
  /** the lane's delivery, while it runs */
  busy?: Promise<void> | undefined;
}

/**
 * One shard's records between the read and the end of their delivery: the lanes (a partition key
 * always maps to the same one) and the checkpoint, the last record before which every record's
 * batch is done.
 */
export class ShardLanes {
  readonly lanes: Lane[];
  /** sequence numbers in shard order, from the first not done yet */
  private order: string[] = [];
  private head = 0;
  private readonly finished = new Set<string>();

  constructor(
    lanes: number,
    private readonly checkpoint: (sequenceNumber: string) => void,
  ) {
    this.lanes = Array.from({ length: lanes }, () => ({ queue: [] }));
  }

  /** records read from the shard, in order; returns the lanes that got some */
  add(records: readonly DynamoDBRecord[]): Lane[] {
    const touched = new Set<Lane>();
    for (const r of records) {
      this.order.push(seq(r));
      const lane = this.lanes[hash32(partitionKeyOf(r)) % this.lanes.length] as Lane;
      lane.queue.push(r);
      touched.add(lane);
    }
    return [...touched];
  }

  /** records of the shard read and not done yet */
  get pending(): number {
    return this.order.length - this.head;
  }

  /** these records' delivery is over (handled, or given up): the checkpoint moves past them once all before them are */
  done(records: readonly DynamoDBRecord[]): void {
    for (const r of records) this.finished.add(seq(r));
    let moved: string | undefined;
    while (this.head < this.order.length && this.finished.has(this.order[this.head] as string)) {
      moved = this.order[this.head] as string;
      this.finished.delete(moved);
      this.head++;
    }
    if (this.head > 1024) {
      this.order = this.order.slice(this.head);
      this.head = 0;
    }
    if (moved) this.checkpoint(moved);
  }
}

/** The partition key of a record's item (its first key attribute, PK in this table). */
function partitionKeyOf(r: DynamoDBRecord): string {
  const keys = (r.dynamodb?.Keys ?? {}) as Record<string, { S?: string; N?: string; B?: unknown } | undefined>;
  const pk = keys.PK ?? Object.values(keys)[0];
  return String(pk?.S ?? pk?.N ?? JSON.stringify(pk ?? ''));
}

/** FNV-1a: a stable spread of partition keys over the lanes. */
function hash32(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

/** Stream sequence numbers are decimal strings of growing value (not of equal length). */
const later = (a: string, b: string): boolean => (a.length !== b.length ? a.length > b.length : a > b);

const seq = (r: DynamoDBRecord | undefined): string => r?.dynamodb?.SequenceNumber ?? '';

export interface DeliveryOptions {
  name?: string;
  /** attempts of one batch before its first failed record is given up (Lambda's MaximumRetryAttempts + 1) */
  maxAttempts?: number;
  /** pause before attempt n (default: 20 ms doubling, at most 1 s) */
  backoffMs?: (attempt: number) => number;
  running?: () => boolean;
  /** every record up to this one is done */
  checkpoint?: (sequenceNumber: string) => void;
  /** where a failed delivery is reported (default: console.error) */
  report?: (message: string, err?: unknown) => void;
}

/**
 * Lambda's retry semantics for one shard's batch: the handler gets the batch; from the first record
 * it reports failed (or the whole batch, if it throws), the rest is delivered again after a backoff,
 * until it passes or that record has failed every attempt: it is then given up (returned) and the
 * rest goes on. Records before a failure are never delivered again; records after it are.
 */
export async function deliverStreamBatch(
  handler: StreamLambdaHandler,
  records: DynamoDBRecord[],
  options: DeliveryOptions = {},
): Promise<DynamoDBRecord[]> {
  const name = options.name ?? 'follow-ups';
  const maxAttempts = options.maxAttempts ?? 8;
  const backoff = options.backoffMs ?? ((n: number) => Math.min(1000, 20 * 2 ** n));
  const report = options.report ?? ((message: string, err?: unknown) => console.error(message, err ?? ''));
  const given: DynamoDBRecord[] = [];
  let pending = records;
  for (let attempt = 1; pending.length && (options.running?.() ?? true); attempt++) {
    const failedAt = await failedRecord(handler, pending, name, report);
    const index =
      failedAt === undefined
        ? pending.length
        : Math.max(
            0,
            pending.findIndex((r) => seq(r) === failedAt),
          );
    if (index > 0) options.checkpoint?.(seq(pending[index - 1]));
    pending = pending.slice(index);
    if (!pending.length) break;
    if (attempt >= maxAttempts) {
      report(`[${name}] a stream record failed ${attempt} times; giving up on it ${seq(pending[0])}`);
      given.push(pending[0] as DynamoDBRecord);
      options.checkpoint?.(seq(pending[0]));
      pending = pending.slice(1);
      attempt = 0;
      continue;
    }
    await sleep(backoff(attempt));
  }
  return given;
}

async function failedRecord(
  handler: StreamLambdaHandler,
  batch: DynamoDBRecord[],
  name: string,
  report: (message: string, err?: unknown) => void,
): Promise<string | undefined> {
  try {
    const res = await handler({ Records: batch }, lambdaContext(name));
    const failed = new Set((res?.batchItemFailures ?? []).map((f) => f.itemIdentifier));
    return batch.find((r) => failed.has(seq(r)))?.dynamodb?.SequenceNumber;
  } catch (err) {
    report(`[${name}] handler threw; the batch will be delivered again`, err);
    return seq(batch[0]);
  }
}

async function latestStreamArn(endpoint: string, tableName: string): Promise<string> {
  const ddb = new DynamoDBClient({
    endpoint,
    region: 'us-east-1',
    credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
  });
  try {
    const out = await ddb.send(new DescribeTableCommand({ TableName: tableName }));
    const arn = out.Table?.LatestStreamArn;
    if (!arn) throw new Error(`table ${tableName} has no stream: create it from the table definition`);
    return arn;
  } finally {
    ddb.destroy();
  }
}
