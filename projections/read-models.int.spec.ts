import type { Pool } from 'pg';
import { MsgKeyGenerator } from '../src/common/ids';
import { KeyRing } from '../src/crypto/key-ring';
import { EventStore } from '../src/event-store/event-store.port';
import { PostgresEventStore } from '../src/event-store/postgres/postgres-event-store';
import { ConversationStore } from '../src/messaging/conversation.store';
import { privateConversationId } from '../src/messaging/domain/conversation';
import { UserRelationsStore } from '../src/relations/user-relations.store';
import { SessionEventsWriter } from '../src/sessions/session-events.writer';
import {
  SESSION_ACKED,
  SESSION_DND_SET,
  SESSION_TOP_SET,
  SESSION_TRUST_SET,
  SESSIONS_REMOVED,
} from '../src/sessions/sessions.events';
import { createTestDatabase, createTestPool, TestDatabase } from '../test/support/database';
import {
  caughtUp,
  dumpReadModels,
  resetAll,
  testKeyRing,
  testProjectors,
} from '../test/support/messaging';
import { waitFor } from '../test/support/wait-for';
import { ProjectionRunner } from './projection-runner';

const USERS = ['u0', 'u1', 'u2', 'u3', 'u4', 'u5'];
const NAMES = testProjectors(null as never).map((p) => p.name);
const META = { actor: { kind: 'system' as const, id: 'test' }, correlationId: 'read-models' };

/** A small deterministic PRNG (mulberry32), so a failing seed can be replayed. */
function rng(seed: number): () => number {
  let a = seed;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/**
 * Every kind of private-messaging write, at random, through the real write paths: sends (sealed),
 * recalls, relation and privacy changes, profiles, and every session event.
 */
async function randomWorkload(store: EventStore, keyRing: KeyRing, seed: number, ops: number) {
  const random = rng(seed);
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(random() * xs.length)];
  const conversations = new ConversationStore(store);
  const relations = new UserRelationsStore(store);
  const sessions = new SessionEventsWriter(store);
  const keys = new MsgKeyGenerator(9);
  const sent: { from: string; to: string; msgKey: string; seqno: number }[] = [];
  let nowUs = 1_800_000_000_000_000 + seed * 1_000_000_000;
  for (let i = 0; i < ops; i++) {
    nowUs += 1 + Math.floor(random() * 1000);
    const a = pick(USERS);
    const b = pick(USERS.filter((u) => u !== a));
    const r = random();
    if (r < 0.5) {
      const content = await keyRing.encryptFor(a, JSON.stringify({ content: `m${i} [doge]` }));
      const { result } = await conversations.execute(
        {
          kind: 'SendMessage',
          conversationId: privateConversationId(a, b),
          senderUid: a,
          receiverType: 1,
          receiverId: b,
          msgType: 1,
          content,
          atUids: null,
          msgSource: 7,
          newFaceVersion: 1,
          devId: `dev-${seed}-${i}`,
          msgKey: keys.next(),
          nowUs,
          receiverFollowsSender: true,
          system: false,
        },
        META,
      );
      sent.push({ from: a, to: b, msgKey: result.msgKey, seqno: result.seqno });
    } else if (r < 0.6 && sent.length > 0) {
      const m = pick(sent);
      await conversations
        .execute(
          {
            kind: 'RecallMessage',
            conversationId: privateConversationId(m.from, m.to),
            senderUid: m.from,
            receiverType: 1,
            receiverId: m.to,
            targetMsgKey: m.msgKey,
            msgKey: keys.next(),
            nowUs,
            devId: `recall-${seed}-${i}`,
            msgSource: 7,
            system: random() < 0.3,
            windowUs: 3_600_000_000,
          },
          META,
        )
        .catch(() => undefined); // already recalled, or out of the recent window: no event
    } else if (r < 0.75) {
      const op = pick(['follow', 'unfollow', 'block', 'unblock'] as const);
      await relations.execute({ kind: 'ChangeRelation', uid: a, targetUid: b, op, nowUs }, META);
    } else if (r < 0.8) {
      await relations.execute(
        { kind: 'SetPrivacy', uid: a, intercept: random() < 0.5, followedOnly: false, nowUs },
        META,
      );
    } else if (r < 0.82) {
      await relations.execute(
        {
          kind: 'UpdateProfile',
          uid: a,
          name: `name ${i}`,
          face: '',
          officialType: -1,
          systemMsgType: random() < 0.2 ? 7 : 0,
          nowUs,
        },
        META,
      );
    } else {
      const ref = { ownerUid: a, sessionType: 1 as const, talkerId: b };
      const mine = sent.filter((m) => (m.from === a && m.to === b) || (m.from === b && m.to === a));
      const newest = mine.length ? mine[mine.length - 1].seqno : 0;
      const kind = pick(['ack', 'top', 'dnd', 'remove', 'trust'] as const);
      if (kind === 'ack') {
        const ackSeqno = Math.floor(random() * (newest + 1));
        await sessions.append(
          a,
          SESSION_ACKED,
          { ownerUid: a, acks: [{ ...ref, ackSeqno }], atUs: nowUs },
          META,
        );
      } else if (kind === 'top') {
        await sessions.append(
          a,
          SESSION_TOP_SET,
          { ...ref, topTs: random() < 0.5 ? nowUs : 0 },
          META,
        );
      } else if (kind === 'dnd') {
        await sessions.append(a, SESSION_DND_SET, { ...ref, dnd: random() < 0.5 }, META);
      } else if (kind === 'trust') {
        await sessions.append(a, SESSION_TRUST_SET, { ...ref, trusted: random() < 0.5 }, META);
      } else if (newest > 0) {
        await sessions.append(
          a,
          SESSIONS_REMOVED,
          {
            ownerUid: a,
            sessions: [{ sessionType: 1, talkerId: b, uptoSeqno: newest }],
            atUs: nowUs,
          },
          META,
        );
      }
    }
  }
}

