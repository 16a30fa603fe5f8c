import { Validations } from 'aws-cdk-lib';
import { AwsSolutionsChecks } from 'cdk-nag';
import type { IConstruct } from 'constructs';
import { describe, expect, it } from 'vitest';
import { synthEngine } from './engine-app.js';

/**
 * cdk-nag (AwsSolutions) over both stacks. In cdk-nag 3 the pack is a CDK validation plugin: `cdk
 * synth` fails on any finding that is neither fixed nor acknowledged. Here the same pack runs on
 * the construct tree directly, so a failure names the rule and the resource.
 */
const engine = synthEngine({
  stage: 'prod',
  jwtIssuer: 'https://auth.example.com/',
  jwtAudience: 'engine-api',
  alarmEmail: 'oncall@example.com',
});

interface Finding {
  rule: string;
  severity: string;
  path: string;
}

function findings(ignoreAcknowledgements: boolean): Finding[] {
  const pack = new AwsSolutionsChecks();
  // To prove each acknowledgement still hides a real finding, look past them once.
  if (ignoreAcknowledgements) (pack as unknown as { isAcknowledged: () => boolean }).isAcknowledged = () => false;
  return pack.validateScope(engine.app).violations.flatMap((v) =>
    v.violatingResources.map((r) => ({
      rule: v.ruleName,
      severity: v.severity ?? 'error',
      path: r.constructPath ?? '',
    })),
  );
}

/** Every acknowledgement in the app: the construct it is on, the rule id and the reason. */
function acknowledgements(): { path: string; id: string; reason: string }[] {
  return engine.app.node.findAll().flatMap((c: IConstruct) =>
    c.node.metadata
      .filter((m) => m.type === Validations.ACKNOWLEDGED_RULES_METADATA_KEY)
      .flatMap((m) =>
        Object.entries(m.data as Record<string, string>).map(([id, reason]) => ({
          path: c.node.path,
          id: id.replace(/^annotation::/i, ''),
          reason: String(reason),
        })),
      ),
  );
}

const stage = 'ContactCenterEngine-prod';
/** the one function that creates schedules: what a commit causes follows from the table's stream */
const SCHEDULING_ROLES = ['FollowUps'];
const ALL_ROLES = [
  ...SCHEDULING_ROLES,
  'HttpAdmin',
  'HttpConversations',
  'HttpAgents',
  'IngestConsumer',
  'TimersConsumer',
  'Sweeper',
  'HttpHealth',
  'HttpQueues',
  'HttpWebhooks',
];
const SCHEDULES =
  'AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:scheduler:<AWS::Region>:<AWS::AccountId>:schedule/contact-center-engine-prod-timers/*]';

describe('cdk-nag AwsSolutions', () => {
  it('leaves no unacknowledged error', () => {
    const open = findings(false);
    expect(open.filter((f) => f.severity === 'error')).toEqual([]);
  });

  it('leaves no unacknowledged warning either', () => {
    expect(findings(false).filter((f) => f.severity !== 'error')).toEqual([]);
  });

  it('acknowledges exactly these findings, each on the resource it is about', () => {
    const expected = [
      // the two public routes: health and the HMAC-signed webhooks
      { id: 'AwsSolutions-APIG4', path: `${stage}-Stateless/Http/GetHealth` },
      { id: 'AwsSolutions-APIG4', path: `${stage}-Stateless/Http/PostV1WebhooksChannelId` },
      // the schedule DLQ is a DLQ (of schedules created at run time)
      { id: 'AwsSolutions-SQS3', path: `${stage}-Stateful/SchedulerDlq` },
      // the follow-ups DLQ is a DLQ (the stream event source mapping's on-failure destination)
      { id: 'AwsSolutions-SQS3', path: `${stage}-Stateful/FollowUpsDlq` },
      // X-Ray's two actions support no resource-level permission
      ...ALL_ROLES.map((r) => ({ id: 'AwsSolutions-IAM5[Resource::*]', path: `${stage}-Stateless/${r}/Role` })),
      // CreateSchedule on the engine's group: schedule names are made at run time
      ...SCHEDULING_ROLES.map((r) => ({ id: SCHEDULES, path: `${stage}-Stateless/${r}/Role` })),
    ];
    const actual = acknowledgements().map(({ id, path }) => ({ id, path }));
    const key = (a: { id: string; path: string }) => `${a.path} ${a.id}`;
    expect(actual.map(key).sort()).toEqual(expected.map(key).sort());
  });

  it('every acknowledgement still hides a real finding (none is stale) and gives a specific reason', () => {
    const raw = findings(true);
    for (const a of acknowledgements()) {
      const hidden = raw.filter((f) => f.rule === a.id && (f.path === a.path || f.path.startsWith(`${a.path}/`)));
      expect(hidden.length, `${a.path} ${a.id} hides nothing`).toBeGreaterThan(0);
      expect(a.reason.length, `${a.path} ${a.id}: reason too short`).toBeGreaterThanOrEqual(80);
    }
    // and nothing else was found
    const acknowledged = acknowledgements();
    const unexplained = raw.filter(
      (f) => !acknowledged.some((a) => f.rule === a.id && (f.path === a.path || f.path.startsWith(`${a.path}/`))),
    );
    expect(unexplained).toEqual([]);
  });
});
