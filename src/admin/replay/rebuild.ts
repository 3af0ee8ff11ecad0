import type { PoolClient } from 'pg';
import {
  describePosition,
  PROJECTION_PAUSE_LOCK_KEY,
  ProjectionRunner,
  quoteIdent,
} from '../../../projections/projection-runner';
import type { Projector } from '../../../projections/projector';
import { inTransaction } from '../../database/with-client';
import { maxPosition, type Position } from '../../event-store/event-store.port';
import { selectProjections, tablesOf, upsertedTablesOf } from './projection-set';
import {
  accessOf,
  analyzeCopy,
  cancelAutovacuumOn,
  copySchema,
  CopyMeta,
  createCopy,
  createMissingIndexes,
  dropCopy,
  giveAccess,
  liveFingerprint,
  makeCopyLogged,
  moveStatistics,
  readCopy,
  rebuildId,
  restoreStorageOptions,
  storageOptionsOf,
  tablesIn,
  viewsOver,
} from './read-model-copies';
import {
  appliedOf,
  catchUpInRounds,
  DEFAULT_LANES,
  headOf,
  isLockConflict,
  liveCheckpoints,
  ReplayDeps,
  withCopyLock,
} from './replay-common';
import { checkInterrupted, ProgressMeter, ReplayProgress } from './replay-progress';

/** Points of a rebuild where a test can interrupt it (by throwing), as a crash would. */
export type RebuildPoint =
  'shadow-ready' | 'loaded' | 'indexed' | 'swap-paused' | 'swap-locked' | 'swap-moved';

export interface RebuildOptions {
  /** Projections to rebuild; all when empty. */
  readonly projections?: readonly string[];
  readonly signal?: AbortSignal;
  readonly onProgress?: (progress: ReplayProgress) => void;
  /** Called once the names are checked and the shadow is locked for this rebuild. */
  readonly onStarted?: (started: { projections: string[]; schema: string }) => void;
  readonly batchSize?: number;
  /** Lanes of the bulk load (ProjectionRunnerOptions.lanes); default DEFAULT_LANES. */
  readonly lanes?: boolean | number;
  /**
   * Create the non-unique indexes after the bulk load (default), rather than keep them up to
   * date row by row while loading.
   */
  readonly deferIndexes?: boolean;
  /** Most attempts at the swap's locks before giving up (default 20). */
  readonly swapAttempts?: number;
  /** Tests only: called at each {@link RebuildPoint}; a throw interrupts the rebuild there. */
  readonly hook?: (point: RebuildPoint) => void | Promise<void>;
}

export interface SwapReport {
  /** Tries it took to get the locks (readers in the way give up the try after 200 ms). */
  readonly attempts: number;
  /** How long the live projections were paused (the pause lock held), in the last try. */
  readonly pausedMs: number;
  /** How long readers of the swapped tables waited at most (their locks held), in the last try. */
  readonly lockedMs: number;
  /** Events applied to the shadow inside the swap, while paused. */
  readonly eventsApplied: number;
  /** Of pausedMs: applying those events, waiting for readers' locks, and the commit. */
  readonly applyMs: number;
  readonly lockWaitMs: number;
  readonly commitMs: number;
  /** The old tables could not be dropped after the swap (left in `retired_…`): why. */
  readonly retiredLeft: string | null;
}

export interface RebuildResult {
  readonly projections: string[];
  readonly tables: string[];
  readonly schema: string;
  /** The shadow was left by an earlier, interrupted run and was carried on. */
  readonly resumed: boolean;
  /** Where the swapped-in read models stand: the head of the log at the swap. */
  readonly position: string;
  /** Events of the log passed by this run (a resumed run counts only its own). */
  readonly eventsApplied: number;
  readonly elapsedMs: number;
  /** eventsApplied over the load and catch-up time (without indexing and swap). */
  readonly eventsPerSecond: number;
  readonly phasesMs: {
    readonly load: number;
    readonly index: number;
    readonly catchUp: number;
    readonly swap: number;
  };
  readonly indexesCreated: number;
  readonly swap: SwapReport;
}

/** How long the swap waits for the live projections' in-flight batch to commit. */
const PAUSE_LOCK_TIMEOUT_MS = 10_000;
/**
 * How long the swap waits for readers of the live tables. Shorter than PostgreSQL's deadlock
 * timeout (1 s): the swap, not a reader, gives up first when they wait on each other.
 */
const TABLE_LOCK_TIMEOUT_MS = 200;

