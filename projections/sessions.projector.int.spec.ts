import type { Pool } from 'pg';
import { PostgresEventStore } from '../src/event-store/postgres/postgres-event-store';
import { createTestDatabase, createTestPool, TestDatabase } from '../test/support/database';
import { caughtUp, DirectSender, testKeyRing } from '../test/support/messaging';
import { waitFor } from '../test/support/wait-for';
import { ProjectionRunner } from './projection-runner';
import { SessionsProjector } from './sessions.projector';
import { seeded } from '../test/support/seeded-random';

interface Expected {
  max_seqno: number;
  ack_seqno: number;
  unread_count: number;
}

/**
 * The session list's numbers, computed the slow way from the conversation itself: read progress is
 * the owner's own last message, unread is what the talker sent after it.
 */
function model(messages: { from: string; seqno: number }[], owner: string): Expected {
  const own = messages.filter((m) => m.from === owner);
  const ack = own.length ? own[own.length - 1].seqno : 0;
  return {
    max_seqno: messages.length ? messages[messages.length - 1].seqno : 0,
    ack_seqno: ack,
    unread_count: messages.filter((m) => m.from !== owner && m.seqno > ack).length,
  };
}

describe('sessions projector: unread counts and read progress', () => {
  let db: TestDatabase;
  let pool: Pool;
  let store: PostgresEventStore;

  beforeEach(async () => {
    db = await createTestDatabase();
    pool = createTestPool(db.url, 10);
    store = new PostgresEventStore(pool, { pollIntervalMs: 50 });
  });
  afterEach(async () => {
    await store.close();
    await pool.end();
    await db.drop();
  });

  it.each([1, 2, 3, 4, 5])(
    'match a model of the conversation for random exchanges cut into random batches (seed %i)',
    async (seed) => {
      const random = seeded(seed);
      const sender = new DirectSender(store, testKeyRing(pool));
      const users = ['ann', 'bob', 'cy', 'dee'];
      const sent = new Map<string, { from: string; seqno: number }[]>();
      // Given random messages between random pairs, sent in order per conversation
      for (let i = 0; i < 120; i++) {
        const from = users[Math.floor(random() * users.length)];
        let to = users[Math.floor(random() * users.length)];
        if (to === from) to = users[(users.indexOf(from) + 1) % users.length];
        const { result } = await sender.send(from, to, `m${i}`);
        const key = [from, to].sort().join('~');
        sent.set(key, [...(sent.get(key) ?? []), { from, seqno: result.seqno }]);
      }
      // When the projector applies the log in batches of a random size
      const runner = new ProjectionRunner(store, pool, [new SessionsProjector()], {
        batchSize: 1 + Math.floor(random() * 17),
      });
      runner.start();
      await waitFor(() => caughtUp(pool, ['sessions']), 'the sessions projection');
      await runner.stop();
      // Then every session, from both sides, matches the model
      for (const [key, messages] of sent) {
        const [a, b] = key.split('~');
        for (const [owner, talker] of [
          [a, b],
          [b, a],
        ]) {
          const { rows } = await pool.query<Record<string, string>>(
            `SELECT max_seqno, ack_seqno, max_seqno - ack_seqno AS unread_count FROM rm_sessions
              WHERE owner_uid = $1 AND session_type = 1 AND talker_id = $2`,
            [owner, talker],
          );
          expect({ owner, talker, ...mapNumbers(rows[0]) }).toEqual({
            owner,
            talker,
            ...model(messages, owner),
          });
        }
      }
    },
  );
});

function mapNumbers(row: Record<string, string>): Expected {
  return {
    max_seqno: Number(row.max_seqno),
    ack_seqno: Number(row.ack_seqno),
    unread_count: Number(row.unread_count),
  };
}
