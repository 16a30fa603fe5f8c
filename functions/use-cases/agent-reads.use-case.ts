import { ForbiddenActionError, NotFoundError } from '../domain/errors.js';
import type { Agent, OrgSettings } from '../domain/model.js';
import { readsAcrossOrg, type Caller } from './caller.js';
import type { EngineDeps } from './engine.js';

/** What an agent's presence is read from (P-1..P-5): the agent, the org settings, and the time of the read. */
export interface AgentState {
  agent: Agent;
  settings: OrgSettings;
  now: Date;
}

/** The agent with its pools, the org settings and now; an unknown agent (or another org's, RL-6) is 404. */
export async function agentState(
  deps: Pick<EngineDeps, 'agents' | 'configuration' | 'clock'>,
  org: string,
  agentId: string,
): Promise<AgentState> {
  const [agent, settings] = await Promise.all([
    deps.agents.getAgent(org, agentId),
    deps.configuration.getSettings(org),
  ]);
  if (!agent) throw new NotFoundError('agent', agentId);
  return { agent, settings, now: deps.clock.now() };
}

/** An agent reads their own profile; supervisors and admins read any agent of their org. */
export function agentProfile(
  deps: Pick<EngineDeps, 'agents' | 'configuration' | 'clock'>,
  caller: Caller,
  agentId: string,
): Promise<AgentState> {
  if (!readsAcrossOrg(caller) && agentId !== caller.id)
    throw new ForbiddenActionError('an agent can read only their own profile');
  return agentState(deps, caller.org, agentId);
}
