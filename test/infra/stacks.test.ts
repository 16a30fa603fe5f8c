import { readFileSync } from 'node:fs';
import { Stack, type CfnElement } from 'aws-cdk-lib';
import { Annotations, Match } from 'aws-cdk-lib/assertions';
import type { IConstruct } from 'constructs';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { createTableInput, TABLE_DEFINITION } from '../../functions/adapters/dynamodb/table-definition.js';
import { FOLLOWED_TYPES } from '../../functions/follow-ups/followed-types.js';
import { CONSUMER_TIMEOUT, MAX_RECEIVE_COUNT } from '../../lib/config.js';
import {
  actionsOf,
  exportedValue,
  functionsOf,
  referencedId,
  resourcesOf,
  statementsOfRole,
  synthEngine,
  type Statement,
} from './engine-app.js';

/**
 * The synthesized templates, property by property: what operators deploy. One prod-like synth
 * (explicit JWT settings, data retained) shared by the file; a dev synth where defaults matter.
 */
const ISSUER = 'https://auth.example.com/realms/contact-center';
const AUDIENCE = ['engine-api', 'agent-desktop'];
const prod = synthEngine({
  stage: 'prod',
  jwtIssuer: ISSUER,
  jwtAudience: AUDIENCE.join(','),
  alarmEmail: 'oncall@example.com',
});
const dev = synthEngine({ stage: 'dev' });

const logicalId = (c: IConstruct): string => {
  const stack = Stack.of(c);
  return stack.resolve(stack.getLogicalId(c.node.defaultChild as CfnElement)) as string;
};
const fnId = (name: string): string => logicalId(prod.stateless.functions[name]!.fn);
const roleId = (name: string): string => logicalId(prod.stateless.functions[name]!.role);
const stmts = (name: string): Statement[] => statementsOfRole(prod.statelessTemplate, roleId(name));
const dynamoActions = (s: Statement[]): string[] =>
  s
    .filter((x) => x.Effect === 'Allow')
    .flatMap(actionsOf)
    .filter((a) => a.startsWith('dynamodb:'));

/** every function that reads and writes conversations and agents (TableAccess.engine or admin) */
const ENGINE_FUNCTIONS = [
  'HttpAdmin',
  'HttpConversations',
  'HttpAgents',
  'IngestConsumer',
  'TimersConsumer',
  'FollowUps',
  'Sweeper',
];
/** what follows a commit is the stream consumer's: only it creates schedules */
const SCHEDULING_FUNCTIONS = ['FollowUps'];
/** notifications: the follow-ups publish them, the sweeper those left in the outbox */
const NOTIFYING_FUNCTIONS = ['FollowUps', 'Sweeper'];
const SCHEDULER_ENV = ['SCHEDULE_GROUP_NAME', 'TIMERS_QUEUE_ARN', 'SCHEDULER_ROLE_ARN', 'SCHEDULER_DLQ_ARN'];

