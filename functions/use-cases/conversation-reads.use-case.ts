import { remaining } from '../domain/capacity.js';
import { ForbiddenActionError, NotFoundError } from '../domain/errors.js';
import { presenceOf } from '../domain/presence.js';
import { visibleToAgent } from '../domain/visibility.js';
import type { Conversation, HistoryEvent, Presence } from '../domain/model.js';
import type { ConversationFilter, Page, PageRequest } from '../ports/read-types.js';
import { readsAcrossOrg, type Caller } from './caller.js';
import type { ApiDeps, EngineDeps } from './engine.js';
import { visibleQueue } from './queue-reads.use-case.js';

/** Reads of conversations. Another org's conversation is simply not found: keys start with the org (RL-6). */

/**
 * RL-7: the conversation, if the caller may see it. Supervisors and admins see the org's; an agent sees
 * those of her queues and those she is or was working on (`visibleToAgent`), read beside her own record
 * (one round trip). Anything else is the same 404 as an unknown id, or another org's (RL-6).
 */
export async function readConversation(
  deps: Pick<EngineDeps, 'conversations' | 'agents'>,
  caller: Caller,
  id: string,
): Promise<Conversation> {
  const [c, agent] = await Promise.all([
    deps.conversations.getConversation(caller.org, id),
    readsAcrossOrg(caller) ? undefined : deps.agents.getAgent(caller.org, caller.id),
  ]);
  if (!c || (!readsAcrossOrg(caller) && !visibleToAgent(c, caller.id, agent?.queues ?? [])))
    throw new NotFoundError('conversation', id);
  return c;
}

/** E-1: the conversation's history, oldest first; an unknown (or, RL-7, unseen) conversation is 404. */
export async function conversationHistory(
  deps: Pick<EngineDeps, 'conversations' | 'agents'>,
  caller: Caller,
  id: string,
): Promise<HistoryEvent[]> {
  await readConversation(deps, caller, id);
  return deps.conversations.listEvents(caller.org, id);
}

export type ConversationQuery = ConversationFilter & PageRequest;

/** Supervisors and admins list the org's conversations; an agent lists their own, and may not ask for another's. */
export async function listConversations(
  deps: Pick<ApiDeps, 'lists'>,
  caller: Caller,
  query: ConversationQuery,
): Promise<Page<Conversation>> {
  const all = readsAcrossOrg(caller);
  if (!all && query.agentId && query.agentId !== caller.id)
    throw new ForbiddenActionError('an agent can list only their own conversations');
  const { limit, cursor, ...filter } = query;
  return deps.lists.listConversations(caller.org, all ? filter : { ...filter, agentId: caller.id }, {
    limit,
    ...(cursor ? { cursor } : {}),
  });
}

/** The agent's Active, WrapUp and Waiting conversations. */
export function workItems(deps: Pick<EngineDeps, 'lists'>, org: string, agentId: string): Promise<Conversation[]> {
  return deps.lists.listWorkItems(org, agentId);
}

/** the Open conversations of a queue, oldest first; an unknown queue, or (RL-7) not the agent's, is 404. */
export async function openItems(
  deps: Pick<EngineDeps, 'configuration' | 'lists' | 'agents'>,
  caller: Caller,
  queueId: string,
  page: PageRequest,
): Promise<Page<Conversation>> {
  await visibleQueue(deps, caller, queueId);
  return deps.lists.listOpenItems(caller.org, queueId, {
    limit: page.limit,
    ...(page.cursor ? { cursor: page.cursor } : {}),
  });
}

export interface Candidate {
  id: string;
  name: string;
  presence: Presence;
  remaining: number;
}

/** the queue's agents (not bots, not the primary) with an allowed presence and the capacity it costs. */
export async function consultCandidates(deps: ApiDeps, caller: Caller, conversationId: string): Promise<Candidate[]> {
  const org = caller.org;
  const c = await readConversation(deps, caller, conversationId);
  const ws = await deps.configuration.getWorkstream(org, c.workstreamId);
  if (!ws) throw new NotFoundError('workstream', c.workstreamId);
  const [members, settings] = await Promise.all([
    deps.lists.listQueueMembers(org, c.queueId),
    deps.configuration.getSettings(org),
  ]);
  const now = deps.clock.now();
  const agents = await Promise.all(
    members.filter((id) => id !== c.primaryAgentId).map((id) => deps.agents.getAgent(org, id)),
  );
  return agents
    .filter((a) => a !== undefined && !a.bot)
    .map((a) => ({ a: a!, p: presenceOf(a!, settings, now).presence }))
    .filter(
      ({ a, p }) =>
        ws.allowedPresences.includes(p) &&
        remaining(a.pools[ws.capacity.pool]) >= ws.capacity.units &&
        !c.consultants.includes(a.id),
    )
    .map(({ a, p }) => ({ id: a.id, name: a.name, presence: p, remaining: remaining(a.pools[ws.capacity.pool]) }));
}
