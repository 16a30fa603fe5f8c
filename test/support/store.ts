import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import {
  createDynamoRepositories,
  type DynamoRepositories,
} from '../../functions/adapters/dynamodb/repositories/index.js';
import type { Agent } from '../../functions/domain/model.js';
import type {
  Agents,
  AvailabilityIndex,
  Commits,
  Configuration,
  Contacts,
  Conversations,
  DecisionReads,
  Lists,
  Notes,
  Outbox,
  Receipts,
  Repositories,
} from '../../functions/ports/repositories.js';
import { refreshAvailability } from '../../functions/use-cases/availability.use-case.js';

/**
 * Tests arrange and inspect data through every repository at once: `f.store.putQueue(...)`,
 * `f.store.listEvents(...)`. This is a test convenience only; the engine's use cases reach each
 * repository by its own port (`deps.configuration`, `deps.conversations`, ...).
 */
export type TestStore = Conversations &
  DecisionReads &
  Commits &
  Agents &
  Configuration &
  AvailabilityIndex &
  Outbox &
  Lists &
  Contacts &
  Notes &
  Receipts & {
    tableName: string;
    repositories: DynamoRepositories;
    /** the refresh use case, as a follow-up runs it */
    refreshAvailability(org: string, agentId: string, now: Date, known?: Agent): Promise<void>;
  };

/** every repository of `Repositories`, by its deps name */
export const REPOSITORY_NAMES: readonly (keyof Repositories)[] = [
  'conversations',
  'decisions',
  'commits',
  'agents',
  'configuration',
  'availability',
  'outbox',
  'lists',
  'contacts',
  'notes',
  'messages',
  'receipts',
];

/** Every method of every repository on one object (each bound to its repository). */
export function storeFacade(repositories: DynamoRepositories): TestStore {
  const facade: Record<string, unknown> = {
    tableName: repositories.table.name,
    repositories,
    refreshAvailability: (org: string, agentId: string, now: Date, known?: Agent) =>
      refreshAvailability(repositories, org, agentId, now, known),
  };
  for (const name of REPOSITORY_NAMES) {
    const repo = repositories[name] as unknown as Record<string, unknown>;
    for (const method of Object.getOwnPropertyNames(Object.getPrototypeOf(repo))) {
      if (method === 'constructor' || method.startsWith('_')) continue;
      const fn = repo[method];
      if (typeof fn === 'function') facade[method] = (fn as (...a: unknown[]) => unknown).bind(repo);
    }
  }
  return facade as unknown as TestStore;
}

/** The repositories and their facade on a document client and table. */
export function testStoreOn(doc: DynamoDBDocumentClient, tableName: string): TestStore {
  return storeFacade(createDynamoRepositories(doc, tableName));
}
