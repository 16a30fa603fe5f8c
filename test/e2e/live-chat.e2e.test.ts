import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LocalRuntime } from '../../bin/local/runtime.js';
import { Api, eventually, setupOrg, startRuntime } from '../support/e2e.js';

let rt: LocalRuntime;
let api: Api;
beforeAll(async () => {
  rt = await startRuntime();
  api = new Api(rt.url);
});
afterAll(() => rt?.stop());

describe('live chat over HTTP on the local runtime', () => {
  it('T-1 / T-3a / T-7 / C-3: from a signed webhook to Closed, capacity back to 0', async () => {
    const o = await setupOrg(api);
    const alice = await o.agent('alice');
    expect(
      (await api.webhook(o.channel.chat, { eventId: 'e1', type: 'conversation.started', threadId: 'th-1' }, o.secret))
        .status,
    ).toBe(202);
    const open = await eventually(async () => {
      const r = await alice.get<{ items: { id: string; status: string }[] }>('/v1/queues/q1/open-items');
      return r.body.items[0];
    });
    expect(open.status).toBe('Open');
    expect((await alice.post(`/v1/conversations/${open.id}/actions/accept`)).body).toMatchObject({
      status: 'Active',
      primaryAgentId: 'alice',
    });
    expect((await alice.get('/v1/agents/me')).body).toMatchObject({ capacity: { default: { max: 3, used: 1 } } });
    expect((await alice.post(`/v1/conversations/${open.id}/actions/end`)).body).toMatchObject({ status: 'WrapUp' });
    expect((await alice.post(`/v1/conversations/${open.id}/actions/close`)).body).toMatchObject({
      status: 'Closed',
      state: 'closed',
    });
    expect((await alice.get('/v1/agents/me')).body).toMatchObject({ capacity: { default: { max: 3, used: 0 } } });
    const events = await alice.get<{ items: { to: string }[] }>(`/v1/conversations/${open.id}/events`);
    expect(events.body.items.map((e) => e.to)).toEqual(['Open', 'Active', 'WrapUp', 'Closed']);
  });
});
