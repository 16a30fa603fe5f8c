import type {} from 'vitest';
import type { TestProject } from 'vitest/node';
import { ensureTable, startDynamoLocal } from '../../bin/local/dynamodb-local.js';

declare module 'vitest' {
  export interface ProvidedContext {
    dynamoEndpoint: string;
    tableName: string;
  }
}

/**
 * One DynamoDB Local for the whole run. Store tests never skip: if it cannot start, the run fails
 * here with Java's own output.
 */
export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const local = await startDynamoLocal();
  const tableName = 'engine-test';
  await ensureTable(local.endpoint, tableName);
  project.provide('dynamoEndpoint', local.endpoint);
  project.provide('tableName', tableName);
  return () => local.stop();
}
