import { CfnOutput, Duration, RemovalPolicy, Stack, Validations, type StackProps } from 'aws-cdk-lib';
import {
  AttributeType,
  BillingMode,
  ProjectionType,
  StreamViewType,
  Table,
  TableEncryption,
} from 'aws-cdk-lib/aws-dynamodb';
import { Key } from 'aws-cdk-lib/aws-kms';
import { DeduplicationScope, FifoThroughputLimit, Queue, QueueEncryption, type QueueProps } from 'aws-cdk-lib/aws-sqs';
import type { Construct } from 'constructs';
import { TABLE_DEFINITION } from '../functions/adapters/dynamodb/table-definition.js';
import { CONSUMER_VISIBILITY_TIMEOUT, MAX_RECEIVE_COUNT } from './config.js';

export interface StatefulStackProps extends StackProps {
  stage: string;
  /** production keeps the data on stack deletion and refuses accidental deletes */
  retainData: boolean;
}

/** A queue and the dead-letter queue its failed messages end in. */
export interface QueueWithDlq {
  queue: Queue;
  dlq: Queue;
}

/**
 * What must outlive any deployment of the code: the single table (from the shared definition) and
 * its stream, the queues with messages in flight and their dead-letter queues, and the key that
 * encrypts the table. The stateless stack can be destroyed and redeployed freely.
 */
export class StatefulStack extends Stack {
  /** customer-managed key of the table and its stream: only roles granted it can read items, channel secrets included */
  readonly dataKey: Key;
  /** the single table, with its stream (every committed change, for the follow-ups consumer) */
  readonly table: Table;
  /** FIFO: channel events, grouped by thread, for the ingest consumer */
  readonly ingest: QueueWithDlq;
  /** standard: EventBridge Scheduler delivers due timers here */
  readonly timers: QueueWithDlq;
  /** standard: participant notifications (E-2) for downstream delivery; consumers dedupe on `id` */
  readonly outbound: QueueWithDlq;
  /** standard (Scheduler accepts no FIFO DLQ): deliveries Scheduler gave up on after its retries */
  readonly schedulerDlq: Queue;
  /**
   * standard: the on-failure destination of the follow-ups' stream event source mapping. Each message
   * names the shard and sequence range of a batch Lambda gave up on (retries exhausted or too old),
   * not the records themselves.
   */
  readonly followUpsDlq: Queue;
  /** every DLQ, by name, for alarms and the dashboard */
  readonly deadLetterQueues: Record<string, Queue>;

