import { presenceOf } from '../../domain/presence.js';
import { stateOf, type Agent, type Conversation, type HistoryEvent, type OrgSettings } from '../../domain/model.js';

/** The conversation as API.md reads it (plus offer and capacity details). */
export function conversationView(c: Conversation): Record<string, unknown> {
  return {
    id: c.id,
    org: c.org,
    channelId: c.channelId,
    channelKind: c.channelKind,
    mode: c.mode,
    threadId: c.threadId,
    status: c.status,
    state: stateOf(c.status),
    ...(c.statusReason ? { statusReason: c.statusReason } : {}),
    queueId: c.queueId,
    workstreamId: c.workstreamId,
    ...(c.customerId ? { customerId: c.customerId } : {}),
    ...(c.primaryAgentId ? { primaryAgentId: c.primaryAgentId, primaryKind: c.primaryKind ?? 'agent' } : {}),
    ...(c.accepted !== undefined ? { accepted: c.accepted } : {}),
    consultants: c.consultants,
    ...(c.supervisors?.length ? { supervisors: c.supervisors } : {}),
    ...(c.monitoredBy?.length ? { monitoredBy: c.monitoredBy } : {}),
    ...(c.pendingTransfer ? { pendingTransfer: c.pendingTransfer } : {}),
    session: c.session,
    ticket: c.ticket,
    ...(c.allocation
      ? { capacity: { agentId: c.allocation.agentId, pool: c.allocation.pool, units: c.allocation.units } }
      : {}),
    ...(c.wrapUpReleaseAt ? { wrapUpReleaseAt: c.wrapUpReleaseAt } : {}),
    createdAt: c.createdAt,
    updatedAt: c.updatedAt,
    version: c.version,
  };
}

export function eventView(e: HistoryEvent): Record<string, unknown> {
  return {
    seq: e.seq,
    at: e.at,
    actor: e.actor,
    role: e.role,
    action: e.action,
    from: e.from,
    to: e.to,
    ...(e.reason ? { reason: e.reason } : {}),
    version: e.version,
    ...(e.details ? { details: e.details } : {}),
  };
}

export function agentView(a: Agent, settings: OrgSettings, now: Date): Record<string, unknown> {
  const { presence, source } = presenceOf(a, settings, now);
  return {
    id: a.id,
    name: a.name,
    presence,
    presenceSource: source,
    connected: a.connected ?? false,
    signedIn: a.signedIn ?? false,
    queues: a.queues,
    bot: a.bot,
    capacity: Object.fromEntries(Object.values(a.pools).map((p) => [p.name, { max: p.max, used: p.used }])),
  };
}
