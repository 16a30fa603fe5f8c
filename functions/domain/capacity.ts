import type { Agent, Pool, WrapUpBlockPolicy } from './model.js';

/** C-7: remaining = maximum - units of live allocations. Never negative in the report. */
export const remaining = (pool: Pool | undefined): number => (pool ? Math.max(0, pool.max - pool.used) : 0);

/** C-5: whether a pool can take `units` more without exceeding its maximum. */
export const canTake = (agent: Agent, pool: string, units: number): boolean => {
  const p = agent.pools[pool];
  return p !== undefined && p.used + units <= p.max;
};

/** C-5 with S-3 override: units by which the pool would be exceeded after taking `units`. */
export const unitsOver = (agent: Agent, pool: string, units: number): number => {
  const p = agent.pools[pool];
  const max = p?.max ?? 0;
  const used = p?.used ?? 0;
  return Math.max(0, used + units - max);
};

/** C-3: validates a block policy; minutes must be a whole number from 1 to 60. */
export const isValidWrapUpPolicy = (policy: unknown): policy is WrapUpBlockPolicy =>
  policy === 'always' ||
  policy === 'never' ||
  (Number.isInteger(policy) && (policy as number) >= 1 && (policy as number) <= 60);

export type WrapUpEffect = { release: true } | { release: false; releaseAfterMinutes?: number };

/** C-3: what entering WrapUp does to the held capacity. */
export const wrapUpEffect = (policy: WrapUpBlockPolicy): WrapUpEffect => {
  if (policy === 'never') return { release: true };
  if (policy === 'always') return { release: false };
  return { release: false, releaseAfterMinutes: policy };
};
