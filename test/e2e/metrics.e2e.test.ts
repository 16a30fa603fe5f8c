import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LocalRuntime } from '../../bin/local/runtime.js';
import { Api, eventually, ok, RUNTIMES, setupOrg, startRuntime, type DemoOrg } from '../support/e2e.js';

/** MX-1 over HTTP on the local runtime (sources and bundles): GET /v1/queues/{id}/metrics within 2 s of the changes. */

interface Metrics {
  queueId: string;
  conversations: Record<string, number>;
  oldestOpenSeconds: number | null;
  agents: Record<string, number>;
  lastHour: {
    answered: number;
    abandoned: number;
    averageWaitSeconds: number | null;
    serviceLevelPercent: number | null;
  };
  serviceLevelSeconds: number;
}

let rt: LocalRuntime;
let api: Api;
let o: DemoOrg;
let n = 0;

async function customerStarts(threadId = `mx-${++n}`): Promise<string> {
  await ok(api.webhook(o.channel.chat, { eventId: `e-${++n}`, type: 'conversation.started', threadId }, o.secret), 202);
  return eventually(
    async () =>
      (
        await o.admin.get<{ items: { id: string }[] }>(
          `/v1/conversations?channelId=${o.channel.chat}&threadId=${threadId}`,
        )
      ).body.items?.[0]?.id,
  );
}

/** polls for 2 s (MX-1: at most 2 s behind), then gives the last answer */
async function within2s(check: (m: Metrics) => boolean): Promise<Metrics> {
  const until = Date.now() + 2000;
  let m: Metrics;
  do {
    m = await ok(o.admin.get<Metrics>('/v1/queues/q1/metrics'));
    if (check(m)) return m;
    await new Promise((r) => setTimeout(r, 50));
  } while (Date.now() < until);
  return m;
}

describe.each(RUNTIMES)('MX-1 over HTTP, on $on', ({ bundles }) => {
  beforeAll(async () => {
    rt = await startRuntime({ tickMs: 3_600_000, bundles });
    api = new Api(rt.url);
    o = await setupOrg(api);
  });
  afterAll(() => rt?.stop());

  it('MX-1: counts, agents, oldest wait and the last hour follow the changes within 2 s', async () => {
    // Prepare: alice signs in; two chats arrive; 15 s later she takes one; a third customer leaves before anyone
    await ok(o.admin.put('/v1/admin/queues/q1', { name: 'Queue 1', serviceLevelSeconds: 10 }));
    const alice = await o.agent('alice');
    await ok(alice.post('/v1/agents/me/sign-in', {}));
    const first = await customerStarts();
    await customerStarts();
    await customerStarts('leaves');
    await ok(api.post('/_local/clock', { advanceSeconds: 15 }));
    await ok(alice.post(`/v1/conversations/${first}/actions/accept`, {}));
    await ok(
      api.webhook(o.channel.chat, { eventId: 'bye', type: 'customer.ended', threadId: 'leaves' }, o.secret),
      202,
    );

    // Act
    const m = await within2s((x) => x.conversations.Active === 1 && x.lastHour.abandoned === 1);

    // Assess
    expect(m.conversations).toEqual({ Open: 1, Active: 1, WrapUp: 0, Waiting: 0 });
    expect(m.agents).toMatchObject({ signedIn: 1, Available: 1 });
    // (the virtual clock runs on between the requests: the wait is 15 s and a little more)
    expect(m.lastHour).toMatchObject({ answered: 1, abandoned: 1, serviceLevelPercent: 0 });
    expect(m.lastHour.averageWaitSeconds).toBeGreaterThanOrEqual(15);
    expect(m.lastHour.averageWaitSeconds).toBeLessThan(25);
    expect(m.oldestOpenSeconds).toBeGreaterThanOrEqual(15);
    expect(m.serviceLevelSeconds).toBe(10);
  });

  it('MX-1: agents are 403; an unknown queue is 404', async () => {
    const alice = await o.agent('alice');
    expect((await alice.get('/v1/queues/q1/metrics')).status).toBe(403);
    expect((await o.admin.get('/v1/queues/nope/metrics')).status).toBe(404);
  });

  it('MX-3: GET /v1/conversations/{id}/queue-position: place and estimated wait while Open, 409 naming the status after', async () => {
    // Prepare: two chats wait behind whatever the first case left
    const alice = await o.agent('alice');
    const ahead = await customerStarts();
    const behind = await customerStarts();

    // Act
    const [p1, p2] = (await Promise.all(
      [ahead, behind].map((id) => ok(alice.get<{ position: number }>(`/v1/conversations/${id}/queue-position`))),
    )) as [{ position: number }, { position: number }];
    await ok(alice.post(`/v1/conversations/${ahead}/actions/accept`, {}));
    const moved = await eventually(async () => {
      const r = await ok(
        alice.get<{ position: number; estimatedWaitSeconds: number | null }>(
          `/v1/conversations/${behind}/queue-position`,
        ),
      );
      return r.position === p2.position - 1 ? r : undefined;
    });
    const taken = await alice.get<{ status: number; currentStatus: string }>(
      `/v1/conversations/${ahead}/queue-position`,
    );

    // Assess
    expect(p1).toMatchObject({ queueId: 'q1', positionExact: true });
    expect(p2.position).toBe(p1.position + 1);
    expect(moved.estimatedWaitSeconds).toBeGreaterThan(0);
    expect(taken.status).toBe(409);
    expect(taken.headers.get('content-type')).toContain('application/problem+json');
    expect(taken.body).toMatchObject({ status: 409, currentStatus: 'Active' });
    expect((await o.admin.get('/v1/conversations/nope/queue-position')).status).toBe(404);
  });
});
