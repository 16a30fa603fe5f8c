import { metRequirements, refreshAvailability } from './availability.use-case.js';
import { queueDelays, queueRequirements } from './requirements-cache.js';
import { meets, requirementKeyOf } from '../domain/skills.js';
import { delayPassed, laneKey, membershipOf, queueLevels, waitedSeconds } from '../domain/profiles.js';
import { addSeconds } from '../domain/timers.js';
import { canTake } from '../domain/capacity.js';
import { ConflictError, DomainError, RaceLostError, TransitionConflictError } from '../domain/errors.js';
import {
  DEFAULT_ASSIGNMENT,
  enqueuedAtOf,
  queueOrder,
  type Actor,
  type Agent,
  type Conversation,
  type OrgSettings,
  type Workstream,
} from '../domain/model.js';
import { routableFree } from '../domain/presence.js';
import type { Versioned } from '../ports/storage-types.js';
import { performAction, settingsOf, workstreamOf } from './conversation-action.use-case.js';
import type { EngineDeps } from './engine.js';

/**
 * Push distribution. Candidates come from the availability index in the workstream's
 * assignment order (A-1; GSI5 for most-capacity: most remaining capacity first, then idle longest;
 * GSI6 for round-robin and least-active); each is re-checked on a fresh read, and the offer commits
 * with the pool condition, the agent's state version and the queue membership as conditions. So an
 * offer never exceeds capacity and never goes outside the queue or to a disallowed presence, even
 * when the index lags; a candidate that fails the check is healed in the index and skipped.
 */

const ROUTER: Actor = { role: 'system', id: 'router' };

/**
 * Candidates are chosen on cached configuration; the offer's own transaction proves it current
 * (performAction's config-current checks), so a stale entry costs a retry, never a wrong offer.
 */
const versionedWorkstream = (
  deps: EngineDeps,
  org: string,
  id: string,
  fresh: boolean,
): Promise<Versioned<Workstream> | undefined> =>
  workstreamOf(deps, org, id, fresh).then(
    (w) => w,
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
  c: Pick<Conversation, 'queueId' | 'requirements' | 'enqueuedAt' | 'statusSince'>,
  ws: Workstream,
  settings: OrgSettings,
  now: Date,
): agent is Agent {
  if (!agent || !agent.queues.includes(c.queueId)) return false;
  // K-4: she meets the conversation's current requirement
  if (!meets(agent.skills, c.requirements?.skills)) return false;
  // it waited at least her membership's delay in the queue
  if (!delayPassed(agent, c, now)) return false;
  const routable = routableFree(agent, settings, now);
  return (
    !!routable && ws.allowedPresences.includes(routable.presence) && canTake(agent, ws.capacity.pool, ws.capacity.units)
  );
}

/** Reads the candidate consistently (the index may lag), then offers if she is still eligible. */
async function offerToCandidate(
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
  return tryOffer(deps, c, agent, now);
}

/**
 * The offer, on the agent as the caller read her (consistently) and found eligible: it commits with
 * her `stateVersion` as read and her queue membership as conditions, so a change since costs the
 * offer, never a wrong one.
 */
