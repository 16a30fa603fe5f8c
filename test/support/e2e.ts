import { ulid } from 'ulid';
import { expect } from 'vitest';
import { startLocalRuntime, type LocalRuntime } from '../../bin/local/runtime.js';
import { signLocalToken } from '../../bin/local/token.js';
import { signBody, signTimestamped } from '../../functions/use-cases/ingest-webhook.use-case.js';
import { dynamoEndpoint } from './dynamo.js';

export interface HttpResult<T = Record<string, unknown>> {
  status: number;
  body: T;
  contentType: string;
  headers: Headers;
}

/** A local runtime (the same one `npm start` runs) on the run's DynamoDB Local. */
export async function startRuntime(options: Parameters<typeof startLocalRuntime>[0] = {}): Promise<LocalRuntime> {
  // its own table: a runtime's sweeper fires every due timer of its table on its own virtual clock
  return startLocalRuntime({
    dynamoEndpoint: dynamoEndpoint(),
    tableName: `e2e-${ulid().toLowerCase()}`,
    ...options,
  });
}

/**
 * The two ways an e2e file can run the runtime: on the TypeScript sources, and on the Lambda bundles
 * of the last `npm run synth` (cdk.out; `npm test` synthesizes first). Without a fresh cdk.out the
 * bundles' runtime does not start and its tests fail, saying to run the synth: they never skip.
 */
export const RUNTIMES = [
  { on: 'the TypeScript sources', bundles: false },
  { on: 'the synthesized bundles', bundles: true },
] as const;

export const uniqueOrg = (): string => `e2e-${ulid().toLowerCase()}`;

export const token = (org: string, sub: string, roles: string[]): Promise<string> =>
  signLocalToken({ org, sub, roles });

export class Api {
  constructor(
    readonly url: string,
    readonly bearer?: string,
  ) {}

  as(bearer: string): Api {
    return new Api(this.url, bearer);
  }

  async call<T = Record<string, unknown>>(
    method: string,
    path: string,
    body?: unknown,
    headers: Record<string, string> = {},
  ): Promise<HttpResult<T>> {
    const res = await fetch(`${this.url}${path}`, {
      method,
      headers: {
        ...(this.bearer ? { authorization: `Bearer ${this.bearer}` } : {}),
        ...(body !== undefined ? { 'content-type': 'application/json' } : {}),
        ...headers,
      },
      ...(body !== undefined ? { body: typeof body === 'string' ? body : JSON.stringify(body) } : {}),
    });
    const text = await res.text();
    let parsed: unknown = text;
    try {
      parsed = text ? JSON.parse(text) : undefined;
    } catch {
      /* keep text */
    }
    return {
      status: res.status,
      body: parsed as T,
      contentType: res.headers.get('content-type') ?? '',
      headers: res.headers,
    };
  }

  get = <T = Record<string, unknown>>(path: string) => this.call<T>('GET', path);
  put = <T = Record<string, unknown>>(path: string, body: unknown) => this.call<T>('PUT', path, body);
  post = <T = Record<string, unknown>>(path: string, body?: unknown, headers?: Record<string, string>) =>
    this.call<T>('POST', path, body, headers);

  /** POST a webhook signed with the channel secret (X-Signature: sha256=<hex>) */
  webhook(channelId: string, event: unknown, secret: string, signature?: string): Promise<HttpResult> {
    const raw = JSON.stringify(event);
    return this.call('POST', `/v1/webhooks/${channelId}`, raw, { 'x-signature': signature ?? signBody(secret, raw) });
  }

  /**
   * POST a webhook to a `timestamped` channel (RL-9): X-Signature-Timestamp `timestamp` (unix
   * seconds, as a string) and X-Signature over "<timestamp>.<channelId>.<raw body>".
   */
  webhookTimestamped(channelId: string, event: unknown, secret: string, timestamp: string): Promise<HttpResult> {
    const raw = JSON.stringify(event);
    return this.call('POST', `/v1/webhooks/${channelId}`, raw, {
      'x-signature-timestamp': timestamp,
      'x-signature': signTimestamped(secret, timestamp, channelId, raw),
    });
  }
}

