import type { DueTimer } from '../ports/due-timer.js';
import { requirementKeyOf } from '../domain/skills.js';
import type { Change, PositionedChange } from './changes.js';
import { agentDeltas, conversationDeltas, conversationMarker, type MetricsChange } from '../domain/metrics.js';

/**
 * What a batch of committed changes causes, each task once per batch however many records ask for
 * it (an agent whose pool moved five times is refreshed once):
 * - `agent`: rewrite the agent's availability entries (R-3 index), then, when the change may have
 *   made room (capacity freed, signed in, presence or queues changed), offer them waiting work.
 * - `conversation`: a conversation that entered Open (or moved queue while Open) is offered.
 * - `requirements`: a queue's requirement registry grew (a workstream PUT): its members are indexed
 *   under the new requirements, then offered waiting work (K-2).
 * - `outbox`: a timer item was written: ask the scheduler for its precise trigger, or run it now
 *   (notifications, trigger actions).
 */
export type Task =
  | { kind: 'agent'; org: string; agentId: string; dispatch: boolean }
  | {
      kind: 'conversation';
      org: string;
      conversationId: string;
      queueId: string;
      workstreamId: string;
      requirement: string;
      /** O-1: it started a wait in the queue with this change (not a relaxation or a returned offer) */
      entered: boolean;
      /**
       * O-1: the change that started the wait (its version names its count, MX-1), and whether the
       * conversation was Open in this queue before it (then the queue's Open count held it already)
       */
      entry?: { version: number; alreadyOpenHere: boolean };
    }
  | { kind: 'outbox'; timer: DueTimer }
  /** MX-1: one change's deltas to its queues' counters (`marker` names the change: counted once) */
  | { kind: 'metrics'; org: string; marker: string; subject: string; change: MetricsChange }
  /** K-2: index the queue's members under the requirements its registry gained, then dispatch them */
  | { kind: 'requirements'; org: string; queueId: string };

/** MX-1: the counters' task of a change that moves a count (a relaxation or a note moves none) */
function metricsTaskOf(change: Change, sequenceNumber: string): Task | undefined {
  if (change.kind === 'conversation') {
    const c = change.after ?? change.before;
    if (!c || !conversationDeltas(change.before, change.after, () => 0).length) return undefined;
    return {
      kind: 'metrics',
      org: c.org,
      marker: conversationMarker(c.id, change.after?.version ?? `${change.before?.version ?? 0}-deleted`),
      subject: c.id,
      change: {
        kind: 'conversation',
        ...(change.before ? { before: change.before } : {}),
        ...(change.after ? { after: change.after } : {}),
      },
    };
  }
  if (change.kind === 'agent') {
    if (!agentDeltas(change.before, change.after).length) return undefined;
    // an agent profile has no version every write moves: the stream record's position names the change
    return {
      kind: 'metrics',
      org: change.org,
      marker: `A#${change.agentId}#${sequenceNumber}`,
      subject: change.agentId,
      change: {
        kind: 'agent',
        ...(change.before ? { before: change.before } : {}),
        ...(change.after ? { after: change.after } : {}),
      },
    };
  }
  return undefined;
}

export interface PlannedTask {
  task: Task;
  /** the first stream record that asked for it: where the stream resumes if the task fails */
  sequenceNumber: string;
}

/** Agent attributes that can turn an agent routable: a change to one of them offers waiting work. */
const ROUTING_ATTRIBUTES = ['signedIn', 'connected', 'presenceOverride', 'queues', 'memberships', 'skills'] as const;
/** ...and those that only move the agent inside the index (the idle tie-break). */
const INDEX_ATTRIBUTES = [...ROUTING_ATTRIBUTES, 'idleSince', 'disconnectedAt'] as const;

const differs = (a: Record<string, unknown> | undefined, b: Record<string, unknown> | undefined, k: string): boolean =>
  JSON.stringify(a?.[k]) !== JSON.stringify(b?.[k]);

