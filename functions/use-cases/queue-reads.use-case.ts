import { NotFoundError } from '../domain/errors.js';
import type { Hours } from '../domain/hours.js';
import { openState } from '../domain/queues.js';
import type { QueueConfig } from '../ports/storage-types.js';
import { readsAcrossOrg, type Caller } from './caller.js';
import type { EngineDeps } from './engine.js';

/** Reads of a queue's own state (H-2). */

export interface QueueState {
  queue: QueueConfig;
  isOpen: boolean;
  nextChangeAt: Date | null;
}

/**
 * RL-7: the queue, if the caller may read it: supervisors and admins any queue of the org, an agent only
 * her own queues (read beside her record, one round trip). Anything else is the same 404 as no queue.
 */
export async function visibleQueue(
  deps: Pick<EngineDeps, 'configuration' | 'agents'>,
  caller: Caller,
  queueId: string,
): Promise<QueueConfig> {
  const [queue, agent] = await Promise.all([
    deps.configuration.getQueue(caller.org, queueId),
    readsAcrossOrg(caller) ? undefined : deps.agents.getAgent(caller.org, caller.id),
  ]);
  if (!queue || (!readsAcrossOrg(caller) && !agent?.queues.includes(queueId)))
    throw new NotFoundError('queue', queueId);
  return queue;
}

/**
 * H-2: the queue, whether it is open now and when that next changes. Supervisors and admins read any
 * queue of the org; an agent reads only her own queues (`visibleQueue`).
 */
export async function readQueueState(
  deps: Pick<EngineDeps, 'configuration' | 'agents' | 'clock'>,
  caller: Caller,
  queueId: string,
): Promise<QueueState> {
  const [queue, agent] = await Promise.all([
    deps.configuration.getQueue(caller.org, queueId),
    readsAcrossOrg(caller) ? undefined : deps.agents.getAgent(caller.org, caller.id),
  ]);
  if (!queue || (!readsAcrossOrg(caller) && !agent?.queues.includes(queueId)))
    throw new NotFoundError('queue', queueId);
  const hours: Hours | undefined = queue.hoursId
    ? await deps.configuration.getHours(caller.org, queue.hoursId)
    : undefined;
  return { queue, ...openState(hours, deps.clock.now()) };
}
