import { setTimeout as sleep } from 'node:timers/promises';
import { TABLE_DEFINITION } from '../../functions/adapters/dynamodb/table-definition.js';
import type { Conversation, HistoryEvent } from '../../functions/domain/model.js';
import type { TimerRequest } from '../../functions/domain/writes.js';
import type { ObservedRequest, Probe } from './instrument.js';

/**
 * What the engine committed, as seen on the wire: every successful TransactWriteItems of the probed
 * client, with the conversations, history events (E-1: one per change) and outbox timers it put,
 * and the time its answer came back. Latencies are measured between these commit times.
 */
export interface Commit {
  at: number;
  conversations: Conversation[];
  events: HistoryEvent[];
  timers: (TimerRequest & { name: string })[];
}

const STORAGE = new Set([
  TABLE_DEFINITION.partitionKey,
  TABLE_DEFINITION.sortKey,
  ...TABLE_DEFINITION.globalSecondaryIndexes.flatMap((g) => [g.partitionKey, g.sortKey]),
  TABLE_DEFINITION.timeToLiveAttribute,
  'type',
]);
const strip = <T>(item: Record<string, unknown>): T =>
  Object.fromEntries(Object.entries(item).filter(([k]) => !STORAGE.has(k))) as T;

export class CommitLog {
  /** the last committed state of each conversation, and thread -> conversation */
  readonly conversations = new Map<string, Conversation>();
  readonly byThread = new Map<string, string>();
  /** outbox timers by name, as last put */
  readonly timers = new Map<string, TimerRequest & { name: string }>();
  /** every history event committed, with its conversation as committed alongside and the commit time */
  readonly eventLog: { at: number; event: HistoryEvent; conversation?: Conversation }[] = [];

  /** when each conversation's creation committed */
  readonly createdAt = new Map<string, number>();

  constructor(probe: Probe) {
    probe.observe((r) => this.onRequest(r));
  }

  private onRequest(r: ObservedRequest): void {
    if (!r.ok || r.command !== 'TransactWriteItemsCommand') return;
    const c: Commit = { at: r.end, conversations: [], events: [], timers: [] };
    for (const t of (r.input.TransactItems ?? []) as { Put?: { Item?: Record<string, unknown> } }[]) {
      const item = t.Put?.Item;
      if (!item) continue;
      if (item.type === 'conversation') c.conversations.push(strip<Conversation>(item));
      else if (item.type === 'event') c.events.push(strip<HistoryEvent>(item));
      else if (item.type === 'timer') c.timers.push(strip<TimerRequest & { name: string }>(item));
    }
    if (!c.conversations.length && !c.events.length && !c.timers.length) return;
    for (const conv of c.conversations) {
      const known = this.conversations.get(conv.id);
      if (!known || known.version < conv.version) this.conversations.set(conv.id, conv);
      this.byThread.set(`${conv.channelId}#${conv.threadId}`, conv.id);
    }
    for (const t of c.timers) this.timers.set(t.name, t);
    for (const event of c.events) {
      const conversation = c.conversations.find((x) => x.id === event.conversationId);
      this.eventLog.push(conversation ? { at: c.at, event, conversation } : { at: c.at, event });
      if (event.action === 'created') this.createdAt.set(event.conversationId, c.at);
    }
  }

  /** polls until `check` gives a value (the commit times, not this poll, are what is measured) */
  async until<T>(check: () => T | undefined, timeoutMs = 30_000, what = 'condition'): Promise<T> {
    const deadline = performance.now() + timeoutMs;
    for (;;) {
      const v = check();
      if (v !== undefined) return v;
      if (performance.now() > deadline) throw new Error(`timed out waiting for ${what}`);
      await sleep(5);
    }
  }
}
