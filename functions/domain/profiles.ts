import { enqueuedAtOf, type Agent, type Conversation, type Membership } from './model.js';

/** a membership's priority levels (1 first) and the default of a bare queue id. */
export const MIN_MEMBERSHIP_PRIORITY = 1;
export const MAX_MEMBERSHIP_PRIORITY = 9;
export const DEFAULT_MEMBERSHIP: Readonly<Membership> = { priority: MIN_MEMBERSHIP_PRIORITY, delaySeconds: 0 };
/** a queue's availability lanes are one per distinct delay its members have (bounded, SC-2) */
export const MAX_QUEUE_DELAYS = 10;
export const MAX_DELAY_SECONDS = 86_400;

/** the agent's routing profile entry for a queue (a bare id: priority 1, no delay). */
export const membershipOf = (agent: Pick<Agent, 'memberships'>, queueId: string): Membership => ({
  ...DEFAULT_MEMBERSHIP,
  ...agent.memberships?.[queueId],
});

/** the agent's queues by membership priority, first level first (each level in her queue order). */
export function queueLevels(agent: Pick<Agent, 'queues' | 'memberships'>): string[][] {
  const levels = new Map<number, string[]>();
  for (const q of new Set(agent.queues)) {
    const { priority } = membershipOf(agent, q);
    levels.set(priority, [...(levels.get(priority) ?? []), q]);
  }
  return [...levels.entries()].sort(([a], [b]) => a - b).map(([, qs]) => qs);
}

/** Seconds the conversation has waited in its queue (Q-2's `enqueuedAt`). */
export const waitedSeconds = (c: Pick<Conversation, 'enqueuedAt' | 'statusSince'>, now: Date): number =>
  Math.max(0, (now.getTime() - Date.parse(enqueuedAtOf(c))) / 1000);

/** the membership's delay has passed for this conversation (it waited at least that long in the queue). */
export const delayPassed = (
  agent: Pick<Agent, 'memberships'>,
  c: Pick<Conversation, 'queueId' | 'enqueuedAt' | 'statusSince'>,
  now: Date,
): boolean => waitedSeconds(c, now) >= membershipOf(agent, c.queueId).delaySeconds;

/**
 * the availability lane of a requirement for members with a delay: members of a queue with a
 * delay are listed apart, one lane per delay, so a conversation's dispatch reads only agents whose
 * delay has passed (by keys, never a filter that could empty a page).
 */
export const laneKey = (requirement: string, delaySeconds: number): string =>
  delaySeconds > 0 ? `${requirement}@${delaySeconds}` : requirement;
