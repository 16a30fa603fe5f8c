import { Metrics } from '@aws-lambda-powertools/metrics';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { createEmfQueueSignals, DEPTH_EVERY_MS } from '../../functions/adapters/emf-queue-signals.js';
import type { QueueDelta } from '../../functions/domain/metrics.js';

/**
 * MX-1: the EMF queue signals, read back from the lines Powertools writes to stdout (what CloudWatch
 * turns into metrics). That a change counted before signals nothing is the follow-ups' part, proven on
 * DynamoDB Local (test/integration/queue-signals.test.ts); the depth reads a fake `counts` here.
 */

const NAMESPACE = 'ContactCenterEngine/test';

interface EmfLine {
  _aws: {
    CloudWatchMetrics: { Namespace: string; Dimensions: string[][]; Metrics: { Name: string; Unit: string }[] }[];
  };
  [key: string]: unknown;
}

let lines: EmfLine[];

beforeEach(() => {
  // metrics on, written by Powertools' own console to process.stdout (as in Lambda)
  vi.stubEnv('POWERTOOLS_DEV', '');
  vi.stubEnv('POWERTOOLS_METRICS_DISABLED', 'false');
  lines = [];
  vi.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => {
    for (const text of String(chunk).split('\n')) if (text.includes('"_aws"')) lines.push(JSON.parse(text) as EmfLine);
    return true;
  });
});

afterEach(() => {
  vi.restoreAllMocks();
  vi.unstubAllEnvs();
});

/** the values of one metric, with the dimensions of the lines that carry it */
const valuesOf = (name: string) =>
  lines
    .filter((l) => name in l)
    .map((l) => ({
      value: l[name],
      unit: l._aws.CloudWatchMetrics[0]!.Metrics.find((m) => m.Name === name)?.Unit,
      namespace: l._aws.CloudWatchMetrics[0]!.Namespace,
      dimensions: l._aws.CloudWatchMetrics[0]!.Dimensions,
      org: l.org,
      queueId: l.queueId,
      service: l.service,
    }));

const answered = (queueId: string, add: NonNullable<QueueDelta['minute']>['add']): QueueDelta => ({
  queueId,
  counts: { Open: -1, Active: 1 },
  minute: { at: '2026-03-02T09:05', add },
});

function signals(open: Record<string, number> = {}) {
  let now = 1_000_000;
  const counts = vi.fn(async (_org: string, queueId: string) => ({ Open: open[queueId] ?? 0 }));
  const metrics = new Metrics({ namespace: NAMESPACE, serviceName: 'contact-center-engine' });
  const s = createEmfQueueSignals({ metrics, counts, now: () => now });
  return { s, counts, advance: (ms: number) => (now += ms) };
}

describe('MX-1: queue signals as EMF metrics', () => {
  it('one ServiceLevel per answered conversation, 100 within the level and 0 outside, by org and queueId only', async () => {
    // Prepare
    const { s } = signals();

    // Act: one answered within, one outside, then two at once of which one within
    await s.changed('acme', [answered('q1', { answered: 1, waitMs: 4000, withinServiceLevel: 1 })]);
    await s.changed('acme', [answered('q1', { answered: 1, waitMs: 40_000, withinServiceLevel: 0 })]);
    await s.changed('acme', [answered('q2', { answered: 2, waitMs: 30_000, withinServiceLevel: 1 })]);

    // Assess
    const level = valuesOf('ServiceLevel');
    expect(level.map((l) => [l.queueId, l.value])).toEqual([
      ['q1', 100],
      ['q1', 0],
      ['q2', 100],
      ['q2', 0],
    ]);
    for (const l of level)
      expect(l).toMatchObject({
        unit: 'Percent',
        namespace: NAMESPACE,
        dimensions: [['org', 'queueId']],
        org: 'acme',
        service: undefined,
      });
    expect(valuesOf('Answered').map((a) => [a.queueId, a.value, a.unit])).toEqual([
      ['q1', 1, 'Count'],
      ['q1', 1, 'Count'],
      ['q2', 2, 'Count'],
    ]);
    expect(valuesOf('WaitSeconds').map((w) => w.value)).toEqual([4, 40, 15, 15]);
  });

  it('Abandoned counts a customer who left; a change with no minute and no Open move emits nothing', async () => {
    // Prepare
    const { s, counts } = signals();

    // Act
    await s.changed('acme', [{ queueId: 'q1', counts: { Open: -1 }, minute: { at: 'x', add: { abandoned: 1 } } }]);
    const abandoned = valuesOf('Abandoned');
    lines.length = 0;
    await s.changed('acme', [{ queueId: 'q1', counts: { Active: -1, WrapUp: 1 } }]);
    await s.changed('acme', []);

    // Assess
    expect(abandoned).toEqual([expect.objectContaining({ value: 1, unit: 'Count', org: 'acme', queueId: 'q1' })]);
    expect(lines).toEqual([]);
    expect(counts).toHaveBeenCalledTimes(1);
  });

  it('QueueDepth reads the counters after a change of Open, at most once per queue every 10 s', async () => {
    // Prepare
    const { s, counts, advance } = signals({ q1: 3, q2: 7 });
    const open = (queueId: string, n: number): QueueDelta => ({ queueId, counts: { Open: n } });

    // Act: two tasks of one batch at once, a change 5 s later, another queue, then 10 s after the first read
    await Promise.all([s.changed('acme', [open('q1', 1)]), s.changed('acme', [open('q1', 1)])]);
    advance(5000);
    await s.changed('acme', [open('q1', -1)]);
    await s.changed('acme', [open('q2', 1)]);
    await s.changed('acme', [{ queueId: 'q1', counts: { Active: 1 } }]);
    advance(DEPTH_EVERY_MS - 5000);
    await s.changed('acme', [open('q1', 1)]);

    // Assess
    expect(counts.mock.calls).toEqual([
      ['acme', 'q1'],
      ['acme', 'q2'],
      ['acme', 'q1'],
    ]);
    const depth = valuesOf('QueueDepth');
    expect(depth.map((d) => [d.queueId, d.value])).toEqual([
      ['q1', 3],
      ['q2', 7],
      ['q1', 3],
    ]);
    expect(depth[0]).toMatchObject({ unit: 'Count', dimensions: [['org', 'queueId']], org: 'acme' });
  });

  it('a failed depth read rejects (the follow-up logs it); the throttle still holds', async () => {
    // Prepare
    const { s, counts } = signals();
    counts.mockRejectedValueOnce(new Error('throttled'));

    // Act / Assess
    await expect(s.changed('acme', [{ queueId: 'q1', counts: { Open: 1 } }])).rejects.toThrow('throttled');
    await s.changed('acme', [{ queueId: 'q1', counts: { Open: 1 } }]);
    expect(counts).toHaveBeenCalledTimes(1);
  });
});
