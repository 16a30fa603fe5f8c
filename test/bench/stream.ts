import {
  DescribeStreamCommand,
  DynamoDBStreamsClient,
  GetRecordsCommand,
  GetShardIteratorCommand,
  ListStreamsCommand,
  type _Record as StreamRecord,
  type Shard,
} from '@aws-sdk/client-dynamodb-streams';
import { setTimeout as sleep } from 'node:timers/promises';

/**
 * Reads a table's DynamoDB Stream (DynamoDB Local serves the Streams API on the same endpoint) from
 * the moment `start` is called: open shards from LATEST, shards that appear later from TRIM_HORIZON.
 * Polls in the background so iterators never go stale; `stop` drains what is left.
 */
export class StreamReader {
  private readonly client: DynamoDBStreamsClient;
  private arn = '';
  private readonly iterators = new Map<string, string | undefined>();
  private readonly known = new Set<string>();
  private running = false;
  private loop: Promise<void> = Promise.resolve();
  records = 0;

  constructor(
    endpoint: string,
    private readonly table: string,
    private readonly onRecord: (r: StreamRecord) => void,
  ) {
    this.client = new DynamoDBStreamsClient({
      endpoint,
      region: 'us-east-1',
      credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
    });
  }

  private async shards(): Promise<Shard[]> {
    const out: Shard[] = [];
    let start: string | undefined;
    do {
      const d = await this.client.send(
        new DescribeStreamCommand({ StreamArn: this.arn, ...(start ? { ExclusiveStartShardId: start } : {}) }),
      );
      out.push(...(d.StreamDescription?.Shards ?? []));
      start = d.StreamDescription?.LastEvaluatedShardId;
    } while (start);
    return out;
  }

  private async iterator(shardId: string, type: 'LATEST' | 'TRIM_HORIZON'): Promise<string | undefined> {
    const r = await this.client.send(
      new GetShardIteratorCommand({ StreamArn: this.arn, ShardId: shardId, ShardIteratorType: type }),
    );
    return r.ShardIterator;
  }

  async start(): Promise<void> {
    const streams = await this.client.send(new ListStreamsCommand({ TableName: this.table }));
    const arn = streams.Streams?.[0]?.StreamArn;
    if (!arn) throw new Error(`table ${this.table} has no stream`);
    this.arn = arn;
    for (const s of await this.shards()) {
      const id = s.ShardId as string;
      this.known.add(id);
      if (!s.SequenceNumberRange?.EndingSequenceNumber) this.iterators.set(id, await this.iterator(id, 'LATEST'));
    }
    this.running = true;
    this.loop = (async () => {
      while (this.running) if ((await this.poll()) === 0) await sleep(200);
    })();
  }

  /** one pass over every shard; returns how many records it read */
  private async poll(): Promise<number> {
    let n = 0;
    for (const s of await this.shards()) {
      const id = s.ShardId as string;
      if (this.known.has(id)) continue;
      this.known.add(id);
      this.iterators.set(id, await this.iterator(id, 'TRIM_HORIZON'));
    }
    for (const [id, it] of this.iterators) {
      if (!it) continue;
      const r = await this.client.send(new GetRecordsCommand({ ShardIterator: it, Limit: 1000 }));
      for (const rec of r.Records ?? []) this.onRecord(rec);
      n += r.Records?.length ?? 0;
      this.records += r.Records?.length ?? 0;
      this.iterators.set(id, r.NextShardIterator);
    }
    return n;
  }

  /** stops after two passes in a row found nothing */
  async stop(): Promise<void> {
    this.running = false;
    await this.loop;
    let empty = 0;
    while (empty < 2) {
      empty = (await this.poll()) === 0 ? empty + 1 : 0;
      if (empty) await sleep(200);
    }
    this.client.destroy();
  }
}
