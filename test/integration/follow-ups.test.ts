import { describe, expect, it } from 'vitest';
import { ulid } from 'ulid';
import type { Actor, Conversation } from '../../functions/domain/model.js';
import { runFollowUps } from '../../functions/follow-ups/run-follow-ups.js';
import { signIn, signOut } from '../../functions/use-cases/agent-presence.use-case.js';
import { handleCustomerEvent } from '../../functions/use-cases/customer-event.use-case.js';
import type { EngineDeps } from '../../functions/use-cases/engine.js';
import { sweepDueTimers } from '../../functions/use-cases/timers.use-case.js';
import { DISPATCH_RETRY_SECONDS } from '../../functions/domain/timers.js';
import { ledgerOf, makeFixture, orgOutbox, type Fixture } from '../support/fixture.js';

/**
 * Follow-ups from the table's stream, with the test deciding when they run (`settle: 'manual'`):
 * the R-3 race between an agent signing in and a push conversation being created, in every order
 * of the two commits and their follow-ups, and redelivered stream records.
 */

let threads = 0;
async function customerStarts(f: Fixture, deps: EngineDeps = f.deps): Promise<Conversation> {
  const r = await handleCustomerEvent(deps, f.org, f.channelId('chat'), {
    eventId: ulid(),
    type: 'conversation.started',
    threadId: `fu-${++threads}`,
  });
  if (r.outcome !== 'created') throw new Error(`expected a new conversation, got ${r.outcome}`);
  return r.conversation;
}

async function pushOrg(): Promise<Fixture> {
  const f = await makeFixture({ settle: 'manual' });
  await f.setWorkstream('chat', { distribution: 'push' });
  return f;
}

type Interleaving = (f: Fixture, agentId: string) => Promise<Conversation>;

/** The two commits and their follow-ups, in each order the stream and the two requests can take. */
const INTERLEAVINGS: Record<string, Interleaving> = {
  'sign-in, its follow-ups, then the conversation and its follow-ups': async (f, a) => {
    await signIn(f.deps, f.org, a);
    await f.settle();
    const c = await customerStarts(f);
    await f.settle();
    return c;
  },
  'the conversation, its follow-ups, then the sign-in and its follow-ups': async (f, a) => {
    const c = await customerStarts(f);
    await f.settle();
    await signIn(f.deps, f.org, a);
    await f.settle();
    return c;
  },
  'both commits (sign-in first), then every follow-up in stream order': async (f, a) => {
    await signIn(f.deps, f.org, a);
    const c = await customerStarts(f);
    await f.settle();
    return c;
  },
  'both commits (conversation first), then every follow-up in stream order': async (f, a) => {
    const c = await customerStarts(f);
    await signIn(f.deps, f.org, a);
    await f.settle();
    return c;
  },
  'both commits at once, then the follow-ups': async (f, a) => {
    const [c] = await Promise.all([customerStarts(f), signIn(f.deps, f.org, a)]);
    await f.settle();
    return c;
  },
  "the agent's backlog is read before the conversation commits (and its dispatch runs before her follow-up ends)":
    async (f, a) => {
      await signIn(f.deps, f.org, a);
      let created: Conversation | undefined;
      // the conversation commits (and its own follow-up, the dispatch, runs) in the middle of the
      // agent's follow-up: after her availability entry was written, before her backlog is read
      const racing: EngineDeps = {
        ...f.deps,
        lists: new Proxy(f.deps.lists, {
          get(target, prop, receiver) {
            const v = Reflect.get(target, prop, receiver) as unknown;
            if (prop !== 'listOpenItemsFor' || typeof v !== 'function')
              return typeof v === 'function' ? v.bind(target) : v;
            return async (...args: unknown[]) => {
              const listed = await (v as (...x: unknown[]) => Promise<unknown>).apply(target, args);
              if (!created) {
                created = await customerStarts(f);
                // the conversation's own follow-ups, from its stream records, run to the end meanwhile
                await settleWith(f, f.deps);
              }
              return listed; // as read before the conversation existed
            };
          },
        }),
      };
      await settleWith(f, racing);
      await f.settle();
      if (!created) throw new Error('the agent follow-up never listed her backlog');
      return created;
    },
};

/** Runs the pending follow-ups of the fixture's org with other dependencies (an instrumented store). */
async function settleWith(f: Fixture, deps: EngineDeps): Promise<void> {
  const { failed, errors } = await runFollowUps(deps, await f.takePending());
  if (failed.length) throw new Error(`follow-ups failed: ${errors.map((e) => String(e.error)).join('; ')}`);
}

