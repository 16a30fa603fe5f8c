import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import type { Repositories } from '../../../ports/repositories.js';
import { Table } from '../table.js';
import { DynamoAgents } from './agents.repository.js';
import { DynamoAvailability } from './availability.repository.js';
import { DynamoCommits } from './commits.js';
import { DynamoConfiguration } from './configuration.repository.js';
import { DynamoContacts } from './contacts.repository.js';
import { DynamoConversations } from './conversations.repository.js';
import { DynamoDecisionReads } from './decision-reads.js';
import { DynamoLists } from './lists.repository.js';
import { DynamoMessages } from './messages.repository.js';
import { DynamoNotes } from './notes.repository.js';
import { DynamoOutbox } from './outbox.repository.js';
import { DynamoQueueStats } from './queue-stats.repository.js';
import { DynamoReceipts } from './receipts.repository.js';

/** The engine's repositories on one table (and the table, for what tests and tools read directly). */
export interface DynamoRepositories extends Repositories {
  table: Table;
}

export function createDynamoRepositories(doc: DynamoDBDocumentClient, tableName: string): DynamoRepositories {
  const table = new Table(doc, tableName);
  return {
    table,
    conversations: new DynamoConversations(table),
    decisions: new DynamoDecisionReads(table),
    commits: new DynamoCommits(table),
    agents: new DynamoAgents(table),
    configuration: new DynamoConfiguration(table),
    availability: new DynamoAvailability(table),
    outbox: new DynamoOutbox(table),
    lists: new DynamoLists(table),
    contacts: new DynamoContacts(table),
    notes: new DynamoNotes(table),
    messages: new DynamoMessages(table),
    receipts: new DynamoReceipts(table),
    queueStats: new DynamoQueueStats(table),
  };
}
