import { createEmfQueueSignals } from '../../adapters/emf-queue-signals.js';
import type { EngineDeps } from '../../use-cases/engine.js';
import type { EngineRuntime } from './engine.js';

/**
 * MX-1: the stream follow-ups' engine with queue signals as EMF metrics, where metrics are enabled (not
 * in the local runtime). Only the follow-ups function wires them: the HTTP bundles never carry them.
 */
export function withQueueSignals(rt: EngineRuntime): EngineDeps {
  const { metrics } = rt.obs;
  if (!metrics) return rt.deps;
  const { queueStats } = rt.deps;
  return {
    ...rt.deps,
    queueSignals: createEmfQueueSignals({ metrics, counts: (org, queueId) => queueStats.counts(org, queueId) }),
  };
}
