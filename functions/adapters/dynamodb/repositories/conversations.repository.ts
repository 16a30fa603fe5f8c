import type { Conversation, HistoryEvent } from '../../../domain/model.js';
import type { Conversations } from '../../../ports/repositories.js';
import { conversationEntity, eventEntity, threadEntity } from '../entities.js';
import { keys } from '../keys.js';
import type { Table } from '../table.js';

/** Conversations and their history (E-1: events beside the conversation, sorted by version). */
export class DynamoConversations implements Conversations {
  constructor(private readonly table: Table) {}

  async getConversation(org: string, id: string): Promise<Conversation | undefined> {
    const item = await this.table.getItem(conversationEntity.key(org, id));
    return item ? conversationEntity.from(item) : undefined;
  }

  async listEvents(org: string, conversationId: string): Promise<HistoryEvent[]> {
    const items = await this.table.queryPrefix(conversationEntity.key(org, conversationId).PK, keys.eventPrefix);
    return items.map(eventEntity.from);
  }

  async getThreadConversationId(org: string, channelId: string, threadId: string): Promise<string | undefined> {
    return threadEntity.conversationIdOf(await this.table.getItem(threadEntity.key(org, channelId, threadId)));
  }
}
