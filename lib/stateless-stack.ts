import { Annotations, CfnOutput, Duration, RemovalPolicy, Stack, type StackProps } from 'aws-cdk-lib';
import { Rule, Schedule } from 'aws-cdk-lib/aws-events';
import { LambdaFunction } from 'aws-cdk-lib/aws-events-targets';
import { FilterCriteria, FilterRule, StartingPosition } from 'aws-cdk-lib/aws-lambda';
import { RetentionDays } from 'aws-cdk-lib/aws-logs';
import type { Construct } from 'constructs';
// data only: the handlers (functions/handlers/http/routes.ts, functions/follow-ups) are never loaded by the stack
import { FOLLOWED_TYPES } from '../functions/follow-ups/followed-types.js';
import { ROUTE_GROUPS, ROUTES, type RouteGroup } from '../functions/handlers/http/route-table.js';
import { CONSUMER_TIMEOUT, type EngineConfig } from './config.js';
import { EngineFunction, HTTP_TIMEOUT } from './constructs/engine-function.js';
import { EngineHttpApi } from './constructs/engine-http-api.js';
import { Monitoring } from './constructs/monitoring.js';
import { TableAccess } from './constructs/table-access.js';
import { TimerScheduling } from './constructs/timer-scheduling.js';
import type { StatefulStack } from './stateful-stack.js';

export interface StatelessStackProps extends StackProps {
  config: EngineConfig;
  data: StatefulStack;
}

/** How often the sweeper runs, and how long past due a timer must be before it fires it. */
const SWEEPER_RATE = Duration.minutes(1);
const SWEEPER_GRACE_SECONDS = 120;

/** The stream's records older than this are not followed up but reported to the follow-ups DLQ. */
const FOLLOW_UPS_MAX_RECORD_AGE = Duration.hours(1);

/**
 * The code and its wiring, replaceable at will: one function per handler group, the HTTP API, the
 * queue consumers, the table's stream consumer (follow-ups), the timer scheduling (group +
 * execution role) and the sweeper, and monitoring.
 */
export class StatelessStack extends Stack {
  readonly functions: Record<string, EngineFunction> = {};
  readonly httpApi: EngineHttpApi;
  readonly timers: TimerScheduling;
  readonly monitoring: Monitoring;