/** Polls until `check` returns a value (asynchronous processing through SQS). */
export async function eventually<T>(check: () => Promise<T | undefined | false>, timeoutMs = 15_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await check();
    if (v) return v;
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 50));
  }
}

export interface DemoOrg {
  org: string;
  admin: Api;
  agent: (id: string) => Promise<Api>;
  secret: string;
  /** channel ids by kind: chat, voice, sms, record */
  channel: Record<'chat' | 'voice' | 'sms' | 'record', string>;
}

/** Configures an org over HTTP: queues q1/q2, one workstream and channel per mode, agents alice and bob (q1). */
export async function setupOrg(api: Api, options: { wrapUp?: unknown } = {}): Promise<DemoOrg> {
  const org = uniqueOrg();
  const admin = api.as(await token(org, 'admin', ['admin', 'supervisor']));
  const must = async (p: Promise<HttpResult>): Promise<void> => {
    const r = await p;
    if (r.status >= 300) throw new Error(`setup failed: ${r.status} ${JSON.stringify(r.body)}`);
  };
  await must(admin.put('/v1/admin/queues/q1', { name: 'Queue 1' }));
  await must(admin.put('/v1/admin/queues/q2', { name: 'Queue 2' }));
  const secret = 'e2e-secret-0123456789';
  const channel = { chat: `${org}-chat`, voice: `${org}-voice`, sms: `${org}-sms`, record: `${org}-record` };
  const modes = { chat: 'live', voice: 'live', sms: 'persistent', record: 'record' } as const;
  for (const kind of ['chat', 'voice', 'sms', 'record'] as const) {
    await must(
      admin.put(`/v1/admin/workstreams/ws-${kind}`, {
        name: kind,
        mode: modes[kind],
        capacity: { units: 1 },
        allowedPresences: ['Available', 'Busy'],
        wrapUp: { blockCapacity: options.wrapUp ?? 'always' },
        defaultQueueId: 'q1',
        routingRules: [{ when: { field: 'topic', equals: 'billing' }, queueId: 'q2' }],
      }),
    );
    await must(admin.put(`/v1/admin/channels/${channel[kind]}`, { kind, workstreamId: `ws-${kind}`, secret }));
  }
  await must(admin.put('/v1/admin/agents/alice', { name: 'Alice', queues: ['q1'], capacity: { default: 3 } }));
  await must(admin.put('/v1/admin/agents/bob', { name: 'Bob', queues: ['q1', 'q2'], capacity: { default: 2 } }));
  return { org, admin, secret, channel, agent: async (id) => api.as(await token(org, id, ['agent'])) };
}

/** Every org setting S-1 and M-2 gate, on. */
export const ALL_SETTINGS_ON = {
  supervisorMonitor: true,
  supervisorAssign: true,
  supervisorTransfer: true,
  forceClose: true,
  agentEndMessagingSession: true,
} as const;

/** setupOrg, every gated setting on, and alice and bob (as agents) signed in. */
export async function setupSignedInOrg(api: Api): Promise<DemoOrg & { alice: Api; bob: Api }> {
  const o = await setupOrg(api);
  await ok(o.admin.put('/v1/admin/settings', ALL_SETTINGS_ON));
  const alice = await o.agent('alice');
  const bob = await o.agent('bob');
  await ok(alice.post('/v1/agents/me/sign-in'));
  await ok(bob.post('/v1/agents/me/sign-in'));
  return { ...o, alice, bob };
}

/** Asserts the answer's status (200 unless given; the body is printed on a mismatch) and returns its body. */
export async function ok<T>(p: Promise<HttpResult<T>>, status = 200): Promise<T> {
  const r = await p;
  expect(r.status, JSON.stringify(r.body)).toBe(status);
  return r.body;
}
