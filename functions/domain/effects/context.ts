import type { Actor, Agent, Conversation, Notification, OrgSettings, Workstream } from '../model.js';
import type { Action, TransitionRule } from '../transitions.js';
import type { TimerRequest, Write } from '../writes.js';

export interface DecideInput {
  conversation: Conversation;
  actor: Actor;
  action: Action;
  /** the conversation's workstream as configured now (R-5: config applies to the next decision) */
  workstream: Workstream;
  /** the acting agent, needed when the rule reserves capacity for them or checks membership */
  agent?: Agent;
  /** the receiving agent of an offer, a transfer (T-12, X-3, S-4), an assignment (S-3) or a consult */
  targetAgent?: Agent;
  /** org settings, for presence checks on the target agent (S-3, S-4, X-2) */
  settings?: Pick<OrgSettings, 'defaultPresence'>;
  now: Date;
}

/** What every effect may read: the input, the rule that allowed it, and the version and instant the change writes. */
export interface EffectContext {
  readonly input: DecideInput;
  readonly rule: TransitionRule;
  /** the conversation as read, which the write expects (RL-2); what earlier effects changed is in the draft */
  readonly c: Conversation;
  readonly actor: Actor;
  readonly action: Action;
  readonly ws: Workstream;
  readonly now: Date;
  readonly at: string;
  readonly version: number;
}

export type Details = Readonly<Record<string, string | number | boolean>>;

/**
 * The decision while the effects build it. Each effect returns a new draft, so what one effect
 * contributes is visible to the ones after it (`effectsOf`): a release before the allocation of T-12 / X-3.
 */
export interface Draft {
  readonly next: Conversation;
  readonly capacityWrites: readonly Write[];
  readonly timers: readonly TimerRequest[];
  readonly notifications: readonly Notification[];
  readonly details: Details;
  /** S-3 */
  readonly unitsOverCapacity?: number;
}

/**
 * One effect of a rule field. Every `check` runs before any `apply`: refusals depend only on what was
 * read, so a refused action contributes nothing, and `apply` can assume the checks held.
 */
export interface EffectStep {
  readonly check?: (ctx: EffectContext) => void;
  readonly apply: (ctx: EffectContext, d: Draft) => Draft;
}

export const NO_EFFECT: EffectStep = { apply: (_ctx, d) => d };

export const withDetails = (d: Draft, details: Details): Draft => ({ ...d, details: { ...d.details, ...details } });

export const withTimer = (d: Draft, timer: TimerRequest): Draft => ({ ...d, timers: [...d.timers, timer] });

export const withNext = (d: Draft, patch: Partial<Conversation>): Draft => ({ ...d, next: { ...d.next, ...patch } });

type OptionalKey = {
  [K in keyof Conversation]-?: undefined extends Conversation[K] ? K : never;
}[keyof Conversation];

/** Removes the keys rather than setting them undefined: the item written is the conversation as it is. */
export const without = (d: Draft, ...keys: OptionalKey[]): Draft => {
  const next: Conversation = { ...d.next };
  for (const k of keys) delete next[k];
  return { ...d, next };
};

export const addOnce = (list: readonly string[] | undefined, id: string): string[] => [
  ...(list ?? []).filter((x) => x !== id),
  id,
];
