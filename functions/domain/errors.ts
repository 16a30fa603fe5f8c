import type { Status } from './model.js';

/**
 * One error hierarchy for the whole engine. Handlers map these to problem+json in one place;
 * the `kind` decides the HTTP status, so nothing outside this file invents status codes.
 */
export type ErrorKind = 'validation' | 'unauthorized' | 'forbidden' | 'not-found' | 'conflict' | 'not-implemented';

export abstract class DomainError extends Error {
  abstract readonly kind: ErrorKind;
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
  }
}

export interface FieldError {
  field: string;
  message: string;
}

export class ValidationError extends DomainError {
  readonly kind = 'validation';
  constructor(
    message: string,
    readonly errors: FieldError[] = [],
  ) {
    super(message);
  }
}

export class NotFoundError extends DomainError {
  readonly kind = 'not-found';
  constructor(
    readonly entity: string,
    readonly id: string,
  ) {
    super(`${entity} ${id} was not found`);
  }
}

/** T-13 / RL-2: the action is not allowed from the current status (or lost a race). */
export class TransitionConflictError extends DomainError {
  readonly kind = 'conflict';
  constructor(
    readonly currentStatus: Status,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/** C-5: the agent's pool cannot take the units. */
export class CapacityExceededError extends DomainError {
  readonly kind = 'conflict';
  constructor(
    readonly currentStatus: Status,
    readonly agentId: string,
    readonly pool: string,
    readonly units: number,
  ) {
    super(`agent ${agentId} has not enough remaining capacity in pool "${pool}" for ${units} unit(s)`);
  }
}

/** T-13: the actor may not perform this action (not the primary, not a member, wrong role). */
export class ForbiddenActionError extends DomainError {
  readonly kind = 'forbidden';
  constructor(
    message: string,
    readonly currentStatus?: Status,
  ) {
    super(message);
  }
}

export class NotImplementedError extends DomainError {
  readonly kind = 'not-implemented';
}

/** 409 that is not a transition: an id taken by another tenant, an idempotency key in flight. */
export class ConflictError extends DomainError {
  readonly kind = 'conflict';
}

/** RL-1: this inbound event (or request) was already applied. */
export class DuplicateRequestError extends DomainError {
  readonly kind = 'conflict';
}