describe('stateful stack: the table from the shared definition', () => {
  const expected = createTableInput('x');
  const [, table] = Object.entries(prod.statefulTemplate.findResources('AWS::DynamoDB::Table')).find(([id]) =>
    id.startsWith('Table'),
  )!;
  const props = table.Properties as Record<string, unknown>;

  it('has the key schema and every index of TABLE_DEFINITION, projecting ALL, nothing more', () => {
    expect(props.KeySchema).toEqual(expected.KeySchema);
    const indexes = (
      props.GlobalSecondaryIndexes as { IndexName: string; KeySchema: unknown; Projection: unknown }[]
    ).map((g) => ({
      IndexName: g.IndexName,
      KeySchema: g.KeySchema,
      Projection: g.Projection,
    }));
    expect(indexes).toEqual(expected.GlobalSecondaryIndexes);
    expect(indexes.map((i) => i.IndexName)).toEqual(TABLE_DEFINITION.globalSecondaryIndexes.map((g) => g.indexName));
    expect(new Set(props.AttributeDefinitions as unknown[])).toEqual(new Set(expected.AttributeDefinitions));
  });

  it('is on-demand, with PITR, TTL on the shared attribute, and the customer-managed data key', () => {
    expect(props).toMatchObject({
      BillingMode: 'PAY_PER_REQUEST',
      PointInTimeRecoverySpecification: { PointInTimeRecoveryEnabled: true },
      TimeToLiveSpecification: { AttributeName: TABLE_DEFINITION.timeToLiveAttribute, Enabled: true },
      SSESpecification: {
        SSEEnabled: true,
        SSEType: 'KMS',
        KMSMasterKeyId: { 'Fn::GetAtt': [logicalId(prod.stateful.dataKey), 'Arn'] },
      },
    });
    prod.statefulTemplate.hasResourceProperties('AWS::KMS::Key', { EnableKeyRotation: true });
  });

  it('streams every change with both images, the view type of the shared definition', () => {
    expect(TABLE_DEFINITION.streamViewType).toBe('NEW_AND_OLD_IMAGES');
    prod.statefulTemplate.hasResourceProperties('AWS::DynamoDB::Table', {
      KeySchema: expected.KeySchema,
      StreamSpecification: { StreamViewType: TABLE_DEFINITION.streamViewType },
    });
    expect(props.StreamSpecification).toEqual({ StreamViewType: expected.StreamSpecification!.StreamViewType });
  });

  it('is the only table: Idempotency-Key receipts are items of it (no Powertools idempotency table)', () => {
    prod.statefulTemplate.resourceCountIs('AWS::DynamoDB::Table', 1);
    dev.statefulTemplate.resourceCountIs('AWS::DynamoDB::Table', 1);
    expect(JSON.stringify(prod.statefulTemplate.toJSON())).not.toMatch(/idempotency/i);
    for (const f of functionsOf(prod.statelessTemplate))
      expect(Object.keys((f.props.Environment as { Variables: object }).Variables), f.id).not.toContain(
        'IDEMPOTENCY_TABLE_NAME',
      );
  });

  it('prod keeps its data: deletion protection, RETAIN on the table and key, termination protection', () => {
    expect(prod.statefulTemplate.toJSON().Resources[logicalId(prod.stateful.table)]).toMatchObject({
      DeletionPolicy: 'Retain',
      UpdateReplacePolicy: 'Retain',
      Properties: { DeletionProtectionEnabled: true },
    });
    expect(prod.statefulTemplate.toJSON().Resources[logicalId(prod.stateful.dataKey)]).toMatchObject({
      DeletionPolicy: 'Retain',
    });
    expect(prod.stateful.terminationProtection).toBe(true);
  });

  it('dev does not (configurable per stage: -c retainData=true keeps a dev stage too)', () => {
    expect(dev.statefulTemplate.toJSON().Resources[logicalId(dev.stateful.table)]).toMatchObject({
      DeletionPolicy: 'Delete',
      Properties: { DeletionProtectionEnabled: false },
    });
    expect(dev.stateful.terminationProtection).toBe(false);
    const kept = synthEngine({ stage: 'dev', retainData: 'true' });
    expect(kept.statefulTemplate.toJSON().Resources[logicalId(kept.stateful.table)]).toMatchObject({
      DeletionPolicy: 'Retain',
      Properties: { DeletionProtectionEnabled: true },
    });
  });
});

describe('stateful stack: queues', () => {
  const t = prod.statefulTemplate;
  const queues = t.findResources('AWS::SQS::Queue');
  const q = (c: IConstruct) => queues[logicalId(c)]!.Properties as Record<string, unknown>;
  const redrive = (dlq: IConstruct) => ({
    deadLetterTargetArn: { 'Fn::GetAtt': [logicalId(dlq), 'Arn'] },
    maxReceiveCount: MAX_RECEIVE_COUNT,
  });

  it('ingestion is FIFO, high-throughput, with a FIFO DLQ after 5 receives', () => {
    expect(q(prod.stateful.ingest.queue)).toMatchObject({
      FifoQueue: true,
      DeduplicationScope: 'messageGroup',
      FifoThroughputLimit: 'perMessageGroupId',
      RedrivePolicy: redrive(prod.stateful.ingest.dlq),
    });
    expect(q(prod.stateful.ingest.dlq)).toMatchObject({ FifoQueue: true, MessageRetentionPeriod: 14 * 24 * 3600 });
  });

  it('timers and outbound are standard queues with their DLQs (Scheduler targets and the notifier send no group id)', () => {
    for (const { queue, dlq } of [prod.stateful.timers, prod.stateful.outbound]) {
      expect(q(queue)).toMatchObject({ RedrivePolicy: redrive(dlq) });
      expect(q(queue).FifoQueue).toBeUndefined();
      expect(q(dlq).FifoQueue).toBeUndefined();
    }
    expect(q(prod.stateful.schedulerDlq).FifoQueue).toBeUndefined();
  });

  it("the follow-ups DLQ (the stream mapping's on-failure destination) is a standard queue keeping 14 days", () => {
    expect(q(prod.stateful.followUpsDlq)).toMatchObject({ MessageRetentionPeriod: 14 * 24 * 3600 });
    expect(q(prod.stateful.followUpsDlq).FifoQueue).toBeUndefined();
  });

  it('consumer queues hide a message six times as long as the consumer may run', () => {
    for (const c of [prod.stateful.ingest.queue, prod.stateful.timers.queue])
      expect(q(c).VisibilityTimeout).toBe(CONSUMER_TIMEOUT.toSeconds() * 6);
  });

  it('every queue is encrypted (SQS-managed SSE) and refuses plain HTTP', () => {
    expect(Object.keys(queues)).toHaveLength(8);
    for (const [id, queue] of Object.entries(queues)) {
      expect((queue.Properties as Record<string, unknown>).SqsManagedSseEnabled, id).toBe(true);
      t.hasResourceProperties('AWS::SQS::QueuePolicy', {
        Queues: [{ Ref: id }],
        PolicyDocument: {
          Statement: Match.arrayWith([
            Match.objectLike({ Effect: 'Deny', Condition: { Bool: { 'aws:SecureTransport': 'false' } } }),
          ]),
        },
      });
    }
  });

  it('outputs the table name, the queue URLs and the DLQ ARNs', () => {
    for (const o of [
      'TableName',
      'IngestQueueUrl',
      'TimersQueueUrl',
      'OutboundQueueUrl',
      'IngestDlqArn',
      'TimersDlqArn',
      'OutboundDlqArn',
      'SchedulerDlqArn',
      'FollowUpsDlqArn',
    ])
      t.hasOutput(o, {});
  });
});

