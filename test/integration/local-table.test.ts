import { CreateTableCommand, DescribeTableCommand, DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { ulid } from 'ulid';
import { describe, expect, it } from 'vitest';
import { ensureTable } from '../../bin/local/dynamodb-local.js';
import { createTableInput, TABLE_DEFINITION } from '../../functions/adapters/dynamodb/table-definition.js';
import { dynamoEndpoint } from '../support/dynamo.js';

/** `npm start --data` on a table made by an older engine: the indexes added since are created. */
describe('the local table', () => {
  it('A-1: a table that lacks an index of the definition (GSI6) gets it; one that has them all is left as it is', async () => {
    // Prepare: the table as the engine made it before GSI6
    const tableName = `old-${ulid().toLowerCase()}`;
    const full = createTableInput(tableName);
    const client = new DynamoDBClient({
      endpoint: dynamoEndpoint(),
      region: 'local',
      credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
    });
    try {
      await client.send(
        new CreateTableCommand({
          ...full,
          AttributeDefinitions: full.AttributeDefinitions?.filter((a) => !a.AttributeName?.startsWith('GSI6')),
          GlobalSecondaryIndexes: full.GlobalSecondaryIndexes?.filter((g) => g.IndexName !== 'GSI6'),
        }),
      );

      // Act
      await ensureTable(dynamoEndpoint(), tableName);
      await ensureTable(dynamoEndpoint(), tableName);

      // Assess
      const { Table } = await client.send(new DescribeTableCommand({ TableName: tableName }));
      expect((Table?.GlobalSecondaryIndexes ?? []).map((g) => g.IndexName).sort()).toEqual(
        TABLE_DEFINITION.globalSecondaryIndexes.map((g) => g.indexName).sort(),
      );
    } finally {
      client.destroy();
    }
  });
});
