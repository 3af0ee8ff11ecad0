import type { PoolClient } from 'pg';
import type { RecordedEvent } from '../src/event-store/event-store.port';
import type { LogRange } from './from-log';

/**
 * Turns events into SQL on its read-model tables. The runner calls `apply` inside a transaction
 * that also moves the projector's checkpoint, so each event is applied exactly once; `apply` must
 * use only the client it is given, and should batch its SQL (one statement per table per batch).
 */
export interface Projector {
  /** Stable name: the key of its checkpoint. */
  readonly name: string;
  /** Event types it reads; other events only advance its checkpoint. */
  readonly eventTypes: ReadonlySet<string>;
  /** Tables it owns, emptied when it is rebuilt from position zero. */
  readonly tables: readonly string[];
  /**
   * Tables of other projectors that `apply` reads, if any. A rebuild builds its tables in a
   * shadow schema, so those owners must be rebuilt with it (src/admin/replay refuses otherwise).
   * During a rebuild only primary keys and unique indexes exist until the bulk load is done: the
   * lookups `apply` makes should use them.
   */
  readonly reads?: readonly string[];
  /**
   * Tables whose rows `apply` updates over and over (upserts of a few rows by many events, such
   * as a session touched by every message): a bulk load leaves room in their pages (a fill factor
   * of BULK_LOAD_FILLFACTOR, src/admin/replay/read-model-copies.ts), so that an update stays on
   * its page, where PostgreSQL prunes the old versions, instead of bloating the table.
   */
  readonly upserted?: readonly string[];
  /**
   * False: `apply` never reads an event's `metadata`, so a bulk load may leave it out of its
   * reads of the log (ReadRangeOptions.metadata). Default: it does.
   */
  readonly usesMetadata?: boolean;
  apply(events: readonly RecordedEvent[], tx: PoolClient): Promise<void>;
  /**
   * Optional, for a copy's bulk load on the PostgreSQL log (ProjectionRunnerOptions.fromLog):
   * applies every event of the log in (after, until] in SQL, straight from `es_events`, inside
   * `tx`, with no event passing through this process. It must leave the tables exactly as `apply`
   * given those events would; a test holds the two to it (audit-fields.int.spec.ts). The range's
   * events have committed. Shared SQL: projections/from-log.ts.
   */
  applyFromLog?(range: LogRange, tx: PoolClient): Promise<void>;
  /**
   * Tables whose primary key and unique indexes `applyFromLog` does not need (it neither upserts
   * nor looks rows up in them): a bulk load from the log may build them after the load, with the
   * other indexes, where building an index at once costs far less than keeping it up row by row.
   * Building them then also checks that the load wrote no row twice.
   */
  readonly keysAfterLoadFromLog?: readonly string[];
}
