import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { hoursErrors, isOpenAt, isTimeZone, nextChangeAt, WEEKDAYS, type Hours } from '../../functions/domain/hours.js';

/** H-1, H-2: schedules in IANA zones, across DST changes, with exceptions. */

const hours = (timeZone: string, weekly: Hours['weekly'], exceptions?: Hours['exceptions']): Hours => ({
  org: 'o',
  id: 'h',
  timeZone,
  weekly,
  ...(exceptions ? { exceptions } : {}),
});
const weekdays = (intervals: [string, string][]): Hours['weekly'] => ({
  mon: intervals,
  tue: intervals,
  wed: intervals,
  thu: intervals,
  fri: intervals,
});
const at = (iso: string) => new Date(iso);
const next = (h: Hours, iso: string) => nextChangeAt(h, at(iso))?.toISOString() ?? null;

describe('H-1, H-2: operating hours in Europe/Paris', () => {
  const paris = hours('Europe/Paris', weekdays([['09:00', '17:30']]), [
    { date: '2026-12-24', intervals: [['09:00', '12:00']] },
    { date: '2026-12-25', intervals: [] },
  ]);

  it('H-1: open from 09:00 to 17:30 local, winter (UTC+1) and summer (UTC+2)', () => {
    expect(isOpenAt(paris, at('2026-03-27T07:59:59Z'))).toBe(false);
    expect(isOpenAt(paris, at('2026-03-27T08:00:00Z'))).toBe(true);
    expect(isOpenAt(paris, at('2026-03-27T16:29:59Z'))).toBe(true);
    expect(isOpenAt(paris, at('2026-03-27T16:30:00Z'))).toBe(false);
    expect(isOpenAt(paris, at('2026-03-30T06:59:59Z'))).toBe(false);
    expect(isOpenAt(paris, at('2026-03-30T07:00:00Z'))).toBe(true);
  });

  it('H-2: the next change across the spring-forward weekend (29 March 2026) is Monday 09:00 CEST', () => {
    expect(next(paris, '2026-03-27T17:00:00Z')).toBe('2026-03-30T07:00:00.000Z');
    expect(next(paris, '2026-03-30T07:00:00Z')).toBe('2026-03-30T15:30:00.000Z');
  });

  it('H-2: and across the fall-back weekend (25 October 2026) it is Monday 09:00 CET', () => {
    expect(next(paris, '2026-10-23T16:00:00Z')).toBe('2026-10-26T08:00:00.000Z');
  });

  it('H-1: exceptions replace the weekday: a short Christmas Eve, Christmas closed all day', () => {
    expect(isOpenAt(paris, at('2026-12-24T10:00:00Z'))).toBe(true);
    expect(isOpenAt(paris, at('2026-12-24T11:00:00Z'))).toBe(false);
    expect(next(paris, '2026-12-24T10:00:00Z')).toBe('2026-12-24T11:00:00.000Z');
    expect(isOpenAt(paris, at('2026-12-25T10:00:00Z'))).toBe(false);
    expect(next(paris, '2026-12-24T11:00:00Z')).toBe('2026-12-28T08:00:00.000Z');
  });
});

describe('H-1, H-2: operating hours in America/New_York', () => {
  it('H-2: a wall time skipped by spring forward (8 March 2026, 02:00 -> 03:00) closes at the jump', () => {
    const ny = hours('America/New_York', { sun: [['01:00', '02:30']] });
    expect(isOpenAt(ny, at('2026-03-08T06:00:00Z'))).toBe(true);
    expect(next(ny, '2026-03-08T06:30:00Z')).toBe('2026-03-08T07:00:00.000Z');
    expect(isOpenAt(ny, at('2026-03-08T07:00:00Z'))).toBe(false);
  });

  it('H-2: a wall time that happens twice on fall back (1 November 2026) closes twice', () => {
    const ny = hours('America/New_York', { sun: [['00:00', '01:30']] });
    expect(next(ny, '2026-11-01T05:00:00Z')).toBe('2026-11-01T05:30:00.000Z');
    expect(next(ny, '2026-11-01T05:45:00Z')).toBe('2026-11-01T06:00:00.000Z');
    expect(next(ny, '2026-11-01T06:10:00Z')).toBe('2026-11-01T06:30:00.000Z');
  });

  it('H-2: weekday hours move by one UTC hour across the change', () => {
    const ny = hours('America/New_York', weekdays([['08:00', '20:00']]));
    expect(next(ny, '2026-03-06T12:00:00Z')).toBe('2026-03-06T13:00:00.000Z');
    expect(next(ny, '2026-03-06T14:00:00Z')).toBe('2026-03-07T01:00:00.000Z');
    expect(next(ny, '2026-03-07T01:00:00Z')).toBe('2026-03-09T12:00:00.000Z');
  });
});

