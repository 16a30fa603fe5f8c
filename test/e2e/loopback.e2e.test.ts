import { ListTablesCommand } from '@aws-sdk/client-dynamodb';
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, rmSync } from 'node:fs';
import { connect } from 'node:net';
import { networkInterfaces, tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ensureTable, freePort, localClient, startDynamoLocal } from '../../bin/local/dynamodb-local.js';
import { dynamoEndpoint } from '../support/dynamo.js';

/**
 * RL-10, hardening finding 2: every local service listens on 127.0.0.1 only. `npm start` runs here as
 * a child process (DynamoDB Local, fauxqs, the HTTP server); each port must answer on 127.0.0.1 and
 * refuse a connection on this machine's other addresses, which are what another machine of the
 * network reaches. The run's own DynamoDB Local (the global setup's, through the same launcher) too.
 */

/** this machine's addresses that are not loopback: IPv4, and global IPv6 (a link-local one needs a scope) */
const outsideAddresses = (): string[] =>
  Object.values(networkInterfaces())
    .flat()
    .flatMap((a) => (a && !a.internal && !(a.family === 'IPv6' && a.address.startsWith('fe80:')) ? [a.address] : []));

/** 'connected', or the error code of the connection attempt (ECONNREFUSED: nothing listens there) */
function tryConnect(host: string, port: number): Promise<string> {
  return new Promise((resolve) => {
    const socket = connect({ host, port, timeout: 3000 });
    socket.once('connect', () => {
      socket.destroy();
      resolve('connected');
    });
    socket.once('timeout', () => {
      socket.destroy();
      resolve('timeout');
    });
    socket.once('error', (e: NodeJS.ErrnoException) => resolve(e.code ?? e.message));
  });
}

let child: ChildProcess | undefined;
afterAll(async () => {
  if (child && child.exitCode === null && child.signalCode === null) {
    const exited = once(child, 'exit');
    child.kill('SIGTERM');
    await exited;
  }
});

describe('RL-10: the local stack on the loopback interface', () => {
  it('finding 2: local services listen on loopback only', async (ctx) => {
    const outside = outsideAddresses();
    const ipv4 = outside.filter((a) => !a.includes(':'));
    ctx.skip(
      ipv4.length === 0,
      'this machine has no IPv4 address but loopback: no address another machine could connect to, nothing to refuse',
    );

    // Prepare: npm start, as a developer runs it
    const port = await freePort();
    // without DYNAMODB_ENDPOINT: npm start starts its own DynamoDB Local
    const { DYNAMODB_ENDPOINT: _, ...env } = process.env;
    child = spawn(process.execPath, ['--import', 'tsx', 'bin/local.ts'], {
      cwd: new URL('../..', import.meta.url).pathname,
      env: { ...env, PORT: String(port) },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout?.on('data', (d: Buffer) => (output += d.toString()));
    child.stderr?.on('data', (d: Buffer) => (output += d.toString()));
    const deadline = Date.now() + 90_000;
    while (!/ready in /.test(output)) {
      if (child.exitCode !== null) throw new Error(`npm start exited with ${child.exitCode}:\n${output}`);
      if (Date.now() > deadline) throw new Error(`npm start did not get ready in time:\n${output}`);
      await new Promise((r) => setTimeout(r, 100));
    }
    const endpoint = (re: RegExp): URL => {
      const m = re.exec(output);
      if (!m?.[1]) throw new Error(`no ${re} in the output of npm start:\n${output}`);
      return new URL(m[1]);
    };
    const services = {
      http: endpoint(/listening on (http:\/\/\S+)/),
      'DynamoDB Local': endpoint(/DynamoDB Local (http:\/\/\S+)/),
      fauxqs: endpoint(/SQS \(fauxqs\) (http:\/\/\S+)/),
      "the test run's DynamoDB Local": new URL(dynamoEndpoint()),
    };

    // Act: connect to each port on 127.0.0.1 and on every other address of this machine
    const seen: Record<string, Record<string, string>> = {};
    for (const [name, url] of Object.entries(services)) {
      seen[name] = {};
      for (const host of ['127.0.0.1', ...outside]) seen[name][host] = await tryConnect(host, Number(url.port));
    }

    // Assess: loopback answers, anything else is refused
    const expected = Object.fromEntries(
      Object.keys(services).map((name) => [
        name,
        Object.fromEntries([['127.0.0.1', 'connected'], ...outside.map((host) => [host, 'ECONNREFUSED'])]),
      ]),
    );
    expect(seen).toEqual(expected);
    for (const [name, url] of Object.entries(services)) expect(url.hostname, name).toBe('127.0.0.1');

    // and the children end with npm start: DynamoDB Local's Java process does not keep its port
    const exited = once(child, 'exit');
    child.kill('SIGTERM');
    await exited;
    expect(await tryConnect('127.0.0.1', Number(services['DynamoDB Local'].port))).toBe('ECONNREFUSED');
  }, 150_000);

  it('a relative --data folder keeps the tables between two starts of DynamoDB Local', async () => {
    // Prepare: a folder given relative to the working directory, as `npm start -- --data .local-data`
    const dir = mkdtempSync(join(tmpdir(), 'ddb-local-'));
    const dataDir = relative(process.cwd(), dir);
    try {
      const first = await startDynamoLocal({ dataDir });
      try {
        await ensureTable(first.endpoint, 'kept');
      } finally {
        await first.stop();
      }

      // Act
      const second = await startDynamoLocal({ dataDir });
      const client = localClient(second.endpoint);
      try {
        const tables = await client.send(new ListTablesCommand({}));

        // Assess
        expect(tables.TableNames).toEqual(['kept']);
      } finally {
        client.destroy();
        await second.stop();
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 150_000);
});
