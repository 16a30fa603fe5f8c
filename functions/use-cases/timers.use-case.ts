import { DomainError, RaceLostError } from '../domain/errors.js';
import { awaitedSeq, type MessageLog } from '../domain/messages.js';
import { enqueuedAtOf, type Actor, type Conversation } from '../domain/model.js';
import { dueStepNow } from '../domain/skills.js';
import type { Action } from '../domain/transitions.js';
import { addSeconds, PRESENCE_GRACE_SECONDS, timerName } from '../domain/timers.js';
import type { TimerKind, TimerRequest, Write } from '../domain/writes.js';
import type { Outbox } from '../ports/repositories.js';
import type { DueTimer } from '../ports/due-timer.js';
import { performAction } from './conversation-action.use-case.js';
import { afterPresenceChange } from './agent-presence.use-case.js';
import { dispatchAgent, dispatchConversation } from './dispatch.use-case.js';
import type { EngineDeps } from './engine.js';
import { fireWaitRule } from './overflow.use-case.js';

export type TimerOutcome = 'applied' | 'stale' | 're-armed';

export interface FiredTimer {
  name: string;
  /** the outbox item was re-armed under this very name: the firer must not delete it */
  keep?: boolean;
  /** the outbox item already left, in the transaction of the change the firing made: nothing to delete */
  removed?: boolean;
  kind: TimerRequest['kind'];
  org: string;
  conversationId?: string;
  agentId?: string;
  outcome: TimerOutcome;
  detail?: string;
}

const timerActor: Actor = { role: 'system', id: 'timer' };

/** the conversation actions a timer takes itself */
type TimerAction =
  'wrapup-release' | 'inactivity-timeout' | 'reconnect-timeout' | 'offer-expired' | 'relax' | 'agent-not-responding';
type Guard = (c: Conversation, log?: MessageLog) => string | undefined;

/**
 * What a firer gets: the timer and its outcomes (with the timer's own fields). A conversation
 * timer's re-check is the `guard` of its own action, evaluated on the action's one read (and on
 * every re-read after a lost race): firing is one BatchGetItem and one transaction, which also
 * removes the outbox item.
 */
interface FireContext {
  deps: EngineDeps;
  timer: DueTimer;
  now: Date;
  stale(detail: string): FiredTimer;
  applied(detail: string): FiredTimer;
  /**
   * the timer's own action through decide/commit, the outbox item deleted with it; refused (or guarded
   * off), 'stale'; `proveReplies`: the transaction checks the transcript's last reply as the guard read it
   */
  act(type: TimerAction, guard?: Guard, options?: { proveReplies: true }): Promise<FiredTimer>;
  /** the conversation as the last guard saw it (after a refused `act`), to re-arm from */
  seen(): Conversation | undefined;
  /** the timer's conversation, read on its own (for firers that need more than the guard can check) */
  read(): Promise<Conversation | undefined>;
  /** removes this outbox item: a write for the transaction of the change the firing makes */
  done: Write;
  /** the same fact, due later: a new outbox item committed with this one's removal */
  rearm(next: TimerRequest, why: string): Promise<FiredTimer>;
}

/** Fires one kind of timer: re-checks the state it was armed for, then changes it, or not ('stale'). */
type Firer = (ctx: FireContext) => Promise<FiredTimer>;

/** A refusal by the rules makes the firing 'stale'; anything else propagates. */
function staleIfRefused(err: unknown, stale: (detail: string) => FiredTimer): FiredTimer {
  // a lost race is no refusal: the timer stays in the outbox and fires again (TM-5 re-checks then)
  if (err instanceof DomainError && !(err instanceof RaceLostError)) return stale(err.message);
  throw err;
}

