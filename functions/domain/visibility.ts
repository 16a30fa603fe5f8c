import type { Conversation } from './model.js';

/**
 * RL-7: the agents who are or were the conversation's primary (an offer included) or a consultant. Kept on
 * the conversation, growing with every change, so that visibility is decided on the conversation alone.
 */
export function participantsAfter(before: Conversation, next: Conversation): string[] | undefined {
  const all = new Set(before.participants ?? []);
  if (next.primaryAgentId && next.primaryKind !== 'external') all.add(next.primaryAgentId);
  for (const id of next.consultants) all.add(id);
  return all.size ? [...all] : undefined;
}

/**
 * RL-7: an agent (without a supervisor or admin role) sees a conversation of a queue she belongs to,
 * one where she is or was primary or consultant, and one a transfer offers her. Anything else is, for
 * her, not found: the same 404 as another org's id.
 */
export function visibleToAgent(c: Conversation, agentId: string, memberOf: readonly string[]): boolean {
  return (
    memberOf.includes(c.queueId) ||
    c.primaryAgentId === agentId ||
    c.consultants.includes(agentId) ||
    c.pendingTransfer?.to === agentId ||
    (c.participants ?? []).includes(agentId)
  );
}
