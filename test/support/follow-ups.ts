import type { DynamoDBRecord } from 'aws-lambda';
import { AsyncLocalStorage } from 'node:async_hooks';
import { inject } from 'vitest';
import { StreamReader } from '../../bin/local/stream-poller.js';
import { runFollowUps } from '../../functions/follow-ups/run-follow-ups.js';
import type { Write } from '../../functions/domain/writes.js';
import type { EngineDeps } from '../../functions/use-cases/engine.js';

const orgOf = (r: DynamoDBRecord): unknown =>
  (r.dynamodb?.NewImage?.org ?? r.dynamodb?.OldImage?.org)?.S;

/**
 * The follow-ups of one org's committed changes, driven from the test table's real stream by the
 * same consumer use case the stream Lambda runs. `settle()` reads the stream until it is quiet and
 * runs every follow-up the org's changes caused (and those their own commits caused), so a test
 * decides when follow-ups happen, and asserts on them afterwards.
 */
export async function followUpsOf(org: string, deps: () => EngineDeps): Promise<{ settle(): Promise<void> }> {
  const reader = await new StreamReader(inject('dynamoEndpoint'), inject('tableName'), 1000).open();
  // one settle at a time: concurrent callers queue behind it (the stream is read in order)
  let running: Promise<void> = Promise.resolve();
  const settle = (): Promise<void> => {
    running = running.catch(() => undefined).then(() => inFollowUps.run(true, drain));
    return running;
  };
  const drain = async (): Promise<void> => {
    for (let quiet = 0; quiet < 2; ) {
      const records = (await reader.read()).flatMap((b) => b.records).filter((r) => orgOf(r) === org);
      if (!records.length) {
        quiet++;
        continue;
      }
      quiet = 0;
      await runUntilDone(deps(), records);
    }
  };
  return { settle };
}

/** A batch with failures is delivered again from its first failed record, as the stream would (bounded). */
async function runUntilDone(deps: EngineDeps, records: DynamoDBRecord[]): Promise<void> {
  let pending = records;
  for (let attempt = 1; pending.length; attempt++) {
    const { failed } = await runFollowUps(deps, pending);
    if (!failed.length) return;
    if (attempt >= 5) throw new Error(`follow-ups keep failing at stream records ${failed.join(', ')}`);
    const first = pending.findIndex((r) => failed.includes(r.dynamodb?.SequenceNumber ?? ''));
    pending = pending.slice(Math.max(0, first));
  }
}

const inFollowUps = new AsyncLocalStorage<boolean>();

/**
 * A store whose commits are followed by `settle()` (not the ones follow-ups make themselves), so a
 * use case called by a test returns with the consequences of its change already applied from the
 * stream. Tests of the follow-ups' own timing use the plain store and call `settle()` themselves.
 */
export function settlingAfterCommit<S extends { commit(writes: readonly Write[]): Promise<void> }>(
  store: S,
  settle: () => Promise<void>,
): S {
  return new Proxy(store, {
    get(target, prop, receiver) {
      const value = Reflect.get(target, prop, receiver) as unknown;
      if (prop === 'commit') {
        return async (writes: readonly Write[]) => {
          await target.commit(writes);
          if (!inFollowUps.getStore()) await settle();
        };
      }
      return typeof value === 'function' ? (value as (...a: unknown[]) => unknown).bind(target) : value;
    },
  });
}