describe('H-2: schedules that never change, or change far away', () => {
  it('H-2: never open, or open around the clock: null', () => {
    expect(next(hours('UTC', {}), '2026-12-01T00:00:00Z')).toBeNull();
    const always = Object.fromEntries(WEEKDAYS.map((d) => [d, [['00:00', '24:00']]]));
    expect(isOpenAt(hours('Asia/Tokyo', always), at('2026-12-01T00:00:00Z'))).toBe(true);
    expect(next(hours('Asia/Tokyo', always), '2026-12-01T00:00:00Z')).toBeNull();
  });

  it('H-2: an exception long after any weekly change is found', () => {
    const h = hours('Europe/Paris', {}, [{ date: '2028-01-03', intervals: [['10:00', '11:00']] }]);
    expect(next(h, '2026-12-01T00:00:00Z')).toBe('2028-01-03T09:00:00.000Z');
    expect(next(h, '2028-01-03T09:00:00Z')).toBe('2028-01-03T10:00:00.000Z');
    expect(next(h, '2028-01-03T10:00:00Z')).toBeNull();
  });

  it('H-2: every matching weekday closed by exceptions: the first one left', () => {
    const h = hours('Europe/Paris', { mon: [['09:00', '10:00']] }, [
      { date: '2026-12-07', intervals: [] },
      { date: '2026-12-14', intervals: [] },
    ]);
    expect(next(h, '2026-12-01T00:00:00Z')).toBe('2026-12-21T08:00:00.000Z');
  });
});

describe('H-1: validation', () => {
  it('RL-4: zones, times, order, overlaps and dates', () => {
    expect(isTimeZone('Europe/Paris')).toBe(true);
    expect(isTimeZone('UTC')).toBe(true);
    expect(isTimeZone('Mars/Olympus')).toBe(false);
    expect(isTimeZone('+01:00')).toBe(false);
    expect(hoursErrors({ weekly: { mon: [['09:00', '17:00']] } })).toEqual([]);
    expect(hoursErrors({ weekly: { mon: [['17:00', '09:00']] } }).map((e) => e.field)).toEqual(['weekly.mon.0']);
    expect(hoursErrors({ weekly: { mon: [['9:00', '25:00']] } }).map((e) => e.field)).toEqual([
      'weekly.mon.0.0',
      'weekly.mon.0.1',
    ]);
    expect(
      hoursErrors({
        weekly: {
          tue: [
            ['09:00', '12:00'],
            ['11:00', '13:00'],
          ],
        },
      })[0]?.field,
    ).toBe('weekly.tue');
    expect(
      hoursErrors({
        weekly: {},
        exceptions: [
          { date: '2026-02-30', intervals: [] },
          { date: '2026-12-25', intervals: [] },
          { date: '2026-12-25', intervals: [] },
        ],
      }).map((e) => e.field),
    ).toEqual(['exceptions.0.date', 'exceptions.2.date']);
  });
});