async function fireContext(deps: EngineDeps, timer: DueTimer): Promise<FireContext> {
  const base = {
    name: timer.name,
    kind: timer.kind,
    org: timer.org,
    ...(timer.conversationId ? { conversationId: timer.conversationId } : {}),
    ...(timer.agentId ? { agentId: timer.agentId } : {}),
  };
  const stale = (detail: string): FiredTimer => ({ ...base, outcome: 'stale', detail });
  const applied = (detail: string): FiredTimer => ({ ...base, outcome: 'applied', detail });
  const done: Write = { type: 'timer-done', org: timer.org, name: timer.name };
  let seen: Conversation | undefined;
  const act = async (type: TimerAction, guard?: Guard, options?: { proveReplies: true }): Promise<FiredTimer> => {
    try {
      const r = await performAction(deps, {
        org: timer.org,
        conversationId: timer.conversationId as string,
        actor: timerActor,
        action: { type } as Action,
        ...(options?.proveReplies ? { proveReplies: true } : {}),
        guard: (c, log) => {
          seen = c;
          return guard?.(c, log);
        },
        extraWrites: [done],
      });
      return { ...applied(`${r.rule} -> ${r.conversation.status}`), removed: true };
    } catch (err) {
      // Refused by the rules: the conversation moved on since the timer was armed (TM-5).
      return staleIfRefused(err, stale);
    }
  };
  const rearm = async (next: TimerRequest, why: string): Promise<FiredTimer> => {
    // the rewritten outbox item gets its precise trigger from the stream, like any other
    const same = timerName(next) === timer.name;
    await deps.commits.commit([{ type: 'timer', timer: next }, ...(same ? [] : [done])]);
    return {
      ...base,
      outcome: 're-armed',
      detail: `${why}; due at ${next.at}`,
      ...(same ? { keep: true } : { removed: true }),
    };
  };
  const read = async (): Promise<Conversation | undefined> =>
    timer.conversationId ? deps.conversations.getConversation(timer.org, timer.conversationId) : undefined;
  return { deps, timer, now: deps.clock.now(), stale, applied, act, seen: () => seen, read, done, rearm };
}

const FIRED_EARLY = 'fired early';

const fireWrapUpRelease: Firer = async ({ timer, now, act, seen, rearm }) => {
  // C-3: still in WrapUp, still holding the capacity this timer was armed to release, and due.
  const fired = await act('wrapup-release', (c) => {
    if (c.status !== 'WrapUp' || !c.allocation || !c.wrapUpReleaseAt) return 'the wrap-up capacity is no longer held';
    return Date.parse(c.wrapUpReleaseAt) > now.getTime() ? FIRED_EARLY : undefined;
  });
  const c = seen();
  if (fired.outcome !== 'stale' || !c?.wrapUpReleaseAt || !fired.detail?.endsWith(FIRED_EARLY)) return fired;
  return rearm(
    { kind: 'wrapup-release', org: timer.org, conversationId: c.id, version: c.version, at: c.wrapUpReleaseAt },
    FIRED_EARLY,
  );
};

const fireInactivityTimeout: Firer = async ({ deps, timer, now, read, stale, act, rearm }) => {
  // T-8 / TM-2: due = last activity (entering Waiting, or later activity) + the workstream's timeout now.
  const c = await read();
  if (c?.status !== 'Waiting') return stale('the conversation is no longer Waiting');
  const ws = await deps.configuration.getWorkstream(timer.org, c.workstreamId);
  if (!ws) return stale('the workstream is gone');
  const due = addSeconds(new Date(c.statusSince), ws.waitingInactivityTimeoutSeconds);
  if (Date.parse(due) > now.getTime())
    return rearm(
      { kind: 'inactivity-timeout', org: timer.org, conversationId: c.id, version: c.version, at: due },
      'activity after the timer was set',
    );
  // the same Waiting period, also when re-read after a lost race
  return act('inactivity-timeout', (x) =>
    x.status === 'Waiting' && x.statusSince === c.statusSince ? undefined : 'the conversation left that Waiting period',
  );
};

const fireReconnectTimeout: Firer = async ({ deps, timer, read, stale, act }) => {
  // T-4a / TM-3: the agent is still disconnected since the disconnect that armed this timer.
  const [agent, c] = await Promise.all([
    timer.agentId ? deps.agents.getAgent(timer.org, timer.agentId) : undefined,
    read(),
  ]);
  if (!agent || agent.connected || (agent.connectionEpoch ?? 0) !== timer.version)
    return stale('the agent reconnected');
  if (c?.status !== 'Active' || c.primaryAgentId !== agent.id)
    return stale('the conversation is no longer Active with this agent');
  // still this agent's, also when re-read after a lost race (a second delivery must not withdraw a new offer)
  return act('reconnect-timeout', (x) =>
    x.status === 'Active' && x.primaryAgentId === agent.id && x.statusSince === c.statusSince
      ? undefined
      : 'the conversation changed hands',
  );
};

const fireAgentResponse: Firer = async ({ timer, act }) => {
  // MS-3 / TM-5: the same Active period with the same agent, and no reply after the customer's message
  const seq = awaitedSeq(timer);
  // the transaction proves the log's last reply as read: a reply committed meanwhile makes it decide again
  return act(
    'agent-not-responding',
    (c, log) => {
      if (c.status !== 'Active' || c.accepted === false || c.primaryAgentId !== timer.agentId)
        return 'the conversation is no longer Active with this agent';
      // M-2: once the session ended no reply can reach the customer, and nothing routes the ticket again
      if (c.session.status === 'ended') return 'the messaging session ended';
      if (c.statusSince !== timer.subjectSince) return 'the conversation changed hands since';
      if (!Number.isFinite(seq) || (log?.replySeq ?? 0) > seq) return 'the agent replied in time';
      return undefined;
    },
    { proveReplies: true },
  );
};

