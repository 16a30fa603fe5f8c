import { describe, expect, it, vi } from 'vitest';
import type { QueueDelta } from '../../functions/domain/metrics.js';
import { runFollowUps } from '../../functions/follow-ups/run-follow-ups.js';
import { performAction } from '../../functions/use-cases/conversation-action.use-case.js';
import { readQueueMetrics } from '../../functions/use-cases/metrics.use-case.js';
import { makeFixture, type Fixture } from '../support/fixture.js';

/**
 * MX-1: the follow-ups signal a change's queue deltas (the EMF metrics in AWS) once, after its counters
 * committed, on DynamoDB Local. The signals port has no local twin: a recording function stands in.
 */

async function acceptedRecords(f: Fixture) {
  await f.addAgent('alice');
  const c = await f.start('chat');
  await f.settle();
  await performAction(f.deps, {
    org: f.org,
    conversationId: c.id,
    actor: { role: 'agent', id: 'alice' },
    action: { type: 'accept' },
  });
  return f.takePending();
}

describe('MX-1: queue signals from the follow-ups', () => {
  it('MX-1: a counted change is signalled once with its deltas; records delivered again signal nothing', async () => {
    // Prepare
    const f = await makeFixture({ settle: 'manual' });
    const records = await acceptedRecords(f);
    const signalled: { org: string; deltas: readonly QueueDelta[] }[] = [];
    const deps = {
      ...f.deps,
      queueSignals: {
        changed: async (org: string, deltas: readonly QueueDelta[]) => {
          signalled.push({ org, deltas });
        },
      },
    };

    // Act: the same records three times (redeliveries find the change counted)
    for (let i = 0; i < 3; i++) await runFollowUps(deps, records);

    // Assess
    expect(signalled).toEqual([
      {
        org: f.org,
        deltas: [
          expect.objectContaining({
            queueId: 'q1',
            counts: expect.objectContaining({ Open: -1, Active: 1 }),
            minute: expect.objectContaining({ add: expect.objectContaining({ answered: 1, withinServiceLevel: 1 }) }),
          }),
        ],
      },
    ]);
  });

  it('MX-1: a signal that fails is logged and fails no follow-up; the change stays counted once', async () => {
    // Prepare
    const f = await makeFixture({ settle: 'manual' });
    const records = await acceptedRecords(f);
    const changed = vi.fn(async () => {
      throw new Error('EMF down');
    });
    const warn = vi.fn();
    const deps = { ...f.deps, queueSignals: { changed }, log: { warn } };

    // Act
    const first = await runFollowUps(deps, records);
    const again = await runFollowUps(deps, records);

    // Assess
    expect(first.failed).toEqual([]);
    expect(again.failed).toEqual([]);
    expect(changed).toHaveBeenCalledTimes(1);
    expect(warn).toHaveBeenCalledWith(
      'queue signals failed; the counters are committed',
      expect.objectContaining({ org: f.org, error: 'Error: EMF down' }),
    );
    expect((await readQueueMetrics(f.deps, f.org, 'q1')).counts).toMatchObject({ Open: 0, Active: 1 });
  });
});
