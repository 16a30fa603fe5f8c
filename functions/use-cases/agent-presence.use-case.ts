import { refreshAvailability } from './availability.use-case.js';
import { NotFoundError } from '../domain/errors.js';
import type { Agent, Presence } from '../domain/model.js';
import { addSeconds, DISPATCH_RETRY_SECONDS, PRESENCE_GRACE_SECONDS } from '../domain/timers.js';
import type { TimerRequest, Write } from '../domain/writes.js';
import { dispatchAgent } from './dispatch.use-case.js';
import { retryOnConflict, type EngineDeps } from './engine.js';

/** P-3: a manual presence lasts until the agent signs out or goes inactive. */
export async function setPresence(deps: EngineDeps, org: string, agentId: string, presence: Presence): Promise<void> {
  await deps.agents.updateAgentState(org, agentId, { presenceOverride: presence });
}

/**
 * a presence change moves the agent in (or out of) the availability index, and an agent who
 * can now take work is offered the oldest eligible Open conversation at once. A committed change to
 * the agent causes this through the stream; this is for changes of computed presence that write
 * nothing (the P-4 grace running out, a new org default presence).
 */
export async function afterPresenceChange(deps: EngineDeps, org: string, agentId: string): Promise<void> {
  await refreshAvailability(deps, org, agentId, deps.clock.now());
  try {
    await dispatchAgent(deps, org, agentId);
  } catch (err) {
    deps.log?.warn('dispatch after a presence change failed', { agentId, error: String(err) });
  }
}

async function loadAgent(deps: EngineDeps, org: string, agentId: string): Promise<Agent> {
  const agent = await deps.agents.getAgent(org, agentId);
  if (!agent) throw new NotFoundError('agent', agentId);
  return agent;
}

/** Commits one agent-state change (with the timers it arms) from the epoch it was read at. */
async function changeAgentState(
  deps: EngineDeps,
  org: string,
  agentId: string,
  plan: (
    agent: Agent,
    epoch: number,
  ) => Promise<{ set: Write & { type: 'agent-state' }; timers: TimerRequest[] } | null>,
): Promise<void> {
  await retryOnConflict(
    deps,
    async () => {
      const agent = await loadAgent(deps, org, agentId);
      const p = await plan(agent, agent.connectionEpoch ?? 0);
      if (!p) return;
      // One transaction holds at most 100 items: the state and the first timers go together; an agent
      // with more Active conversations than that gets the rest in follow-up writes.
      const writes = p.timers.map((timer): Write => ({ type: 'timer', timer }));
      await deps.commits.commit([p.set, ...writes.slice(0, 99)]);
      for (let i = 99; i < writes.length; i += 100) await deps.commits.commit(writes.slice(i, i + 100));
    },
    async (last) => {
      throw last;
    },
  );
}

const state = (
  org: string,
  agentId: string,
  epoch: number,
  set: Record<string, string | number | boolean>,
  remove: string[] = [],
): Write & { type: 'agent-state' } => ({
  type: 'agent-state',
  org,
  agentId,
  set,
  remove,
  expectEpoch: epoch,
  bumpEpoch: true,
});

/**
 * signing in offers the agent waiting work from the stream; the dispatch outbox item committed
 * with the sign-in is the safety net if that follow-up never runs (the sweeper fires it).
 */
export async function signIn(deps: EngineDeps, org: string, agentId: string): Promise<void> {
  await changeAgentState(deps, org, agentId, async (_a, epoch) => {
    const now = deps.clock.now();
    return {
      set: state(org, agentId, epoch, { signedIn: true, connected: true, idleSince: now.toISOString() }, [
        'disconnectedAt',
      ]),
      timers: [{ kind: 'dispatch', org, agentId, version: epoch + 1, at: addSeconds(now, DISPATCH_RETRY_SECONDS) }],
    };
  });
}

/** P-3: signing out clears the manual override. */
export async function signOut(deps: EngineDeps, org: string, agentId: string): Promise<void> {
  await changeAgentState(deps, org, agentId, async (_a, epoch) => ({
    set: state(org, agentId, epoch, { signedIn: false, connected: false }, ['presenceOverride', 'disconnectedAt']),
    timers: [],
  }));
}

/**
 * P-4 / T-4a: a disconnect arms, in the same transaction, the presence grace (150 s) and one
 * reconnect timer per Active conversation of the agent (each workstream's own timeout). Reconnecting
 * bumps the connection epoch, which makes those timers stale (TM-5).
 */
export async function setConnection(deps: EngineDeps, org: string, agentId: string, connected: boolean): Promise<void> {
  await changeAgentState(deps, org, agentId, async (agent, epoch) => {
    if ((agent.connected ?? false) === connected) return null; // already so: nothing to change
    if (connected) return { set: state(org, agentId, epoch, { connected: true }, ['disconnectedAt']), timers: [] };
    const now = deps.clock.now();
    const next = epoch + 1;
    const timers: TimerRequest[] = [
      { kind: 'presence-grace', org, agentId, version: next, at: addSeconds(now, PRESENCE_GRACE_SECONDS) },
    ];
    const active = (await deps.lists.listWorkItems(org, agentId)).filter(
      (c) => c.status === 'Active' && c.primaryAgentId === agentId,
    );
    for (const c of active) {
      const ws = await deps.configuration.getWorkstream(org, c.workstreamId);
      timers.push({
        kind: 'reconnect-timeout',
        org,
        conversationId: c.id,
        agentId,
        version: next,
        at: addSeconds(now, ws?.agentReconnectTimeoutSeconds ?? 120),
      });
    }
    return { set: state(org, agentId, epoch, { connected: false, disconnectedAt: now.toISOString() }), timers };
  });
}