describe('stateless stack: functions', () => {
  const fns = functionsOf(prod.statelessTemplate);

  it('one function per route group, plus the ingest consumer, the timers consumer, the follow-ups and the sweeper', () => {
    expect(Object.keys(prod.stateless.functions).sort()).toEqual([
      'FollowUps',
      'HttpAdmin',
      'HttpAgents',
      'HttpConversations',
      'HttpHealth',
      'HttpQueues',
      'HttpWebhooks',
      'IngestConsumer',
      'Sweeper',
      'TimersConsumer',
    ]);
    expect(fns).toHaveLength(10);
  });

  it('every function: nodejs24.x on arm64, X-Ray, JSON logs to its own group, Powertools settings', () => {
    for (const f of fns) {
      expect(f.props, f.id).toMatchObject({
        Runtime: 'nodejs24.x',
        Architectures: ['arm64'],
        Handler: 'index.handler',
        TracingConfig: { Mode: 'Active' },
        LoggingConfig: { LogFormat: 'JSON', LogGroup: { Ref: expect.any(String) } },
        Environment: {
          Variables: {
            POWERTOOLS_SERVICE_NAME: 'contact-center-engine',
            POWERTOOLS_METRICS_NAMESPACE: 'ContactCenterEngine/prod',
            NODE_OPTIONS: '--enable-source-maps',
          },
        },
      });
    }
  });

  it('no secret in any environment variable: configuration only (names, URLs, ARNs)', () => {
    for (const f of fns) {
      const vars = (f.props.Environment as { Variables: Record<string, unknown> }).Variables;
      for (const [name, value] of Object.entries(vars)) {
        expect(name, f.id).not.toMatch(/SECRET|PASSWORD|PRIVATE|CREDENTIAL/i);
        if (typeof value === 'string')
          expect(value, `${f.id} ${name}`).toMatch(
            /^(contact-center-engine(-prod-timers)?|ContactCenterEngine\/prod|--enable-source-maps|INFO|\d+)$/,
          );
      }
    }
  });

  it('handlers get the env vars runtime.ts reads, and only what they use', () => {
    const env = (name: string) =>
      Object.keys((fns.find((f) => f.id === fnId(name))!.props.Environment as { Variables: object }).Variables);
    for (const name of ENGINE_FUNCTIONS) expect(env(name), name).toContain('TABLE_NAME');
    for (const name of Object.keys(prod.stateless.functions)) {
      const scheduler = SCHEDULER_ENV.filter((v) => env(name).includes(v));
      expect(scheduler, name).toEqual(SCHEDULING_FUNCTIONS.includes(name) ? SCHEDULER_ENV : []);
      expect(env(name).includes('OUTBOUND_QUEUE_URL'), name).toBe(NOTIFYING_FUNCTIONS.includes(name));
    }
    expect(env('HttpWebhooks')).toEqual(expect.arrayContaining(['TABLE_NAME', 'INGEST_QUEUE_URL']));
    expect(env('HttpWebhooks')).not.toContain('SCHEDULE_GROUP_NAME');
    expect(env('HttpQueues')).not.toContain('OUTBOUND_QUEUE_URL');
    expect(env('HttpHealth')).not.toContain('TABLE_NAME');
    expect(env('Sweeper')).toContain('SWEEPER_GRACE_SECONDS');
  });

  it('the consumers read their queues with ReportBatchItemFailures', () => {
    const t = prod.statelessTemplate;
    for (const [fn, queue] of [
      ['IngestConsumer', prod.stateful.ingest.queue],
      ['TimersConsumer', prod.stateful.timers.queue],
    ] as const) {
      const mappings = Object.values(
        t.findResources('AWS::Lambda::EventSourceMapping', { Properties: { FunctionName: { Ref: fnId(fn) } } }),
      );
      expect(mappings, fn).toHaveLength(1);
      const props = mappings[0]!.Properties as Record<string, unknown>;
      expect(props.FunctionResponseTypes).toEqual(['ReportBatchItemFailures']);
      expect(referencedId(props.EventSourceArn, prod.statefulTemplate)).toBe(logicalId(queue));
    }
  });

  it("the follow-ups read the table's stream: partial failures, bisect, bounded retries and age, a DLQ, only followed types", () => {
    const t = prod.statelessTemplate;
    const mappings = t.findResources('AWS::Lambda::EventSourceMapping', {
      Properties: { FunctionName: { Ref: fnId('FollowUps') } },
    });
    expect(Object.keys(mappings)).toHaveLength(1);
    const props = Object.values(mappings)[0]!.Properties as Record<string, unknown>;
    expect(exportedValue(prod.statefulTemplate, props.EventSourceArn)).toEqual({
      'Fn::GetAtt': [logicalId(prod.stateful.table), 'StreamArn'],
    });
    const images = (image: string) => JSON.stringify({ dynamodb: { [image]: { type: { S: [...FOLLOWED_TYPES] } } } });
    t.hasResourceProperties('AWS::Lambda::EventSourceMapping', {
      FunctionName: { Ref: fnId('FollowUps') },
      StartingPosition: 'TRIM_HORIZON',
      BatchSize: 100,
      MaximumBatchingWindowInSeconds: 0,
      FunctionResponseTypes: ['ReportBatchItemFailures'],
      BisectBatchOnFunctionError: true,
      MaximumRetryAttempts: 10,
      MaximumRecordAgeInSeconds: 3600,
      ParallelizationFactor: 4,
      DestinationConfig: { OnFailure: { Destination: Match.anyValue() } },
      // a record whose new image (written) or old image (removed) is of a followed type
      FilterCriteria: { Filters: [{ Pattern: images('NewImage') }, { Pattern: images('OldImage') }] },
    });
    const destination = (props.DestinationConfig as { OnFailure: { Destination: unknown } }).OnFailure.Destination;
    expect(referencedId(destination, prod.statefulTemplate)).toBe(logicalId(prod.stateful.followUpsDlq));
    // the role's grants exist before Lambda checks them at the mapping's creation
    expect(Object.values(mappings)[0]!.DependsOn).toEqual(
      expect.arrayContaining([roleId('FollowUps'), expect.stringMatching(/^FollowUpsRoleDefaultPolicy/)]),
    );
    expect(
      Object.keys(t.findResources('AWS::Lambda::EventSourceMapping')).filter((id) =>
        JSON.stringify(t.toJSON().Resources[id]).includes('StreamArn'),
      ),
    ).toHaveLength(1);
  });

  it('the sweeper runs every minute, without retries of its own (the next minute is the retry)', () => {
    prod.statelessTemplate.hasResourceProperties('AWS::Events::Rule', {
      ScheduleExpression: 'rate(1 minute)',
      Targets: [
        Match.objectLike({ Arn: { 'Fn::GetAtt': [fnId('Sweeper'), 'Arn'] }, RetryPolicy: { MaximumRetryAttempts: 0 } }),
      ],
    });
  });
});

