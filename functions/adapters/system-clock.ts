import { ulid } from 'ulid';
import type { Clock, IdGenerator } from '../ports/clock.js';

export const systemClock: Clock = { now: () => new Date(Date.now()) };

/** ULIDs: 26 characters of [0-9A-Z], valid path ids (API.md), sortable by creation time. */
export const ulidIds: IdGenerator = { newId: () => ulid() };
