import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LocalRuntime } from '../../bin/local/runtime.js';
import { Api, eventually, setupOrg, startRuntime, type DemoOrg } from '../support/e2e.js';

interface Conv {
  id: string;
  status: string;
  queueId: string;
  version: number;
  primaryAgentId?: string;
}

let rt: LocalRuntime;
let api: Api;
let o: DemoOrg;
let alice: Api;
let carol: Api;
let seq = 0;
beforeAll(async () => {
  rt = await startRuntime();
  api = new Api(rt.url);
  o = await setupOrg(api, { wrapUp: 'never' });
  // carol works sales (q2) only; q1 is support
  expect(
    (await o.admin.put('/v1/admin/agents/carol', { name: 'Carol', queues: ['q2'], capacity: { default: 3 } })).status,
  ).toBe(200);
  alice = await o.agent('alice');
  carol = await o.agent('carol');
});
afterAll(() => rt?.stop());

/** A new Open chat in `queue` (q2 through the workstream's billing rule). */
async function openChat(queue: 'q1' | 'q2' = 'q1'): Promise<Conv> {
  const threadId = `vis-${++seq}`;
  const event = {
    eventId: `vis-ev-${seq}`,
    type: 'conversation.started',
    threadId,
    ...(queue === 'q2' ? { context: { topic: 'billing' } } : {}),
  };
  expect((await api.webhook(o.channel.chat, event, o.secret)).status).toBe(202);
  const c = await eventually(
    async () =>
      (await o.admin.get<{ items?: Conv[] }>(`/v1/conversations?channelId=${o.channel.chat}&threadId=${threadId}`)).body
        .items?.[0],
  );
  expect(c.queueId).toBe(queue);
  return c;
}

const notesOf = async (id: string) => (await o.admin.get<{ items: unknown[] }>(`/v1/conversations/${id}/notes`)).body;

describe('RL-7 visibility inside an org', () => {
  it('finding 3: an agent of sales only gets 404 for a support conversation: read, events, notes, note post, consult candidates, open items, actions; and writes nothing', async () => {
    // Prepare: a support (q1) conversation alice works on
    const c = await openChat('q1');
    expect((await alice.post(`/v1/conversations/${c.id}/actions/accept`)).status).toBe(200);
    const before = { conversation: (await o.admin.get(`/v1/conversations/${c.id}`)).body, notes: await notesOf(c.id) };

    // Act
    const answers = {
      read: (await carol.get(`/v1/conversations/${c.id}`)).status,
      events: (await carol.get(`/v1/conversations/${c.id}/events`)).status,
      notes: (await carol.get(`/v1/conversations/${c.id}/notes`)).status,
      note: (await carol.post(`/v1/conversations/${c.id}/notes`, { text: 'peek' })).status,
      candidates: (await carol.get(`/v1/conversations/${c.id}/consult-candidates`)).status,
      openItems: (await carol.get('/v1/queues/q1/open-items')).status,
      transfer: (await carol.post(`/v1/conversations/${c.id}/actions/transfer`, { queueId: 'q2' })).status,
      end: (await carol.post(`/v1/conversations/${c.id}/actions/end`)).status,
    };
    const listed = await carol.get<{ items: Conv[] }>('/v1/conversations?queueId=q1');

    // Assess
    expect(answers).toEqual({
      read: 404,
      events: 404,
      notes: 404,
      note: 404,
      candidates: 404,
      openItems: 404,
      transfer: 404,
      end: 404,
    });
    expect(listed.status).toBe(200);
    expect(listed.body.items).toEqual([]);
    expect({ conversation: (await o.admin.get(`/v1/conversations/${c.id}`)).body, notes: await notesOf(c.id) }).toEqual(
      before,
    );
  });

  it('RL-7: an agent sees the open items and conversations of her own queues, and a supervisor sees the whole org', async () => {
    // Prepare
    const support = await openChat('q1');
    const sales = await openChat('q2');

    // Act
    const carolSales = await carol.get<Conv>(`/v1/conversations/${sales.id}`);
    const carolOpen = await carol.get<{ items: Conv[] }>('/v1/queues/q2/open-items?limit=100');
    const supervisor = await o.admin.get<Conv>(`/v1/conversations/${support.id}`);
    const supervisorOpen = await o.admin.get<{ items: Conv[] }>('/v1/queues/q1/open-items?limit=100');

    // Assess
    expect(carolSales.status).toBe(200);
    expect(carolOpen.body.items.map((i) => i.id)).toContain(sales.id);
    expect(supervisor.status).toBe(200);
    expect(supervisorOpen.body.items.map((i) => i.id)).toContain(support.id);
  });

  it('RL-7: a support conversation transferred to carol becomes visible to her, and stays visible once she released it back to support', async () => {
    // Prepare: alice works a support chat and transfers it to carol
    const c = await openChat('q1');
    expect((await alice.post(`/v1/conversations/${c.id}/actions/accept`)).status).toBe(200);
    expect((await carol.get(`/v1/conversations/${c.id}`)).status).toBe(404);

    // Act
    const transfer = await alice.post(`/v1/conversations/${c.id}/actions/transfer`, { agentId: 'carol' });
    const offered = await carol.get<Conv>(`/v1/conversations/${c.id}`);
    const accepted = await carol.post<Conv>(`/v1/conversations/${c.id}/actions/accept`);
    const back = await carol.post<Conv>(`/v1/conversations/${c.id}/actions/release`);
    const after = await carol.get<Conv>(`/v1/conversations/${c.id}`);
    const events = await carol.get(`/v1/conversations/${c.id}/events`);

    // Assess
    expect({ status: transfer.status, body: transfer.body }).toMatchObject({ status: 200 });
    expect({ status: back.status, body: back.body }).toMatchObject({ status: 200 });
    expect(offered.status).toBe(200);
    expect(accepted.body).toMatchObject({ status: 'Active', primaryAgentId: 'carol' });
    expect(back.status).toBe(200);
    expect(after.status).toBe(200);
    expect(after.body).toMatchObject({ status: 'Open', queueId: 'q1' });
    expect(events.status).toBe(200);
  });
});