  constructor(scope: Construct, id: string, props: StatelessStackProps) {
    super(scope, id, props);
    const { config, data } = props;
    const namespace = `ContactCenterEngine/${config.stage}`;
    const logRetention = config.retainData ? RetentionDays.ONE_YEAR : RetentionDays.ONE_MONTH;
    const logRemovalPolicy = config.retainData ? RemovalPolicy.RETAIN : RemovalPolicy.DESTROY;
    const fn = (name: string, handler: string, description: string, timeout: Duration): EngineFunction => {
      const f = new EngineFunction(this, name, {
        handler,
        description,
        timeout,
        logRetention,
        logRemovalPolicy,
        metricsNamespace: namespace,
      });
      this.functions[name] = f;
      return f;
    };

    this.timers = new TimerScheduling(this, 'TimerScheduling', {
      groupName: `contact-center-engine-${config.stage}-timers`,
      targetQueue: data.timers.queue,
      deadLetterQueue: data.schedulerDlq,
    });

    /**
     * decide -> commit: every function that changes conversations or agents. What a commit causes
     * (schedules, notifications, dispatch) follows from the table's stream, in the follow-ups
     * function: only it creates schedules, and only it and the sweeper send notifications.
     */
    const engine = (f: EngineFunction, access = TableAccess.engine): EngineFunction =>
      f.useTable(data.table, data.dataKey, access);

    // ---- HTTP: one function per route group of the route table, each with its own access ----
    // A Record over RouteGroup: a new group in route-table.ts does not compile until it is wired here.
    const httpAccess: Record<RouteGroup, (f: EngineFunction) => EngineFunction> = {
      health: (f) => f,
      admin: (f) => engine(f, TableAccess.admin),
      // Idempotency-Key receipts are items of the table, committed with the change
      conversations: (f) => engine(f),
      agents: (f) => engine(f),
      queues: (f) => f.useTable(data.table, data.dataKey, TableAccess.queueReads),
      webhooks: (f) =>
        f
          .useTable(data.table, data.dataKey, TableAccess.channelRegistrationLookup)
          .sendsTo(data.ingest.queue, 'INGEST_QUEUE_URL'),
    };
    const http = Object.fromEntries(
      ROUTE_GROUPS.map((group) => {
        const name = `Http${group[0]!.toUpperCase()}${group.slice(1)}`;
        const description = `HTTP ${group} routes (functions/handlers/http/${group}.handler.ts)`;
        return [group, httpAccess[group](fn(name, `http/${group}`, description, HTTP_TIMEOUT))];
      }),
    ) as Record<RouteGroup, EngineFunction>;

    // ---- queue consumers, the stream consumer and the sweeper ----
    const ingest = engine(
      fn('IngestConsumer', 'sqs/ingest', 'applies channel events in per-thread order', CONSUMER_TIMEOUT),
    ).consumes(data.ingest.queue, { batchSize: 10 });
    const timersConsumer = engine(
      fn('TimersConsumer', 'sqs/timers', 'applies due timers delivered by EventBridge Scheduler', CONSUMER_TIMEOUT),
    ).consumes(data.timers.queue, {
      batchSize: 10,
      maxBatchingWindow: Duration.seconds(0),
    });
    // A committed outbox item gets its schedule, a notification or trigger action runs, the index and
    // dispatch follow the change: the one function that creates schedules.
    const followUps = engine(
      fn('FollowUps', 'stream/follow-ups', "runs what the table's committed changes cause", CONSUMER_TIMEOUT),
    )
      .schedulesTimers(this.timers)
      .sendsTo(data.outbound.queue, 'OUTBOUND_QUEUE_URL')
      .consumesStream(data.table, data.dataKey, {
        // TRIM_HORIZON: a new or replaced mapping starts at the oldest record the stream keeps, so no
        // commit misses its follow-ups; replaying some is harmless (each reads current state, TM-5).
        // LATEST would skip every change committed before the mapping was (re)created.
        startingPosition: StartingPosition.TRIM_HORIZON,
        batchSize: 100,
        // latency first (dispatch p99 < 1 s): invoke as soon as a shard has records
        maxBatchingWindow: Duration.seconds(0),
        retryAttempts: 10,
        // past an hour a follow-up is late anyway: the record is reported to the DLQ (alarm), and the
        // outbox's timers and the sweeper cover its work
        maxRecordAge: FOLLOW_UPS_MAX_RECORD_AGE,
        // 4 batches per shard at once. Lambda keeps each partition key's records in order whatever
        // the factor; the follow-ups would not need it (each reads current state), but a failing or
        // slow batch then holds back a quarter of a shard's keys, not all of them, while hot items
        // (an agent's pool, a queue) see few concurrent writers.
        parallelizationFactor: 4,
        onFailure: data.followUpsDlq,
        // only changes of items that cause follow-ups (functions/follow-ups/changes.ts), written or removed
        filters: (['NewImage', 'OldImage'] as const).map((image) =>
          FilterCriteria.filter({ dynamodb: { [image]: { type: { S: FilterRule.or(...FOLLOWED_TYPES) } } } }),
        ),
      });
    // Notifications and trigger actions left in the outbox: it fires every kind; a timer it re-arms is
    // a table write whose schedule the follow-ups create.
    const sweeper = engine(
      fn('Sweeper', 'scheduler/sweeper', 'fires outbox timers whose schedule never delivered', Duration.seconds(50)),
    ).sendsTo(data.outbound.queue, 'OUTBOUND_QUEUE_URL');
    sweeper.fn.addEnvironment('SWEEPER_GRACE_SECONDS', String(SWEEPER_GRACE_SECONDS));
    new Rule(this, 'SweeperSchedule', {
      description: 'runs the timer sweeper every minute',
      schedule: Schedule.rate(SWEEPER_RATE),
      // the next run a minute later is the retry; a failed run raises the Sweeper errors alarm
      targets: [new LambdaFunction(sweeper.fn, { retryAttempts: 0 })],
    });
    sweeper.fn.configureAsyncInvoke({ retryAttempts: 0, maxEventAge: Duration.minutes(1) });

    // ---- API ----
    this.httpApi = new EngineHttpApi(this, 'Http', {
      stage: config.stage,
      // the local-only /_local/clock is not in the route table, so it is never deployed
      routes: ROUTES,
      functions: Object.fromEntries(Object.entries(http).map(([g, f]) => [g, f.fn])),
      jwtIssuer: config.jwtIssuer,
      jwtAudience: config.jwtAudience,
      throttle: config.apiThrottle,
      logRetention,
      logRemovalPolicy,
    });
    if (config.jwtPlaceholder) {
      Annotations.of(this.httpApi).addWarningV2(
        'contact-center-engine:jwt-placeholder',
        `No jwtIssuer/jwtAudience given: the JWT authorizer uses ${config.jwtIssuer}, which refuses every token. Deploy with -c jwtIssuer=https://... -c jwtAudience=...`,
      );
    }

    this.monitoring = new Monitoring(this, 'Monitoring', {
      stage: config.stage,
      namespace,
      ...(config.alarmEmail ? { alarmEmail: config.alarmEmail } : {}),
      api: this.httpApi.api,
      accessLogs: this.httpApi.accessLogs,
      functions: Object.fromEntries(
        Object.entries(this.functions).map(([n, f]) => [n, { fn: f.fn, logGroup: f.logGroup }]),
      ),
      deadLetterQueues: data.deadLetterQueues,
      workQueues: { IngestQueue: data.ingest.queue, TimersQueue: data.timers.queue },
      streamConsumers: { FollowUps: followUps.fn },
      logs: { ingest: ingest.logGroup, timers: timersConsumer.logGroup, sweeper: sweeper.logGroup },
    });

    new CfnOutput(this, 'ApiUrl', { value: this.httpApi.stage.url, description: 'base URL of the HTTP API' });
    new CfnOutput(this, 'ScheduleGroupName', { value: this.timers.group.scheduleGroupName });
    new CfnOutput(this, 'AlarmTopicArn', {
      value: this.monitoring.topic.topicArn,
      description: 'subscribe on-call to this topic',
    });
    new CfnOutput(this, 'DashboardUrl', {
      value: `https://console.aws.amazon.com/cloudwatch/home?region=${this.region}#dashboards:name=${this.monitoring.dashboard.dashboardName}`,
    });
  }
}
