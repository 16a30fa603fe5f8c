import { DynamoDBClient, type DynamoDBClientConfig } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';

/** A document client; `endpoint` points at DynamoDB Local in tests and in `npm start` (region from the config). */
export function createDocumentClient(
  options: { endpoint?: string; region?: string; maxAttempts?: number } = {},
): DynamoDBDocumentClient {
  const config: DynamoDBClientConfig = {
    region: options.region ?? 'us-east-1',
    ...(options.maxAttempts ? { maxAttempts: options.maxAttempts } : {}),
  };
  if (options.endpoint) {
    config.endpoint = options.endpoint;
    // DynamoDB Local accepts any credentials; fixed ones keep every client in the same local namespace.
    config.credentials = { accessKeyId: 'local', secretAccessKey: 'local' };
  }
  return DynamoDBDocumentClient.from(new DynamoDBClient(config), {
    marshallOptions: { removeUndefinedValues: true },
  });
}