/** brute force: nothing changes before the answer, and the answer changes the state */
describe('H-2: nextChangeAt agrees with isOpenAt sampled every 5 minutes', () => {
  const time = fc.integer({ min: 0, max: 24 * 4 }).map((q) => {
    const m = q * 15;
    return `${String(Math.floor(m / 60)).padStart(2, '0')}:${String(m % 60).padStart(2, '0')}`;
  });
  const interval = fc.tuple(time, time).filter(([a, b]) => a < b);
  const day = fc.option(fc.array(interval, { maxLength: 1 }), { nil: undefined });
  const zone = fc.constantFrom('Europe/Paris', 'America/New_York', 'Australia/Lord_Howe', 'Asia/Kolkata', 'UTC');
  /** exceptions on dates around the instant, one per date */
  const exceptions = fc.uniqueArray(
    fc.record({ inDays: fc.integer({ min: -1, max: 9 }), intervals: fc.array(interval, { maxLength: 1 }) }),
    { maxLength: 4, selector: (e) => e.inDays },
  );
  const instant = fc.integer({ min: Date.parse('2026-01-01T00:00:00Z'), max: Date.parse('2027-01-01T00:00:00Z') });

  it('H-2: for random weekly schedules, exceptions and instants (DST weekends included)', () => {
    fc.assert(
      fc.property(zone, fc.tuple(day, day, day, day, day, day, day), instant, exceptions, (tz, days, now, ex) => {
        const weekly = Object.fromEntries(WEEKDAYS.flatMap((d, i) => (days[i] ? [[d, days[i]]] : [])));
        const dates = ex.map((e) => ({
          date: new Date(now + e.inDays * 86_400_000).toISOString().slice(0, 10),
          intervals: e.intervals,
        }));
        const h = hours(tz, weekly, dates);
        const open = isOpenAt(h, new Date(now));
        const change = nextChangeAt(h, new Date(now));
        const end = change ? change.getTime() : now + 8 * 86_400_000;
        for (let t = now; t < end && t < now + 8 * 86_400_000; t += 300_000)
          expect(isOpenAt(h, new Date(t))).toBe(open);
        if (change) {
          expect(isOpenAt(h, new Date(change.getTime() - 1000))).toBe(open);
          expect(isOpenAt(h, change)).toBe(!open);
        }
      }),
      { numRuns: 60 },
    );
  });
});

/** found by review: the eve of a DST change, a walk over many exceptions, an interval in the gap */
describe('H-2: edge cases of the walk', () => {
  const brute = (h: Hours, from: string): string | null => {
    const t0 = Date.parse(from);
    const open = isOpenAt(h, new Date(t0));
    for (let t = t0 + 60_000; t < t0 + 40 * 86_400_000; t += 60_000)
      if (isOpenAt(h, new Date(t)) !== open) return new Date(t).toISOString();
    return null;
  };
  const cases: [string, Hours, string][] = [
    [
      'Paris, the night before spring forward',
      hours('Europe/Paris', { sat: [['08:00', '22:00']], sun: [['01:00', '18:00']] }),
      '2026-03-28T22:00:00Z',
    ],
    [
      'Paris, midnight interval before spring forward',
      hours('Europe/Paris', { sat: [['08:00', '24:00']], sun: [['00:00', '01:30']] }),
      '2026-03-28T22:00:00Z',
    ],
    [
      'Paris, the night before fall back',
      hours('Europe/Paris', { sat: [['08:00', '24:00']], sun: [['00:00', '01:30']] }),
      '2026-10-24T21:00:00Z',
    ],
    [
      'New York, before spring forward',
      hours('America/New_York', { sat: [['08:00', '24:00']], sun: [['00:00', '01:00']] }),
      '2026-03-08T04:30:00Z',
    ],
    ['New York, before fall back', hours('America/New_York', { sun: [['00:30', '23:00']] }), '2026-11-01T03:00:00Z'],
    [
      'Lord Howe, spring',
      hours('Australia/Lord_Howe', { sat: [['08:00', '24:00']], sun: [['00:00', '01:00']] }),
      '2026-10-03T13:00:00Z',
    ],
    [
      'New York, an interval inside the gap only',
      hours('America/New_York', { sun: [['02:00', '02:30']] }),
      '2026-03-06T12:00:00Z',
    ],
  ];
  it.each(cases)('H-2: %s', (_name, h, from) => {
    expect(next(h, from)).toBe(brute(h, from));
  });

  it('H-2: 40 closed exceptions 12 days apart, then an open one', () => {
    const exceptions = Array.from({ length: 40 }, (_, i) => ({
      date: new Date(Date.parse('2027-01-01') + i * 12 * 86_400_000).toISOString().slice(0, 10),
      intervals: [] as [string, string][],
    }));
    const h = hours('UTC', {}, [...exceptions, { date: '2028-06-01', intervals: [['10:00', '11:00']] }]);
    expect(next(h, '2026-12-01T00:00:00Z')).toBe('2028-06-01T10:00:00.000Z');
  });
});
