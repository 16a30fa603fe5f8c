import { refreshAvailability } from './availability.use-case.js';
import { canTake } from '../domain/capacity.js';
import { ConflictError, DomainError, RaceLostError, TransitionConflictError } from '../domain/errors.js';
import type { Actor, Agent, Conversation, OrgSettings, Workstream } from '../domain/model.js';
import { routableFree } from '../domain/presence.js';
import { performAction, settingsOf, workstreamOf } from './conversation-action.use-case.js';
import type { EngineDeps } from './engine.js';

/**
 * Push distribution. Candidates come from the availability index (GSI5: most remaining
 * capacity first, then idle longest); each is re-checked on a fresh read, and the offer commits
 * with the pool condition, the agent's state version and the queue membership as conditions. So an
 * offer never exceeds capacity and never goes outside the queue or to a disallowed presence, even
 * when the index lags; a candidate that fails the check is healed in the index and skipped.
 */

const ROUTER: Actor = { role: 'system', id: 'router' };

/**
 * Candidates are chosen on cached configuration; the offer's own transaction proves it current
 * (performAction's config-current checks), so a stale entry costs a retry, never a wrong offer.
 */
const cachedWorkstream = (deps: EngineDeps, org: string, id: string, fresh: boolean): Promise<Workstream | undefined> =>
  workstreamOf(deps, org, id, fresh).then(
    (w) => w.value,
    (err: unknown) => {
      if (err instanceof DomainError && err.kind === 'not-found') return undefined;
      throw err;
    },
  );
const PAGE = 5;
const MAX_PAGES = 4;

type OfferResult = 'offered' | 'conversation-gone' | 'agent-unfit';

export function isEligible(
  agent: Agent | undefined,
  c: Pick<Conversation, 'queueId'>,
  ws: Workstream,
  settings: OrgSettings,
  now: Date,
): agent is Agent {
  if (!agent || !agent.queues.includes(c.queueId)) return false;
  const routable = routableFree(agent, settings, now);
  return (
    !!routable && ws.allowedPresences.includes(routable.presence) && canTake(agent, ws.capacity.pool, ws.capacity.units)
  );
}

async function tryOffer(
  deps: EngineDeps,
  c: Conversation,
  agentId: string,
  ws: Workstream,
  settings: OrgSettings,
): Promise<OfferResult> {
  const now = deps.clock.now();
  const agent = await deps.agents.getAgent(c.org, agentId);
  if (!isEligible(agent, c, ws, settings, now)) {
    await refreshAvailability(deps, c.org, agentId, now);
    return 'agent-unfit';
  }
  try {
    await performAction(deps, {
      org: c.org,
      conversationId: c.id,
      actor: ROUTER,
      action: { type: 'offer', agentId },
      extraWrites: [
        {
          type: 'agent-assigned',
          org: c.org,
          agentId,
          expectStateVersion: agent.stateVersion ?? 0,
          at: now.toISOString(),
        },
        { type: 'member-check', org: c.org, queueId: c.queueId, agentId },
      ],
    });
    return 'offered';
  } catch (err) {
    if (err instanceof RaceLostError) throw err;
    if (err instanceof TransitionConflictError) return 'conversation-gone';
    if (err instanceof ConflictError || (err instanceof DomainError && err.kind !== 'not-found')) {
      await refreshAvailability(deps, c.org, agentId, now);
      return 'agent-unfit';
    }
    throw err;
  }
}

/** offers an Open conversation of a push workstream to the best eligible agent. */
export async function dispatchConversation(
  deps: EngineDeps,
  org: string,
  conversationId: string,
  fresh = false,
): Promise<{ offeredTo?: string }> {
  const c = await deps.conversations.getConversation(org, conversationId);
  if (c?.status !== 'Open') return {};
  // no offer made on cached configuration is a decision too: it is made again on a fresh read
  const nothing = (): Promise<{ offeredTo?: string }> =>
    fresh ? Promise.resolve({}) : dispatchConversation(deps, org, conversationId, true);
  const ws = await cachedWorkstream(deps, org, c.workstreamId, fresh);
  if (ws?.distribution !== 'push') return nothing();
  const settings = (await settingsOf(deps, org, fresh)).value;
  const declined = c.declinedBy ?? [];
  const skipped = new Set<string>();
  let after: string | undefined;
  for (let page = 0; page < MAX_PAGES; page++) {
    const { agents, next } = await deps.availability.availableAgents(
      org,
      c.queueId,
      ws.capacity.pool,
      ws.capacity.units,
      PAGE,
      after,
    );
    for (const { agentId } of agents) {
      if (declined.includes(agentId)) {
        skipped.add(agentId);
        continue;
      }
      const r = await tryOffer(deps, c, agentId, ws, settings);
      if (r === 'offered') return { offeredTo: agentId };
      if (r === 'conversation-gone') return {};
    }
    if (!next) break;
    after = next;
  }
  // Every eligible agent declined it already: offer again, the one who declined longest ago first
  // as many times as needed, never a one-shot).
  for (const agentId of declined.filter((a) => skipped.has(a))) {
    const r = await tryOffer(deps, c, agentId, ws, settings);
    if (r === 'offered') return { offeredTo: agentId };
    if (r === 'conversation-gone') return {};
  }
  return nothing();
}

