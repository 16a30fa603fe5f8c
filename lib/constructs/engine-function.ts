import { fileURLToPath } from 'node:url';
import { Duration, Stack, Validations, type RemovalPolicy } from 'aws-cdk-lib';
import type { ITable } from 'aws-cdk-lib/aws-dynamodb';
import { Effect, PolicyStatement, Role, ServicePrincipal } from 'aws-cdk-lib/aws-iam';
import type { IKey } from 'aws-cdk-lib/aws-kms';
import { Architecture, LoggingFormat, Runtime, Tracing, type StartingPosition } from 'aws-cdk-lib/aws-lambda';
import { SqsDlq, SqsEventSource, type SqsEventSourceProps } from 'aws-cdk-lib/aws-lambda-event-sources';
import {
  LogLevel,
  NodejsFunction,
  OutputFormat,
  SourceMapMode,
  type BundlingOptions,
} from 'aws-cdk-lib/aws-lambda-nodejs';
import { LogGroup, type RetentionDays } from 'aws-cdk-lib/aws-logs';
import type { IQueue } from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import { SERVICE_NAME } from '../config.js';
import { isWrite, type TableAccess } from './table-access.js';
import type { TimerScheduling } from './timer-scheduling.js';

export const PROJECT_ROOT = fileURLToPath(new URL('../../', import.meta.url));

/** The entry of a handler module (`http/admin`, `sqs/ingest`): functions/handlers/<handler>.handler.ts */
export const handlerEntry = (handler: string): string => `${PROJECT_ROOT}functions/handlers/${handler}.handler.ts`;

/**
 * How every function is bundled, locally by esbuild: ESM for Node.js 24, minified, a linked source
 * map without the sources, the AWS SDK inside. test/infra/bundle-floor.ts builds with the same
 * options (and checks that it reproduces these bundles byte for byte).
 */
export const BUNDLING: BundlingOptions = {
  forceDockerBundling: false,
  format: OutputFormat.ESM,
  target: 'node24',
  mainFields: ['module', 'main'],
  // CommonJS dependencies inside an ESM bundle still call require() for Node built-ins
  banner: "import { createRequire } from 'node:module';const require = createRequire(import.meta.url);",
  // Class names may be minified: problem types are explicit strings on each error class, never names.
  minify: true,
  sourceMap: true,
  sourceMapMode: SourceMapMode.DEFAULT,
  sourcesContent: false,
  // the SDK versions the tests ran with, not whatever the runtime ships this month
  bundleAwsSDK: true,
  logLevel: LogLevel.ERROR,
};

export interface EngineFunctionProps {
  /** the handler module under functions/handlers, without `.handler.ts`: `http/admin`, `sqs/ingest` */
  handler: string;
  description: string;
  timeout: Duration;
  memorySize?: number;
  logRetention: RetentionDays;
  /** RETAIN keeps the log group (and its history) when the stack goes */
  logRemovalPolicy: RemovalPolicy;
  /** Powertools metrics namespace */
  metricsNamespace: string;
  environment?: Record<string, string>;
}

/** How a function reads the table's stream (each a required choice: no unbounded default). */
export interface StreamSourceOptions {
  startingPosition: StartingPosition;
  batchSize: number;
  maxBatchingWindow: Duration;
  /** retries of a failing batch (halved each time: bisectBatchOnError) before it goes to `onFailure` */
  retryAttempts: number;
  /** records older than this are not processed but sent to `onFailure` */
  maxRecordAge: Duration;
  /** concurrent batches per shard (1-10); records of one partition key stay in order */
  parallelizationFactor: number;
  /** the SQS queue the mapping sends a description of each batch it gave up on */
  onFailure: IQueue;
  /** Lambda event filter patterns (FilterCriteria.filter): records matching none never invoke the function */
  filters: { [key: string]: unknown }[];
}

