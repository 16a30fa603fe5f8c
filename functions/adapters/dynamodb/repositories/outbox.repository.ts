import { DeleteCommand, PutCommand, QueryCommand } from '@aws-sdk/lib-dynamodb';
import type { TimerRequest } from '../../../domain/writes.js';
import type { Outbox } from '../../../ports/repositories.js';
import type { DueTimer } from '../../../ports/due-timer.js';
import { timerEntity } from '../entities.js';
import { TIMER_SHARDS, timerPartition } from '../keys.js';
import type { Table } from '../table.js';

/** The timer outbox: items written in the transaction of the change that armed them (GSI3 `TIMERS#<shard>`). */
export class DynamoOutbox implements Outbox {
  constructor(private readonly table: Table) {}

  /** Due items of every org: each of the TIMER_SHARDS shards asked once, in parallel, for at most `limit`. */
  async listDueTimers(until: Date, limit: number): Promise<DueTimer[]> {
    const upper = `${until.toISOString()}$`; // '$' sorts after '#', so everything due at `until` is included
    const shards = await Promise.all(
      Array.from({ length: TIMER_SHARDS }, (_, shard) =>
        this.table.doc.send(
          new QueryCommand({
            TableName: this.table.name,
            IndexName: 'GSI3',
            KeyConditionExpression: 'GSI3PK = :pk AND GSI3SK < :upper',
            ExpressionAttributeValues: { ':pk': timerPartition(shard), ':upper': upper },
            Limit: limit,
          }),
        ),
      ),
    );
    return shards
      .flatMap((out) => out.Items ?? [])
      .map(timerEntity.from)
      .sort((a, b) => a.at.localeCompare(b.at))
      .slice(0, limit);
  }

  async getTimer(org: string, name: string): Promise<DueTimer | undefined> {
    const item = await this.table.getItem(timerEntity.key(org, name));
    return item ? timerEntity.from(item) : undefined;
  }

  async deleteTimer(org: string, name: string): Promise<void> {
    await this.table.doc.send(new DeleteCommand({ TableName: this.table.name, Key: timerEntity.key(org, name) }));
  }

  async armTimer(timer: TimerRequest): Promise<void> {
    try {
      await this.table.doc.send(
        new PutCommand({
          TableName: this.table.name,
          Item: timerEntity.item(timer),
          ConditionExpression: 'attribute_not_exists(PK)',
        }),
      );
    } catch (err) {
      // armed already (the name is deterministic): the first one stands
      if ((err as { name?: string }).name !== 'ConditionalCheckFailedException') throw err;
    }
  }
}
