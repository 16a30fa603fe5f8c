import type { APIGatewayProxyEventV2 } from 'aws-lambda';
import { ulid } from 'ulid';
import { describe, expect, it } from 'vitest';
import { lambdaContext } from '../../bin/local/http-server.js';
import { createDocumentClient } from '../../functions/adapters/dynamodb/client.js';
import { createDynamoRepositories } from '../../functions/adapters/dynamodb/repositories/index.js';
import { TEMPLATE_EVENTS } from '../../functions/domain/templates.js';
import type { Write } from '../../functions/domain/writes.js';
import { createHandler } from '../../functions/handlers/http/admin.handler.js';
import { CommitConflict } from '../../functions/ports/storage-types.js';
import { ConfigCache } from '../../functions/use-cases/config-cache.js';
import { TEST_TABLE, dynamoEndpoint } from '../support/dynamo.js';

/**
 * MS-4: the message template configuration through the admin HTTP handler (the Lambda's own
 * `createHandler`, given API Gateway v2 events with the authorizer's claims), on DynamoDB Local:
 * PUT and GET, validation (400, nothing written), roles (403), and the version of the list that a
 * decision proves current with a `config-current` check.
 */

const repositories = createDynamoRepositories(createDocumentClient({ endpoint: dynamoEndpoint() }), TEST_TABLE);
const handler = createHandler(
  {
    observability: {
      serviceName: 'test',
      metricsNamespace: 'Test',
      metrics: false,
      tracing: false,
      logLevel: 'CRITICAL',
    },
    dynamodb: { region: 'us-east-1', tableName: TEST_TABLE, endpoint: dynamoEndpoint() },
  },
  { repositories },
);

const PUT_KEY = 'PUT /v1/admin/message-templates/{event}';
const GET_KEY = 'GET /v1/admin/message-templates';

interface Answer {
  status: number;
  contentType: string | undefined;
  body: Record<string, unknown>;
}

interface Caller {
  org: string;
  roles?: string[];
}

async function send(key: string, caller: Caller, event?: string, body?: unknown): Promise<Answer> {
  const [, path = ''] = key.split(' ');
  const out = await handler(
    {
      version: '2.0',
      routeKey: key,
      rawPath: event === undefined ? path : path.replace('{event}', event),
      headers: body === undefined ? {} : { 'content-type': 'application/json' },
      ...(event === undefined ? {} : { pathParameters: { event } }),
      // a string is sent as it is (malformed JSON, escapes JSON.stringify would not write)
      ...(body === undefined ? {} : { body: typeof body === 'string' ? body : JSON.stringify(body) }),
      isBase64Encoded: false,
      requestContext: {
        authorizer: { jwt: { claims: { sub: 'root', org: caller.org, roles: caller.roles ?? ['admin'] } } },
      },
    } as unknown as APIGatewayProxyEventV2,
    lambdaContext('admin'),
  );
  return {
    status: Number(out.statusCode),
    contentType: out.headers?.['content-type'] as string | undefined,
    body: out.body ? (JSON.parse(String(out.body)) as Record<string, unknown>) : {},
  };
}

const put = (org: string, event: string, body: unknown, roles?: string[]) =>
  send(PUT_KEY, { org, ...(roles ? { roles } : {}) }, event, body);
const list = async (org: string) => {
  const r = await send(GET_KEY, { org });
  expect(r.status, JSON.stringify(r.body)).toBe(200);
  return r.body.items as { event: string; text: string; enabled: boolean }[];
};
const newOrg = () => `org-${ulid().toLowerCase()}`;

/** A 400 problem+json whose `errors` name `field` (or a field under it). */
function expect400(r: Answer, field: string): void {
  expect(r.status, JSON.stringify(r.body)).toBe(400);
  expect(r.contentType).toBe('application/problem+json');
  expect(r.body).toMatchObject({ status: 400, type: 'urn:problem:validation' });
  const fields = ((r.body.errors ?? []) as { field: string }[]).map((e) => e.field);
  expect(
    fields.some((f) => f === field || f.startsWith(`${field}.`)),
    `${field} in ${JSON.stringify(r.body.errors)}`,
  ).toBe(true);
}

