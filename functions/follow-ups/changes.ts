import type { AttributeValue } from '@aws-sdk/client-dynamodb';
import { unmarshall } from '@aws-sdk/util-dynamodb';
import type { DynamoDBRecord } from 'aws-lambda';
import type { Conversation } from '../domain/model.js';
import type { DueTimer } from '../ports/due-timer.js';

/**
 * A committed change, as the table's stream reports it (NEW_AND_OLD_IMAGES): the item before and
 * after one write. Follow-ups are derived from these, never from what a request meant to do, so
 * whatever committed, and only that, has its consequences.
 */
export type Change =
  | { kind: 'conversation'; before?: Conversation; after?: Conversation }
  | { kind: 'pool'; org: string; agentId: string; freeBefore?: number; freeAfter?: number }
  | { kind: 'agent'; org: string; agentId: string; before?: Record<string, unknown>; after?: Record<string, unknown> }
  | { kind: 'timer'; timer: DueTimer; removed: boolean }
  /** K-2: a queue's requirement registry gained requirements (`added`) */
  | { kind: 'requirements'; org: string; queueId: string; added: string[] };

/** A change with the stream position it came from (reported back when its follow-up fails). */
export interface PositionedChange {
  sequenceNumber: string;
  change: Change;
}

type Image = Record<string, AttributeValue> | undefined;

const plain = (image: Image): Record<string, unknown> | undefined =>
  image ? unmarshall(defined(image) as Parameters<typeof unmarshall>[0]) : undefined;

/**
 * Drops attribute values that hold no value. A map key such as `__proto__` (customer-supplied
 * context) can arrive that way from a stream reader that parses records into plain objects; no
 * follow-up reads such attributes, and one odd key must not make a whole change unreadable.
 */
function defined(image: Record<string, AttributeValue>): Record<string, AttributeValue> {
  const out: Record<string, AttributeValue> = {};
  for (const [k, v] of Object.entries(image)) {
    const value = definedValue(v);
    if (value) out[k] = value;
  }
  return out;
}

/** ...at any depth: maps inside lists too (a workstream's relaxation steps hold `requires: {}`, K-3) */
function definedValue(v: AttributeValue | undefined): AttributeValue | undefined {
  if (!v || typeof v !== 'object' || Object.keys(v).length === 0) return undefined;
  if ('M' in v && v.M) return { M: defined(v.M) };
  if ('L' in v && v.L) return { L: v.L.map(definedValue).filter((x): x is AttributeValue => x !== undefined) };
  return v;
}

export { FOLLOWED_TYPES } from './followed-types.js';

export function changeOf(record: DynamoDBRecord): Change | undefined {
  const before = plain(record.dynamodb?.OldImage as Image);
  const after = plain(record.dynamodb?.NewImage as Image);
  const item = after ?? before;
  switch (item?.type) {
    case 'conversation':
      return {
        kind: 'conversation',
        ...(before ? { before: before as unknown as Conversation } : {}),
        ...(after ? { after: after as unknown as Conversation } : {}),
      };
    case 'pool':
      return {
        kind: 'pool',
        org: String(item.org),
        agentId: String(item.agentId),
        ...(before ? { freeBefore: Number(before.free) } : {}),
        ...(after ? { freeAfter: Number(after.free) } : {}),
      };
    case 'agent':
      return {
        kind: 'agent',
        org: String(item.org),
        agentId: String(item.id),
        ...(before ? { before } : {}),
        ...(after ? { after } : {}),
      };
    case 'timer': {
      // the outbox item without its storage attributes: the timer as the change armed it, and its name
      const { PK: _pk, SK: _sk, type: _type, GSI3PK: _gpk, GSI3SK: _gsk, expiresAt: _exp, ...timer } = item;
      return { kind: 'timer', timer: timer as unknown as DueTimer, removed: !after };
    }
    case 'queue-requirements': {
      const had = new Set((before?.requirements as Set<string> | undefined) ?? []);
      const added = [...((after?.requirements as Set<string> | undefined) ?? [])].filter((r) => !had.has(r));
      return { kind: 'requirements', org: String(item.org), queueId: String(item.queueId), added };
    }
    default:
      return undefined;
  }
}

export function changesOf(records: readonly DynamoDBRecord[]): PositionedChange[] {
  const out: PositionedChange[] = [];
  for (const r of records) {
    const change = changeOf(r);
    if (change) out.push({ sequenceNumber: r.dynamodb?.SequenceNumber ?? '', change });
  }
  return out;
}
