import { canTake, unitsOver, wrapUpEffect } from '../capacity.js';
import { CapacityExceededError, TransitionConflictError, ValidationError } from '../errors.js';
import type { Agent } from '../model.js';
import { addSeconds } from '../timers.js';
import { targetAgentOf, type CapacityEffect } from '../transitions.js';
import {
  NO_EFFECT,
  withDetails,
  withTimer,
  without,
  type Details,
  type Draft,
  type EffectContext,
  type EffectStep,
} from './context.js';
import { requireAllowedPresence, requireTargetAgent } from './guards.js';

/** S-3: a supervisor's override assignment passes over capacity (and presence). */
const isOverride = ({ action }: EffectContext): boolean => action.type === 'assign' && action.override === true;

function agentToReserve(agent: Agent | undefined): Agent {
  if (!agent) throw new ValidationError('an agent is required to reserve capacity');
  return agent;
}

/** C-5: the pool must take the workstream's units, unless S-3 overrides. */
function requireRoom(ctx: EffectContext, candidate: Agent | undefined): void {
  const agent = agentToReserve(candidate);
  const { pool, units } = ctx.ws.capacity;
  if (!isOverride(ctx) && !canTake(agent, pool, units))
    throw new CapacityExceededError(ctx.c.status, agent.id, pool, units);
}

/** C-4 / C-6: what the draft holds goes exactly once, with the C-3 release time that belonged to it. */
function release({ c }: EffectContext, d: Draft): Draft {
  const held = d.next.allocation;
  if (!held) return d;
  return {
    ...withDetails(without(d, 'allocation', 'wrapUpReleaseAt'), {
      released: `${held.agentId}/${held.pool}/${held.units}`,
    }),
    capacityWrites: [
      ...d.capacityWrites,
      { type: 'allocation-delete', org: c.org, agentId: held.agentId, conversationId: c.id },
      { type: 'pool-release', org: c.org, agentId: held.agentId, pool: held.pool, units: held.units },
    ],
  };
}

/** C-2: reserve the workstream's units; the allocation item mirrors the conversation's (C-6). */
function allocate(ctx: EffectContext, d: Draft, candidate: Agent | undefined): Draft {
  const agent = agentToReserve(candidate);
  const { c, at } = ctx;
  const { pool, units } = ctx.ws.capacity;
  const override = isOverride(ctx);
  // S-3: the units over are reported and recorded; the write expects `used` as read, so they stay exact
  const over = override ? unitsOver(agent, pool, units) : undefined;
  const reported: Details = over === undefined ? {} : { unitsOverCapacity: over };
  return {
    ...withDetails(d, { ...reported, allocated: `${agent.id}/${pool}/${units}` }),
    ...(over === undefined ? {} : { unitsOverCapacity: over }),
    next: { ...d.next, allocation: { agentId: agent.id, pool, units, since: at } },
    capacityWrites: [
      ...d.capacityWrites,
      {
        type: 'pool-consume',
        org: c.org,
        agentId: agent.id,
        pool,
        units,
        ...(override ? { override: { expectUsed: agent.pools[pool]?.used ?? 0 } } : {}),
      },
      { type: 'allocation-put', org: c.org, agentId: agent.id, conversationId: c.id, pool, units, since: at },
    ],
  };
}

/** C-3: only the timer of a minutes policy releases, once, and not before its time. */
function checkWrapUpRelease({ rule, c, now }: EffectContext): void {
  if (rule.action !== 'wrapup-release') return;
  if (!c.allocation) throw new TransitionConflictError(c.status, 'C-6: the wrap-up capacity was already released');
  if (!c.wrapUpReleaseAt)
    throw new TransitionConflictError(
      c.status,
      'C-3: no minutes policy releases this capacity (always holds it until Closed)',
    );
  if (Date.parse(c.wrapUpReleaseAt) > now.getTime())
    throw new TransitionConflictError(c.status, `C-3: the wrap-up capacity block lasts until ${c.wrapUpReleaseAt}`);
}

/** C-3: entering WrapUp, the workstream's block policy decides when the capacity goes. */
function applyWrapUpPolicy(ctx: EffectContext, d: Draft): Draft {
  const { c, ws, now, version } = ctx;
  const effect = wrapUpEffect(ws.wrapUp.blockCapacity);
  const d1 = withDetails(d, { wrapUpPolicy: String(ws.wrapUp.blockCapacity) });
  if (effect.release) return release(ctx, d1);
  if (effect.releaseAfterMinutes === undefined || !d1.next.allocation) return d1;
  const wrapUpReleaseAt = addSeconds(now, effect.releaseAfterMinutes * 60);
  return withTimer(
    { ...d1, next: { ...d1.next, wrapUpReleaseAt } },
    { kind: 'wrapup-release', org: c.org, conversationId: c.id, version, at: wrapUpReleaseAt },
  );
}

/** R-3, T-12, S-3: the conversation goes to another agent, who must be the one read and may be refused. */
function checkMoveToTarget(ctx: EffectContext): void {
  const { rule, c, input } = ctx;
  const target = targetAgentOf(ctx.action);
  requireTargetAgent(input, target);
  if (target === c.primaryAgentId) {
    throw new ValidationError(`${rule.id}: the conversation must go to another agent`, [
      { field: 'agentId', message: 'is the current primary' },
    ]);
  }
  if (rule.id === 'S-3' && !isOverride(ctx)) requireAllowedPresence(input, rule.id);
  requireRoom(ctx, input.targetAgent);
}

/** Keyed by `TransitionRule.capacity` (C-2, C-3, C-4, C-6). */
export const CAPACITY_EFFECTS: Record<CapacityEffect, EffectStep> = {
  allocate: {
    check: (ctx) => requireRoom(ctx, ctx.input.agent),
    apply: (ctx, d) => allocate(ctx, d, ctx.input.agent),
  },
  release: { check: checkWrapUpRelease, apply: release },
  keep: NO_EFFECT,
  'wrap-up-policy': { apply: applyWrapUpPolicy },
  // X-3 / S-4: the receiver who accepts takes the units over from the original agent
  'move-to-actor': {
    check: (ctx) => requireRoom(ctx, ctx.input.agent),
    apply: (ctx, d) => allocate(ctx, release(ctx, d), ctx.input.agent),
  },
  'move-to-target': {
    check: checkMoveToTarget,
    apply: (ctx, d) => allocate(ctx, release(ctx, d), ctx.input.targetAgent),
  },
};
