import type { Message } from '../../domain/messages.js';
import type { Hours } from '../../domain/hours.js';
import type { OverflowRule } from '../../domain/overflow.js';
import { DEFAULT_SERVICE_LEVEL_SECONDS } from '../../domain/queues.js';
import type { QueueState } from '../../use-cases/queue-reads.use-case.js';
import type { AgentListItem } from '../../use-cases/agent-reads.use-case.js';
import type { QueuePositionView } from '../../use-cases/queue-position.use-case.js';
import type { QueueMetrics } from '../../use-cases/metrics.use-case.js';
import { presenceOf, type PresenceSource } from '../../domain/presence.js';
import { membershipOf } from '../../domain/profiles.js';
import {
  DEFAULT_ASSIGNMENT,
  DEFAULT_PREFERRED_AGENT_TIMEOUT_SECONDS,
  effectivePriority,
  type AssignmentMethod,
  enqueuedAtOf,
  priorityOf,
  stateOf,
  type ActorRole,
  type Channel,
  type ChannelKind,
  type Contact,
  type Conversation,
  type HistoryEvent,
  type Mode,
  type OrgSettings,
  type Presence,
  type SignatureScheme,
  type State,
  type Status,
  type Workstream,
} from '../../domain/model.js';
import type { MessageTemplate, TemplateEvent } from '../../domain/templates.js';
import type { Trigger } from '../../domain/triggers.js';
import type { QueueConfig } from '../../ports/storage-types.js';
import type { Note, Page } from '../../ports/read-types.js';
import type { AgentState } from '../../use-cases/agent-reads.use-case.js';
import type { ActionResult } from '../../use-cases/conversation-action.use-case.js';
import type { Candidate } from '../../use-cases/conversation-reads.use-case.js';

/**
 * What the HTTP API answers, one interface per schema of openapi.yaml's components, and the one
 * function that maps each domain value to it. Handlers answer views only: a field reaches a client
 * because a view names it, never because the store happened to hold it.
 */

/** `{ items }`: openapi.yaml's *List schemas. */
export interface ListView<T> {
  items: T[];
}

/** `{ items, nextCursor? }`: openapi.yaml's *Page schemas. */
export interface PageView<T> extends ListView<T> {
  nextCursor?: string;
}

export const listView = <A, T>(items: readonly A[], view: (a: A) => T): ListView<T> => ({ items: items.map(view) });

export const pageView = <A, T>(page: Page<A>, view: (a: A) => T): PageView<T> => ({
  items: page.items.map(view),
  ...(page.nextCursor ? { nextCursor: page.nextCursor } : {}),
});

/** openapi.yaml `Conversation`: the conversation as API.md reads it (plus offer and capacity details). */
export interface ConversationView {
  id: string;
  org: string;
  channelId: string;
  channelKind: ChannelKind;
  mode: Mode;
  threadId: string;
  status: Status;
  state: State;
  statusReason?: string;
  queueId: string;
  workstreamId: string;
  customerId?: string;
  primaryAgentId?: string;
  primaryKind?: 'agent' | 'external';
  accepted?: boolean;
  consultants: string[];
  supervisors?: string[];
  monitoredBy?: string[];
  pendingTransfer?: NonNullable<Conversation['pendingTransfer']>;
  session: { status: 'active' | 'ended'; endReason?: string };
  ticket: { id: string; channel: string; status: string };
  capacity?: { agentId: string; pool: string; units: number };
  wrapUpReleaseAt?: string;
  /** */
  priority: number;
  /** Q-2, while Open: the priority with aging, as of the response */
  effectivePriority?: number;
  /** Q-2, while Open: when it entered its current queue */
  enqueuedAt?: string;
  /** K-2, K-3: the skills an agent needs to be offered it, and the relaxation step (0: the routing rule's) */
  requirements?: { skills: Record<string, number>; step: number };
  /** the agent it waits for first, until `preferredUntil` */
  preferredAgentId?: string;
  preferredUntil?: string;
  createdAt: string;
  updatedAt: string;
  version: number;
}