describe('stateless stack: least privilege', () => {
  const allFunctionNames = Object.keys(prod.stateless.functions);

  it('no function has a wildcard action, a table Scan, or Resource "*" other than X-Ray (which supports no resource)', () => {
    for (const name of allFunctionNames) {
      for (const s of stmts(name).filter((x) => x.Effect === 'Allow')) {
        for (const a of actionsOf(s)) expect(a, name).not.toMatch(/\*|dynamodb:Scan/);
        if (resourcesOf(s).includes('*'))
          expect(actionsOf(s).sort(), name).toEqual(['xray:PutTelemetryRecords', 'xray:PutTraceSegments']);
      }
    }
  });

  it('health touches no data', () => {
    expect(
      stmts('HttpHealth')
        .flatMap(actionsOf)
        .filter((a) => !/^(logs|xray):/.test(a)),
    ).toEqual([]);
  });

  it('webhooks: GetItem of channel registrations only, and SendMessage to the ingestion queue', () => {
    const s = stmts('HttpWebhooks');
    expect(dynamoActions(s)).toEqual(['dynamodb:GetItem']);
    const get = s.find((x) => actionsOf(x).includes('dynamodb:GetItem'))!;
    expect(get.Condition).toEqual({ 'ForAllValues:StringLike': { 'dynamodb:LeadingKeys': ['CHANNELREG#*'] } });
    const send = s.find((x) => actionsOf(x).includes('sqs:SendMessage'))!;
    expect(referencedId(send.Resource, prod.statefulTemplate)).toBe(logicalId(prod.stateful.ingest.queue));
  });

  it('queues: GetItem, BatchGetItem and Query on the table, GSI1 (open items) and GSI2 (waiting list) only', () => {
    const s = stmts('HttpQueues').filter(
      (x) => x.Effect === 'Allow' && actionsOf(x).some((a) => a.startsWith('dynamodb:')),
    );
    expect(s.flatMap(actionsOf).sort()).toEqual(['dynamodb:BatchGetItem', 'dynamodb:GetItem', 'dynamodb:Query']);
    const indexes = s
      .flatMap(resourcesOf)
      .map((r) => JSON.stringify(r).match(/\/index\/(\w+)/)?.[1])
      .filter(Boolean);
    expect(indexes).toEqual(['GSI1', 'GSI2']);
  });

  it('every function that reads the table may BatchGetItem (a separate IAM action: the decision reads and the queue counters use it)', () => {
    for (const name of [...ENGINE_FUNCTIONS, 'HttpQueues']) {
      const allowed = stmts(name)
        .filter((x) => x.Effect === 'Allow')
        .flatMap(actionsOf);
      expect(allowed, name).toContain('dynamodb:BatchGetItem');
    }
  });

  it('the secrets: every function but webhooks (read) and admin (write) is denied channel registrations; admin may not read them', () => {
    for (const name of [...ENGINE_FUNCTIONS, 'HttpQueues']) {
      const deny = stmts(name).find((x) => x.Effect === 'Deny');
      expect(deny?.Condition, name).toEqual({ 'ForAnyValue:StringLike': { 'dynamodb:LeadingKeys': ['CHANNELREG#*'] } });
      expect(actionsOf(deny!), name).toEqual(expect.arrayContaining(['dynamodb:GetItem', 'dynamodb:Query']));
      expect(actionsOf(deny!).includes('dynamodb:PutItem'), name).toBe(name !== 'HttpAdmin' && name !== 'HttpQueues');
    }
  });

  it('the data key only through DynamoDB, in one statement per function', () => {
    for (const name of allFunctionNames) {
      const kms = stmts(name).filter((x) => actionsOf(x).some((a) => a.startsWith('kms:')));
      expect(kms.length, name).toBeLessThanOrEqual(1);
      for (const s of kms) {
        expect(s.Condition, name).toMatchObject({ StringEquals: { 'kms:ViaService': expect.anything() } });
        expect(referencedId(s.Resource, prod.statefulTemplate)).toBe(logicalId(prod.stateful.dataKey));
      }
    }
  });

  it("only the follow-ups read the table's stream, on its ARN only (the four stream actions), and decrypt it through DynamoDB", () => {
    const streamActions = [
      'dynamodb:DescribeStream',
      'dynamodb:GetRecords',
      'dynamodb:GetShardIterator',
      'dynamodb:ListStreams',
    ];
    prod.statelessTemplate.hasResourceProperties('AWS::IAM::Policy', {
      Roles: [{ Ref: roleId('FollowUps') }],
      PolicyDocument: {
        Statement: Match.arrayWith([
          {
            Effect: 'Allow',
            Action: streamActions,
            Resource: Match.objectLike({ 'Fn::ImportValue': Match.anyValue() }),
          },
        ]),
      },
    });
    for (const name of allFunctionNames) {
      const reads = stmts(name).filter((x) => actionsOf(x).some((a) => streamActions.includes(a)));
      if (name !== 'FollowUps') {
        expect(reads, name).toEqual([]);
        continue;
      }
      expect(reads).toHaveLength(1);
      expect(actionsOf(reads[0]!).sort()).toEqual(streamActions);
      expect(exportedValue(prod.statefulTemplate, reads[0]!.Resource)).toEqual({
        'Fn::GetAtt': [logicalId(prod.stateful.table), 'StreamArn'],
      });
    }
    const kms = stmts('FollowUps').find((x) => actionsOf(x).includes('kms:Decrypt'))!;
    expect(kms.Condition).toMatchObject({ StringEquals: { 'kms:ViaService': expect.anything() } });
  });

  it('scheduler and outbound queue permissions: only the follow-ups create schedules; the follow-ups and the sweeper notify', () => {
    const sendsTo = (name: string, queue: IConstruct) =>
      stmts(name).some(
        (s) =>
          actionsOf(s).includes('sqs:SendMessage') &&
          resourcesOf(s).some((r) => referencedId(r, prod.statefulTemplate) === logicalId(queue)),
      );
    for (const name of allFunctionNames) {
      const actions = stmts(name).flatMap(actionsOf);
      expect(actions.includes('scheduler:CreateSchedule'), name).toBe(SCHEDULING_FUNCTIONS.includes(name));
      expect(actions.includes('iam:PassRole'), name).toBe(SCHEDULING_FUNCTIONS.includes(name));
      expect(sendsTo(name, prod.stateful.outbound.queue), name).toBe(NOTIFYING_FUNCTIONS.includes(name));
      // its on-failure destination: the mapping sends there with the function's role
      expect(sendsTo(name, prod.stateful.followUpsDlq), name).toBe(name === 'FollowUps');
    }
  });
});