describe('MS-4: message templates over the admin HTTP handler', () => {
  it('MS-4: PUT answers the stored template (enabled by default), GET lists it; a second PUT replaces it', async () => {
    // Prepare
    const org = newOrg();
    expect(await list(org)).toEqual([]);

    // Act
    const first = await put(org, 'queued', {
      text: 'You are number {{position}}, about {{estimatedWaitMinutes}} min.',
    });
    const listed = await list(org);
    const second = await put(org, 'queued', { text: 'Please wait.', enabled: false });

    // Assess
    expect(first.status, JSON.stringify(first.body)).toBe(200);
    expect(first.contentType).toBe('application/json');
    expect(first.body).toEqual({
      event: 'queued',
      text: 'You are number {{position}}, about {{estimatedWaitMinutes}} min.',
      enabled: true,
    });
    expect(listed).toEqual([first.body]);
    expect(second.body).toEqual({ event: 'queued', text: 'Please wait.', enabled: false });
    expect(await list(org)).toEqual([{ event: 'queued', text: 'Please wait.', enabled: false }]);
    expect(await repositories.configuration.listMessageTemplates(org)).toEqual([
      { org, event: 'queued', text: 'Please wait.', enabled: false },
    ]);
  });

  it('MS-4: every event is accepted, and GET lists them in the order of the events, whatever the order of the PUTs', async () => {
    // Prepare
    const org = newOrg();

    // Act
    for (const event of [...TEMPLATE_EVENTS].reverse()) {
      const r = await put(org, event, { text: `on ${event}: {{agentName}}`, enabled: event !== 'overflow' });
      expect(r.status, `${event}: ${JSON.stringify(r.body)}`).toBe(200);
    }

    // Assess
    expect(await list(org)).toEqual(
      TEMPLATE_EVENTS.map((event) => ({ event, text: `on ${event}: {{agentName}}`, enabled: event !== 'overflow' })),
    );
    // another org sees none of them (RL-6)
    expect(await list(newOrg())).toEqual([]);
  });

  it('MS-4: an unknown event is 400 (path.event), as an unknown action, and writes nothing', async () => {
    // Prepare
    const org = newOrg();
    const before = await repositories.configuration.listMessageTemplatesVersioned(org);

    // Act
    const answers = await Promise.all(
      ['opened', 'Queued', 'outside_hours', 'queued!', 'x'.repeat(65)].map((e) => put(org, e, { text: 'Hello' })),
    );

    // Assess
    for (const r of answers) expect400(r, 'path.event');
    expect(await repositories.configuration.listMessageTemplatesVersioned(org)).toEqual(before);
  });

  it('MS-4: each invalid body is 400 with its errors and writes nothing: GET and the version stay as they were', async () => {
    // Prepare: a template is set
    const org = newOrg();
    expect((await put(org, 'closed', { text: 'Thanks, bye.' })).status).toBe(200);
    const before = await repositories.configuration.listMessageTemplatesVersioned(org);
    const cases: [string, unknown, string][] = [
      ['no body', undefined, '(body)'],
      ['not JSON', '{"text": ', '(body)'],
      ['an array', [{ text: 'Hi' }], '(body)'],
      ['missing text', { enabled: true }, 'text'],
      ['empty text', { text: '' }, 'text'],
      ['blank text', { text: '  \n ' }, 'text'],
      ['text over 1000 characters', { text: 'x'.repeat(1001) }, 'text'],
      ['text not a string', { text: 42 }, 'text'],
      ['enabled not a boolean', { text: 'Hi', enabled: 'yes' }, 'enabled'],
      ['an unknown field', { text: 'Hi', language: 'en' }, '(body)'],
      ['a lone surrogate in the text', '{"text":"Hi \\ud800 there"}', 'text'],
      ['an unknown placeholder', { text: 'Hello {{customerName}}, {{agentName}} here' }, 'text'],
    ];

    // Act and Assess
    for (const [what, body, field] of cases) {
      const r = await put(org, 'closed', body);
      expect400(r, field);
      expect(r.body.detail, what).toEqual(expect.any(String));
    }
    const unknown = await put(org, 'closed', { text: 'Hello {{customerName}}' });
    expect((unknown.body.errors as { message: string }[])[0]?.message).toMatch(
      /unknown placeholder \{\{customerName\}\}.*\{\{position\}\}, \{\{estimatedWaitMinutes\}\}, \{\{agentName\}\}/,
    );
    expect(await list(org)).toEqual([{ event: 'closed', text: 'Thanks, bye.', enabled: true }]);
    expect(await repositories.configuration.listMessageTemplatesVersioned(org)).toEqual(before);
  });

  it('MS-4: the boundaries are accepted: 1 and 1000 characters, a surrogate pair, braces that are no placeholder', async () => {
    // Prepare
    const org = newOrg();

    // Act
    const answers = await Promise.all([
      put(org, 'queued', { text: 'x' }),
      put(org, 'assigned', { text: 'y'.repeat(1000) }),
      put(org, 'waiting', { text: 'back soon \ud83d\ude00 {{ agentName }}' }),
      put(org, 'closed', { text: 'a { b } {{ c {d} }} {{position' }),
    ]);

    // Assess
    for (const r of answers) expect(r.status, JSON.stringify(r.body)).toBe(200);
    expect((await list(org)).map((t) => t.event)).toEqual(['queued', 'assigned', 'waiting', 'closed']);
  });

  it('MS-4: only an admin may PUT or GET the templates (403 for agents and supervisors, nothing written)', async () => {
    // Prepare
    const org = newOrg();
    expect((await put(org, 'assigned', { text: 'Hi, {{agentName}} here.' })).status).toBe(200);
    const before = await repositories.configuration.listMessageTemplatesVersioned(org);

    // Act
    const answers = await Promise.all(
      [['agent'], ['supervisor'], ['agent', 'supervisor'], []].flatMap((roles) => [
        put(org, 'assigned', { text: 'taken over' }, roles),
        send(GET_KEY, { org, roles }),
      ]),
    );

    // Assess
    for (const r of answers) {
      expect(r.status, JSON.stringify(r.body)).toBe(403);
      expect(r.contentType).toBe('application/problem+json');
    }
    expect(await repositories.configuration.listMessageTemplatesVersioned(org)).toEqual(before);
  });

  it('MS-4 / R-5: every PUT writes a new version of the list, so a decision proven on the old list fails its check', async () => {
    // Prepare: a decision reads the (empty) list through the config cache
    const org = newOrg();
    const cache = new ConfigCache();
    const read = () => repositories.configuration.listMessageTemplatesVersioned(org);
    const never = await cache.through('templates', org, org, false, read);
    const proof = (version: string, spread: string): Write => ({
      type: 'config-current',
      org,
      entity: 'templates',
      id: org,
      version,
      spread,
    });
    await repositories.commits.commit([proof(never.version, 'c0')]);

    // Act: two PUTs
    expect((await put(org, 'queued', { text: 'Number {{position}}' })).status).toBe(200);
    const v1 = await read();
    expect((await put(org, 'queued', { text: 'Number {{position}} in line' })).status).toBe(200);
    const v2 = await read();

    // Assess: each PUT changed the version
    expect(never).toEqual({ value: [], version: '' });
    expect(v1.version).not.toBe('');
    expect(v2.version).not.toBe(v1.version);
    expect(v2.value).toEqual([{ org, event: 'queued', text: 'Number {{position}} in line', enabled: true }]);
    // a decision on the cached (older) list fails on every copy of the version; the current one commits
    for (const spread of ['c1', 'c2', 'c3', 'c4', 'c5', 'c6', 'c7', 'c8', 'c9']) {
      for (const stale of [never.version, v1.version])
        await expect(repositories.commits.commit([proof(stale, spread)]), `${stale} on ${spread}`).rejects.toThrow(
          CommitConflict,
        );
      await repositories.commits.commit([proof(v2.version, spread)]);
    }
    // the cache answers the stale entry until it is dropped, as onCommitFailure does after a failed check
    expect((await cache.through('templates', org, org, false, read)).version).toBe('');
    cache.drop('templates', org, org);
    expect(await cache.through('templates', org, org, false, read)).toEqual(v2);
  });
});
