import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LocalRuntime } from '../../bin/local/runtime.js';
import { Api, eventually, setupOrg, startRuntime, type DemoOrg } from '../support/e2e.js';

interface Conv {
  id: string;
  status: string;
  state: string;
  statusReason?: string;
  queueId: string;
  primaryAgentId?: string;
  version: number;
}
interface Ev {
  seq: number;
  actor: string;
  role: string;
  action: string;
  from: string | null;
  to: string;
  reason?: string;
}

let rt: LocalRuntime;
let api: Api;
let seq = 0;
beforeAll(async () => {
  rt = await startRuntime();
  api = new Api(rt.url);
});
afterAll(() => rt?.stop());

/** Sends a signed channel event and checks the webhook took it (202). */
async function send(
  o: DemoOrg,
  kind: keyof DemoOrg['channel'],
  threadId: string,
  type: string,
  extra: Record<string, unknown> = {},
): Promise<void> {
  const r = await api.webhook(o.channel[kind], { eventId: `ev-${++seq}`, type, threadId, ...extra }, o.secret);
  expect(r.status).toBe(202);
}

/** The thread's conversation once it matches `when` (events are applied asynchronously through SQS). */
function conversationOf(
  o: DemoOrg,
  kind: keyof DemoOrg['channel'],
  threadId: string,
  when: (c: Conv) => boolean = () => true,
): Promise<Conv> {
  return eventually(async () => {
    const r = await o.admin.get<{ items?: Conv[] }>(
      `/v1/conversations?${new URLSearchParams({ channelId: o.channel[kind], threadId })}`,
    );
    const c = r.body.items?.[0];
    return c && when(c) ? c : undefined;
  });
}

const eventsOf = async (as: Api, id: string): Promise<Ev[]> =>
  (await as.get<{ items: Ev[] }>(`/v1/conversations/${id}/events`)).body.items;
const used = async (as: Api): Promise<number | undefined> =>
  (await as.get<{ capacity: Record<string, { used: number }> }>('/v1/agents/me')).body.capacity.default?.used;

describe('live chat, customer side (webhooks to WrapUp / Closed)', () => {
  it('T-3b: customer.ended on an Active chat moves it to WrapUp; the agent then closes it (T-7)', async () => {
    // Prepare: an Active chat picked by alice
    const o = await setupOrg(api);
    const alice = await o.agent('alice');
    await send(o, 'chat', 'th-end', 'conversation.started');
    const open = await conversationOf(o, 'chat', 'th-end');
    expect((await alice.post(`/v1/conversations/${open.id}/actions/accept`)).body).toMatchObject({
      status: 'Active',
      primaryAgentId: 'alice',
    });

    // Act: the customer selects End in the widget
    await send(o, 'chat', 'th-end', 'customer.ended');

    // Assess: WrapUp, the agent is still primary, capacity held by the "always" policy (C-3)
    const wrapped = await conversationOf(o, 'chat', 'th-end', (c) => c.status === 'WrapUp');
    expect(wrapped).toMatchObject({
      id: open.id,
      state: 'open',
      primaryAgentId: 'alice',
      statusReason: 'ended by customer',
    });
    expect(await used(alice)).toBe(1);
    const last = (await eventsOf(alice, open.id)).at(-1);
    expect(last).toMatchObject({ role: 'customer', action: 'customer-ended', from: 'Active', to: 'WrapUp' });
    expect(last?.reason).toMatch(/^T-3b/);
    // ... and the agent finishes wrap-up
    expect((await alice.post(`/v1/conversations/${open.id}/actions/close`)).body).toMatchObject({ status: 'Closed' });
    expect(await used(alice)).toBe(0);
    expect((await eventsOf(alice, open.id)).map((e) => e.to)).toEqual(['Open', 'Active', 'WrapUp', 'Closed']);
  });

  it('T-2: customer.disconnected on an Open chat closes it; it leaves the queue', async () => {
    // Prepare: an Open chat waiting in q1
    const o = await setupOrg(api);
    const alice = await o.agent('alice');
    await send(o, 'chat', 'th-gone', 'conversation.started');
    const open = await conversationOf(o, 'chat', 'th-gone');
    expect(open.status).toBe('Open');

    // Act: the customer disconnects before any agent took it
    await send(o, 'chat', 'th-gone', 'customer.disconnected');

    // Assess: Closed, no agent, not in the open items any more, nobody's capacity touched
    const closed = await conversationOf(o, 'chat', 'th-gone', (c) => c.status === 'Closed');
    expect(closed).toMatchObject({ id: open.id, state: 'closed' });
    expect(closed.primaryAgentId).toBeUndefined();
    const events = await eventsOf(alice, open.id);
    expect(events.map((e) => [e.from, e.to])).toEqual([
      [null, 'Open'],
      ['Open', 'Closed'],
    ]);
    expect(events[1]).toMatchObject({ role: 'customer', action: 'customer-disconnected' });
    expect(events[1]?.reason).toMatch(/^T-2/);
    expect((await alice.get<{ items: Conv[] }>('/v1/queues/q1/open-items')).body.items.map((c) => c.id)).not.toContain(
      open.id,
    );
    // T-11: nothing reopens it
    const pick = await alice.post(`/v1/conversations/${open.id}/actions/accept`);
    expect(pick.status).toBe(409);
    expect(pick.body).toMatchObject({ currentStatus: 'Closed' });
    expect(await used(alice)).toBe(0);
  });
});

