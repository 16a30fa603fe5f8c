import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LocalRuntime } from '../../bin/local/runtime.js';
import { Api, eventually, ok, RUNTIMES, setupOrg, startRuntime, type DemoOrg } from '../support/e2e.js';

/** K-1..K-4 over HTTP on the local runtime (sources and bundles): configuration, routing, relaxation, validation. */

let rt: LocalRuntime;
let api: Api;

type Conv = {
  id: string;
  status: string;
  primaryAgentId?: string;
  queueId: string;
  enqueuedAt?: string;
  requirements?: { skills: Record<string, number>; step: number };
};

const CHAT_WS = {
  name: 'chat',
  mode: 'live',
  capacity: { units: 1 },
  allowedPresences: ['Available', 'Busy'],
  wrapUp: { blockCapacity: 'always' },
  defaultQueueId: 'q1',
  distribution: 'push',
  routingRules: [{ when: { field: 'need', equals: 'billing' }, queueId: 'q1', requires: { billing: 4 } }],
  skillRelaxation: [{ afterSeconds: 60, requires: { billing: 2 } }],
};

let n = 0;
async function starts(o: DemoOrg): Promise<Conv> {
  const threadId = `sk-${++n}`;
  await ok(
    api.webhook(
      o.channel.chat,
      { eventId: `e-${threadId}`, type: 'conversation.started', threadId, context: { need: 'billing' } },
      o.secret,
    ),
    202,
  );
  const c = await eventually(
    async () =>
      (await o.admin.get<{ items: Conv[] }>(`/v1/conversations?channelId=${o.channel.chat}&threadId=${threadId}`)).body
        .items[0],
  );
  await rt.settle();
  return ok(o.admin.get<Conv>(`/v1/conversations/${c.id}`));
}

describe.each(RUNTIMES)('K-1..K-4 over HTTP, on $on', ({ bundles }) => {
  beforeAll(async () => {
    rt = await startRuntime({ tickMs: 3_600_000, bundles });
    api = new Api(rt.url);
  });
  afterAll(() => rt?.stop());

  it('K-1..K-4: the agent with the skill level is offered it; the read shows the requirement; after the step time it relaxes, and goes to an agent who meets the step', async () => {
    // Prepare: alice (room for 3) has billing 3, bob (room for 2) billing 2; the rule requires billing 4
    const o = await setupOrg(api);
    await ok(o.admin.put('/v1/admin/workstreams/ws-chat', CHAT_WS));
    await ok(
      o.admin.put('/v1/admin/agents/alice', {
        name: 'Alice',
        queues: ['q1'],
        capacity: { default: 3 },
        skills: { billing: 3 },
      }),
    );
    await ok(
      o.admin.put('/v1/admin/agents/bob', {
        name: 'Bob',
        queues: ['q1'],
        capacity: { default: 2 },
        skills: { billing: 2 },
      }),
    );
    expect(await ok(o.admin.get('/v1/admin/agents/alice'))).toMatchObject({ skills: { billing: 3 } });
    for (const id of ['alice', 'bob']) await ok((await o.agent(id)).post('/v1/agents/me/sign-in'));
    await rt.settle();

    // Act 1: nobody has billing 4
    const c = await starts(o);

    // Assess 1
    expect(c).toMatchObject({ status: 'Open', requirements: { skills: { billing: 4 }, step: 0 } });

    // Act 2: 60 s later the step applies; alice has more room, and billing 3 >= 2
    await ok(api.post('/_local/clock', { advanceSeconds: 61 }));
    await rt.settle();

    // Assess 2: queue and wait kept, offered to alice
    const after = await ok(o.admin.get<Conv>(`/v1/conversations/${c.id}`));
    expect(after).toMatchObject({
      queueId: 'q1',
      primaryAgentId: 'alice',
      requirements: { skills: { billing: 2 }, step: 1 },
    });
    const history = await ok(o.admin.get<{ items: { action: string }[] }>(`/v1/conversations/${c.id}/events`));
    expect(history.items.map((e) => e.action)).toEqual(['created', 'relax', 'offer']);
  });

  it('K-1..K-3 / RL-4: bad levels, steps out of order, negative seconds and unknown fields are 400, and nothing is written', async () => {
    // Prepare
    const o = await setupOrg(api);
    const agent = { name: 'Alice', queues: ['q1'], capacity: { default: 3 } };
    const rule = CHAT_WS.routingRules[0] as object;

    // Act + Assess
    for (const skills of [{ billing: 0 }, { billing: 6 }, { billing: 2.5 }, { billing: '3' }, { 'bad skill': 3 }, []]) {
      const r = await o.admin.put('/v1/admin/agents/alice', { ...agent, skills });
      expect(r.status, JSON.stringify(skills)).toBe(400);
      expect(r.contentType).toContain('application/problem+json');
    }
    const workstreams: object[] = [
      { ...CHAT_WS, routingRules: [{ ...rule, requires: { billing: 9 } }] },
      { ...CHAT_WS, routingRules: [{ ...rule, requirements: { billing: 2 } }] },
      { ...CHAT_WS, skillRelaxation: [{ afterSeconds: -1, requires: {} }] },
      {
        ...CHAT_WS,
        skillRelaxation: [
          { afterSeconds: 60, requires: {} },
          { afterSeconds: 30, requires: {} },
        ],
      },
      { ...CHAT_WS, skillRelaxation: [{ afterSeconds: 10, requires: {}, level: 2 }] },
      { ...CHAT_WS, skillRelaxation: [{ afterSeconds: 10 }] },
    ];
    for (const ws of workstreams) {
      const r = await o.admin.put('/v1/admin/workstreams/ws-chat', ws);
      expect(r.status, JSON.stringify(ws)).toBe(400);
      expect(r.contentType).toContain('application/problem+json');
    }
    expect(await ok(o.admin.get('/v1/admin/agents/alice'))).toMatchObject({ skills: {} });
    expect(await ok(o.admin.get('/v1/admin/workstreams/ws-chat'))).toMatchObject({
      skillRelaxation: [],
      distribution: 'pick',
    });
  });
});
