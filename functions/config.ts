import * as z from 'zod/mini';

/**
 * The functions' configuration: the environment is read and validated here, once per execution
 * environment, and nowhere else. Each capability (a table, a queue, the scheduler...) names the
 * variables it needs; a handler reads only the capabilities it uses, so a missing or malformed
 * variable fails its cold start with the variable's name. The local runtime and the tests build the
 * same objects directly and hand them to the handler factories.
 */

/** An environment: `process.env` in Lambda, or one a test writes. */
export type Env = Readonly<Record<string, string | undefined>>;

export interface ObservabilityConfig {
  /** POWERTOOLS_SERVICE_NAME (default contact-center-engine) */
  serviceName: string;
  /** POWERTOOLS_METRICS_NAMESPACE (default ContactCenterEngine) */
  metricsNamespace: string;
  /** EMF metrics flushed after each invocation; false when POWERTOOLS_METRICS_DISABLED is true */
  metrics: boolean;
  /** X-Ray through Powertools; false when POWERTOOLS_TRACE_ENABLED is false */
  tracing: boolean;
  /** Powertools' log level; unset, Powertools reads POWERTOOLS_LOG_LEVEL itself (default INFO) */
  logLevel?: LogLevel;
}

export const LOG_LEVELS = ['TRACE', 'DEBUG', 'INFO', 'WARN', 'ERROR', 'CRITICAL', 'SILENT'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

/** The engine's single table. */
export interface DynamoConfig {
  /** AWS_REGION (default us-east-1) */
  region: string;
  /** TABLE_NAME */
  tableName: string;
  /** DYNAMODB_ENDPOINT: DynamoDB Local (local runtime, tests); unset in AWS */
  endpoint?: string;
}

/** A queue the function sends to: the ingestion queue (webhooks) or the outbound queue (notifications). */
export interface QueueConfig {
  /** AWS_REGION (default us-east-1) */
  region: string;
  /** INGEST_QUEUE_URL or OUTBOUND_QUEUE_URL */
  url: string;
  /** SQS_ENDPOINT: the SQS emulator (local runtime, tests); unset in AWS */
  endpoint?: string;
}

/** EventBridge Scheduler: one-time schedules delivering due timers to the timers queue. */
export interface SchedulerConfig {
  /** AWS_REGION (default us-east-1) */
  region: string;
  /** SCHEDULE_GROUP_NAME */
  groupName: string;
  /** TIMERS_QUEUE_ARN: the queue the schedules deliver to */
  targetArn: string;
  /** SCHEDULER_ROLE_ARN: the role Scheduler assumes to send there */
  roleArn: string;
  /** SCHEDULER_DLQ_ARN: where Scheduler puts deliveries that exhausted their retries */
  deadLetterArn: string;
}

export interface SweeperConfig {
  /** SWEEPER_GRACE_SECONDS (default 120): how long a timer is overdue before the sweeper fires it */
  graceSeconds: number;
}

/** The local runtime's defaults for the JWT check that stands in for API Gateway's authorizer. */
export const LOCAL_JWT_DEFAULTS = {
  secret: 'local-dev-secret',
  issuer: 'urn:contact-center-engine:local',
  audience: 'contact-center-engine',
} as const;

/**
 * The local runtime's JWT check (bin/local: the HTTP server and `npm run token`); no function in AWS
 * reads it, API Gateway's JWT authorizer takes its issuer and audience from the CDK context.
 */
export interface LocalJwtConfig {
  /** LOCAL_JWT_SECRET (default local-dev-secret): the HS256 key */
  secret: string;
  /** LOCAL_JWT_ISSUER (default urn:contact-center-engine:local): the one accepted `iss` */
  issuer: string;
  /** LOCAL_JWT_AUDIENCE (default contact-center-engine): the one accepted `aud` */
  audience: string;
}

/** One capability: the variables it reads (a zod/mini object shape) and the typed config they make. */
interface Reader<T> {
  readonly shape: Readonly<Record<string, z.ZodMiniType>>;
  read(env: Record<string, unknown>): T;
}

function capability<S extends Record<string, z.ZodMiniType>, T>(
  shape: S,
  from: (env: z.infer<z.ZodMiniObject<S>>) => T,
): Reader<T> {
  return { shape, read: (env) => from(env as z.infer<z.ZodMiniObject<S>>) };
}

const required = z.string({ error: 'is required' });
const url = z.url({ error: 'must be a URL' });
const optionalUrl = z.optional(url);
const region = z._default(z.string(), 'us-east-1');
const flag = (byDefault: boolean) => z._default(z.stringbool({ error: 'must be true or false' }), byDefault);
const endpoint = (e: string | undefined): { endpoint?: string } => (e ? { endpoint: e } : {});

/** Every capability's config; a handler's config is a `Pick` of it (`ConfigFor<'dynamodb' | ...>`). */
export interface Config {
  observability: ObservabilityConfig;
  dynamodb: DynamoConfig;
  ingestQueue: QueueConfig;
  outboundQueue: QueueConfig;
  scheduler: SchedulerConfig;
  sweeper: SweeperConfig;
  localJwt: LocalJwtConfig;
}

export type Capability = keyof Config;
export type ConfigFor<K extends Capability> = Pick<Config, K>;

const CAPABILITIES: { [K in Capability]: Reader<Config[K]> } = {
  observability: capability(
    {
      POWERTOOLS_SERVICE_NAME: z._default(z.string(), 'contact-center-engine'),
      POWERTOOLS_METRICS_NAMESPACE: z._default(z.string(), 'ContactCenterEngine'),
      POWERTOOLS_METRICS_DISABLED: flag(false),
      POWERTOOLS_TRACE_ENABLED: flag(true),
    },
    (e): ObservabilityConfig => ({
      serviceName: e.POWERTOOLS_SERVICE_NAME,
      metricsNamespace: e.POWERTOOLS_METRICS_NAMESPACE,
      metrics: !e.POWERTOOLS_METRICS_DISABLED,
      tracing: e.POWERTOOLS_TRACE_ENABLED,
    }),
  ),
  dynamodb: capability(
    { AWS_REGION: region, TABLE_NAME: required, DYNAMODB_ENDPOINT: optionalUrl },
    (e): DynamoConfig => ({ region: e.AWS_REGION, tableName: e.TABLE_NAME, ...endpoint(e.DYNAMODB_ENDPOINT) }),
  ),
  ingestQueue: capability(
    { AWS_REGION: region, INGEST_QUEUE_URL: url, SQS_ENDPOINT: optionalUrl },
    (e): QueueConfig => ({ region: e.AWS_REGION, url: e.INGEST_QUEUE_URL, ...endpoint(e.SQS_ENDPOINT) }),
  ),
  outboundQueue: capability(
    { AWS_REGION: region, OUTBOUND_QUEUE_URL: url, SQS_ENDPOINT: optionalUrl },
    (e): QueueConfig => ({ region: e.AWS_REGION, url: e.OUTBOUND_QUEUE_URL, ...endpoint(e.SQS_ENDPOINT) }),
  ),
  scheduler: capability(
    {
      AWS_REGION: region,
      SCHEDULE_GROUP_NAME: required,
      TIMERS_QUEUE_ARN: required,
      SCHEDULER_ROLE_ARN: required,
      SCHEDULER_DLQ_ARN: required,
    },
    (e): SchedulerConfig => ({
      region: e.AWS_REGION,
      groupName: e.SCHEDULE_GROUP_NAME,
      targetArn: e.TIMERS_QUEUE_ARN,
      roleArn: e.SCHEDULER_ROLE_ARN,
      deadLetterArn: e.SCHEDULER_DLQ_ARN,
    }),
  ),
  sweeper: capability(
    {
      SWEEPER_GRACE_SECONDS: z._default(
        z.pipe(
          z.coerce.number({ error: 'must be a number of seconds' }),
          z.int({ error: 'must be a whole number of seconds' }).check(z.nonnegative({ error: 'must not be negative' })),
        ),
        120,
      ),
    },
    (e): SweeperConfig => ({ graceSeconds: e.SWEEPER_GRACE_SECONDS }),
  ),
  localJwt: capability(
    {
      LOCAL_JWT_SECRET: z._default(z.string(), LOCAL_JWT_DEFAULTS.secret),
      LOCAL_JWT_ISSUER: z._default(z.string(), LOCAL_JWT_DEFAULTS.issuer),
      LOCAL_JWT_AUDIENCE: z._default(z.string(), LOCAL_JWT_DEFAULTS.audience),
    },
    (e): LocalJwtConfig => ({ secret: e.LOCAL_JWT_SECRET, issuer: e.LOCAL_JWT_ISSUER, audience: e.LOCAL_JWT_AUDIENCE }),
  ),
};

export class ConfigError extends Error {
  constructor(readonly problems: readonly { variable: string; message: string }[]) {
    super(
      `invalid configuration: ${problems.map((p) => `environment variable ${p.variable} ${p.message}`).join('; ')}`,
    );
    this.name = 'ConfigError';
  }
}

/**
 * Reads and validates the capabilities' variables in one pass; every problem is reported at once,
 * each naming its variable. An empty variable counts as unset.
 */
export function readConfig<K extends Capability>(capabilities: readonly K[], env: Env = process.env): ConfigFor<K> {
  const readers = capabilities.map((k) => [k, CAPABILITIES[k] as Reader<unknown>] as const);
  const shape = Object.assign({}, ...readers.map(([, r]) => r.shape)) as Record<string, z.ZodMiniType>;
  const set = Object.fromEntries(Object.entries(env).filter(([, v]) => v !== undefined && v !== ''));
  const parsed = z.object(shape).safeParse(set);
  if (!parsed.success) {
    throw new ConfigError(
      parsed.error.issues.map((i) => ({
        variable: String(i.path[0] ?? '(environment)'),
        message: i.message === 'Invalid input' ? 'is not valid' : i.message,
      })),
    );
  }
  const data = parsed.data as Record<string, unknown>;
  return Object.fromEntries(readers.map(([k, r]) => [k, r.read(data)])) as ConfigFor<K>;
}
