import { randomBytes } from 'node:crypto';
import type { Pool } from 'pg';
import { describePosition, ProjectionRunner } from '../../../projections/projection-runner';
import { destroyedKeyUids } from '../../crypto/key-ring';
import { comparePositions, Position, START } from '../../event-store/event-store.port';
import { redactCopy } from '../erasure/erase-user';
import { tablesOf, upsertedTablesOf } from './projection-set';
import {
  analyzeCopy,
  copiesInUse,
  copySchema,
  copySize,
  copyViews,
  createCopy,
  createMissingIndexes,
  dropCopy,
  listCopies,
  liveFingerprint,
  readCopy,
  writeMeta,
  type Copy,
  type CopyMeta,
} from './read-model-copies';
import { appliedOf, DEFAULT_LANES, headOf, ReplayDeps, withCopyLock } from './replay-common';
import { ReplayErrors } from './replay.errors';
import { checkInterrupted, ProgressMeter, ReplayProgress } from './replay-progress';

/** A snapshot id: what `?as_of=` takes. */
export const SNAPSHOT_ID = /^[a-z0-9]{1,40}$/;

export interface SnapshotInfo {
  readonly id: string;
  /**
   * `interrupted`: its build stopped before the end; building it again resumes it. `stale`: it
   * was made from other table definitions than the live ones (a migration ran since): it can be
   * neither read nor resumed, only dropped.
   */
  readonly state: 'building' | 'ready' | 'interrupted' | 'stale';
  /** The time asked for, if it was asked by time. */
  readonly at: string | null;
  /** The last event it holds: every event up to this position, none after. */
  readonly position: string;
  readonly projections: readonly string[];
  readonly createdAt: string;
  readonly readyAt: string | null;
  readonly events: number | null;
  readonly bytes: number;
}

export interface TimeTravelOptions {
  /** The read models as they were at this time: up to the last event recorded at or before it. */
  readonly at?: Date;
  /** Or up to this position (inclusive). */
  readonly position?: Position;
  readonly signal?: AbortSignal;
  readonly onProgress?: (progress: ReplayProgress) => void;
  /**
   * Called once the target is resolved, the snapshot's schema exists and is locked for this
   * build: from then on every node lists it as `building`.
   */
  readonly onStarted?: (started: { id: string; position: string; resumed: boolean }) => void;
  readonly batchSize?: number;
  /** Lanes of the bulk load (ProjectionRunnerOptions.lanes); default DEFAULT_LANES. */
  readonly lanes?: boolean | number;
  readonly now?: () => Date;
}

export interface TimeTravelResult {
  readonly snapshot: SnapshotInfo;
  readonly resumed: boolean;
  readonly eventsApplied: number;
  readonly elapsedMs: number;
}

/**
 * Builds every read model as it was at a time or a position into a schema of its own,
 * `asof_<id>`, kept until dropped: its tables, their indexes and the views over them, so the
 * API's queries run on it unchanged (`?as_of=<id>`, src/common/read-schema.ts). An interrupted
 * build is listed as `interrupted`; asking for the same point again resumes it.
 */
export async function buildSnapshot(
  deps: ReplayDeps,
  options: TimeTravelOptions,
): Promise<TimeTravelResult> {
  const started = performance.now();
  const signal = options.signal ?? new AbortController().signal;
  const now = options.now ?? (() => new Date());
  if ((options.at === undefined) === (options.position === undefined)) {
    throw ReplayErrors.timeTravelTarget('give either a time (at) or a position, not both');
  }
  const position = options.at
    ? await positionAt(deps, options.at, now())
    : await checkPosition(deps, options.position!);
  const target = describePosition(position);
  const projectors = [...deps.projectors];
  const names = projectors.map((p) => p.name);
  const tables = tablesOf(projectors);
  const fingerprint = await liveFingerprint(deps.pool, tables);

  const copies = await listCopies(deps.pool, 'asof');
  const inUse = await copiesInUse(
    deps.pool,
    copies.map((c) => c.schema),
  );
  const interrupted = copies.find(
    (c) =>
      c.meta?.state === 'building' &&
      c.meta.target?.position === target &&
      c.meta.fingerprint === fingerprint &&
      c.meta.store === deps.store.adapter &&
      !inUse.has(c.schema),
  );
  const id = interrupted ? idOf(interrupted.schema) : randomBytes(5).toString('hex');
  const schema = copySchema('asof', id);
  const what = `the build of time-travel snapshot ${id}`;
  const meter = new ProgressMeter(options.onProgress);

  return withCopyLock(deps.pool, schema, what, async () => {
    meter.phase('preparing');
    const meta: CopyMeta = interrupted?.meta ?? {
      kind: 'asof',
      projections: names,
      store: deps.store.adapter,
      fingerprint,
      createdAt: now().toISOString(),
      target: { ...(options.at ? { at: options.at.toISOString() } : {}), position: target },
      state: 'building',
    };
    if (!interrupted) {
      await createCopy(deps.pool, schema, tables, meta, {
        upserted: upsertedTablesOf(projectors),
      });
    }
    // Only now: an id answered before its schema exists would read as "no such snapshot".
    options.onStarted?.({ id, position: target, resumed: interrupted !== undefined });
    const runner = new ProjectionRunner(deps.store, deps.pool, projectors, {
      schema,
      lanes: options.lanes ?? DEFAULT_LANES,
      batchSize: options.batchSize ?? 2000,
    });
    meter.phase('loading');
    meter.watch(runner, deps.store);
    try {
      await runner.catchUp(position, signal);
      checkInterrupted(signal, what);
    } finally {
      meter.unwatch();
    }
    // Built of a time before an erasure, the snapshot stops before its UserErased while the log
    // still holds the user's plain texts. Read after the load: an erasure whose key was
    // destroyed later redacts this copy itself (erase-user.ts, redactCopies), all of it loaded.
    await redactCopy(deps.pool, schema, await destroyedKeyUids(deps.pool));
    meter.phase('indexing');
    await createMissingIndexes(deps.pool, schema, tables, signal);
    await copyViews(deps.pool, schema, tables);
    await analyzeCopy(deps.pool, schema, tables);
    checkInterrupted(signal, what);
    const events = appliedOf(runner);
    await writeMeta(deps.pool, schema, {
      ...meta,
      state: 'ready',
      readyAt: now().toISOString(),
      events,
    });
    meter.phase('done');
    const snapshot = await getSnapshot(deps.pool, id, tables);
    return {
      snapshot: snapshot!,
      resumed: interrupted !== undefined,
      eventsApplied: events,
      elapsedMs: Math.round(performance.now() - started),
    };
  });
}

