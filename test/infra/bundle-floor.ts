import { build, type BuildOptions } from 'esbuild';
import { OutputFormat, SourceMapMode } from 'aws-cdk-lib/aws-lambda-nodejs';
import { BUNDLING, PROJECT_ROOT, handlerEntry } from '../../lib/constructs/engine-function.js';

/**
 * Bundle floors: how small a function's bundle could be. A floor is a bundle of only the AWS SDK
 * clients and Powertools utilities the function uses, built with the functions' own esbuild
 * options; everything above it is our code and the rest of our dependencies (middy, zod, ...).
 * test/infra/bundles.test.ts holds each bundle to BUDGET_RATIO x its floor; the benchmark can reuse
 * the same list and builder.
 */

/** What a function can use from the SDK and Powertools: the modules and the exports it imports from them. */
export const DEPENDENCIES = {
  /** the document client over the DynamoDB client, with the commands the store sends */
  dynamodb: {
    '@aws-sdk/client-dynamodb': ['DynamoDBClient'],
    '@aws-sdk/lib-dynamodb': [
      'DynamoDBDocumentClient',
      'BatchWriteCommand',
      'DeleteCommand',
      'GetCommand',
      'PutCommand',
      'QueryCommand',
      'TransactWriteCommand',
      'UpdateCommand',
    ],
    '@aws-sdk/util-dynamodb': ['unmarshall'],
  },
  /** outbound notifications, webhook events to the ingestion queue */
  sqs: { '@aws-sdk/client-sqs': ['SQSClient', 'SendMessageCommand'] },
  /** timers as one-time EventBridge schedules */
  scheduler: { '@aws-sdk/client-scheduler': ['SchedulerClient', 'CreateScheduleCommand'] },
  logger: {
    '@aws-lambda-powertools/logger': ['Logger'],
    '@aws-lambda-powertools/logger/middleware': ['injectLambdaContext'],
  },
  metrics: {
    '@aws-lambda-powertools/metrics': ['Metrics', 'MetricUnit'],
    '@aws-lambda-powertools/metrics/middleware': ['logMetrics'],
  },
  tracer: {
    '@aws-lambda-powertools/tracer': ['Tracer'],
    '@aws-lambda-powertools/tracer/middleware': ['captureLambdaHandler'],
  },
  /**
   * R-6 phone normalization (E.164), the one library outside the SDK and Powertools counted in a floor:
   * it is ~118 KiB, 82 of them the smallest country metadata the package documents (`min`), and the
   * only functions that identify or store contacts need it (a deliberate, reasoned exception).
   */
  phone: { 'libphonenumber-js': ['parsePhoneNumberFromString'] },
  /** partial batch responses of the SQS consumers (FIFO for ingestion, standard for timers) */
  batch: {
    '@aws-lambda-powertools/batch': [
      'BatchProcessor',
      'EventType',
      'SqsFifoPartialProcessorAsync',
      'processPartialResponse',
    ],
  },
} as const satisfies Record<string, Record<string, readonly string[]>>;

export type Dependency = keyof typeof DEPENDENCIES;

/**
 * A string each SDK client's code holds (its service's protocol name, which minification keeps):
 * a bundle holds it if and only if the client is inside.
 */
export const CLIENT_MARKERS = {
  scheduler: 'AWSChronosService',
  sqs: 'AmazonSQS',
} as const satisfies Partial<Record<Dependency, string>>;

const POWERTOOLS = ['logger', 'metrics', 'tracer'] as const satisfies readonly Dependency[];
/** decide -> commit on the table (the request path: TABLE_ONLY_CAPABILITIES) */
const TABLE = ['dynamodb', ...POWERTOOLS] as const satisfies readonly Dependency[];

/**
 * What each function uses, by its construct id in the stateless stack: the one place that says it.
 * bundles.test.ts checks it against the stack (TABLE_NAME means dynamodb, SCHEDULE_GROUP_NAME
 * scheduler, a *_QUEUE_URL sqs, an SQS event source batch) and that no bundle carries an SDK
 * client it does not declare.
 */
export const FUNCTION_DEPENDENCIES = {
  /** touches nothing: held to an absolute budget instead (HEALTH_BUDGET_BYTES) */
  HttpHealth: [],
  /** contacts are stored with their normalized phone (R-6) */
  HttpAdmin: [...TABLE, 'phone'],
  HttpConversations: TABLE,
  HttpAgents: TABLE,
  HttpQueues: TABLE,
  HttpWebhooks: [...TABLE, 'sqs'],
  /** identifies the customer by phone (R-6) */
  IngestConsumer: [...TABLE, 'batch', 'phone'],
  TimersConsumer: [...TABLE, 'batch'],
  /** what a commit causes: schedules, notifications (its partial batch response needs no Powertools batch) */
  FollowUps: [...TABLE, 'scheduler', 'sqs'],
  /** notifications and trigger actions left in the outbox; no schedules */
  Sweeper: [...TABLE, 'sqs'],
} as const satisfies Record<string, readonly Dependency[]>;

export type FunctionName = keyof typeof FUNCTION_DEPENDENCIES;

