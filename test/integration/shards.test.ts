import { QueryCommand } from '@aws-sdk/lib-dynamodb';
import { describe, expect, it } from 'vitest';
import { createDocumentClient } from '../../functions/adapters/dynamodb/client.js';
import { availabilityShard, keys, statusShard } from '../../functions/adapters/dynamodb/keys.js';
import { ValidationError } from '../../functions/domain/errors.js';
import type { Conversation } from '../../functions/domain/model.js';
import type { ConversationFilter } from '../../functions/ports/read-types.js';
import { signIn } from '../../functions/use-cases/agent-presence.use-case.js';
import { consultCandidates } from '../../functions/use-cases/conversation-reads.use-case.js';
import { makeFixture, type Fixture } from '../support/fixture.js';
import { TEST_TABLE, dynamoEndpoint } from '../support/dynamo.js';

/**
 * SC-1 on DynamoDB Local: the sharded availability index (GSI5) and status lists (GSI3) read back
 * as one list, best (or oldest) first, page by page through the real queries and cursors.
 * Follow-ups are not needed here (settle: 'manual'): the index entries are written by hand.
 */

/** Every page of the agents available in q1/default with `units` free, following `next`. */
async function allAvailable(f: Fixture, units: number, limit: number): Promise<{ ids: string[]; pages: number }> {
  const ids: string[] = [];
  let after: string | undefined;
  let pages = 0;
  do {
    const page = await f.store.availableAgents(f.org, 'q1', 'default', units, limit, after);
    expect(page.agents.length).toBeLessThanOrEqual(limit);
    ids.push(...page.agents.map((a) => a.agentId));
    after = page.next;
    pages += 1;
    expect(pages).toBeLessThan(100);
  } while (after);
  return { ids, pages };
}

async function allListed(f: Fixture, filter: ConversationFilter, limit: number): Promise<string[]> {
  const ids: string[] = [];
  let cursor: string | undefined;
  let pages = 0;
  do {
    const page = await f.store.listConversations(f.org, filter, { limit, ...(cursor ? { cursor } : {}) });
    expect(page.items.length).toBeLessThanOrEqual(limit);
    ids.push(...page.items.map((c) => c.id));
    cursor = page.nextCursor;
    pages += 1;
    expect(pages).toBeLessThan(100);
  } while (cursor);
  return ids;
}

const invalidCursor = async (p: Promise<unknown>): Promise<void> => {
  await expect(p).rejects.toBeInstanceOf(ValidationError);
  await expect(p).rejects.toThrow('invalid cursor');
};

describe('SC-1 / R-3: the availability index in shards reads as one list, best first', () => {
  it('R-3: most remaining capacity first, then idle longest, then agent id, across every shard and page', async () => {
    // Prepare: 40 signed-in agents of q1 with 1..5 free; idle times in steps, three agents per step (ties)
    const f = await makeFixture({ settle: 'manual' });
    const agents: { id: string; free: number; idleSince: string }[] = [];
    for (let i = 0; i < 40; i++) {
      const id = `a${((i * 17) % 40).toString().padStart(2, '0')}`;
      const free = 1 + (i % 5);
      await f.addAgent(id, { default: free });
      if (i % 3 === 0) f.clock.advance(1);
      await signIn(f.deps, f.org, id);
      agents.push({ id, free, idleSince: f.clock.now().toISOString() });
    }
    for (const a of agents) await f.store.refreshAvailability(f.org, a.id, f.clock.now());
    const best = (units: number): string[] =>
      agents
        .filter((a) => a.free >= units)
        .sort(
          (a, b) =>
            b.free - a.free || a.idleSince.localeCompare(b.idleSince) || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0),
        )
        .map((a) => a.id);
    expect(new Set(agents.map((a) => availabilityShard(a.id))).size).toBeGreaterThanOrEqual(6);

    // Act
    const first = await f.store.availableAgents(f.org, 'q1', 'default', 1, 5);
    const all = await allAvailable(f, 1, 5);
    const threeFree = await allAvailable(f, 3, 4);

    // Assess
    expect(first.agents.map((a) => a.agentId)).toEqual(best(1).slice(0, 5));
    expect(first.agents.map((a) => a.free)).toEqual([5, 5, 5, 5, 5]);
    expect(all.ids).toEqual(best(1));
    expect(all.pages).toBeGreaterThanOrEqual(8);
    expect(all.pages).toBeLessThanOrEqual(9);
    expect(threeFree.ids).toEqual(best(3));
  });

  it("RL-6: an availability cursor continues only its own list: not another org's, queue's, pool's or units'", async () => {
    // Prepare
    const f = await makeFixture({ settle: 'manual' });
    const other = await makeFixture({ settle: 'manual' });
    for (const id of ['x1', 'x2', 'x3']) {
      await f.addAgent(id, { default: 2 });
      await signIn(f.deps, f.org, id);
      await f.store.refreshAvailability(f.org, id, f.clock.now());
    }
    const page = await f.store.availableAgents(f.org, 'q1', 'default', 1, 1);
    const next = page.next as string;
    expect(next).toEqual(expect.any(String));

    // Act + Assess
    expect((await f.store.availableAgents(f.org, 'q1', 'default', 1, 5, next)).agents).toHaveLength(2);
    await invalidCursor(other.store.availableAgents(other.org, 'q1', 'default', 1, 5, next));
    await invalidCursor(f.store.availableAgents(f.org, 'q2', 'default', 1, 5, next));
    await invalidCursor(f.store.availableAgents(f.org, 'q1', 'email', 1, 5, next));
    await invalidCursor(f.store.availableAgents(f.org, 'q1', 'default', 2, 5, next));
    await invalidCursor(f.store.availableAgents(f.org, 'q1', 'default', 1, 5, 'garbage'));
  });
});

