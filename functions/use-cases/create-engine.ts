import type { Decision } from '../domain/writes.js';
import { dispatchAgent, dispatchConversation } from './dispatch.use-case.js';
import type { EngineDeps } from './engine.js';

/**
 * What follows a committed decision: the availability index of every agent whose capacity moved
 * is refreshed, a conversation that entered Open is offered (push workstreams), and an agent who
 * freed capacity is offered the oldest eligible Open work. Done right after the commit for
 * latency; the dispatch timers committed with the decision retry it if this never runs.
 */
export async function onCommitted(deps: EngineDeps, d: Decision): Promise<void> {
  const now = deps.clock.now();
  const moved = new Set<string>();
  const released = new Set<string>();
  for (const w of d.writes) {
    if (w.type === 'pool-consume' || w.type === 'pool-release') moved.add(w.agentId);
    if (w.type === 'pool-release') released.add(w.agentId);
  }
  for (const agentId of moved) await deps.store.refreshAvailability(d.conversation.org, agentId, now);
  const enteredOpen = d.conversation.status === 'Open' && d.event.from !== 'Open';
  if (!d.timers.some((t) => t.kind === 'dispatch')) return; // not a push workstream
  if (enteredOpen) await dispatchConversation(deps, d.conversation.org, d.conversation.id);
  for (const agentId of released) await dispatchAgent(deps, d.conversation.org, agentId);
}

/** The engine's dependencies with the after-commit work wired in. */
export function createEngine(deps: Omit<EngineDeps, 'afterCommit'>): EngineDeps {
  const engine: EngineDeps = { ...deps, afterCommit: (d) => onCommitted(engine, d) };
  return engine;
}
