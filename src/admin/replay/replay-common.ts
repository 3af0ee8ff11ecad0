import type { Pool, PoolClient } from 'pg';
import type { ProjectionRunner } from '../../../projections/projection-runner';
import type { Projector } from '../../../projections/projector';
import { EventStore, Position, START } from '../../event-store/event-store.port';
import { tryLockCopy, unlockCopy } from './read-model-copies';
import { ReplayErrors } from './replay.errors';
import { checkInterrupted } from './replay-progress';

/** What the replay tools work with. */
export interface ReplayDeps {
  /** The database of the read models (and, for the PostgreSQL log, of the events). */
  readonly pool: Pool;
  readonly store: EventStore;
  /**
   * Every projector of the product (allProjectors), over a key ring of its own: one made for
   * this operation, so that it loads every data key as a restart would.
   */
  readonly projectors: readonly Projector[];
}

/**
 * Lanes of a copy's bulk load (ProjectionRunnerOptions.lanes): one per projector. The bench
 * (bench/README.md, "Rebuild without downtime") compares fewer.
 */
export const DEFAULT_LANES: boolean | number = true;

/**
 * A copy is loaded to the head in rounds; the last round is short enough to be applied while the
 * live projections are paused (swap, verify) once it applies no more than this many events.
 */
export const SETTLE_EVENTS = 2_000;

/** The live checkpoints of `names` (START for one that has none yet). */
export async function liveCheckpoints(
  db: Pick<Pool, 'query'> | PoolClient,
  names: readonly string[],
): Promise<Map<string, Position>> {
  const { rows } = await db.query<{ name: string; c: string; p: string }>(
    `SELECT name, commit_position::text AS c, prepare_position::text AS p
       FROM public.projection_checkpoints WHERE name = ANY($1::text[])`,
    [names],
  );
  const found = new Map<string, Position>(
    rows.map((r) => [r.name, { commit: BigInt(r.c), prepare: BigInt(r.p) }]),
  );
  return new Map(names.map((n) => [n, found.get(n) ?? START]));
}

/** Events the runner's copy has passed: its slowest projector's count (all start at zero). */
export function appliedOf(runner: ProjectionRunner): number {
  const status = runner.status();
  return status.length === 0 ? 0 : Math.min(...status.map((s) => s.eventsApplied));
}

/**
 * Applies the log to `target()` in rounds until a round applies no more than SETTLE_EVENTS:
 * whatever arrived during the previous round is then small enough for a short pause.
 */
export async function catchUpInRounds(
  runner: ProjectionRunner,
  target: () => Promise<Position>,
  signal: AbortSignal,
  what: string,
): Promise<void> {
  for (;;) {
    const before = appliedOf(runner);
    await runner.catchUp(await target(), signal);
    checkInterrupted(signal, what);
    if (appliedOf(runner) - before <= SETTLE_EVENTS) return;
  }
}

/** The head of the log, or START for an empty one. */
export async function headOf(store: EventStore): Promise<Position> {
  return (await store.headPosition()) ?? START;
}

/**
 * Runs `fn` holding the session lock of copy `schema` on a connection of its own (passed to `fn`,
 * which may use it for other session-level locks too): a second job on the same copy gets 409
 * (40970) instead. The lock goes with the session, so a crashed job leaves the copy free.
 */
export async function withCopyLock<T>(
  pool: Pool,
  schema: string,
  what: string,
  fn: (client: PoolClient) => Promise<T>,
): Promise<T> {
  const client = await pool.connect();
  let broken: Error | undefined;
  const onError = (err: Error) => (broken = err);
  client.on('error', onError);
  try {
    if (!(await tryLockCopy(client, schema))) throw ReplayErrors.alreadyRunning(what);
    try {
      return await fn(client);
    } finally {
      await unlockCopy(client, schema).catch((err: Error) => (broken ??= err));
    }
  } finally {
    client.off('error', onError);
    // A connection that could not unlock is closed: ending the session releases its locks.
    client.release(broken);
  }
}

/** PostgreSQL gave up waiting for a lock (lock_timeout) or broke a deadlock. */
export function isLockConflict(err: unknown): boolean {
  const code = (err as { code?: unknown } | null)?.code;
  return code === '55P03' || code === '40P01';
}
