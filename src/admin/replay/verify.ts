import { randomBytes } from 'node:crypto';
import type { PoolClient } from 'pg';
import {
  describePosition,
  PROJECTION_PAUSE_LOCK_KEY,
  ProjectionRunner,
  quoteIdent,
} from '../../../projections/projection-runner';
import { minPosition, type Position } from '../../event-store/event-store.port';
import { selectProjections, tablesOf, upsertedTablesOf } from './projection-set';
import {
  copiesInUse,
  copySchema,
  createCopy,
  dropCopy,
  listCopies,
  liveFingerprint,
} from './read-model-copies';
import {
  catchUpInRounds,
  DEFAULT_LANES,
  liveCheckpoints,
  ReplayDeps,
  withCopyLock,
} from './replay-common';
import { checkInterrupted, ProgressMeter, ReplayProgress } from './replay-progress';

export interface VerifyOptions {
  /** Projections to check; all when empty. */
  readonly projections?: readonly string[];
  readonly signal?: AbortSignal;
  readonly onProgress?: (progress: ReplayProgress) => void;
  readonly onStarted?: (started: { projections: string[]; schema: string }) => void;
  readonly batchSize?: number;
  /** Lanes of the bulk load (ProjectionRunnerOptions.lanes); default DEFAULT_LANES. */
  readonly lanes?: boolean | number;
  /** Rows shown per table and side (the counts are always complete). Default 20. */
  readonly maxRows?: number;
}

export interface TableComparison {
  readonly table: string;
  readonly liveRows: number;
  readonly rebuiltRows: number;
  /** Rows of the live table that the rebuild does not have (as many times as they occur). */
  readonly onlyLive: number;
  /** Rows of the rebuild that the live table does not have. */
  readonly onlyRebuilt: number;
  /** Up to maxRows of each, as JSON objects. */
  readonly onlyLiveRows: readonly unknown[];
  readonly onlyRebuiltRows: readonly unknown[];
  /** Columns left out of the comparison: filled by the database at write time (now(), …). */
  readonly ignoredColumns: readonly string[];
}

export interface VerifyResult {
  readonly equal: boolean;
  readonly projections: readonly { readonly name: string; readonly position: string }[];
  readonly tables: readonly TableComparison[];
  /** Tables that differ. */
  readonly differing: readonly string[];
  /** Events the rebuild applied. */
  readonly eventsApplied: number;
  readonly elapsedMs: number;
  /** How long the live projections were paused to line the rebuild up with them. */
  readonly pausedMs: number;
}

