import {
  appendMessages,
  automatedEvents,
  responseTimer,
  type MessageDraft,
  type MessageLog,
} from '../domain/messages.js';
import type { Agent, Conversation, Workstream } from '../domain/model.js';
import { renderTemplate, type TemplateEvent, type TemplateValues } from '../domain/templates.js';
import type { Action } from '../domain/transitions.js';
import type { Decision, Write } from '../domain/writes.js';
import { configCacheOf } from './config-cache.js';
import type { EngineDeps } from './engine.js';

/** What a decision's messages are decided on. */
export interface MessageInput {
  before: Conversation;
  action: Action;
  /** the cause's own messages (a customer's text), first */
  drafts: readonly MessageDraft[];
  /** the transcript's log as read with the conversation (absent: read now) */
  log?: MessageLog;
  agents: Record<string, Agent | undefined>;
  workstream: Workstream;
  fresh: boolean;
}

/**
 * MS-1 / MS-4: adds to the decision's transaction the messages it appends: the cause's own, then the
 * automated messages of the templates its change sends (none on M-2 session end, M-5), each at the
 * next `seq`, and the MS-3 timer: for a customer message on an Active, accepted conversation, or, when
 * an agent answers, for the last customer message with no reply after it.
 */
export async function addMessages(deps: EngineDeps, decision: Decision, input: MessageInput): Promise<void> {
  const c = decision.conversation;
  const events = automatedEvents(input.before, c, input.action);
  const automated = events.length ? await templateDrafts(deps, decision, events, input) : [];
  const drafts = [...input.drafts, ...automated];
  // MS-3: an agent who answers now owes a reply to a customer message that waited for her
  const answered = events.includes('assigned') && !!input.workstream.agentResponseTimeoutSeconds;
  if (!drafts.length && !answered) return;
  const log = input.log ?? (await deps.messages.readWithLog(c.org, c.id)).log;
  const appended = appendMessages(c, log, drafts, decision.event.at);
  decision.writes.push(...appended.writes);
  decision.timers.push(...appended.timers);
  // the customer message just stored, or (an answer) the last one with no reply after it
  const said = appended.messages.some((m) => m.from === 'customer');
  const awaited = appended.log.customerSeq > appended.log.replySeq ? appended.log.customerSeq : 0;
  const timer =
    awaited && (said || answered)
      ? responseTimer(c, input.workstream, awaited, new Date(decision.event.at))
      : undefined;
  if (timer) {
    decision.timers.push(timer);
    decision.writes.push({ type: 'timer', timer });
  }
}

/** The org's templates (cached, proven current by the transaction, R-5) for the change's events, rendered. */
export async function templateDrafts(
  deps: EngineDeps,
  decision: Pick<Decision, 'conversation' | 'writes'>,
  events: readonly TemplateEvent[],
  input: Pick<MessageInput, 'agents' | 'fresh'>,
): Promise<MessageDraft[]> {
  const c = decision.conversation;
  const templates = await configCacheOf(deps).through('templates', c.org, c.org, input.fresh, () =>
    deps.configuration.listMessageTemplatesVersioned(c.org),
  );
  const proof: Write = {
    type: 'config-current',
    org: c.org,
    entity: 'templates',
    id: c.org,
    version: templates.version,
    spread: c.id,
  };
  decision.writes.push(proof);
  const primary = c.primaryAgentId;
  const agent = primary && Object.hasOwn(input.agents, primary) ? input.agents[primary] : undefined;
  // `{{position}}` and `{{estimatedWaitMinutes}}` belong to `queued`, which the counting follow-up sends
  const values: TemplateValues = agent ? { agentName: agent.name } : {};
  return events.flatMap((event): MessageDraft[] => {
    const t = templates.value.find((x) => x.event === event && x.enabled);
    return t ? [{ from: 'system', automated: true, text: renderTemplate(t.text, values) }] : [];
  });
}
