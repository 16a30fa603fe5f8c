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
  /** the last sequence number consumed: where a lost iterator resumes */
  checkpoint?: string;
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

  /** One GetRecords per open shard (side by side); shards with records come back with them. */
  async read(): Promise<ShardBatch[]> {
    if (!this.opened || this.reads++ % 20 === 0 || ![...this.shards.values()].some((s) => s.iterator)) {
      await this.discover();
    }
    const open = [...this.shards.values()].filter((s) => s.iterator);
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
      const records = (out.Records ?? []) as unknown as DynamoDBRecord[];
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
  name?: string;
}

/**
 * Does what Lambda's DynamoDB Streams event source mapping does, on DynamoDB Local's stream: polls
 * every shard, hands each shard's batches to the same handler module in order, honours its batch
 * item failures (the shard resumes at the first failed record, after a backoff), and gives up on a
 * record that failed every attempt (kept in `deadLetters`) to go on with the rest.
 */
export async function startStreamPoller(
  handler: StreamLambdaHandler,
  options: StreamPollerOptions,
): Promise<StreamPoller> {
  const name = options.name ?? 'follow-ups';
  const idleMs = options.idleMs ?? 25;
  const maxAttempts = options.maxAttempts ?? 8;
  const reader = await new StreamReader(options.endpoint, options.tableName).open();
  const deadLetters: DynamoDBRecord[] = [];
  let running = true;
  let round = 0;
  /** completed rounds in a row that found nothing */
  let quietRounds = 0;

  const deliver = async ({ shardId, records }: ShardBatch): Promise<void> => {
    const given = await deliverStreamBatch(handler, records, {
      name,
      maxAttempts,
      running: () => running,
      checkpoint: (sequenceNumber) => reader.checkpoint(shardId, sequenceNumber),
    });
    deadLetters.push(...given);
  };

  const loop = (async () => {
    while (running) {
      let active = false;
      try {
        const batches = await reader.read();
        active = batches.length > 0;
        await Promise.all(batches.map(deliver));
      } catch (err) {
        if (!running) break;
        console.error(`[${name}] stream poll failed`, err);
        await sleep(250);
      }
      quietRounds = active ? 0 : quietRounds + 1;
      round++;
      if (!active) await sleep(idleMs);
    }
  })();

  return {
    deadLetters,
    async settle() {
      // two rounds in a row found nothing, and the later one started after this call
      const start = round;
      while (running && !(round - start >= 2 && quietRounds >= 2)) await sleep(idleMs);
    },
    async stop() {
      running = false;
      await loop.catch(() => undefined);
      reader.close();
    },
  };
}

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
