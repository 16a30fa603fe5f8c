import { enqueuedAtOf, type Conversation, type Skills, type Workstream } from './model.js';
import { addSeconds } from './timers.js';
import type { TimerRequest } from './writes.js';

/** K-1: proficiency levels. */
export const MIN_LEVEL = 1;
export const MAX_LEVEL = 5;

/** The requirement key of "any agent of the queue" (no skill required). */
export const ANY_REQUIREMENT = 'any';

/**
 * A requirement's stable key: its skills sorted by name, `skill=level` joined by commas
 * (`billing=3,french=2`), or `any` when it requires nothing. Skill names are ids
 * (`[A-Za-z0-9_-]`), so the key is unambiguous and fits in an index key as it is.
 */
export const requirementKey = (skills: Readonly<Skills> | undefined): string => {
  const names = Object.keys(skills ?? {}).sort();
  return names.length ? names.map((n) => `${n}=${(skills as Skills)[n]}`).join(',') : ANY_REQUIREMENT;
};

/** The skills a requirement key stands for (the inverse of `requirementKey`). */
export const requirementOf = (key: string): Skills =>
  key === ANY_REQUIREMENT
    ? {}
    : Object.fromEntries(
        key.split(',').map((part) => {
          const [name, level] = part.split('=');
          return [name as string, Number(level)];
        }),
      );

/** K-2: every required skill at or above its level. */
export const meets = (agentSkills: Readonly<Skills> | undefined, required: Readonly<Skills> | undefined): boolean =>
  Object.entries(required ?? {}).every(([skill, level]) => (agentSkills?.[skill] ?? 0) >= level);

/** The key of a conversation's current requirement (K-2, K-3). */
export const requirementKeyOf = (c: Pick<Conversation, 'requirements'>): string =>
  requirementKey(c.requirements?.skills);

/**
 * K-3: the relaxation step due after `waitedSeconds` in the queue: the last step whose `afterSeconds`
 * has passed (1-based; 0 when none has). Steps are validated in increasing `afterSeconds`.
 */
export const dueStep = (ws: Pick<Workstream, 'skillRelaxation'>, waitedSeconds: number): number => {
  const steps = ws.skillRelaxation ?? [];
  let due = 0;
  steps.forEach((s, i) => {
    if (s.afterSeconds <= waitedSeconds) due = i + 1;
  });
  return due;
};

/** K-3: the step due for a conversation now, by its wait in the queue (from `enqueuedAt`, Q-2). */
export const dueStepNow = (
  ws: Pick<Workstream, 'skillRelaxation'>,
  c: Pick<Conversation, 'enqueuedAt' | 'statusSince'>,
  now: Date,
): number => dueStep(ws, (now.getTime() - Date.parse(enqueuedAtOf(c))) / 1000);

/**
 * The requirement keys each queue's conversations may carry, by the workstream's configuration: a
 * rule's own requirement in the rule's queue, and each relaxation step's in every queue a rule
 * with a requirement routes to (relaxation applies to conversations that entered with one).
 */
export const requirementsByQueue = (
  ws: Pick<Workstream, 'routingRules' | 'skillRelaxation'>,
): Map<string, Set<string>> => {
  const out = new Map<string, Set<string>>();
  const add = (queueId: string, key: string): void => {
    if (key === ANY_REQUIREMENT) return;
    let set = out.get(queueId);
    if (!set) out.set(queueId, (set = new Set()));
    set.add(key);
  };
  for (const rule of ws.routingRules) {
    const own = requirementKey(rule.requires);
    if (own === ANY_REQUIREMENT) continue;
    add(rule.queueId, own);
    for (const step of ws.skillRelaxation ?? []) add(rule.queueId, requirementKey(step.requires));
  }
  return out;
};

/**
 * K-3: the timer of the next relaxation step, armed when a conversation with a requirement starts
 * (or resumes) waiting in a queue, or when a step applied. Due when the wait reaches the step's
 * `afterSeconds` (at once if it already has); it carries the wait's start, which its firing checks.
 */
export function relaxTimer(
  before: Pick<Conversation, 'status' | 'queueId' | 'requirements'> | undefined,
  next: Conversation,
  ws: Pick<Workstream, 'skillRelaxation' | 'distribution'>,
  now: Date,
): TimerRequest[] {
  // K-4: requirements restrict push routing only (R-4 pick is not restricted)
  if (ws.distribution !== 'push') return [];
  const req = next.requirements;
  const step = req ? ws.skillRelaxation?.[req.step] : undefined;
  if (next.status !== 'Open' || !req || !step || !next.enqueuedAt) return [];
  const resumed =
    before?.status !== 'Open' || before.queueId !== next.queueId || before.requirements?.step !== req.step;
  if (!resumed) return [];
  const due = addSeconds(new Date(next.enqueuedAt), step.afterSeconds);
  return [
    {
      kind: 'relax',
      org: next.org,
      conversationId: next.id,
      version: next.version,
      at: Date.parse(due) > now.getTime() ? due : addSeconds(now, 0),
      subjectSince: next.enqueuedAt,
    },
  ];
}
