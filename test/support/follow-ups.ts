import type { DynamoDBRecord } from 'aws-lambda';
import { AsyncLocalStorage } from 'node:async_hooks';

import { deliverStreamBatch, StreamReader } from '../../bin/local/stream-poller.js';
import { runFollowUps } from '../../functions/follow-ups/run-follow-ups.js';
import type { EngineDeps } from '../../functions/use-cases/engine.js';
import { TEST_TABLE, dynamoEndpoint } from './dynamo.js';

const orgOf = (r: DynamoDBRecord): unknown => (r.dynamodb?.NewImage?.org ?? r.dynamodb?.OldImage?.org)?.S;

/**
 * The follow-ups of one org's committed changes, driven from the test table's real stream by the
 * same consumer use case the stream Lambda runs. `settle()` reads the stream until it is quiet and
 * runs every follow-up the org's changes caused (and those their own commits caused), so a test
 * decides when follow-ups happen, and asserts on them afterwards.
 */
export interface FollowUpsDriver {
  settle(): Promise<void>;
  /** the org's stream records not handled yet, taken (settle will not run them) */
  takePending(): Promise<DynamoDBRecord[]>;
}

export async function followUpsOf(org: string, deps: () => EngineDeps): Promise<FollowUpsDriver> {
  const reader = await new StreamReader(dynamoEndpoint(), TEST_TABLE, 1000).open();
  // one settle at a time: concurrent callers queue behind it (the stream is read in order)
  let running: Promise<void> = Promise.resolve();
  const settle = (): Promise<void> => {
    running = running.catch(() => undefined).then(() => inFollowUps.run(true, drain));
    return running;
  };
  const read = async (): Promise<DynamoDBRecord[]> =>
    (await reader.read()).flatMap((b) => b.records).filter((r) => orgOf(r) === org);
  const takePending = async (): Promise<DynamoDBRecord[]> => {
    const out: DynamoDBRecord[] = [];
    for (let quiet = 0; quiet < 2;) {
      const records = await read();
      quiet = records.length ? 0 : quiet + 1;
      out.push(...records);
    }
    return out;
  };
  const drain = async (): Promise<void> => {
    for (let quiet = 0; quiet < 2;) {
      const records = await read();
      if (!records.length) {
        quiet++;
        continue;
      }
      quiet = 0;
      await runUntilDone(deps(), records);
    }
  };
  return { settle, takePending };
}

/**
 * The stream's delivery (deliverStreamBatch: a batch with failures comes again from its first failed
 * record), with the follow-ups use case as the handler; a record given up after 5 attempts fails the test.
 */
async function runUntilDone(deps: EngineDeps, records: DynamoDBRecord[]): Promise<void> {
  let last = '';
  const handler = async (event: { Records: DynamoDBRecord[] }) => {
    const { failed, errors } = await runFollowUps(deps, event.Records);
    last = errors.map((e) => `${JSON.stringify(e.task)}: ${String(e.error)}`).join('; ');
    return { batchItemFailures: failed.map((itemIdentifier) => ({ itemIdentifier })) };
  };
  const given = await deliverStreamBatch(handler, records, { maxAttempts: 5, backoffMs: () => 0, report: () => {} });
  if (given.length) throw new Error(`follow-ups keep failing: ${last}`);
}

const inFollowUps = new AsyncLocalStorage<boolean>();

/** The store's writes that can cause follow-ups (a transaction, an agent's configuration or state). */
const WRITES_WITH_FOLLOW_UPS = new Set<PropertyKey>(['commit', 'putAgent', 'updateAgentState']);

/**
 * A store whose writes are followed by `settle()` (not the ones follow-ups make themselves), so a
 * use case called by a test returns with the consequences of its change already applied from the
 * stream. Tests of the follow-ups' own timing use the plain store and call `settle()` themselves.
 */
export function settlingAfterWrites<S extends object>(store: S, settle: () => Promise<void>): S {
  return new Proxy(store, {
    get(target, prop, receiver) {
      const value = Reflect.get(target, prop, receiver) as unknown;
      if (typeof value !== 'function') return value;
      const method = (value as (...a: unknown[]) => Promise<unknown>).bind(target);
      if (!WRITES_WITH_FOLLOW_UPS.has(prop)) return method;
      return async (...args: unknown[]) => {
        const result = await method(...args);
        if (!inFollowUps.getStore()) await settle();
        return result;
      };
    },
  });
}

/** The repositories whose writes cause follow-ups (commits, agents), each settling after its writes. */
export function settlingRepositories<R extends { commits: object; agents: object }>(
  repositories: R,
  settle: () => Promise<void>,
): R {
  return {
    ...repositories,
    commits: settlingAfterWrites(repositories.commits, settle),
    agents: settlingAfterWrites(repositories.agents, settle),
  };
}
