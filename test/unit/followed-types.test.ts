import type { DynamoDBRecord } from 'aws-lambda';
import { describe, expect, it } from 'vitest';
import { changeOf, FOLLOWED_TYPES } from '../../functions/follow-ups/changes.js';
import { FOLLOWED_TYPES as DATA_ONLY } from '../../functions/follow-ups/followed-types.js';

/**
 * The stream event source mapping invokes the follow-ups function only for items whose `type` is
 * one of FOLLOWED_TYPES (its filter criteria, lib/stateless-stack.ts). So the list must be exactly
 * the types the consumer turns into changes: a type missing from it would never reach the function.
 */
const record = (image: Record<string, { S: string }>, side: 'NewImage' | 'OldImage'): DynamoDBRecord => ({
  eventName: side === 'NewImage' ? 'INSERT' : 'REMOVE',
  dynamodb: { SequenceNumber: '1', [side]: image },
});
const item = (type: string) => ({
  PK: { S: 'ORG#o' },
  SK: { S: `${type}#x` },
  type: { S: type },
  org: { S: 'o' },
  id: { S: 'x' },
  agentId: { S: 'a' },
  name: { S: 'x' },
});

describe('FOLLOWED_TYPES', () => {
  it('is the data-only list, re-exported by the stream consumer', () => {
    expect(FOLLOWED_TYPES).toBe(DATA_ONLY);
  });

  it.each(FOLLOWED_TYPES)('a change of a %s item, written or removed, is a change for the follow-ups', (type) => {
    expect(changeOf(record(item(type), 'NewImage'))).toBeDefined();
    expect(changeOf(record(item(type), 'OldImage'))).toBeDefined();
  });

  it.each(['event', 'receipt', 'note', 'availability', 'thread', 'settings', 'channel-registration'])(
    'a %s item causes none (the filter drops it)',
    (type) => {
      expect(changeOf(record(item(type), 'NewImage'))).toBeUndefined();
    },
  );
});
