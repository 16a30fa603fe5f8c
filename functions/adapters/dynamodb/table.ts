import {
  BatchGetCommand,
  type BatchGetCommandOutput,
  BatchWriteCommand,
  GetCommand,
  QueryCommand,
  type DynamoDBDocumentClient,
  type QueryCommandInput,
} from '@aws-sdk/lib-dynamodb';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Key } from './keys.js';

type Item = Record<string, unknown>;

/**
 * The engine's one table as the repositories share it: the document client, the table name, and the
 * few read and batch patterns every repository uses (consistent gets, bounded full queries,
 * BatchGetItem and BatchWriteItem with DynamoDB's own retry contract for unprocessed items).
 */
export class Table {
  constructor(
    readonly doc: DynamoDBDocumentClient,
    readonly name: string,
  ) {}

  /** the item as stored (keys included), read consistently */
  async getItem(key: Key): Promise<Item | undefined> {
    const out = await this.doc.send(new GetCommand({ TableName: this.name, Key: key, ConsistentRead: true }));
    return out.Item;
  }

  /** Every page of a query: only for bounded collections (one agent, one conversation, one org's triggers). */
  async queryAll(input: Omit<QueryCommandInput, 'TableName'>): Promise<Item[]> {
    const items: Item[] = [];
    let start: Item | undefined;
    do {
      const out = await this.doc.send(new QueryCommand({ TableName: this.name, ...input, ExclusiveStartKey: start }));
      items.push(...(out.Items ?? []));
      start = out.LastEvaluatedKey;
    } while (start);
    return items;
  }

  /** The items of one partition whose sort key starts with `prefix`, read consistently. */
  queryPrefix(pk: string, prefix: string): Promise<Item[]> {
    return this.queryAll({
      KeyConditionExpression: 'PK = :pk AND begins_with(SK, :prefix)',
      ExpressionAttributeValues: { ':pk': pk, ':prefix': prefix },
      ConsistentRead: true,
    });
  }

  /** One index partition, every page (bounded lists: a queue's members, an org's agents). */
  queryIndex(index: string, pk: string): Promise<Item[]> {
    const pkName = `${index}PK`;
    return this.queryAll({
      IndexName: index,
      KeyConditionExpression: '#pk = :pk',
      ExpressionAttributeNames: { '#pk': pkName },
      ExpressionAttributeValues: { ':pk': pk },
    });
  }

  /** Consistent BatchGetItem, 100 keys a request; unprocessed keys are asked again with backoff. */
  async batchGet(wanted: readonly Key[]): Promise<Item[]> {
    const out: Item[] = [];
    for (let i = 0; i < wanted.length; i += 100) {
      let pending: Item[] | undefined = wanted.slice(i, i + 100) as unknown as Item[];
      for (let round = 0; pending?.length; round++) {
        if (round > 0) await sleep(Math.min(500, 20 * 2 ** round));
        const res: BatchGetCommandOutput = await this.doc.send(
          new BatchGetCommand({ RequestItems: { [this.name]: { Keys: pending, ConsistentRead: true } } }),
        );
        out.push(...(res.Responses?.[this.name] ?? []));
        pending = res.UnprocessedKeys?.[this.name]?.Keys;
      }
    }
    return out;
  }

  /** BatchWriteItem, 25 requests a call; unprocessed items are sent again with backoff. */
  async batchWrite(requests: readonly ({ PutRequest: { Item: Item } } | { DeleteRequest: { Key: Key } })[]) {
    for (let i = 0; i < requests.length; i += 25) {
      let pending: typeof requests | undefined = requests.slice(i, i + 25);
      for (let round = 0; pending?.length; round++) {
        if (round > 0) await sleep(Math.min(500, 20 * 2 ** round));
        const res = await this.doc.send(new BatchWriteCommand({ RequestItems: { [this.name]: [...pending] } }));
        pending = res.UnprocessedItems?.[this.name] as typeof requests | undefined;
      }
    }
  }
}

/** One string per item key (PK and SK cannot hold U+0000). */
const keyId = (k: { PK: unknown; SK: unknown }): string => `${String(k.PK)}\u0000${String(k.SK)}`;

/** Each key once, in first-seen order (a BatchGetItem refuses duplicate keys). */
export const uniqueKeys = (keys: readonly Key[]): Key[] => [...new Map(keys.map((k) => [keyId(k), k])).values()];

/** Looks items up by key in a batch's answer. */
export function byKey(items: readonly Item[]): (k: Key) => Item | undefined {
  const map = new Map(items.map((i) => [keyId(i as { PK: unknown; SK: unknown }), i]));
  return (k) => map.get(keyId(k));
}

/** `SET #a = :a, ...` over the given attributes, with their names and values. */
export function setAll(attributes: Record<string, unknown>): {
  expr: string;
  names: Record<string, string>;
  values: Record<string, unknown>;
} {
  const names: Record<string, string> = {};
  const values: Record<string, unknown> = {};
  const parts: string[] = [];
  for (const [k, v] of Object.entries(attributes)) {
    names[`#${k}`] = k;
    values[`:${k}`] = v;
    parts.push(`#${k} = :${k}`);
  }
  return { expr: parts.join(', '), names, values };
}
