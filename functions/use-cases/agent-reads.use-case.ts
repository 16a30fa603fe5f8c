import { ForbiddenActionError, NotFoundError } from '../domain/errors.js';
import type { Agent, OrgSettings } from '../domain/model.js';
import type { Page, PageRequest } from '../ports/read-types.js';
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

/** MX-2: an agent of the list, with the number of conversations holding her capacity */
export interface AgentListItem extends AgentState {
  conversations: number;
}

/**
 * MX-2 (supervisors and admins, by the route's roles): a page of the org's agents, or of a queue's
 * members, in agent id order. Each page reads its ids from one index query, then each agent (profile
 * and pools) and her allocations, side by side: the same requests for a page at 10 agents as at 10,000.
 */
export async function listAgentStates(
  deps: Pick<EngineDeps, 'agents' | 'configuration' | 'clock'>,
  caller: Caller,
  query: PageRequest & { queueId?: string | undefined },
): Promise<Page<AgentListItem>> {
  const { queueId, ...page } = query;
  const [queue, ids, settings] = await Promise.all([
    queueId === undefined ? undefined : deps.configuration.getQueue(caller.org, queueId),
    deps.agents.listAgentIdsPage(caller.org, queueId, page),
    deps.configuration.getSettings(caller.org),
  ]);
  if (queueId !== undefined && !queue) throw new NotFoundError('queue', queueId);
  const now = deps.clock.now();
  const read = await Promise.all(
    ids.items.map((id) =>
      Promise.all([deps.agents.getAgent(caller.org, id), deps.agents.listAllocations(caller.org, id)]),
    ),
  );
  const items = read.flatMap(([agent, held]) => (agent ? [{ agent, settings, now, conversations: held.length }] : []));
  return { items, ...(ids.nextCursor ? { nextCursor: ids.nextCursor } : {}) };
}