/** How far back one queue's Open items are read for an agent's dispatch (pick items may share the queue). */
const BACKLOG_PAGE = 25;
const BACKLOG_MAX = 200;

/**
 * The oldest Open conversations of a queue: pages of 25 until one belongs to a push workstream,
 * at most 200 items (a queue shared with a deep pick backlog costs a few more reads, bounded).
 */
async function oldestOpen(
  deps: EngineDeps,
  org: string,
  queueId: string,
  isPush: (c: Conversation) => Promise<boolean>,
): Promise<Conversation[]> {
  const out: Conversation[] = [];
  let cursor: string | undefined;
  do {
    const page = await deps.lists.listOpenItems(org, queueId, { limit: BACKLOG_PAGE, ...(cursor ? { cursor } : {}) });
    out.push(...page.items);
    cursor = page.nextCursor;
    for (const c of page.items) if (await isPush(c)) return out;
  } while (cursor && out.length < BACKLOG_MAX);
  return out;
}

/**
 * an agent freed capacity, signed in or became Available: offer them the oldest Open
 * conversations of their queues they are eligible for, while they have room.
 */
export async function dispatchAgent(
  deps: EngineDeps,
  org: string,
  agentId: string,
  fresh = false,
): Promise<{ offered: string[] }> {
  const offered = await offerBacklog(deps, org, agentId, fresh);
  // no offer made on cached configuration is made again on a fresh read
  return offered.length || fresh ? { offered } : dispatchAgent(deps, org, agentId, true);
}

async function offerBacklog(deps: EngineDeps, org: string, agentId: string, fresh: boolean): Promise<string[]> {
  const offered: string[] = [];
  const workstreams = new Map<string, Workstream | undefined>();
  const settings = (await settingsOf(deps, org, fresh)).value;
  for (let round = 0; round < 50; round++) {
    const agent = await deps.agents.getAgent(org, agentId);
    if (!agent || !routableFree(agent, settings, deps.clock.now())) break;
    const isPush = async (c: Conversation): Promise<boolean> => {
      if (!workstreams.has(c.workstreamId))
        workstreams.set(c.workstreamId, await cachedWorkstream(deps, org, c.workstreamId, fresh));
      return workstreams.get(c.workstreamId)?.distribution === 'push';
    };
    const open = (await Promise.all(agent.queues.map((q) => oldestOpen(deps, org, q, isPush)))).flat();
    // oldest first; conversations this agent declined come after the others, but still come (R-3:
    // offered again as often as needed, or a conversation only they can take would starve)
    const declinedByMe = (c: Conversation): number => ((c.declinedBy ?? []).includes(agentId) ? 1 : 0);
    open.sort(
      (a, b) =>
        declinedByMe(a) - declinedByMe(b) || a.statusSince.localeCompare(b.statusSince) || a.id.localeCompare(b.id),
    );
    let progressed = false;
    for (const c of open) {
      if (!workstreams.has(c.workstreamId))
        workstreams.set(c.workstreamId, await cachedWorkstream(deps, org, c.workstreamId, fresh));
      const ws = workstreams.get(c.workstreamId);
      if (ws?.distribution !== 'push') continue;
      if (!isEligible(agent, c, ws, settings, deps.clock.now())) continue;
      const r = await tryOffer(deps, c, agentId, ws, settings);
      if (r === 'offered') {
        offered.push(c.id);
        progressed = true;
        break;
      }
      if (r === 'agent-unfit') return offered;
    }
    if (!progressed) break;
  }
  return offered;
}