/** A column default the database fills at write time differs between any two builds. */
const VOLATILE_DEFAULT =
  /\b(now|clock_timestamp|statement_timestamp|transaction_timestamp|timeofday|random|gen_random_uuid|uuidv[47]|nextval)\s*\(|current_(timestamp|time|date)\b|localtime/i;

/**
 * Rebuilds the chosen projections (all by default) from position zero in a schema of its own
 * (`verify_<id>`, dropped at the end), up to exactly where the live projections stand, and
 * compares every table row by row. The live projections keep running meanwhile; to line the two
 * up, they are paused (the pause lock, as a swap takes it) while the rebuild applies its last
 * events up to the live checkpoints and a REPEATABLE READ snapshot is taken, then they carry on,
 * and the comparison reads that snapshot.
 */
export async function verify(deps: ReplayDeps, options: VerifyOptions = {}): Promise<VerifyResult> {
  const started = performance.now();
  const signal = options.signal ?? new AbortController().signal;
  const projectors = selectProjections(deps.projectors, options.projections);
  const names = projectors.map((p) => p.name);
  const tables = tablesOf(projectors);
  const schema = copySchema('verify', randomBytes(6).toString('hex'));
  const meter = new ProgressMeter(options.onProgress);
  const what = `the verify of ${names.join(', ')}`;

  return withCopyLock(deps.pool, schema, what, async (session) => {
    options.onStarted?.({ projections: names, schema });
    meter.phase('preparing');
    await dropAbandonedVerifies(deps);
    try {
      await createCopy(
        deps.pool,
        schema,
        tables,
        {
          kind: 'verify',
          projections: names,
          store: deps.store.adapter,
          fingerprint: await liveFingerprint(deps.pool, tables),
          createdAt: new Date().toISOString(),
        },
        { upserted: upsertedTablesOf(projectors) },
      );
      const runner = new ProjectionRunner(deps.store, deps.pool, projectors, {
        schema,
        lanes: options.lanes ?? DEFAULT_LANES,
        batchSize: options.batchSize ?? 2000,
      });
      meter.phase('loading');
      meter.watch(runner, deps.store);
      try {
        // Up to the slowest live checkpoint, in rounds, until the live ones are close.
        await catchUpInRounds(
          runner,
          async () => minPosition((await liveCheckpoints(deps.pool, names)).values()),
          signal,
          what,
        );
      } finally {
        meter.unwatch();
      }

      meter.phase('comparing');
      const { live, snapshot, pausedMs } = await lineUp(deps, runner, session, names);
      try {
        const comparisons: TableComparison[] = [];
        for (const table of tables) {
          checkInterrupted(signal, what);
          comparisons.push(await compareTable(snapshot, schema, table, options.maxRows ?? 20));
        }
        await snapshot.query('COMMIT');
        const differing = comparisons
          .filter((c) => c.onlyLive > 0 || c.onlyRebuilt > 0)
          .map((c) => c.table);
        meter.phase('done');
        return {
          equal: differing.length === 0,
          projections: names.map((name) => ({
            name,
            position: describePosition(live.get(name)!),
          })),
          tables: comparisons,
          differing,
          eventsApplied: Math.max(0, ...runner.status().map((s) => s.eventsApplied)),
          elapsedMs: Math.round(performance.now() - started),
          pausedMs,
        };
      } finally {
        await snapshot.query('ROLLBACK').catch(() => undefined);
        snapshot.release();
      }
    } catch (err) {
      checkInterrupted(signal, what);
      throw err;
    } finally {
      await dropCopy(deps.pool, schema).catch(() => undefined);
    }
  });
}

/**
 * Pauses the live projections (the pause lock, session-level, on the job's own connection),
 * brings the rebuild to exactly the live checkpoints, opens a REPEATABLE READ snapshot on another
 * connection, and lets the live projections go. The snapshot sees both at the same positions.
 */
async function lineUp(
  deps: ReplayDeps,
  runner: ProjectionRunner,
  session: PoolClient,
  names: readonly string[],
): Promise<{ live: Map<string, Position>; snapshot: PoolClient; pausedMs: number }> {
  const key = BigInt.asIntN(64, PROJECTION_PAUSE_LOCK_KEY).toString();
  const snapshot = await deps.pool.connect();
  try {
    await session.query('SELECT pg_advisory_lock($1::bigint)', [key]);
    const pausedAt = performance.now();
    let live: Map<string, Position>;
    try {
      live = await liveCheckpoints(session, names);
      await session.query('BEGIN');
      try {
        await runner.applyWithin(session, live);
        await session.query('COMMIT');
      } catch (err) {
        await session.query('ROLLBACK').catch(() => undefined);
        throw err;
      }
      await snapshot.query('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY');
      await snapshot.query(`SET LOCAL work_mem = '64MB'`);
      // The snapshot is taken at the first query, while the live projections are paused.
      await snapshot.query('SELECT 1');
    } finally {
      await session.query('SELECT pg_advisory_unlock($1::bigint)', [key]);
    }
    return { live, snapshot, pausedMs: Math.round(performance.now() - pausedAt) };
  } catch (err) {
    await snapshot.query('ROLLBACK').catch(() => undefined);
    snapshot.release();
    throw err;
  }
}

/** One table, live against rebuilt, as multisets of rows (EXCEPT ALL both ways). */
async function compareTable(
  db: PoolClient,
  schema: string,
  table: string,
  maxRows: number,
): Promise<TableComparison> {
  const { rows: columns } = await db.query<{ name: string; type: string; def: string | null }>(
    `SELECT a.attname AS name, format_type(a.atttypid, NULL) AS type,
            pg_get_expr(d.adbin, d.adrelid) AS def
       FROM pg_attribute a
       LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
      WHERE a.attrelid = ('public.' || quote_ident($1))::regclass
        AND a.attnum > 0 AND NOT a.attisdropped
      ORDER BY a.attnum`,
    [table],
  );
  const ignored = columns.filter((c) => c.def !== null && VOLATILE_DEFAULT.test(c.def));
  // Types without equality compare as text.
  const list = columns
    .filter((c) => !ignored.includes(c))
    .map((c) =>
      ['json', 'xml', 'point'].includes(c.type)
        ? `${quoteIdent(c.name)}::text AS ${quoteIdent(c.name)}`
        : quoteIdent(c.name),
    )
    .join(', ');
  const live = `public.${quoteIdent(table)}`;
  const rebuilt = `${quoteIdent(schema)}.${quoteIdent(table)}`;
  const only = async (a: string, b: string) => {
    const { rows } = await db.query<{ n: number; row: unknown }>(
      `WITH d AS (SELECT ${list} FROM ${a} EXCEPT ALL SELECT ${list} FROM ${b})
       SELECT count(*) OVER ()::int AS n, to_jsonb(d) AS row FROM d LIMIT $1`,
      [Math.max(1, maxRows)],
    );
    return { count: rows[0]?.n ?? 0, rows: rows.slice(0, maxRows).map((r) => r.row) };
  };
  const onlyLive = await only(live, rebuilt);
  const onlyRebuilt = await only(rebuilt, live);
  const { rows: counts } = await db.query<{ live: number; rebuilt: number }>(
    `SELECT (SELECT count(*) FROM ${live})::int AS live,
            (SELECT count(*) FROM ${rebuilt})::int AS rebuilt`,
  );
  return {
    table,
    liveRows: counts[0].live,
    rebuiltRows: counts[0].rebuilt,
    onlyLive: onlyLive.count,
    onlyRebuilt: onlyRebuilt.count,
    onlyLiveRows: onlyLive.rows,
    onlyRebuiltRows: onlyRebuilt.rows,
    ignoredColumns: ignored.map((c) => c.name),
  };
}

/** Verify copies whose job is gone (a crash, a kill): nobody resumes them. */
async function dropAbandonedVerifies(deps: ReplayDeps): Promise<void> {
  const copies = await listCopies(deps.pool, 'verify');
  const inUse = await copiesInUse(
    deps.pool,
    copies.map((c) => c.schema),
  );
  for (const c of copies) if (!inUse.has(c.schema)) await dropCopy(deps.pool, c.schema);
}
