import { remaining } from '../domain/capacity.js';
import { NotFoundError } from '../domain/errors.js';
import { presenceOf } from '../domain/presence.js';
import type { Presence } from '../domain/model.js';
import type { ApiDeps } from './engine.js';

export interface Candidate {
  id: string;
  name: string;
  presence: Presence;
  remaining: number;
}

/** the queue's agents (not bots, not the primary) with an allowed presence and the capacity it costs. */
export async function consultCandidates(deps: ApiDeps, org: string, conversationId: string): Promise<Candidate[]> {
  const c = await deps.store.getConversation(org, conversationId);
  if (!c) throw new NotFoundError('conversation', conversationId);
  const ws = await deps.store.getWorkstream(org, c.workstreamId);
  if (!ws) throw new NotFoundError('workstream', c.workstreamId);
  const [members, settings] = await Promise.all([
    deps.store.listQueueMembers(org, c.queueId),
    deps.store.getSettings(org),
  ]);
  const now = deps.clock.now();
  const agents = await Promise.all(
    members.filter((id) => id !== c.primaryAgentId).map((id) => deps.store.getAgent(org, id)),
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