describe('stateless stack: timer scheduling (EventBridge Scheduler)', () => {
  const t = prod.statelessTemplate;
  const timers = prod.stateless.timers;

  it('has one schedule group per stage', () => {
    t.resourceCountIs('AWS::Scheduler::ScheduleGroup', 1);
    t.hasResourceProperties('AWS::Scheduler::ScheduleGroup', { Name: 'contact-center-engine-prod-timers' });
  });

  it('its execution role is assumable by Scheduler for this account and group only, and can only send to the timers queue and the schedule DLQ', () => {
    t.hasResourceProperties('AWS::IAM::Role', {
      AssumeRolePolicyDocument: {
        Statement: [
          {
            Effect: 'Allow',
            Action: 'sts:AssumeRole',
            Principal: { Service: 'scheduler.amazonaws.com' },
            Condition: {
              StringEquals: {
                'aws:SourceAccount': { Ref: 'AWS::AccountId' },
                'aws:SourceArn': { 'Fn::GetAtt': [logicalId(timers.group), 'Arn'] },
              },
            },
          },
        ],
      },
    });
    const s = statementsOfRole(t, logicalId(timers.executionRole));
    expect(s.flatMap(actionsOf)).toEqual(['sqs:SendMessage']);
    expect(
      s
        .flatMap(resourcesOf)
        .map((r) => referencedId(r, prod.statefulTemplate))
        .sort(),
    ).toEqual([logicalId(prod.stateful.schedulerDlq), logicalId(prod.stateful.timers.queue)].sort());
    expect(t.findResources('AWS::IAM::Role', { Properties: { ManagedPolicyArns: Match.anyValue() } })).toEqual({});
  });

  it('the follow-ups create schedules in that group only and pass that role only to Scheduler', () => {
    for (const name of SCHEDULING_FUNCTIONS) {
      const s = stmts(name);
      const create = s.find((x) => actionsOf(x).includes('scheduler:CreateSchedule'))!;
      expect(JSON.stringify(create.Resource), name).toContain(':schedule/contact-center-engine-prod-timers/*');
      const pass = s.find((x) => actionsOf(x).includes('iam:PassRole'))!;
      expect(pass.Resource).toEqual({ 'Fn::GetAtt': [logicalId(timers.executionRole), 'Arn'] });
      expect(pass.Condition).toEqual({ StringEquals: { 'iam:PassedToService': 'scheduler.amazonaws.com' } });
    }
    for (const name of Object.keys(prod.stateless.functions).filter((n) => !SCHEDULING_FUNCTIONS.includes(n)))
      expect(stmts(name).flatMap(actionsOf), name).not.toContain('scheduler:CreateSchedule');
  });
});