describe('R-3: an agent signing in while a push conversation is created (follow-ups from the stream)', () => {
  for (const [name, run] of Object.entries(INTERLEAVINGS)) {
    it(`R-3: ${name}: the conversation is offered to her, every time`, async () => {
      // Prepare: one org; each round a new agent (the only one signed in) and a new conversation
      const f = await pushOrg();
      const rounds = 34;
      for (let i = 0; i < rounds; i++) {
        const agentId = `a${i}`;
        await f.addAgent(agentId, { default: 1 });
        await f.settle();

        // Act
        const c = await run(f, agentId);

        // Assess: offered to her, once, with her one unit reserved (C-5, RL-3)
        expect(await f.conversation(c.id), `round ${i}`).toMatchObject({
          status: 'Active',
          primaryAgentId: agentId,
          accepted: false,
        });
        const offers = (await f.store.listEvents(f.org, c.id)).filter((e) => e.action === 'offer');
        expect(offers, `round ${i}`).toHaveLength(1);
        expect((await ledgerOf(f, agentId)).pools.default?.used).toBe(1);
        await signOut(f.deps, f.org, agentId);
        await f.settle();
      }
    });
  }
});

describe('R-3: the stages of one batch', () => {
  it("R-3: an agent's change in the same batch as a new push conversation is in the index before it is dispatched (most free capacity first)", async () => {
    // Prepare: bob is signed in with one unit free; alice (three units) is not signed in yet
    const f = await pushOrg();
    await f.addAgent('bob', { default: 1 });
    await f.addAgent('alice', { default: 3 });
    await signIn(f.deps, f.org, 'bob');
    await f.settle();

    // Act: alice signs in and a conversation is created; both records come in one batch
    await signIn(f.deps, f.org, 'alice');
    const c = await customerStarts(f);
    const records = await f.takePending();
    const { failed } = await runFollowUps(f.deps, records);

    // Assess: its dispatch saw alice's new entry (stage 1 ran first) and chose her: most free first.
    // Dispatched before her entry was written, it would have gone to bob, the only one in the index.
    expect(failed).toEqual([]);
    expect(await f.conversation(c.id)).toMatchObject({ status: 'Active', primaryAgentId: 'alice', accepted: false });
  });

  it('R-3: an agent dispatched on a read made before a conversation of the same batch was offered to her still takes the waiting work that fits her (reliability seed -28140914, path 95)', async () => {
    // Prepare: alice (two units) is signed out; a two-unit voice call waits, then a one-unit chat
    const f = await pushOrg();
    await f.setWorkstream('voice', { distribution: 'push', capacity: { pool: 'default', units: 2 } });
    await f.addAgent('alice', { default: 2 });
    await f.settle();
    const call = await f.start('voice');
    const waiting = await customerStarts(f);
    await f.settle();

    // Act: she signs in and a new chat is created; both records come in one batch. Stage 1 reads
    // her (two free), stage 2 offers her the new chat (one left), stage 3 dispatches her on that read:
    // the call, oldest, fits the read but not her, and its offer fails on capacity
    await signIn(f.deps, f.org, 'alice');
    const newer = await customerStarts(f);
    const { failed } = await runFollowUps(f.deps, await f.takePending());

    // Assess: the waiting chat is offered to her at once (no dispatch timer needed): both units reserved
    expect(failed).toEqual([]);
    expect(await f.conversation(newer.id)).toMatchObject({ status: 'Active', primaryAgentId: 'alice' });
    expect(await f.conversation(waiting.id)).toMatchObject({ status: 'Active', primaryAgentId: 'alice' });
    expect((await f.conversation(call.id)).status).toBe('Open');
    expect((await ledgerOf(f, 'alice')).pools.default?.used).toBe(2);
  });
});

