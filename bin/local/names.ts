/** Table names of the local runtime (DynamoDB Local). */
export const TABLE_NAME_LOCAL = 'contact-center-engine';
export const IDEMPOTENCY_TABLE_NAME_LOCAL = 'contact-center-engine-idempotency';