/** `now` is the instant the effective priority is given for. */
export function conversationView(c: Conversation, now: Date): ConversationView {
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
    priority: priorityOf(c),
    ...(c.status === 'Open' ? { effectivePriority: effectivePriority(c, now), enqueuedAt: enqueuedAtOf(c) } : {}),
    ...(c.requirements ? { requirements: { skills: c.requirements.skills, step: c.requirements.step } } : {}),
    ...(c.preference ? { preferredAgentId: c.preference.agentId, preferredUntil: c.preference.until } : {}),
    createdAt: c.createdAt,
    updatedAt: c.updatedAt,
    version: c.version,
  };
}

/** the conversation view of a list, every item as of one instant */
export const viewAt =
  (now: Date) =>
  (c: Conversation): ConversationView =>
    conversationView(c, now);

/** openapi.yaml `ActionResult`: the updated conversation, plus `unitsOverCapacity` where S-3 applies. */
export interface ActionResultView extends ConversationView {
  unitsOverCapacity?: number;
}

/**
 * The conversation as of the change (its event's instant), not as of the answer: an Idempotency-Key
 * replay a minute later answers exactly the same body, aging included (Q-2's effectivePriority).
 */
export const actionResultView = (r: ActionResult): ActionResultView => ({
  ...conversationView(r.conversation, new Date(r.event.at)),
  ...(r.unitsOverCapacity !== undefined ? { unitsOverCapacity: r.unitsOverCapacity } : {}),
});

/** openapi.yaml `HistoryEvent` (E-1). */
export interface EventView {
  seq: number;
  at: string;
  actor: string;
  role: ActorRole;
  action: string;
  from: Status | null;
  to: Status;
  reason?: string;
  version: number;
  details?: Record<string, string | number | boolean>;
}

