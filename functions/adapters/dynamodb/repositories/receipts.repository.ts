import type { StoredReceipt } from '../../../ports/storage-types.js';
import type { Receipts } from '../../../ports/repositories.js';
import { receiptEntity } from '../entities.js';
import type { Table } from '../table.js';

/** Receipts (RL-1, Idempotency-Key): written only inside the transactions they guard; read here. */
export class DynamoReceipts implements Receipts {
  constructor(private readonly table: Table) {}

  async getReceipt(org: string, key: string): Promise<StoredReceipt | undefined> {
    const item = await this.table.getItem(receiptEntity.key(org, key));
    return item ? receiptEntity.from(item) : undefined;
  }

  async hasReceipt(org: string, key: string): Promise<boolean> {
    return (await this.table.getItem(receiptEntity.key(org, key))) !== undefined;
  }
}
