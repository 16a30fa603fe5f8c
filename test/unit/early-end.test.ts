import { describe, expect, it } from 'vitest';
import { openConversation, type OpenInput } from '../../functions/domain/decide.js';
import {
  EARLY_END_WINDOW_SECONDS,
  eventTime,
  inForce,
  keptEnd,
  startedBeforeEnd,
} from '../../functions/domain/early-end.js';
import type { Workstream } from '../../functions/domain/model.js';

/** Pure tests of T-2's early ends (finding 8): the window, the order of a start and an end, the Closed creation. */

const NOW = new Date('2026-03-02T09:00:00.000Z');
const end = keptEnd(
  { org: 'acme', channelId: 'ch-chat', threadId: 'th1', endedAt: '2026-03-02T08:59:50.000Z', action: 'customer-ended' },
  NOW,
);

const pushChat: Workstream = {
  org: 'acme',
  id: 'ws-chat',
  name: 'chat',
  mode: 'live',
  capacity: { pool: 'default', units: 1 },
  allowedPresences: ['Available', 'Busy'],
  wrapUp: { blockCapacity: 'always' },
  waitingInactivityTimeoutSeconds: 3600,
  agentReconnectTimeoutSeconds: 120,
  routingRules: [],
  defaultQueueId: 'q1',
  distribution: 'push',
};
const opening = (patch: Partial<OpenInput> = {}): OpenInput => ({
  org: 'acme',
  id: 'conv1',
  ticketId: 'tk1',
  channel: { org: 'acme', id: 'ch-chat', kind: 'chat', workstreamId: 'ws-chat' },
  workstream: pushChat,
  threadId: 'th1',
  queueId: 'q1',
  actor: { role: 'customer', id: 'thread:th1' },
  previousConversationId: null,
  reason: 'R-1: default queue',
  now: NOW,
  ...patch,
});

describe('T-2: early ends', () => {
  it('T-2: an early end is kept for 5 minutes from when it is stored, and counts as gone from its expiry on (TTL lags)', () => {
    expect(end.expiresAt).toBe(NOW.getTime() / 1000 + EARLY_END_WINDOW_SECONDS);
    expect(inForce(end, new Date(NOW.getTime() + 299_999))).toBe(true);
    expect(inForce(end, new Date(end.expiresAt * 1000))).toBe(false);
    expect(inForce(undefined, NOW)).toBe(false);
  });

  it('T-2: a start at the same instant as the end, or before it, is the same contact; one a millisecond later is not', () => {
    expect(startedBeforeEnd(end, new Date('2026-03-02T08:59:50.000Z'))).toBe(true);
    expect(startedBeforeEnd(end, new Date('2026-03-02T08:00:00.000Z'))).toBe(true);
    expect(startedBeforeEnd(end, new Date('2026-03-02T08:59:50.001Z'))).toBe(false);
    // offsets are instants: 09:59:49+01:00 is before the end
    expect(startedBeforeEnd(end, eventTime('2026-03-02T09:59:49+01:00', NOW))).toBe(true);
  });

  it("T-2: an event's time is its occurredAt, else when the webhook received it", () => {
    expect(eventTime('2026-03-02T08:00:00.000Z', NOW).toISOString()).toBe('2026-03-02T08:00:00.000Z');
    expect(eventTime(undefined, NOW)).toBe(NOW);
    expect(eventTime('not a date', NOW)).toBe(NOW);
  });

  it('T-2, R-3: a conversation opened for a customer who already left is Closed at version 1, with one created event and no dispatch', () => {
    // Act
    const open = openConversation(opening());
    const closed = openConversation(opening({ leftBeforeStart: end }));

    // Assess: the push workstream would arm a dispatch for an Open one, not for this one
    expect(open.writes.filter((w) => w.type === 'timer')).toHaveLength(1);
    expect(closed.rule).toBe('T-2');
    expect(closed.conversation).toMatchObject({
      status: 'Closed',
      statusReason: 'customer-left-before-start',
      queueId: 'q1',
      version: 1,
    });
    expect(closed.conversation.primaryAgentId).toBeUndefined();
    expect(closed.conversation.allocation).toBeUndefined();
    expect(closed.event).toEqual({
      org: 'acme',
      conversationId: 'conv1',
      seq: 1,
      at: NOW.toISOString(),
      actor: 'thread:th1',
      role: 'customer',
      action: 'created',
      from: null,
      to: 'Closed',
      reason: 'T-2: customer-left-before-start',
      version: 1,
      details: {
        queueId: 'q1',
        routing: 'R-1: default queue',
        customerLeftAt: '2026-03-02T08:59:50.000Z',
        customerAction: 'customer-ended',
      },
    });
    expect(closed.writes.map((w) => w.type)).toEqual(['conversation', 'event', 'thread']);
    expect(closed.timers).toEqual([]);
  });
});
