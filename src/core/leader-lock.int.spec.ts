import type { Pool } from 'pg';
import { createTestDatabase, createTestPool, TestDatabase } from '../../test/support/database';
import { waitFor } from '../../test/support/wait-for';
import { LeaderLock, LeaderWork } from './leader-lock';

const KEY = 42n;
const quiet = { info: () => undefined, warn: () => undefined };

/** Work that records whether it runs. */
function work(): LeaderWork & { running: boolean; starts: number; stops: number } {
  return {
    running: false,
    starts: 0,
    stops: 0,
    start() {
      this.running = true;
      this.starts++;
    },
    async stop() {
      if (this.running) this.stops++;
      this.running = false;
    },
  };
}

describe('LeaderLock: one process runs the work, another takes over when it goes', () => {
  let db: TestDatabase;
  let pool: Pool;
  const locks: LeaderLock[] = [];
  const lock = (w: LeaderWork) => {
    const l = new LeaderLock({ connectionString: db.url, key: KEY, pollMs: 50, logger: quiet }, w);
    locks.push(l);
    l.start();
    return l;
  };

  beforeEach(async () => {
    db = await createTestDatabase();
    // createTestPool: its pool ignores the errors of connections the database's drop cuts while
    // they close (a plain Pool throws them as unhandled 'error' events, failing the file).
    pool = createTestPool(db.url, 2);
  });
  afterEach(async () => {
    await Promise.all(locks.splice(0).map((l) => l.stop()));
    await pool.end();
    await db.drop();
  });

  it('lets exactly one of three lead, and the next take over when the leader stops', async () => {
    const works = [work(), work(), work()];
    const all = works.map(lock);
    await waitFor(() => works.some((w) => w.running), 'a leader');
    // The others try the lock again and again: none of them gets it.
    const leader = works.findIndex((w) => w.running);
    await waitFor(() => all.every((l) => l.tries >= 4), 'several tries by each');
    expect(works.filter((w) => w.running)).toHaveLength(1);
    expect(all[leader].isLeader).toBe(true);
    expect(all.filter((l) => l.isLeader)).toHaveLength(1);

    await all[leader].stop();
    expect(works[leader].running).toBe(false);
    await waitFor(() => works.filter((w) => w.running).length === 1, 'a new leader');
    expect(works.findIndex((w) => w.running)).not.toBe(leader);
  });

  it('stops the work of a leader whose connection is killed; one of them leads again', async () => {
    const a = work();
    const b = work();
    lock(a);
    await waitFor(() => a.running, 'the first leader');
    lock(b);
    const { rows } = await pool.query<{ pid: number }>(
      `SELECT pid FROM pg_locks
        WHERE locktype = 'advisory' AND granted AND objid = $1
          AND database = (SELECT oid FROM pg_database WHERE datname = current_database())`,
      [Number(KEY)],
    );
    expect(rows).toHaveLength(1);
    await pool.query('SELECT pg_terminate_backend($1)', [rows[0].pid]);
    await waitFor(() => a.stops === 1, 'a to stop its work');
    // a reconnects and queues again: whichever gets the lock first leads, and only that one.
    await waitFor(() => a.running !== b.running, 'a new leader');
    await waitFor(() => locks.every((l) => l.tries >= 8), 'several more tries by each');
    expect([a.running, b.running].filter(Boolean)).toHaveLength(1);
    expect(locks.filter((l) => l.isLeader)).toHaveLength(1);
  });
});