describe('stateless stack: the HTTP API', () => {
  const t = prod.statelessTemplate;
  type Operation = { security?: unknown[]; 'x-local-only'?: boolean };
  const doc = parse(readFileSync(new URL('../../openapi.yaml', import.meta.url), 'utf8')) as {
    paths: Record<string, Record<string, Operation>>;
    security?: unknown[];
  };
  const operations = Object.entries(doc.paths).flatMap(([path, item]) =>
    ['get', 'put', 'post', 'delete', 'patch']
      .filter((m) => item[m])
      .map((m) => ({ key: `${m.toUpperCase()} ${path}`, op: item[m]! })),
  );
  const routes = Object.values(t.findResources('AWS::ApiGatewayV2::Route')).map(
    (r) => r.Properties as { RouteKey: string; AuthorizationType?: string; AuthorizerId?: unknown; Target: unknown },
  );
  const [authorizerId] = Object.keys(t.findResources('AWS::ApiGatewayV2::Authorizer'));

  it('has a JWT authorizer with the issuer and audience given in context', () => {
    t.hasResourceProperties('AWS::ApiGatewayV2::Authorizer', {
      AuthorizerType: 'JWT',
      IdentitySource: ['$request.header.Authorization'],
      JwtConfiguration: { Issuer: ISSUER, Audience: AUDIENCE },
    });
  });

  it('deploys exactly the routes of openapi.yaml, except the local-only ones', () => {
    const deployed = routes.map((r) => r.RouteKey).sort();
    const documented = operations
      .filter((o) => o.op['x-local-only'] !== true)
      .map((o) => o.key)
      .sort();
    expect(deployed).toEqual(documented);
    expect(deployed).not.toContain('POST /_local/clock');
  });

  it('secured operations use the JWT authorizer; public ones (health, signed webhooks) none', () => {
    for (const o of operations.filter((x) => x.op['x-local-only'] !== true)) {
      const route = routes.find((r) => r.RouteKey === o.key)!;
      const secured = (o.op.security ?? doc.security ?? []).length > 0;
      if (secured)
        expect(route, o.key).toMatchObject({ AuthorizationType: 'JWT', AuthorizerId: { Ref: authorizerId } });
      else expect(route.AuthorizationType ?? 'NONE', o.key).toBe('NONE');
    }
    expect(
      routes
        .filter((r) => r.AuthorizationType !== 'JWT')
        .map((r) => r.RouteKey)
        .sort(),
    ).toEqual(['GET /health', 'POST /v1/webhooks/{channelId}']);
  });

  it("each route goes to its group's function (Lambda proxy, payload 2.0)", () => {
    const integrations = t.findResources('AWS::ApiGatewayV2::Integration');
    const target = (routeKey: string) => {
      const r = routes.find((x) => x.RouteKey === routeKey)!;
      const id = JSON.stringify(r.Target).match(/"Ref":"(\w+)"/)![1]!;
      return integrations[id]!.Properties as {
        IntegrationType: string;
        PayloadFormatVersion: string;
        IntegrationUri: unknown;
      };
    };
    for (const [routeKey, fn] of [
      ['GET /health', 'HttpHealth'],
      ['POST /v1/conversations/{id}/actions/{action}', 'HttpConversations'],
      ['POST /v1/webhooks/{channelId}', 'HttpWebhooks'],
      ['GET /v1/queues/{id}/open-items', 'HttpQueues'],
    ] as const) {
      expect(target(routeKey)).toMatchObject({
        IntegrationType: 'AWS_PROXY',
        PayloadFormatVersion: '2.0',
        IntegrationUri: { 'Fn::GetAtt': [fnId(fn), 'Arn'] },
      });
    }
  });

  it('the $default stage logs every request as JSON and is throttled', () => {
    t.hasResourceProperties('AWS::ApiGatewayV2::Stage', {
      StageName: '$default',
      AutoDeploy: true,
      AccessLogSettings: {
        DestinationArn: { 'Fn::GetAtt': [logicalId(prod.stateless.httpApi.accessLogs), 'Arn'] },
        Format: Match.stringLikeRegexp('"status":\\$context.status'),
      },
      DefaultRouteSettings: { ThrottlingRateLimit: 100, ThrottlingBurstLimit: 200 },
    });
  });

  it('outputs the API URL', () => {
    t.hasOutput('ApiUrl', {});
  });

  it('dev without JWT settings gets an issuer that refuses every token, and a warning', () => {
    dev.statelessTemplate.hasResourceProperties('AWS::ApiGatewayV2::Authorizer', {
      JwtConfiguration: { Issuer: 'https://issuer.invalid/' },
    });
    Annotations.fromStack(dev.stateless).hasWarning('*', Match.stringLikeRegexp('refuses every token'));
    expect(
      Annotations.fromStack(prod.stateless).findWarning('*', Match.stringLikeRegexp('refuses every token')),
    ).toEqual([]);
  });
});

