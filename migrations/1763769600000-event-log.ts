import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * The PostgreSQL event log (the embedded default event store).
 *
 * Positions are (transaction_id, global_position): `global_position` is taken at insert, not at
 * commit, so a reader that followed it alone would skip an event whose transaction commits after
 * a later one. Readers only see events whose transaction id is below the oldest append still
 * running (`es_visible_horizon`), and read in (transaction_id, global_position) order.
 *
 * The horizon counts only appends, not every transaction: `pg_snapshot_xmin` would be held back by
 * any open transaction in the whole cluster (another database, a report, a migration), and every
 * subscriber would stall behind it. Each append holds a shared advisory "append in flight" lock
 * (APPEND_MARKER) from before its transaction id is assigned until it ends, so the running appends
 * are the holders of that lock.
 */
const APPEND_MARKER = '1163067392, 0'; // pg_advisory_xact_lock_shared(int, int): 'ES\0\0', 0

export class EventLog1763769600000 implements MigrationInterface {
  name = 'EventLog1763769600000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      CREATE TABLE es_events (
        global_position bigserial PRIMARY KEY,
        transaction_id xid8 NOT NULL DEFAULT pg_current_xact_id(),
        stream_id text NOT NULL,
        revision bigint NOT NULL,
        event_id uuid NOT NULL,
        type text NOT NULL,
        data jsonb NOT NULL,
        metadata jsonb NOT NULL,
        created_at timestamptz NOT NULL DEFAULT clock_timestamp(),
        CONSTRAINT es_events_stream_revision UNIQUE (stream_id, revision),
        CONSTRAINT es_events_event_id UNIQUE (event_id)
      )`);
    await q.query(
      `CREATE INDEX es_events_log_order ON es_events (transaction_id, global_position)`,
    );
    // One row per stream holds its current revision: the expected-revision check reads one row,
    // so appending to a long stream costs the same as appending to a new one.
    await q.query(`
      CREATE TABLE es_streams (
        stream_id text PRIMARY KEY,
        revision bigint NOT NULL
      )`);
    await q.query(`
      CREATE TABLE projection_checkpoints (
        name text PRIMARY KEY,
        commit_position bigint NOT NULL DEFAULT 0,
        prepare_position bigint NOT NULL DEFAULT 0,
        events_applied bigint NOT NULL DEFAULT 0,
        updated_at timestamptz NOT NULL DEFAULT now()
      )`);
    await q.query(`CREATE SEQUENCE node_ids`);

    // Called as a single statement, so it is one transaction and one round trip.
    // Appends a batch of independent appends (one per stream request) in one transaction. Each
    // append succeeds or fails on its own; result row i says how:
    //   expected: >= 0 revision, -1 no_stream, -2 any, -3 stream_exists
    //   result_code: 0 written, 1 wrong expected version, 2 already written (same ids, same
    //   stream: a retry), 3 an event id belongs to another stream or another append
    // Streams are locked in a fixed order (by hash) before any is touched, so two concurrent
    // batches never deadlock. The checks run append by append against an in-memory map of
    // stream revisions; the writes are then one INSERT for all events and one for all streams.
    await q.query(`
      CREATE FUNCTION es_append_batch(
        p_streams text[], p_expected bigint[], p_counts int[],
        p_ids uuid[], p_types text[], p_data text[], p_metadata text[]
      ) RETURNS TABLE (result_code int, revision bigint, last_position bigint, commit_position bigint)
      LANGUAGE plpgsql
      -- PL/pgSQL caches each statement's plan from its first calls, when the log may be empty
      -- and a sequential scan looks cheapest; as the log grows that plan would make every append
      -- slower. Every lookup here is a point lookup on an index, so forbid the sequential scan.
      SET enable_seqscan = off
      AS $fn$
      #variable_conflict use_column
      DECLARE
        v_lock bigint;
        v_n_appends int := coalesce(array_length(p_streams, 1), 0);
        v_offset int := 0;
        v_n int;
        v_current bigint;
        v_expected bigint;
        v_found int;
        v_found_rev bigint;
        v_same_stream boolean;
        v_any_existing boolean;
        v_revs jsonb;
        v_positions jsonb;
        v_codes int[] := '{}';
        v_result_revs bigint[] := '{}';
        v_ev_stream text[] := '{}';
        v_ev_rev bigint[] := '{}';
        v_ev_ix int[] := '{}';
        v_xid bigint;
      BEGIN
        -- The horizon (es_visible_horizon) relies on every append's transaction id being assigned
        -- after it took the append marker, so an append must be its transaction's first write.
        IF pg_current_xact_id_if_assigned() IS NOT NULL THEN
          RAISE EXCEPTION 'es_append_batch must be the first write of its transaction';
        END IF;
        PERFORM pg_advisory_xact_lock_shared(${APPEND_MARKER});
        FOR v_lock IN
          SELECT DISTINCT hashtextextended(s, 0) AS h FROM unnest(p_streams) s ORDER BY h
        LOOP
          PERFORM pg_advisory_xact_lock(v_lock);
        END LOOP;
        -- The transaction id is taken only now, under the stream locks: a later writer of the
        -- same stream waits for this one to commit and so gets a larger id. Taken before the
        -- locks, ids could order a stream's events against their revisions.
        v_xid := pg_current_xact_id()::text::bigint;

        SELECT coalesce(jsonb_object_agg(s.stream_id, s.revision), '{}'::jsonb) INTO v_revs
          FROM es_streams s WHERE s.stream_id = ANY (p_streams);
        SELECT EXISTS (SELECT 1 FROM es_events e WHERE e.event_id = ANY (p_ids))
          INTO v_any_existing;

        FOR i IN 1 .. v_n_appends LOOP
          v_n := p_counts[i];
          v_expected := p_expected[i];
          v_current := coalesce((v_revs ->> p_streams[i])::bigint, -1);

          IF v_any_existing THEN
            SELECT count(*), max(e.revision), coalesce(bool_and(e.stream_id = p_streams[i]), true)
              INTO v_found, v_found_rev, v_same_stream
              FROM es_events e
             WHERE e.event_id = ANY (p_ids[v_offset + 1 : v_offset + v_n]);
            IF v_found > 0 THEN
              IF v_found = v_n AND v_same_stream THEN
                v_codes := v_codes || 2; v_result_revs := v_result_revs || v_found_rev;
              ELSE
                v_codes := v_codes || 3; v_result_revs := v_result_revs || NULL::bigint;
              END IF;
              v_offset := v_offset + v_n;
              CONTINUE;
            END IF;
          END IF;

          IF (v_expected >= 0 AND v_current <> v_expected)
             OR (v_expected = -1 AND v_current <> -1)
             OR (v_expected = -3 AND v_current = -1) THEN
            v_codes := v_codes || 1; v_result_revs := v_result_revs || v_current;
            v_offset := v_offset + v_n;
            CONTINUE;
          END IF;

          FOR g IN 1 .. v_n LOOP
            v_ev_stream := v_ev_stream || p_streams[i];
            v_ev_rev := v_ev_rev || (v_current + g);
            v_ev_ix := v_ev_ix || (v_offset + g);
          END LOOP;
          v_revs := v_revs || jsonb_build_object(p_streams[i], v_current + v_n);
          v_codes := v_codes || 0; v_result_revs := v_result_revs || (v_current + v_n);
          v_offset := v_offset + v_n;
        END LOOP;

        IF array_length(v_ev_stream, 1) > 0 THEN
          WITH ins AS (
            INSERT INTO es_events (stream_id, revision, event_id, type, data, metadata)
            SELECT v_ev_stream[k], v_ev_rev[k], p_ids[v_ev_ix[k]], p_types[v_ev_ix[k]],
                   p_data[v_ev_ix[k]]::jsonb, p_metadata[v_ev_ix[k]]::jsonb
              FROM generate_subscripts(v_ev_stream, 1) AS k
             ORDER BY k
            RETURNING stream_id, revision, global_position
          )
          SELECT jsonb_object_agg(ins.stream_id || '/' || ins.revision, ins.global_position)
            INTO v_positions FROM ins;

          INSERT INTO es_streams (stream_id, revision)
          SELECT s, max(r) FROM unnest(v_ev_stream, v_ev_rev) AS t(s, r) GROUP BY s
          ON CONFLICT (stream_id) DO UPDATE SET revision = EXCLUDED.revision;

          PERFORM pg_notify('es_appended', '');
        END IF;

        FOR i IN 1 .. v_n_appends LOOP
          result_code := v_codes[i];
          revision := v_result_revs[i];
          commit_position := v_xid;
          last_position := CASE WHEN v_codes[i] = 0
            THEN (v_positions ->> (p_streams[i] || '/' || v_result_revs[i]))::bigint END;
          RETURN NEXT;
        END LOOP;
      END
      $fn$`);

    // The oldest transaction id that may still belong to a running append: every event below it
    // has committed or never will. Read under its own snapshot, and use the result in a later
    // statement: an append running when this reads pg_locks is counted; one that commits after is
    // visible to the later statement; one that starts after gets a larger id than the snapshot's
    // xmax. pg_locks shows 32-bit xids; they are widened by their signed distance to xmax (within
    // 2^31 either way: an id assigned after the snapshot lies above it).
    await q.query(`
      CREATE FUNCTION es_visible_horizon() RETURNS xid8
      LANGUAGE sql VOLATILE
      AS $fn$
        SELECT least(s.xmax, min(s.xmax_full
                 + ((t.transactionid::text::bigint - (s.xmax_full & 4294967295) + 6442450944)
                    % 4294967296) - 2147483648)::text::xid8)
          FROM (SELECT x AS xmax, x::text::bigint AS xmax_full
                  FROM pg_snapshot_xmax(pg_current_snapshot()) AS x) s
          LEFT JOIN pg_locks m
            ON m.locktype = 'advisory' AND m.granted
           AND (m.classid::bigint, m.objid::bigint, m.objsubid) = (${APPEND_MARKER}, 2)
           AND m.database = (SELECT oid FROM pg_database WHERE datname = current_database())
          LEFT JOIN pg_locks t
            ON t.locktype = 'transactionid' AND t.granted
           AND t.virtualtransaction = m.virtualtransaction
         GROUP BY s.xmax, s.xmax_full
      $fn$`);

    // readAll in one round trip: the horizon and the read are two statements, so the read's
    // snapshot is taken after the horizon was.
    await q.query(`
      CREATE FUNCTION es_read_all(p_commit xid8, p_prepare bigint, p_limit int)
      RETURNS SETOF es_events
      LANGUAGE plpgsql VOLATILE
      SET enable_seqscan = off
      AS $fn$
      DECLARE
        v_horizon xid8;
      BEGIN
        SELECT es_visible_horizon() INTO v_horizon;
        RETURN QUERY
          SELECT * FROM es_events e
           WHERE (e.transaction_id, e.global_position) > (p_commit, p_prepare)
             AND e.transaction_id < v_horizon
           ORDER BY e.transaction_id, e.global_position
           LIMIT p_limit;
      END
      $fn$`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP FUNCTION es_read_all`);
    await q.query(`DROP FUNCTION es_visible_horizon`);
    await q.query(`DROP FUNCTION es_append_batch`);
    await q.query(`DROP SEQUENCE node_ids`);
    await q.query(`DROP TABLE projection_checkpoints`);
    await q.query(`DROP TABLE es_streams`);
    await q.query(`DROP TABLE es_events`);
  }
}
