import * as z from 'zod/mini';
import '../zod-messages.js';
import { ForbiddenActionError, ValidationError } from '../../domain/errors.js';
import type { Action } from '../../domain/transitions.js';
import { consultCandidates } from '../../use-cases/conversation-reads.use-case.js';
import { apiActor, performAction, type ActionResult } from '../../use-cases/conversation-action.use-case.js';
import { addNote, listNotes } from '../../use-cases/notes.use-case.js';
import { readConfig } from '../../config.js';
import { fromEnvironment } from '../lambda.js';
import {
  createTableEngineRuntime,
  TABLE_ONLY_CAPABILITIES,
  type EngineRuntime,
  type TableEngineConfig,
  type TableEngineOverrides,
} from '../wiring/engine.js';
import { found, httpGroup, ok, parse, type Route } from './http-handler.js';
import {
  assignBody,
  consultBody,
  emptyBody,
  idempotencyKeyHeader,
  listQuery,
  noteBody,
  transferBody,
} from './schemas.js';
import { conversationView, eventView } from './views.js';

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
    default:
      throw new ValidationError(`unknown action ${name}`);
  }
}

const result = (r: ActionResult): Record<string, unknown> => ({
  ...conversationView(r.conversation),
  ...(r.unitsOverCapacity !== undefined ? { unitsOverCapacity: r.unitsOverCapacity } : {}),
});

type ConversationsRuntime = EngineRuntime;

export const conversationRoutes: Route<ConversationsRuntime>[] = [
  {
    ...anyRole,
    method: 'GET',
    path: '/v1/conversations/{id}',
    handle: async ({ claims, params }, rt) =>
      ok(
        conversationView(
          await found(rt.store.getConversation(claims.org, params.id as string), 'conversation', params.id),
        ),
      ),
  },
  {
    ...anyRole,
    method: 'GET',
    path: '/v1/conversations/{id}/events',
    async handle({ claims, params }, rt) {
      const id = params.id as string;
      await found(rt.store.getConversation(claims.org, id), 'conversation', id);
      return ok({ items: (await rt.store.listEvents(claims.org, id)).map(eventView) });
    },
  },
  {
    ...anyRole,
    method: 'GET',
    path: '/v1/conversations',
    async handle({ claims, query }, rt) {
      const q = parse(listQuery, query, 'query');
      const supervisor = claims.roles.includes('supervisor') || claims.roles.includes('admin');
      if (!supervisor && q.agentId && q.agentId !== claims.sub)
        throw new ForbiddenActionError('an agent can list only their own conversations');
      const { limit, cursor, ...filter } = q;
      const page = await rt.store.listConversations(
        claims.org,
        supervisor ? filter : { ...filter, agentId: claims.sub },
        { limit, ...(cursor ? { cursor } : {}) },
      );
      return ok({
        items: page.items.map(conversationView),
        ...(page.nextCursor ? { nextCursor: page.nextCursor } : {}),
      });
    },
  },
  {
    ...anyRole,
    method: 'GET',
    path: '/v1/conversations/{id}/consult-candidates',
    handle: async ({ claims, params }, rt) =>
      ok({ items: await consultCandidates(rt.deps, claims.org, params.id as string) }),
  },
  {
    auth: 'jwt',
    roles: ['agent', 'supervisor'],
    method: 'GET',
    path: '/v1/conversations/{id}/notes',
    handle: async ({ claims, params }, rt) => ok({ items: await listNotes(rt.deps, claims.org, params.id as string) }),
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
        await addNote(rt.deps, {
          org: claims.org,
          conversationId: params.id as string,
          authorId: claims.sub,
          authorRole: role,
          text,
        }),
        201,
      );
    },
  },
  {
    ...anyRole,
    method: 'POST',
    path: '/v1/conversations/{id}/actions/{action}',
    async handle({ claims, params, json, headers }, rt) {
      const name = parse(actionParam, params.action, 'path.action');
      const keyHeader = headers['idempotency-key'];
      const key =
        keyHeader === undefined ? undefined : parse(idempotencyKeyHeader, keyHeader, 'header.Idempotency-Key');
      const action = toAction(name, json);
      return ok(
        result(
          await performAction(rt.deps, {
            org: claims.org,
            conversationId: params.id as string,
            actor: apiActor(claims.sub, claims.roles, action),
            ...(claims.roles.includes('agent') ? { actorAgentId: claims.sub } : {}),
            action,
            // the Idempotency-Key's receipt commits with the change (one mechanism, no extra table)
            ...(key ? { idempotencyKey: key, callerId: claims.sub } : {}),
          }),
        ),
      );
    },
  },
];

/** DynamoDB only (Idempotency-Key receipts are items of the table): what an action causes follows from the stream. */
export function createHandler(config: TableEngineConfig, overrides: TableEngineOverrides = {}) {
  const rt: ConversationsRuntime = createTableEngineRuntime(config, overrides);
  return httpGroup(conversationRoutes, rt, rt.obs);
}

export const handler = fromEnvironment(() => createHandler(readConfig(TABLE_ONLY_CAPABILITIES)));