function taskOf(change: Change): Task | undefined {
  switch (change.kind) {
    case 'pool': {
      if (change.freeAfter === change.freeBefore) return undefined;
      const freed = (change.freeAfter ?? 0) > (change.freeBefore ?? 0);
      return { kind: 'agent', org: change.org, agentId: change.agentId, dispatch: freed };
    }
    case 'agent': {
      if (!change.after) return undefined;
      if (!INDEX_ATTRIBUTES.some((k) => differs(change.before, change.after, k))) return undefined;
      const dispatch = ROUTING_ATTRIBUTES.some((k) => differs(change.before, change.after, k));
      return { kind: 'agent', org: change.org, agentId: change.agentId, dispatch };
    }
    case 'conversation': {
      const { before, after } = change;
      if (after?.status !== 'Open') return undefined;
      const requirement = requirementKeyOf(after);
      // K-3: a relaxed requirement may fit agents the previous one did not
      if (before?.status === 'Open' && before.queueId === after.queueId && requirementKeyOf(before) === requirement)
        return undefined;
      const entered = before?.enqueuedAt !== after.enqueuedAt || before?.queueId !== after.queueId;
      // the queue and workstream it entered Open with: its dispatch reads candidates while it reads the conversation again
      return {
        kind: 'conversation',
        org: after.org,
        conversationId: after.id,
        queueId: after.queueId,
        workstreamId: after.workstreamId,
        requirement,
        ...(entered
          ? {
              entered,
              entry: {
                version: after.version,
                alreadyOpenHere: before?.status === 'Open' && before.queueId === after.queueId,
              },
            }
          : { entered }),
      };
    }
    case 'timer':
      return change.removed ? undefined : { kind: 'outbox', timer: change.timer };
    case 'requirements':
      return change.added.length ? { kind: 'requirements', org: change.org, queueId: change.queueId } : undefined;
  }
}

const taskKey = (t: Task): string =>
  t.kind === 'agent'
    ? `agent|${t.org}|${t.agentId}`
    : t.kind === 'conversation'
      ? `conversation|${t.org}|${t.conversationId}`
      : t.kind === 'requirements'
        ? `requirements|${t.org}|${t.queueId}`
        : t.kind === 'metrics'
          ? `metrics|${t.org}|${t.marker}`
          : `outbox|${t.timer.org}|${t.timer.name}`;

/**
 * The batch's tasks in the order they run: agents' index entries first (so a conversation offered
 * next sees every agent whose change committed before it), then conversations, then the outbox.
 */
export function planFollowUps(changes: readonly PositionedChange[]): PlannedTask[] {
  const tasks = new Map<string, PlannedTask>();
  for (const { change, sequenceNumber } of changes) {
    const counted = metricsTaskOf(change, sequenceNumber);
    if (counted && !tasks.has(taskKey(counted))) tasks.set(taskKey(counted), { task: counted, sequenceNumber });
    const task = taskOf(change);
    if (!task) continue;
    const key = taskKey(task);
    const seen = tasks.get(key);
    if (!seen) tasks.set(key, { task, sequenceNumber });
    else if (task.kind === 'agent' && seen.task.kind === 'agent' && task.dispatch) seen.task.dispatch = true;
    else if (task.kind === 'outbox')
      seen.task = task; // the latest write of the item is what is due
    else if (task.kind === 'conversation' && seen.task.kind === 'conversation')
      // where it is Open now (a dispatch hint only); an entry earlier in the batch is still an entry
      seen.task =
        task.entered || !seen.task.entered || seen.task.queueId !== task.queueId
          ? task
          : { ...task, entered: true, ...(seen.task.entry ? { entry: seen.task.entry } : {}) };
  }
  const rank = { agent: 0, conversation: 1, outbox: 2, requirements: 3, metrics: 4 } as const;
  return [...tasks.values()].sort((a, b) => rank[a.task.kind] - rank[b.task.kind]);
}