describe('SC-1 / S-6: status lists in shards read as one list per status, oldest first', () => {
  it('S-6: every conversation once, each status oldest first, across shards and pages; filters still apply', async () => {
    // Prepare: 24 chats and 6 sms, one second apart, all Open (pick workstreams)
    const f = await makeFixture({ settle: 'manual' });
    const chats: Conversation[] = [];
    const sms: Conversation[] = [];
    for (let i = 0; i < 30; i++) {
      f.clock.advance(1);
      (i % 5 === 4 ? sms : chats).push(await f.start(i % 5 === 4 ? 'sms' : 'chat'));
    }
    const all = [...chats, ...sms].sort((a, b) => a.createdAt.localeCompare(b.createdAt)).map((c) => c.id);
    expect(new Set(all.map(statusShard)).size).toBeGreaterThanOrEqual(6);

    // Act
    const open = await allListed(f, { status: 'Open' }, 7);
    const everything = await allListed(f, {}, 4);
    const onePerPage = await allListed(f, { status: 'Open' }, 1);
    const openSms = await allListed(f, { status: 'Open', channelId: f.channelId('sms') }, 2);
    const active = await allListed(f, { status: 'Active' }, 5);

    // Assess
    expect(open).toEqual(all);
    expect(everything).toEqual(all);
    expect(onePerPage).toEqual(all);
    expect(openSms).toEqual(sms.map((c) => c.id));
    expect(active).toEqual([]);
  });

  it('RL-4 / RL-6: a status-list cursor is refused by another status, filter, list or org', async () => {
    // Prepare
    const f = await makeFixture({ settle: 'manual' });
    const other = await makeFixture({ settle: 'manual' });
    for (let i = 0; i < 3; i++) await f.start('chat');
    const page = await f.store.listConversations(f.org, { status: 'Open' }, { limit: 1 });
    const cursor = page.nextCursor as string;
    expect(cursor).toEqual(expect.any(String));

    // Act + Assess
    expect((await f.store.listConversations(f.org, { status: 'Open' }, { limit: 5, cursor })).items).toHaveLength(2);
    await invalidCursor(f.store.listConversations(f.org, { status: 'Active' }, { limit: 5, cursor }));
    await invalidCursor(f.store.listConversations(f.org, {}, { limit: 5, cursor }));
    await invalidCursor(
      f.store.listConversations(f.org, { status: 'Open', channelId: f.channelId('chat') }, { limit: 5, cursor }),
    );
    await invalidCursor(f.store.listOpenItems(f.org, 'q1', { limit: 5, cursor }));
    await invalidCursor(other.store.listConversations(other.org, { status: 'Open' }, { limit: 5, cursor }));
  });
});

describe('SC-1: nothing a transition does touches the queue partition', () => {
  it("R-2 / R-3 / X-2: agents, their availability and a push offer leave only the queue item in the queue's partition; members are still listed", async () => {
    // Prepare: a push workstream, two agents of q1 signed in (their follow-ups write the index)
    const f = await makeFixture();
    await f.setWorkstream('chat', { distribution: 'push' });
    for (const id of ['ann', 'ben']) {
      await f.addAgent(id, { default: 2 });
      await signIn(f.deps, f.org, id);
    }

    // Act: a conversation is offered (member check, agent-assigned) and accepted
    const c = await f.start('chat');
    const offered = await f.conversation(c.id);
    const doc = createDocumentClient({ endpoint: dynamoEndpoint() });
    const partition = await doc.send(
      new QueryCommand({
        TableName: TEST_TABLE,
        KeyConditionExpression: 'PK = :pk',
        ExpressionAttributeValues: { ':pk': keys.queue(f.org, 'q1').PK },
      }),
    );
    const candidates = await consultCandidates(f.deps, { org: f.org, id: 'supervisor', roles: ['supervisor'] }, c.id);

    // Assess
    expect(offered).toMatchObject({ status: 'Active', accepted: false });
    expect((partition.Items ?? []).map((i) => i.SK)).toEqual(['QUEUE']);
    expect((await f.store.listQueueMembers(f.org, 'q1')).sort()).toEqual(['ann', 'ben']);
    expect(candidates.map((x) => x.id)).toEqual([offered.primaryAgentId === 'ann' ? 'ben' : 'ann']);
  });
});
