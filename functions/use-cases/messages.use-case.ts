import {
  ForbiddenActionError,
  NotFoundError,
  RaceLostError,
  TransitionConflictError,
  ValidationError,
} from '../domain/errors.js';
import { appendMessages, EMPTY_LOG, handledBy, mayReply, replyRefusal, type Message } from '../domain/messages.js';
import { visibleToAgent } from '../domain/visibility.js';
import type { Write } from '../domain/writes.js';
import { readsAcrossOrg, type Caller } from './caller.js';
import { keyedFor, keyedReceipt, replayReceipt, type KeyedRequest } from './conversation-action.use-case.js';
import { retryOnConflict, type ApiDeps } from './engine.js';

export interface ReplyCommand {
  caller: Caller;
  conversationId: string;
  text: string;
  idempotencyKey?: string;
}

/**
 * MS-2: an agent's (or a joined supervisor's) reply. Read (the conversation, the transcript's log, the
 * caller's record, the key's receipt: one BatchGetItem), decide, commit ONE transaction: the message at
 * the next `seq`, the log moved from where it was read, the outbox item that publishes `message.sent`,
 * a check that the conversation is still at the version decided on, and the key's receipt.
 */
export async function sendReply(deps: ApiDeps, cmd: ReplyCommand): Promise<Message> {
  const keyed = cmd.idempotencyKey
    ? keyedFor(cmd.caller.id, cmd.idempotencyKey, [cmd.conversationId, 'reply', cmd.text])
    : undefined;
  return retryOnConflict(
    deps,
    () => attemptReply(deps, cmd, keyed),
    async (last) => {
      throw new RaceLostError('Active', 'RL-2: the reply lost repeated races with other messages; retry', {
        cause: last,
      });
    },
  );
}

async function attemptReply(deps: ApiDeps, cmd: ReplyCommand, keyed: KeyedRequest | undefined): Promise<Message> {
  const { caller } = cmd;
  const read = await deps.decisions.readActionState(caller.org, {
    conversationId: cmd.conversationId,
    agents: readsAcrossOrg(caller) ? [] : [{ id: caller.id, pools: [] }],
    ...(keyed ? { receiptKey: keyed.receiptKey } : {}),
    log: true,
  });
  const c = read.conversation;
  const agent = Object.hasOwn(read.agents, caller.id) ? read.agents[caller.id] : undefined;
  if (!c || (!readsAcrossOrg(caller) && !visibleToAgent(c, caller.id, agent?.queues ?? [])))
    throw new NotFoundError('conversation', cmd.conversationId);
  if (read.receipt && keyed) return replayReceipt<Message>(read.receipt, keyed);
  if (!mayReply(c, caller.id, caller.roles))
    throw new ForbiddenActionError('MS-2: only the primary agent, or a supervisor who joined, may reply', c.status);
  const refusal = replyRefusal(c);
  if (refusal) throw new TransitionConflictError(c.status, refusal);
  const now = deps.clock.now();
  const appended = appendMessages(
    c,
    read.log ?? EMPTY_LOG,
    [{ from: 'agent', agentId: caller.id, text: cmd.text }],
    now.toISOString(),
  );
  const message = appended.messages[0] as Message;
  const receipt: Write[] = keyed ? [keyedReceipt(deps, caller.org, keyed, message)] : [];
  // cancelled (another message took the `seq`, the conversation moved, or the key's first request
  // committed): decided again on a fresh read, which sends it, refuses it (409) or replays the first result.
  // Nothing else makes a committed reply's resend fail as such (it does not move the conversation): the
  // attempt's token makes the SDK's resend of a transaction that committed succeed, not store it twice.
  await deps.commits.commit(
    [
      ...appended.writes,
      { type: 'conversation-check', org: caller.org, conversationId: c.id, version: c.version },
      ...receipt,
    ],
    { token: deps.ids.newId() },
  );
  return message;
}

export interface TranscriptPage {
  items: Message[];
  nextCursor?: string;
}

const CURSOR = /^m:(\d{1,10})$/;

/** MS-1: an opaque cursor naming the last `seq` returned. */
const encodeCursor = (seq: number): string => Buffer.from(`m:${seq}`, 'utf8').toString('base64url');

function decodeCursor(cursor: string | undefined): number {
  if (cursor === undefined) return 0;
  const m = CURSOR.exec(Buffer.from(cursor, 'base64url').toString('utf8'));
  if (!m)
    throw new ValidationError('invalid cursor', [{ field: 'cursor', message: 'is not a cursor this list returned' }]);
  return Number(m[1]);
}

/**
 * MS-1: the transcript, oldest first, one page per Query (constant work whatever its length). The org's
 * supervisors read it, and agents who are or were its primary or a consultant; an agent who may see the
 * conversation (RL-7, her queue) but never handled it is refused (403); one who may not see it, or
 * another org, finds nothing (404).
 */
export async function readTranscript(
  deps: ApiDeps,
  caller: Caller,
  conversationId: string,
  page: { limit: number; cursor?: string },
): Promise<TranscriptPage> {
  const after = decodeCursor(page.cursor);
  const across = readsAcrossOrg(caller);
  const [c, agent, found] = await Promise.all([
    deps.conversations.getConversation(caller.org, conversationId),
    across ? undefined : deps.agents.getAgent(caller.org, caller.id),
    deps.messages.listMessages(caller.org, conversationId, { limit: page.limit, after }),
  ]);
  if (!c) throw new NotFoundError('conversation', conversationId);
  if (!across && !handledBy(c, caller.id)) {
    if (!visibleToAgent(c, caller.id, agent?.queues ?? [])) throw new NotFoundError('conversation', conversationId);
    throw new ForbiddenActionError(
      'MS-1: only agents who handle or handled this conversation read its transcript',
      c.status,
    );
  }
  return { items: found.items, ...(found.after !== undefined ? { nextCursor: encodeCursor(found.after) } : {}) };
}