describe('stateless stack: observability', () => {
  const t = prod.statelessTemplate;
  const alarms = Object.values(t.findResources('AWS::CloudWatch::Alarm')).map(
    (a) => a.Properties as Record<string, unknown>,
  );
  const dimension = (a: Record<string, unknown>, name: string) =>
    (a.Dimensions as { Name: string; Value: unknown }[] | undefined)?.find((d) => d.Name === name)?.Value;

  it('alarms on visible messages in every DLQ, to the alarm topic', () => {
    const dlqs = Object.values(prod.stateful.deadLetterQueues).map(logicalId);
    expect(dlqs).toHaveLength(5);
    expect(dlqs).toContain(logicalId(prod.stateful.followUpsDlq));
    const watched = alarms
      .filter((a) => a.MetricName === 'ApproximateNumberOfMessagesVisible' && a.Namespace === 'AWS/SQS')
      .map((a) => {
        expect(a).toMatchObject({
          Threshold: 1,
          ComparisonOperator: 'GreaterThanOrEqualToThreshold',
          AlarmActions: [{ Ref: logicalId(prod.stateless.monitoring.topic) }],
        });
        return referencedId(dimension(a, 'QueueName'), prod.statefulTemplate);
      });
    expect(watched.sort()).toEqual(dlqs.sort());
  });

  it('alarms on errors of every function', () => {
    const watched = alarms
      .filter((a) => a.MetricName === 'Errors' && a.Namespace === 'AWS/Lambda')
      .map((a) => referencedId(dimension(a, 'FunctionName')));
    expect(watched.sort()).toEqual(
      functionsOf(t)
        .map((f) => f.id)
        .sort(),
    );
  });

  it("alarms when the follow-ups fall a minute behind the table's stream (IteratorAge)", () => {
    prod.statelessTemplate.hasResourceProperties('AWS::CloudWatch::Alarm', {
      Namespace: 'AWS/Lambda',
      MetricName: 'IteratorAge',
      Dimensions: [{ Name: 'FunctionName', Value: { Ref: fnId('FollowUps') } }],
      Statistic: 'Maximum',
      Period: 60,
      Threshold: 60_000,
      ComparisonOperator: 'GreaterThanOrEqualToThreshold',
      TreatMissingData: 'notBreaching',
      AlarmActions: [{ Ref: logicalId(prod.stateless.monitoring.topic) }],
    });
    expect(alarms.filter((a) => a.MetricName === 'IteratorAge')).toHaveLength(1);
  });

  it('sends alarms to an encrypted topic that refuses plain HTTP, with the email subscription from context', () => {
    t.hasResourceProperties('AWS::SNS::Topic', { KmsMasterKeyId: Match.anyValue() });
    t.hasResourceProperties('AWS::SNS::Subscription', { Protocol: 'email', Endpoint: 'oncall@example.com' });
    dev.statelessTemplate.resourceCountIs('AWS::SNS::Subscription', 0);
  });

  it('counts transitions, timer fires and 409s from the structured logs', () => {
    const filters = Object.values(t.findResources('AWS::Logs::MetricFilter')).map(
      (f) => f.Properties as { FilterPattern: string; MetricTransformations: { MetricName: string }[] },
    );
    const names = filters.flatMap((f) => f.MetricTransformations.map((m) => m.MetricName)).sort();
    expect(names).toEqual([
      'ChannelEventTransitions',
      'Conflicts409',
      'HttpTransitions',
      'SweeperTimerFires',
      'TimerFires',
      'TimerTransitions',
    ]);
    expect(filters.find((f) => f.MetricTransformations[0]!.MetricName === 'Conflicts409')!.FilterPattern).toBe(
      '{ $.status = 409 }',
    );
  });

  it('the log lines those filters count are still written by the handlers', () => {
    const source = (f: string) => readFileSync(new URL(`../../functions/handlers/${f}`, import.meta.url), 'utf8');
    expect(source('sqs/ingest.handler.ts')).toMatch(/logger\.info\('channel event applied'[\s\S]*outcome/);
    expect(source('sqs/timers.handler.ts')).toContain("logger.info('timer fired'");
    expect(source('scheduler/sweeper.handler.ts')).toMatch(/logger\.info\('sweeper fired timers', \{ count/);
  });

  it('has a dashboard with transitions per minute, timer fires, conflicts and DLQ depth', () => {
    const body = JSON.stringify(t.findResources('AWS::CloudWatch::Dashboard'));
    for (const title of [
      'Transitions per minute',
      'Timer fires per minute',
      'Conflicts (409) per minute',
      'DLQ depth (visible messages)',
      'Stream iterator age (ms)',
    ])
      expect(body).toContain(title);
  });

  it('MX-1: graphs queue depth and service level per queue by SEARCH over the EMF queue metrics', () => {
    // the body as CloudFormation joins it (tokens such as the region become a placeholder), then its widgets
    const [dashboard] = Object.values(t.findResources('AWS::CloudWatch::Dashboard'));
    const parts = (dashboard!.Properties as { DashboardBody: { 'Fn::Join': [string, unknown[]] } }).DashboardBody[
      'Fn::Join'
    ][1];
    const body = JSON.parse(parts.map((p) => (typeof p === 'string' ? p : 'TOKEN')).join('')) as {
      widgets: { properties: { title?: string; metrics?: unknown[][] } }[];
    };
    const metricsOf = (title: string) => body.widgets.find((w) => w.properties.title === title)?.properties.metrics;
    // exactly the dimensions the follow-ups emit (test/unit/queue-signals.test.ts): a schema matches that set only
    const schema = '{"ContactCenterEngine/prod",org,queueId}';
    expect(metricsOf('Queue depth per queue')).toEqual([
      [expect.objectContaining({ expression: `SEARCH('${schema} MetricName="QueueDepth"', 'Maximum', 60)` })],
    ]);
    expect(metricsOf('Service level per queue (%)')).toEqual([
      [expect.objectContaining({ expression: `SEARCH('${schema} MetricName="ServiceLevel"', 'Average', 60)` })],
    ]);
  });

  it('saves a Logs Insights query that follows one conversation across every log group', () => {
    t.hasResourceProperties('AWS::Logs::QueryDefinition', {
      Name: 'contact-center-engine-prod/conversation-trail',
      LogGroupNames: Match.anyValue(),
    });
  });

  it('keeps logs a year in prod, a month elsewhere', () => {
    t.allResourcesProperties('AWS::Logs::LogGroup', { RetentionInDays: 365 });
    dev.statelessTemplate.allResourcesProperties('AWS::Logs::LogGroup', { RetentionInDays: 30 });
  });
});

describe('cross-stack wiring', () => {
  it('the stateless stack reads the table and queues from the stateful stack (exports), nothing is duplicated', () => {
    const table = exportedValue(
      prod.statefulTemplate,
      (
        functionsOf(prod.statelessTemplate).find((f) => f.id === fnId('HttpQueues'))!.props.Environment as {
          Variables: Record<string, unknown>;
        }
      ).Variables.TABLE_NAME,
    );
    expect(table).toEqual({ Ref: logicalId(prod.stateful.table) });
    prod.statelessTemplate.resourceCountIs('AWS::DynamoDB::Table', 0);
    prod.statelessTemplate.resourceCountIs('AWS::SQS::Queue', 0);
  });
});
