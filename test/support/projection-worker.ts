/**
 * A separate process that runs every projector against DATABASE_URL until it is killed; used by
 * the crash tests (a SIGKILL can land anywhere, including inside a batch's transaction).
 */
import { Pool } from 'pg';
import { allProjectors } from '../../projections';
import { ProjectionRunner } from '../../projections/projection-runner';
import { KeyRing } from '../../src/crypto/key-ring';
import { PostgresEventStore } from '../../src/event-store/postgres/postgres-event-store';
import { TEST_MASTER_KEY } from './test-keys';

const pool = new Pool({ connectionString: process.env.DATABASE_URL, max: 6 });
const store = new PostgresEventStore(pool, { pollIntervalMs: 50 });
const runner = new ProjectionRunner(
  store,
  pool,
  allProjectors(new KeyRing(pool, TEST_MASTER_KEY)),
  {
    batchSize: Number(process.env.BATCH_SIZE ?? 50),
    retryDelayMs: 20,
  },
);
runner.start();
process.stdout.write('ready\n');
