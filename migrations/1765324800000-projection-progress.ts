import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * What every process can tell of a projection, written by the runner that applies it: its current
 * rate (events per second over the last 10 s, with each checkpoint) and its last failure (kept
 * until a batch succeeds). Read by `npm run admin -- projections` and `GET /admin/v1/projections`
 * (src/admin/replay/projection-status.ts), which may run anywhere.
 */
export class ProjectionProgress1765324800000 implements MigrationInterface {
  name = 'ProjectionProgress1765324800000';

  async up(q: QueryRunner): Promise<void> {
    // Constant defaults: no table rewrite.
    await q.query(`
      ALTER TABLE projection_checkpoints
        ADD COLUMN events_per_second double precision NOT NULL DEFAULT 0,
        ADD COLUMN last_error text,
        ADD COLUMN last_error_at timestamptz`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`
      ALTER TABLE projection_checkpoints
        DROP COLUMN events_per_second, DROP COLUMN last_error, DROP COLUMN last_error_at`);
  }
}
