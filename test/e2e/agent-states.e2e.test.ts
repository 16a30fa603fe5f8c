import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LocalRuntime } from '../../bin/local/runtime.js';
import { Api, eventually, ok, RUNTIMES, setupOrg, startRuntime, type DemoOrg } from '../support/e2e.js';

/** MX-2 over HTTP on the local runtime (sources and bundles): GET /v1/agents, by queue, paginated; RL-4. */

interface AgentState {
  id: string;
  presence: string;
  presenceSince: string | null;
  signedIn: boolean;
  connected: boolean;
  capacity: Record<string, { max: number; used: number }>;
  conversations: number;
}
interface Page {
  items: AgentState[];
  nextCursor?: string;
}

let rt: LocalRuntime;
let api: Api;
let o: DemoOrg;

describe.each(RUNTIMES)('MX-2 over HTTP, on $on', ({ bundles }) => {
  beforeAll(async () => {
    rt = await startRuntime({ tickMs: 3_600_000, bundles });
    api = new Api(rt.url);
    o = await setupOrg(api);
  });
  afterAll(() => rt?.stop());

  it("MX-2: a supervisor lists a queue's agents with presence and since when, page by page", async () => {
    // Prepare: alice signs in and goes Away
    const alice = await o.agent('alice');
    await ok(alice.post('/v1/agents/me/sign-in', {}));
    await ok(alice.put('/v1/agents/me/presence', { presence: 'Away' }));
    const { now } = await ok(api.post<{ now: string }>('/_local/clock', { advanceSeconds: 0 }));

    // Act
    const first = await eventually(async () => {
      const p = await ok(o.admin.get<Page>('/v1/agents?queueId=q1&limit=1'));
      return p.items[0]?.presence === 'Away' && p.items[0].presenceSince ? p : undefined;
    });
    const second = await ok(o.admin.get<Page>(`/v1/agents?queueId=q1&limit=1&cursor=${first.nextCursor ?? ''}`));

    // Assess
    expect(first.items[0]).toMatchObject({ id: 'alice', signedIn: true, conversations: 0 });
    expect(Date.parse(first.items[0]?.presenceSince ?? '')).toBeLessThanOrEqual(Date.parse(now));
    expect(Object.keys(first.items[0]?.capacity ?? {})).toEqual(['default']);
    expect(second.items.map((a) => [a.id, a.presence, a.signedIn])).toEqual([['bob', 'Offline', false]]);
  });

  it('MX-2 / RL-4: agents are 403; an unknown queue is 404; a bad limit, cursor or parameter is 400', async () => {
    const alice = await o.agent('alice');
    expect((await alice.get('/v1/agents')).status).toBe(403);
    expect((await o.admin.get('/v1/agents?queueId=nope')).status).toBe(404);
    for (const q of ['limit=0', 'limit=101', 'cursor=garbage', 'queueId=a%20b', 'status=Open'])
      expect((await o.admin.get(`/v1/agents?${q}`)).status, q).toBe(400);
  });
});
