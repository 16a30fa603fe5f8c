import { createHash, createHmac, timingSafeEqual } from 'node:crypto';
import { NotFoundError } from '../domain/errors.js';
import type { ReadStore } from '../ports/read-store.js';
import type { CustomerEvent } from './customer-event.use-case.js';

/** The message the webhook puts on the FIFO ingestion queue. */
export interface IngestMessage {
  org: string;
  channelId: string;
  receivedAt: string;
  event: CustomerEvent;
}

export interface QueueMessage {
  body: string;
  /** per-thread order */
  groupId: string;
  /** SQS deduplication is per queue: the channel is part of it */
  deduplicationId: string;
}

/** RL-5: `X-Signature: sha256=<hex HMAC-SHA256 of the raw body>`, compared in constant time. */
export function signatureMatches(secret: string, rawBody: string, header: string | undefined): boolean {
  const m = /^sha256=([0-9a-fA-F]{64})$/.exec(header?.trim() ?? '');
  if (!m) return false;
  const expected = createHmac('sha256', secret).update(rawBody, 'utf8').digest();
  return timingSafeEqual(expected, Buffer.from(m[1] as string, 'hex'));
}

export const signBody = (secret: string, rawBody: string): string => `sha256=${createHmac('sha256', secret).update(rawBody, 'utf8').digest('hex')}`;

const digest = (...parts: string[]): string => createHash('sha256').update(parts.join('\n')).digest('hex');

/** Finds the channel's org and secret; unknown channels are 404. */
export async function channelRegistration(reads: ReadStore, channelId: string): Promise<{ org: string; secret: string }> {
  const reg = await reads.getChannelRegistration(channelId);
  if (!reg) throw new NotFoundError('channel', channelId);
  return reg;
}

/**
 * JSON with every non-ASCII character escaped: SQS accepts only some Unicode in a body (no U+FFFE,
 * U+FFFF, ...), and JSON.parse gives back exactly the same strings.
 */
export const asciiJson = (value: unknown): string => JSON.stringify(value).replace(/[\u007f-\uffff]/g, (ch) => `\\u${ch.charCodeAt(0).toString(16).padStart(4, '0')}`);

export function toQueueMessage(org: string, channelId: string, event: CustomerEvent, receivedAt: Date): QueueMessage {
  const message: IngestMessage = { org, channelId, receivedAt: receivedAt.toISOString(), event };
  return { body: asciiJson(message), groupId: digest(channelId, event.threadId), deduplicationId: digest(channelId, event.eventId) };
}

/**
 * RL-4: strings must be well-formed Unicode. A lone surrogate cannot be stored as sent (DynamoDB
 * would turn it into U+FFFD, so two thread ids could become one): such input is refused.
 */
export function firstMalformedString(value: unknown, path = ''): string | undefined {
  if (typeof value === 'string') return value.isWellFormed() ? undefined : path || '(body)';
  if (Array.isArray(value)) {
    for (const [i, v] of value.entries()) {
      const bad = firstMalformedString(v, `${path}${path ? '.' : ''}${i}`);
      if (bad) return bad;
    }
  } else if (value !== null && typeof value === 'object') {
    for (const [k, v] of Object.entries(value)) {
      if (!k.isWellFormed()) return `${path}${path ? '.' : ''}(key)`;
      const bad = firstMalformedString(v, `${path}${path ? '.' : ''}${k}`);
      if (bad) return bad;
    }
  }
  return undefined;
}
