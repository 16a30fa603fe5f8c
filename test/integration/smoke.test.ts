import { describe, expect, it } from 'vitest';
import { performAction } from '../../functions/use-cases/conversation-action.use-case.js';
import { ledgerOf, makeFixture } from '../support/fixture.js';

describe('smoke', () => {
  it('T-1: accept then end then close on chat', async () => {
    const f = await makeFixture();
    await f.addAgent('alice');
    const c = await f.start('chat');
    const agent = { role: 'agent' as const, id: 'alice' };
    const r = await performAction(f.deps, { org: f.org, conversationId: c.id, actor: agent, action: { type: 'accept' } });
    expect(r.conversation.status).toBe('Active');
    expect((await ledgerOf(f, 'alice')).pools.default?.used).toBe(1);
    await performAction(f.deps, { org: f.org, conversationId: c.id, actor: agent, action: { type: 'end' } });
    await performAction(f.deps, { org: f.org, conversationId: c.id, actor: agent, action: { type: 'close' } });
    expect((await f.conversation(c.id)).status).toBe('Closed');
    expect((await ledgerOf(f, 'alice')).pools.default?.used).toBe(0);
    const events = await f.store.listEvents(f.org, c.id);
    expect(events.map((e) => e.to)).toEqual(['Open', 'Active', 'WrapUp', 'Closed']);
  });
});
