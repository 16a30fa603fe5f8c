import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LocalRuntime } from '../../bin/local/runtime.js';
import { Api, ok, RUNTIMES, setupOrg, startRuntime, type DemoOrg, type HttpResult } from '../support/e2e.js';

/**
 * H-1, H-2 over HTTP on the local runtime (sources and bundles): operating hours, the queue read (isOpen, nextChangeAt) as
 * the virtual clock moves to given instants (POST /_local/clock { at }), across a DST change, with
 * exceptions; and validation (RL-4).
 */

interface QueueState {
  id: string;
  isOpen: boolean;
  nextChangeAt: string | null;
  hoursId?: string;
  serviceLevelSeconds: number;
  overflow: unknown[];
}

let rt: LocalRuntime;
let api: Api;
let o: DemoOrg;

const WEEKDAYS = (interval: [string, string]) => ({
  mon: [interval],
  tue: [interval],
  wed: [interval],
  thu: [interval],
  fri: [interval],
});
const PARIS = {
  name: 'Paris office',
  timeZone: 'Europe/Paris',
  weekly: WEEKDAYS(['09:00', '17:30']),
  exceptions: [{ date: '2027-03-29', intervals: [['13:00', '17:30']] }],
};
const NEW_YORK = { timeZone: 'America/New_York', weekly: WEEKDAYS(['09:00', '17:00']) };

const clockTo = (at: string) => api.post<{ now: string }>('/_local/clock', { at });
const queue = (id: string) => ok(o.admin.get<QueueState>(`/v1/queues/${id}`));
const expect400 = (r: HttpResult, field: string) => {
  expect(r.status, JSON.stringify(r.body)).toBe(400);
  const fields = (r.body.errors as { field: string }[]).map((e) => e.field);
  expect(
    fields.some((f) => f === field || f.startsWith(`${field}.`)),
    fields.join(', '),
  ).toBe(true);
};

