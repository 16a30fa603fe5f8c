import { createHash } from 'node:crypto';
import type { TimerRequest } from './writes.js';

/** P-4 / TM-4: how long a disconnected agent keeps their presence. */
export const PRESENCE_GRACE_SECONDS = 150;

/**
 * A timer's name: kind, subject, version and due second. Deterministic (arming twice is one timer),
 * at most 64 characters of [0-9a-zA-Z-_.] as EventBridge Scheduler requires; long ids are hashed.
 */
export function timerName(t: TimerRequest): string {
  const subject = t.conversationId ?? t.agentId ?? 'none';
  const due = Math.floor(Date.parse(t.at) / 1000);
  const plain = `${t.kind}.${subject}.v${t.version}.${due}`;
  if (plain.length <= 64 && /^[0-9a-zA-Z\-_.]+$/.test(plain)) return plain;
  const digest = createHash('sha256').update(`${t.org}|${plain}|${t.agentId ?? ''}`).digest('hex');
  return `${t.kind}.${digest}`.slice(0, 64);
}

export const addSeconds = (d: Date, s: number): string => new Date(d.getTime() + s * 1000).toISOString();
