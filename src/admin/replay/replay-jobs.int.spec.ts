import type { Pool } from 'pg';
import type { AppSettings } from '../../config/app-config';
import type { KeyRing } from '../../crypto/key-ring';
import type { EventMetadata } from '../../event-store/event-store.port';
import { PostgresEventStore } from '../../event-store/postgres/postgres-event-store';
import { useTestStore } from '../../../test/support/test-store';
import { testKeyRing } from '../../../test/support/messaging';
import { TEST_MASTER_KEY } from '../../../test/support/test-keys';
import { waitFor } from '../../../test/support/wait-for';
import { JOB_POOL_SIZE, JobContext, MAX_RUNNING_JOBS, ReplayJobs } from './replay-jobs';

const metadata: EventMetadata = {
  actor: { kind: 'admin', id: 'admin-key' },
  correlationId: 'replay-jobs-test',
  at: new Date(0).toISOString(),
};

/** A job's operation that starts at once and ends when the test says. */
function heldJob(onRun: (c: JobContext) => Promise<void> = async () => undefined) {
  let release!: () => void;
  const gate = new Promise<void>((resolve) => (release = resolve));
  return {
    release,
    spec: {
      kind: 'rebuild' as const,
      operation: 'held-job',
      args: {},
      metadata,
      run: async (c: JobContext) => {
        c.onStarted();
        await onRun(c);
        await gate;
        return { done: true };
      },
    },
  };
}

/** ReplayJobs of one node, with operations the tests hold open. */
describe('replay jobs of a node', () => {
  let pool: Pool;
  let store: PostgresEventStore;
  let jobs: ReplayJobs;

  // Declared first: it runs before the store's close (after-hooks run in the order declared).
  afterAll(() => jobs.onApplicationShutdown());
  useTestStore(
    (t) => {
      ({ pool, store } = t);
      jobs = new ReplayJobs(pool, store, { masterKey: TEST_MASTER_KEY } as AppSettings);
    },
    { connections: 10, perFile: true },
  );

  it('runs at most two jobs at once: another is refused with 409 (40973) until one ends', async () => {
    // Given two jobs running
    expect(MAX_RUNNING_JOBS).toBe(2);
    const first = heldJob();
    const second = heldJob();
    const a = await jobs.start(first.spec);
    await jobs.start(second.spec);

    // When a third is started, Then it is refused with a clear message
    const third = heldJob();
    await expect(jobs.start(third.spec)).rejects.toMatchObject({
      code: 40973,
      status: 409,
      message: expect.stringMatching(/2 replay jobs are already running on this node/),
    });

    // And once one has ended, another may start
    first.release();
    await waitFor(() => jobs.get('rebuild', a.job_id).status === 'completed', 'the first job');
    const c = await jobs.start(third.spec);
    expect(c.status).toBe('running');
    second.release();
    third.release();
    await waitFor(() => jobs.get('rebuild', c.job_id).status === 'completed', 'the jobs to end');
  });

  it("works on connections of its own: the API's pool all taken does not hold it up", async () => {
    // Given every connection of the node's pool held (requests, or batches waiting on a lock)
    const held = await Promise.all(Array.from({ length: 10 }, () => pool.connect()));
    try {
      // When a job queries the database
      let jobPool: Pool | undefined;
      let answer: unknown;
      const job = heldJob(async (c) => {
        jobPool = c.deps.pool;
        answer = (await c.deps.pool.query<{ n: number }>('SELECT 1 AS n')).rows[0].n;
      });
      const view = await jobs.start(job.spec);
      await waitFor(() => answer !== undefined, "the job's query", 10_000);

      // Then it got its answer from a pool of its own, which ends with the job
      expect(answer).toBe(1);
      expect(jobPool).not.toBe(pool);
      expect(jobPool!.options.max).toBe(JOB_POOL_SIZE);
      job.release();
      await waitFor(() => jobPool!.ended, "the job's pool to end");
      // (its end is recorded through the node's event store, on the node's pool)
      for (const c of held.splice(0)) c.release();
      await waitFor(() => jobs.get('rebuild', view.job_id).status === 'completed', 'the job');
    } finally {
      for (const c of held) c.release();
    }
  });

  it('shows a job finished only once its end is recorded in the audit log', async () => {
    // Given a node whose event store takes its time to record the job's end
    let recorded!: () => void;
    const recording = new Promise<void>((resolve) => (recorded = resolve));
    const slow = Object.create(store) as PostgresEventStore;
    slow.append = async (...args: Parameters<PostgresEventStore['append']>) => {
      await recording;
      return store.append(...args);
    };
    const node = new ReplayJobs(pool, slow, { masterKey: TEST_MASTER_KEY } as AppSettings);
    const held = heldJob();
    const view = await node.start(held.spec);

    // When its operation ends
    held.release();
    await waitFor(() => node.get('rebuild', view.job_id).finished_at !== null, 'the end');

    // Then it still shows running while the record is not written
    expect(node.get('rebuild', view.job_id).status).toBe('running');
    recorded();
    await waitFor(() => node.get('rebuild', view.job_id).status === 'completed', 'completed');
    const { rows } = await pool.query<{ n: string }>(
      `SELECT count(*) AS n FROM es_events
        WHERE type = 'AdminOperationRecorded' AND data->'detail'->>'job_id' = $1`,
      [view.job_id],
    );
    expect(rows[0].n).toBe('1');
    await node.onApplicationShutdown();
  });

  it('gives a job a key ring that hears keys destroyed while it runs, closed when it ends', async () => {
    // Given a user's content, opened (and its key cached) by a running job
    const writer = testKeyRing(pool);
    const sealed = await writer.encryptFor('kr-erased', 'before the erasure');
    let ring: KeyRing | undefined;
    let opened: string | null | undefined;
    const held = heldJob(async (c) => {
      ring = c.keyRing;
      opened = await c.keyRing.decrypt(sealed);
    });
    const job = await jobs.start(held.spec);
    await waitFor(() => opened !== undefined, 'the job to open the content');
    expect(opened).toBe('before the erasure');
    expect(ring!.listening).toBe(true);

    // When the user's key is destroyed elsewhere (an erasure) during the job
    await writer.destroyKey('kr-erased');

    // Then the job's key ring no longer opens their content
    await waitFor(async () => (await ring!.decrypt(sealed)) === null, 'the destroy to be heard');

    // And when the job ends its key ring stops listening
    held.release();
    await waitFor(() => jobs.get('rebuild', job.job_id).status === 'completed', 'the job');
    expect(ring!.listening).toBe(false);
  });
});
