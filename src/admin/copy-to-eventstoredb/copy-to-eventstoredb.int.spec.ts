import { randomUUID } from 'node:crypto';
import type { Pool } from 'pg';
import { createTestDatabase, createTestPool, TestDatabase } from '../../../test/support/database';
import { EsdbTestServer, startEsdbTestServer } from '../../../test/support/esdb-test-server';
import type { EventData } from '../../event-store/event-store.port';
import { EventStoreDbEventStore } from '../../event-store/eventstoredb/eventstoredb-event-store';
import { PostgresEventStore } from '../../event-store/postgres/postgres-event-store';
import { waitFor } from '../../../test/support/wait-for';
import { LeaderLock, PROJECTIONS_LOCK_KEY } from '../../core/leader-lock';
import type { CarriedCheckpoint } from '../carry-checkpoints';
import { runAdmin } from '../admin.cli';
import { AdminContext, EXIT } from '../admin-context';
import type { CopyToEventStoreDbResult } from './copy-to-eventstoredb.command';

interface Run {
  readonly status: number;
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs `npm run admin -- <args>` in process, with an environment of its own. */
async function admin(
  args: string[],
  options: { env?: NodeJS.ProcessEnv; signal?: AbortSignal } = {},
): Promise<Run> {
  let stdout = '';
  let stderr = '';
  const context: AdminContext = {
    env: options.env ?? {},
    stdout: { write: (text: string) => (stdout += text) },
    stderr: { write: (text: string) => (stderr += text) },
    signal: options.signal ?? new AbortController().signal,
    exitCode: 0,
  };
  const status = await runAdmin(args, context);
  return { status, stdout, stderr };
}

const message = (n: number): EventData => ({
  id: randomUUID(),
  type: 'MessageSent',
  data: { seqno: n, text: `hello ${n}` },
  metadata: { actor: { kind: 'user', id: 'u1' }, correlationId: randomUUID() },
});

describe('npm run admin -- copy-to-eventstoredb', () => {
  describe('usage', () => {
    it('exits 2 on a batch size that is not a positive integer', async () => {
      const run = await admin(['copy-to-eventstoredb', '--batch-size', 'ten']);
      expect(run.status).toBe(EXIT.usage);
      expect(run.stderr).toContain("option '--batch-size <n>' argument 'ten' is invalid");
    });

    it('exits 2 on an unknown option or command', async () => {
      expect((await admin(['copy-to-eventstoredb', '--fast'])).status).toBe(EXIT.usage);
      expect((await admin(['copy-everything'])).status).toBe(EXIT.usage);
    });

    it('exits 2 without a target, naming how to give one', async () => {
      const run = await admin(['copy-to-eventstoredb', '--database-url', 'postgres://x@h/db']);
      expect(run.status).toBe(EXIT.usage);
      expect(run.stderr).toContain(
        'pass --eventstore esdb://host:2113 or set EVENTSTORE_CONNECTION_STRING',
      );
    });

    it('exits 2 on a malformed connection string or contradicting options', async () => {
      const malformed = await admin(['copy-to-eventstoredb', '--eventstore', 'http://h:2113'], {
        env: { DATABASE_URL: 'postgres://x@h/db' },
      });
      expect(malformed.status).toBe(EXIT.usage);
      expect(malformed.stderr).toContain('EVENTSTORE_CONNECTION_STRING: must be an esdb://');
      const contradicting = await admin(['copy-to-eventstoredb', '--verify-only', '--no-verify']);
      expect(contradicting.status).toBe(EXIT.usage);
    });

    it('prints its usage with --help and exits 0', async () => {
      const run = await admin(['copy-to-eventstoredb', '--help']);
      expect(run.status).toBe(EXIT.ok);
      expect(run.stdout).toContain('Usage: npm run admin -- copy-to-eventstoredb [options]');
      expect(run.stdout).toContain('--batch-size <n>');
    });
  });

  describe('against PostgreSQL and EventStoreDB', () => {
    let db: TestDatabase;
    let pool: Pool;
    let server: EsdbTestServer;
    let stream: string;

    beforeEach(async () => {
      db = await createTestDatabase();
      pool = createTestPool(db.url, 4);
      server = await startEsdbTestServer();
      const source = new PostgresEventStore(pool);
      stream = `conversation-${randomUUID()}`;
      await source.append(stream, [message(1), message(2)], 'no_stream');
      await source.append(`user-${randomUUID()}`, [message(3)], 'no_stream');
      await source.append(stream, [message(4)], 1);
      await source.close();
    });

    afterEach(async () => {
      await server.close();
      await pool.end();
      await db.drop();
    });

    const target = () => ['--database-url', db.url, '--eventstore', server.connectionString];

    it('copies and verifies, exiting 0, with the result as JSON', async () => {
      const run = await admin(['copy-to-eventstoredb', ...target(), '--json', '--batch-size', '2']);

      expect(run.status).toBe(EXIT.ok);
      const result = JSON.parse(run.stdout) as CopyToEventStoreDbResult;
      expect(result).toMatchObject({
        status: 'verified',
        exitCode: 0,
        copy: { status: 'completed', copied: 4, alreadyCopied: 0, total: 4 },
        verify: { equal: true, sourceEvents: 4, targetEvents: 4, streams: 2 },
      });
      // The source is named without its password
      expect(result.source).toContain('postgres:***@');
      expect(run.stdout).not.toContain(`:${new URL(db.url).password}@`);
      expect(run.stderr).toContain('copying: 4 / 4 events (100.0 %)');
    });

    it('carries the projection checkpoints over to the same events in EventStoreDB', async () => {
      // Given projections that applied the log up to its third event (the user stream's)
      const source = new PostgresEventStore(pool);
      const [, , third] = await source.readAll({ limit: 10 });
      await source.close();
      await pool.query(
        `INSERT INTO projection_checkpoints (name, commit_position, prepare_position)
         VALUES ('messages', $1, $2), ('fresh', 0, 0)`,
        [third.position.commit.toString(), third.position.prepare.toString()],
      );

      // When copied and verified
      const run = await admin(['copy-to-eventstoredb', ...target(), '--json']);

      // Then the checkpoint names that event's position in the target, and belongs to it
      expect(run.status).toBe(EXIT.ok);
      const result = JSON.parse(run.stdout) as CopyToEventStoreDbResult;
      const carried = (result.checkpoints as { carried: readonly CarriedCheckpoint[] }).carried;
      expect(carried.map((c) => c.name)).toEqual(['messages']);
      const store = EventStoreDbEventStore.fromConnectionString(server.connectionString);
      const [copy] = await store.readStream(third.streamId);
      await store.close();
      const { rows } = await pool.query<{ c: string; p: string; store: string }>(
        `SELECT commit_position AS c, prepare_position AS p, store FROM projection_checkpoints
          WHERE name = 'messages'`,
      );
      expect(rows[0]).toEqual({
        c: copy.position.commit.toString(),
        p: copy.position.prepare.toString(),
        store: 'eventstoredb',
      });
      expect(carried[0].to).toBe(`${copy.position.commit}/${copy.position.prepare}`);
    });

    it('leaves the checkpoints alone while a server runs the projections on the database', async () => {
      // Given a process holding the projections' lock, as a running server does
      const holder = new LeaderLock(
        { connectionString: db.url, key: PROJECTIONS_LOCK_KEY, pollMs: 50 },
        { start: () => undefined, stop: async () => undefined },
      );
      holder.start();
      try {
        await waitFor(() => holder.isLeader, 'the lock to be held');
        await pool.query(
          `INSERT INTO projection_checkpoints (name, commit_position, prepare_position)
           SELECT 'messages', transaction_id::text::bigint, global_position FROM es_events
            ORDER BY global_position LIMIT 1`,
        );

        // When copied and verified
        const run = await admin(['copy-to-eventstoredb', ...target()]);

        // Then the copy is verified, the checkpoints stay where the server keeps them
        expect(run.status).toBe(EXIT.ok);
        expect(run.stdout).toContain('checkpoints not carried over: a server still runs');
        const { rows } = await pool.query<{ store: string }>(
          `SELECT store FROM projection_checkpoints WHERE name = 'messages'`,
        );
        expect(rows[0].store).toBe('postgres');
      } finally {
        await holder.stop();
      }
    });

    it('exits 1 and lists the stream when the logs differ', async () => {
      // Given a copy, then an event appended to the target only
      expect((await admin(['copy-to-eventstoredb', ...target()])).status).toBe(EXIT.ok);
      const store = EventStoreDbEventStore.fromConnectionString(server.connectionString);
      await store.append(stream, [message(5)], 2);
      await store.close();

      // When only verified
      const run = await admin(['copy-to-eventstoredb', ...target(), '--verify-only']);

      // Then it fails and names the stream
      expect(run.status).toBe(EXIT.failed);
      expect(run.stdout).toContain('verification failed');
      expect(run.stdout).toContain(`${stream}: event counts differ (source 3 events, target 4)`);
    });

    it('stops at once when interrupted, exiting 130 with how to resume', async () => {
      const before = server.eventCount();
      const interrupt = new AbortController();
      interrupt.abort();
      const run = await admin(['copy-to-eventstoredb', ...target()], { signal: interrupt.signal });
      expect(run.status).toBe(EXIT.interrupted);
      expect(run.stderr).toContain('run the same command again to resume');
      expect(server.eventCount()).toBe(before);
    });

    it('exits 1 when the target is not a copy of this log', async () => {
      const store = EventStoreDbEventStore.fromConnectionString(server.connectionString);
      await store.append(`group-${randomUUID()}`, [message(9)], 'no_stream');
      await store.close();

      const run = await admin(['copy-to-eventstoredb', ...target(), '--no-verify']);

      expect(run.status).toBe(EXIT.failed);
      expect(run.stderr).toContain('the target is not empty and was not filled from this log');
    });
  });
});
