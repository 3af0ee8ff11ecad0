import { randomBytes } from 'node:crypto';
import type { Pool } from 'pg';
import { describePosition, ProjectionRunner } from '../../../projections/projection-runner';
import { comparePositions, Position, START } from '../../event-store/event-store.port';
import { tablesOf } from './projection-set';
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
  /** `interrupted`: its build stopped before the end; building it again resumes it. */
  readonly state: 'building' | 'ready' | 'interrupted';
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
  /** Called once the target is resolved and the snapshot's schema locked for this build. */
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
    options.onStarted?.({ id, position: target, resumed: interrupted !== undefined });
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
    if (!interrupted) await createCopy(deps.pool, schema, tables, meta);
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
    const snapshot = await getSnapshot(deps.pool, id);
    return {
      snapshot: snapshot!,
      resumed: interrupted !== undefined,
      eventsApplied: events,
      elapsedMs: Math.round(performance.now() - started),
    };
  });
}

export async function listSnapshots(pool: Pool): Promise<SnapshotInfo[]> {
  const copies = await listCopies(pool, 'asof');
  const inUse = await copiesInUse(
    pool,
    copies.map((c) => c.schema),
  );
  const out: SnapshotInfo[] = [];
  for (const c of copies) out.push(await describeSnapshot(pool, c, inUse.has(c.schema)));
  return out;
}

export async function getSnapshot(pool: Pool, id: string): Promise<SnapshotInfo | null> {
  if (!SNAPSHOT_ID.test(id)) return null;
  const copy = await readCopy(pool, copySchema('asof', id));
  if (!copy) return null;
  const inUse = await copiesInUse(pool, [copy.schema]);
  return describeSnapshot(pool, copy, inUse.has(copy.schema));
}

/** Drops a snapshot: 404 (40470) when there is none, 409 (40970) while it is being built. */
export async function dropSnapshot(pool: Pool, id: string): Promise<SnapshotInfo> {
  const snapshot = await getSnapshot(pool, id);
  if (!snapshot) throw ReplayErrors.snapshotNotFound(id);
  if (snapshot.state === 'building') {
    throw ReplayErrors.alreadyRunning(`the build of time-travel snapshot ${id}`);
  }
  await dropCopy(pool, copySchema('asof', id));
  return snapshot;
}

/**
 * The schema a request with `?as_of=<id>` reads: 404 (40470) for no such snapshot, 409 (40971)
 * for one not ready.
 */
export async function snapshotSchema(pool: Pool, id: string): Promise<string> {
  const copy = SNAPSHOT_ID.test(id) ? await readCopy(pool, copySchema('asof', id)) : null;
  if (!copy || copy.meta?.kind !== 'asof') throw ReplayErrors.snapshotNotFound(id);
  if (copy.meta.state !== 'ready') {
    const inUse = await copiesInUse(pool, [copy.schema]);
    throw ReplayErrors.snapshotNotReady(id, inUse.has(copy.schema) ? 'being built' : 'interrupted');
  }
  return copy.schema;
}

/**
 * The position of the last event recorded at or before `at` (START when there is none). The
 * PostgreSQL log answers with one query; for EventStoreDB the log is read from the start until an
 * event recorded after `at` (its commit times follow the log's order).
 */
async function positionAt(deps: ReplayDeps, at: Date, now: Date): Promise<Position> {
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

async function describeSnapshot(pool: Pool, copy: Copy, inUse: boolean): Promise<SnapshotInfo> {
  const meta = copy.meta;
  return {
    id: idOf(copy.schema),
    state: meta?.state === 'ready' ? 'ready' : inUse ? 'building' : 'interrupted',
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
