import { afterAll, inject } from 'vitest';
import { ensureTable, startDynamoLocal } from '../../bin/local/dynamodb-local.js';
import { TEST_TABLE, useDynamo } from './dynamo.js';

/**
 * Each test file that uses the store gets a DynamoDB Local of its own, started before the file is
 * imported and stopped after it. Why not one for the whole run: DynamoDB Local keeps every table's
 * stream records in one SQLite database and, on every request to a table with a stream, looks for
 * its stream's first record across all of them; over a whole run each request grew about ten
 * times slower (a file that takes 6 s alone took 68 s late in the run).
 */
const local = await startDynamoLocal({ launcherClasses: inject('launcherClasses') });
await ensureTable(local.endpoint, TEST_TABLE);
useDynamo(local.endpoint);
afterAll(() => local.stop());
