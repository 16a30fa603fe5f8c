import { Duration, Stack } from 'aws-cdk-lib';
import type { HttpApi } from 'aws-cdk-lib/aws-apigatewayv2';
import {
  Alarm,
  ComparisonOperator,
  Dashboard,
  GraphWidget,
  MathExpression,
  Metric,
  SearchExpression,
  TextWidget,
  TreatMissingData,
  type IMetric,
} from 'aws-cdk-lib/aws-cloudwatch';
import { SnsAction } from 'aws-cdk-lib/aws-cloudwatch-actions';
import { PolicyStatement, ServicePrincipal } from 'aws-cdk-lib/aws-iam';
import { Key } from 'aws-cdk-lib/aws-kms';
import type { IFunction } from 'aws-cdk-lib/aws-lambda';
import { FilterPattern, MetricFilter, QueryDefinition, QueryString, type ILogGroup } from 'aws-cdk-lib/aws-logs';
import { Topic } from 'aws-cdk-lib/aws-sns';
import { EmailSubscription } from 'aws-cdk-lib/aws-sns-subscriptions';
import type { IQueue } from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';

export interface MonitoringProps {
  stage: string;
  /** custom metrics (metric filters here, Powertools metrics in the functions) */
  namespace: string;
  alarmEmail?: string;
  api: HttpApi;
  accessLogs: ILogGroup;
  functions: Record<string, { fn: IFunction; logGroup: ILogGroup }>;
  deadLetterQueues: Record<string, IQueue>;
  /** queues whose oldest message should not wait long (a stuck consumer) */
  workQueues: Record<string, IQueue>;
  /** functions reading a stream, whose iterator age (how far behind the newest record they are) should stay low */
  streamConsumers: Record<string, IFunction>;
  /** log groups of the ingest consumer, the timers consumer and the sweeper */
  logs: { ingest: ILogGroup; timers: ILogGroup; sweeper: ILogGroup };
}

const MINUTE = Duration.minutes(1);
/** A stream consumer this far behind (IteratorAge, ms) is stuck or throttled: follow-ups should take under a second. */
const ITERATOR_AGE_ALARM_MS = 60_000;

/**
 * Alarms (every DLQ, every function's errors, API 5xx, queue backlog, stream iterator age) to an SNS
 * topic, a dashboard of the engine's vital signs, and a Logs Insights query that follows one
 * conversation.
 *
 * The business metrics come from the structured logs the handlers already write (metric filters),
 * so they exist from the first deployment: transitions (successful action requests, channel events
 * that created or moved a conversation, timers that applied a rule), timer fires, and 409s. They
 * count INFO lines ('channel event applied', 'timer fired', 'sweeper fired timers') and the access
 * log: renaming those messages or raising the log level above INFO silences them.
 */
export class Monitoring extends Construct {
  readonly topic: Topic;
  readonly dashboard: Dashboard;
  readonly alarms: Alarm[] = [];

