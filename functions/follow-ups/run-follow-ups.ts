import type { DynamoDBRecord } from 'aws-lambda';
import { dispatchAgent, dispatchConversation } from '../use-cases/dispatch.use-case.js';
import type { EngineDeps } from '../use-cases/engine.js';
import { runOutboxItem } from './outbox.follow-up.js';
import { changesOf } from './changes.js';
import { planFollowUps, type PlannedTask, type Task } from './plan.js';

/** Tasks of one stage run side by side, this many at a time (one batch stays within the function's timeout). */
const CONCURRENCY = 8;

export interface FollowUpResult {
  tasks: number;
  /** the first stream record of every task that failed: the batch item failures to report */
  failed: string[];
}

/**
 * The stream consumer's use case: derives the follow-ups of a batch of committed changes and runs
 * them. Each follow-up reads the current state and is idempotent (an index rewrite, an offer
 * conditioned on the conversation's version, a schedule with a deterministic name, a notification
 * with a stable id), so a redelivered record, or a record whose task already ran, changes nothing
 * twice. A task that fails is reported by its first record; the stream delivers it (and what
 * follows it on the shard) again, and the outbox's dispatch timers and the sweeper stay the safety
 * net behind that.
 */
export async function runFollowUps(deps: EngineDeps, records: readonly DynamoDBRecord[]): Promise<FollowUpResult> {
  const planned = planFollowUps(changesOf(records));
  const failed: string[] = [];
  for (const stage of ['agent', 'conversation', 'outbox'] as const) {
    const tasks = planned.filter((p) => p.task.kind === stage);
    await eachLimited(tasks, CONCURRENCY, async (p: PlannedTask) => {
      try {
        await runTask(deps, p.task);
      } catch (err) {
        failed.push(p.sequenceNumber);
        deps.log?.warn('follow-up failed; the stream delivers its change again', { task: p.task, error: String(err) });
      }
    });
  }
  return { tasks: planned.length, failed };
}

async function runTask(deps: EngineDeps, task: Task): Promise<void> {
  switch (task.kind) {
    case 'agent':
      // the index first, then the backlog: an Open conversation committed before this listing is
      // found here, and one committed after it finds this agent's entry when it is dispatched itself
      await deps.store.refreshAvailability(task.org, task.agentId, deps.clock.now());
      if (task.dispatch) await dispatchAgent(deps, task.org, task.agentId);
      return;
    case 'conversation':
      await dispatchConversation(deps, task.org, task.conversationId);
      return;
    case 'outbox':
      await runOutboxItem(deps, task.timer);
      return;
  }
}

async function eachLimited<T>(items: readonly T[], limit: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < items.length) await fn(items[next++] as T);
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
}
