import type { Context } from 'aws-lambda';
import { z } from 'zod';
import { ForbiddenActionError, ValidationError } from '../../domain/errors.js';
import type { Action } from '../../domain/transitions.js';
import { consultCandidates } from '../../use-cases/reads.use-case.js';
import { apiActor, performAction, type ActionResult } from '../../use-cases/conversation-action.use-case.js';
import { addNote, listNotes } from '../../use-cases/notes.use-case.js';
import { readConfig, type ConfigFor } from '../../config.js';
import { fromEnvironment } from '../lambda.js';
import {
  createEngineRuntime,
  ENGINE_CAPABILITIES,
  type EngineConfig,
  type EngineOverrides,
  type EngineRuntime,
} from '../wiring/engine.js';
import { found, httpGroup, ok, parse, type Route } from './http-handler.js';
import { idempotent, type IdempotentRequest } from './idempotency.js';
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

/** An action under an Idempotency-Key (run through Powertools idempotency, see createHandler). */
async function keyedAction(rt: EngineRuntime, req: IdempotentRequest): Promise<Record<string, unknown>> {
  const [conversationId, name] = req.target.split('/') as [string, (typeof ACTIONS)[number]];
  const action = toAction(name, req.body);
  return result(
    await performAction(rt.deps, {
      org: req.org,
      conversationId,
      actor: apiActor(req.sub, req.roles, action),
      ...(req.roles.includes('agent') ? { actorAgentId: req.sub } : {}),
      action,
      idempotencyKey: req.key,
    }),
  );
}

type ConversationsRuntime = EngineRuntime & {
  runAction: (req: IdempotentRequest, context: Context) => Promise<Record<string, unknown>>;
};

export const conversationRoutes: Route<ConversationsRuntime>[] = [
  {
    ...anyRole,
    method: 'GET',
    path: '/v1/conversations/{id}',
    summary: 'Read a conversation',
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
    summary: 'The conversation history, oldest first (E-1)',
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
    summary: 'List conversations by status, queue, agent, channel or thread (an agent sees their own)',
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
    summary: 'Agents a consult may add (X-2)',
    handle: async ({ claims, params }, rt) =>
      ok({ items: await consultCandidates(rt.deps, rt.store, claims.org, params.id as string) }),
  },
  {
    auth: 'jwt',
    roles: ['agent', 'supervisor'],
    method: 'GET',
    path: '/v1/conversations/{id}/notes',
    summary: 'Internal notes, visible to agents and supervisors only (E-3)',
    handle: async ({ claims, params }, rt) =>
      ok({ items: await listNotes(rt.deps, rt.store, claims.org, params.id as string) }),
  },
  {
    auth: 'jwt',
    roles: ['agent', 'supervisor'],
    method: 'POST',
    path: '/v1/conversations/{id}/notes',
    summary: 'Add an internal note (E-3; still works after the messaging session ended, M-2)',
    async handle({ claims, params, json }, rt) {
      const { text } = parse(noteBody, json);
      const role = claims.roles.includes('agent') ? 'agent' : 'supervisor';
      return ok(
        await addNote(rt.deps, rt.store, {
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
    summary: 'Apply an action to a conversation (Idempotency-Key supported)',
    async handle({ claims, params, json, headers, context }, rt) {
      const name = parse(actionParam, params.action, 'path.action');
      const target = `${params.id as string}/${name}`;
      const keyHeader = headers['idempotency-key'];
      if (keyHeader === undefined) {
        const action = toAction(name, json);
        return ok(
          result(
            await performAction(rt.deps, {
              org: claims.org,
              conversationId: params.id as string,
              actor: apiActor(claims.sub, claims.roles, action),
              ...(claims.roles.includes('agent') ? { actorAgentId: claims.sub } : {}),
              action,
            }),
          ),
        );
      }
      const key = parse(idempotencyKeyHeader, keyHeader, 'header.Idempotency-Key');
      return ok(
        await rt.runAction(
          { org: claims.org, sub: claims.sub, target, key, body: json ?? {}, roles: claims.roles },
          context,
        ),
      );
    },
  },
];

/** The engine (DynamoDB, scheduler, notifier) and the idempotency table of Idempotency-Key. */
export type ConversationsConfig = EngineConfig & ConfigFor<'idempotencyTable'>;

export function createHandler(config: ConversationsConfig, overrides: EngineOverrides = {}) {
  const engine = createEngineRuntime(config, overrides);
  const rt: ConversationsRuntime = {
    ...engine,
    runAction: idempotent((req) => keyedAction(engine, req), config.idempotencyTable),
  };
  return httpGroup(conversationRoutes, rt, engine.obs);
}

export const handler = fromEnvironment(() => createHandler(readConfig([...ENGINE_CAPABILITIES, 'idempotencyTable'])));
