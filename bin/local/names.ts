/** Table names of the local runtime (DynamoDB Local). */
export const TABLE_NAME_LOCAL = 'contact-center-engine';