/**
 * Rebuilds the chosen projections (all by default) from position zero without downtime: their
 * tables are built in a shadow schema (`rebuild_<id>`, one per set of projections) by a
 * ProjectionRunner while the live tables keep serving and the live projections keep running;
 * then the shadow catches up to the head and is swapped in atomically ({@link swapIn}).
 *
 * Interrupted anywhere (a signal, a crash, an error), it leaves the live read models untouched:
 * the shadow (and its checkpoints) stays, and the next rebuild of the same projections carries on
 * from it, unless the live tables' definitions changed meanwhile (then it starts over).
 */
export async function rebuild(
  deps: ReplayDeps,
  options: RebuildOptions = {},
): Promise<RebuildResult> {
  const started = performance.now();
  const signal = options.signal ?? new AbortController().signal;
  const projectors = selectProjections(deps.projectors, options.projections);
  const names = projectors.map((p) => p.name);
  const tables = tablesOf(projectors);
  const schema = copySchema('rebuild', rebuildId(names));
  const meter = new ProgressMeter(options.onProgress);
  const hook = async (point: RebuildPoint) => options.hook?.(point);
  const what = `the rebuild of ${names.join(', ')}`;

  return withCopyLock(deps.pool, schema, what, async () => {
    options.onStarted?.({ projections: names, schema });
    meter.phase('preparing');
    await dropLeftoverRetired(deps);
    const fingerprint = await liveFingerprint(deps.pool, tables);
    const existing = await readCopy(deps.pool, schema);
    const resumed =
      existing?.meta?.kind === 'rebuild' &&
      existing.meta.fingerprint === fingerprint &&
      existing.meta.store === deps.store.adapter;
    const runner = new ProjectionRunner(deps.store, deps.pool, projectors, {
      schema,
      lanes: options.lanes ?? DEFAULT_LANES,
      batchSize: options.batchSize ?? 2000,
    });
    if (!resumed) {
      if (existing) await dropCopy(deps.pool, schema);
      const meta: CopyMeta = {
        kind: 'rebuild',
        projections: names,
        store: deps.store.adapter,
        fingerprint,
        createdAt: new Date().toISOString(),
      };
      await createCopy(deps.pool, schema, tables, meta, {
        allIndexes: options.deferIndexes === false,
        unlogged: true,
        upserted: upsertedTablesOf(projectors),
        // Only where the load reads the log in SQL, as the runner decides it.
        keysAfterLoad: runner.keysAfterLoad(),
      });
    }
    await hook('shadow-ready');

    const appliedBefore = await eventsPassed(deps, schema, names.length);
    meter.phase('loading');
    meter.watch(runner, deps.store);
    let loadMs: number;
    let indexMs: number;
    let catchUpMs: number;
    let indexesCreated: number;
    let appliedLoading: number;
    try {
      // The load, in rounds: the last one leaves little for the swap.
      let t = performance.now();
      await catchUpInRounds(runner, () => headOf(deps.store), signal, what);
      loadMs = performance.now() - t;
      await hook('loaded');

      meter.phase('indexing');
      t = performance.now();
      await makeCopyLogged(deps.pool, schema, tables);
      indexesCreated = await createMissingIndexes(deps.pool, schema, tables, signal);
      await analyzeCopy(deps.pool, schema, tables);
      indexMs = performance.now() - t;
      await hook('indexed');
      checkInterrupted(signal, what);

      meter.phase('catching-up');
      t = performance.now();
      await catchUpInRounds(runner, () => headOf(deps.store), signal, what);
      catchUpMs = performance.now() - t;
      appliedLoading = appliedOf(runner);
    } catch (err) {
      checkInterrupted(signal, what);
      throw err;
    } finally {
      meter.unwatch();
    }

    meter.phase('swapping');
    const t = performance.now();
    const swapped = await swapWithRetries(deps, runner, projectors, schema, options, hook);
    const swapMs = performance.now() - t;
    meter.phase('done');
    const eventsApplied = appliedLoading - appliedBefore + swapped.report.eventsApplied;
    return {
      projections: names,
      tables,
      schema,
      resumed,
      position: describePosition(swapped.position),
      eventsApplied,
      elapsedMs: Math.round(performance.now() - started),
      eventsPerSecond: Math.round(
        ((appliedLoading - appliedBefore) * 1000) / Math.max(1, loadMs + catchUpMs),
      ),
      phasesMs: {
        load: Math.round(loadMs),
        index: Math.round(indexMs),
        catchUp: Math.round(catchUpMs),
        swap: Math.round(swapMs),
      },
      indexesCreated,
      swap: swapped.report,
    };
  });
}

