import type { PoolClient } from 'pg';
import type { Position } from '../src/event-store/event-store.port';

/**
 * Shared parts of the projectors' `applyFromLog` statements (Projector.applyFromLog): SQL that
 * reads a range of the PostgreSQL log straight from `es_events`.
 */

/** A range of the log: the events after `after`, up to `until` included. */
export interface LogRange {
  readonly after: Position;
  readonly until: Position;
}

/**
 * The condition "event `e` of es_events lies in the range", on the statement's parameters $1-$4
 * ({@link rangeParams}).
 */
export const IN_RANGE = `(e.transaction_id, e.global_position) > ($1::text::xid8, $2::bigint)
     AND (e.transaction_id, e.global_position) <= ($3::text::xid8, $4::bigint)`;

/** $1-$4 of a statement that uses {@link IN_RANGE}. */
export function rangeParams(range: LogRange): string[] {
  return [
    range.after.commit.toString(),
    range.after.prepare.toString(),
    range.until.commit.toString(),
    range.until.prepare.toString(),
  ];
}

/**
 * Runs `work` (statements on `tx` that read ranges of the log) with sequential scans off, then
 * turns them on again. The bounds are parameters: planned without their values (a named
 * statement settles on such a plan), a row comparison looks wide enough for a sequential scan of
 * the whole log, while the index on (transaction_id, global_position) reads a range;
 * es_read_all makes the same choice.
 */
export async function byLogIndex<T>(tx: PoolClient, work: () => Promise<T>): Promise<T> {
  await tx.query(`SELECT set_config('enable_seqscan', 'off', true)`);
  const result = await work();
  await tx.query(`SELECT set_config('enable_seqscan', 'on', true)`);
  return result;
}
