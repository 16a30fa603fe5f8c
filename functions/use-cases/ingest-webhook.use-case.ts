import { createHash, createHmac, timingSafeEqual } from 'node:crypto';
import { NotFoundError } from '../domain/errors.js';
import type { ChannelRegistration } from '../ports/read-types.js';
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

/**
 * RL-5: `X-Signature: sha256=<hex HMAC-SHA256 of the signed text>` with the channel's secret, compared
 * in constant time. The signed text is the raw body (`body` channels) or
 * `<timestamp>.<channelId>.<raw body>` (`timestamped` channels, RL-9).
 */
export function signatureMatches(secret: string, signed: string, header: string | undefined): boolean {
  const m = /^sha256=([0-9a-fA-F]{64})$/.exec(header?.trim() ?? '');
  if (!m) return false;
  const expected = createHmac('sha256', secret).update(signed, 'utf8').digest();
  return timingSafeEqual(expected, Buffer.from(m[1] as string, 'hex'));
}

export const signBody = (secret: string, rawBody: string): string =>
  `sha256=${createHmac('sha256', secret).update(rawBody, 'utf8').digest('hex')}`;

/** RL-9: how far `X-Signature-Timestamp` may be from the engine's clock, either way. */
export const SIGNATURE_TOLERANCE_SECONDS = 300;

/** RL-9: what a `timestamped` channel signs, so a signature holds for one channel and one moment. */
export const timestampedText = (timestamp: string, channelId: string, rawBody: string): string =>
  `${timestamp}.${channelId}.${rawBody}`;

export const signTimestamped = (secret: string, timestamp: string, channelId: string, rawBody: string): string =>
  signBody(secret, timestampedText(timestamp, channelId, rawBody));

/** unix seconds, digits only (no sign, fraction or exponent) */
const UNIX_SECONDS = /^[0-9]{1,12}$/;

/**
 * Why a webhook's signature headers are refused (the 401's detail), or undefined when they hold
 * (RL-5, RL-9). `now` is the engine's clock. Nothing is read from the body before this passes.
 */
export function signatureRefusal(
  reg: Pick<ChannelRegistration, 'channelId' | 'secret' | 'signature'>,
  rawBody: string,
  headers: { signature?: string | undefined; timestamp?: string | undefined },
  now: Date,
): string | undefined {
  if ((reg.signature ?? 'body') === 'body')
    return signatureMatches(reg.secret, rawBody, headers.signature) ? undefined : 'missing or wrong X-Signature';
  const timestamp = headers.timestamp?.trim() ?? '';
  if (!UNIX_SECONDS.test(timestamp))
    return 'RL-9: this channel signs with a timestamp: X-Signature-Timestamp (unix seconds) is missing or malformed';
  if (Math.abs(Number(timestamp) - now.getTime() / 1000) > SIGNATURE_TOLERANCE_SECONDS)
    return `RL-9: X-Signature-Timestamp is more than ${SIGNATURE_TOLERANCE_SECONDS} s from the engine's clock`;
  return signatureMatches(reg.secret, timestampedText(timestamp, reg.channelId, rawBody), headers.signature)
    ? undefined
    : 'RL-9: missing or wrong X-Signature (HMAC-SHA256 of "<timestamp>.<channelId>.<raw body>")';
}

const digest = (...parts: string[]): string => createHash('sha256').update(parts.join('\n')).digest('hex');

/** Finds the channel's org, secret and signature scheme; unknown channels are 404. */
export async function channelRegistration(
  reads: Pick<Configuration, 'getChannelRegistration'>,
  channelId: string,
): Promise<ChannelRegistration> {
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
