import { TABLE_DEFINITION, type IndexName } from '../../functions/adapters/dynamodb/table-definition.js';

/**
 * What a function may do with the single table. Each handler group gets the profile it needs, and
 * no more; a handler that starts reading or writing something new needs its profile changed here
 * (the grant and the env var come together in `EngineFunction.useTable`).
 */
export interface TableAccess {
  /** DynamoDB item actions, allowed on the table and on `indexes` */
  readonly actions: readonly DynamoAction[];
  /** indexes this function queries (Query on `<table>/index/<name>`) */
  readonly indexes: readonly IndexName[];
  /** when set, the actions are allowed only on items whose partition key matches one of these (IAM dynamodb:LeadingKeys) */
  readonly onlyPartitions?: readonly string[];
  /** actions explicitly denied on items whose partition key matches these patterns */
  readonly deny?: { readonly actions: readonly DynamoAction[]; readonly partitions: readonly string[] };
}

export type DynamoAction =
  | 'dynamodb:GetItem'
  | 'dynamodb:BatchGetItem'
  | 'dynamodb:Query'
  | 'dynamodb:PutItem'
  | 'dynamodb:UpdateItem'
  | 'dynamodb:DeleteItem'
  | 'dynamodb:BatchWriteItem'
  | 'dynamodb:ConditionCheckItem';

/**
 * BatchGetItem is an IAM action of its own (the decision reads, the queue counters); TransactGetItems is
 * authorized per item as GetItem.
 */
const READ: readonly DynamoAction[] = ['dynamodb:GetItem', 'dynamodb:BatchGetItem', 'dynamodb:Query'];
/** TransactWriteItems is authorized per item as Put/Update/Delete/ConditionCheck; there is no IAM action for it */
const WRITE: readonly DynamoAction[] = [
  'dynamodb:PutItem',
  'dynamodb:UpdateItem',
  'dynamodb:DeleteItem',
  'dynamodb:BatchWriteItem',
  'dynamodb:ConditionCheckItem',
];
const ALL_INDEXES: readonly IndexName[] = TABLE_DEFINITION.globalSecondaryIndexes.map((g) => g.indexName);

/**
 * Channel registrations (`CHANNELREG#<channelId>`) are the only items that hold a secret (the
 * channel's webhook signing secret). Only the webhook receiver reads them and only the admin API
 * writes them; every other function is explicitly denied them.
 */
export const CHANNEL_REGISTRATIONS = 'CHANNELREG#*';

export const TableAccess = {
  /** webhooks: one GetItem of the channel registration (org and secret) per request, nothing else */
  channelRegistrationLookup: { actions: ['dynamodb:GetItem'], indexes: [], onlyPartitions: [CHANNEL_REGISTRATIONS] },
  /** queues: the queue item, its open items (GSI1), its waiting list (GSI2, MX-1) and counters (MX-1, MX-3) */
  queueReads: {
    actions: READ,
    indexes: ['GSI1', 'GSI2'],
    deny: { actions: READ, partitions: [CHANNEL_REGISTRATIONS] },
  },
  /**
   * The engine (decide -> one transaction; and the follow-ups of a commit: availability refresh,
   * push dispatch, outbox items): reads on the table and every index, item writes. Used by the
   * conversation and agent functions, the queue and stream consumers and the sweeper; channel
   * registrations are out of bounds.
   */
  engine: {
    actions: [...READ, ...WRITE],
    indexes: ALL_INDEXES,
    deny: { actions: [...READ, ...WRITE], partitions: [CHANNEL_REGISTRATIONS] },
  },
  /** admin: the engine's access, and it registers channels (writes the secret) but never reads a registration back */
  admin: {
    actions: [...READ, ...WRITE],
    indexes: ALL_INDEXES,
    deny: { actions: READ, partitions: [CHANNEL_REGISTRATIONS] },
  },
} as const satisfies Record<string, TableAccess>;

export const isWrite = (a: DynamoAction): boolean => WRITE.includes(a);
