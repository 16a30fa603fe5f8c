import type { Decision } from '../domain/writes.js';
import { dispatchAgent, dispatchConversation } from './dispatch.use-case.js';
import { IMMEDIATE_KINDS, type EngineDeps } from './engine.js';
import { fireTimer } from './timers.use-case.js';
import { timerName } from '../domain/timers.js';

/**
 * What follows a committed decision: the availability index of every agent whose capacity moved
 * is refreshed, a conversation that entered Open is offered (push workstreams), and an agent who
 * freed capacity is offered the oldest eligible Open work. Done right after the commit for
 * latency; the dispatch timers committed with the decision retry it if this never runs.
 */
export async function onCommitted(deps: EngineDeps, d: Decision): Promise<void> {
  // E-2 / M-3: notifications and trigger actions committed in the outbox go out now
  for (const t of d.timers.filter((x) => IMMEDIATE_KINDS.has(x.kind))) {
    const name = timerName(t);
    const fired = await fireTimer(deps, { ...t, name });
    if (!fired.keep) await deps.store.deleteTimer(t.org, name);
  }
  const now = deps.clock.now();
  const moved = new Set<string>();
  const released = new Set<string>();
  for (const w of d.writes) {
    if (w.type === 'pool-consume' || w.type === 'pool-release') moved.add(w.agentId);
    if (w.type === 'pool-release') released.add(w.agentId);
  }
  for (const agentId of moved) {
    const known = d.agentsAfter?.find((a) => a.id === agentId);
    // a signed-out agent has no availability entries to move (sign-out removed them): nothing to write
    if (known && !known.signedIn) continue;
    await deps.store.refreshAvailability(d.conversation.org, agentId, now, known);
  }
  // entered Open, or moved to another queue while Open (S-3 assign to a queue): offered in its queue now
  const enteredOpen =
    d.conversation.status === 'Open' && (d.event.from !== 'Open' || d.event.details?.toQueue !== undefined);
  // a push workstream's conversation entering Open is offered at once
  if (enteredOpen && d.timers.some((t) => t.kind === 'dispatch' && t.conversationId))
    await dispatchConversation(deps, d.conversation.org, d.conversation.id);
  // capacity freed by any conversation (push or pick) may take push work waiting in the agent's queues
  for (const agentId of released) await dispatchAgent(deps, d.conversation.org, agentId);
}

/** The engine's dependencies with the after-commit work wired in. */
export function createEngine(deps: Omit<EngineDeps, 'afterCommit'>): EngineDeps {
  const engine: EngineDeps = { ...deps, afterCommit: (d) => onCommitted(engine, d) };
  return engine;
}
