import { spawn, ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import type { Pool, PoolClient } from 'pg';
import { EventStore, RecordedEvent } from '../src/event-store/event-store.port';
import { EventStoreDbEventStore } from '../src/event-store/eventstoredb/eventstoredb-event-store';
import { PostgresEventStore } from '../src/event-store/postgres/postgres-event-store';
import { startEsdbTestServer } from '../test/support/esdb-test-server';
import { createTestDatabase, createTestPool, TestDatabase } from '../test/support/database';
import { useTestStore } from '../test/support/test-store';
import {
  caughtUp,
  checkpoints,
  DirectSender,
  testKeyRing,
  testProjectors,
} from '../test/support/messaging';
import { waitFor } from '../test/support/wait-for';
import { allProjectors } from './index';
import { verify } from '../src/admin/replay/verify';
import { ProjectionRunner } from './projection-runner';
import type { Projector } from './projector';

const NAMES = allProjectors(null as never).map((p) => p.name);
const users = Array.from({ length: 12 }, (_, i) => `u${i}`);

async function sendMany(sender: DirectSender, n: number, salt = 0): Promise<void> {
  const pending = [];
  for (let i = 0; i < n; i++) {
    const from = users[(i * 7 + salt) % users.length];
    const to = users[(i * 5 + salt + 1) % users.length];
    if (from === to) continue;
    pending.push(sender.send(from, to, `m${salt}-${i}`));
    if (pending.length >= 16) await Promise.all(pending.splice(0));
  }
  await Promise.all(pending);
}

/**
 * Rebuilds every read model from position zero beside the live ones (npm run admin -- verify) and
 * expects them equal, table by table and row for row.
 */
async function expectEqualToRebuild(pool: Pool, store: EventStore): Promise<void> {
  const result = await verify(
    { pool, store, projectors: testProjectors(pool) },
    { batchSize: 500 },
  );
  expect(result.differing).toEqual([]);
  expect(result.equal).toBe(true);
}

describe('projection runner', () => {
  let db: TestDatabase;
  let pool: Pool;
  let store: PostgresEventStore;
  let sender: DirectSender;

  useTestStore(
    (t) => {
      ({ db, pool, store } = t);
      sender = new DirectSender(store, testKeyRing(pool));
    },
    { connections: 20, pollIntervalMs: 50 },
  );

  it('leaves read models equal to a rebuild when a batch fails half-way, then retries it', async () => {
    // Given a log of messages
    await sendMany(sender, 300);
    // And a sessions projector that writes part of a batch and then fails, twice
    let failures = 0;
    const flaky = (inner: Projector): Projector => ({
      name: inner.name,
      eventTypes: inner.eventTypes,
      tables: inner.tables,
      async apply(events: readonly RecordedEvent[], tx: PoolClient) {
        await inner.apply(events.slice(0, Math.ceil(events.length / 2)), tx);
        if (failures < 2 && events.length > 1) {
          failures++;
          throw new Error('injected failure in the middle of a batch');
        }
        await inner.apply(events.slice(Math.ceil(events.length / 2)), tx);
      },
    });
    const projectors = testProjectors(pool).map((p) => (p.name === 'sessions' ? flaky(p) : p));
    const runner = new ProjectionRunner(store, pool, projectors, {
      batchSize: 64,
      retryDelayMs: 5,
    });
    // When it runs, and more messages arrive meanwhile
    runner.start();
    await sendMany(sender, 200, 1);
    await waitFor(() => caughtUp(pool, NAMES), 'projections to catch up', 30_000);
    await runner.stop();
    // Then the failures happened and were retried
    expect(failures).toBe(2);
    expect(runner.status().every((s) => s.lastError === null)).toBe(true);
    // And the read models equal a rebuild from position zero
    const { rows } = await pool.query<{ n: string }>('SELECT count(*) AS n FROM rm_messages');
    expect(Number(rows[0].n)).toBeGreaterThan(400);
    await expectEqualToRebuild(pool, store);
  });

  /**
   * A log of 300 messages the read models have caught up with, all but the audit (a projection
   * new in this version, at zero); then a runner of every projector with the audit's `apply`
   * replaced by `audit(inner)`, not started.
   */
  async function upgradeWithNewAudit(
    audit: (inner: Projector['apply']) => Projector['apply'],
  ): Promise<ProjectionRunner> {
    await sendMany(sender, 300);
    const others = testProjectors(pool).filter((p) => p.name !== 'audit');
    const first = new ProjectionRunner(store, pool, others, { batchSize: 50, retryDelayMs: 5 });
    first.start();
    const othersNames = others.map((p) => p.name);
    await waitFor(() => caughtUp(pool, othersNames), 'the read models before the upgrade', 30_000);
    await first.stop();
    const projectors = testProjectors(pool).map((p): Projector =>
      p.name === 'audit'
        ? {
            name: p.name,
            eventTypes: p.eventTypes,
            tables: p.tables,
            apply: audit(p.apply.bind(p)),
          }
        : p,
    );
    return new ProjectionRunner(store, pool, projectors, { batchSize: 20, retryDelayMs: 5 });
  }

  /** Waits until `sent`'s message is in rm_messages. */
  async function projected(sent: { result: { msgKey: string } }, what: string): Promise<void> {
    await waitFor(
      async () =>
        (await pool.query('SELECT 1 FROM rm_messages WHERE msg_key = $1', [sent.result.msgKey]))
          .rowCount === 1,
      what,
      10_000,
    );
  }

  it('keeps the other read models live while a projection new to them catches up from zero', async () => {
    // Given a log the read models have caught up with, all but the audit (new in this version),
    // which cannot apply anything until the gate opens
    let open!: () => void;
    const gate = new Promise<void>((resolve) => (open = resolve));
    const runner = await upgradeWithNewAudit((apply) => async (events, tx) => {
      await gate;
      await apply(events, tx);
    });
    try {
      // When the new version runs every projector, and a message is sent
      runner.start();
      const sent = await sender.send('u1', 'u2', 'after the upgrade');
      // Then the other read models take it while the audit is still at the start
      await projected(sent, 'the message in the read models while the audit catches up');
      const cps = await checkpoints(pool);
      expect(cps.get('audit')).toEqual({ commit: 0n, prepare: 0n });
      expect(runner.status().find((s) => s.name === 'audit')?.running).toBe(true);
      // And once the audit can go on, every read model reaches the head, equal to a rebuild
      open();
      await waitFor(() => caughtUp(pool, NAMES), 'every projection at the head', 30_000);
    } finally {
      open();
      await runner.stop();
    }
    expect(runner.status().every((s) => s.lastError === null)).toBe(true);
    await expectEqualToRebuild(pool, store);
  });

  it('retries a projection far behind that fails on its own, the others staying live', async () => {
    // Given read models at the head, but the audit at zero, and failing for now
    let failing = true;
    let failures = 0;
    const runner = await upgradeWithNewAudit((apply) => async (events, tx) => {
      await apply(events, tx);
      if (failing) {
        failures++;
        throw new Error('injected audit failure');
      }
    });
    try {
      runner.start();
      await waitFor(() => failures >= 3, 'the audit to fail a few times');
      // When a message is sent meanwhile, the others take it, and only the audit reports failing
      const sent = await sender.send('u3', 'u4', 'while the audit fails');
      await projected(sent, 'the message in the read models while the audit fails');
      const status = runner.status();
      expect(status.find((s) => s.name === 'audit')?.lastError).toBe('injected audit failure');
      expect(status.filter((s) => s.name !== 'audit' && s.lastError !== null)).toEqual([]);
      expect((await checkpoints(pool)).get('audit')).toEqual({ commit: 0n, prepare: 0n });
      // Then, once it stops failing, it catches up, and its error is cleared
      failing = false;
      await waitFor(() => caughtUp(pool, NAMES), 'every projection at the head', 30_000);
    } finally {
      failing = false;
      await runner.stop();
    }
    expect(runner.status().every((s) => s.lastError === null)).toBe(true);
    await expectEqualToRebuild(pool, store);
  });

  it('rejects a catch-up whose projector keeps failing with that error', async () => {
    // Given a log, and a projector that fails every batch (in a lane of its own)
    await sendMany(sender, 100);
    const broken: Projector = {
      name: 'sessions',
      eventTypes: new Set(['MessageSent']),
      tables: ['rm_sessions'],
      apply: () => Promise.reject(new Error('injected: this projector always fails')),
    };
    const projectors = testProjectors(pool).map((p) => (p.name === 'sessions' ? broken : p));
    const runner = new ProjectionRunner(store, pool, projectors, {
      batchSize: 10,
      retryDelayMs: 1,
      lanes: true,
    });
    // When it catches up (a rebuild's load), then the promise rejects with that error (a lane's
    // failure is handled from the start: left unhandled a moment, it would end the process)
    await expect(runner.catchUp((await store.headPosition())!, undefined, 3)).rejects.toThrow(
      'injected: this projector always fails',
    );
    expect(runner.status().find((s) => s.name === 'sessions')?.lastError).toMatch(/injected/);
  });

  it('applies nothing in a catch-up whose signal was aborted before it started', async () => {
    // (A catch-up beside the live loop may start just as the runner is stopped.)
    await sendMany(sender, 50);
    const runner = new ProjectionRunner(store, pool, testProjectors(pool), { batchSize: 10 });
    const aborted = new AbortController();
    aborted.abort();
    await runner.catchUp((await store.headPosition())!, aborted.signal);
    const applied = await pool.query<{ n: string }>(
      'SELECT coalesce(sum(events_applied), 0) AS n FROM projection_checkpoints',
    );
    expect(applied.rows[0].n).toBe('0');
  });

  it('survives the database cutting its connections mid-batch, and catches up', async () => {
    await sendMany(sender, 300);
    const runner = new ProjectionRunner(store, pool, testProjectors(pool), {
      batchSize: 5,
      retryDelayMs: 5,
    });
    runner.start();
    const load = sendMany(sender, 300, 5);
    // Cut every connection of this database but our own, a few times, while batches run, with
    // progress in between (a writer retries a lost statement once, not through every cut).
    const applied = () => runner.status().reduce((n, s) => n + s.eventsApplied, 0);
    for (let i = 0; i < 4; i++) {
      const base = applied();
      await waitFor(() => applied() > base + 50, 'progress before the cut');
      await pool.query(
        `SELECT pg_terminate_backend(pid) FROM pg_stat_activity
          WHERE datname = current_database() AND pid <> pg_backend_pid()`,
      );
    }
    await load;
    await waitFor(() => caughtUp(pool, NAMES), 'projections to catch up', 30_000);
    await runner.stop();
    expect(runner.status().some((s) => s.lastError === null)).toBe(true);
    await expectEqualToRebuild(pool, store);
  });

  it('keeps each event applied exactly once when two runners race on one checkpoint', async () => {
    await sendMany(sender, 200);
    const a = new ProjectionRunner(store, pool, testProjectors(pool), {
      batchSize: 7,
      retryDelayMs: 1,
    });
    const b = new ProjectionRunner(store, pool, testProjectors(pool), {
      batchSize: 11,
      retryDelayMs: 1,
    });
    a.start();
    b.start();
    await sendMany(sender, 100, 3);
    await waitFor(() => caughtUp(pool, NAMES), 'projections to catch up', 30_000);
    await Promise.all([a.stop(), b.stop()]);
    const total = await pool.query<{ n: string }>('SELECT count(*) AS n FROM es_events');
    const { rows } = await pool.query<{ events_applied: string }>(
      `SELECT events_applied FROM projection_checkpoints WHERE name = 'messages'`,
    );
    expect(Number(rows[0].events_applied)).toBe(Number(total.rows[0].n));
    await expectEqualToRebuild(pool, store);
  });

  it('recovers from SIGKILL under load with read models equal to a rebuild', async () => {
    await sendMany(sender, 200);
    const worker = (): Promise<ChildProcess> =>
      new Promise((resolve, reject) => {
        const child = spawn(
          process.execPath,
          [
            '-r',
            'ts-node/register/transpile-only',
            join(__dirname, '../test/support/projection-worker.ts'),
          ],
          {
            env: { ...process.env, DATABASE_URL: db.url, BATCH_SIZE: '25' },
            stdio: ['ignore', 'pipe', 'inherit'],
          },
        );
        child.once('error', reject);
        child.stdout.once('data', () => resolve(child));
      });

    // Kill the projection process three times while messages keep arriving.
    for (let round = 0; round < 3; round++) {
      const before = await checkpoints(pool);
      const child = await worker();
      const load = sendMany(sender, 150, round + 10);
      await waitFor(
        async () => {
          const now = await checkpoints(pool);
          return (now.get('sessions')?.prepare ?? 0n) > (before.get('sessions')?.prepare ?? 0n);
        },
        'the worker to make progress',
        60_000,
      );
      child.kill('SIGKILL');
      await new Promise((r) => child.once('exit', r));
      await load;
    }

    // A fresh runner picks up from the checkpoints the killed ones left.
    const runner = new ProjectionRunner(store, pool, testProjectors(pool), { batchSize: 100 });
    runner.start();
    await waitFor(() => caughtUp(pool, NAMES), 'projections to catch up', 30_000);
    await runner.stop();
    await expectEqualToRebuild(pool, store);
  });
});

describe('projection runner: checkpoints belong to one event store', () => {
  it('refuses to resume from a position of another store, and takes over checkpoints at the start', async () => {
    const db = await createTestDatabase();
    const pool = createTestPool(db.url, 4);
    const server = await startEsdbTestServer();
    const store = EventStoreDbEventStore.fromConnectionString(server.connectionString);
    try {
      // Given the messages projection at a position of the PostgreSQL log, the others at 0
      await pool.query(
        `INSERT INTO projection_checkpoints (name, commit_position, prepare_position, store)
         VALUES ('messages', 900, 900, 'postgres'), ('sessions', 0, 0, 'postgres')`,
      );
      const runner = new ProjectionRunner(store, pool, testProjectors(pool), { retryDelayMs: 5 });
      runner.start();
      await waitFor(
        () => runner.status().some((s) => s.lastError !== null),
        'the runner to report the foreign checkpoint',
      );
      await runner.stop();
      expect(runner.status()[0].lastError).toMatch(
        /checkpoints of messages are positions in the postgres event log, not in eventstoredb/,
      );
      const { rows } = await pool.query<{ name: string; c: string; store: string }>(
        `SELECT name, commit_position AS c, store FROM projection_checkpoints
          WHERE name IN ('messages', 'sessions') ORDER BY name`,
      );
      expect(rows).toEqual([
        { name: 'messages', c: '900', store: 'postgres' },
        { name: 'sessions', c: '0', store: 'eventstoredb' },
      ]);
    } finally {
      await store.close();
      await server.close();
      await pool.end();
      await db.drop();
    }
  });
});
