import type { Conversation } from './model.js';
import type { TimerRequest, TriggerAction } from './writes.js';

/** M-3: `{ when: { event, field, changedTo }, then: [actions] }`, evaluated on history events. */
export interface Trigger {
  org: string;
  id: string;
  when: { event: string; field: string; changedTo: string };
  then: TriggerAction[];
}

/**
 * History events triggers can listen to: the ends of sessions and conversations. The engine reads the
 * org's triggers for these only, which keeps the hot path (accept, transfer, offers) free of that read.
 */
export const TRIGGER_EVENT_NAMES = [
  'end-session',
  'end',
  'close',
  'resolve',
  'force-close',
  'inactivity-timeout',
] as const;
export const TRIGGER_EVENTS: ReadonlySet<string> = new Set(TRIGGER_EVENT_NAMES);

const valueAt = (c: Conversation, path: string): unknown =>
  path
    .split('.')
    .reduce<unknown>(
      (v, k) => (v !== null && typeof v === 'object' ? (v as Record<string, unknown>)[k] : undefined),
      c,
    );

/**
 * The outbox items the matching triggers add to the change's transaction: a satisfaction survey is a
 * customer notification; a reassignment is a follow-up action run at once after the commit.
 */
export function triggerTimers(
  triggers: readonly Trigger[],
  event: string,
  before: Conversation,
  after: Conversation,
  at: string,
): TimerRequest[] {
  const out: TimerRequest[] = [];
  for (const t of triggers) {
    if (t.when.event !== event) continue;
    const was = valueAt(before, t.when.field);
    const now = valueAt(after, t.when.field);
    if (String(now) !== t.when.changedTo || String(was) === t.when.changedTo) continue;
    t.then.forEach((a, i) => {
      const base = { org: after.org, conversationId: after.id, version: after.version, at };
      if (a.type === 'send-survey') {
        out.push({
          ...base,
          kind: 'notify',
          key: `survey.${t.id}`,
          notification: {
            id: `${after.id}.v${after.version}.survey.${t.id}`,
            org: after.org,
            conversationId: after.id,
            type: 'survey.requested',
            recipients: [{ kind: 'customer', id: after.customerId ?? `thread:${after.threadId}` }],
            at,
            version: after.version,
            data: { trigger: t.id, ...(a.text ? { text: a.text } : {}), channel: after.ticket.channel },
          },
        });
      } else {
        out.push({ ...base, kind: 'trigger', key: `${t.id}.${i}`, triggerAction: a });
      }
    });
  }
  return out;
}
