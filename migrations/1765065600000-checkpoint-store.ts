import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Which event store a projection checkpoint is a position of: `postgres` (the embedded log) or
 * `eventstoredb`. Positions of one mean nothing in the other, so the runner refuses to resume from
 * a checkpoint of another store (docs/operations.md: moving to EventStoreDB).
 */
export class CheckpointStore1765065600000 implements MigrationInterface {
  name = 'CheckpointStore1765065600000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      ALTER TABLE projection_checkpoints
        ADD COLUMN store text NOT NULL DEFAULT 'postgres'
        CHECK (store IN ('postgres', 'eventstoredb'))`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE projection_checkpoints DROP COLUMN store`);
  }
}
