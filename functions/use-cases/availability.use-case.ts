import type { Agent, OrgSettings } from '../domain/model.js';
import { presenceOf, routableFree } from '../domain/presence.js';
import { laneKey, membershipOf } from '../domain/profiles.js';
import { ANY_REQUIREMENT, meets, requirementOf } from '../domain/skills.js';
import { queueRequirements } from './requirements-cache.js';
import type { AgentAvailability, Agents, AvailabilityIndex, Configuration } from '../ports/repositories.js';

/** An idle time before every real one: agents never assigned sort first among equals. */
const NEVER = '0000-00-00T00:00:00.000Z';

/**
 * The agent's availability entries: one per queue x pool x requirement she meets (K-4: `any`, and
 * those of the queue's `registry`), in the lane of her delay there, listed while she is routable with room there. `active` (A-1
 * least-active) is the number of conversations holding her capacity.
 */
export function availabilityOf(
  agent: Agent,
  settings: OrgSettings,
  now: Date,
  active: number,
  registry: ReadonlyMap<string, readonly string[]> = new Map(),
): AgentAvailability {
  const routable = routableFree(agent, settings, now);
  return {
    org: agent.org,
    agentId: agent.id,
    idleSince: agent.idleSince ?? NEVER,
    lastAssignedAt: agent.lastAssignedAt ?? NEVER,
    active,
    entries: agent.queues.flatMap((queueId) => {
      // a member with a delay is listed in that delay's lane of each requirement
      const { delaySeconds } = membershipOf(agent, queueId);
      return metRequirements(agent, registry.get(queueId)).flatMap((requirement) =>
        Object.keys(agent.pools).map((pool) => {
          const free = routable?.free[pool] ?? 0;
          return {
            queueId,
            pool,
            requirement: laneKey(requirement, delaySeconds),
            free,
            listed: !!routable && free > 0,
          };
        }),
      );
    }),
  };
}

/** K-4: `any`, and each requirement of the queue's registry the agent's skills meet. */
export const metRequirements = (agent: Pick<Agent, 'skills'>, registry: readonly string[] | undefined): string[] => [
  ANY_REQUIREMENT,
  ...(registry ?? []).filter((key) => meets(agent.skills, requirementOf(key))),
];

/** What the entries are made of: equal signatures, equal entries. */
function signature(agent: Agent, settings: OrgSettings, now: Date): string {
  const routable = routableFree(agent, settings, now);
  return JSON.stringify([
    agent.queues,
    agent.memberships ?? {},
    agent.skills ?? {},
    Object.keys(agent.pools).sort(),
    routable?.free ?? null,
    routable ? (agent.idleSince ?? '') : null,
    routable ? (agent.lastAssignedAt ?? '') : null,
    // conversations held move with the pools' `used` (the same transactions): the pools stand for them
    Object.values(agent.pools).map((p) => p.used),
  ]);
}

/** MX-2: the presence the agent shows now, and since when, when it is not the one recorded */
async function recordPresence(
  deps: { agents: Agents },
  agent: Agent | undefined,
  settings: OrgSettings,
  now: Date,
): Promise<void> {
  if (!agent) return;
  const { presence } = presenceOf(agent, settings, now);
  if (agent.presenceShown !== presence)
    await deps.agents.recordPresence(agent.org, agent.id, presence, now.toISOString());
}

/** Rounds of write-then-check at most (each round follows a change that committed meanwhile). */
const MAX_ROUNDS = 5;

/**
 * rewrites the agent's availability entries from a consistent read of the agent and pools,
 * after a change to its capacity, presence or queues (a stream follow-up). The index is a candidate
 * list: an offer re-checks the agent and commits with its own conditions, so a stale entry costs a
 * retry, never a wrong assignment, and each refresh heals it.
 *
 * A refresh that read the agent before a concurrent change could overwrite a newer refresh with
 * stale entries. So it reads again after writing and writes again until what it wrote is what is
 * committed: the last refresh to finish always leaves the latest state (bounded).
 */
export async function refreshAvailability(
  deps: { agents: Agents; configuration: Configuration; availability: AvailabilityIndex },
  org: string,
  agentId: string,
  now: Date,
  known?: Agent,
  /** read the queues' requirement registries afresh (a re-index after a workstream PUT) */
  fresh = false,
): Promise<void> {
  // one round trip: the settings and her allocations beside the agent
  const [settings, read, held] = await Promise.all([
    deps.configuration.getSettings(org),
    known ?? deps.agents.getAgent(org, agentId),
    deps.agents.listAllocations(org, agentId),
  ]);
  let agent = read;
  let active = held.length;
  for (let round = 0; agent && round < MAX_ROUNDS; round++) {
    const written = signature(agent, settings, now);
    const registry = await queueRequirements(deps, org, agent.queues, now.getTime(), fresh);
    await deps.availability.writeEntries(availabilityOf(agent, settings, now, active, registry));
    const after = await deps.agents.getAgent(org, agentId);
    if (!after || signature(after, settings, now) === written) return recordPresence(deps, after, settings, now);
    // allocations change only with the pools' `used` (in one transaction), so a change the entries
    // missed shows in the signature; its round reads them again (a count newer than the agent read
    // shows the same way in the next check)
    agent = after;
    active = (await deps.agents.listAllocations(org, agentId)).length;
  }
}
