import { SchedulerClient } from '@aws-sdk/client-scheduler';
import { EventBridgeScheduler } from '../../adapters/eventbridge-scheduler.js';
import type { SchedulerConfig } from '../../config.js';

/** One-time EventBridge Scheduler schedules in the engine's group, delivering to the timers queue. */
export function createEventBridgeScheduler(config: SchedulerConfig): EventBridgeScheduler {
  return new EventBridgeScheduler(new SchedulerClient({ region: config.region }), {
    groupName: config.groupName,
    targetArn: config.targetArn,
    roleArn: config.roleArn,
    deadLetterArn: config.deadLetterArn,
  });
}
