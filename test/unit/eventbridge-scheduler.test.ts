import {
  ConflictException,
  CreateScheduleCommand,
  SchedulerClient,
  ValidationException,
} from '@aws-sdk/client-scheduler';
import { mockClient } from 'aws-sdk-client-mock';
import { beforeEach, describe, expect, it } from 'vitest';
import {
  createScheduleInput,
  EventBridgeScheduler,
  type EventBridgeSchedulerConfig,
} from '../../functions/adapters/eventbridge-scheduler.js';
import { timerName } from '../../functions/domain/timers.js';
import type { TimerRequest } from '../../functions/domain/writes.js';

/**
 * Params-level tests of the EventBridge Scheduler adapter: the exact CreateSchedule request a timer
 * becomes, and how the adapter reads the service's answers. Kept few on purpose: the timer behaviour
 * itself is proven on DynamoDB Local (test/integration/timers.test.ts).
 */

const CFG: EventBridgeSchedulerConfig = {
  groupName: 'engine-timers',
  targetArn: 'arn:aws:sqs:eu-west-1:111122223333:engine-timers',
  roleArn: 'arn:aws:iam::111122223333:role/engine-scheduler',
  deadLetterArn: 'arn:aws:sqs:eu-west-1:111122223333:engine-timers-dlq',
};

const WRAP_UP: TimerRequest = {
  kind: 'wrapup-release',
  org: 'acme',
  conversationId: '01JNQ4W5Z8K3M2P7R9T1V6X0YB',
  version: 4,
  at: '2026-03-02T09:05:00.000Z',
};

const NAME_RULE = /^[0-9a-zA-Z\-_.]+$/;

const client = new SchedulerClient({ region: 'eu-west-1' });
const scheduler = mockClient(client);
const adapter = new EventBridgeScheduler(client, CFG);

beforeEach(() => {
  scheduler.reset();
});

describe('EventBridge Scheduler adapter (ARCHITECTURE "Timers")', () => {
  it('TM-1 / C-3: a wrap-up release timer becomes exactly this one-time CreateSchedule request', async () => {
    // Prepare
    scheduler
      .on(CreateScheduleCommand)
      .resolves({ ScheduleArn: 'arn:aws:scheduler:eu-west-1:111122223333:schedule/engine-timers/x' });
    const name = 'wrapup-release.01JNQ4W5Z8K3M2P7R9T1V6X0YB.v4.1772442300';

    // Act
    await adapter.schedule([WRAP_UP]);

    // Assess
    const calls = scheduler.commandCalls(CreateScheduleCommand);
    expect(calls).toHaveLength(1);
    expect(calls[0]?.args[0].input).toEqual({
      Name: name,
      GroupName: 'engine-timers',
      ScheduleExpression: 'at(2026-03-02T09:05:00)',
      ScheduleExpressionTimezone: 'UTC',
      FlexibleTimeWindow: { Mode: 'OFF' },
      ActionAfterCompletion: 'DELETE',
      State: 'ENABLED',
      Description: 'wrapup-release for 01JNQ4W5Z8K3M2P7R9T1V6X0YB v4',
      Target: {
        Arn: 'arn:aws:sqs:eu-west-1:111122223333:engine-timers',
        RoleArn: 'arn:aws:iam::111122223333:role/engine-scheduler',
        Input: `{"kind":"wrapup-release","org":"acme","conversationId":"01JNQ4W5Z8K3M2P7R9T1V6X0YB","version":4,"at":"2026-03-02T09:05:00.000Z","name":"${name}"}`,
        RetryPolicy: { MaximumRetryAttempts: 185, MaximumEventAgeInSeconds: 86_400 },
        DeadLetterConfig: { Arn: 'arn:aws:sqs:eu-west-1:111122223333:engine-timers-dlq' },
      },
    });
    expect(name).toBe(timerName(WRAP_UP));
  });

  it('TM-5: names are deterministic, at most 64 characters of [0-9a-zA-Z-_.], long or unusual ids hashed', () => {
    // Prepare
    const longAgent = `agent-${'x'.repeat(58)}`;
    expect(longAgent).toHaveLength(64);
    const timers: TimerRequest[] = [
      WRAP_UP,
      { kind: 'presence-grace', org: 'acme', agentId: longAgent, version: 12, at: '2026-03-02T09:02:30.000Z' },
      {
        kind: 'reconnect-timeout',
        org: 'acme',
        conversationId: WRAP_UP.conversationId as string,
        agentId: longAgent,
        version: 7,
        at: '2026-03-02T09:02:00.000Z',
      },
      { kind: 'presence-grace', org: 'acme', agentId: 'alice@example.com', version: 3, at: '2026-03-02T09:02:30.000Z' },
    ];

    // Act
    const names = timers.map((t) => createScheduleInput(t, CFG).Name as string);

    // Assess
    for (const name of names) {
      expect(name.length).toBeLessThanOrEqual(64);
      expect(name).toMatch(NAME_RULE);
    }
    expect(names[1]).toMatch(/^presence-grace\.[0-9a-f]{49}$/);
    expect(names[3]).toMatch(/^presence-grace\.[0-9a-f]{49}$/);
    expect(new Set(names).size).toBe(names.length);
    expect(timers.map((t) => timerName({ ...t }))).toEqual(names);
    expect(timerName({ ...(timers[1] as TimerRequest), version: 13 })).not.toBe(names[1]);
  });

  it('TM-5 / RL-6: the same agent timer in two orgs gets two schedules (names are unique across the shared schedule group)', () => {
    // Prepare: agent ids are per org; both orgs have an "alice" who disconnects at the same second
    const grace = (org: string): TimerRequest => ({
      kind: 'presence-grace',
      org,
      agentId: 'alice',
      version: 2,
      at: '2026-03-02T09:02:30.000Z',
    });

    // Act
    const [a, b] = [timerName(grace('org-a')), timerName(grace('org-b'))];

    // Assess: otherwise org-b's CreateSchedule answers ConflictException (taken as success) and only the sweeper fires it
    expect(a).not.toBe(b);
  });

  it('TM-5: ConflictException (the same timer armed twice) is success; any other error propagates', async () => {
    // Prepare
    scheduler.on(CreateScheduleCommand).rejects(
      new ConflictException({
        message: 'Schedule already exists',
        Message: 'Schedule already exists',
        $metadata: {},
      }),
    );
    const other: TimerRequest = { ...WRAP_UP, version: 5, at: '2026-03-02T09:06:00.000Z' };

    // Act + Assess: both timers are attempted; the conflict is swallowed
    await expect(adapter.schedule([WRAP_UP, other])).resolves.toBeUndefined();
    expect(scheduler.commandCalls(CreateScheduleCommand).map((c) => c.args[0].input.Name)).toEqual([
      timerName(WRAP_UP),
      timerName(other),
    ]);

    // Act + Assess: anything else reaches the caller (armTimers logs it; the outbox keeps the timer)
    scheduler.reset();
    const invalid = new ValidationException({
      message: 'The role cannot be assumed',
      Message: 'The role cannot be assumed',
      $metadata: {},
    });
    scheduler.on(CreateScheduleCommand).rejects(invalid);
    await expect(adapter.schedule([WRAP_UP])).rejects.toBe(invalid);
    scheduler.reset();
    scheduler
      .on(CreateScheduleCommand)
      .rejects(Object.assign(new Error('Rate exceeded'), { name: 'ThrottlingException' }));
    await expect(adapter.schedule([WRAP_UP])).rejects.toThrow('Rate exceeded');
  });
});
