import { GetCommand } from '@aws-sdk/lib-dynamodb';
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { ulid } from 'ulid';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort } from '../../bin/local/dynamodb-local.js';
import { createDocumentClient } from '../../functions/adapters/dynamodb/client.js';
import { keys } from '../../functions/adapters/dynamodb/keys.js';
import { Api, token, uniqueOrg } from '../support/e2e.js';
import { dynamoEndpoint } from '../support/dynamo.js';

/**
 * `npm start` with DYNAMODB_ENDPOINT (and TABLE_NAME): the local runtime runs on that DynamoDB, the
 * test run's DynamoDB Local here, instead of starting its own, and creates the table there.
 */
const endpoint = dynamoEndpoint();
const tableName = `e2e-existing-${ulid().toLowerCase()}`;
let child: ChildProcess | undefined;
let output = '';
let url = '';

beforeAll(async () => {
  const port = await freePort();
  child = spawn(process.execPath, ['--import', 'tsx', 'bin/local.ts'], {
    cwd: new URL('../..', import.meta.url).pathname,
    env: { ...process.env, DYNAMODB_ENDPOINT: endpoint, TABLE_NAME: tableName, PORT: String(port) },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  child.stdout?.on('data', (d: Buffer) => (output += d.toString()));
  child.stderr?.on('data', (d: Buffer) => (output += d.toString()));
  const deadline = Date.now() + 60_000;
  while (!/ready in /.test(output)) {
    if (child.exitCode !== null) throw new Error(`npm start exited with ${child.exitCode}:\n${output}`);
    if (Date.now() > deadline) throw new Error(`npm start did not get ready in time:\n${output}`);
    await new Promise((r) => setTimeout(r, 100));
  }
  url = `http://127.0.0.1:${port}`;
}, 90_000);

afterAll(async () => {
  if (child && child.exitCode === null) {
    const exited = once(child, 'exit');
    child.kill('SIGTERM');
    await exited;
  }
});

describe('npm start on an existing DynamoDB (DYNAMODB_ENDPOINT)', () => {
  it('uses that endpoint and table instead of starting DynamoDB Local; /health answers', async () => {
    expect(output).toContain(`DynamoDB ${endpoint} (DYNAMODB_ENDPOINT), table ${tableName}`);
    expect(output).not.toContain('DynamoDB Local');
    const res = await fetch(`${url}/health`);
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ ok: true });
  });

  it('writes to and reads from that table', async () => {
    // Prepare
    const org = uniqueOrg();
    const admin = new Api(url, await token(org, 'admin', ['admin']));

    // Act
    const put = await admin.put('/v1/admin/queues/q1', { name: 'Queue 1' });
    const get = await admin.get('/v1/admin/queues/q1');

    // Assess: over HTTP, and in the given table on the given endpoint
    expect(put.status).toBe(200);
    expect(get).toMatchObject({ status: 200, body: { org, id: 'q1', name: 'Queue 1' } });
    const doc = createDocumentClient({ endpoint });
    try {
      const item = await doc.send(new GetCommand({ TableName: tableName, Key: keys.queue(org, 'q1') }));
      expect(item.Item).toMatchObject({ name: 'Queue 1' });
    } finally {
      doc.destroy();
    }
  });
});
