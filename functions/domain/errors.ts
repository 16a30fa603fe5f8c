import type { Status } from './model.js';

/**
 * One error hierarchy for the whole engine. Handlers map these to problem+json in one place;
 * the `kind` decides the HTTP status, so nothing outside this file invents status codes.
 */
export type ErrorKind =
  | 'validation'
  | 'unauthorized'
  | 'forbidden'
  | 'not-found'
  | 'conflict'
  | 'precondition-failed'
  | 'unprocessable'
  | 'not-implemented';

/**
 * `type` is the problem+json type (`urn:problem:<type>`): an explicit, stable string per error class,
 * part of the HTTP contract, never derived from a class name (renaming a class must not change it).
 */
export abstract class DomainError extends Error {
  abstract readonly kind: ErrorKind;
  abstract readonly type: string;
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
  readonly type = 'validation';
  constructor(
    message: string,
    readonly errors: FieldError[] = [],
  ) {
    super(message);
  }
}

export class NotFoundError extends DomainError {
  readonly kind = 'not-found';
  readonly type = 'not-found';
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
  readonly type = 'transition-conflict';
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
  readonly type = 'capacity-exceeded';
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
  readonly type = 'forbidden-action';
  constructor(
    message: string,
    readonly currentStatus?: Status,
  ) {
    super(message);
  }
}

export class NotImplementedError extends DomainError {
  readonly kind = 'not-implemented';
  readonly type = 'not-implemented';
}

/** 409 that is not a transition: an id taken by another tenant, an idempotency key in flight. */
export class ConflictError extends DomainError {
  readonly kind = 'conflict';
  readonly type = 'conflict';
}

/** RL-1: this inbound event (or request) was already applied. */
export class DuplicateRequestError extends DomainError {
  readonly kind = 'conflict';
  readonly type = 'duplicate-request';
}

/**
 * RL-2: the change lost every retry to concurrent changes. Not a refusal by the rules: the same request
 * may succeed if sent again (409, retryable). A customer event that ends here goes back to its queue.
 */
export class RaceLostError extends DomainError {
  readonly kind = 'conflict';
  readonly type = 'race-lost';
  readonly retryable = true;
  constructor(
    readonly currentStatus: Status,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/**
 * RL-8: the client acted on a version of the conversation that is no longer current (`If-Match`).
 * It names the current status and version, so the client can show what changed; nothing was written.
 */
export class PreconditionFailedError extends DomainError {
  readonly kind = 'precondition-failed';
  readonly type = 'precondition-failed';
  constructor(
    readonly currentStatus: Status,
    readonly currentVersion: number,
  ) {
    super(
      `RL-8: the conversation is now ${currentStatus} at version ${currentVersion}, not the version the request names`,
    );
  }
}

/** An Idempotency-Key already used for another action or body (IETF Idempotency-Key draft: 422). */
export class IdempotencyKeyReusedError extends DomainError {
  readonly kind = 'unprocessable';
  readonly type = 'idempotency-key-reused';
}
