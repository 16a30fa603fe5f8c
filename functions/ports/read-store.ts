import type { Contact, Conversation, OrgSettings, Status } from '../domain/model.js';
import type { Trigger } from '../domain/triggers.js';

export interface Page<T> {
  items: T[];
  nextCursor?: string;
}

export interface PageRequest {
  limit: number;
  cursor?: string;
}

export interface ConversationFilter {
  status?: Status;
  queueId?: string;
  agentId?: string;
  channelId?: string;
  threadId?: string;
}

/** E-3: an internal message, visible to agents and supervisors only */
export interface Note {
  org: string;
  conversationId: string;
  id: string;
  authorId: string;
  authorRole: 'agent' | 'supervisor';
  text: string;
  at: string;
}

export interface ChannelRegistration {
  org: string;
  channelId: string;
  secret: string;
}

/** Reads served by indexes (never a scan), plus the configuration the API manages. */
export interface ReadStore {
  listConversations(org: string, filter: ConversationFilter, page: PageRequest): Promise<Page<Conversation>>;
  /** Open conversations of a queue, oldest first */
  listOpenItems(org: string, queueId: string, page: PageRequest): Promise<Page<Conversation>>;
  listQueueMembers(org: string, queueId: string): Promise<string[]>;
  getSettings(org: string): Promise<OrgSettings>;
  putSettings(settings: OrgSettings): Promise<void>;
  putContact(contact: Contact, lookups: { phone?: string; email?: string }): Promise<void>;
  getContact(org: string, id: string): Promise<Contact | undefined>;
  getChannelRegistration(channelId: string): Promise<ChannelRegistration | undefined>;
  putTrigger(t: Trigger): Promise<void>;
  listAgentIds(org: string): Promise<string[]>;
  addNote(note: Note): Promise<void>;
  listNotes(org: string, conversationId: string): Promise<Note[]>;
}

export const STATUS_ORDER: readonly Status[] = ['Open', 'Active', 'WrapUp', 'Waiting', 'Closed'];