describe('R-3: agents freed together compete for one backlog', () => {
  it('R-3: an agent whose listed backlog is taken by others while she tries it lists her queues again and takes what waits past it (bench: 1 of 150 capacity releases never offered)', async () => {
    // Prepare: 27 push conversations wait (nobody signed in); alice (one unit) signs in
    const f = await pushOrg();
    await f.addAgent('alice', { default: 1 });
    await f.settle();
    const waiting: Conversation[] = [];
    for (let i = 0; i < 27; i++) waiting.push(await customerStarts(f));
    await f.settle();
    await signIn(f.deps, f.org, 'alice');

    // Act: her dispatch lists the 25 oldest; before she tries them, all 25 are taken (their customers
    // leave: the Open items are gone, as when other agents freed at the same moment take them first)
    let listings = 0;
    const racing: EngineDeps = {
      ...f.deps,
      lists: new Proxy(f.deps.lists, {
        get(target, prop, receiver) {
          const v = Reflect.get(target, prop, receiver) as unknown;
          if (prop !== 'listOpenItemsFor' || typeof v !== 'function')
            return typeof v === 'function' ? v.bind(target) : v;
          return async (...args: unknown[]) => {
            const listed = await (v as (...x: unknown[]) => Promise<{ items: Conversation[] }>).apply(target, args);
            if (listings++ === 0)
              for (const c of listed.items)
                await handleCustomerEvent(f.deps, f.org, f.channelId('chat'), {
                  eventId: ulid(),
                  type: 'customer.ended',
                  threadId: c.threadId,
                });
            return listed;
          };
        },
      }),
    };
    await settleWith(f, racing);

    // Assess: the listing held 25 taken items; she listed again and got the oldest still waiting
    expect(listings).toBeGreaterThanOrEqual(2);
    expect((await f.conversation(waiting[24]?.id as string)).status).toBe('Closed');
    expect(await f.conversation(waiting[25]?.id as string)).toMatchObject({
      status: 'Active',
      primaryAgentId: 'alice',
    });
    expect((await f.conversation(waiting[26]?.id as string)).status).toBe('Open');
  });
});

describe('redelivered stream records (at-least-once delivery)', () => {
  it('C-6 / RL-3 / R-3: the same records delivered three times make one offer and reserve capacity once', async () => {
    // Prepare: alice signed in; a push conversation created, its follow-ups not run yet
    const f = await pushOrg();
    const alice: Actor = { role: 'agent', id: 'alice' };
    await f.addAgent(alice.id, { default: 2 });
    await signIn(f.deps, f.org, alice.id);
    await f.settle();
    const c = await customerStarts(f);
    const records = await f.takePending();

    // Act: the stream hands the same batch over three times (a consumer that died after its work, twice)
    for (let n = 0; n < 3; n++) await runFollowUps(f.deps, records);
    await f.settle();

    // Assess
    expect(await f.conversation(c.id)).toMatchObject({ status: 'Active', primaryAgentId: 'alice', accepted: false });
    expect((await f.store.listEvents(f.org, c.id)).filter((e) => e.action === 'offer')).toHaveLength(1);
    const ledger = await ledgerOf(f, 'alice');
    expect(ledger.pools.default?.used).toBe(1);
    expect(ledger.allocated.default).toBe(1);
  });

  it('a follow-up that fails is reported by the first record that asked for it (the shard resumes there)', async () => {
    // Prepare: a push conversation whose dispatch cannot read its workstream (a transient fault)
    const f = await pushOrg();
    const c = await customerStarts(f);
    const records = await f.takePending();
    const failing: EngineDeps = {
      ...f.deps,
      conversations: new Proxy(f.deps.conversations, {
        get(target, prop, receiver) {
          const v = Reflect.get(target, prop, receiver) as unknown;
          if (prop === 'getConversation') return async () => Promise.reject(new Error('throttled'));
          return typeof v === 'function' ? v.bind(target) : v;
        },
      }),
    };

    // Act
    const result = await runFollowUps(failing, records);

    // Assess: reported by the sequence number of the conversation's record, which a redelivery retries
    const created = records.find(
      (r) => r.dynamodb?.NewImage?.id?.S === c.id && r.dynamodb?.NewImage?.type?.S === 'conversation',
    );
    expect(result.failed).toEqual([created?.dynamodb?.SequenceNumber]);
    expect(result.errors[0]?.task).toMatchObject({ kind: 'conversation', conversationId: c.id });
  });
});

describe('the outbox behind the stream (R-3 safety net)', () => {
  it('R-3: an agent whose sign-in follow-up never ran is still offered the waiting push conversation, by the dispatch item of her sign-in', async () => {
    // Prepare: a push conversation waits with nobody signed in; alice signs in and the stream records
    // of her sign-in are lost (the follow-ups never see them)
    const f = await pushOrg();
    await f.addAgent('alice');
    await f.settle();
    const c = await customerStarts(f);
    await f.settle();
    await signIn(f.deps, f.org, 'alice');
    await f.takePending();
    expect((await f.conversation(c.id)).status).toBe('Open');

    // Act: the sweeper fires what is due in the outbox
    f.clock.advance(DISPATCH_RETRY_SECONDS);
    const fired = await sweepDueTimers(f.deps, orgOutbox(f));

    // Assess
    expect(fired).toContainEqual(expect.objectContaining({ kind: 'dispatch', agentId: 'alice', outcome: 'applied' }));
    expect(await f.conversation(c.id)).toMatchObject({ status: 'Active', primaryAgentId: 'alice', accepted: false });
  });
});
