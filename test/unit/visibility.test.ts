import { describe, expect, it } from 'vitest';
import type { Conversation } from '../../functions/domain/model.js';
import { participantsAfter, visibleToAgent } from '../../functions/domain/visibility.js';

const conv = (over: Partial<Conversation> = {}): Conversation => ({
  org: 'acme',
  id: 'c1',
  channelId: 'ch',
  channelKind: 'chat',
  mode: 'live',
  threadId: 't1',
  status: 'Open',
  queueId: 'support',
  workstreamId: 'ws',
  consultants: [],
  session: { status: 'active' },
  ticket: { id: 'tk', channel: 'chat', status: 'open' },
  statusSince: '2026-12-01T00:00:00.000Z',
  createdAt: '2026-12-01T00:00:00.000Z',
  updatedAt: '2026-12-01T00:00:00.000Z',
  version: 1,
  ...over,
});

describe('RL-7: who among the agents sees a conversation', () => {
  it('RL-7: a member of its queue sees it; an agent of another queue does not', () => {
    expect(visibleToAgent(conv(), 'carol', ['support'])).toBe(true);
    expect(visibleToAgent(conv(), 'carol', ['sales'])).toBe(false);
  });

  it('RL-7: the primary, a consultant and the receiver of a pending transfer see it outside their queues', () => {
    expect(visibleToAgent(conv({ primaryAgentId: 'carol' }), 'carol', [])).toBe(true);
    expect(visibleToAgent(conv({ consultants: ['carol'] }), 'carol', [])).toBe(true);
    const pendingTransfer = { to: 'carol', by: 'alice', byRole: 'agent', from: 'alice', at: 'x' } as const;
    expect(visibleToAgent(conv({ pendingTransfer }), 'carol', [])).toBe(true);
  });

  it('RL-7: who was primary or consultant keeps seeing it: participants only grow, an external number is no agent', () => {
    // Prepare
    const before = conv({ participants: ['alice'] });

    // Act
    const consulted = participantsAfter(before, conv({ primaryAgentId: 'bob', consultants: ['dan'] }));
    const released = participantsAfter(conv({ participants: consulted }), conv());
    const external = participantsAfter(conv(), conv({ primaryAgentId: '+33612345678', primaryKind: 'external' }));

    // Assess
    expect(consulted).toEqual(['alice', 'bob', 'dan']);
    expect(released).toEqual(['alice', 'bob', 'dan']);
    expect(external).toBeUndefined();
    expect(visibleToAgent(conv({ participants: released }), 'dan', ['sales'])).toBe(true);
  });
});
