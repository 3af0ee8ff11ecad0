import type { Pool } from 'pg';
import { allProjectors } from '../../../projections';
import { ProjectionRunner } from '../../../projections/projection-runner';
import type { Projector } from '../../../projections/projector';
import { DomainError } from '../../common/errors';
import { PostgresEventStore } from '../../event-store/postgres/postgres-event-store';
import { createTestPool, TestDatabase } from '../../../test/support/database';
import { useTestStore } from '../../../test/support/test-store';
import {
  caughtUp,
  DirectSender,
  dumpReadModels,
  testKeyRing,
  testProjectors,
} from '../../../test/support/messaging';
import { waitFor } from '../../../test/support/wait-for';
import { dropCopy, listCopies } from './read-model-copies';
import { dropRetired, rebuild, RebuildPoint } from './rebuild';
import type { ReplayDeps } from './replay-common';
import { ReplayErrors } from './replay.errors';
import { ReplayInterruptedError } from './replay-progress';
import { verify } from './verify';

const NAMES = allProjectors(null as never).map((p) => p.name);
const users = Array.from({ length: 10 }, (_, i) => `r${i}`);

describe('rebuild without downtime', () => {
  let db: TestDatabase;
  let pool: Pool;
  let store: PostgresEventStore;
  let sender: DirectSender;
  let live: ProjectionRunner;
  const deps = (): ReplayDeps => ({ pool, store, projectors: testProjectors(pool) });

  async function sendMany(n: number, salt: number): Promise<void> {
    const pending: Promise<unknown>[] = [];
    for (let i = 0; i < n; i++) {
      const from = users[(i * 7 + salt) % users.length];
      const to = users[(i * 3 + salt + 1) % users.length];
      if (from === to) continue;
      pending.push(sender.send(from, to, `m${salt}-${i}`));
      if (pending.length >= 8) await Promise.all(pending.splice(0));
    }
    await Promise.all(pending);
  }

  /** The live tables' identities: a swap replaces them, an interrupted rebuild must not. */
  async function liveTableIds(): Promise<Record<string, number>> {
    const { rows } = await pool.query<{ relname: string; oid: number }>(
      `SELECT c.relname, c.oid::int AS oid FROM pg_class c JOIN pg_namespace n
         ON n.oid = c.relnamespace
        WHERE n.nspname = 'public' AND c.relkind = 'r' AND c.relname LIKE 'rm\\_%'`,
    );
    return Object.fromEntries(rows.map((r) => [r.relname, r.oid]));
  }

  /** The live read models' indexes, extended statistics and storage parameters, by name. */
  async function liveDefinitions(): Promise<string[]> {
    const { rows } = await pool.query<{ def: string }>(
      `SELECT indexname || ': ' || indexdef AS def FROM pg_indexes
        WHERE schemaname = 'public' AND tablename LIKE 'rm\\_%'
       UNION ALL
       SELECT n.nspname || '.' || x.stxname || ': ' || pg_get_statisticsobjdef(x.oid)
         FROM pg_statistic_ext x JOIN pg_namespace n ON n.oid = x.stxnamespace
        WHERE x.stxrelid::regclass::text LIKE 'rm\\_%'
       UNION ALL
       SELECT c.relname || ' (' || c.relpersistence::text || ') with: '
              || COALESCE(array_to_string(c.reloptions, ', '), '')
         FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE n.nspname = 'public' AND c.relkind = 'r' AND c.relname LIKE 'rm\\_%'
       ORDER BY 1`,
    );
    return rows.map((r) => r.def);
  }

  /** Readers still running: stopped after each test, so a failed test leaves none behind. */
  const readers: { stop: () => Promise<string[]> }[] = [];

  /** Keeps reading the live read models until stopped; resolves with the failures seen. */
  function readContinuously(): { stop: () => Promise<string[]> } {
    let stopped = false;
    const failures: string[] = [];
    const loop = (async () => {
      while (!stopped) {
        try {
          await pool.query(
            `SELECT * FROM rm_session_view WHERE owner_uid = $1
              ORDER BY session_ts DESC LIMIT 20`,
            [users[0]],
          );
          await pool.query(
            `SELECT * FROM rm_messages WHERE conversation_id = $1
              ORDER BY msg_seqno DESC LIMIT 20`,
            ['r0~r1'],
          );
        } catch (err) {
          failures.push((err as Error).message);
        }
        await new Promise((r) => setTimeout(r, 2));
      }
    })();
    const reader = {
      stop: async () => {
        stopped = true;
        await loop;
        return failures;
      },
    };
    readers.push(reader);
    return reader;
  }

  // Declared first: it runs before the store's close (after-hooks run in the order declared).
  afterEach(async () => {
    for (const reader of readers.splice(0)) await reader.stop();
    await live.stop();
  });
  useTestStore(
    (t) => {
      ({ db, pool, store } = t);
      sender = new DirectSender(store, testKeyRing(pool));
      live = new ProjectionRunner(store, pool, testProjectors(pool), { batchSize: 50 });
    },
    { connections: 30, pollIntervalMs: 50 },
  );

  it('swaps rebuilt read models in while the live ones serve and the log grows', async () => {
    // Given a log and live read models at its head, still being written and read
    await sendMany(300, 1);
    live.start();
    await waitFor(() => caughtUp(pool, NAMES), 'live projections', 30_000);
    await pool.query('ALTER TABLE rm_sessions SET (fillfactor = 90, autovacuum_enabled = true)');
    const before = await liveTableIds();
    const definitions = await liveDefinitions();
    const reads = readContinuously();
    const load = sendMany(300, 2);

    // When every projection is rebuilt
    const result = await rebuild(deps(), { batchSize: 64 });
    await load;
    const failures = await reads.stop();

    // Then the live tables were replaced by the rebuilt ones, and no read failed meanwhile
    expect(failures).toEqual([]);
    expect(result.projections).toEqual(NAMES);
    expect(result.resumed).toBe(false);
    expect(result.indexesCreated).toBeGreaterThan(0);
    const after = await liveTableIds();
    for (const table of Object.keys(before)) expect(after[table]).not.toBe(before[table]);
    // with the same indexes and extended statistics, under the same names, in public
    expect(definitions).toContain(
      'public.rm_audit_type_action: CREATE STATISTICS public.rm_audit_type_action (mcv) ON type, action FROM rm_audit',
    );
    // (permanent tables, though the shadow was loaded unlogged)
    expect(definitions).toContain('rm_sessions (p) with: fillfactor=90, autovacuum_enabled=true');
    expect(definitions).toContain('rm_audit (p) with: ');
    expect(await liveDefinitions()).toEqual(definitions);
    // And the live projections carry on from the swapped checkpoints to the head
    await waitFor(() => caughtUp(pool, NAMES), 'live projections after the swap', 30_000);
    const messages = await pool.query<{ n: string }>('SELECT count(*) AS n FROM rm_messages');
    expect(Number(messages.rows[0].n)).toBeGreaterThan(500);
    // And a rebuild from zero agrees with them, table by table
    const check = await verify(deps());
    expect(check.differing).toEqual([]);
    expect(check.equal).toBe(true);
    // And nothing is left of the shadow
    expect(await listCopies(pool, 'rebuild')).toEqual([]);
    const schemas = await pool.query(
      `SELECT nspname FROM pg_namespace WHERE nspname LIKE 'retired%' OR nspname LIKE 'rebuild%'`,
    );
    expect(schemas.rows).toEqual([]);
  });

  it("gives the swapped-in tables the live tables' owner and grants, whatever role rebuilds", async () => {
    // Given read models that belong to the server's role (not the one that rebuilds), some read
    // by a reporting role too
    const app = `${db.name}_app`;
    const reports = `${db.name}_reports`;
    await pool.query(`CREATE ROLE ${app} LOGIN PASSWORD 'app-secret'`);
    await pool.query(`CREATE ROLE ${reports}`);
    try {
      await sendMany(60, 11);
      live.start();
      await waitFor(() => caughtUp(pool, NAMES), 'live projections', 30_000);
      const tables = Object.keys(await liveTableIds());
      for (const t of tables) await pool.query(`ALTER TABLE public.${t} OWNER TO ${app}`);
      await pool.query(`GRANT SELECT ON rm_messages, rm_sessions TO ${reports}`);
      await pool.query(`GRANT SELECT, UPDATE ON rm_users TO ${reports} WITH GRANT OPTION`);
      const access = () =>
        pool
          .query<{ t: string }>(
            `SELECT c.relname || ' ' || pg_get_userbyid(c.relowner) || ' '
                    || COALESCE(c.relacl::text, '-') AS t
               FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
              WHERE n.nspname = 'public' AND c.relkind = 'r' AND c.relname LIKE 'rm\\_%'
              ORDER BY 1`,
          )
          .then((r) => r.rows.map((x) => x.t));
      const before = await access();
      expect(before).toContain(`rm_audit ${app} -`);
      expect(before.find((t) => t.startsWith('rm_users '))).toContain(`${reports}=r*w*/${app}`);

      // When another role (here a superuser) rebuilds every projection
      const ids = await liveTableIds();
      await rebuild(deps(), { batchSize: 64 });

      // Then the new tables have the same owner and grants
      const after = await liveTableIds();
      for (const t of tables) expect(after[t]).not.toBe(ids[t]);
      expect(await access()).toEqual(before);
      // and the server's role still reads and writes them
      const url = new URL(db.url);
      url.username = app;
      url.password = 'app-secret';
      const asApp = createTestPool(url.toString(), 1);
      try {
        await asApp.query(`INSERT INTO rm_daily_sends (uid, day, sent) VALUES ('x', 1, 1)`);
        const { rows } = await asApp.query<{ n: string }>('SELECT count(*) AS n FROM rm_messages');
        expect(Number(rows[0].n)).toBeGreaterThan(0);
      } finally {
        await asApp.end();
      }
    } finally {
      await live.stop();
      await pool.query(`REASSIGN OWNED BY ${app} TO CURRENT_USER`);
      await pool.query(`DROP OWNED BY ${app}, ${reports}`);
      await pool.query(`DROP ROLE ${app}, ${reports}`);
    }
  });

  it('loads an unlogged shadow without autovacuum, with room for upserts, and makes it logged before the indexes', async () => {
    await sendMany(100, 8);
    live.start();
    await waitFor(() => caughtUp(pool, NAMES), 'live projections', 30_000);
    const shadowTables = async () =>
      (
        await pool.query<{ relname: string; p: string; options: string[] | null }>(
          `SELECT c.relname, c.relpersistence::text AS p, c.reloptions AS options
             FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
            WHERE starts_with(n.nspname, 'rebuild_') AND c.relkind = 'r' ORDER BY 1`,
        )
      ).rows;
    const seen: Record<string, Awaited<ReturnType<typeof shadowTables>>> = {};

    await rebuild(deps(), {
      projections: ['sessions'],
      hook: async (at) => {
        if (at === 'loaded' || at === 'indexed') seen[at] = await shadowTables();
      },
    });

    // While loading: unlogged, its checkpoints too (a crash of PostgreSQL empties them together)
    expect(seen.loaded.map((t) => [t.relname, t.p])).toEqual([
      ['projection_checkpoints', 'u'],
      ['rm_daily_sends', 'u'],
      ['rm_sessions', 'u'],
    ]);
    // with room in the pages of the tables every message updates (Projector.upserted)
    for (const t of seen.loaded.filter((x) => x.relname.startsWith('rm_'))) {
      expect(t.options).toEqual(['fillfactor=50', 'autovacuum_enabled=false']);
    }
    // Once indexed: logged, and rewritten at the live tables' fill factor (the default here)
    expect(seen.indexed.map((t) => t.p)).toEqual(['p', 'p', 'p']);
    for (const t of seen.indexed.filter((x) => x.relname.startsWith('rm_'))) {
      expect(t.options).toEqual(['autovacuum_enabled=false']);
    }
  });

  it('rebuilds the audit alone in SQL from the log, in small batches, equal to the live index', async () => {
    // Given live read models at the head of a log (the audit's built event by event)
    await sendMany(150, 5);
    live.start();
    await waitFor(() => caughtUp(pool, NAMES), 'live projections', 30_000);
    const liveAudit = async () =>
      (
        await pool.query<{ r: string }>(
          'SELECT to_jsonb(a)::text AS r FROM rm_audit a ORDER BY commit_position, prepare_position',
        )
      ).rows.map((x) => x.r);
    await live.stop();
    const before = await liveAudit();
    const events = await pool.query<{ n: number }>('SELECT count(*)::int AS n FROM es_events');

    const keysOf = async (schema: string) =>
      (
        await pool.query<{ c: string }>(
          `SELECT t.relname || ':' || con.conname || ':' || con.contype::text AS c
             FROM pg_constraint con JOIN pg_class t ON t.oid = con.conrelid
             JOIN pg_namespace n ON n.oid = t.relnamespace
            WHERE n.nspname = $1 AND t.relname LIKE 'rm_audit%' AND con.contype IN ('p', 'u')
            ORDER BY 1`,
          [schema],
        )
      ).rows.map((r) => r.c);
    const liveKeys = await keysOf('public');
    const shadowKeys: Record<string, string[]> = {};

    // When the audit alone is rebuilt (no projector then takes events: the log is read for
    // positions only, and applyFromLog writes every row)
    const result = await rebuild(deps(), {
      projections: ['audit'],
      batchSize: 50,
      hook: async (at) => {
        if (at !== 'loaded' && at !== 'indexed') return;
        const { rows } = await pool.query<{ s: string }>(
          `SELECT nspname AS s FROM pg_namespace WHERE starts_with(nspname, 'rebuild_')`,
        );
        shadowKeys[at] = await keysOf(rows[0].s);
      },
    });

    // Then every event was passed (the count progress reports) and indexed once, as the live
    // projection indexed it
    expect(result.eventsApplied).toBe(events.rows[0].n);
    expect(await liveAudit()).toEqual(before);
    expect(before).toHaveLength(events.rows[0].n);
    // And rm_audit's primary key was built after the load (Projector.keysAfterLoadFromLog), as
    // the live one is; rm_audit_hours, upserted while loading, had its key throughout
    expect(liveKeys).toEqual(['rm_audit:rm_audit_pkey:p', 'rm_audit_hours:rm_audit_hours_pkey:p']);
    expect(shadowKeys.loaded).toEqual(['rm_audit_hours:rm_audit_hours_pkey:p']);
    expect(shadowKeys.indexed).toEqual(liveKeys);
    expect(await keysOf('public')).toEqual(liveKeys);
  });

  it('drops the old tables without deadlocking a reader that still locks them one by one', async () => {
    // Given the old tables of a swap, and a reader still on one of them (as a statement planned
    // before the swap locks the old tables one after the other before it plans again)
    const schema = 'retired_rebuild_deadlock';
    await pool.query(`CREATE SCHEMA ${schema}`);
    await pool.query(`CREATE TABLE ${schema}.t_a (x int); CREATE TABLE ${schema}.t_b (x int)`);
    const reader = await pool.connect();
    try {
      await reader.query('BEGIN');
      await reader.query(`SELECT * FROM ${schema}.t_b`);
      // When the tables are dropped, and the drop waits for the reader
      const dropped = dropRetired({ pool }, schema);
      const waiting = async () =>
        (
          await pool.query(
            `SELECT 1 FROM pg_locks WHERE NOT granted AND mode = 'AccessExclusiveLock'
                AND relation = '${schema}.t_b'::regclass`,
          )
        ).rowCount === 1;
      await waitFor(waiting, 'the drop to wait for the reader');
      // Then the reader's next lock is not part of a deadlock: the table it asks for is already
      // gone (a reader planning again would find the new one), and it is told so at once
      const t0 = performance.now();
      const err = (await reader.query(`SELECT * FROM ${schema}.t_a`).catch((e: unknown) => e)) as {
        code?: string;
      };
      expect(err.code).toBe('42P01');
      expect(performance.now() - t0).toBeLessThan(500);
      await reader.query('ROLLBACK');
      // And the drop finishes once the reader is done
      expect(await dropped).toBeNull();
      const left = await pool.query(`SELECT 1 FROM pg_namespace WHERE nspname = $1`, [schema]);
      expect(left.rowCount).toBe(0);
    } finally {
      reader.release();
    }
  });

  it('drops a copy (a snapshot) without deadlocking a reader that locks its tables one by one', async () => {
    // Given a copy with tables and views over them, views over views included, and a reader of
    // it (an ?as_of= request) that has read one view and is about to read a table
    const schema = 'asof_deadlock';
    await pool.query(`CREATE SCHEMA ${schema}`);
    await pool.query(`CREATE TABLE ${schema}.t_a (x int); CREATE TABLE ${schema}.t_b (x int);
      CREATE VIEW ${schema}.v_b AS SELECT x FROM ${schema}.t_b;
      CREATE VIEW ${schema}.v_bb AS SELECT x FROM ${schema}.v_b`);
    const reader = await pool.connect();
    try {
      await reader.query('BEGIN');
      await reader.query(`SELECT * FROM ${schema}.v_bb`);
      // When the copy is dropped, and the drop waits for the reader
      const dropped = dropCopy(pool, schema);
      const waiting = async () =>
        (
          await pool.query(
            `SELECT 1 FROM pg_locks WHERE NOT granted AND mode = 'AccessExclusiveLock'`,
          )
        ).rowCount === 1;
      await waitFor(waiting, 'the drop to wait for the reader');
      // Then the reader's next lock is not part of a deadlock: it is granted at once
      const t0 = performance.now();
      await reader.query(`SELECT * FROM ${schema}.t_a`);
      expect(performance.now() - t0).toBeLessThan(500);
      await reader.query('ROLLBACK');
      // And the drop finishes once the reader is done, leaving nothing
      await dropped;
      const left = await pool.query(`SELECT 1 FROM pg_namespace WHERE nspname = $1`, [schema]);
      expect(left.rowCount).toBe(0);
    } finally {
      reader.release();
    }
  });

  it('rebuilds one projection alone and re-points the views over its tables', async () => {
    await sendMany(200, 3);
    live.start();
    await waitFor(() => caughtUp(pool, NAMES), 'live projections', 30_000);
    const viewBefore = await pool.query('SELECT * FROM rm_session_view ORDER BY 1, 2, 3');
    const ids = await liveTableIds();

    const result = await rebuild(deps(), { projections: ['sessions'] });

    expect(result.tables).toEqual(['rm_sessions', 'rm_daily_sends']);
    const after = await liveTableIds();
    expect(after.rm_sessions).not.toBe(ids.rm_sessions);
    expect(after.rm_messages).toBe(ids.rm_messages);
    // The view reads the new table (the old one is gone: reading it at all proves the re-point)
    const viewAfter = await pool.query('SELECT * FROM rm_session_view ORDER BY 1, 2, 3');
    expect(viewAfter.rows).toEqual(viewBefore.rows);
    expect((await verify(deps(), { projections: ['sessions'] })).equal).toBe(true);
  });

  it.each<RebuildPoint>([
    'shadow-ready',
    'loaded',
    'indexed',
    'swap-paused',
    'swap-locked',
    'swap-moved',
  ])(
    'leaves the live read models untouched when interrupted at %s, and finishes when run again',
    async (point) => {
      // Given live read models being written and read
      await sendMany(200, 4);
      live.start();
      await waitFor(() => caughtUp(pool, NAMES), 'live projections', 30_000);
      const ids = await liveTableIds();
      const reads = readContinuously();

      // When a rebuild fails at the point
      await expect(
        rebuild(deps(), {
          batchSize: 50,
          hook: (at) => {
            if (at === point) throw new Error(`crash at ${at}`);
          },
        }),
      ).rejects.toThrow(`crash at ${point}`);

      // Then the live tables are the same tables, they kept answering, and they are right
      expect(await liveTableIds()).toEqual(ids);
      expect((await verify(deps())).equal).toBe(true);
      // And the shadow is left to resume
      expect((await listCopies(pool, 'rebuild')).length).toBe(1);

      // When it runs again, while messages arrive
      const load = sendMany(100, 5);
      const again = await rebuild(deps(), { batchSize: 50 });
      await load;
      expect(await reads.stop()).toEqual([]);

      // Then it resumed and swapped, and the read models are right
      expect(again.resumed).toBe(true);
      expect((await liveTableIds()).rm_messages).not.toBe(ids.rm_messages);
      await waitFor(() => caughtUp(pool, NAMES), 'live projections after the swap', 30_000);
      expect((await verify(deps())).equal).toBe(true);
      expect(await listCopies(pool, 'rebuild')).toEqual([]);
    },
  );

  it('stops at a safe point when its signal aborts mid-load, and resumes from there', async () => {
    await sendMany(400, 6);
    live.start();
    const stop = new AbortController();
    let seen = 0;
    await expect(
      rebuild(deps(), {
        batchSize: 4,
        signal: stop.signal,
        onProgress: (p) => {
          seen = p.eventsApplied;
          if (p.eventsApplied >= 40) stop.abort();
        },
      }),
    ).rejects.toBeInstanceOf(ReplayInterruptedError);
    expect(seen).toBeGreaterThanOrEqual(40);
    const resumed = await rebuild(deps(), { batchSize: 200 });
    expect(resumed.resumed).toBe(true);
    // This run applied only what the first one had not
    const total = await pool.query<{ n: string }>('SELECT count(*) AS n FROM es_events');
    expect(resumed.eventsApplied).toBeLessThan(Number(total.rows[0].n));
    await waitFor(() => caughtUp(pool, NAMES), 'live projections after the swap', 30_000);
    expect((await verify(deps())).equal).toBe(true);
  });

  it('refuses unknown projections, a second rebuild of the same ones, and one that leaves out a table it reads', async () => {
    await expect(rebuild(deps(), { projections: ['messages', 'nope'] })).rejects.toMatchObject({
      code: ReplayErrors.codes.UNKNOWN_PROJECTION,
      status: 400,
    });

    // A projector that reads another's table cannot be rebuilt without it
    const reader: Projector = {
      name: 'reader',
      eventTypes: new Set(),
      tables: [],
      reads: ['rm_messages'],
      apply: async () => undefined,
    };
    const withReader: ReplayDeps = { ...deps(), projectors: [...testProjectors(pool), reader] };
    const refused = await rebuild(withReader, { projections: ['reader'] }).catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(DomainError);
    expect(refused).toMatchObject({ code: ReplayErrors.codes.PROJECTIONS_READ_EACH_OTHER });
    expect((refused as Error).message).toMatch(/reader reads rm_messages \(messages\)/);

    // Two rebuilds of the same projections: the second is refused while the first runs
    await sendMany(100, 7);
    let release!: () => void;
    const held = new Promise<void>((r) => (release = r));
    const first = rebuild(deps(), {
      projections: ['users'],
      hook: async (at) => {
        if (at === 'shadow-ready') await held;
      },
    });
    await waitFor(async () => (await listCopies(pool, 'rebuild')).length === 1, 'the first');
    await expect(rebuild(deps(), { projections: ['users'] })).rejects.toMatchObject({
      code: ReplayErrors.codes.ALREADY_RUNNING,
      status: 409,
    });
    release();
    await first;
  });

  it("fails with a projector's error after its retries, leaving the live read models as they were", async () => {
    await sendMany(60, 9);
    live.start();
    await waitFor(() => caughtUp(pool, NAMES), 'live projections', 30_000);
    const ids = await liveTableIds();
    const broken: Projector[] = testProjectors(pool).map((p) =>
      p.name === 'sessions'
        ? {
            ...p,
            name: p.name,
            eventTypes: p.eventTypes,
            tables: p.tables,
            apply: () => Promise.reject(new Error('bug in the projector')),
          }
        : p,
    );
    await expect(rebuild({ pool, store, projectors: broken })).rejects.toThrow(
      'bug in the projector',
    );
    expect(await liveTableIds()).toEqual(ids);
    expect((await verify(deps())).equal).toBe(true);
  });

  it('keeps dumps equal to a live build after the swap', async () => {
    await sendMany(150, 8);
    live.start();
    await waitFor(() => caughtUp(pool, NAMES), 'live projections', 30_000);
    await live.stop();
    const built = await dumpReadModels(pool);
    await rebuild(deps());
    expect(await dumpReadModels(pool)).toEqual(built);
  });
});
