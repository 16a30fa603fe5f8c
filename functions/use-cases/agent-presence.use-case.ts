import { NotFoundError } from '../domain/errors.js';
import type { Presence } from '../domain/model.js';
import type { EngineDeps } from './engine.js';

/** P-3: a manual presence lasts until the agent signs out. */
export async function setPresence(deps: EngineDeps, org: string, agentId: string, presence: Presence): Promise<void> {
  await deps.store.updateAgentState(org, agentId, { presenceOverride: presence });
}

export async function signIn(deps: EngineDeps, org: string, agentId: string): Promise<void> {
  await deps.store.updateAgentState(org, agentId, { signedIn: true, connected: true, disconnectedAt: null, idleSince: deps.clock.now().toISOString() });
}

/** P-3: signing out clears the manual override. */
export async function signOut(deps: EngineDeps, org: string, agentId: string): Promise<void> {
  await deps.store.updateAgentState(org, agentId, { signedIn: false, connected: false, presenceOverride: null, disconnectedAt: null });
}

/** P-4 / T-4a: records the connection state; the grace and reconnect timers build on it. */
export async function setConnection(deps: EngineDeps, org: string, agentId: string, connected: boolean): Promise<void> {
  const agent = await deps.store.getAgent(org, agentId);
  if (!agent) throw new NotFoundError('agent', agentId);
  await deps.store.updateAgentState(org, agentId, connected ? { connected: true, disconnectedAt: null } : { connected: false, disconnectedAt: deps.clock.now().toISOString() });
}
