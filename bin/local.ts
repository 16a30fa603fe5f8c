import { parseArgs } from 'node:util';
import { startLocalRuntime } from './local/runtime.js';
import { seedDemo } from './local/seed.js';

/**
 * `npm start`: the whole engine on this machine. Options:
 *   --data DIR   keep DynamoDB Local's data in DIR (in memory otherwise)
 *   --seed       create a demo org and print its channel secrets and tokens
 * PORT (default 3000), LOCAL_JWT_SECRET (default local-dev-secret).
 */
const { values } = parseArgs({ options: { data: { type: 'string' }, seed: { type: 'boolean', default: false } } });
const port = Number(process.env.PORT ?? 3000);

const started = Date.now();
const rt = await startLocalRuntime({ port, ...(values.data ? { dataDir: values.data } : {}) });
let stopping = false;
const shutdown = async (signal: string): Promise<void> => {
  if (stopping) return;
  stopping = true;
  console.log(`\n${signal}: stopping (HTTP server, SQS pollers, fauxqs, DynamoDB Local)...`);
  await rt.stop();
  process.exit(0);
};
process.on('SIGINT', () => void shutdown('SIGINT'));
process.on('SIGTERM', () => void shutdown('SIGTERM'));

console.log(`Contact-center engine (local) listening on ${rt.url}`);
console.log(
  `  DynamoDB Local ${rt.dynamoEndpoint}${values.data ? ` (data in ${values.data})` : ' (in memory)'}; SQS (fauxqs) ${rt.sqsEndpoint}`,
);
if (values.seed) {
  const seed = await seedDemo(rt.url);
  console.log(`\nDemo org "${seed.org}":`);
  for (const c of seed.channels) console.log(`  channel ${c.id} (${c.kind}) secret ${c.secret}`);
  for (const [who, token] of Object.entries(seed.tokens)) console.log(`  token ${who}: ${token}`);
}
console.log(`\nready in ${((Date.now() - started) / 1000).toFixed(1)} s: ${rt.url}/health`);
