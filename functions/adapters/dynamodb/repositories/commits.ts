import type { AttributeValue } from '@aws-sdk/client-dynamodb';
import { TransactWriteCommand } from '@aws-sdk/lib-dynamodb';
import { unmarshall } from '@aws-sdk/util-dynamodb';
import type { Write } from '../../../domain/writes.js';
import { CommitConflict, type WriteFailure } from '../../../ports/storage-types.js';
import type { Commits } from '../../../ports/repositories.js';
import type { Table } from '../table.js';
import { buildTransaction, transactionWrites } from '../transact.js';

interface CancellationReason {
  Code?: string;
  Item?: Record<string, AttributeValue>;
}

const toPlain = (item: Record<string, AttributeValue> | undefined): Record<string, unknown> | undefined => {
  if (!item) return undefined;
  try {
    return unmarshall(item);
  } catch {
    return item as Record<string, unknown>;
  }
};

const RACE_ERRORS = new Set([
  'IdempotentParameterMismatchException',
  'TransactionInProgressException',
  'TransactionConflictException',
]);

/** One state change = one TransactWriteItems; a cancellation names each failed write with the item as it was. */
export class DynamoCommits implements Commits {
  constructor(private readonly table: Table) {}

  async commit(all: readonly Write[], options: { token?: string } = {}): Promise<void> {
    const writes = transactionWrites(all);
    try {
      const input = buildTransaction(this.table.name, writes);
      await this.table.doc.send(
        new TransactWriteCommand(options.token ? { ...input, ClientRequestToken: options.token } : input),
      );
    } catch (err) {
      const name = (err as { name?: string }).name;
      if (name === 'TransactionCanceledException') {
        const reasons = (err as { CancellationReasons?: CancellationReason[] }).CancellationReasons ?? [];
        const failures: WriteFailure[] = [];
        reasons.forEach((r, i) => {
          const write = writes[i];
          if (!write || !r.Code || r.Code === 'None') return;
          const current = toPlain(r.Item);
          failures.push({ write, code: r.Code, ...(current ? { current } : {}) });
        });
        throw new CommitConflict(failures, { cause: err });
      }
      if (name && RACE_ERRORS.has(name)) throw new CommitConflict([], { cause: err });
      throw err;
    }
  }
}
