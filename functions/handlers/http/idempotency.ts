import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import {
  IdempotencyAlreadyInProgressError,
  IdempotencyConfig,
  IdempotencyValidationError,
  makeIdempotent,
} from '@aws-lambda-powertools/idempotency';
import { DynamoDBPersistenceLayer } from '@aws-lambda-powertools/idempotency/dynamodb';
import type { Context } from 'aws-lambda';
import { DomainError } from '../../domain/errors.js';
import { requiredEnv } from '../runtime.js';

/** 409 `urn:problem:idempotency-in-progress`: a repeat while the first request is still running. */
export class IdempotencyInProgressError extends DomainError {
  readonly kind = 'conflict';
}

/** 409 `urn:problem:idempotency-key-reused`: a repeat with another body. */
export class IdempotencyKeyReusedError extends DomainError {
  readonly kind = 'conflict';
}

/** Powertools' refusals as our errors, so problem.ts needs no Powertools import (and no other bundle has it). */
function asDomainError(err: unknown): unknown {
  if (err instanceof IdempotencyAlreadyInProgressError)
    return new IdempotencyInProgressError('a request with this Idempotency-Key is still in progress', { cause: err });
  if (err instanceof IdempotencyValidationError)
    return new IdempotencyKeyReusedError('this Idempotency-Key was used with a different request', { cause: err });
  return err;
}

export interface IdempotentRequest {
  org: string;
  sub: string;
  target: string;
  key: string;
  body: unknown;
  /** not part of the key: the caller's roles, for the action itself */
  roles: string[];
}

type Fn<T> = (req: IdempotentRequest) => Promise<T>;

/** One day: a client retrying an action later than that is making a new request. */
const EXPIRES_AFTER_SECONDS = 24 * 3600;

let persistence: DynamoDBPersistenceLayer | undefined;
function persistenceStore(): DynamoDBPersistenceLayer {
  persistence ??= new DynamoDBPersistenceLayer({
    tableName: requiredEnv('IDEMPOTENCY_TABLE_NAME'),
    awsSdkV3Client: new DynamoDBClient({
      region: process.env.AWS_REGION ?? 'us-east-1',
      ...(process.env.DYNAMODB_ENDPOINT
        ? { endpoint: process.env.DYNAMODB_ENDPOINT, credentials: { accessKeyId: 'local', secretAccessKey: 'local' } }
        : {}),
    }),
  });
  return persistence;
}

/**
 * `Idempotency-Key` with Powertools idempotency: the key is scoped to org, caller and target, the
 * first successful result is returned for a repeat, a repeat with another body is refused, and a
 * repeat while the first is running is refused (both 409).
 */
export function idempotent<T>(fn: Fn<T>): (req: IdempotentRequest, context: Context) => Promise<T> {
  let wrapped: Fn<T> | undefined;
  const config = new IdempotencyConfig({
    eventKeyJmesPath: '[org, sub, target, key]',
    payloadValidationJmesPath: 'body',
    expiresAfterSeconds: EXPIRES_AFTER_SECONDS,
  });
  return (req, context) => {
    wrapped ??= makeIdempotent(fn, { persistenceStore: persistenceStore(), config });
    config.registerLambdaContext(context);
    return wrapped(req).catch((err: unknown) => {
      throw asDomainError(err);
    });
  };
}