/**
 * A bundle may be at most this many times its floor. 1.25 until skills (K-1..K-5) added 3.3 KiB to
 * HttpConversations (620.6 KiB against 618.6): every HTTP bundle carries all repositories, admin
 * writes included, because createDynamoRepositories builds them all. Queue operations (H-1, O-1,
 * MX-1, MX-2: the queue counters' repository, hours, the agent list and the waiting list) added 4.5 KiB
 * more (628.0 KiB against 623.5 at 1.26), and MX-3 (queue position: the entry record, the counted
 * head) 1.3 KiB more (629.3 KiB against 628.5 at 1.27). Per-function repository sets are the fix that
 * would bring the ratio back (the conversations bundle needs neither the counters nor the admin
 * writes). Messages (MS-1..MS-4: the transcript repository, replies, templates, the queued message in
 * the follow-ups) made HttpConversations 639.3 KiB (1.29x) and FollowUps 688.8 KiB (1.28x): until then 1.30.
 */
export const BUDGET_RATIO = 1.3;
/** The health bundle has no floor (it uses neither the SDK nor Powertools): at most 64 KiB. */
export const HEALTH_BUDGET_BYTES = 64 * 1024;

/** The esbuild options of the NodejsFunction bundling (lib/constructs/engine-function.ts BUNDLING). */
export function esbuildOptions(): BuildOptions {
  const known = new Set([
    'forceDockerBundling',
    'format',
    'target',
    'mainFields',
    'banner',
    'minify',
    'keepNames',
    'sourceMap',
    'sourceMapMode',
    'sourcesContent',
    'bundleAwsSDK',
    'logLevel',
  ]);
  const unknown = Object.keys(BUNDLING).filter((k) => !known.has(k));
  // a new bundling option must be mirrored here, or the floors stop being comparable
  if (unknown.length)
    throw new Error(`bundle-floor.ts does not translate the bundling option(s) ${unknown.join(', ')}`);
  if (BUNDLING.bundleAwsSDK !== true) throw new Error('floors assume the AWS SDK is bundled (bundleAwsSDK: true)');
  const sourceMapMode = BUNDLING.sourceMapMode ?? SourceMapMode.DEFAULT;
  return {
    bundle: true,
    platform: 'node',
    absWorkingDir: PROJECT_ROOT,
    target: BUNDLING.target ?? 'node24',
    format: BUNDLING.format === OutputFormat.ESM ? 'esm' : 'cjs',
    ...(BUNDLING.mainFields ? { mainFields: [...BUNDLING.mainFields] } : {}),
    ...(BUNDLING.banner ? { banner: { js: BUNDLING.banner } } : {}),
    minify: BUNDLING.minify ?? false,
    keepNames: BUNDLING.keepNames ?? false,
    sourcemap: BUNDLING.sourceMap ? (sourceMapMode === SourceMapMode.DEFAULT ? true : sourceMapMode) : false,
    sourcesContent: BUNDLING.sourcesContent ?? true,
    logLevel: 'error',
  };
}

/** The entry file of a floor: every export of `deps` re-exported, so none is tree-shaken away. */
export function floorSource(deps: readonly Dependency[]): string {
  const modules = new Map<string, Set<string>>();
  for (const d of deps)
    for (const [module, names] of Object.entries(DEPENDENCIES[d])) {
      const set = modules.get(module) ?? new Set<string>();
      for (const n of names) set.add(n);
      modules.set(module, set);
    }
  let i = 0;
  return [...modules]
    .map(([module, names]) => `export { ${[...names].map((n) => `${n} as _${i++}`).join(', ')} } from '${module}';`)
    .join('\n');
}

/** The main file (index.mjs) esbuild writes for these options. */
async function bundleMain(options: BuildOptions): Promise<Uint8Array> {
  const outfile = `${PROJECT_ROOT}cdk.out/floor/index.${options.format === 'esm' ? 'mjs' : 'js'}`;
  const result = await build({ ...options, outfile, write: false });
  const main = result.outputFiles.find((f) => f.path === outfile);
  if (!main) throw new Error(`esbuild wrote no ${outfile}`);
  return main.contents;
}

/** The size in bytes of the main file (index.mjs) esbuild writes for these options. */
const bundleBytes = async (options: BuildOptions): Promise<number> => (await bundleMain(options)).byteLength;

/** The code of a floor (to check what marks a client: CLIENT_MARKERS). */
export async function floorCode(deps: readonly Dependency[]): Promise<string> {
  const main = await bundleMain({
    ...esbuildOptions(),
    stdin: { contents: floorSource(deps), resolveDir: PROJECT_ROOT, loader: 'js' },
  });
  return new TextDecoder().decode(main);
}

const floors = new Map<string, Promise<number>>();

/** The floor of a set of dependencies, in bytes (built once per set). */
export function floorBytes(deps: readonly Dependency[]): Promise<number> {
  const key = [...new Set(deps)].sort().join(',');
  let f = floors.get(key);
  if (!f) {
    f = bundleBytes({
      ...esbuildOptions(),
      stdin: { contents: floorSource(deps), resolveDir: PROJECT_ROOT, loader: 'js' },
    });
    floors.set(key, f);
  }
  return f;
}

/** A handler module (`http/queues`) bundled as its function is, in bytes: to check that these options are the stack's. */
export function handlerBytes(handler: string): Promise<number> {
  return bundleBytes({ ...esbuildOptions(), entryPoints: [handlerEntry(handler)] });
}
