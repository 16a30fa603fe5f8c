import { Stack } from 'aws-cdk-lib';
import { PolicyStatement, Role, ServicePrincipal } from 'aws-cdk-lib/aws-iam';
import { ScheduleGroup } from 'aws-cdk-lib/aws-scheduler';
import type { IQueue } from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';

export interface TimerSchedulingProps {
  /** physical name of the schedule group (one per stage) */
  groupName: string;
  /** the standard queue the one-time schedules deliver due timers to */
  targetQueue: IQueue;
  /** where Scheduler puts a delivery it gave up on */
  deadLetterQueue: IQueue;
}

/**
 * The EventBridge Scheduler side of timers: the group the engine creates its one-time schedules
 * in, and the execution role those schedules run with. The role can do exactly one thing: send a
 * message to the timers queue (or, when that keeps failing, to the schedule DLQ), and only
 * Scheduler acting for this account's schedules in this group can assume it.
 */
export class TimerScheduling extends Construct {
  readonly group: ScheduleGroup;
  readonly executionRole: Role;
  readonly targetQueue: IQueue;
  readonly deadLetterQueue: IQueue;
  /** ARN pattern of the group's schedules (CreateSchedule resource) */
  readonly scheduleArnPattern: string;
  /** the same pattern as cdk-nag prints it in an AwsSolutions-IAM5 finding */
  readonly scheduleArnFinding: string;

  constructor(scope: Construct, id: string, props: TimerSchedulingProps) {
    super(scope, id);
    const stack = Stack.of(this);
    this.targetQueue = props.targetQueue;
    this.deadLetterQueue = props.deadLetterQueue;
    this.group = new ScheduleGroup(this, 'Group', { scheduleGroupName: props.groupName });
    this.scheduleArnPattern = stack.formatArn({
      service: 'scheduler',
      resource: 'schedule',
      resourceName: `${props.groupName}/*`,
    });
    this.scheduleArnFinding = `arn:<AWS::Partition>:scheduler:<AWS::Region>:<AWS::AccountId>:schedule/${props.groupName}/*`;

    this.executionRole = new Role(this, 'ExecutionRole', {
      description: 'EventBridge Scheduler: deliver due timers to the timers queue',
      assumedBy: new ServicePrincipal('scheduler.amazonaws.com', {
        conditions: {
          // confused-deputy guard: only schedules of this account, in this group
          StringEquals: { 'aws:SourceAccount': stack.account, 'aws:SourceArn': this.group.scheduleGroupArn },
        },
      }),
    });
    this.executionRole.addToPrincipalPolicy(
      new PolicyStatement({
        actions: ['sqs:SendMessage'],
        resources: [props.targetQueue.queueArn, props.deadLetterQueue.queueArn],
      }),
    );
  }
}
