import { QueryCommand } from '@aws-sdk/lib-dynamodb';
import type { Message, MessageLog } from '../../../domain/messages.js';
import type { Conversation } from '../../../domain/model.js';
import type { MessagePage, Messages } from '../../../ports/repositories.js';
import { conversationEntity, messageEntity, messageLogEntity } from '../entities.js';
import { keys } from '../keys.js';
import { byKey, type Table } from '../table.js';

/**
 * MS-1: the transcript, one item per message beside the conversation. A page is one Query of the
 * conversation's partition from the `seq` after the cursor's, `Limit` the page size: the same work
 * whatever the transcript's length.
 */
export class DynamoMessages implements Messages {
  constructor(private readonly table: Table) {}

  async listMessages(
    org: string,
    conversationId: string,
    page: { limit: number; after: number },
  ): Promise<MessagePage> {
    const out = await this.table.doc.send(
      new QueryCommand({
        TableName: this.table.name,
        KeyConditionExpression: 'PK = :pk AND SK BETWEEN :from AND :to',
        ExpressionAttributeValues: {
          ':pk': conversationEntity.key(org, conversationId).PK,
          ':from': keys.message(org, conversationId, page.after + 1).SK,
          // every MSG# key sorts before the prefix's next character
          ':to': `${messageEntity.prefix}~`,
        },
        Limit: page.limit,
        ConsistentRead: true,
      }),
    );
    const items: Message[] = (out.Items ?? []).map(messageEntity.from);
    const last = items.at(-1);
    return { items, ...(out.LastEvaluatedKey && last ? { after: last.seq } : {}) };
  }

  /** The conversation and its transcript's log, in one BatchGetItem (a customer message's decision). */
  async readWithLog(org: string, conversationId: string): Promise<{ conversation?: Conversation; log: MessageLog }> {
    const conversationKey = conversationEntity.key(org, conversationId);
    const logKey = messageLogEntity.key(org, conversationId);
    const at = byKey(await this.table.batchGet([conversationKey, logKey]));
    const c = at(conversationKey);
    return { ...(c ? { conversation: conversationEntity.from(c) } : {}), log: messageLogEntity.from(at(logKey)) };
  }
}
