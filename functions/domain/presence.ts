import type { Agent, OrgSettings, Presence } from './model.js';
import { PRESENCE_GRACE_SECONDS } from './timers.js';

export type PresenceSource = 'computed' | 'manual' | 'default';

/** P-4: disconnected for the grace (150 s) or longer: the agent counts as inactive. */
export const isInactive = (agent: Agent, now: Date): boolean =>
  agent.connected === false &&
  agent.disconnectedAt !== undefined &&
  now.getTime() - Date.parse(agent.disconnectedAt) >= PRESENCE_GRACE_SECONDS * 1000;

/**
 * The presence an agent shows now.
 * - signed out: Offline;
 * - P-3 / P-4: a manual override lasts while the agent is active, and through a disconnect shorter
 *   than the grace; past it the agent is inactive and the presence is computed again:
 * - P-5: an org default of Away or Offline is what a refresh sets;
 * - P-2: otherwise computed from capacity: Busy when a pool they use is full, else Available.
 */
export function presenceOf(
  agent: Agent,
  settings: Pick<OrgSettings, 'defaultPresence'>,
  now: Date,
): { presence: Presence; source: PresenceSource } {
  if (!agent.signedIn) return { presence: 'Offline', source: 'computed' };
  if (agent.presenceOverride && !isInactive(agent, now)) return { presence: agent.presenceOverride, source: 'manual' };
  if (settings.defaultPresence === 'Away' || settings.defaultPresence === 'Offline')
    return { presence: settings.defaultPresence, source: 'default' };
  const full = Object.values(agent.pools).some((p) => p.max > 0 && p.used >= p.max);
  return { presence: full ? 'Busy' : 'Available', source: 'computed' };
}

/** Presences push routing can ever offer work in; the workstream then narrows them. */
const ROUTABLE: readonly Presence[] = ['Available', 'Busy'];

/**
 * what the availability index holds for an agent: free units per pool while the agent is
 * signed in, active (P-4) and in a routable presence; null otherwise (no index entries).
 */
export function routableFree(
  agent: Agent,
  settings: Pick<OrgSettings, 'defaultPresence'>,
  now: Date,
): { presence: Presence; free: Record<string, number> } | null {
  if (!agent.signedIn || isInactive(agent, now)) return null;
  const { presence } = presenceOf(agent, settings, now);
  if (!ROUTABLE.includes(presence)) return null;
  return {
    presence,
    free: Object.fromEntries(Object.values(agent.pools).map((p) => [p.name, Math.max(0, p.max - p.used)])),
  };
}
