import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { effectivePriority, NO_AGING_SECONDS, queueOrder } from '../../functions/domain/model.js';

/** the static sort key orders a queue exactly as the effective priority does, at every instant. */

const T0 = Date.parse('2026-03-02T09:00:00.000Z');
const item = fc.record({
  priority: fc.integer({ min: 1, max: 10 }),
  /** ms after T0 it entered the queue */
  enqueued: fc.integer({ min: 0, max: 30 * 24 * 3600 * 1000 }),
});
const entry = (x: { priority: number; enqueued: number }, aging?: number) => ({
  priority: x.priority,
  enqueuedAt: new Date(T0 + x.enqueued).toISOString(),
  statusSince: new Date(T0 + x.enqueued).toISOString(),
  ...(aging ? { priorityAgingSeconds: aging } : {}),
});

describe('Q-2: queueOrder', () => {
  it('Q-2: with aging A, a key is smaller exactly when p + wait / A is higher (ties: the longer wait), whenever it is compared', () => {
    fc.assert(
      fc.property(item, item, fc.integer({ min: 1, max: 86_400 }), (a, b, aging) => {
        // at any instant t after both entered: p + (t - enqueued) / A, compared in whole ms x A
        const score = (x: typeof a) => x.priority * aging * 1000 - x.enqueued;
        const byKey = Math.sign(queueOrder(entry(a, aging)).localeCompare(queueOrder(entry(b, aging))));
        const byScore = Math.sign(score(b) - score(a));
        expect(byKey).toBe(byScore);
      }),
    );
  });

  it('Q-2: without aging, priority decides and the longer wait breaks ties, over any wait shorter than years', () => {
    fc.assert(
      fc.property(item, item, (a, b) => {
        const byKey = Math.sign(queueOrder(entry(a)).localeCompare(queueOrder(entry(b))));
        const expected = Math.sign(b.priority - a.priority) || Math.sign(a.enqueued - b.enqueued);
        expect(byKey).toBe(expected);
      }),
    );
  });

  it('Q-2: keys are 14 digits at the extremes (priority 1..10, the largest aging, years 1990..2286)', () => {
    for (const at of ['1990-01-01T00:00:00.000Z', '2286-01-01T00:00:00.000Z'])
      for (const priority of [1, 10])
        expect(
          queueOrder({ priority, enqueuedAt: at, statusSince: at, priorityAgingSeconds: NO_AGING_SECONDS }),
        ).toMatch(/^\d{14}$/);
  });

  it('Q-2: the effective priority adds 1 per aging period waited, and none without aging', () => {
    const at = new Date(T0).toISOString();
    const now = new Date(T0 + 150_000);
    expect(effectivePriority({ priority: 3, enqueuedAt: at, statusSince: at, priorityAgingSeconds: 60 }, now)).toBe(5);
    expect(effectivePriority({ priority: 3, enqueuedAt: at, statusSince: at }, now)).toBe(3);
  });
});