async function tryOffer(deps: EngineDeps, c: Conversation, agent: Agent, now: Date): Promise<OfferResult> {
  const agentId = agent.id;
  try {
    await performAction(deps, {
      org: c.org,
      conversationId: c.id,
      actor: ROUTER,
      action: { type: 'offer', agentId },
      // both read consistently just now: the offer decides on them (its conditions prove them)
      known: { conversation: c, agents: { [agentId]: agent } },
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

/**
 * R-5 for a decision that offered nothing: it stands if the configuration it was made on is the
 * current one (a fresh, strongly consistent read finds the same `configVersion` of each item it
 * used: a PUT writes a new one), since the same configuration gives the same decision. Otherwise
 * (or if an item is gone) it must be made again on fresh reads, which are returned for that.
 */
async function currentConfig(
  deps: EngineDeps,
  org: string,
  used: { settings?: Versioned<OrgSettings>; workstreams: ReadonlyMap<string, Versioned<Workstream> | undefined> },
): Promise<{
  same: boolean;
  settings?: Versioned<OrgSettings>;
  workstreams: Map<string, Versioned<Workstream> | undefined>;
}> {
  const ids = [...used.workstreams.keys()];
  const [settings, ...fresh] = await Promise.all([
    used.settings ? settingsOf(deps, org, true) : undefined,
    ...ids.map((id) => versionedWorkstream(deps, org, id, true)),
  ]);
  const workstreams = new Map(ids.map((id, i) => [id, fresh[i]]));
  const same =
    (!used.settings || settings?.version === used.settings.version) &&
    ids.every((id) => sameVersion(used.workstreams.get(id), workstreams.get(id)));
  return { same, ...(settings ? { settings } : {}), workstreams };
}

const sameVersion = (a: Versioned<unknown> | undefined, b: Versioned<unknown> | undefined): boolean =>
  a === undefined || b === undefined ? a === b : a.version === b.version;

/** The queue and workstream a conversation entered Open with, as its stream record showed them. */
export interface SeenOpen {
  queueId: string;
  workstreamId: string;
  /** K-4: the key of its requirement then */
  requirement: string;
}

/**
 * offers an Open conversation of a push workstream to the best eligible agent. `seen` (the
 * conversation as the stream record showed it) lets the first page of candidates be read while the
 * conversation itself is read again: used only if the conversation is still in that queue and
 * workstream.
 */
export async function dispatchConversation(
  deps: EngineDeps,
  org: string,
  conversationId: string,
  fresh = false,
  seen?: SeenOpen,
): Promise<{ offeredTo?: string }> {
  const early = seen && !fresh ? firstCandidates(deps, org, seen).catch(() => undefined) : undefined;
  const [c, first] = await Promise.all([deps.conversations.getConversation(org, conversationId), early]);
  if (c?.status !== 'Open') return {};
  const wsRead = await versionedWorkstream(deps, org, c.workstreamId, fresh);
  /** the settings, when they judged a candidate */
  let settingsRead: Versioned<OrgSettings> | undefined;
  // no offer made on cached configuration is a decision too: unless a fresh read finds the
  // same configuration, it is made again on fresh reads
  const nothing = async (): Promise<{ offeredTo?: string }> => {
    if (fresh) return {};
    const current = await currentConfig(deps, org, {
      ...(settingsRead ? { settings: settingsRead } : {}),
      workstreams: new Map([[c.workstreamId, wsRead]]),
    });
    return current.same ? {} : dispatchConversation(deps, org, conversationId, true);
  };
  const ws = wsRead?.value;
  if (ws?.distribution !== 'push') return nothing();
  const [cachedSettings, lanes] = await Promise.all([settingsOf(deps, org, fresh), lanesOf(deps, c)]);
  const settings = cachedSettings.value;
  if (preferenceHolds(c, deps.clock.now())) {
    // only the preferred agent, while the preference holds; anyone once it ends (its timer)
    settingsRead = cachedSettings;
    const r = await offerToCandidate(deps, c, c.preference.agentId, ws, settings);
    if (r === 'offered') return { offeredTo: c.preference.agentId };
    if (r === 'conversation-gone') return {};
    await armDispatchAt(deps, c, c.preference.until);
    return nothing();
  }
  const declined = c.declinedBy ?? [];
  const skipped = new Set<string>();
  for await (const agentId of candidatesOf(deps, c, ws, lanes.open, first)) {
    if (declined.includes(agentId)) {
      skipped.add(agentId);
      continue;
    }
    settingsRead = cachedSettings;
    const r = await offerToCandidate(deps, c, agentId, ws, settings);
    if (r === 'offered') return { offeredTo: agentId };
    if (r === 'conversation-gone') return {};
  }
  // Every eligible agent declined it already: offer again, the one who declined longest ago first
  // as many times as needed, never a one-shot).
  for (const agentId of declined.filter((a) => skipped.has(a))) {
    settingsRead = cachedSettings;
    const r = await offerToCandidate(deps, c, agentId, ws, settings);
    if (r === 'offered') return { offeredTo: agentId };
    if (r === 'conversation-gone') return {};
  }
  // members whose delay has not passed yet are dispatched to it when the next delay passes
  if (lanes.nextDelay !== undefined)
    await armDispatchAt(deps, c, addSeconds(new Date(enqueuedAtOf(c)), lanes.nextDelay));
  return nothing();
}

/**
 * the availability lanes of the conversation's requirement it may be offered from now (the
 * undelayed one, and each member delay of its queue it has waited), and the next delay to pass.
 */
async function lanesOf(deps: EngineDeps, c: Conversation): Promise<{ open: string[]; nextDelay?: number }> {
  const now = deps.clock.now();
  const requirement = requirementKeyOf(c);
  const delays = await queueDelays(deps, c.org, c.queueId, now.getTime());
  const waited = waitedSeconds(c, now);
  const nextDelay = delays.find((d) => d > waited);
  return {
    open: [requirement, ...delays.filter((d) => d <= waited).map((d) => laneKey(requirement, d))],
    ...(nextDelay !== undefined ? { nextDelay } : {}),
  };
}

/**
 * a dispatch of the conversation at `at` (a member's delay passes, or its preference ends),
 * if it is still Open in the same wait then (TM-5).
 */
async function armDispatchAt(deps: EngineDeps, c: Conversation, at: string): Promise<void> {
  await deps.outbox.armTimer({
    kind: 'delay',
    org: c.org,
    conversationId: c.id,
    version: c.version,
    at,
    subjectSince: enqueuedAtOf(c),
  });
}

/** the conversation waits for its preferred agent now (the window is open, and she has not declined it). */
export const preferenceHolds = (
  c: Pick<Conversation, 'preference' | 'declinedBy'>,
  now: Date,
): c is Pick<Conversation, 'declinedBy'> & { preference: NonNullable<Conversation['preference']> } =>
  !!c.preference &&
  now.getTime() < Date.parse(c.preference.until) &&
  !(c.declinedBy ?? []).includes(c.preference.agentId);

/** another agent's preferred conversation is not hers while the preference holds. */
const preferredElsewhere = (c: Conversation, agentId: string, now: Date): boolean =>
  preferenceHolds(c, now) && c.preference.agentId !== agentId;

/**
 * The candidates for a conversation with room for it, best first by the assignment method: the
 * undelayed lane first, then each lane whose delay it has waited, at most MAX_PAGES pages of
 * each. `first` is the first page of the first lane when it was read early, on the same terms.
 */
async function* candidatesOf(
  deps: EngineDeps,
  c: Conversation,
  ws: Workstream,
  lanes: readonly string[],
  first: Awaited<ReturnType<typeof firstCandidates>> | undefined,
): AsyncGenerator<string> {
  const reuse =
    first &&
    first.queueId === c.queueId &&
    first.pool === ws.capacity.pool &&
    first.units === ws.capacity.units &&
    first.method === (ws.assignment ?? DEFAULT_ASSIGNMENT) &&
    first.requirement === lanes[0];
  for (const [laneIndex, lane] of lanes.entries()) {
    let after: string | undefined;
    for (let page = 0; page < MAX_PAGES; page++) {
      const { agents, next } =
        page === 0 && laneIndex === 0 && reuse ? first.page : await candidatePage(deps, c, ws, lane, after);
      // the round-robin and least-active orders also list agents with less room than it costs
      for (const { agentId, free } of agents) if (free >= ws.capacity.units) yield agentId;
      if (!next) break;
      after = next;
    }
  }
}

/** A page of candidates for a conversation in one lane, in its workstream's assignment order. */
const candidatePage = (deps: EngineDeps, c: Conversation, ws: Workstream, lane: string, after: string | undefined) =>
  deps.availability.availableAgents(
    c.org,
    c.queueId,
    ws.capacity.pool,
    ws.capacity.units,
    PAGE,
    after,
    ws.assignment ?? DEFAULT_ASSIGNMENT,
    lane,
  );

/** The first page of candidates for a conversation in `seen`'s queue, on the cached workstream. */
async function firstCandidates(deps: EngineDeps, org: string, seen: SeenOpen) {
  const ws = (await versionedWorkstream(deps, org, seen.workstreamId, false))?.value;
  if (ws?.distribution !== 'push') return undefined;
  const { pool, units } = ws.capacity;
  const method = ws.assignment ?? DEFAULT_ASSIGNMENT;
  const { queueId, requirement } = seen;
  const page = await deps.availability.availableAgents(org, queueId, pool, units, PAGE, undefined, method, requirement);
  return { queueId, pool, units, method, requirement, page };
}

/** How far back one queue's Open items are read for an agent's dispatch (pick items may share the queue). */
const BACKLOG_PAGE = 25;
const BACKLOG_MAX = 200;

/** What one dispatch of an agent listed of a queue's Open items so far, oldest first. */
interface Listing {
  /** K-4: the requirement partitions of the queue she meets (fixed for the listing: its cursor names them) */
  requirements: string[];
  items: Conversation[];
  cursor?: string | undefined;
  started: boolean;
}

/**
 * The oldest Open conversations of a queue: pages of 25 until one belongs to a push workstream,
 * at most 200 items (a queue shared with a deep pick backlog costs a few more reads, bounded). A
 * listing kept from a decision on cached configuration is reused by the decision made again on
 * fresh configuration: it pages on only if, by the fresh workstreams, it holds no push item yet.
 */
async function oldestOpen(
  deps: EngineDeps,
  org: string,
  queueId: string,
  listing: Listing,
  /** an item she may be offered now (a push item whose wait passed her delay, Q-3) */
  wanted: (c: Conversation) => Promise<boolean>,
): Promise<Conversation[]> {
  for (const c of listing.items) if (await wanted(c)) return listing.items;
  while ((!listing.started || listing.cursor) && listing.items.length < BACKLOG_MAX) {
    const page = await deps.lists.listOpenItemsFor(org, queueId, listing.requirements, {
      limit: BACKLOG_PAGE,
      ...(listing.cursor ? { cursor: listing.cursor } : {}),
    });
    listing.started = true;
    listing.items.push(...page.items);
    listing.cursor = page.nextCursor;
    for (const c of page.items) if (await wanted(c)) return listing.items;
  }
  return listing.items;
}

/**
 * an agent freed capacity, signed in or became Available: offer them the oldest Open
 * conversations of their queues they are eligible for, while they have room.
 *
 * a round that offers nothing stands as decided on cached configuration unless that
 * configuration mattered (she was judged unroutable by the cached settings, or an Open item was
 * passed over by a cached workstream or settings, or found her unfit) and a fresh read finds it
 * changed; then the round is decided again on the fresh configuration, on the items already
 * listed. With an empty backlog (the common case) each queue's Open items are listed once.
 */
export async function dispatchAgent(
  deps: EngineDeps,
  org: string,
  agentId: string,
  fresh = false,
  /** the agent as the caller read her (consistently, after the change that asked for this dispatch) */
  known?: Promise<Agent | undefined>,
): Promise<{ offered: string[] }> {
  const offered: string[] = [];
  const [settings, agent] = await Promise.all([
    settingsOf(deps, org, fresh),
    known ?? deps.agents.getAgent(org, agentId),
  ]);
  const state: RoundState = { agent, settings, fresh, workstreams: new Map(), listings: new Map() };
  let unfit = 0;
  let taken = 0;
  /** when the first item she passed over for her delay will have waited it (the last round's) */
  let dueAt: number | undefined;
  for (let round = 0; state.agent && round < 50; round++) {
    const { outcome, mattered, dueAt: due } = await offerRound(deps, org, state.agent, state);
    dueAt = due;
    if (typeof outcome === 'object') {
      offered.push(outcome.offered);
      // no unit left in any pool after this offer (as she was read): done; a release since is a change of its own
      if (!hasRoomAfter(state.agent, outcome.pool, outcome.units)) break;
      // she may have room for more: the next round reads her and her queues again
      state.listings = new Map();
      state.agent = await deps.agents.getAgent(org, agentId);
      continue;
    }
    if (outcome === 'taken' && taken++ < MAX_RELISTS) {
      // other agents took what she was trying, one item ahead of her: the listing is stale, and
      // more may wait past it. List her queues again, from the oldest still Open.
      state.listings = new Map();
      continue;
    }
    if (outcome === 'unfit' && unfit++ < MAX_UNFIT_ROUNDS) {
      // the offer failed on her as read: she changed since (another follow-up of the batch offered
      // her work, or her presence moved). Decide again on a fresh read, on the same listings: work
      // that fits what she has left is still hers to take now, not at the dispatch timer.
      state.agent = await deps.agents.getAgent(org, agentId);
      continue;
    }
    if (state.fresh || !mattered) break;
    // decided on cached configuration that mattered: it stands only if that is the current one
    const current = await currentConfig(deps, org, { settings: state.settings, workstreams: state.workstreams });
    if (current.same) break;
    state.fresh = true;
    state.settings = current.settings ?? (await settingsOf(deps, org, true));
    state.workstreams = current.workstreams;
    // the offer found her unfit (a change since she was read): the fresh decision reads her again
    if (outcome === 'unfit') state.agent = await deps.agents.getAgent(org, agentId);
  }
  // work she may take once her delay passes: her dispatch is due then (the conversation's own
  // delay timer covers it too, unless her delay was added after it was dispatched)
  if (dueAt !== undefined && state.agent) {
    await deps.outbox.armTimer({
      kind: 'delay',
      org,
      agentId,
      version: state.agent.stateVersion ?? 0,
      at: new Date(dueAt).toISOString(),
    });
  }
  return { offered };
}

/** Offers in a row that find the conversation taken before a round lists her queues again. */
const TAKEN_IN_A_ROW = 3;
/** Listings of an agent's queues made again in one dispatch after offers found their items taken. */
const MAX_RELISTS = 5;

/** Rounds decided again on a fresh read of the agent after an offer found her changed (beyond: the dispatch timer). */
const MAX_UNFIT_ROUNDS = 3;

/** Whether any of her pools keeps a unit free once `units` more are used in `pool`. */
const hasRoomAfter = (agent: Agent | undefined, pool: string, units: number): boolean =>
  !!agent && Object.values(agent.pools).some((p) => p.max - p.used - (p.name === pool ? units : 0) > 0);

/** What the rounds of one agent's dispatch decide on; a decision made again on fresh configuration keeps the listings. */
interface RoundState {
  agent: Agent | undefined;
  settings: Versioned<OrgSettings>;
  fresh: boolean;
  workstreams: Map<string, Versioned<Workstream> | undefined>;
  listings: Map<string, Listing>;
}

/**
 * The Open items of one level of her queues, merged in Q-2 order (each listing is already);
 * conversations she declined come after the others, but still come (R-3: offered again as often as
 * needed, or a conversation only she can take would starve).
 */
async function levelItems(
  deps: EngineDeps,
  org: string,
  agent: Agent,
  state: RoundState,
  level: readonly string[],
  registry: ReadonlyMap<string, string[]>,
  wanted: (c: Conversation) => Promise<boolean>,
): Promise<Conversation[]> {
  const open = (
    await Promise.all(
      level.map((q) => {
        const listing = state.listings.get(q) ?? {
          requirements: metRequirements(agent, registry.get(q)),
          items: [],
          started: false,
        };
        state.listings.set(q, listing);
        return oldestOpen(deps, org, q, listing, wanted);
      }),
    )
  ).flat();
  const declinedByMe = (c: Conversation): number => ((c.declinedBy ?? []).includes(agent.id) ? 1 : 0);
  return open.sort(
    (a, b) =>
      declinedByMe(a) - declinedByMe(b) || queueOrder(a).localeCompare(queueOrder(b)) || a.id.localeCompare(b.id),
  );
}

/**
 * One offer, at most, of the oldest eligible Open conversation of her queues, level by level of her
 * routing profile (Q-3: her first-priority queues that hold eligible work, before any other);
 * `mattered`: a cached configuration item decided something (she is unroutable by the settings, an
 * item was passed over by its workstream or the settings, or the offer found her unfit). `dueAt`:
 * with nothing offered, when the first item passed over only for her delay will have waited it.
 */
async function offerRound(
  deps: EngineDeps,
  org: string,
  agent: Agent,
  state: RoundState,
): Promise<{
  outcome: { offered: string; pool: string; units: number } | 'nothing' | 'unfit' | 'unroutable' | 'taken';
  mattered: boolean;
  dueAt?: number;
}> {
  const now = deps.clock.now();
  const settings = state.settings.value;
  const routable = routableFree(agent, settings, now);
  if (!routable) return { outcome: 'unroutable', mattered: true };
  // no unit free in any pool (every workstream takes at least one): nothing to list, whatever the configuration
  if (!Object.values(routable.free).some((n) => n > 0)) return { outcome: 'nothing', mattered: false };
  const workstreamOfItem = async (c: Conversation): Promise<Workstream | undefined> => {
    if (!state.workstreams.has(c.workstreamId))
      state.workstreams.set(c.workstreamId, await versionedWorkstream(deps, org, c.workstreamId, state.fresh));
    return state.workstreams.get(c.workstreamId)?.value;
  };
  // a listing pages on past items she may not take yet (Q-3: her delay there), bounded by BACKLOG_MAX
  const wanted = async (c: Conversation): Promise<boolean> =>
    delayPassed(agent, c, now) &&
    !preferredElsewhere(c, agent.id, now) &&
    (await workstreamOfItem(c))?.distribution === 'push';
  const queues = [...new Set(agent.queues)];
  const registry = queues.some((q) => !state.listings.has(q))
    ? await queueRequirements(deps, org, queues, now.getTime())
    : new Map<string, string[]>();
  let mattered = false;
  let dueAt: number | undefined;
  for (const level of queueLevels(agent)) {
    const open = await levelItems(deps, org, agent, state, level, registry, wanted);
    /** offers that found their conversation taken (offered to someone else, or ended): every one tried so far */
    let taken = 0;
    for (const c of open) {
      // its preference's end dispatches it (a timer), to her too if she is the best then
      if (preferredElsewhere(c, agent.id, now)) continue;
      const ws = await workstreamOfItem(c);
      if (ws?.distribution === 'push' && !delayPassed(agent, c, now)) {
        const due = Date.parse(enqueuedAtOf(c)) + membershipOf(agent, c.queueId).delaySeconds * 1000;
        dueAt = Math.min(dueAt ?? due, due);
        continue;
      }
      if (ws?.distribution !== 'push' || !isEligible(agent, c, ws, settings, now)) {
        mattered = true;
        continue;
      }
      // work she declined goes to the next agent first: its own dispatch decides (it comes back to
      // her when everyone declined); only if that offers it to nobody is it offered to her here
      if ((c.declinedBy ?? []).includes(agent.id)) {
        const { offeredTo } = await dispatchConversation(deps, org, c.id);
        if (offeredTo === agent.id) return { outcome: { offered: c.id, ...ws.capacity }, mattered };
        if (offeredTo) continue;
      }
      const r = await tryOffer(deps, c, agent, now);
      if (r === 'offered') return { outcome: { offered: c.id, ...ws.capacity }, mattered };
      if (r === 'agent-unfit') return { outcome: 'unfit', mattered: true };
      if (++taken >= TAKEN_IN_A_ROW) return { outcome: 'taken', mattered };
    }
    // a listing that held taken items may have stopped short of work still waiting past it
    if (taken > 0) return { outcome: 'taken', mattered };
  }
  return { outcome: 'nothing', mattered, ...(dueAt !== undefined ? { dueAt } : {}) };
}
