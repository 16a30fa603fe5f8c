import type { EngineDeps } from '../../functions/use-cases/engine.js';
import { currentPhase, inPhase } from './phases.js';

/** How the bench waits for after-commit work, whatever runs it. */
export interface FollowUps {
  /**
   * resolves once every follow-up of what was committed so far has run (under the 'follow-up' tag);
   * called after every measured call and between the steps of a replay, also concurrently
   */
  settle(): Promise<void>;
}

/**
 * THE one place that knows where follow-ups (availability refresh, push dispatch, outbox
 * notifications) run. Everything else in the bench calls `settle()` after a measured call.
 *
 * TODAY they run inline, inside the request, through `deps.afterCommit` (createEngine's
 * `onCommitted`): the hook is wrapped so that every DynamoDB request made inside it is tagged
 * 'follow-up' (the bench's own setup stays 'setup'), and there is nothing left to settle.
 *
 * WHEN they move to a DynamoDB Stream consumer: leave `afterCommit` alone (or there is none), and
 * make `settle` run the consumer until it has caught up, e.g.
 *   `settle: () => inPhase('follow-up', () => consumer.settle())`.
 */
export function attachFollowUps(deps: EngineDeps): FollowUps {
  const inner = deps.afterCommit;
  if (inner) {
    deps.afterCommit = (decision) => inPhase(currentPhase() === 'setup' ? 'setup' : 'follow-up', () => inner(decision));
  }
  return { settle: async () => undefined };
}
