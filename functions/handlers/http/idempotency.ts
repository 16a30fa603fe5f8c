import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { IdempotencyConfig, makeIdempotent } from '@aws-lambda-powertools/idempotency';
import { DynamoDBPersistenceLayer } from '@aws-lambda-powertools/idempotency/dynamodb';
import type { Context } from 'aws-lambda';
import type { IdempotencyTableConfig } from '../../config.js';

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

const persistenceStore = (table: IdempotencyTableConfig): DynamoDBPersistenceLayer =>
  new DynamoDBPersistenceLayer({
    tableName: table.tableName,
    awsSdkV3Client: new DynamoDBClient({
      region: table.region,
      ...(table.endpoint
        ? { endpoint: table.endpoint, credentials: { accessKeyId: 'local', secretAccessKey: 'local' } }
        : {}),
    }),
  });

/**
 * `Idempotency-Key` with Powertools idempotency: the key is scoped to org, caller and target, the
 * first successful result is returned for a repeat, a repeat with another body is refused, and a
 * repeat while the first is running is refused (both 409 in problem.ts).
 */
export function idempotent<T>(
  fn: Fn<T>,
  table: IdempotencyTableConfig,
): (req: IdempotentRequest, context: Context) => Promise<T> {
  let wrapped: Fn<T> | undefined;
  const config = new IdempotencyConfig({
    eventKeyJmesPath: '[org, sub, target, key]',
    payloadValidationJmesPath: 'body',
    expiresAfterSeconds: EXPIRES_AFTER_SECONDS,
  });
  return (req, context) => {
    wrapped ??= makeIdempotent(fn, { persistenceStore: persistenceStore(table), config });
    config.registerLambdaContext(context);
    return wrapped(req);
  };
}