/** Events a copy had passed before this run (its slowest projector's): 0 for a new one. */
async function eventsPassed(
  deps: ReplayDeps,
  schema: string,
  projections: number,
): Promise<number> {
  const { rows } = await deps.pool.query<{ n: string }>(
    `SELECT CASE WHEN count(*) < $1 THEN 0 ELSE min(events_applied) END::text AS n
       FROM ${quoteIdent(schema)}.projection_checkpoints`,
    [projections],
  );
  return Number(rows[0].n);
}

async function swapWithRetries(
  deps: ReplayDeps,
  runner: ProjectionRunner,
  projectors: readonly Projector[],
  schema: string,
  options: RebuildOptions,
  hook: (point: RebuildPoint) => Promise<void>,
): Promise<{ position: Position; report: SwapReport }> {
  const signal = options.signal ?? new AbortController().signal;
  const attempts = options.swapAttempts ?? 20;
  for (let attempt = 1; ; attempt++) {
    checkInterrupted(signal, 'the rebuild');
    try {
      const swapped = await swapIn(deps, runner, projectors, schema, hook);
      return { position: swapped.position, report: { ...swapped.report, attempts: attempt } };
    } catch (err) {
      if (!isLockConflict(err) || attempt >= attempts) throw err;
      // Readers held the tables too long, or waited on us: let them pass, catch up, try again.
      await new Promise((r) => setTimeout(r, Math.min(50 * attempt, 500)));
      await catchUpInRounds(runner, () => headOf(deps.store), signal, 'the rebuild');
    }
  }
}

/**
 * The swap, one transaction:
 *
 * 1. Take the pause lock alone (PROJECTION_PAUSE_LOCK_KEY): in-flight live batches commit first,
 *    later ones wait at their first statement, holding no table lock. Reads go on.
 * 2. Apply the last events to the shadow, up to the head (never behind the live checkpoints).
 * 3. Lock the views over the live tables, then the tables, ACCESS EXCLUSIVE (readers wait from
 *    here; a reader in the way makes this try give up after TABLE_LOCK_TIMEOUT_MS).
 * 4. Give the shadow's tables the live tables' owner and grants, move the live tables out (to
 *    `retired_<id>`), the shadow's in (`SET SCHEMA public`: index and constraint names go with
 *    them; extended statistics are moved on their own), and point the views at the new tables
 *    (`CREATE OR REPLACE VIEW` with their own definitions).
 * 5. Set the live checkpoints to the shadow's; drop the old tables and both schemas.
 *
 * On commit, readers waiting on a table look its name up again and read the new one. A live
 * batch waiting on the pause lock then fails its checkpoint compare-and-set (the checkpoint moved)
 * and rolls back, and its runner carries on from the new checkpoints. Anything failing before the
 * commit rolls all of it back: the live tables are as they were, the shadow too.
 */
