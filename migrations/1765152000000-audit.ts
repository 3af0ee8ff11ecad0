import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * The audit index (`rm_audit`, projections/audit.projector.ts): one row per event of the log with
 * who caused it, from where, when, and what it was about, and nothing of its content. Queries
 * (src/admin/audit/audit-reader.ts) filter by actor, stream, category, type, time, correlation id
 * or subject, newest first, paged by position: so every index on a filter column ends with the
 * position, and a page is one backward range scan of one index. `rm_audit_hours` turns a time
 * range into a range of positions.
 */
export class Audit1765152000000 implements MigrationInterface {
  name = 'Audit1765152000000';

  async up(q: QueryRunner): Promise<void> {
    // The event id identifies an event in both stores (its position differs once an installation
    // moves to EventStoreDB), so it is the key and what makes a replayed batch a no-op.
    // `action` tells apart what one type covers (GroupMembersLeft: quit, kicked or removed);
    // `subjects` are the per-type keys an administrator searches for (a msg_key, the target of a
    // follow or a kick, a token id). Both are codes and ids, never content.
    await q.query(`
      CREATE TABLE rm_audit (
        event_id uuid PRIMARY KEY,
        commit_position bigint NOT NULL,
        prepare_position bigint NOT NULL,
        stream_id text NOT NULL,
        category text NOT NULL,
        revision bigint NOT NULL,
        type text NOT NULL,
        action text,
        actor_kind text,
        actor_id text,
        ip text,
        device text,
        correlation_id text,
        causation_id text,
        recorded_at timestamptz NOT NULL,
        decided_at timestamptz,
        subjects text[] NOT NULL DEFAULT '{}'
      )`);
    // Every query pages newest first by (commit, prepare); with no filter, or a time range only
    // (between the positions of rm_audit_hours), this index is walked backwards.
    await q.query(`CREATE INDEX rm_audit_position ON rm_audit (commit_position, prepare_position)`);
    await q.query(
      `CREATE INDEX rm_audit_actor
         ON rm_audit (actor_kind, actor_id, commit_position, prepare_position)`,
    );
    // `actor=admin` or `actor=system` (every administrator, the system): few rows, a small index.
    await q.query(
      `CREATE INDEX rm_audit_not_user ON rm_audit (commit_position, prepare_position)
        WHERE actor_kind <> 'user'`,
    );
    // Within a stream, log order is revision order: the position serves both.
    await q.query(
      `CREATE INDEX rm_audit_stream ON rm_audit (stream_id, commit_position, prepare_position)`,
    );
    // Some types of one stream: every kick in a group, every recall in a conversation. The
    // planner takes a stream's types to be as rare there as in the whole log and would otherwise
    // collect and sort a big group's every departure (bench/README.md, Audit queries).
    await q.query(
      `CREATE INDEX rm_audit_stream_type
         ON rm_audit (stream_id, type, commit_position, prepare_position)`,
    );
    // An action belongs to its type (half of all departures are kicks, though kicks are a small
    // share of the log): statistics of the pair keep the planner from multiplying the two.
    await q.query(`CREATE STATISTICS rm_audit_type_action (mcv) ON type, action FROM rm_audit`);
    await q.query(
      `CREATE INDEX rm_audit_category ON rm_audit (category, commit_position, prepare_position)`,
    );
    await q.query(
      `CREATE INDEX rm_audit_type ON rm_audit (type, commit_position, prepare_position)`,
    );
    // A correlation (one request, one CLI run) has a handful of events, found by equality and
    // sorted after: a hash index holds 4 bytes a row where a btree would hold the whole id.
    await q.query(`CREATE INDEX rm_audit_correlation ON rm_audit USING hash (correlation_id)`);
    // Subjects are selective (a msg_key has two events, a user is the target of some); a GIN
    // index finds them, the page is sorted after.
    await q.query(`CREATE INDEX rm_audit_subjects ON rm_audit USING gin (subjects)`);

    // Time ranges become position ranges: for each hour (of recorded_at, UTC, as hours since the
    // epoch) the first and last position of its events. A range's events lie between the first
    // position of its first hour and the last of its last, whatever the order of times within the
    // log (a few milliseconds of skew between appends, events copied from another store with their
    // own times, a clock stepped back), so a query walks the position index between those bounds,
    // wherever the range lies in the log, instead of from the newest event down.
    await q.query(`
      CREATE TABLE rm_audit_hours (
        hour bigint PRIMARY KEY,
        first_commit bigint NOT NULL,
        first_prepare bigint NOT NULL,
        last_commit bigint NOT NULL,
        last_prepare bigint NOT NULL
      )`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP TABLE rm_audit_hours`);
    await q.query(`DROP TABLE rm_audit`);
  }
}
