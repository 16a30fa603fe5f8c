import { appendMessages } from '../domain/messages.js';
import type { Conversation } from '../domain/model.js';
import { renderTemplate, type MessageTemplate } from '../domain/templates.js';
import type { Write } from '../domain/writes.js';
import { CommitConflict } from '../ports/storage-types.js';
import type { EngineDeps } from './engine.js';
import { positionOf } from './queue-position.use-case.js';

/** SC-1: the follow-ups read an org's templates at most this often (not once per wait). */
const TEMPLATES_TTL_MS = 5_000;
type Recent = Map<string, { until: number; value: MessageTemplate[] }>;
/** per engine (its configuration repository), like the configuration cache */
const caches = new WeakMap<object, Recent>();

async function templatesOf(deps: EngineDeps, org: string): Promise<MessageTemplate[]> {
  const now = deps.clock.now().getTime();
  let recent = caches.get(deps.configuration);
  if (!recent) caches.set(deps.configuration, (recent = new Map()));
  const hit = recent.get(org);
  if (hit && hit.until > now) return hit.value;
  const { value } = await deps.configuration.listMessageTemplatesVersioned(org);
  if (recent.size >= 5_000) recent.delete(recent.keys().next().value as string);
  recent.set(org, { until: now + TEMPLATES_TTL_MS, value });
  return value;
}

/** How long the receipt that makes a wait's `queued` message once is kept. */
const QUEUED_RECEIPT_TTL_SECONDS = 7 * 24 * 3600;

/**
 * MS-4 `queued`: sent by the follow-up of the change that started a wait (after its MX-3 entry record),
 * because `{{position}}` and `{{estimatedWaitMinutes}}` come from the queue's counters, which the
 * request path does not read. One transaction: the message at the next `seq`, the log, its outbox item,
 * a receipt naming the wait (a redelivered change sends nothing twice), and a check that the
 * conversation is still at the version that started the wait: one offered or moved meanwhile gets none.
 * No proof of the templates here (nothing else in the transaction depends on them): they are read at
 * most every TEMPLATES_TTL_MS per org and container, so an admin's change reaches `queued` within that.
 */
export async function sendQueuedMessage(deps: EngineDeps, entered: Conversation): Promise<void> {
  const template = (await templatesOf(deps, entered.org)).find((t) => t.event === 'queued' && t.enabled);
  if (!template) return;
  for (let attempt = 1; attempt <= 5; attempt++) {
    const { conversation: c, log } = await deps.messages.readWithLog(entered.org, entered.id);
    // M-5: nothing is sent once the messaging session ended (a trigger's reassign after M-2, say)
    if (!c || c.version !== entered.version || c.status !== 'Open' || c.session.status === 'ended') return;
    const place = await positionOf(deps, c);
    const text = renderTemplate(template.text, {
      position: place.position,
      ...(place.estimatedWaitSeconds !== null
        ? { estimatedWaitMinutes: Math.max(1, Math.ceil(place.estimatedWaitSeconds / 60)) }
        : {}),
    });
    const appended = appendMessages(
      c,
      log,
      [{ from: 'system', automated: true, text }],
      deps.clock.now().toISOString(),
    );
    const once: Write = {
      type: 'receipt',
      org: c.org,
      key: `queued#${c.id}#v${c.version}`,
      expiresAt: Math.floor(deps.clock.now().getTime() / 1000) + QUEUED_RECEIPT_TTL_SECONDS,
    };
    const check: Write = { type: 'conversation-check', org: c.org, conversationId: c.id, version: c.version };
    try {
      await deps.commits.commit([...appended.writes, once, check]);
      return;
    } catch (err) {
      if (!(err instanceof CommitConflict)) throw err;
      // sent already, or the wait moved on: nothing to send; another message took the seq: again
      const settled = (f: CommitConflict['failures'][number]): boolean =>
        f.code === 'ConditionalCheckFailed' && (f.write.type === 'receipt' || f.write.type === 'conversation-check');
      if (err.failures.some(settled)) return;
    }
  }
  throw new Error(`MS-4: the queued message of ${entered.id} lost repeated races for its seq`);
}
