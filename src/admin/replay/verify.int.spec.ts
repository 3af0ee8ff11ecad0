import type { Pool } from 'pg';
import { allProjectors } from '../../../projections';
import { ProjectionRunner } from '../../../projections/projection-runner';
import { PostgresEventStore } from '../../event-store/postgres/postgres-event-store';
import { useTestStore } from '../../../test/support/test-store';
import {
  caughtUp,
  DirectSender,
  testKeyRing,
  testProjectors,
} from '../../../test/support/messaging';
import { waitFor } from '../../../test/support/wait-for';
import { listCopies } from './read-model-copies';
import type { ReplayDeps } from './replay-common';
import { verify } from './verify';

const NAMES = allProjectors(null as never).map((p) => p.name);
const users = Array.from({ length: 8 }, (_, i) => `v${i}`);

describe('verify', () => {
  let pool: Pool;
  let store: PostgresEventStore;
  let sender: DirectSender;
  let live: ProjectionRunner;
  const deps = (): ReplayDeps => ({ pool, store, projectors: testProjectors(pool) });

  async function sendMany(n: number, salt: number): Promise<void> {
    for (let i = 0; i < n; i += 8) {
      await Promise.all(
        Array.from({ length: Math.min(8, n - i) }, (_, j) => {
          const k = i + j;
          const from = users[(k * 5 + salt) % users.length];
          const to = users[(k * 3 + salt + 1) % users.length];
          return from === to ? Promise.resolve() : sender.send(from, to, `v${salt}-${k}`);
        }),
      );
    }
  }

  // Declared first: it runs before the store's close (after-hooks run in the order declared).
  afterAll(() => live.stop());
  useTestStore((t) => ({ pool, store } = t), {
    connections: 20,
    pollIntervalMs: 50,
    perFile: true,
  });
  beforeAll(async () => {
    sender = new DirectSender(store, testKeyRing(pool));
    live = new ProjectionRunner(store, pool, testProjectors(pool), { batchSize: 40 });
    await sendMany(240, 1);
    live.start();
    await waitFor(() => caughtUp(pool, NAMES), 'live projections', 30_000);
  });

  it('finds a live build equal to a rebuild at the same position, while the live one moves on', async () => {
    // Given messages still arriving and being projected
    const load = sendMany(200, 2);
    // When verify runs meanwhile
    const result = await verify(deps(), { batchSize: 30 });
    await load;
    // Then every table of every projection is equal, row for row
    expect(result.differing).toEqual([]);
    expect(result.equal).toBe(true);
    expect(result.projections.map((p) => p.name)).toEqual(NAMES);
    expect(result.tables.map((t) => t.table)).toEqual(
      testProjectors(pool).flatMap((p) => p.tables),
    );
    const messages = result.tables.find((t) => t.table === 'rm_messages')!;
    expect(messages.liveRows).toBeGreaterThan(200);
    expect(messages.rebuiltRows).toBe(messages.liveRows);
    // And it paused the live projections only briefly, and left no schema behind
    expect(result.pausedMs).toBeLessThan(5_000);
    expect(await listCopies(pool, 'verify')).toEqual([]);
  });

  it('reports every difference per table, with counts and capped samples, and no other', async () => {
    // Given live read models changed behind the projections' back
    await waitFor(() => caughtUp(pool, NAMES), 'live projections', 30_000);
    await live.stop();
    try {
      await pool.query(
        `UPDATE rm_sessions SET ack_seqno = ack_seqno + 100
          WHERE (owner_uid, talker_id) IN (SELECT owner_uid, talker_id FROM rm_sessions LIMIT 3)`,
      );
      await pool.query(
        `DELETE FROM rm_messages WHERE msg_key IN (SELECT msg_key FROM rm_messages LIMIT 2)`,
      );
      await pool.query(
        `INSERT INTO rm_profiles (uid, name, face, official_type, system_msg_type)
         VALUES ('ghost', 'nobody', '', -1, 0)`,
      );

      // When verify runs, showing at most 2 rows a side
      const result = await verify(deps(), {
        projections: ['messages', 'sessions', 'relations'],
        maxRows: 2,
      });

      // Then it names the three tables and only them
      expect(result.equal).toBe(false);
      expect([...result.differing].sort()).toEqual(['rm_messages', 'rm_profiles', 'rm_sessions']);
      const table = (name: string) => result.tables.find((t) => t.table === name)!;
      expect(table('rm_sessions')).toMatchObject({ onlyLive: 3, onlyRebuilt: 3 });
      expect(table('rm_sessions').onlyLiveRows).toHaveLength(2);
      expect(table('rm_messages')).toMatchObject({ onlyLive: 0, onlyRebuilt: 2 });
      expect(table('rm_messages').liveRows).toBe(table('rm_messages').rebuiltRows - 2);
      expect(table('rm_profiles')).toMatchObject({ onlyLive: 1, onlyRebuilt: 0 });
      expect(table('rm_profiles').onlyLiveRows).toEqual([
        { uid: 'ghost', name: 'nobody', face: '', official_type: -1, system_msg_type: 0 },
      ]);
      expect(table('rm_daily_sends')).toMatchObject({ onlyLive: 0, onlyRebuilt: 0 });
    } finally {
      // Put the live read models right again for whatever runs after
      await pool.query(`DELETE FROM rm_profiles WHERE uid = 'ghost'`);
    }
  });
});
