import * as z from 'zod/mini';
import '../zod-messages.js';
import { ValidationError } from '../../domain/errors.js';
import type { Action } from '../../domain/transitions.js';
import {
  consultCandidates,
  conversationHistory,
  listConversations,
  readConversation,
} from '../../use-cases/conversation-reads.use-case.js';
import { readsAcrossOrg } from '../../use-cases/caller.js';
import { apiActor, performAction } from '../../use-cases/conversation-action.use-case.js';
import { readTranscript, sendReply } from '../../use-cases/messages.use-case.js';
import { addNote, listNotes } from '../../use-cases/notes.use-case.js';
import { readConfig } from '../../config.js';
import { fromEnvironment } from '../lambda.js';
import {
  createTableEngineRuntime,
  TABLE_ONLY_CAPABILITIES,
  type ApiRuntime,
  type TableEngineConfig,
  type TableEngineOverrides,
} from '../wiring/engine.js';
import { callerOf } from './auth.js';
import { etagOf, ifMatchVersions, notModified } from './etag.js';
import { httpGroup, ok, parse, type Route } from './http-handler.js';
import {
  assignBody,
  consultBody,
  prioritizeBody,
  emptyBody,
  idempotencyKeyHeader,
  listQuery,
  noteBody,
  pageQuery,
  replyBody,
  transferBody,
} from './schemas.js';
import {
  actionResultView,
  candidateView,
  conversationView,
  eventView,
  listView,
  messageView,
  noteView,
  pageView,
  viewAt,
} from './views.js';

const anyRole = { auth: 'jwt', roles: ['agent', 'supervisor', 'admin'] } as const;

/** API.md's actions. */
export const ACTIONS = [
  'accept',
  'reject',
  'end',
  'close',
  'release',
  'transfer',
  'consult',
  'resolve',
  'resume',
  'end-session',
  'monitor',
  'join',
  'assign',
  'force-close',
  'prioritize',
] as const;
const actionParam = z.enum(ACTIONS);
const PLAIN = [
  'accept',
  'reject',
  'end',
  'close',
  'release',
  'resolve',
  'resume',
  'monitor',
  'join',
  'force-close',
  'end-session',
] as const;
type Plain = (typeof PLAIN)[number];

function toAction(name: (typeof ACTIONS)[number], json: unknown): Action {
  if ((PLAIN as readonly string[]).includes(name)) {
    parse(emptyBody, json);
    return { type: name as Plain };
  }
  switch (name) {
    case 'transfer': {
      const b = parse(transferBody, json);
      if ('queueId' in b) return { type: 'transfer', target: { kind: 'queue', queueId: b.queueId } };
      if ('agentId' in b) return { type: 'transfer', target: { kind: 'agent', agentId: b.agentId } };
      return { type: 'transfer', target: { kind: 'external', number: b.externalNumber } };
    }
    case 'consult':
      return { type: 'consult', agentId: parse(consultBody, json).agentId };
    case 'assign': {
      const b = parse(assignBody, json);
      const override = b.override === true ? { override: true } : {};
      return 'agentId' in b
        ? { type: 'assign', target: { kind: 'agent', agentId: b.agentId }, ...override }
        : { type: 'assign', target: { kind: 'queue', queueId: b.queueId }, ...override };
    }
    case 'prioritize':
      return { type: 'prioritize', priority: parse(prioritizeBody, json).priority };
    default:
      throw new ValidationError(`unknown action ${name}`);
  }
}

