/** Table names of the local runtime (DynamoDB Local). */
export const TABLE_NAME_LOCAL = 'contact-center-engine';

/**
 * The one interface every local service listens on (RL-10): DynamoDB Local, fauxqs and the HTTP
 * server. Nothing of the local stack is reachable from another machine.
 */
export const LOOPBACK = '127.0.0.1';
