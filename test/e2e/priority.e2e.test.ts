import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LocalRuntime } from '../../bin/local/runtime.js';
import { Api, eventually, ok, setupOrg, startRuntime, type DemoOrg } from '../support/e2e.js';

/** Q-1 priority over HTTP on the local runtime: routing rules, the prioritize action, validation (RL-4). */

interface Conv {
  id: string;
  status: string;
  queueId: string;
  priority: number;
  version: number;
}

let rt: LocalRuntime;
let api: Api;
beforeAll(async () => {
  rt = await startRuntime({ tickMs: 3_600_000 });
  api = new Api(rt.url);
});
afterAll(() => rt?.stop());

const SETTINGS = {
  supervisorMonitor: false,
  supervisorAssign: true,
  supervisorTransfer: false,
  forceClose: false,
  agentEndMessagingSession: false,
};

let n = 0;
async function customerStarts(o: DemoOrg, context?: Record<string, string>): Promise<Conv> {
  const threadId = `pr-${++n}`;
  await ok(
    api.webhook(
      o.channel.chat,
      { eventId: `e-${++n}`, type: 'conversation.started', threadId, ...(context ? { context } : {}) },
      o.secret,
    ),
    202,
  );
  return eventually(
    async () =>
      (await o.admin.get<{ items: Conv[] }>(`/v1/conversations?channelId=${o.channel.chat}&threadId=${threadId}`)).body
        .items?.[0],
  );
}

async function org(): Promise<DemoOrg> {
  const o = await setupOrg(api);
  await ok(o.admin.put('/v1/admin/settings', SETTINGS));
  await ok(
    o.admin.put('/v1/admin/workstreams/ws-chat', {
      name: 'chat',
      mode: 'live',
      capacity: { units: 1 },
      allowedPresences: ['Available', 'Busy'],
      wrapUp: { blockCapacity: 'always' },
      defaultQueueId: 'q1',
      routingRules: [{ when: { field: 'tier', equals: 'gold' }, queueId: 'q2', priority: 10 }],
    }),
  );
  return o;
}

const prioritize = (as: Api, id: string, body: unknown) =>
  as.post<Conv>(`/v1/conversations/${id}/actions/prioritize`, body);

describe('Q-1: priority over HTTP', () => {
  it('Q-1: the read shows the routing rule priority (else 5); a supervisor prioritizes an Open conversation', async () => {
    // Prepare
    const o = await org();
    const gold = await customerStarts(o, { tier: 'gold' });
    const plain = await customerStarts(o);

    // Act
    const r = await ok(prioritize(o.admin, plain.id, { priority: 7 }));

    // Assess
    expect(gold).toMatchObject({ queueId: 'q2', priority: 10 });
    expect(r).toMatchObject({ status: 'Open', priority: 7 });
    expect(await ok(o.admin.get<Conv>(`/v1/conversations/${plain.id}`))).toMatchObject({ priority: 7 });
    const events = (
      await ok(o.admin.get<{ items: { action: string; details?: object }[] }>(`/v1/conversations/${plain.id}/events`))
    ).items;
    expect(events.at(-1)).toMatchObject({ action: 'prioritize', details: { priority: 7, fromPriority: 5 } });
  });

  it('Q-1 / RL-4: a priority outside 1..10, not an integer, missing or with extra fields is 400 and writes nothing; an agent is 403; not Open is 409', async () => {
    // Prepare
    const o = await org();
    const c = await customerStarts(o);
    const alice = await o.agent('alice');
    await ok(alice.post('/v1/agents/me/sign-in'));

    // Act + Assess: each bad body
    for (const body of [
      { priority: 0 },
      { priority: 11 },
      { priority: 5.5 },
      { priority: '5' },
      {},
      { priority: 5, x: 1 },
    ]) {
      const r = await prioritize(o.admin, c.id, body);
      expect(r.status, JSON.stringify(body)).toBe(400);
      expect(r.contentType).toContain('application/problem+json');
    }
    expect((await prioritize(alice, c.id, { priority: 9 })).status).toBe(403);
    expect(await ok(o.admin.get<Conv>(`/v1/conversations/${c.id}`))).toMatchObject({ priority: 5, version: c.version });

    // not Open: 409 naming the status
    await ok(alice.post(`/v1/conversations/${c.id}/actions/accept`));
    const refused = await prioritize(o.admin, c.id, { priority: 9 });
    expect(refused.status).toBe(409);
    expect(refused.body).toMatchObject({ currentStatus: 'Active' });
  });

  it('Q-1 / RL-4: a routing rule priority outside 1..10 is 400 and the workstream is unchanged', async () => {
    // Prepare
    const o = await org();

    // Act
    const r = await o.admin.put('/v1/admin/workstreams/ws-chat', {
      name: 'chat',
      mode: 'live',
      capacity: { units: 1 },
      allowedPresences: ['Available'],
      wrapUp: { blockCapacity: 'always' },
      defaultQueueId: 'q1',
      routingRules: [{ when: { field: 'tier', equals: 'gold' }, queueId: 'q2', priority: 11 }],
    });

    // Assess
    expect(r.status).toBe(400);
    const ws = await ok(
      o.admin.get<{ routingRules: { priority?: number }[]; allowedPresences: string[] }>(
        '/v1/admin/workstreams/ws-chat',
      ),
    );
    expect(ws.routingRules[0]?.priority).toBe(10);
    expect(ws.allowedPresences).toEqual(['Available', 'Busy']);
  });
});
