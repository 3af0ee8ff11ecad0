import type { Pool } from 'pg';
import { allProjectors } from '../../../projections';
import { ProjectionRunner } from '../../../projections/projection-runner';
import { PostgresEventStore } from '../../event-store/postgres/postgres-event-store';
import type { TestDatabase } from '../../../test/support/database';
import { useTestStore } from '../../../test/support/test-store';
import {
  caughtUp,
  DirectSender,
  testKeyRing,
  testProjectors,
} from '../../../test/support/messaging';
import { TEST_MASTER_KEY } from '../../../test/support/test-keys';
import { waitFor } from '../../../test/support/wait-for';
import { runAdmin } from '../admin.cli';
import { AdminContext, EXIT } from '../admin-context';
import { openAdminInstallation } from '../streams/admin-installation';
import type { ProjectionsReport } from './projection-status';
import type { RebuildResult } from './rebuild';
import type { ReplayCliResult } from './replay-cli';
import type { VerifyResult } from './verify';

const NAMES = allProjectors(null as never).map((p) => p.name);

interface Run {
  readonly status: number;
  readonly stdout: string;
  readonly stderr: string;
}

/** `npm run admin -- projections | rebuild | verify | time-travel`, in process. */
describe('npm run admin -- projections, rebuild, verify, time-travel', () => {
  let db: TestDatabase;
  let pool: Pool;
  let store: PostgresEventStore;
  let live: ProjectionRunner;
  let env: NodeJS.ProcessEnv;

  async function admin(args: string[], extraEnv: NodeJS.ProcessEnv = {}): Promise<Run> {
    let stdout = '';
    let stderr = '';
    const context: AdminContext = {
      env: { ...env, ...extraEnv },
      stdout: { write: (text: string) => (stdout += text) },
      stderr: { write: (text: string) => (stderr += text) },
      signal: new AbortController().signal,
      exitCode: 0,
    };
    const status = await runAdmin(args, context);
    return { status, stdout, stderr };
  }

  // Declared first: it runs before the store's close (after-hooks run in the order declared).
  afterAll(() => live.stop());
  useTestStore((t) => ({ db, pool, store } = t), {
    connections: 10,
    pollIntervalMs: 50,
    perFile: true,
  });
  beforeAll(async () => {
    env = { DATABASE_URL: db.url, MASTER_KEY: TEST_MASTER_KEY.toString('base64') };
    const sender = new DirectSender(store, testKeyRing(pool));
    for (let i = 0; i < 60; i++) await sender.send(`c${i % 4}`, `c${(i + 1) % 4}`, `hi ${i}`);
    live = new ProjectionRunner(store, pool, testProjectors(pool), { batchSize: 25 });
    live.start();
    await waitFor(() => caughtUp(pool, NAMES), 'live projections', 30_000);
  });

  it('shows each projection with its checkpoint, lag and rate, as a table and as JSON', async () => {
    const json = await admin(['projections', '--json']);
    expect(json.status).toBe(EXIT.ok);
    const report = (JSON.parse(json.stdout) as ReplayCliResult<ProjectionsReport>).result!;
    expect(report.projections.map((p) => p.name)).toEqual(NAMES);
    expect(report.projections[0]).toMatchObject({
      lagEvents: 0,
      lagSeconds: 0,
      store: 'postgres',
      lastError: null,
    });
    const text = await admin(['projections']);
    expect(text.status).toBe(EXIT.ok);
    expect(text.stdout).toMatch(/^projection +checkpoint +applied +lag events +lag s +events\/s/);
    expect(text.stdout).toMatch(/\nmessages +\d+\/\d+ +\d+ +0 +0\.0 /);
  });

  it('rebuilds a projection and swaps it in, drawing progress on stderr', async () => {
    const run = await admin(['rebuild', '--projection', 'sessions', '--json']);
    expect(run.stderr).not.toContain('error');
    expect(run.status).toBe(EXIT.ok);
    const result = (JSON.parse(run.stdout) as ReplayCliResult<RebuildResult>).result!;
    expect(result).toMatchObject({ projections: ['sessions'], resumed: false });
    expect(run.stderr).toMatch(/rebuild: \w+/);
    const text = await admin(['rebuild', '--projection', 'users,relations']);
    expect(text.status).toBe(EXIT.ok);
    expect(text.stdout).toMatch(/^rebuilt users, relations \(5 tables\)/);
    expect(text.stdout).toMatch(/swapped in at \d+\/\d+: live projections paused \d+ ms/);
  });

  it('verifies: exit 0 when equal, 1 with the rows when they differ', async () => {
    await waitFor(() => caughtUp(pool, NAMES), 'live projections', 30_000);
    const equal = await admin(['verify', '--json']);
    expect(equal.status).toBe(EXIT.ok);
    expect((JSON.parse(equal.stdout) as ReplayCliResult<VerifyResult>).result!.equal).toBe(true);

    await pool.query(
      `INSERT INTO rm_user_settings (uid, followed_only, intercept) VALUES ('x', true, false)`,
    );
    try {
      const differs = await admin(['verify', '--projection', 'relations']);
      expect(differs.status).toBe(EXIT.failed);
      expect(differs.stdout).toMatch(/^DIFFERENT: relations at /);
      expect(differs.stdout).toContain('rm_user_settings: 1 live, 0 rebuilt: 1 row(s) only live');
      expect(differs.stdout).toContain(
        'only live:    {"uid":"x","intercept":false,"followed_only":true}',
      );
    } finally {
      await pool.query(`DELETE FROM rm_user_settings WHERE uid = 'x'`);
    }
  });

  it('builds, lists and drops a time-travel snapshot', async () => {
    const head = await store.headPosition();
    const position = `${head!.commit}/${head!.prepare}`;
    const built = await admin(['time-travel', '--position', position]);
    expect(built.status).toBe(EXIT.ok);
    const id = /^snapshot ([a-z0-9]+) ready/.exec(built.stdout)![1];
    const list = await admin(['time-travel', '--list', '--json']);
    const listed = JSON.parse(list.stdout) as ReplayCliResult<{ snapshots: { id: string }[] }>;
    expect(listed.result!.snapshots).toEqual([
      expect.objectContaining({ id, state: 'ready', position }),
    ]);
    const { rows } = await pool.query<{ n: string }>(
      `SELECT count(*) AS n FROM asof_${id}.rm_messages`,
    );
    expect(Number(rows[0].n)).toBe(60);
    expect((await admin(['time-travel', '--drop', id])).status).toBe(EXIT.ok);
    expect((await admin(['time-travel', '--drop', id])).status).toBe(EXIT.usage);
  });

  it('refuses bad usage with status 2 and a clear message', async () => {
    const unknown = await admin(['rebuild', '--projection', 'nope']);
    expect(unknown.status).toBe(EXIT.usage);
    expect(unknown.stderr).toContain('unknown projection: nope (the projections are users,');
    const noKey = await admin(['verify'], { MASTER_KEY: '' });
    expect(noKey.status).toBe(EXIT.usage);
    expect(noKey.stderr).toContain('MASTER_KEY is needed');
    expect((await admin(['time-travel'])).status).toBe(EXIT.usage);
    expect((await admin(['time-travel', '--at', 'yesterday'])).status).toBe(EXIT.usage);
    const future = await admin(['time-travel', '--at', '2999-01-01T00:00:00Z']);
    expect(future.status).toBe(EXIT.usage);
    expect(future.stderr).toContain('is in the future');
    // A time without its zone would be this host's local time
    const bare = await admin(['time-travel', '--at', '2025-12-09T09:00:00']);
    expect(bare.status).toBe(EXIT.usage);
    expect(bare.stderr).toContain('date and time with a zone');
    // Before the first event there is nothing to show
    const early = await admin(['time-travel', '--at', '2000-01-01T00:00:00Z']);
    expect(early.status).toBe(EXIT.usage);
    expect(early.stderr).toContain('before the first event');
  });

  it('opens content with a key ring that hears keys destroyed while it runs, closed with the installation', async () => {
    // Given the installation as a rebuild opens it, and a user's content it has opened
    const context: AdminContext = {
      env,
      stdout: { write: () => undefined },
      stderr: { write: () => undefined },
      signal: new AbortController().signal,
      exitCode: 0,
    };
    const installation = await openAdminInstallation(context, { keys: true });
    const ring = installation.keyRing!;
    try {
      const writer = testKeyRing(pool);
      const sealed = await writer.encryptFor('cli-erased', 'before the erasure');
      expect(await ring.decrypt(sealed)).toBe('before the erasure');
      expect(ring.listening).toBe(true);

      // When the user is erased meanwhile (their key destroyed by another process)
      await writer.destroyKey('cli-erased');

      // Then the command's key ring no longer opens their content
      await waitFor(async () => (await ring.decrypt(sealed)) === null, 'the destroy to be heard');
    } finally {
      await installation.close();
    }
    // And it stops listening with the installation
    expect(ring.listening).toBe(false);
  });

  it('records each operation in the log, for the audit of administrators', async () => {
    const { rows } = await pool.query<{ op: string; outcome: string; actor: string }>(
      `SELECT data->>'operation' AS op, data->>'outcome' AS outcome,
              metadata->'actor'->>'kind' AS actor
         FROM es_events WHERE type = 'AdminOperationRecorded' ORDER BY global_position`,
    );
    expect(rows).toEqual(
      expect.arrayContaining([
        { op: 'rebuild', outcome: 'completed', actor: 'admin' },
        { op: 'verify', outcome: 'equal', actor: 'admin' },
        { op: 'verify', outcome: 'differs', actor: 'admin' },
        { op: 'time-travel', outcome: 'completed', actor: 'admin' },
        { op: 'time-travel-drop', outcome: 'completed', actor: 'admin' },
      ]),
    );
    // A refused command did nothing, and is not recorded
    expect(rows.filter((r) => r.op === 'rebuild')).toHaveLength(2);
  });
});
