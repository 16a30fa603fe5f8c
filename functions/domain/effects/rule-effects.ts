import type { Effect, TransitionRule } from '../transitions.js';
import { CAPACITY_EFFECTS } from './capacity.js';
import { NO_EFFECT, type EffectStep } from './context.js';
import { NOT_RESPONDING, OFFER_DECLINED, OFFER_EXPIRY_TIMER } from './offers.js';
import { CONSULT, JOIN, MONITOR } from './participants.js';
import { PENDING_TRANSFER_EXPIRY, PRIMARY_EFFECTS } from './primary.js';
import { OVERFLOW, PICK_RECORD, QUEUE_MOVE, RELAX, SET_PRIORITY } from './queue.js';
import { END_SESSION, FORCE_CLOSE } from './session.js';
import { DISPATCH_TIMERS, INACTIVITY_TIMER } from './timers.js';
import { COMPLETE_TRANSFER, DECLINE_TRANSFER, REQUEST_TRANSFER } from './transfers.js';

/** Keyed by `TransitionRule.effect`; a Record, so a new kind of effect in the table must get its function here. */
export const RULE_EFFECTS: Record<Effect, EffectStep> = {
  monitor: MONITOR,
  join: JOIN,
  // the queue moves in QUEUE_MOVE, which T-4c (no effect) shares
  'move-queue': NO_EFFECT,
  'request-transfer': REQUEST_TRANSFER,
  'complete-transfer': COMPLETE_TRANSFER,
  'decline-transfer': DECLINE_TRANSFER,
  consult: CONSULT,
  'force-close': FORCE_CLOSE,
  'end-session': END_SESSION,
  'set-priority': SET_PRIORITY,
  relax: RELAX,
  overflow: OVERFLOW,
  'not-responding': NOT_RESPONDING,
};

/**
 * The effects of a rule, in the order they apply. The order is part of the behaviour: capacity is
 * released before it is reserved again, the pending transfer expires after the rule's own effect set
 * or cleared it, and the timers see the conversation as the rule leaves it (queue, allocation, primary).
 */
export const effectsOf = (rule: TransitionRule): readonly EffectStep[] => [
  QUEUE_MOVE,
  CAPACITY_EFFECTS[rule.capacity],
  rule.effect ? RULE_EFFECTS[rule.effect] : NO_EFFECT,
  PENDING_TRANSFER_EXPIRY,
  PRIMARY_EFFECTS[rule.primary],
  PICK_RECORD,
  OFFER_DECLINED,
  DISPATCH_TIMERS,
  OFFER_EXPIRY_TIMER,
  INACTIVITY_TIMER,
];
