import {
  CreateScheduleCommand,
  type CreateScheduleCommandInput,
  type SchedulerClient,
} from '@aws-sdk/client-scheduler';
import { timerName } from '../domain/timers.js';
import type { TimerRequest } from '../domain/writes.js';
import type { Scheduler } from '../ports/scheduler.js';

export interface EventBridgeSchedulerConfig {
  groupName: string;
  /** the timers SQS queue the schedules deliver to */
  targetArn: string;
  /** the role EventBridge Scheduler assumes; it may only send to the target */
  roleArn: string;
  /** where Scheduler puts deliveries that exhausted their retries */
  deadLetterArn: string;
  maximumRetryAttempts?: number;
  maximumEventAgeInSeconds?: number;
}

/** `at(yyyy-mm-ddThh:mm:ss)` in UTC, as one-time schedules want it. */
export const atExpression = (iso: string): string => `at(${new Date(iso).toISOString().slice(0, 19)})`;

/** The exact CreateSchedule request for one timer (params-level tests assert it). */
export function createScheduleInput(t: TimerRequest, cfg: EventBridgeSchedulerConfig): CreateScheduleCommandInput {
  const name = timerName(t);
  return {
    Name: name,
    GroupName: cfg.groupName,
    ScheduleExpression: atExpression(t.at),
    ScheduleExpressionTimezone: 'UTC',
    FlexibleTimeWindow: { Mode: 'OFF' },
    ActionAfterCompletion: 'DELETE',
    State: 'ENABLED',
    Description: `${t.kind} for ${t.conversationId ?? t.agentId ?? ''} v${t.version}`.slice(0, 512),
    Target: {
      Arn: cfg.targetArn,
      RoleArn: cfg.roleArn,
      Input: JSON.stringify({ ...t, name }),
      RetryPolicy: {
        MaximumRetryAttempts: cfg.maximumRetryAttempts ?? 185,
        MaximumEventAgeInSeconds: cfg.maximumEventAgeInSeconds ?? 86_400,
      },
      DeadLetterConfig: { Arn: cfg.deadLetterArn },
    },
  };
}

/**
 * One-time EventBridge Scheduler schedules, named from the timer's facts: creating the same timer
 * twice answers ConflictException, which is success. Schedules delete themselves after firing.
 */
export class EventBridgeScheduler implements Scheduler {
  constructor(
    private readonly client: SchedulerClient,
    private readonly cfg: EventBridgeSchedulerConfig,
  ) {}

  async schedule(timers: readonly TimerRequest[]): Promise<void> {
    for (const t of timers) {
      try {
        await this.client.send(new CreateScheduleCommand(createScheduleInput(t, this.cfg)));
      } catch (err) {
        if ((err as { name?: string }).name !== 'ConflictException') throw err;
      }
    }
  }
}