/**
 * Every snapshot. `tables`: the read-model tables (tablesOf every projector), whose live
 * definitions tell a `stale` snapshot.
 */
export async function listSnapshots(
  pool: Pool,
  tables: readonly string[],
): Promise<SnapshotInfo[]> {
  const copies = await listCopies(pool, 'asof');
  const inUse = await copiesInUse(
    pool,
    copies.map((c) => c.schema),
  );
  const live = await liveFingerprint(pool, tables);
  const out: SnapshotInfo[] = [];
  for (const c of copies) out.push(await describeSnapshot(pool, c, inUse.has(c.schema), live));
  return out;
}

/** One snapshot, or null; `tables` as {@link listSnapshots}. */
export async function getSnapshot(
  pool: Pool,
  id: string,
  tables: readonly string[],
): Promise<SnapshotInfo | null> {
  if (!SNAPSHOT_ID.test(id)) return null;
  const copy = await readCopy(pool, copySchema('asof', id));
  if (!copy) return null;
  const inUse = await copiesInUse(pool, [copy.schema]);
  const live = await liveFingerprint(pool, tables);
  return describeSnapshot(pool, copy, inUse.has(copy.schema), live);
}

/** Drops a snapshot: 404 (40470) when there is none, 409 (40970) while it is being built. */
export async function dropSnapshot(
  pool: Pool,
  id: string,
  tables: readonly string[],
): Promise<SnapshotInfo> {
  const snapshot = await getSnapshot(pool, id, tables);
  if (!snapshot) throw ReplayErrors.snapshotNotFound(id);
  if (snapshot.state === 'building') {
    throw ReplayErrors.alreadyRunning(`the build of time-travel snapshot ${id}`);
  }
  const schema = copySchema('asof', id);
  // First, in one statement: from now on no `?as_of=` read of it is answered (snapshotSchema),
  // though dropCopy takes its tables one by one, and a read planned meanwhile would find the live
  // tables of their names in `public`.
  const copy = await readCopy(pool, schema);
  if (copy?.meta) await writeMeta(pool, schema, { ...copy.meta, state: 'dropping' });
  await dropCopy(pool, schema);
  return snapshot;
}

/**
 * The schema a request with `?as_of=<id>` reads: 404 (40470) for no such snapshot, 409 (40971)
 * for one not ready, 409 (40972) for one made from other table definitions than `live` gives
 * (a migration ran since): the API's queries name the live tables' columns, which such a
 * snapshot may lack (PostgreSQL 42703).
 */
export async function snapshotSchema(
  pool: Pool,
  id: string,
  live: () => Promise<string>,
): Promise<string> {
  const copy = SNAPSHOT_ID.test(id) ? await readCopy(pool, copySchema('asof', id)) : null;
  if (!copy || copy.meta?.kind !== 'asof' || copy.meta.state === 'dropping') {
    throw ReplayErrors.snapshotNotFound(id);
  }
  const ready = copy.meta.state === 'ready';
  // In the order of describeSnapshot's states: building, stale, interrupted.
  if (!ready && (await copiesInUse(pool, [copy.schema])).has(copy.schema)) {
    throw ReplayErrors.snapshotNotReady(id, 'being built');
  }
  if (copy.meta.fingerprint !== (await live())) throw ReplayErrors.snapshotStale(id);
  if (!ready) throw ReplayErrors.snapshotNotReady(id, 'interrupted');
  return copy.schema;
}