export const conversationRoutes: Route<ApiRuntime>[] = [
  {
    ...anyRole,
    method: 'GET',
    path: '/v1/conversations/{id}',
    async handle({ claims, params, headers }, rt) {
      const c = await readConversation(rt.deps, callerOf(claims), params.id as string);
      // RL-8: the version is the ETag; a client polling with If-None-Match gets 304 until it changes
      const etag = { etag: etagOf(c.version) };
      return notModified(headers['if-none-match'], c.version)
        ? { status: 304, body: undefined, headers: etag }
        : ok(conversationView(c, rt.deps.clock.now()), 200, etag);
    },
  },
  {
    ...anyRole,
    method: 'GET',
    path: '/v1/conversations/{id}/events',
    handle: async ({ claims, params }, rt) =>
      ok(listView(await conversationHistory(rt.deps, callerOf(claims), params.id as string), eventView)),
  },
  {
    ...anyRole,
    method: 'GET',
    path: '/v1/conversations',
    async handle({ claims, query }, rt) {
      const q = parse(listQuery, query, 'query');
      return ok(pageView(await listConversations(rt.deps, callerOf(claims), q), viewAt(rt.deps.clock.now())));
    },
  },
  {
    ...anyRole,
    method: 'GET',
    path: '/v1/conversations/{id}/consult-candidates',
    handle: async ({ claims, params }, rt) =>
      ok(listView(await consultCandidates(rt.deps, callerOf(claims), params.id as string), candidateView)),
  },
  {
    auth: 'jwt',
    roles: ['agent', 'supervisor'],
    method: 'GET',
    path: '/v1/conversations/{id}/notes',
    handle: async ({ claims, params }, rt) =>
      ok(listView(await listNotes(rt.deps, callerOf(claims), params.id as string), noteView)),
  },
  {
    auth: 'jwt',
    roles: ['agent', 'supervisor'],
    method: 'POST',
    path: '/v1/conversations/{id}/notes',
    async handle({ claims, params, json }, rt) {
      const { text } = parse(noteBody, json);
      const role = claims.roles.includes('agent') ? 'agent' : 'supervisor';
      return ok(
        noteView(
          await addNote(rt.deps, callerOf(claims), { conversationId: params.id as string, authorRole: role, text }),
        ),
        201,
      );
    },
  },
  {
    auth: 'jwt',
    roles: ['agent', 'supervisor'],
    method: 'GET',
    path: '/v1/conversations/{id}/messages',
    async handle({ claims, params, query }, rt) {
      const page = parse(pageQuery, query, 'query');
      const transcript = await readTranscript(rt.deps, callerOf(claims), params.id as string, page);
      return ok(pageView(transcript, messageView));
    },
  },
  {
    auth: 'jwt',
    roles: ['agent', 'supervisor'],
    method: 'POST',
    path: '/v1/conversations/{id}/messages',
    async handle({ claims, params, json, headers }, rt) {
      const { text } = parse(replyBody, json);
      const key = idempotencyKeyOf(headers);
      const message = await sendReply(rt.deps, {
        caller: callerOf(claims),
        conversationId: params.id as string,
        text,
        ...(key ? { idempotencyKey: key } : {}),
      });
      return ok(messageView(message), 201);
    },
  },
  {
    ...anyRole,
    method: 'POST',
    path: '/v1/conversations/{id}/actions/{action}',
    async handle({ claims, params, json, headers }, rt) {
      const name = parse(actionParam, params.action, 'path.action');
      const key = idempotencyKeyOf(headers);
      const ifMatch = ifMatchVersions(headers['if-match']);
      const action = toAction(name, json);
      const result = await performAction(rt.deps, {
        org: claims.org,
        conversationId: params.id as string,
        actor: apiActor(claims.sub, claims.roles, action),
        ...(claims.roles.includes('agent') ? { actorAgentId: claims.sub } : {}),
        ...(readsAcrossOrg(callerOf(claims)) ? {} : { visibleTo: claims.sub }),
        action,
        ...(ifMatch ? { ifMatch } : {}),
        // the Idempotency-Key's receipt commits with the change (one mechanism, no extra table)
        ...(key ? { idempotencyKey: key, callerId: claims.sub } : {}),
      });
      return ok(actionResultView(result), 200, { etag: etagOf(result.conversation.version) });
    },
  },
];

/** The request's Idempotency-Key, checked (RL-9). */
function idempotencyKeyOf(headers: Record<string, string | undefined>): string | undefined {
  const keyHeader = headers['idempotency-key'];
  return keyHeader === undefined ? undefined : parse(idempotencyKeyHeader, keyHeader, 'header.Idempotency-Key');
}

/** DynamoDB only (Idempotency-Key receipts are items of the table): what an action causes follows from the stream. */
export function createHandler(config: TableEngineConfig, overrides: TableEngineOverrides = {}) {
  const rt = createTableEngineRuntime(config, overrides);
  return httpGroup(conversationRoutes, rt, rt.obs);
}

export const handler = fromEnvironment(() => createHandler(readConfig(TABLE_ONLY_CAPABILITIES)));