/**
 * One Lambda per handler module: Node.js 24 on arm64, bundled locally by esbuild (ESM, minified,
 * source maps), X-Ray tracing, JSON logs to its own log group, Powertools configured through the
 * environment. Its role starts empty: every `use...`/`sendsTo`/`consumes...` call grants one
 * resource and sets the env var the handler reads for it, so a permission never exists without
 * the configuration that uses it, and the other way round.
 */
export class EngineFunction extends Construct {
  readonly fn: NodejsFunction;
  readonly role: Role;
  readonly logGroup: LogGroup;
  /** the table keys already granted, and whether for writes too */
  private readonly keyGrants = new Map<IKey, boolean>();

  constructor(scope: Construct, id: string, props: EngineFunctionProps) {
    super(scope, id);
    this.logGroup = new LogGroup(this, 'Logs', {
      retention: props.logRetention,
      removalPolicy: props.logRemovalPolicy,
    });
    // Our own role, so no AWSLambdaBasicExecutionRole (logs:* on *): logs go to this group only.
    this.role = new Role(this, 'Role', {
      assumedBy: new ServicePrincipal('lambda.amazonaws.com'),
      description: `${id}: ${props.description}`,
    });
    this.logGroup.grantWrite(this.role);

    this.fn = new NodejsFunction(this, 'Function', {
      entry: handlerEntry(props.handler),
      handler: 'handler',
      projectRoot: PROJECT_ROOT,
      depsLockFilePath: `${PROJECT_ROOT}package-lock.json`,
      description: props.description,
      runtime: Runtime.NODEJS_24_X,
      architecture: Architecture.ARM_64,
      memorySize: props.memorySize ?? 1024,
      timeout: props.timeout,
      role: this.role,
      logGroup: this.logGroup,
      loggingFormat: LoggingFormat.JSON,
      tracing: Tracing.ACTIVE,
      environment: {
        POWERTOOLS_SERVICE_NAME: SERVICE_NAME,
        POWERTOOLS_METRICS_NAMESPACE: props.metricsNamespace,
        POWERTOOLS_LOG_LEVEL: 'INFO',
        // stack traces point at the TypeScript sources
        NODE_OPTIONS: '--enable-source-maps',
        ...props.environment,
      },
      bundling: BUNDLING,
    });

    Validations.of(this.role).acknowledge({
      id: 'AwsSolutions-IAM5[Resource::*]',
      reason:
        'X-Ray active tracing: xray:PutTraceSegments and xray:PutTelemetryRecords support no resource-level permissions (AWS documents Resource "*" for them); CDK adds exactly these two actions.',
    });
  }

  /** The single table: grants `access` (and the table key through DynamoDB only) and sets TABLE_NAME. */
  useTable(table: ITable, key: IKey, access: TableAccess): this {
    const resources = [table.tableArn, ...access.indexes.map((i) => `${table.tableArn}/index/${i}`)];
    this.role.addToPrincipalPolicy(
      new PolicyStatement({
        actions: [...access.actions],
        resources,
        ...(access.onlyPartitions
          ? { conditions: { 'ForAllValues:StringLike': { 'dynamodb:LeadingKeys': [...access.onlyPartitions] } } }
          : {}),
      }),
    );
    if (access.deny) {
      this.role.addToPrincipalPolicy(
        new PolicyStatement({
          effect: Effect.DENY,
          actions: [...access.deny.actions],
          resources,
          conditions: { 'ForAnyValue:StringLike': { 'dynamodb:LeadingKeys': [...access.deny.partitions] } },
        }),
      );
    }
    this.grantTableKey(key, access.actions.some(isWrite));
    this.fn.addEnvironment('TABLE_NAME', table.tableName);
    return this;
  }

  /** SendMessage to `queue`; its URL in `envName`. */
  sendsTo(queue: IQueue, envName: string): this {
    queue.grantSendMessages(this.fn);
    this.fn.addEnvironment(envName, queue.queueUrl);
    return this;
  }

  /** An SQS event source that reports partial batch failures (the handlers return batchItemFailures). */
  consumes(queue: IQueue, options: Omit<SqsEventSourceProps, 'reportBatchItemFailures'> = {}): this {
    this.fn.addEventSource(new SqsEventSource(queue, { ...options, reportBatchItemFailures: true }));
    return this;
  }

