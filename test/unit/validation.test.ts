import { describe, expect, it } from 'vitest';
import { zodFieldErrors } from '../../functions/handlers/http/problem.js';
import { agentBody } from '../../functions/handlers/http/admin-schemas.js';
import { emptyBody, listQuery, webhookEvent } from '../../functions/handlers/http/schemas.js';

/**
 * The schemas are zod/mini, which loads no locale: without functions/handlers/zod-messages.ts
 * every issue would read "Invalid input". This file imports no classic `zod` (which would load the
 * English messages by itself and hide a missing locale), so these are the messages the Lambdas send.
 */
const errorsOf = (schema: { safeParse(v: unknown): { success: boolean; error?: unknown } }, value: unknown) => {
  const r = schema.safeParse(value);
  expect(r.success).toBe(false);
  return zodFieldErrors(r.error as Parameters<typeof zodFieldErrors>[0]);
};

describe('request schemas (zod/mini)', () => {
  it('name each field and say what is wrong, in English', () => {
    expect(errorsOf(agentBody, { name: ' ', queues: 'q1', capacity: { default: -1 }, extra: true })).toEqual([
      { field: 'name', message: 'Too small: expected string to have >=1 characters' },
      { field: 'queues', message: 'Invalid input: expected array, received string' },
      { field: 'capacity.default', message: 'Too small: expected number to be >=0' },
      { field: '(body)', message: 'Unrecognized key: "extra"' },
    ]);
    expect(errorsOf(listQuery, { limit: '0', status: 'Pending' }).map((e) => e.field)).toEqual(['status', 'limit']);
  });

  it('keep their own messages', () => {
    expect(errorsOf(emptyBody, { agentId: 'bob' })).toEqual([
      { field: '(body)', message: 'this request takes no body (or {})' },
    ]);
    expect(errorsOf(webhookEvent, { eventId: 'no spaces', type: 'conversation.started', threadId: 't' })).toEqual([
      { field: 'eventId', message: 'must be 1-128 characters of [A-Za-z0-9_.:-]' },
    ]);
  });

  it('coerce query strings and apply defaults', () => {
    expect(listQuery.parse({ limit: '7' })).toEqual({ limit: 7 });
    expect(listQuery.parse({})).toEqual({ limit: 50 });
  });
});
