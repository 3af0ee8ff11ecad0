import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * es_read_all's query, planned once per connection. Every subscriber calls it on every append;
 * PostgreSQL planned its query on each call (about 0.14 ms, more than the read itself for a few
 * events: bench/README.md, "Results, 2026-12-07"), because a plan for its parameters' values
 * always looked cheaper than the generic one, whose range looks wide. The generic plan is the
 * index scan on (transaction_id, global_position) in order up to the limit, the best plan for
 * every range (sequential scans are off in the function already).
 */
export class ReadAllGenericPlan1765411200000 implements MigrationInterface {
  name = 'ReadAllGenericPlan1765411200000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(
      `ALTER FUNCTION es_read_all(xid8, bigint, int) SET plan_cache_mode = force_generic_plan`,
    );
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`ALTER FUNCTION es_read_all(xid8, bigint, int) RESET plan_cache_mode`);
  }
}
