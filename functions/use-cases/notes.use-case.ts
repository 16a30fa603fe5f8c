import { NotFoundError } from '../domain/errors.js';
import type { Note } from '../ports/read-types.js';
import type { ApiDeps } from './engine.js';

/**
 * E-3: internal notes belong to the conversation, never to the customer-facing channel, so they keep
 * working after the messaging session ended (M-2) and even once the conversation is Closed.
 */
export async function addNote(deps: ApiDeps, input: Omit<Note, 'id' | 'at'>): Promise<Note> {
  if (!(await deps.conversations.getConversation(input.org, input.conversationId)))
    throw new NotFoundError('conversation', input.conversationId);
  const note: Note = { ...input, id: deps.ids.newId(), at: deps.clock.now().toISOString() };
  await deps.notes.addNote(note);
  return note;
}

export async function listNotes(deps: ApiDeps, org: string, conversationId: string): Promise<Note[]> {
  if (!(await deps.conversations.getConversation(org, conversationId)))
    throw new NotFoundError('conversation', conversationId);
  return deps.notes.listNotes(org, conversationId);
}
