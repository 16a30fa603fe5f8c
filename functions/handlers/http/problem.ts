import type { APIGatewayProxyStructuredResultV2 } from 'aws-lambda';
// the error class only: zod/mini's `z.core` namespace would bring all of zod's core into the bundle
import { $ZodError } from 'zod/v4/core';
import { DomainError, ValidationError, type ErrorKind, type FieldError } from '../../domain/errors.js';

/** 401 for missing or bad credentials and webhook signatures (RL-5). */
export class UnauthorizedError extends DomainError {
  readonly kind = 'unauthorized';
  readonly type = 'unauthorized';
}

const STATUS: Record<ErrorKind, number> = {
  validation: 400,
  unauthorized: 401,
  forbidden: 403,
  'not-found': 404,
  conflict: 409,
  'precondition-failed': 412,
  unprocessable: 422,
  'not-implemented': 501,
};

const TITLES: Record<number, string> = {
  400: 'Invalid request',
  401: 'Unauthorized',
  403: 'Forbidden',
  404: 'Not found',
  409: 'Conflict',
  412: 'Precondition failed',
  422: 'Unprocessable request',
  431: 'Request header fields too large',
  500: 'Internal error',
  501: 'Not implemented',
};

export interface Problem {
  type: string;
  title: string;
  status: number;
  detail: string;
  currentStatus?: string;
  /** RL-8 (412): the conversation's current version */
  currentVersion?: number;
  errors?: FieldError[];
  [extra: string]: unknown;
}

/** A zod error's issues as field errors: `path.to.field` (after `prefix`), or `(body)` for the whole value. */
export const zodFieldErrors = (err: $ZodError, prefix = ''): FieldError[] =>
  err.issues.map((i) => ({
    field: [prefix, ...i.path.map(String)].filter(Boolean).join('.') || '(body)',
    message: i.message,
  }));

/**
 * Every error becomes problem+json here, and only here. Unknown errors are 500 and say nothing
 * internal. The type is each error class's own explicit `type` (`urn:problem:<type>`).
 */
export function toProblem(err: unknown): Problem {
  if (err instanceof $ZodError) return toProblem(new ValidationError('the request is not valid', zodFieldErrors(err)));
  if (err instanceof DomainError) {
    const status = STATUS[err.kind];
    const extra: Record<string, unknown> = { type: err.type };
    if ((err as { retryable?: boolean }).retryable) extra.retryable = true;
    const current = (err as { currentStatus?: string }).currentStatus;
    if (current) extra.currentStatus = current;
    const version = (err as { currentVersion?: number }).currentVersion;
    if (version !== undefined) extra.currentVersion = version;
    if (err instanceof ValidationError) extra.errors = err.errors;
    return problem(status, err.message, extra);
  }
  return problem(500, 'an unexpected error occurred', { type: 'internal' });
}

export function problem(status: number, detail: string, extra: Record<string, unknown> = {}): Problem {
  const { type, ...rest } = extra;
  return { type: `urn:problem:${String(type ?? 'error')}`, title: TITLES[status] ?? 'Error', status, detail, ...rest };
}

export function problemResponse(p: Problem): APIGatewayProxyStructuredResultV2 {
  return { statusCode: p.status, headers: { 'content-type': 'application/problem+json' }, body: JSON.stringify(p) };
}
