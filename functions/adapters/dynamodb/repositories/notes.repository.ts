import { PutCommand } from '@aws-sdk/lib-dynamodb';
import type { Note } from '../../../ports/read-types.js';
import type { Notes } from '../../../ports/repositories.js';
import { conversationEntity, noteEntity } from '../entities.js';
import type { Table } from '../table.js';

/** E-3: internal notes, beside their conversation. */
export class DynamoNotes implements Notes {
  constructor(private readonly table: Table) {}

  async addNote(note: Note): Promise<void> {
    await this.table.doc.send(
      new PutCommand({
        TableName: this.table.name,
        Item: noteEntity.item(note),
        ConditionExpression: 'attribute_not_exists(PK)',
      }),
    );
  }

  async listNotes(org: string, conversationId: string): Promise<Note[]> {
    const items = await this.table.queryAll({
      KeyConditionExpression: 'PK = :pk AND begins_with(SK, :prefix)',
      ExpressionAttributeValues: {
        ':pk': conversationEntity.key(org, conversationId).PK,
        ':prefix': noteEntity.prefix,
      },
    });
    return items.map(noteEntity.from);
  }
}