  /**
   * The table's stream as an event source: a DynamoDB event source mapping that reports partial
   * batch failures and bisects a failing batch. Rather than DynamoEventSource, whose bind grants
   * dynamodb:ListStreams on "*" and the table key without kms:ViaService, the role gets the four
   * stream actions on this stream's ARN only, and the table key through DynamoDB (stream records
   * are encrypted with it), before the mapping is created (Lambda checks them then).
   */
  consumesStream(table: ITable, key: IKey, options: StreamSourceOptions): this {
    const streamArn = table.tableStreamArn;
    if (!streamArn) throw new Error(`${this.node.path}: the table ${table.node.path} has no stream`);
    this.role.addToPrincipalPolicy(
      new PolicyStatement({
        actions: [
          'dynamodb:DescribeStream',
          'dynamodb:GetRecords',
          'dynamodb:GetShardIterator',
          'dynamodb:ListStreams',
        ],
        resources: [streamArn],
      }),
    );
    this.grantTableKey(key, false);
    const { onFailure, ...o } = options;
    const mapping = this.fn.addEventSourceMapping('TableStream', {
      ...o,
      eventSourceArn: streamArn,
      reportBatchItemFailures: true,
      bisectBatchOnError: true,
      onFailure: new SqsDlq(onFailure),
    });
    mapping.node.addDependency(this.role);
    return this;
  }

  /**
   * Creates one-time schedules in the engine's group, handing Scheduler its execution role; sets
   * SCHEDULE_GROUP_NAME, TIMERS_QUEUE_ARN, SCHEDULER_ROLE_ARN and SCHEDULER_DLQ_ARN.
   */
  schedulesTimers(timers: TimerScheduling): this {
    this.role.addToPrincipalPolicy(
      new PolicyStatement({ actions: ['scheduler:CreateSchedule'], resources: [timers.scheduleArnPattern] }),
    );
    this.role.addToPrincipalPolicy(
      new PolicyStatement({
        actions: ['iam:PassRole'],
        resources: [timers.executionRole.roleArn],
        conditions: { StringEquals: { 'iam:PassedToService': 'scheduler.amazonaws.com' } },
      }),
    );
    Validations.of(this.role).acknowledge({
      id: `AwsSolutions-IAM5[Resource::${timers.scheduleArnFinding}]`,
      reason:
        "scheduler:CreateSchedule on the schedules of the engine's own group only: each timer gets a schedule named at run time from conversation, kind and version, so the names cannot be listed in advance.",
    });
    this.fn.addEnvironment('SCHEDULE_GROUP_NAME', timers.group.scheduleGroupName);
    this.fn.addEnvironment('TIMERS_QUEUE_ARN', timers.targetQueue.queueArn);
    this.fn.addEnvironment('SCHEDULER_ROLE_ARN', timers.executionRole.roleArn);
    this.fn.addEnvironment('SCHEDULER_DLQ_ARN', timers.deadLetterQueue.queueArn);
    return this;
  }

  /**
   * The customer-managed key of the tables, usable only through DynamoDB (kms:ViaService): the
   * function cannot decrypt anything with it directly.
   */
  private grantTableKey(key: IKey, write: boolean): void {
    // once per key: a table's readers and writers and its stream's consumer share the one statement
    const granted = this.keyGrants.get(key);
    if (granted === true || granted === write) return;
    this.keyGrants.set(key, write);
    this.role.addToPrincipalPolicy(
      new PolicyStatement({
        actions: ['kms:Decrypt', 'kms:DescribeKey', ...(write ? ['kms:Encrypt', 'kms:GenerateDataKey'] : [])],
        resources: [key.keyArn],
        conditions: { StringEquals: { 'kms:ViaService': `dynamodb.${Stack.of(this).region}.amazonaws.com` } },
      }),
    );
  }
}

export const HTTP_TIMEOUT = Duration.seconds(10);
