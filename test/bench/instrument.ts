import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';

/** Counts DynamoDB requests and the capacity they consumed (ReturnConsumedCapacity: TOTAL on every request). */
export interface Meter {
  requests: Record<string, number>;
  rcu: number;
  wcu: number;
  transactItems: number;
  reset(): void;
  total(): number;
  reads(): number;
}

const READS = new Set(['GetItemCommand', 'QueryCommand', 'BatchGetItemCommand', 'ScanCommand']);
const WITH_CAPACITY = new Set([
  'GetItemCommand',
  'QueryCommand',
  'PutItemCommand',
  'UpdateItemCommand',
  'DeleteItemCommand',
  'TransactWriteItemsCommand',
  'TransactGetItemsCommand',
  'BatchWriteItemCommand',
  'BatchGetItemCommand',
]);

type Capacity = { CapacityUnits?: number; ReadCapacityUnits?: number; WriteCapacityUnits?: number };

export function instrument(doc: DynamoDBDocumentClient): Meter {
  const meter: Meter = {
    requests: {},
    rcu: 0,
    wcu: 0,
    transactItems: 0,
    reset() {
      meter.requests = {};
      meter.rcu = 0;
      meter.wcu = 0;
      meter.transactItems = 0;
    },
    total: () => Object.values(meter.requests).reduce((a, b) => a + b, 0),
    reads: () => Object.entries(meter.requests).reduce((a, [k, v]) => a + (READS.has(k) ? v : 0), 0),
  };
  doc.middlewareStack.add(
    (next, context) => async (args) => {
      const name = String((context as { commandName?: string }).commandName);
      const input = args.input as Record<string, unknown>;
      if (WITH_CAPACITY.has(name)) input.ReturnConsumedCapacity = 'TOTAL';
      if (name === 'TransactWriteItemsCommand') meter.transactItems += (input.TransactItems as unknown[]).length;
      meter.requests[name] = (meter.requests[name] ?? 0) + 1;
      const out = await next(args);
      const consumed = (out.output as { ConsumedCapacity?: Capacity | Capacity[] }).ConsumedCapacity;
      for (const c of Array.isArray(consumed) ? consumed : consumed ? [consumed] : []) {
        const read = c.ReadCapacityUnits ?? (READS.has(name) ? (c.CapacityUnits ?? 0) : 0);
        const write = c.WriteCapacityUnits ?? (READS.has(name) ? 0 : (c.CapacityUnits ?? 0));
        meter.rcu += read;
        meter.wcu += write;
      }
      return out;
    },
    { step: 'initialize', name: 'benchMeter' },
  );
  return meter;
}