describe('persistent (sms) conversation to Waiting and back', () => {
  it('T-5 / T-9 / T-10 / C-2: X parks it in Waiting without capacity, the agent resumes it, a customer message reopens it', async () => {
    // Prepare: an Active sms conversation picked by alice
    const o = await setupOrg(api);
    const alice = await o.agent('alice');
    const bob = await o.agent('bob');
    await send(o, 'sms', '+14255550101', 'message.received', { message: { text: 'hello' } });
    const open = await conversationOf(o, 'sms', '+14255550101');
    expect(open).toMatchObject({ status: 'Open', queueId: 'q1' });
    expect((await alice.post(`/v1/conversations/${open.id}/actions/accept`)).body).toMatchObject({ status: 'Active' });
    expect(await used(alice)).toBe(1);

    // Act (T-5): the agent closes the session (X) without End
    const waiting = await alice.post<Conv>(`/v1/conversations/${open.id}/actions/close`);

    // Assess: Waiting, still alice's, capacity 0, listed in her work items
    expect(waiting.status).toBe(200);
    expect(waiting.body).toMatchObject({ status: 'Waiting', state: 'open', primaryAgentId: 'alice' });
    expect(await used(alice)).toBe(0);
    const items = (await alice.get<{ items: Conv[] }>('/v1/agents/me/work-items')).body.items;
    expect(items.map((c) => [c.id, c.status])).toEqual([[open.id, 'Waiting']]);
    expect((await bob.get<{ items: Conv[] }>('/v1/agents/me/work-items')).body.items).toEqual([]);

    // Act (T-9): another agent may not resume it, the primary may
    const notPrimary = await bob.post(`/v1/conversations/${open.id}/actions/resume`);
    expect(notPrimary.status).toBe(403);
    expect(notPrimary.body).toMatchObject({ currentStatus: 'Waiting' });
    const resumed = await alice.post<Conv>(`/v1/conversations/${open.id}/actions/resume`);

    // Assess: Active again with capacity reserved again (C-2)
    expect(resumed.status).toBe(200);
    expect(resumed.body).toMatchObject({ status: 'Active', primaryAgentId: 'alice' });
    expect(await used(alice)).toBe(1);

    // Act (T-5 then T-10): parked again, then the customer writes again
    expect((await alice.post(`/v1/conversations/${open.id}/actions/close`)).body).toMatchObject({ status: 'Waiting' });
    await send(o, 'sms', '+14255550101', 'message.received', { message: { text: 'are you there?' } });

    // Assess: the same conversation is Open in its queue, without an agent, out of alice's work items
    const reopened = await conversationOf(
      o,
      'sms',
      '+14255550101',
      (c) => c.status === 'Open' && c.version > resumed.body.version,
    );
    expect(reopened.id).toBe(open.id);
    expect(reopened.primaryAgentId).toBeUndefined();
    expect((await alice.get<{ items: Conv[] }>('/v1/queues/q1/open-items')).body.items.map((c) => c.id)).toEqual([
      open.id,
    ]);
    expect((await alice.get<{ items: Conv[] }>('/v1/agents/me/work-items')).body.items).toEqual([]);
    expect(await used(alice)).toBe(0);
    const events = await eventsOf(alice, open.id);
    expect(events.map((e) => e.to)).toEqual(['Open', 'Active', 'Waiting', 'Active', 'Waiting', 'Open']);
    expect(events.map((e) => e.reason?.split(':')[0])).toEqual([
      expect.any(String),
      'T-1',
      'T-5',
      'T-9',
      'T-5',
      'T-10',
    ]);
    expect(events.at(-1)).toMatchObject({ role: 'customer', action: 'customer-message' });
    // only one conversation for the thread: the customer message did not start another
    expect(
      (await o.admin.get<{ items: Conv[] }>(`/v1/conversations?channelId=${o.channel.sms}&threadId=%2B14255550101`))
        .body.items,
    ).toHaveLength(1);
  });

  it('T-4d / T-13: X on a live chat sends it back Open, never to Waiting (T-5 is persistent only)', async () => {
    // Prepare
    const o = await setupOrg(api);
    const alice = await o.agent('alice');
    await send(o, 'chat', 'th-x', 'conversation.started');
    const open = await conversationOf(o, 'chat', 'th-x');
    await alice.post(`/v1/conversations/${open.id}/actions/accept`);

    // Act
    const r = await alice.post<Conv>(`/v1/conversations/${open.id}/actions/close`);

    // Assess
    expect(r.body).toMatchObject({ status: 'Open' });
    expect(r.body.primaryAgentId).toBeUndefined();
    expect(await used(alice)).toBe(0);
    const resume = await alice.post(`/v1/conversations/${open.id}/actions/resume`);
    expect(resume.status).toBe(409);
    expect(resume.body).toMatchObject({ currentStatus: 'Open' });
  });
});