const fireOfferExpiry: Firer = async ({ timer, act }) => {
  // the same offer is still waiting for acceptance. An offer is identified by its agent and
  // the moment it was made (statusSince), so unrelated changes (a supervisor joining) keep it alive.
  const sameOffer = (x: Conversation): string | undefined =>
    x.status === 'Active' &&
    x.accepted === false &&
    (timer.subjectSince
      ? x.statusSince === timer.subjectSince && x.primaryAgentId === timer.agentId
      : x.version === timer.version)
      ? undefined
      : 'the offer was answered or withdrawn';
  return act('offer-expired', sameOffer);
};

const fireDispatch: Firer = async ({ deps, timer, stale, applied }) => {
  // R-3 safety net: dispatch again; a conversation no longer Open, or an agent with no room, is a no-op.
  if (timer.conversationId) {
    const r = await dispatchConversation(deps, timer.org, timer.conversationId);
    return r.offeredTo ? applied(`offered to ${r.offeredTo}`) : stale('nothing to offer');
  }
  const r = await dispatchAgent(deps, timer.org, timer.agentId as string);
  return r.offered.length ? applied(`offered ${r.offered.join(', ')}`) : stale('nothing to offer');
};

const fireRelax: Firer = async ({ deps, timer, now, read, stale, act, rearm }) => {
  // K-3 / TM-5: the same wait in the same queue, and a step due beyond the current one (by the
  // workstream now, R-5); a step the configuration moved later is armed again for its new time
  const sameWait = (x: Conversation): string | undefined =>
    x.status === 'Open' && x.requirements && enqueuedAtOf(x) === timer.subjectSince
      ? undefined
      : 'the conversation left that wait in its queue';
  const c = await read();
  if (!c || sameWait(c)) return stale('the conversation left that wait in its queue');
  const ws = await deps.configuration.getWorkstream(timer.org, c.workstreamId);
  if (!ws) return stale('the workstream is gone');
  const step = c.requirements?.step ?? 0;
  if (dueStepNow(ws, c, now) <= step) {
    const next = ws.skillRelaxation?.[step];
    if (!next) return stale('no relaxation step left');
    return rearm(
      {
        kind: 'relax',
        org: timer.org,
        conversationId: c.id,
        version: c.version,
        at: addSeconds(new Date(enqueuedAtOf(c)), next.afterSeconds),
        subjectSince: enqueuedAtOf(c),
      },
      'the next step is not due yet',
    );
  }
  return act('relax', sameWait);
};

const fireDelay: Firer = async ({ deps, timer, read, stale, applied }) => {
  // a member's delay passed. A conversation's: only for the same wait in its queue (TM-5)
  if (timer.conversationId) {
    const c = await read();
    if (c?.status !== 'Open' || enqueuedAtOf(c) !== timer.subjectSince)
      return stale('the conversation left that wait in its queue');
    const r = await dispatchConversation(deps, timer.org, timer.conversationId);
    return r.offeredTo ? applied(`offered to ${r.offeredTo}`) : stale('nothing to offer');
  }
  const r = await dispatchAgent(deps, timer.org, timer.agentId as string);
  return r.offered.length ? applied(`offered ${r.offered.join(', ')}`) : stale('nothing to offer');
};

const fireOverflow: Firer = async ({ deps, timer, stale, applied, done, rearm }) => {
  // O-1: a wait-time overflow rule's threshold passed (TM-5 re-checks the wait and the rule)
  if (!timer.conversationId) return stale('no conversation');
  const r = await fireWaitRule(deps, { ...timer, conversationId: timer.conversationId }, done);
  if (r.outcome === 're-armed') return rearm(r.timer, r.detail);
  return r.outcome === 'applied' ? { ...applied(r.detail), removed: true } : stale(r.detail);
};

const fireNotify: Firer = async ({ deps, timer, stale, applied }) => {
  // E-2 / MS-2: published at least once; consumers dedupe on the notification's (or message's) id
  const body = timer.outbound ?? timer.notification;
  if (!body) return stale('no notification in the outbox item');
  if (!deps.notifier) throw new Error('no notifier configured: the notification stays in the outbox');
  await deps.notifier.publish(body);
  return applied(body.type);
};

