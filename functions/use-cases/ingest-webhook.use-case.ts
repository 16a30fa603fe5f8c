import { createHash, createHmac, timingSafeEqual } from 'node:crypto';
import { NotFoundError } from '../domain/errors.js';
import type { Configuration } from '../ports/repositories.js';
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

export const signBody = (secret: string, rawBody: string): string =>
  `sha256=${createHmac('sha256', secret).update(rawBody, 'utf8').digest('hex')}`;

const digest = (...parts: string[]): string => createHash('sha256').update(parts.join('\n')).digest('hex');

/** Finds the channel's org and secret; unknown channels are 404. */
export async function channelRegistration(
  reads: Pick<Configuration, 'getChannelRegistration'>,
  channelId: string,
): Promise<{ org: string; secret: string }> {
  const reg = await reads.getChannelRegistration(channelId);
  if (!reg) throw new NotFoundError('channel', channelId);
  return reg;
}

/**
 * JSON with every non-ASCII character escaped: SQS accepts only some Unicode in a body (no U+FFFE,
 * U+FFFF, ...), and JSON.parse gives back exactly the same strings.
 */
export const asciiJson = (value: unknown): string =>
  JSON.stringify(value).replace(/[\u007f-\uffff]/g, (ch) => `\\u${ch.charCodeAt(0).toString(16).padStart(4, '0')}`);

export function toQueueMessage(org: string, channelId: string, event: CustomerEvent, receivedAt: Date): QueueMessage {
  const message: IngestMessage = { org, channelId, receivedAt: receivedAt.toISOString(), event };
  return {
    body: asciiJson(message),
    groupId: digest(channelId, event.threadId),
    deduplicationId: digest(channelId, event.eventId),
  };
}

/**
 * RL-4: strings must be well-formed Unicode. A lone surrogate cannot be stored as sent (DynamoDB
 * would turn it into U+FFFD, so two thread ids could become one): such input is refused.
 */
export function firstMalformedString(value: unknown): string | undefined {
  // Iterative, with a depth bound: a hostile body nested a million deep must be a 400, not a stack overflow.
  const stack: { v: unknown; path: string; depth: number }[] = [{ v: value, path: '', depth: 0 }];
  const at = (path: string, k: string | number): string => (path ? `${path}.${k}` : String(k));
  while (stack.length) {
    const { v, path, depth } = stack.pop() as { v: unknown; path: string; depth: number };
    if (typeof v === 'string') {
      if (!v.isWellFormed()) return path || '(body)';
      continue;
    }
    if (v === null || typeof v !== 'object') continue;
    if (depth >= MAX_JSON_DEPTH) return path || '(body)';
    for (const [k, child] of Object.entries(v)) {
      if (!k.isWellFormed()) return at(path, '(key)');
      stack.push({ v: child, path: at(path, k), depth: depth + 1 });
    }
  }
  return undefined;
}

/** No body of this API nests deeper than a few levels. */
export const MAX_JSON_DEPTH = 32;