async function swapIn(
  deps: ReplayDeps,
  runner: ProjectionRunner,
  projectors: readonly Projector[],
  schema: string,
  hook: (point: RebuildPoint) => Promise<void>,
): Promise<{ position: Position; report: Omit<SwapReport, 'attempts'> }> {
  const names = projectors.map((p) => p.name);
  const tables = tablesOf(projectors);
  const shadow = quoteIdent(schema);
  const retired = quoteIdent(`retired_${schema}`);
  let pausedAt = 0;
  let appliedAt = 0;
  let lockedAt = 0;
  let commitAt = 0;
  let eventsApplied = 0;
  let position: Position | null = null;
  await inTransaction(deps.pool, async (tx: PoolClient) => {
    await tx.query(`SET LOCAL lock_timeout = ${PAUSE_LOCK_TIMEOUT_MS}`);
    await tx.query('SELECT pg_advisory_xact_lock($1::bigint)', [
      BigInt.asIntN(64, PROJECTION_PAUSE_LOCK_KEY).toString(),
    ]);
    pausedAt = performance.now();
    await hook('swap-paused');
    // The head as of now; no live batch commits until this transaction ends.
    const live = await liveCheckpoints(tx, names);
    position = maxPosition([await headOf(deps.store), ...live.values()]);
    eventsApplied = await runner.applyWithin(tx, position);

    await tx.query('SET LOCAL search_path = public');
    const views = await viewsOver(tx, tables);
    const storage = await storageOptionsOf(tx, 'public', tables);
    const access = await accessOf(tx, 'public', tables);
    await cancelAutovacuumOn(tx, tables);
    await tx.query(`SET LOCAL lock_timeout = ${TABLE_LOCK_TIMEOUT_MS}`);
    appliedAt = performance.now();
    await tx.query(
      `LOCK TABLE ${[...views.map((v) => v.name), ...tables]
        .map((t) => `public.${quoteIdent(t)}`)
        .join(', ')} IN ACCESS EXCLUSIVE MODE`,
    );
    lockedAt = performance.now();
    await hook('swap-locked');

    await giveAccess(tx, schema, tables, access);
    await tx.query(`CREATE SCHEMA ${retired}`);
    await moveStatistics(tx, 'public', `retired_${schema}`, tables);
    await moveStatistics(tx, schema, 'public', tables);
    for (const t of tables) {
      await tx.query(`ALTER TABLE public.${quoteIdent(t)} SET SCHEMA ${retired}`);
      await tx.query(`ALTER TABLE ${shadow}.${quoteIdent(t)} SET SCHEMA public`);
    }
    await restoreStorageOptions(tx, tables, storage);
    for (const v of views) {
      await tx.query(`CREATE OR REPLACE VIEW public.${quoteIdent(v.name)} AS ${v.def}`);
    }
    await hook('swap-moved');
    await tx.query(
      `INSERT INTO public.projection_checkpoints AS c
              (name, commit_position, prepare_position, events_applied, store, updated_at)
       SELECT name, commit_position, prepare_position, events_applied, store, now()
         FROM ${shadow}.projection_checkpoints WHERE name = ANY($1::text[])
       ON CONFLICT (name) DO UPDATE
          SET commit_position = EXCLUDED.commit_position,
              prepare_position = EXCLUDED.prepare_position,
              events_applied = EXCLUDED.events_applied, store = EXCLUDED.store,
              updated_at = now(), events_per_second = 0, last_error = NULL, last_error_at = NULL`,
      [names],
    );
    // What is left of the shadow: its checkpoints.
    await tx.query(`DROP SCHEMA ${shadow} CASCADE`);
    commitAt = performance.now();
  });
  const committedAt = performance.now();
  // The old tables go after the commit, so that deleting their files is not part of the pause.
  // RESTRICT: an object still depending on one (none should: the views were re-pointed) keeps
  // them, and says so.
  const retiredLeft = await dropRetired(deps, `retired_${schema}`);
  return {
    position: position!,
    report: {
      pausedMs: Math.round(committedAt - pausedAt),
      lockedMs: Math.round(committedAt - lockedAt),
      eventsApplied,
      applyMs: Math.round(appliedAt - pausedAt),
      lockWaitMs: Math.round(lockedAt - appliedAt),
      commitMs: Math.round(committedAt - commitAt),
      retiredLeft,
    },
  };
}

/**
 * Drops a schema of tables a swap moved out (RESTRICT, so nothing still using them goes too);
 * returns why it could not, or null. Left-overs of a crash right after a swap are dropped by the
 * next rebuild.
 *
 * One table per statement: a reader running a statement planned before the swap locks the old
 * tables (by their ids) one after the other before it plans again, and a DROP of several would
 * hold one of them while waiting for another such a reader holds: a deadlock, which PostgreSQL
 * breaks after deadlock_timeout (1 s) by failing one of the two, the reader as likely as not
 * (the bench met it once: a session list answered 500 after 1 s). Dropping one table holds
 * nothing while it waits.
 */
export async function dropRetired(
  deps: Pick<ReplayDeps, 'pool'>,
  schema: string,
): Promise<string | null> {
  const failed: string[] = [];
  for (const table of await tablesIn(deps.pool, schema)) {
    await deps.pool
      .query(`DROP TABLE ${quoteIdent(schema)}.${quoteIdent(table)}`)
      .catch((err: Error) => failed.push(err.message));
  }
  if (failed.length === 0) {
    await deps.pool
      .query(`DROP SCHEMA IF EXISTS ${quoteIdent(schema)}`)
      .catch((err: Error) => failed.push(err.message));
  }
  return failed.length === 0 ? null : `${schema}: ${failed.join('; ')}`;
}

/** Schemas of old tables left by a swap whose process ended before it dropped them. */
async function dropLeftoverRetired(deps: ReplayDeps): Promise<void> {
  const { rows } = await deps.pool.query<{ nspname: string }>(
    `SELECT nspname FROM pg_namespace WHERE starts_with(nspname, 'retired_rebuild_')`,
  );
  for (const r of rows) await dropRetired(deps, r.nspname);
}