  constructor(scope: Construct, id: string, props: MonitoringProps) {
    super(scope, id);
    const key = new Key(this, 'TopicKey', {
      description: `contact-center-engine ${props.stage}: alarm notifications`,
      enableKeyRotation: true,
    });
    // CloudWatch alarms publish to an encrypted topic only if the key lets CloudWatch use it
    key.addToResourcePolicy(
      new PolicyStatement({
        principals: [new ServicePrincipal('cloudwatch.amazonaws.com')],
        actions: ['kms:Decrypt', 'kms:GenerateDataKey*'],
        resources: ['*'],
        conditions: { StringEquals: { 'aws:SourceAccount': Stack.of(this).account } },
      }),
    );
    this.topic = new Topic(this, 'Alarms', {
      displayName: `contact-center-engine ${props.stage} alarms`,
      masterKey: key,
      enforceSSL: true,
    });
    if (props.alarmEmail) this.topic.addSubscription(new EmailSubscription(props.alarmEmail));
    const action = new SnsAction(this.topic);
    const alarm = (
      alarmId: string,
      description: string,
      metric: IMetric,
      threshold: number,
      evaluationPeriods = 1,
    ): Alarm => {
      const a = new Alarm(this, alarmId, {
        alarmDescription: description,
        metric,
        threshold,
        evaluationPeriods,
        comparisonOperator: ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
        treatMissingData: TreatMissingData.NOT_BREACHING,
      });
      a.addAlarmAction(action);
      a.addOkAction(action);
      this.alarms.push(a);
      return a;
    };

    // ---- alarms ----
    for (const [name, q] of Object.entries(props.deadLetterQueues)) {
      alarm(
        `${name}Messages`,
        `${name} holds messages: inspect them, fix the cause, then redrive (README, Deploy: DLQ redrive).`,
        q.metricApproximateNumberOfMessagesVisible({ period: MINUTE, statistic: 'Maximum' }),
        1,
      );
    }
    for (const [name, q] of Object.entries(props.workQueues)) {
      alarm(
        `${name}Backlog`,
        `${name}: the oldest message waits for more than 5 minutes (consumer failing or throttled).`,
        q.metricApproximateAgeOfOldestMessage({ period: MINUTE, statistic: 'Maximum' }),
        300,
        5,
      );
    }
    for (const [name, fn] of Object.entries(props.streamConsumers)) {
      alarm(
        `${name}IteratorAge`,
        `${name}: the newest records it read were over ${ITERATOR_AGE_ALARM_MS / 1000} s old (failing batches retried, throttled, or too slow): follow-ups are late.`,
        iteratorAge(fn),
        ITERATOR_AGE_ALARM_MS,
      );
    }
    for (const [name, f] of Object.entries(props.functions)) {
      alarm(
        `${name}Errors`,
        `${name}: the function failed (unhandled error, timeout or crash).`,
        f.fn.metricErrors({ period: Duration.minutes(5), statistic: 'Sum' }),
        1,
      );
    }
    alarm(
      'Api5xx',
      'HTTP API: 5 or more 5xx answers in 5 minutes.',
      props.api.metricServerError({ period: Duration.minutes(5), statistic: 'Sum' }),
      5,
    );

    // ---- metrics from the structured logs ----
    const filter = (
      filterId: string,
      logGroup: ILogGroup,
      metricName: string,
      pattern: string,
      metricValue = '1',
    ): Metric => {
      new MetricFilter(this, filterId, {
        logGroup,
        metricNamespace: props.namespace,
        metricName,
        filterPattern: FilterPattern.literal(pattern),
        metricValue,
      });
      return new Metric({ namespace: props.namespace, metricName, period: MINUTE, statistic: 'Sum' });
    };
    const httpTransitions = filter(
      'HttpTransitions',
      props.accessLogs,
      'HttpTransitions',
      '{ $.routeKey = "POST /v1/conversations/{id}/actions/{action}" && $.status = 200 }',
    );
    const eventTransitions = filter(
      'ChannelEventTransitions',
      props.logs.ingest,
      'ChannelEventTransitions',
      '{ $.message = "channel event applied" && ($.outcome = "created" || $.outcome = "transitioned") }',
    );
    const timerTransitions = filter(
      'TimerTransitions',
      props.logs.timers,
      'TimerTransitions',
      '{ $.message = "timer fired" && $.outcome = "applied" }',
    );
    const timerFires = filter('TimerFires', props.logs.timers, 'TimerFires', '{ $.message = "timer fired" }');
    const sweeperFires = filter(
      'SweeperTimerFires',
      props.logs.sweeper,
      'SweeperTimerFires',
      '{ $.message = "sweeper fired timers" }',
      '$.count',
    );
    const conflicts = filter('Conflicts', props.accessLogs, 'Conflicts409', '{ $.status = 409 }');

    // ---- dashboard ----
    const name = `contact-center-engine-${props.stage}`;
    this.dashboard = new Dashboard(this, 'Dashboard', { dashboardName: name, defaultInterval: Duration.hours(3) });
    const wide = { width: 12, height: 6 };
    this.dashboard.addWidgets(
      new TextWidget({
        markdown: `# ${name}\nTransitions = successful action requests + channel events that created or moved a conversation + timers that applied a rule. DLQ: see README (Deploy, DLQ redrive).`,
        width: 24,
        height: 2,
      }),
    );
    this.dashboard.addWidgets(
      new GraphWidget({
        ...wide,
        title: 'Transitions per minute',
        left: [
          new MathExpression({
            expression: 'FILL(h, 0) + FILL(e, 0) + FILL(t, 0)',
            usingMetrics: { h: httpTransitions, e: eventTransitions, t: timerTransitions },
            label: 'all',
            period: MINUTE,
          }),
          httpTransitions.with({ label: 'actions (HTTP)' }),
          eventTransitions.with({ label: 'channel events' }),
          timerTransitions.with({ label: 'timers' }),
        ],
      }),
      new GraphWidget({
        ...wide,
        title: 'Timer fires per minute',
        left: [
          timerFires.with({ label: 'via Scheduler (timers queue)' }),
          sweeperFires.with({ label: 'via sweeper (outbox, late)' }),
        ],
      }),
    );
    this.dashboard.addWidgets(
      new GraphWidget({
        ...wide,
        title: 'Conflicts (409) per minute',
        left: [conflicts.with({ label: '409 answers' })],
        right: [props.api.metricCount({ period: MINUTE, statistic: 'Sum', label: 'requests' })],
      }),
      new GraphWidget({
        ...wide,
        title: 'DLQ depth (visible messages)',
        left: Object.entries(props.deadLetterQueues).map(([n, q]) =>
          q.metricApproximateNumberOfMessagesVisible({ period: MINUTE, statistic: 'Maximum', label: n }),
        ),
      }),
    );
    this.dashboard.addWidgets(
      new GraphWidget({
        ...wide,
        title: 'Function errors',
        left: Object.entries(props.functions).map(([n, f]) =>
          f.fn.metricErrors({ period: MINUTE, statistic: 'Sum', label: n }),
        ),
      }),
      new GraphWidget({
        ...wide,
        title: 'API latency and errors',
        left: [props.api.metricLatency({ period: MINUTE, statistic: 'p99', label: 'latency p99' })],
        right: [
          props.api.metricClientError({ period: MINUTE, statistic: 'Sum', label: '4xx' }),
          props.api.metricServerError({ period: MINUTE, statistic: 'Sum', label: '5xx' }),
        ],
      }),
    );
    this.dashboard.addWidgets(
      new GraphWidget({
        ...wide,
        title: 'Oldest message age (s)',
        left: Object.entries(props.workQueues).map(([n, q]) =>
          q.metricApproximateAgeOfOldestMessage({ period: MINUTE, statistic: 'Maximum', label: n }),
        ),
      }),
      new GraphWidget({
        ...wide,
        title: 'Stream iterator age (ms)',
        left: Object.entries(props.streamConsumers).map(([n, fn]) => iteratorAge(fn).with({ label: n })),
      }),
    );
    // MX-1: queues are runtime configuration, so their metrics (EMF from the follow-ups) are found by SEARCH
    this.dashboard.addWidgets(
      new GraphWidget({
        ...wide,
        title: 'Queue depth per queue',
        left: [queueSearch(props.namespace, 'QueueDepth', 'Maximum')],
        leftYAxis: { min: 0 },
      }),
      new GraphWidget({
        ...wide,
        title: 'Service level per queue (%)',
        left: [queueSearch(props.namespace, 'ServiceLevel', 'Average')],
        leftYAxis: { min: 0, max: 100 },
      }),
    );

    // ---- one conversation's trail across every function and the access log ----
    new QueryDefinition(this, 'ConversationTrail', {
      queryDefinitionName: `${name}/conversation-trail`,
      queryString: new QueryString({
        fields: [
          '@timestamp',
          'level',
          'message',
          'org',
          'conversationId',
          'routeKey',
          'path',
          'status',
          'outcome',
          '@log',
        ],
        filterStatements: ['conversationId = "CONVERSATION_ID" or path like /CONVERSATION_ID/'],
        sort: '@timestamp asc',
        limit: 1000,
      }),
      logGroups: [props.accessLogs, ...Object.values(props.functions).map((f) => f.logGroup)],
    });
  }
}

/** How old the last record of a stream batch was when the function got it (milliseconds), at its worst per minute. */
function iteratorAge(fn: IFunction): Metric {
  return fn.metric('IteratorAge', { period: MINUTE, statistic: 'Maximum' });
}

/**
 * MX-1: one line per (org, queue) of a queue metric the follow-ups emit (EMF, dimensions exactly org and
 * queueId), per minute. The namespace is quoted: it holds a `/` and the stage.
 */
function queueSearch(namespace: string, metricName: string, statistic: 'Maximum' | 'Average'): SearchExpression {
  return new SearchExpression({
    expression: `SEARCH('{"${namespace}",org,queueId} MetricName="${metricName}"', '${statistic}', 60)`,
    period: MINUTE,
  });
}