const fireTrigger: Firer = async ({ deps, timer, stale, applied, done }) => {
  // M-3: the trigger's follow-up action, through the same rules as any action
  const a = timer.triggerAction;
  if (a?.type !== 'reassign') return stale('nothing to do');
  try {
    const r = await performAction(deps, {
      org: timer.org,
      conversationId: timer.conversationId as string,
      actor: { role: 'system', id: 'trigger' },
      action: { type: 'reassign', queueId: a.queueId },
      // TM-5: only the conversation as the triggering change left it (a second fire changes nothing)
      guard: (x) => (x.version === timer.version ? undefined : 'the conversation changed after the trigger'),
      extraWrites: [done],
    });
    return { ...applied(`${r.rule} -> ${r.conversation.status} in ${r.conversation.queueId}`), removed: true };
  } catch (err) {
    // refused by the rules: the conversation changed after the trigger (TM-5); a lost race fires again
    return staleIfRefused(err, stale);
  }
};

const firePresenceGrace: Firer = async ({ deps, timer, stale, applied, done }) => {
  // P-4 / TM-4: past the grace the agent is inactive: the manual override goes (P-3).
  const agent = timer.agentId ? await deps.agents.getAgent(timer.org, timer.agentId) : undefined;
  const epoch = agent?.connectionEpoch ?? 0;
  if (!agent || agent.connected || epoch !== timer.version) return stale('the agent reconnected');
  if (!agent.presenceOverride) {
    await afterPresenceChange(deps, timer.org, agent.id);
    return applied('presence computed again (no override to clear)');
  }
  const write: Write = {
    type: 'agent-state',
    org: timer.org,
    agentId: agent.id,
    set: {},
    remove: ['presenceOverride'],
    expectEpoch: epoch,
    bumpEpoch: false,
  };
  try {
    await deps.commits.commit([write, done]);
  } catch {
    return stale('the agent changed state meanwhile');
  }
  // the cleared override is a committed change: the stream refreshes and dispatches the agent
  return { ...applied('manual presence cleared after the grace'), removed: true };
};

/** One firer per kind: a kind added to TIMER_KINDS does not compile until it has one. */
const FIRERS: Record<TimerKind, Firer> = {
  'wrapup-release': fireWrapUpRelease,
  'inactivity-timeout': fireInactivityTimeout,
  'reconnect-timeout': fireReconnectTimeout,
  'offer-expiry': fireOfferExpiry,
  'presence-grace': firePresenceGrace,
  dispatch: fireDispatch,
  notify: fireNotify,
  trigger: fireTrigger,
  relax: fireRelax,
  delay: fireDelay,
  overflow: fireOverflow,
  'agent-response': fireAgentResponse,
};

/**
 * Fires one timer (TM-1..TM-5). Every kind re-checks the state it was armed for: fired late, twice,
 * or after its subject moved on, it changes nothing ('stale'). The change itself goes through the
 * same decide/commit path as any action, so its transaction re-checks status and version again.
 */
export async function fireTimer(deps: EngineDeps, timer: DueTimer): Promise<FiredTimer> {
  return FIRERS[timer.kind](await fireContext(deps, timer));
}

/**
 * Fires every outbox timer due by `now - graceSeconds`, then deletes it. A timer whose firing
 * throws (a transient fault) stays and is fired again by the next sweep. Repeats while firing
 * arms further due timers (bounded).
 */
export async function sweepDueTimers(
  deps: EngineDeps,
  timers: Outbox,
  options: { graceSeconds?: number; batch?: number; rounds?: number } = {},
): Promise<FiredTimer[]> {
  const fired: FiredTimer[] = [];
  const failed = new Set<string>();
  for (let round = 0; round < (options.rounds ?? 20); round++) {
    const until = new Date(deps.clock.now().getTime() - (options.graceSeconds ?? 0) * 1000);
    const due = (await timers.listDueTimers(until, options.batch ?? 100)).filter((t) => !failed.has(t.name));
    if (!due.length) break;
    for (const t of due) {
      try {
        const f = await fireTimer(deps, t);
        fired.push(f);
        if (!f.keep && !f.removed) await timers.deleteTimer(t.org, t.name);
        else failed.add(t.name); // re-armed for later: not again in this sweep
      } catch (err) {
        failed.add(t.name);
        deps.log?.warn('timer fire failed; it stays in the outbox for the next sweep', {
          name: t.name,
          error: String(err),
        });
      }
    }
  }
  return fired;
}

export { PRESENCE_GRACE_SECONDS };
