import type { Notification } from '../model.js';
import type { Draft, EffectContext } from './context.js';

type Recipients = Notification['recipients'];

/**
 * E-2: one notification per type and version, so its id (and its outbox timer) is the same however
 * often the change is retried. Recipients without an id, or named twice, are dropped; nobody left, no notice.
 */
export function notify(
  ctx: EffectContext,
  d: Draft,
  type: Notification['type'],
  recipients: Recipients,
  data: Record<string, string> = {},
): Draft {
  const { c, at, version } = ctx;
  const unique = recipients.filter(
    (r, i) => r.id && recipients.findIndex((o) => o.kind === r.kind && o.id === r.id) === i,
  );
  if (!unique.length) return d;
  const n: Notification = {
    id: `${c.id}.v${version}.${type}`,
    org: c.org,
    conversationId: c.id,
    type,
    recipients: unique,
    at,
    version,
    data,
  };
  return { ...d, notifications: [...d.notifications, n] };
}

/** An anonymous customer is reached through their thread. */
export const customerOf = ({ c }: EffectContext): Recipients[number] => ({
  kind: 'customer',
  id: c.customerId ?? `thread:${c.threadId}`,
});

/** An external party (T-12) is no agent and gets no notice. */
export const primaryOf = ({ c }: EffectContext): Recipients =>
  c.primaryAgentId && c.primaryKind !== 'external' ? [{ kind: 'agent', id: c.primaryAgentId }] : [];
