import type { Agent, OrgSettings, Presence } from './model.js';

export type PresenceSource = 'computed' | 'manual' | 'default';

/**
 * The presence an agent shows now.
 * - signed out: Offline;
 * - P-3: a manual override wins while it lasts;
 * - P-5: an org default of Away or Offline is what a refresh sets;
 * - P-2: otherwise computed from capacity: Busy when a pool they use is full, else Available.
 */
export function presenceOf(agent: Agent, settings: Pick<OrgSettings, 'defaultPresence'>): { presence: Presence; source: PresenceSource } {
  if (!agent.signedIn) return { presence: 'Offline', source: 'computed' };
  if (agent.presenceOverride) return { presence: agent.presenceOverride, source: 'manual' };
  if (settings.defaultPresence === 'Away' || settings.defaultPresence === 'Offline') return { presence: settings.defaultPresence, source: 'default' };
  const full = Object.values(agent.pools).some((p) => p.max > 0 && p.used >= p.max);
  return { presence: full ? 'Busy' : 'Available', source: 'computed' };
}
