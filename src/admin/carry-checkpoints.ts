import type { Pool } from 'pg';
import { PROJECTIONS_LOCK_KEY } from '../core/leader-lock';
import type { EventStore } from '../event-store/event-store.port';

export interface CarriedCheckpoint {
  readonly name: string;
  /** `commit/prepare` in the PostgreSQL log. */
  readonly from: string;
  /** `commit/prepare` in EventStoreDB. */
  readonly to: string;
}

/** A checkpoint names an event the target does not hold (the copy is behind the source). */
export class CheckpointNotCopiedError extends Error {
  override readonly name = 'CheckpointNotCopiedError';
}

/**
 * After a verified copy of the PostgreSQL log into EventStoreDB, moves each projection
 * checkpoint from its position in the PostgreSQL log to the position of the same event (the last
 * one the projection applied: same stream, same revision) in EventStoreDB, so the read models
 * carry on from the new log without a rebuild. Each row moves only from the position it was read
 * at (a projection still running would make this refuse, not guess).
 *
 * The read models and the checkpoints live in the source database (`pool`). Stop every server
 * first: a projection that applies more events meanwhile points past the copy.
 * @returns the checkpoints moved; those at the start of the log or already on EventStoreDB stay.
 * @throws CheckpointNotCopiedError when a checkpoint's event is not (yet) in the target.
 */
export async function carryCheckpoints(
  pool: Pool,
  target: EventStore,
): Promise<CarriedCheckpoint[]> {
  const { rows } = await pool.query<{
    name: string;
    commit_position: string;
    prepare_position: string;
    stream_id: string | null;
    revision: string | null;
  }>(
    `SELECT c.name, c.commit_position, c.prepare_position, e.stream_id, e.revision
       FROM projection_checkpoints c
       LEFT JOIN es_events e
         ON e.transaction_id = c.commit_position::text::xid8
        AND e.global_position = c.prepare_position
      WHERE c.store = 'postgres' AND (c.commit_position <> 0 OR c.prepare_position <> 0)
      ORDER BY c.name`,
  );
  const moves: { name: string; from: [string, string]; to: [bigint, bigint] }[] = [];
  for (const r of rows) {
    const from = `${r.commit_position}/${r.prepare_position}`;
    if (r.stream_id === null || r.revision === null) {
      throw new CheckpointNotCopiedError(
        `the checkpoint of ${r.name} (${from}) is no event of the PostgreSQL log`,
      );
    }
    const [event] = await target.readStream(r.stream_id, {
      fromRevision: Number(r.revision),
      limit: 1,
    });
    if (!event || event.revision !== Number(r.revision)) {
      throw new CheckpointNotCopiedError(
        `the checkpoint of ${r.name} is ${r.stream_id}@${r.revision}, which the target does not ` +
          'hold yet: stop the server and run the copy again',
      );
    }
    moves.push({
      name: r.name,
      from: [r.commit_position, r.prepare_position],
      to: [event.position.commit, event.position.prepare],
    });
  }
  const client = await pool.connect();
  try {
    await client.query('BEGIN');
    for (const m of moves) {
      const { rowCount } = await client.query(
        `UPDATE projection_checkpoints
            SET commit_position = $4, prepare_position = $5, store = 'eventstoredb',
                updated_at = now()
          WHERE name = $1 AND store = 'postgres'
            AND commit_position = $2 AND prepare_position = $3`,
        [m.name, m.from[0], m.from[1], m.to[0].toString(), m.to[1].toString()],
      );
      if (rowCount !== 1) {
        throw new CheckpointNotCopiedError(
          `the checkpoint of ${m.name} moved while it was carried over: stop the server and run ` +
            'the copy again',
        );
      }
    }
    await client.query('COMMIT');
  } catch (err) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw err;
  } finally {
    client.release();
  }
  return moves.map((m) => ({
    name: m.name,
    from: m.from.join('/'),
    to: `${m.to[0]}/${m.to[1]}`,
  }));
}

export type CarryOutcome =
  { readonly carried: readonly CarriedCheckpoint[] } | { readonly skipped: string };

/**
 * {@link carryCheckpoints}, only while no process runs the projections on this database: it
 * holds their advisory lock (src/core/leader-lock.ts) for the duration. A server still running
 * them would otherwise find its checkpoints moved to another store and stop projecting.
 */
export async function carryCheckpointsIfIdle(
  pool: Pool,
  target: EventStore,
): Promise<CarryOutcome> {
  const client = await pool.connect();
  const key = BigInt.asIntN(64, PROJECTIONS_LOCK_KEY).toString();
  try {
    const { rows } = await client.query<{ ok: boolean }>(
      'SELECT pg_try_advisory_lock($1::bigint) AS ok',
      [key],
    );
    if (!rows[0].ok) {
      return {
        skipped:
          'a server still runs the projections on this database: stop it and run the copy again ' +
          'to carry the checkpoints over',
      };
    }
    try {
      return { carried: await carryCheckpoints(pool, target) };
    } finally {
      await client.query('SELECT pg_advisory_unlock($1::bigint)', [key]);
    }
  } finally {
    client.release();
  }
}