export function eventView(e: HistoryEvent): EventView {
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

/** openapi.yaml `Agent`: presence, its source, and capacity per pool. */
export interface AgentView {
  id: string;
  name: string;
  presence: Presence;
  presenceSource: PresenceSource;
  connected: boolean;
  signedIn: boolean;
  queues: string[];
  /** her routing profile, one entry per queue (defaults filled in) */
  memberships: { id: string; priority: number; delaySeconds: number }[];
  bot: boolean;
  /** K-1 */
  skills: Record<string, number>;
  capacity: Record<string, { max: number; used: number }>;
}

export function agentView({ agent: a, settings, now }: AgentState): AgentView {
  const { presence, source } = presenceOf(a, settings, now);
  return {
    id: a.id,
    name: a.name,
    presence,
    presenceSource: source,
    connected: a.connected ?? false,
    signedIn: a.signedIn ?? false,
    queues: a.queues,
    memberships: a.queues.map((id) => ({ id, ...membershipOf(a, id) })),
    bot: a.bot,
    skills: a.skills ?? {},
    capacity: Object.fromEntries(Object.values(a.pools).map((p) => [p.name, { max: p.max, used: p.used }])),
  };
}

/** openapi.yaml `AgentState` (MX-2) */
export interface AgentStateView {
  id: string;
  name: string;
  presence: Presence;
  /** when she entered that presence (null: not recorded yet) */
  presenceSince: string | null;
  signedIn: boolean;
  connected: boolean;
  capacity: Record<string, { max: number; used: number }>;
  conversations: number;
}

export function agentStateView(s: AgentListItem): AgentStateView {
  const a = agentView(s);
  return {
    id: a.id,
    name: a.name,
    presence: a.presence,
    presenceSince: s.agent.presenceShown === a.presence ? (s.agent.presenceSince ?? null) : null,
    signedIn: a.signedIn,
    connected: a.connected,
    capacity: a.capacity,
    conversations: s.conversations,
  };
}

/** openapi.yaml `ConsultCandidate`. */
export interface CandidateView {
  id: string;
  name: string;
  presence: Presence;
  remaining: number;
}

export const candidateView = (c: Candidate): CandidateView => ({
  id: c.id,
  name: c.name,
  presence: c.presence,
  remaining: c.remaining,
});

/** openapi.yaml `Note` (E-3). */
export interface NoteView {
  org: string;
  conversationId: string;
  id: string;
  authorId: string;
  authorRole: 'agent' | 'supervisor';
  text: string;
  at: string;
}

export const noteView = (n: Note): NoteView => ({
  org: n.org,
  conversationId: n.conversationId,
  id: n.id,
  authorId: n.authorId,
  authorRole: n.authorRole,
  text: n.text,
  at: n.at,
});

/** openapi.yaml `Message` (MS-1): the text as stored, never interpreted. */
export interface MessageView {
  id: string;
  seq: number;
  at: string;
  from: Message['from'];
  agentId?: string;
  text: string;
  automated?: true;
}

export const messageView = (m: Message): MessageView => ({
  id: m.id,
  seq: m.seq,
  at: m.at,
  from: m.from,
  ...(m.agentId !== undefined ? { agentId: m.agentId } : {}),
  text: m.text,
  ...(m.automated ? { automated: true as const } : {}),
});

/** openapi.yaml `Settings`. */
export interface SettingsView {
  org: string;
  supervisorMonitor: boolean;
  supervisorAssign: boolean;
  supervisorTransfer: boolean;
  forceClose: boolean;
  agentEndMessagingSession: boolean;
  defaultPresence?: Presence;
  defaultPhoneRegion?: string;
}

export const settingsView = (s: OrgSettings): SettingsView => ({
  org: s.org,
  supervisorMonitor: s.supervisorMonitor,
  supervisorAssign: s.supervisorAssign,
  supervisorTransfer: s.supervisorTransfer,
  forceClose: s.forceClose,
  agentEndMessagingSession: s.agentEndMessagingSession,
  ...(s.defaultPresence ? { defaultPresence: s.defaultPresence } : {}),
  ...(s.defaultPhoneRegion ? { defaultPhoneRegion: s.defaultPhoneRegion } : {}),
});

/** openapi.yaml `Workstream`. */
export interface WorkstreamView {
  org: string;
  id: string;
  name: string;
  mode: Mode;
  capacity: { pool: string; units: number };
  allowedPresences: Presence[];
  wrapUp: Workstream['wrapUp'];
  waitingInactivityTimeoutSeconds: number;
  agentReconnectTimeoutSeconds: number;
  offerTimeoutSeconds?: number;
  priorityAgingSeconds?: number;
  /** most-capacity when the workstream does not set it */
  assignment: AssignmentMethod;
  /** K-3 */
  skillRelaxation: NonNullable<Workstream['skillRelaxation']>;
  /** */
  preferredAgentTimeoutSeconds: number;
  /** MS-3 */
  agentResponseTimeoutSeconds?: number;
  routingRules: Workstream['routingRules'];
  defaultQueueId: string;
  distribution: 'push' | 'pick';
}

export const workstreamView = (ws: Workstream): WorkstreamView => ({
  org: ws.org,
  id: ws.id,
  name: ws.name,
  mode: ws.mode,
  capacity: { pool: ws.capacity.pool, units: ws.capacity.units },
  allowedPresences: ws.allowedPresences,
  wrapUp: { blockCapacity: ws.wrapUp.blockCapacity },
  waitingInactivityTimeoutSeconds: ws.waitingInactivityTimeoutSeconds,
  agentReconnectTimeoutSeconds: ws.agentReconnectTimeoutSeconds,
  ...(ws.offerTimeoutSeconds ? { offerTimeoutSeconds: ws.offerTimeoutSeconds } : {}),
  ...(ws.priorityAgingSeconds ? { priorityAgingSeconds: ws.priorityAgingSeconds } : {}),
  assignment: ws.assignment ?? DEFAULT_ASSIGNMENT,
  skillRelaxation: ws.skillRelaxation ?? [],
  preferredAgentTimeoutSeconds: ws.preferredAgentTimeoutSeconds ?? DEFAULT_PREFERRED_AGENT_TIMEOUT_SECONDS,
  ...(ws.agentResponseTimeoutSeconds ? { agentResponseTimeoutSeconds: ws.agentResponseTimeoutSeconds } : {}),
  routingRules: ws.routingRules,
  defaultQueueId: ws.defaultQueueId,
  distribution: ws.distribution,
});

/** openapi.yaml `Queue`: its settings with their defaults. */
export interface QueueView {
  org: string;
  id: string;
  name: string;
  hoursId?: string;
  serviceLevelSeconds: number;
  overflow: OverflowRule[];
}

export const queueView = (q: QueueConfig): QueueView => ({
  org: q.org,
  id: q.id,
  name: q.name,
  ...(q.hoursId ? { hoursId: q.hoursId } : {}),
  serviceLevelSeconds: q.serviceLevelSeconds ?? DEFAULT_SERVICE_LEVEL_SECONDS,
  overflow: q.overflow ?? [],
});

/** openapi.yaml `QueueState` (H-2) */
export const queueStateView = (
  s: QueueState,
): Omit<QueueView, 'org'> & { isOpen: boolean; nextChangeAt: string | null } => {
  const { org: _org, ...queue } = queueView(s.queue);
  return { ...queue, isOpen: s.isOpen, nextChangeAt: s.nextChangeAt?.toISOString() ?? null };
};

/** tenths: 12.3 */
const tenths = (n: number): number => Math.round(n * 10) / 10;

/** openapi.yaml `QueueMetrics` (MX-1) */
export const queueMetricsView = (m: QueueMetrics) => {
  const { counts: c, lastHour: h } = m;
  return {
    queueId: m.queueId,
    at: m.at.toISOString(),
    conversations: { Open: c.Open, Active: c.Active, WrapUp: c.WrapUp, Waiting: c.Waiting },
    oldestOpenSeconds:
      m.oldestOpenSince === null
        ? null
        : Math.max(0, Math.floor((m.at.getTime() - Date.parse(m.oldestOpenSince)) / 1000)),
    agents: { signedIn: c.signedIn, Available: c.Available, Busy: c.Busy, BusyDND: c.BusyDND, Away: c.Away },
    lastHour: {
      answered: h.answered,
      abandoned: h.abandoned,
      averageWaitSeconds: h.answered ? tenths(h.waitMs / h.answered / 1000) : null,
      serviceLevelPercent: h.answered ? tenths((h.withinServiceLevel / h.answered) * 100) : null,
    },
    serviceLevelSeconds: m.serviceLevelSeconds,
  };
};

/** openapi.yaml `QueuePosition` (MX-3) */
export const queuePositionView = (p: QueuePositionView) => ({
  queueId: p.queueId,
  position: p.position,
  positionExact: p.exact,
  estimatedWaitSeconds: p.estimatedWaitSeconds,
  at: p.at.toISOString(),
});

/** openapi.yaml `Hours` (H-1) */
export const hoursView = (h: Hours): Hours => ({
  org: h.org,
  id: h.id,
  ...(h.name ? { name: h.name } : {}),
  timeZone: h.timeZone,
  weekly: h.weekly,
  exceptions: h.exceptions ?? [],
});

/** openapi.yaml `Channel`: never its webhook secret (write-only). */
export interface ChannelView {
  org: string;
  id: string;
  kind: ChannelKind;
  workstreamId: string;
  /** RL-9: how its webhooks are signed */
  signature: SignatureScheme;
}

export const channelView = (ch: Channel): ChannelView => ({
  org: ch.org,
  id: ch.id,
  kind: ch.kind,
  workstreamId: ch.workstreamId,
  signature: ch.signature ?? 'body',
});

/** openapi.yaml `Contact`. */
export interface ContactView {
  org: string;
  id: string;
  kind: 'contact' | 'account';
  name: string;
  phone?: string;
  email?: string;
  attributes: Record<string, string>;
}

export const contactView = (c: Contact): ContactView => ({
  org: c.org,
  id: c.id,
  kind: c.kind,
  name: c.name,
  ...(c.phone !== undefined ? { phone: c.phone } : {}),
  ...(c.email !== undefined ? { email: c.email } : {}),
  attributes: c.attributes,
});

/** openapi.yaml `Trigger` (M-3). */
export interface TriggerView {
  org: string;
  id: string;
  when: { event: string; field: string; changedTo: string };
  then: Trigger['then'];
}

export const triggerView = (t: Trigger): TriggerView => ({
  org: t.org,
  id: t.id,
  when: { event: t.when.event, field: t.when.field, changedTo: t.when.changedTo },
  then: t.then,
});

/** openapi.yaml `MessageTemplate` (MS-4). */
export interface MessageTemplateView {
  event: TemplateEvent;
  text: string;
  enabled: boolean;
}

export const messageTemplateView = (t: MessageTemplate): MessageTemplateView => ({
  event: t.event,
  text: t.text,
  enabled: t.enabled,
});
