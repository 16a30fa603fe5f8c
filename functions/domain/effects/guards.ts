import { ForbiddenActionError, ValidationError } from '../errors.js';
import type { Agent } from '../model.js';
import { presenceOf } from '../presence.js';
import type { DecideInput } from './context.js';

/** The receiving agent the action names must be the one the caller read (R-3, T-12, X-3, S-3, S-4). */
export function requireTargetAgent(input: DecideInput, id: string | undefined): Agent {
  const t = input.targetAgent;
  if (!id || !t || t.id !== id)
    throw new ValidationError('a target agent is required', [{ field: 'agentId', message: 'is required' }]);
  return t;
}

/** R-2 / S-3 / S-4 / X-2: the target agent's presence must be one the workstream allows. */
export function requireAllowedPresence(input: DecideInput, rule: string): void {
  const t = input.targetAgent;
  const ws = input.workstream;
  if (!t) throw new ValidationError('a target agent is required', [{ field: 'agentId', message: 'is required' }]);
  const { presence } = presenceOf(t, input.settings ?? {}, input.now);
  if (!ws.allowedPresences.includes(presence)) {
    throw new ForbiddenActionError(
      `${rule}: agent ${t.id} is ${presence}, which workstream ${ws.id} does not allow`,
      input.conversation.status,
    );
  }
}