describe.each(RUNTIMES)('H-1, H-2: operating hours over HTTP, on $on', ({ bundles }) => {
  beforeAll(async () => {
    rt = await startRuntime({ tickMs: 3_600_000, bundles });
    api = new Api(rt.url);
    o = await setupOrg(api);
  });
  afterAll(() => rt?.stop());

  it('H-1 / H-2: a queue follows its hours across the week Paris and New York are one DST change apart, exception included', async () => {
    // Prepare: q1 on Paris hours (Monday 29 March 2027 opens at 13:00 only), q2 on New York hours
    expect(await ok(o.admin.put('/v1/admin/hours/paris', PARIS))).toMatchObject({ id: 'paris', ...PARIS });
    await ok(o.admin.put('/v1/admin/hours/nyc', NEW_YORK));
    await ok(o.admin.put('/v1/admin/queues/q1', { name: 'Queue 1', hoursId: 'paris', serviceLevelSeconds: 30 }));
    await ok(o.admin.put('/v1/admin/queues/q2', { name: 'Queue 2', hoursId: 'nyc' }));

    // Act 1: Friday 26 March 2027, 17:00 in Paris (CET, UTC+1) and 12:00 in New York (EDT since 14 March)
    // (the virtual clock keeps running from the instant it is moved to)
    expect((await ok(clockTo('2027-03-26T16:00:00Z'))).now).toMatch(/^2027-03-26T16:00:0/);
    const friday = await Promise.all([queue('q1'), queue('q2')]);

    // Assess 1: both open; Paris closes at 17:30 CET, New York at 17:00 EDT
    expect(friday[0]).toMatchObject({ isOpen: true, nextChangeAt: '2027-03-26T16:30:00.000Z', hoursId: 'paris' });
    expect(friday[0]).toMatchObject({ serviceLevelSeconds: 30, overflow: [] });
    expect(friday[1]).toMatchObject({
      isOpen: true,
      nextChangeAt: '2027-03-26T21:00:00.000Z',
      serviceLevelSeconds: 20,
    });

    // Act 2: at Paris's close
    await ok(clockTo('2027-03-26T16:30:00Z'));
    const closed = await queue('q1');

    // Assess 2: closed over the weekend Paris springs forward; Monday is the exception, 13:00 CEST
    expect(closed).toMatchObject({ isOpen: false, nextChangeAt: '2027-03-29T11:00:00.000Z' });

    // Act 3: Monday 10:00 CEST, when the weekly hours would be open
    await ok(clockTo('2027-03-29T08:00:00Z'));
    const monday = await Promise.all([queue('q1'), queue('q2')]);

    // Assess 3: Paris follows the exception; New York is still closed until 09:00 EDT
    expect(monday[0]).toMatchObject({ isOpen: false, nextChangeAt: '2027-03-29T11:00:00.000Z' });
    expect(monday[1]).toMatchObject({ isOpen: false, nextChangeAt: '2027-03-29T13:00:00.000Z' });
  });

  it('H-1: a queue replaced without hoursId is always open again, and never changes', async () => {
    await ok(o.admin.put('/v1/admin/hours/never', { timeZone: 'UTC', weekly: {} }));
    await ok(o.admin.put('/v1/admin/queues/q3', { name: 'Queue 3', hoursId: 'never' }));
    expect(await queue('q3')).toMatchObject({ isOpen: false, nextChangeAt: null });
    await ok(o.admin.put('/v1/admin/queues/q3', { name: 'Queue 3' }));
    const read = await queue('q3');
    expect(read).toMatchObject({ isOpen: true, nextChangeAt: null });
    expect(read.hoursId).toBeUndefined();
    expect(await ok(o.admin.get('/v1/admin/queues/q3'))).not.toHaveProperty('hoursId');
  });

  it('H-1 / RL-4: unknown zones, bad intervals, bad dates and unknown days are 400 and write nothing', async () => {
    const cases: [unknown, string][] = [
      [{ ...NEW_YORK, timeZone: 'Mars/Olympus' }, 'timeZone'],
      [{ ...NEW_YORK, timeZone: '+01:00' }, 'timeZone'],
      [{ ...NEW_YORK, weekly: { mon: [['17:00', '09:00']] } }, 'weekly.mon.0'],
      [{ ...NEW_YORK, weekly: { mon: [['09:00', '09:00']] } }, 'weekly.mon.0'],
      [{ ...NEW_YORK, weekly: { mon: [['9:00', '17:00']] } }, 'weekly.mon.0.0'],
      [{ ...NEW_YORK, weekly: { mon: [['09:00', '24:30']] } }, 'weekly.mon.0.1'],
      [{ ...NEW_YORK, weekly: { mon: [['09:00']] } }, 'weekly.mon.0'],
      [
        {
          ...NEW_YORK,
          weekly: {
            tue: [
              ['09:00', '12:00'],
              ['11:00', '13:00'],
            ],
          },
        },
        'weekly.tue',
      ],
      [{ ...NEW_YORK, weekly: { monday: [['09:00', '12:00']] } }, 'weekly'],
      [{ ...NEW_YORK, exceptions: [{ date: '2027-02-29', intervals: [] }] }, 'exceptions.0.date'],
      [{ ...NEW_YORK, exceptions: [{ date: '25/12/2027', intervals: [] }] }, 'exceptions.0.date'],
      [
        {
          ...NEW_YORK,
          exceptions: [
            { date: '2027-12-25', intervals: [] },
            { date: '2027-12-25', intervals: [] },
          ],
        },
        'exceptions.1.date',
      ],
      [{ timeZone: 'UTC' }, 'weekly'],
    ];
    for (const [body, field] of cases) expect400(await o.admin.put('/v1/admin/hours/bad', body), field);
    expect((await o.admin.get('/v1/admin/hours/bad')).status).toBe(404);
  });

  it('H-1 / O-1 / RL-4: unknown hours, unknown or own overflow targets and negative thresholds are 400; the queue is unchanged', async () => {
    await ok(o.admin.put('/v1/admin/queues/q4', { name: 'Queue 4' }));
    const before = await ok(o.admin.get('/v1/admin/queues/q4'));
    const cases: [unknown, string][] = [
      [{ name: 'x', hoursId: 'nope' }, 'hoursId'],
      [{ name: 'x', serviceLevelSeconds: 0 }, 'serviceLevelSeconds'],
      [
        { name: 'x', overflow: [{ when: 'closed', then: { transferToQueue: 'q4' } }] },
        'overflow.0.then.transferToQueue',
      ],
      [
        { name: 'x', overflow: [{ when: 'closed', then: { transferToQueue: 'nowhere' } }] },
        'overflow.0.then.transferToQueue',
      ],
      [{ name: 'x', overflow: [{ when: { queueSizeAtLeast: -1 }, then: { close: true } }] }, 'overflow.0.when'],
      [{ name: 'x', overflow: [{ when: { waitedSecondsAtLeast: -5 }, then: { close: true } }] }, 'overflow.0.when'],
      [{ name: 'x', overflow: [{ when: 'sometimes', then: { close: true } }] }, 'overflow.0.when'],
      [{ name: 'x', overflow: [{ when: { queueSizeAtLeast: 1.5 }, then: { close: true } }] }, 'overflow.0.when'],
      // 0 would match every entry: an unconditional rule in disguise
      [{ name: 'x', overflow: [{ when: { queueSizeAtLeast: 0 }, then: { close: true } }] }, 'overflow.0.when'],
      [{ name: 'x', overflow: [{ when: { noAgentsSignedIn: true }, then: { close: true } }] }, 'overflow.0.when'],
      [{ name: 'x', overflow: [{ when: 'closed', then: { setPriority: 11 } }] }, 'overflow.0.then'],
      [{ name: 'x', overflow: [{ when: 'closed', then: { close: false } }] }, 'overflow.0.then'],
    ];
    for (const [body, field] of cases) expect400(await o.admin.put('/v1/admin/queues/q4', body), field);
    expect(await ok(o.admin.get('/v1/admin/queues/q4'))).toEqual(before);
  });

  it('O-1: overflow rules are stored in order and shown on the queue', async () => {
    const overflow = [
      { when: 'closed', then: { transferToQueue: 'q2' } },
      { when: 'noAgentsSignedIn', then: { transferToQueue: 'q2' } },
      { when: { queueSizeAtLeast: 50 }, then: { close: true } },
      { when: { waitedSecondsAtLeast: 60 }, then: { setPriority: 3 } },
      { when: { waitedSecondsAtLeast: 600 }, then: { close: true } },
    ];
    await ok(o.admin.put('/v1/admin/queues/q5', { name: 'Queue 5', overflow }));
    expect(await queue('q5')).toMatchObject({ overflow, isOpen: true });
  });

  it('H-2 / RL-7: an agent reads her own queue; another queue is 404, as for an unknown one', async () => {
    const alice = await o.agent('alice');
    expect((await alice.get<QueueState>('/v1/queues/q1')).status).toBe(200);
    expect((await alice.get('/v1/queues/q2')).status).toBe(404);
    expect((await alice.get('/v1/queues/unknown')).status).toBe(404);
  });

  it('local clock: { at } never goes back, and takes one of at or advanceSeconds (400)', async () => {
    const now = (await ok(api.post<{ now: string }>('/_local/clock', { advanceSeconds: 0 }))).now;
    expect400(await clockTo(new Date(Date.parse(now) - 60_000).toISOString()), 'at');
    expect((await clockTo('tomorrow')).status).toBe(400);
    expect((await api.post('/_local/clock', { at: now, advanceSeconds: 1 })).status).toBe(400);
    const ahead = new Date(Date.parse(now) + 60_000).toISOString();
    expect(Date.parse((await ok(clockTo(ahead))).now)).toBeGreaterThanOrEqual(Date.parse(ahead));
  });
});
