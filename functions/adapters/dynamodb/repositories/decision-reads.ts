import type { Agent } from '../../../domain/model.js';
import type {
  ActionReadRequest,
  ActionReadResult,
  EventReadRequest,
  EventReadResult,
} from '../../../ports/storage-types.js';
import type { DecisionReads } from '../../../ports/repositories.js';
import {
  agentEntity,
  channelEntity,
  conversationEntity,
  earlyEndEntity,
  messageLogEntity,
  receiptEntity,
  settingsEntity,
  threadEntity,
} from '../entities.js';
import type { Key } from '../keys.js';
import { byKey, uniqueKeys, type Table } from '../table.js';

/**
 * The read of the request path: everything one decision needs, across aggregates, in ONE
 * BatchGetItem of consistent reads (then the decision, then one transaction).
 */
export class DynamoDecisionReads implements DecisionReads {
  constructor(private readonly table: Table) {}

  /**
   * The conversation, the acting and target agents with the pools asked for, an Idempotency-Key
   * receipt, and the org settings when they are not cached.
   */
  async readActionState(org: string, req: ActionReadRequest): Promise<ActionReadResult> {
    const wanted: Key[] = [conversationEntity.key(org, req.conversationId)];
    for (const a of req.agents) {
      wanted.push(agentEntity.key(org, a.id), ...a.pools.map((p) => agentEntity.poolKey(org, a.id, p)));
    }
    if (req.receiptKey) wanted.push(receiptEntity.key(org, req.receiptKey));
    if (req.settings) wanted.push(settingsEntity.key(org));
    if (req.log) wanted.push(messageLogEntity.key(org, req.conversationId));
    const at = byKey(await this.table.batchGet(uniqueKeys(wanted)));
    // no prototype: an agent id is any [A-Za-z0-9_-]{1,64}, "constructor" and "__proto__" included,
    // and an agent that does not exist must read as undefined, not as Object.prototype's member
    const agents: Record<string, Agent | undefined> = Object.create(null);
    for (const a of req.agents) {
      const profile = at(agentEntity.key(org, a.id));
      if (!profile) continue;
      const pools = a.pools.flatMap((name) => {
        const pool = at(agentEntity.poolKey(org, a.id, name));
        return pool ? [pool] : [];
      });
      agents[a.id] = agentEntity.from(profile, pools);
    }
    const conversation = at(conversationEntity.key(org, req.conversationId));
    const receipt = req.receiptKey ? at(receiptEntity.key(org, req.receiptKey)) : undefined;
    return {
      ...(conversation ? { conversation: conversationEntity.from(conversation) } : {}),
      agents,
      ...(receipt ? { receipt: receiptEntity.from(receipt) } : {}),
      ...(req.settings ? { settings: settingsEntity.versioned(org, at(settingsEntity.key(org))) } : {}),
      ...(req.log ? { log: messageLogEntity.from(at(messageLogEntity.key(org, req.conversationId))) } : {}),
    };
  }

  /** The event's receipt (RL-1), the thread's current conversation and early end, uncached channel and settings. */
  async readEventState(org: string, req: EventReadRequest): Promise<EventReadResult> {
    const wanted: Key[] = [receiptEntity.key(org, req.receiptKey), threadEntity.key(org, req.channelId, req.threadId)];
    if (req.channel) wanted.push(channelEntity.key(org, req.channelId));
    if (req.settings) wanted.push(settingsEntity.key(org));
    if (req.earlyEnd) wanted.push(earlyEndEntity.key(org, req.channelId, req.threadId));
    const at = byKey(await this.table.batchGet(wanted));
    const threadConversationId = threadEntity.conversationIdOf(at(threadEntity.key(org, req.channelId, req.threadId)));
    const channel = req.channel ? at(channelEntity.key(org, req.channelId)) : undefined;
    const earlyEnd = req.earlyEnd ? at(earlyEndEntity.key(org, req.channelId, req.threadId)) : undefined;
    return {
      duplicate: at(receiptEntity.key(org, req.receiptKey)) !== undefined,
      ...(threadConversationId ? { threadConversationId } : {}),
      ...(earlyEnd ? { earlyEnd: earlyEndEntity.from(earlyEnd) } : {}),
      ...(channel ? { channel: channelEntity.versioned(channel) } : {}),
      ...(req.settings ? { settings: settingsEntity.versioned(org, at(settingsEntity.key(org))) } : {}),
    };
  }
}
