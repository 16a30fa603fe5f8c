/** Types of the lists the API pages (never a scan) and of notes and channel registrations. */
import type { SignatureScheme, Status } from '../domain/model.js';

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
  /** RL-9; absent on registrations stored before it: `body` */
  signature?: SignatureScheme;
}

export const STATUS_ORDER: readonly Status[] = ['Open', 'Active', 'WrapUp', 'Waiting', 'Closed'];
