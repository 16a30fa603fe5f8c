import { refreshAvailability } from '../use-cases/availability.use-case.js';
import type { DynamoDBRecord } from 'aws-lambda';
import type { Agent } from '../domain/model.js';
import { dispatchAgent, dispatchConversation } from '../use-cases/dispatch.use-case.js';
import type { EngineDeps } from '../use-cases/engine.js';
import { overflowOnEntry } from '../use-cases/overflow.use-case.js';
import { countChange } from '../use-cases/metrics.use-case.js';
import { runOutboxItem } from './outbox.follow-up.js';
import { changesOf } from './changes.js';
import { planFollowUps, type PlannedTask, type Task } from './plan.js';

/** Tasks of one stage run side by side, this many at a time (one batch stays within the function's timeout). */
const CONCURRENCY = 8;

export interface FollowUpResult {
  tasks: number;
  /** the first stream record of every task that failed: the batch item failures to report */
  failed: string[];
  errors: { task: Task; error: unknown }[];
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
  const errors: FollowUpResult['errors'] = [];
  const failedTask = new Set<PlannedTask>();
  const stage = async (tasks: PlannedTask[], run: (t: Task) => Promise<void>): Promise<void> =>
    eachLimited(tasks, CONCURRENCY, async (p) => {
      if (failedTask.has(p)) return;
      try {
        await run(p.task);
      } catch (err) {
        failedTask.add(p);
        failed.push(p.sequenceNumber);
        errors.push({ task: p.task, error: err });
        deps.log?.warn('follow-up failed; the stream delivers its change again', { task: p.task, error: String(err) });
      }
    });
  const agents = planned.filter((p) => p.task.kind === 'agent');
  // The outbox needs nothing of the dispatch stages (each item reads current state): it runs beside them.
  const outbox = stage(
    planned.filter((p) => p.task.kind === 'outbox'),
    (t) => (t.kind === 'outbox' ? runOutboxItem(deps, t.timer) : none()),
  );
  // first every moved agent's index entries; then conversations that entered Open are offered
  // to the best eligible agent; then agents who made room take what still waits. An Open
  // conversation committed before an agent's listing is found by it, and one committed after finds
  // that agent's entry when it is dispatched itself: the two can never miss each other. This order
  // is what makes it so within a batch: test/integration/follow-ups.test.ts fails if it is reversed.
  // an agent to dispatch is read beside her index refresh (the listing still comes after the refresh)
  const read = new Map<Task, Promise<Agent | undefined>>();
  const dispatch = (async () => {
    await stage(agents, async (t) => {
      if (t.kind === 'agent' && t.dispatch) read.set(t, deps.agents.getAgent(t.org, t.agentId));
      await Promise.all([refresh(deps, t), read.get(t)]);
    });
    await stage(
      planned.filter((p) => p.task.kind === 'conversation'),
      async (t) => {
        if (t.kind !== 'conversation') return;
        // O-1: an entry the queue's overflow rules act on is not offered here (the action's change is followed up)
        if (t.entered && (await overflowOnEntry(deps, t.org, t.conversationId, t.queueId, t.entry))) return;
        await dispatchConversation(deps, t.org, t.conversationId, false, {
          queueId: t.queueId,
          workstreamId: t.workstreamId,
          requirement: t.requirement,
        });
      },
    );
    await stage(agents, (t) =>
      t.kind === 'agent' && t.dispatch
        ? dispatchAgent(deps, t.org, t.agentId, false, read.get(t)).then(() => undefined)
        : none(),
    );
    await stage(
      planned.filter((p) => p.task.kind === 'requirements'),
      (t) => (t.kind === 'requirements' ? reindexQueue(deps, t.org, t.queueId) : none()),
    );
  })();
  // MX-1: the counters need nothing of the other stages either (each change carries its own deltas)
  const metrics = stage(
    planned.filter((p) => p.task.kind === 'metrics'),
    (t) => (t.kind === 'metrics' ? countAndSignal(deps, t) : none()),
  );
  await Promise.all([dispatch, outbox, metrics]);
  return { tasks: planned.length, failed, errors };
}

const none = async (): Promise<void> => undefined;

/**
 * MX-1: a change's counters, then its queue signals (metrics) if it counted now: one counted before (a
 * redelivered record) signals nothing, so nothing counts twice there either. The counters are committed
 * by then, so a signal that fails is logged and the follow-up still succeeds (it is not retried).
 */
async function countAndSignal(deps: EngineDeps, t: Extract<Task, { kind: 'metrics' }>): Promise<void> {
  const { counted, deltas } = await countChange(deps, t);
  if (!counted || !deps.queueSignals) return;
  try {
    await deps.queueSignals.changed(t.org, deltas);
  } catch (err) {
    deps.log?.warn('queue signals failed; the counters are committed', { org: t.org, error: String(err) });
  }
}

/**
 * K-2: after a workstream PUT added requirements to a queue's registry, every member is indexed
 * under those she meets (read afresh), then offered the waiting work she now qualifies for. Rare
 * and admin-paced; it reads the queue's member list (GSI3), CONCURRENCY agents at a time.
 */
async function reindexQueue(deps: EngineDeps, org: string, queueId: string): Promise<void> {
  const members = await deps.lists.listQueueMembers(org, queueId);
  await eachLimited(members, CONCURRENCY, (agentId) =>
    refreshAvailability(deps, org, agentId, deps.clock.now(), undefined, true),
  );
  await eachLimited(members, CONCURRENCY, (agentId) => dispatchAgent(deps, org, agentId).then(() => undefined));
}

const refresh = (deps: EngineDeps, t: Task): Promise<void> =>
  t.kind === 'agent' ? refreshAvailability(deps, t.org, t.agentId, deps.clock.now()) : none();

async function eachLimited<T>(items: readonly T[], limit: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < items.length) await fn(items[next++] as T);
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
}
