import { randomBytes } from 'node:crypto';
import { signLocalToken } from './token.js';

export interface SeedResult {
  org: string;
  channels: { id: string; kind: string; secret: string }[];
  tokens: Record<string, string>;
}

/** Creates a demo org over the HTTP API itself (so seeding exercises the same validation). */
export async function seedDemo(url: string, org = 'demo'): Promise<SeedResult> {
  const admin = await signLocalToken({ org, sub: 'admin', roles: ['admin', 'supervisor'] });
  const put = async (path: string, body: unknown): Promise<void> => {
    const res = await fetch(`${url}${path}`, {
      method: 'PUT',
      headers: { authorization: `Bearer ${admin}`, 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });
    if (!res.ok) throw new Error(`seed ${path} failed: ${res.status} ${await res.text()}`);
  };
  await put('/v1/admin/settings', {
    supervisorMonitor: true,
    supervisorAssign: true,
    supervisorTransfer: true,
    forceClose: true,
    agentEndMessagingSession: true,
  });
  await put('/v1/admin/queues/support', { name: 'Support' });
  await put('/v1/admin/queues/sales', { name: 'Sales' });
  const ws = (name: string, mode: string, extra: Record<string, unknown> = {}) => ({
    name,
    mode,
    capacity: { units: 1 },
    allowedPresences: ['Available', 'Busy'],
    wrapUp: { blockCapacity: 5 },
    defaultQueueId: 'support',
    routingRules: [{ when: { field: 'topic', equals: 'sales' }, queueId: 'sales' }],
    ...extra,
  });
  await put('/v1/admin/workstreams/chat', ws('Live chat', 'live'));
  await put(
    '/v1/admin/workstreams/voice',
    ws('Voice', 'live', { capacity: { units: 2 }, wrapUp: { blockCapacity: 'always' } }),
  );
  await put('/v1/admin/workstreams/sms', ws('SMS', 'persistent', { waitingInactivityTimeoutSeconds: 3600 }));
  await put('/v1/admin/workstreams/records', ws('Records', 'record', { wrapUp: { blockCapacity: 'never' } }));
  const channels = [
    { id: `${org}-chat`, kind: 'chat', workstreamId: 'chat' },
    { id: `${org}-voice`, kind: 'voice', workstreamId: 'voice' },
    { id: `${org}-sms`, kind: 'sms', workstreamId: 'sms' },
    { id: `${org}-cases`, kind: 'record', workstreamId: 'records' },
  ].map((c) => ({ ...c, secret: randomBytes(24).toString('hex') }));
  for (const c of channels)
    await put(`/v1/admin/channels/${c.id}`, { kind: c.kind, workstreamId: c.workstreamId, secret: c.secret });
  await put('/v1/admin/agents/alice', { name: 'Alice', queues: ['support'], capacity: { default: 3 } });
  await put('/v1/admin/agents/bob', { name: 'Bob', queues: ['support', 'sales'], capacity: { default: 2 } });
  await put('/v1/admin/agents/carol', { name: 'Carol', queues: ['sales'], capacity: { default: 4 } });
  const tokens: Record<string, string> = { admin };
  for (const sub of ['alice', 'bob', 'carol']) tokens[sub] = await signLocalToken({ org, sub, roles: ['agent'] });
  tokens.supervisor = await signLocalToken({ org, sub: 'sam', roles: ['supervisor'] });
  return { org, channels: channels.map(({ id, kind, secret }) => ({ id, kind, secret })), tokens };
}
