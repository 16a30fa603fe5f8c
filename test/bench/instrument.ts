import type { SQSClient } from '@aws-sdk/client-sqs';
import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { performance } from 'node:perf_hooks';
import { currentTag, type Phase, type RequestRecord } from './phases.js';

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

/** What an observer of every request sees (key heat, the commit log). `input` is the plain (unmarshalled) input. */
export interface ObservedRequest {
  command: string;
  phase: Phase;
  input: Record<string, unknown>;
  start: number;
  end: number;
  ok: boolean;
}

export type Observer = (r: ObservedRequest) => void;

export interface Probe {
  /** called after every request of the probed client, failed ones included */
  observe(o: Observer): () => void;
}

const capacityOf = (name: string, output: unknown): { rcu: number; wcu: number } => {
  let rcu = 0;
  let wcu = 0;
  const consumed = (output as { ConsumedCapacity?: Capacity | Capacity[] } | undefined)?.ConsumedCapacity;
  for (const c of Array.isArray(consumed) ? consumed : consumed ? [consumed] : []) {
    rcu += c.ReadCapacityUnits ?? (READS.has(name) ? (c.CapacityUnits ?? 0) : 0);
    wcu += c.WriteCapacityUnits ?? (READS.has(name) ? 0 : (c.CapacityUnits ?? 0));
  }
  return { rcu, wcu };
};

/**
 * The phase-aware counting middleware: every request of `doc` is tagged with the AsyncLocalStorage
 * phase it was sent under (phases.ts), recorded in the measured scope if there is one (with its
 * start and end, for round trips), and shown to the observers.
 */
export function probe(doc: DynamoDBDocumentClient): Probe {
  const observers = new Set<Observer>();
  doc.middlewareStack.add(
    (next, context) => async (args) => {
      const command = String((context as { commandName?: string }).commandName);
      const input = args.input as Record<string, unknown>;
      const tag = currentTag();
      if (tag?.scope?.capacity && WITH_CAPACITY.has(command)) input.ReturnConsumedCapacity = 'TOTAL';
      const start = performance.now();
      let ok = false;
      let output: unknown;
      try {
        const out = await next(args);
        output = out.output;
        ok = true;
        return out;
      } finally {
        const end = performance.now();
        const phase = tag?.phase ?? 'background';
        if (tag?.scope) {
          const record: RequestRecord = {
            service: 'dynamodb',
            command,
            phase,
            start,
            end,
            ok,
            transactItems:
              command === 'TransactWriteItemsCommand'
                ? ((input.TransactItems as unknown[] | undefined)?.length ?? 0)
                : 0,
            ...capacityOf(command, output),
          };
          tag.scope.records.push(record);
        }
        for (const o of observers) o({ command, phase, input, start, end, ok });
      }
    },
    { step: 'initialize', name: 'benchProbe' },
  );
  return {
    observe(o) {
      observers.add(o);
      return () => observers.delete(o);
    },
  };
}

/** The same tagging for an SQS client (the webhook's SendMessage is on its request path). */
export function probeSqs(sqs: SQSClient): void {
  sqs.middlewareStack.add(
    (next, context) => async (args) => {
      const tag = currentTag();
      const start = performance.now();
      let ok = false;
      try {
        const out = await next(args);
        ok = true;
        return out;
      } finally {
        tag?.scope?.records.push({
          service: 'sqs',
          command: String((context as { commandName?: string }).commandName),
          phase: tag.phase,
          start,
          end: performance.now(),
          ok,
          transactItems: 0,
          rcu: 0,
          wcu: 0,
        });
      }
    },
    { step: 'initialize', name: 'benchProbe' },
  );
}

export const isRead = (command: string): boolean => READS.has(command) || command === 'TransactGetItemsCommand';
