import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LocalRuntime } from '../../bin/local/runtime.js';
import { Api, eventually, setupOrg, startRuntime, type DemoOrg } from '../support/e2e.js';

interface Conv {
  id: string;
  status: string;
  version: number;
}

let rt: LocalRuntime;
let api: Api;
let o: DemoOrg;
let alice: Api;
let seq = 0;
beforeAll(async () => {
  rt = await startRuntime();
  api = new Api(rt.url);
  // wrap-up holds no capacity: alice's three units last the whole file
  o = await setupOrg(api, { wrapUp: 'never' });
  alice = await o.agent('alice');
});
afterAll(() => rt?.stop());

/** An Active chat that alice accepted, and the threadId its customer writes on. */
async function activeChat(): Promise<{ c: Conv; threadId: string }> {
  const threadId = `pre-${++seq}`;
  const started = { eventId: `pre-ev-${seq}`, type: 'conversation.started', threadId };
  expect((await api.webhook(o.channel.chat, started, o.secret)).status).toBe(202);
  const open = await eventually(
    async () =>
      (await o.admin.get<{ items?: Conv[] }>(`/v1/conversations?channelId=${o.channel.chat}&threadId=${threadId}`)).body
        .items?.[0],
  );
  const accepted = await alice.post<Conv>(`/v1/conversations/${open.id}/actions/accept`);
  expect(accepted.status).toBe(200);
  return { c: accepted.body, threadId };
}

const history = async (id: string): Promise<string[]> =>
  ((await o.admin.get<{ items: { action: string }[] }>(`/v1/conversations/${id}/events`)).body.items ?? []).map(
    (e) => e.action,
  );

describe('RL-8 preconditions: ETag on reads, If-Match on actions', () => {
  it('finding 4: a stale End (If-Match of the Active version) after the customer ended is 412 and skips no wrap-up', async () => {
    // Prepare: the agent's screen shows the Active conversation, with its ETag
    const { c, threadId } = await activeChat();
    const read = await alice.get<Conv>(`/v1/conversations/${c.id}`);
    const etag = read.headers.get('etag');
    expect(etag).toBe(`"${read.body.version}"`);
    // the customer ends the chat a moment before the agent's click (T-3b: WrapUp)
    const ended = { eventId: `pre-end-${seq}`, type: 'customer.ended', threadId };
    expect((await api.webhook(o.channel.chat, ended, o.secret)).status).toBe(202);
    const wrapUp = await eventually(async () => {
      const r = await alice.get<Conv>(`/v1/conversations/${c.id}`);
      return r.body.status === 'WrapUp' && r.body;
    });
    const before = await history(c.id);

    // Act: the click made on the stale screen
    const end = await alice.post(`/v1/conversations/${c.id}/actions/end`, undefined, { 'if-match': etag as string });

    // Assess: refused, naming what is current; nothing changed (T-7 would have closed it)
    expect(end.status).toBe(412);
    expect(end.contentType).toMatch(/^application\/problem\+json/);
    expect(end.body).toMatchObject({
      type: 'urn:problem:precondition-failed',
      status: 412,
      currentStatus: 'WrapUp',
      currentVersion: wrapUp.version,
    });
    const after = await alice.get<Conv>(`/v1/conversations/${c.id}`);
    expect(after.body).toMatchObject({ status: 'WrapUp', version: wrapUp.version });
    expect(await history(c.id)).toEqual(before);
  });

  it('RL-8: an action whose If-Match names the current version (or *) applies, and answers the new ETag', async () => {
    // Prepare
    const { c } = await activeChat();
    const etag = (await alice.get(`/v1/conversations/${c.id}`)).headers.get('etag') as string;

    // Act
    const end = await alice.post<Conv>(`/v1/conversations/${c.id}/actions/end`, undefined, {
      'if-match': `"999999", ${etag}`,
    });
    const close = await alice.post<Conv>(`/v1/conversations/${c.id}/actions/close`, undefined, {
      'if-match': '*',
    });

    // Assess
    expect(end.status).toBe(200);
    expect(end.body.status).toBe('WrapUp');
    expect(end.headers.get('etag')).toBe(`"${end.body.version}"`);
    expect(close.status).toBe(200);
    expect(close.body.status).toBe('Closed');
  });

  it('RL-8: a weak or non-version tag never matches (strong comparison): 412; a malformed If-Match is 400; both write nothing', async () => {
    // Prepare
    const { c } = await activeChat();
    const read = await alice.get<Conv>(`/v1/conversations/${c.id}`);
    const before = await history(c.id);

    // Act
    const weak = await alice.post(`/v1/conversations/${c.id}/actions/end`, undefined, {
      'if-match': `W/"${read.body.version}"`,
    });
    const malformed = await alice.post(`/v1/conversations/${c.id}/actions/end`, undefined, {
      'if-match': String(read.body.version),
    });

    // Assess
    expect(weak.status).toBe(412);
    expect(weak.body).toMatchObject({ currentStatus: 'Active', currentVersion: read.body.version });
    expect(malformed.status).toBe(400);
    expect(malformed.body).toMatchObject({ errors: [{ field: 'header.If-Match' }] });
    expect((await alice.get<Conv>(`/v1/conversations/${c.id}`)).body.version).toBe(read.body.version);
    expect(await history(c.id)).toEqual(before);
  });

  it('RL-8: a read with If-None-Match of the current version is 304 with no body, and 200 once it moved', async () => {
    // Prepare
    const { c } = await activeChat();
    const etag = (await alice.get(`/v1/conversations/${c.id}`)).headers.get('etag') as string;

    // Act
    const same = await alice.call('GET', `/v1/conversations/${c.id}`, undefined, { 'if-none-match': etag });
    await alice.post(`/v1/conversations/${c.id}/actions/end`);
    const moved = await alice.call<Conv>('GET', `/v1/conversations/${c.id}`, undefined, { 'if-none-match': etag });

    // Assess
    expect(same.status).toBe(304);
    expect(same.body).toBeUndefined();
    expect(same.headers.get('etag')).toBe(etag);
    expect(moved.status).toBe(200);
    expect(moved.body.status).toBe('WrapUp');
    expect(moved.headers.get('etag')).toBe(`"${moved.body.version}"`);
  });

  it('RL-8 with RL-1: a retry with the same Idempotency-Key replays the first result, although its If-Match is now stale', async () => {
    // Prepare
    const { c } = await activeChat();
    const etag = (await alice.get(`/v1/conversations/${c.id}`)).headers.get('etag') as string;
    const headers = { 'if-match': etag, 'idempotency-key': `pre-key-${seq}` };
    const first = await alice.post<Conv>(`/v1/conversations/${c.id}/actions/end`, undefined, headers);

    // Act
    const retry = await alice.post<Conv>(`/v1/conversations/${c.id}/actions/end`, undefined, headers);

    // Assess
    expect(first.status).toBe(200);
    expect(retry.status).toBe(200);
    expect(retry.body).toEqual(first.body);
  });
});
