/** The table the store tests share inside one test file (e2e runtimes make their own beside it). */
export const TEST_TABLE = 'engine-test';

let endpoint: string | undefined;

/** Set once per test file, by test/support/dynamo-per-file.ts, before the file is imported. */
export function useDynamo(url: string): void {
  endpoint = url;
}

/** This test file's DynamoDB Local. */
export function dynamoEndpoint(): string {
  if (!endpoint) throw new Error('no DynamoDB Local for this file: it runs in the "unit" project, which has none');
  return endpoint;
}
