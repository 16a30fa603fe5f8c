import type { Note } from '../ports/read-types.js';
import type { Caller } from './caller.js';
import { readConversation } from './conversation-reads.use-case.js';
import type { ApiDeps } from './engine.js';

/**
 * E-3: internal notes belong to the conversation, never to the customer-facing channel, so they keep
 * working after the messaging session ended (M-2) and even once the conversation is Closed. RL-7: only
 * on a conversation the caller may see (404 otherwise).
 */
export async function addNote(
  deps: ApiDeps,
  caller: Caller,
  input: Omit<Note, 'id' | 'at' | 'org' | 'authorId'>,
): Promise<Note> {
  await readConversation(deps, caller, input.conversationId);
  const note: Note = {
    ...input,
    org: caller.org,
    authorId: caller.id,
    id: deps.ids.newId(),
    at: deps.clock.now().toISOString(),
  };
  await deps.notes.addNote(note);
  return note;
}

export async function listNotes(deps: ApiDeps, caller: Caller, conversationId: string): Promise<Note[]> {
  await readConversation(deps, caller, conversationId);
  return deps.notes.listNotes(caller.org, conversationId);
}