  constructor(scope: Construct, id: string, props: StatefulStackProps) {
    super(scope, id, { terminationProtection: props.retainData, ...props });
    const removalPolicy = props.retainData ? RemovalPolicy.RETAIN : RemovalPolicy.DESTROY;

    this.dataKey = new Key(this, 'DataKey', {
      description: `contact-center-engine ${props.stage}: DynamoDB table and stream (conversations, channel secrets)`,
      alias: `alias/contact-center-engine/${props.stage}/data`,
      enableKeyRotation: true,
      // a deleted key would make the table and its PITR backups unreadable
      removalPolicy,
      pendingWindow: Duration.days(30),
    });

    // AWS::DynamoDB::Table rather than TableV2 (a global table): TableV2 cannot render a
    // customer-managed key in an environment-agnostic stack, and these stacks stay agnostic.
    const d = TABLE_DEFINITION;
    this.table = new Table(this, 'Table', {
      billingMode: BillingMode.PAY_PER_REQUEST,
      encryption: TableEncryption.CUSTOMER_MANAGED,
      encryptionKey: this.dataKey,
      pointInTimeRecoverySpecification: { pointInTimeRecoveryEnabled: true },
      deletionProtection: props.retainData,
      removalPolicy,
      partitionKey: { name: d.partitionKey, type: AttributeType.STRING },
      sortKey: { name: d.sortKey, type: AttributeType.STRING },
      timeToLiveAttribute: d.timeToLiveAttribute,
      // the follow-ups are driven by it (encrypted with the table's key)
      stream: StreamViewType[d.streamViewType],
    });
    for (const g of d.globalSecondaryIndexes) {
      this.table.addGlobalSecondaryIndex({
        indexName: g.indexName,
        partitionKey: { name: g.partitionKey, type: AttributeType.STRING },
        sortKey: { name: g.sortKey, type: AttributeType.STRING },
        projectionType: ProjectionType.ALL,
      });
    }

    this.ingest = this.queueWithDlq('Ingest', { fifo: true, highThroughput: true, removalPolicy });
    this.timers = this.queueWithDlq('Timers', { fifo: false, removalPolicy });
    // 14 days: notifications wait for a delivery consumer that may be deployed later or be down
    this.outbound = this.queueWithDlq('Outbound', { fifo: false, removalPolicy, retention: Duration.days(14) });

    this.schedulerDlq = new Queue(this, 'SchedulerDlq', {
      ...baseQueueProps(removalPolicy),
      retentionPeriod: Duration.days(14),
    });
    Validations.of(this.schedulerDlq).acknowledge({
      id: 'AwsSolutions-SQS3',
      reason:
        'This queue is itself a dead-letter queue: the DeadLetterConfig of the one-time EventBridge Scheduler schedules the engine creates at run time (CreateSchedule), so no queue in the template names it as its DLQ.',
    });

    this.followUpsDlq = new Queue(this, 'FollowUpsDlq', {
      ...baseQueueProps(removalPolicy),
      retentionPeriod: Duration.days(14),
    });
    Validations.of(this.followUpsDlq).acknowledge({
      id: 'AwsSolutions-SQS3',
      reason:
        "This queue is itself a dead-letter queue: the on-failure destination (DestinationConfig.OnFailure) of the follow-ups function's DynamoDB stream event source mapping in the stateless stack, which no queue's RedrivePolicy names.",
    });

    this.deadLetterQueues = {
      IngestDlq: this.ingest.dlq,
      TimersDlq: this.timers.dlq,
      OutboundDlq: this.outbound.dlq,
      SchedulerDlq: this.schedulerDlq,
      FollowUpsDlq: this.followUpsDlq,
    };

    new CfnOutput(this, 'TableName', { value: this.table.tableName });
    new CfnOutput(this, 'IngestQueueUrl', { value: this.ingest.queue.queueUrl });
    new CfnOutput(this, 'TimersQueueUrl', { value: this.timers.queue.queueUrl });
    new CfnOutput(this, 'OutboundQueueUrl', {
      value: this.outbound.queue.queueUrl,
      description: 'participant notifications for downstream delivery',
    });
    for (const [name, q] of Object.entries(this.deadLetterQueues)) {
      new CfnOutput(this, `${name}Arn`, {
        value: q.queueArn,
        description:
          q === this.followUpsDlq
            ? 'stream batches the follow-ups gave up on (shard and sequence range); the sweeper covers their timers'
            : `aws sqs start-message-move-task --source-arn <this> (see README, Deploy)`,
      });
    }
  }

  private queueWithDlq(
    id: string,
    o: { fifo: boolean; highThroughput?: boolean; removalPolicy: RemovalPolicy; retention?: Duration },
  ): QueueWithDlq {
    const fifo: Partial<QueueProps> = o.fifo ? { fifo: true } : {};
    // 14 days in the DLQ: room to investigate and redrive after a long weekend
    const dlq = new Queue(this, `${id}Dlq`, {
      ...baseQueueProps(o.removalPolicy),
      ...fifo,
      retentionPeriod: Duration.days(14),
    });
    const queue = new Queue(this, `${id}Queue`, {
      ...baseQueueProps(o.removalPolicy),
      ...fifo,
      // per-thread order with high throughput: deduplication and the limit apply per message group
      ...(o.highThroughput
        ? {
            deduplicationScope: DeduplicationScope.MESSAGE_GROUP,
            fifoThroughputLimit: FifoThroughputLimit.PER_MESSAGE_GROUP_ID,
          }
        : {}),
      visibilityTimeout: CONSUMER_VISIBILITY_TIMEOUT,
      retentionPeriod: o.retention ?? Duration.days(4),
      deadLetterQueue: { queue: dlq, maxReceiveCount: MAX_RECEIVE_COUNT },
    });
    return { queue, dlq };
  }
}

function baseQueueProps(removalPolicy: RemovalPolicy): QueueProps {
  // SQS-managed SSE: encrypted at rest with no KMS key policy for Scheduler or Lambda to get right
  return { encryption: QueueEncryption.SQS_MANAGED, enforceSSL: true, removalPolicy };
}
