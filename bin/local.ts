import { relative } from 'node:path';
import { parseArgs } from 'node:util';
import { LOG_LEVELS, readConfig, type LogLevel } from '../functions/config.js';
import { BundlesUnavailableError } from './local/bundles.js';
import { TABLE_NAME_LOCAL } from './local/names.js';
import { startLocalRuntime } from './local/runtime.js';
import { seedDemo } from './local/seed.js';

/**
 * `npm start`: the whole engine on this machine. Options:
 *   --data DIR   keep DynamoDB Local's data in DIR (in memory otherwise)
 *   --seed       create a demo org and print its channel secrets and tokens
 *   --bundles    run the Lambda bundles of the last `npm run synth` (cdk.out), not the TypeScript sources
 * PORT (default 3000); LOCAL_JWT_SECRET, LOCAL_JWT_ISSUER, LOCAL_JWT_AUDIENCE: the JWT check (defaults
 * local-dev-secret, urn:contact-center-engine:local, contact-center-engine). DYNAMODB_ENDPOINT: use that
 * DynamoDB (DynamoDB Local or compatible) instead of starting DynamoDB Local, with the table
 * TABLE_NAME (default contact-center-engine), created there if missing.
 */
const { values } = parseArgs({
  options: {
    data: { type: 'string' },
    seed: { type: 'boolean', default: false },
    bundles: { type: 'boolean', default: false },
  },
});
const port = Number(process.env.PORT ?? 3000);
const level = process.env.POWERTOOLS_LOG_LEVEL?.toUpperCase();
const logLevel = (LOG_LEVELS as readonly string[]).includes(level ?? '') ? (level as LogLevel) : undefined;
// DYNAMODB_ENDPOINT and TABLE_NAME validated as the functions validate them
const existing = process.env.DYNAMODB_ENDPOINT
  ? readConfig(['dynamodb'], { TABLE_NAME: TABLE_NAME_LOCAL, ...process.env }).dynamodb
  : undefined;
if (existing && values.data) {
  console.error('--data is for the DynamoDB Local that npm start starts; with DYNAMODB_ENDPOINT it starts none');
  process.exit(2);
}

const started = Date.now();
const rt = await startLocalRuntime({
  port,
  ...(values.data ? { dataDir: values.data } : {}),
  ...(existing ? { dynamoEndpoint: existing.endpoint, tableName: existing.tableName } : {}),
  ...(values.bundles ? { bundles: true } : {}),
  ...(logLevel ? { logLevel } : {}),
}).catch((err: unknown) => {
  if (!(err instanceof BundlesUnavailableError)) throw err;
  console.error(`--bundles: ${err.message}`);
  process.exit(2);
});
let stopping = false;
const shutdown = async (signal: string, code = 0): Promise<void> => {
  if (stopping) return;
  stopping = true;
  console.log(
    `\n${signal}: stopping (HTTP server, SQS pollers, fauxqs${rt.startedDynamoLocal ? ', DynamoDB Local' : ''})...`,
  );
  await rt.stop();
  process.exit(code);
};
process.on('SIGINT', () => void shutdown('SIGINT'));
process.on('SIGTERM', () => void shutdown('SIGTERM'));
// a crash stops the children too (DynamoDB Local's Java process is not left running on its port)
const crash = (err: unknown): void => {
  console.error('local runtime crashed:', err);
  void shutdown('crash', 1);
};
process.on('uncaughtException', crash);
process.on('unhandledRejection', crash);

console.log(`Contact-center engine (local) listening on ${rt.url}`);
const dynamo = rt.startedDynamoLocal
  ? `DynamoDB Local ${rt.dynamoEndpoint}${values.data ? ` (data in ${values.data})` : ' (in memory)'}`
  : `DynamoDB ${rt.dynamoEndpoint} (DYNAMODB_ENDPOINT)`;
console.log(`  ${dynamo}, table ${rt.config.dynamodb.tableName}; SQS (fauxqs) ${rt.sqsEndpoint}`);
if (values.bundles) {
  console.log('  handlers from the synthesized bundles (cdk.out):');
  for (const [module, origin] of Object.entries(rt.handlers)) {
    console.log(
      `    ${module.padEnd(20)} ${origin.from === 'bundle' ? `${origin.function} ${relative(process.cwd(), origin.dir)}` : 'TypeScript source'}`,
    );
  }
}
if (values.seed) {
  const seed = await seedDemo(rt.url);
  console.log(`\nDemo org "${seed.org}":`);
  for (const c of seed.channels) console.log(`  channel ${c.id} (${c.kind}) secret ${c.secret}`);
  for (const [who, token] of Object.entries(seed.tokens)) console.log(`  token ${who}: ${token}`);
}
console.log(`\nready in ${((Date.now() - started) / 1000).toFixed(1)} s: ${rt.url}/health`);
