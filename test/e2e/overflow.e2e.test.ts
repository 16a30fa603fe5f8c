import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LocalRuntime } from '../../bin/local/runtime.js';
import { Api, eventually, ok, RUNTIMES, setupOrg, startRuntime, type DemoOrg } from '../support/e2e.js';

/**
 * O-1, O-2 over HTTP on the local runtime (sources and bundles): a queue outside its hours overflows
 * on entry, a wait-time rule acts when the virtual clock passes it, and two closed queues that
 * overflow into each other move a conversation once. The history names each rule.
 */

interface Conv {
  id: string;
  status: string;
  queueId: string;
  priority: number;
  statusReason?: string;
}
interface HistoryEvent {
  reason?: string;
  to: string;
  details?: Record<string, unknown>;
}

let rt: LocalRuntime;
let api: Api;
let o: DemoOrg;
let n = 0;

async function customerStarts(): Promise<Conv> {
  const threadId = `of-${++n}`;
  await ok(api.webhook(o.channel.chat, { eventId: `e-${n}`, type: 'conversation.started', threadId }, o.secret), 202);
  return eventually(
    async () =>
      (await o.admin.get<{ items: Conv[] }>(`/v1/conversations?channelId=${o.channel.chat}&threadId=${threadId}`)).body
        .items?.[0],
  );
}

const read = async (id: string) => ok(o.admin.get<Conv>(`/v1/conversations/${id}`));
const history = async (id: string) =>
  (await ok(o.admin.get<{ items: HistoryEvent[] }>(`/v1/conversations/${id}/events`))).items;

describe.each(RUNTIMES)('O-1, O-2 over HTTP, on $on', ({ bundles }) => {
  beforeAll(async () => {
    rt = await startRuntime({ tickMs: 3_600_000, bundles });
    api = new Api(rt.url);
    o = await setupOrg(api);
    // Saturday 27 March 2027, 12:00 in Paris: weekday hours are closed
    await ok(
      o.admin.put('/v1/admin/hours/weekdays', {
        timeZone: 'Europe/Paris',
        weekly: { mon: [['09:00', '17:00']], tue: [['09:00', '17:00']], wed: [['09:00', '17:00']] },
      }),
    );
    await ok(api.post('/_local/clock', { at: '2027-03-27T11:00:00Z' }));
  });
  afterAll(() => rt?.stop());

  it('O-1: a closed queue moves an entering conversation to its overflow queue; the history names the rule', async () => {
    // Prepare
    await ok(o.admin.put('/v1/admin/queues/q2', { name: 'Queue 2' }));
    await ok(
      o.admin.put('/v1/admin/queues/q1', {
        name: 'Queue 1',
        hoursId: 'weekdays',
        overflow: [{ when: 'closed', then: { transferToQueue: 'q2' } }],
      }),
    );

    // Act
    const c = await customerStarts();
    const moved = await eventually(async () => {
      const r = await read(c.id);
      return r.queueId === 'q2' ? r : undefined;
    });

    // Assess
    expect(moved).toMatchObject({ status: 'Open', statusReason: 'overflow' });
    expect((await history(c.id)).at(-1)).toMatchObject({
      reason: 'O-1: overflow',
      details: { toQueue: 'q2', overflowRule: 0, when: 'closed' },
    });
    expect((await ok(o.admin.get<{ isOpen: boolean }>('/v1/queues/q1'))).isOpen).toBe(false);
  });

  it('O-1: a wait-time rule raises the priority when the clock passes it, then another closes the conversation', async () => {
    // Prepare
    await ok(
      o.admin.put('/v1/admin/queues/q1', {
        name: 'Queue 1',
        overflow: [
          { when: { waitedSecondsAtLeast: 60 }, then: { setPriority: 9 } },
          { when: { waitedSecondsAtLeast: 300 }, then: { close: true } },
        ],
      }),
    );
    // the engine's queue settings are cached 5 s
    await ok(api.post('/_local/clock', { advanceSeconds: 6 }));
    const c = await customerStarts();

    // Act
    await ok(api.post('/_local/clock', { advanceSeconds: 61 }));
    const at61 = await eventually(async () => ((await read(c.id)).priority === 9 ? read(c.id) : undefined));
    await ok(api.post('/_local/clock', { advanceSeconds: 240 }));
    const at301 = await eventually(async () => ((await read(c.id)).status === 'Closed' ? read(c.id) : undefined));

    // Assess
    expect(at61).toMatchObject({ status: 'Open', queueId: 'q1', priority: 9 });
    expect(at301).toMatchObject({ statusReason: 'overflow' });
    expect((await history(c.id)).slice(-2).map((e) => e.details?.when)).toEqual([
      'waitedSecondsAtLeast 60',
      'waitedSecondsAtLeast 300',
    ]);
  });

  it('O-2: two closed queues that overflow into each other move a conversation once', async () => {
    // Prepare
    await ok(o.admin.put('/v1/admin/queues/q2', { name: 'Queue 2', hoursId: 'weekdays' }));
    await ok(
      o.admin.put('/v1/admin/queues/q1', {
        name: 'Queue 1',
        hoursId: 'weekdays',
        overflow: [{ when: 'closed', then: { transferToQueue: 'q2' } }],
      }),
    );
    await ok(
      o.admin.put('/v1/admin/queues/q2', {
        name: 'Queue 2',
        hoursId: 'weekdays',
        overflow: [{ when: 'closed', then: { transferToQueue: 'q1' } }],
      }),
    );
    await ok(api.post('/_local/clock', { advanceSeconds: 6 }));

    // Act
    const c = await customerStarts();
    await eventually(async () => ((await read(c.id)).queueId === 'q2' ? true : undefined));
    await ok(api.post('/_local/clock', { advanceSeconds: 5 }));
    await rt.settle();

    // Assess
    expect(await read(c.id)).toMatchObject({ status: 'Open', queueId: 'q2' });
    expect((await history(c.id)).filter((e) => e.reason?.startsWith('O-1'))).toHaveLength(1);
  });
});
