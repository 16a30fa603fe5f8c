import { createHash } from 'node:crypto';
import type { TimerRequest } from './writes.js';

/** R-3: when the outbox retries a push dispatch the commit's own dispatch did not finish. */
export const DISPATCH_RETRY_SECONDS = 30;

/** P-4 / TM-4: how long a disconnected agent keeps their presence. */
export const PRESENCE_GRACE_SECONDS = 150;

/**
 * A timer's name: kind, subject, version and due second. Deterministic (arming twice is one timer),
 * at most 64 characters of [0-9a-zA-Z-_.] as EventBridge Scheduler requires; long ids are hashed.
 */
export function timerName(t: TimerRequest): string {
  // conversation ids are engine-made ULIDs, unique across orgs; agent ids are unique only in their org
  const subject = t.conversationId ?? `${t.org}.${t.agentId ?? 'none'}`;
  const due = Math.floor(Date.parse(t.at) / 1000);
  const plain = `${t.kind}.${subject}.v${t.version}.${due}${t.key ? `.${t.key}` : ''}`;
  if (plain.length <= 64 && /^[0-9a-zA-Z\-_.]+$/.test(plain)) return plain;
  const digest = createHash('sha256')
    .update(`${t.org}|${plain}|${t.agentId ?? ''}`)
    .digest('hex');
  return `${t.kind}.${digest}`.slice(0, 64);
}

/**
 * A due time, rounded up to the whole second: EventBridge Scheduler's `at()` has no milliseconds,
 * so a timer never fires before the instant it stands for.
 */
export const addSeconds = (d: Date, s: number): string =>
  new Date(Math.ceil((d.getTime() + s * 1000) / 1000) * 1000).toISOString();