/**
 * The live read-model tables' fingerprint (liveFingerprint), computed at most once per `ttlMs`:
 * every `?as_of=` request compares its snapshot with it, and the catalog query behind it reads
 * every column and index of the read models. A migration is seen within `ttlMs`;
 * {@link refresh} sees it at once (a read that failed on a missing column).
 */
export class LiveFingerprintCache {
  private cached: { value: Promise<string>; until: number } | null = null;

  constructor(
    private readonly pool: Pool,
    private readonly tables: () => readonly string[],
    private readonly ttlMs = 3_000,
    private readonly now: () => number = Date.now,
  ) {}

  get(): Promise<string> {
    const now = this.now();
    if (this.cached && now < this.cached.until) return this.cached.value;
    return this.refresh();
  }

  refresh(): Promise<string> {
    const value = liveFingerprint(this.pool, this.tables());
    const entry = { value, until: this.now() + this.ttlMs };
    this.cached = entry;
    // A failure is not kept: the next request asks again.
    value.catch(() => {
      if (this.cached === entry) this.cached = null;
    });
    return value;
  }
}

/**
 * The position of the last event recorded at or before `at`; 400 (40073) when there is none (a
 * time before the first event: the log has nothing to show then). The PostgreSQL log answers
 * with one query; for EventStoreDB the log is read from the start until an event recorded after
 * `at` (its commit times follow the log's order).
 */
async function positionAt(deps: ReplayDeps, at: Date, now: Date): Promise<Position> {
  const found = await lastEventAt(deps, at, now);
  if (comparePositions(found, START) === 0) {
    throw ReplayErrors.timeTravelTarget(
      `at: ${at.toISOString()} is before the first event of the log: nothing to show then`,
    );
  }
  return found;
}

async function lastEventAt(deps: ReplayDeps, at: Date, now: Date): Promise<Position> {
  if (Number.isNaN(at.getTime())) throw ReplayErrors.timeTravelTarget('at: not a valid time');
  if (at.getTime() > now.getTime()) {
    throw ReplayErrors.timeTravelTarget(
      `at: ${at.toISOString()} is in the future (now is ${now.toISOString()})`,
    );
  }
  if (deps.store.adapter === 'postgres') {
    const { rows: h } = await deps.pool.query<{ h: string }>(
      'SELECT es_visible_horizon()::text AS h',
    );
    const { rows } = await deps.pool.query<{ c: string; p: string }>(
      `SELECT transaction_id::text AS c, global_position::text AS p FROM es_events
        WHERE created_at <= $1 AND transaction_id < $2::text::xid8
        ORDER BY transaction_id DESC, global_position DESC LIMIT 1`,
      [at, h[0].h],
    );
    return rows.length ? { commit: BigInt(rows[0].c), prepare: BigInt(rows[0].p) } : START;
  }
  let last = START;
  let after = START;
  for (;;) {
    const batch = await deps.store.readAll({ after, limit: 1000 });
    for (const e of batch) {
      if (e.createdAt.getTime() > at.getTime()) return last;
      last = e.position;
    }
    if (batch.length < 1000) return last;
    after = batch[batch.length - 1].position;
  }
}

async function checkPosition(deps: ReplayDeps, position: Position): Promise<Position> {
  const head = await headOf(deps.store);
  if (comparePositions(position, head) > 0) {
    throw ReplayErrors.timeTravelTarget(
      `position ${describePosition(position)} is past the head of the log (${describePosition(head)})`,
    );
  }
  return position;
}

async function describeSnapshot(
  pool: Pool,
  copy: Copy,
  inUse: boolean,
  live: string,
): Promise<SnapshotInfo> {
  const meta = copy.meta;
  // A build under way stays `building` (it holds its lock); anything else made from other
  // definitions can be neither read nor resumed, and neither can one whose drop stopped half-way
  // (`dropping`): both can only be dropped.
  const stale = !inUse && (meta?.fingerprint !== live || meta?.state === 'dropping');
  return {
    id: idOf(copy.schema),
    state: stale ? 'stale' : meta?.state === 'ready' ? 'ready' : inUse ? 'building' : 'interrupted',
    at: meta?.target?.at ?? null,
    position: meta?.target?.position ?? '',
    projections: meta?.projections ?? [],
    createdAt: meta?.createdAt ?? '',
    readyAt: meta?.readyAt ?? null,
    events: meta?.events ?? null,
    bytes: await copySize(pool, copy.schema),
  };
}

function idOf(schema: string): string {
  return schema.slice(copySchema('asof', '').length);
}