describe('read models of private messaging', () => {
  let db: TestDatabase;
  let pool: Pool;
  let store: PostgresEventStore;

  beforeEach(async () => {
    db = await createTestDatabase();
    pool = createTestPool(db.url, 20);
    store = new PostgresEventStore(pool, { pollIntervalMs: 50 });
  });
  afterEach(async () => {
    await store.close();
    await pool.end();
    await db.drop();
  });

  it.each([11, 12, 13])(
    'built live in small batches equal a rebuild from position zero (seed %i)',
    async (seed) => {
      // Given projections following the log live, in small batches, while every kind of write
      // happens at random
      const live = new ProjectionRunner(store, pool, testProjectors(pool), {
        batchSize: 1 + (seed % 7),
      });
      live.start();
      await randomWorkload(store, testKeyRing(pool), seed, 400);
      await waitFor(() => caughtUp(pool, NAMES), 'live projections to reach the head', 30_000);
      await live.stop();
      const built = await dumpReadModels(pool);

      // When every read model is rebuilt from position zero in large batches, with a fresh key ring
      const projectors = testProjectors(pool);
      await resetAll(pool, projectors);
      const rebuild = new ProjectionRunner(store, pool, projectors, { batchSize: 500 });
      rebuild.start();
      await waitFor(() => caughtUp(pool, NAMES), 'the rebuild to reach the head', 30_000);
      await rebuild.stop();

      // Then both are the same, row for row
      expect(await dumpReadModels(pool)).toEqual(built);
      // And the invariants of sessions hold
      const { rows } = await pool.query<{ bad: string }>(
        `SELECT count(*) AS bad FROM rm_sessions
          WHERE ack_seqno < 0 OR hidden_upto_seqno > max_seqno OR max_seqno < 0`,
      );
      expect(Number(rows[0].bad)).toBe(0);
      const opened = await pool.query<{ n: string }>(
        `SELECT count(*) AS n FROM rm_messages WHERE content LIKE 'e1.%'`,
      );
      expect(Number(opened.rows[0].n)).toBe(0);
    },
  );
});
