import type { Pool, PoolClient } from 'pg';
import {
  comparePositions as cmp,
  EventStore,
  maxPosition,
  minPosition,
  Position,
  RecordedEvent,
  SKIPPED_EVENT_TYPE,
  START,
} from '../src/event-store/event-store.port';
import { prepared } from '../src/database/prepared';
import { inTransaction } from '../src/database/with-client';
import { PositionWaiters } from '../src/common/position-waiters';
import type { Projector } from './projector';

export interface ProjectionStatus {
  readonly name: string;
  readonly position: Position;
  readonly eventsApplied: number;
  readonly running: boolean;
  readonly lastError: string | null;
  readonly lastErrorAt: Date | null;
}

export interface RunnerLogger {
  error(obj: object, msg: string): void;
  info?(obj: object, msg: string): void;
}

export interface ProjectionRunnerOptions {
  readonly batchSize?: number;
  /** First wait after a failed batch; doubles up to 30 s while the failure repeats. */
  readonly retryDelayMs?: number;
  readonly logger?: RunnerLogger;
  /**
   * After a batch smaller than a tenth of the batch size, wait this long before reading on, so
   * that under light load several events share a read and a commit (default 0).
   */
  readonly gatherMs?: number;
  /**
   * A schema holding a second copy of the projectors' tables and its own `projection_checkpoints`
   * (a rebuild's shadow, a verify, a time-travel snapshot: src/admin/replay). Every transaction of
   * the runner then runs with `search_path = <schema>, public`, so the projectors' unqualified
   * table names are that schema's, and commits without waiting for the WAL flush (a crash loses
   * at most the last batches, checkpoints included: the copy stays consistent). Without it the
   * runner writes the live read models, and each batch holds the pause lock shared.
   */
  readonly schema?: string;
  /**
   * {@link catchUp} only: apply the projectors in this many lanes (`true`: one per projector),
   * each on a connection of its own, concurrently, each lane's batch with its own checkpoints (the
   * log is still read once). For a copy's bulk load, where nothing reads the tables meanwhile: the
   * database works on one lane's statements while this process prepares another's. Fewer lanes
   * leave more of a small machine to other work.
   */
  readonly lanes?: boolean | number;
  /**
   * {@link catchUp} on the PostgreSQL log only (default: true for a copy, `schema` set):
   * projectors with `applyFromLog` apply their part in SQL straight from the log's table, and the
   * log is read for the others only, with just the event types they take, and without metadata
   * when none of them uses it. (The audit index is one row per event: built in SQL it costs a
   * third of what it costs through this process; bench/README.md, "Rebuild without downtime".)
   */
  readonly fromLog?: boolean;
}

/** In a projector's `eventTypes`: it reads every event, whatever its type (the audit index). */
export const EVERY_EVENT_TYPE = '*';

/**
 * Advisory lock (one 64-bit key) that pauses the live projections: every live batch takes it
 * shared, first thing in its transaction (before it touches a table); a rebuild's swap and a
 * verify's comparison take it alone, so that no live batch commits meanwhile. ASCII "projpaus".
 */
export const PROJECTION_PAUSE_LOCK_KEY = 0x70726f6a70617573n;

/** Seconds over which the events/s written with each checkpoint is measured. */
const RATE_WINDOW_MS = 10_000;

/** A checkpoint is a position in another event store than this runner's. */
export class ForeignCheckpointError extends Error {
  override readonly name = 'ForeignCheckpointError';
}

/**
 * Another runner moved the checkpoint (a racing runner, or a rebuild's swap): this batch is void,
 * start again from the checkpoints.
 */
class CheckpointMovedError extends Error {}

/** A projector and where it stands in the log. */
interface ProjectorState {
  readonly projector: Projector;
  /** Its catchUp applies it with `applyFromLog` (ProjectionRunnerOptions.fromLog). */
  readonly fromLog: boolean;
  position: Position;
  eventsApplied: number;
  running: boolean;
  lastError: string | null;
  lastErrorAt: Date | null;
  readonly waiters: PositionWaiters;
  /** Events it passed per batch over the last RATE_WINDOW_MS, for events_per_second. */
  readonly recent: { at: number; events: number }[];
}

/**
 * Follows the event log for its projectors and applies it in batches, each batch read once for
 * all of them. A batch's read-model changes and the projectors' checkpoints are written in one
 * transaction: a crash at any point leaves each read model exactly at its checkpoint, so nothing
 * is applied twice or skipped.
 */
export class ProjectionRunner {
  private readonly loops: ProjectorState[];
  private controller: AbortController | null = null;
  private tasks: Promise<void>[] = [];
  private readonly batchSize: number;
  private readonly retryDelayMs: number;
  private readonly gatherMs: number;
  /** Sets the schema of a copy; null for the live read models. */
  private readonly scope: string | null;
  /** What each batch's transaction runs first (no parameters: it is sent with the BEGIN). */
  private readonly batchPrelude: string;
  private runningSince = 0;

  constructor(
    private readonly store: EventStore,
    private readonly pool: Pool,
    projectors: readonly Projector[],
    private readonly options: ProjectionRunnerOptions = {},
  ) {
    const fromLog =
      (options.fromLog ?? options.schema !== undefined) && store.adapter === 'postgres';
    this.loops = projectors.map((projector) => ({
      projector,
      fromLog: fromLog && projector.applyFromLog !== undefined,
      position: START,
      eventsApplied: 0,
      running: false,
      lastError: null,
      lastErrorAt: null,
      waiters: new PositionWaiters(),
      recent: [],
    }));
    this.batchSize = options.batchSize ?? 2000;
    this.retryDelayMs = options.retryDelayMs ?? 200;
    this.gatherMs = options.gatherMs ?? 0;
    this.scope =
      options.schema === undefined
        ? null
        : `SELECT set_config('search_path', ${quoteLiteral(`${quoteIdent(options.schema)}, public`)}, true),
                  set_config('synchronous_commit', 'off', true)`;
    this.batchPrelude =
      this.scope ??
      `SELECT pg_advisory_xact_lock_shared(${BigInt.asIntN(64, PROJECTION_PAUSE_LOCK_KEY)}::bigint)`;
  }

  /** True while the runner is started in this process. */
  get started(): boolean {
    return this.controller !== null;
  }

  get projectorNames(): string[] {
    return this.loops.map((l) => l.projector.name);
  }

  start(): void {
    if (this.controller || this.loops.length === 0) return;
    const controller = new AbortController();
    this.controller = controller;
    this.tasks = [this.run(controller.signal)];
  }

  async stop(): Promise<void> {
    this.controller?.abort();
    this.controller = null;
    await Promise.all(this.tasks);
    this.tasks = [];
  }

  /**
   * The tables whose keys may wait until after a bulk load (Projector.keysAfterLoadFromLog): those
   * of the projectors this runner applies from the log, which need no key while they load.
   */
  keysAfterLoad(): string[] {
    return this.loops.flatMap((l) => (l.fromLog ? (l.projector.keysAfterLoadFromLog ?? []) : []));
  }

  status(): ProjectionStatus[] {
    return this.loops.map((l) => ({
      name: l.projector.name,
      position: l.position,
      eventsApplied: l.eventsApplied,
      running: l.running,
      lastError: l.lastError,
      lastErrorAt: l.lastErrorAt,
    }));
  }

  /**
   * Resolves when every projector (or each one named) has applied the log up to `position`
   * (inclusive), or when the signal aborts.
   */
  async waitFor(
    position: Position,
    signal?: AbortSignal,
    names?: readonly string[],
  ): Promise<void> {
    const loops = names ? this.loops.filter((l) => names.includes(l.projector.name)) : this.loops;
    await Promise.all(
      loops
        .filter((loop) => cmp(loop.position, position) < 0)
        .map((loop) => loop.waiters.wait(position, signal)),
    );
  }

  /**
   * Applies the log up to `until` (inclusive) from the checkpoints and returns once every
   * projector stands there (or when the signal aborts): a shadow build's bulk load. Unlike the
   * live loop it gives up after `maxFailures` batches in a row have failed, throwing the last
   * error. Not while the runner is {@link start}ed.
   */
  async catchUp(until: Position, signal?: AbortSignal, maxFailures = 5): Promise<void> {
    if (this.controller) throw new Error('the runner is started: stop it before catchUp');
    const bounds = { until, maxFailures };
    const abort = signal ?? new AbortController().signal;
    const lanes = this.options.lanes === true ? this.loops.length : Number(this.options.lanes ?? 0);
    await this.runLanes(abort, bounds, Math.max(1, lanes));
  }

  /**
   * Applies the log into the runner's tables inside the caller's transaction `tx`, each projector
   * up to its own target (or all to one position), and moves their checkpoints there: the last
   * step of a swap or a verify, taken while the live projections are paused. `tx` keeps the
   * runner's schema on its search path afterwards (SET LOCAL). Returns the events applied.
   */
  async applyWithin(
    tx: PoolClient,
    targets: Position | ReadonlyMap<string, Position>,
  ): Promise<number> {
    if (this.scope) await tx.query(this.scope);
    const targetOf = (name: string): Position =>
      isPosition(targets) ? targets : (targets.get(name) ?? START);
    const checkpoints = await this.readCheckpoints(tx);
    for (const loop of this.loops) {
      const checkpoint = checkpoints.get(loop.projector.name);
      if (!checkpoint) throw new Error(`no checkpoint of ${loop.projector.name}`);
      this.advance(loop, checkpoint.position);
      loop.eventsApplied = checkpoint.eventsApplied;
      if (cmp(checkpoint.position, targetOf(loop.projector.name)) > 0) {
        throw new Error(
          `${loop.projector.name} is already past the position to apply up to ` +
            `(${describePosition(checkpoint.position)} > ${describePosition(targetOf(loop.projector.name))})`,
        );
      }
    }
    let applied = 0;
    let after = lowest(this.loops);
    const last = maxPosition(this.loops.map((l) => targetOf(l.projector.name)));
    for (;;) {
      const batch =
        cmp(after, last) >= 0 ? [] : await this.store.readAll({ after, limit: this.batchSize });
      // The log is read to the last target when a batch passes it or the log has no more.
      const exhausted =
        batch.length < this.batchSize || cmp(batch[batch.length - 1].position, last) >= 0;
      const work = this.loops.map((loop) => {
        const target = targetOf(loop.projector.name);
        const events = batch.filter(
          (e) => cmp(e.position, loop.position) > 0 && cmp(e.position, target) <= 0,
        );
        const to = exhausted ? target : events.length ? events[events.length - 1].position : null;
        return { loop, events, to };
      });
      for (const { loop, events } of work) {
        const relevant = this.relevant(loop.projector, events);
        if (relevant.length > 0) await loop.projector.apply(relevant, tx);
      }
      const moved = work.filter(
        (w): w is typeof w & { to: Position } => w.to !== null && cmp(w.to, w.loop.position) !== 0,
      );
      if (moved.length > 0) {
        await tx.query(
          `UPDATE projection_checkpoints AS c
              SET commit_position = i.c, prepare_position = i.p,
                  events_applied = c.events_applied + i.n, updated_at = now(), last_error = NULL
             FROM unnest($1::text[], $2::bigint[], $3::bigint[], $4::bigint[]) AS i(name, c, p, n)
            WHERE c.name = i.name`,
          [
            moved.map((w) => w.loop.projector.name),
            moved.map((w) => w.to.commit.toString()),
            moved.map((w) => w.to.prepare.toString()),
            moved.map((w) => w.events.length),
          ],
        );
      }
      for (const w of moved) {
        w.loop.eventsApplied += w.events.length;
        applied += w.events.length;
        this.advance(w.loop, w.to);
      }
      if (exhausted) return applied;
      after = batch[batch.length - 1].position;
    }
  }

  /**
   * One loop for every projector: each batch is read once and applied by each projector whose
   * checkpoint it passes, all in one transaction with their checkpoints. (Reading and committing
   * once per batch rather than once per projector is most of a batch's cost when traffic is light
   * and batches are small.) A projector that fails holds the others back: the batch is retried
   * from the checkpoints as a whole. Projectors far behind the others (farBehind) catch up beside
   * the loop instead (followBeside). While catching up (full batches) the next batch is read while
   * this one is applied. The live loop: it runs until the signal aborts ({@link catchUp} has its
   * own, {@link runLanes}).
   */
  private async run(signal: AbortSignal): Promise<void> {
    let delay = this.retryDelayMs;
    this.runningSince = performance.now();
    for (const loop of this.loops) {
      loop.running = true;
      loop.recent.length = 0;
    }
    try {
      while (!signal.aborted) {
        try {
          const checkpoints = await this.loadCheckpoints();
          for (const loop of this.loops) {
            const checkpoint = checkpoints.get(loop.projector.name)!;
            this.advance(loop, checkpoint.position);
            loop.eventsApplied = checkpoint.eventsApplied;
          }
          const behind = await this.farBehind();
          if (behind.length > 0) {
            await this.followBeside(behind, signal, () => (delay = this.retryDelayMs));
            continue;
          }
          await this.follow(lowest(this.loops), signal, () => (delay = this.retryDelayMs));
        } catch (err) {
          if (signal.aborted) break;
          const message = err instanceof Error ? err.message : String(err);
          if (err instanceof CheckpointMovedError) {
            // Not a failure: someone else moved the checkpoints (a racing runner, or a rebuild
            // swapped its tables in). Read them again at once.
            this.options.logger?.info?.(
              { projections: this.projectorNames, reason: message },
              'projection checkpoints moved; continuing from them',
            );
            continue;
          }
          await this.reportFailure(this.loops, err);
          await sleep(delay, signal);
          delay = Math.min(delay * 2, 30_000);
        }
      }
    } finally {
      for (const loop of this.loops) loop.running = false;
    }
  }

  /**
   * Projectors more than a batch behind the one furthest on (a projection new in this version,
   * at position zero under a large log): the first batch after each lies wholly before it.
   */
  private async farBehind(): Promise<ProjectorState[]> {
    const furthest = maxPosition(this.loops.map((l) => l.position));
    const behind: ProjectorState[] = [];
    const probed = new Map<string, boolean>();
    for (const loop of this.loops) {
      if (cmp(loop.position, furthest) >= 0) continue;
      const key = describePosition(loop.position);
      let far = probed.get(key);
      if (far === undefined) {
        const next = await this.store.readAll({ after: loop.position, limit: this.batchSize });
        far = next.length >= this.batchSize && cmp(next[next.length - 1].position, furthest) < 0;
        probed.set(key, far);
      }
      if (far) behind.push(loop);
    }
    return behind;
  }

  /**
   * The live loop with projectors far behind (farBehind): they would hold every other read model
   * back until they had caught up, one batch of the whole log after another. Instead the others
   * follow the log as usual while those catch up beside them, on their own connection and
   * checkpoints, to where the others stood; then this returns, and the live loop plans again
   * with every projector (the ones behind are now at most a few batches behind: they follow
   * together). A batch of theirs that fails is retried from their checkpoints, with the live
   * loop's backoff, while the others go on. A failure of the others' follow stops both and is
   * thrown; so is a checkpoint moved under the catch-up (a swap: plan again).
   */
  private async followBeside(
    behind: readonly ProjectorState[],
    signal: AbortSignal,
    onApplied: () => void,
  ): Promise<void> {
    const ahead = this.loops.filter((l) => !behind.includes(l));
    const target = lowest(ahead);
    const names = behind.map((l) => l.projector.name);
    this.options.logger?.info?.(
      { projections: names, from: describePosition(lowest(behind)), to: describePosition(target) },
      'projections far behind the others catch up beside them',
    );
    const round = new AbortController();
    const stop = () => round.abort();
    signal.addEventListener('abort', stop, { once: true });
    // Stopped while it planned: a listener added now would never hear it.
    if (signal.aborted) stop();
    const catchUp = async () => {
      let delay = 0;
      for (;;) {
        if (round.signal.aborted) return;
        const from = lowest(behind);
        try {
          await this.runLanes(round.signal, { until: target, maxFailures: 1 }, 1, behind);
          return;
        } catch (err) {
          if (round.signal.aborted || err instanceof CheckpointMovedError) throw err;
          // The backoff starts again after progress: failures far apart are each retried soon.
          const progressed = cmp(lowest(behind), from) > 0;
          delay = progressed || delay === 0 ? this.retryDelayMs : Math.min(delay * 2, 30_000);
          await this.reportFailure(behind, err);
          await sleep(delay, round.signal);
        }
      }
    };
    try {
      const [caught, followed] = await Promise.allSettled([
        catchUp().finally(stop),
        this.follow(target, round.signal, onApplied, ahead).finally(stop),
      ]);
      if (followed.status === 'rejected') {
        // Thrown below; the catch-up's own failure meanwhile, if any, is told here.
        if (caught.status === 'rejected' && !(caught.reason instanceof CheckpointMovedError)) {
          this.options.logger?.error(
            { err: caught.reason, projections: names },
            'projection catch-up stopped with an error',
          );
        }
        throw followed.reason;
      }
      if (caught.status === 'rejected') throw caught.reason;
    } finally {
      signal.removeEventListener('abort', stop);
    }
  }

  /** Reads the log after `from` and applies it to `loops` batch by batch until aborted. */
  private async follow(
    from: Position,
    signal: AbortSignal,
    onApplied: () => void,
    loops: readonly ProjectorState[] = this.loops,
  ): Promise<void> {
    const batches = this.store
      .subscribeAll({ after: from, batchSize: this.batchSize, signal })
      [Symbol.asyncIterator]();
    let next: Promise<IteratorResult<RecordedEvent[]>> | null = batches.next();
    try {
      for (;;) {
        const read = await next;
        next = null;
        if (read.done) return;
        const batch = read.value;
        // Catching up: read the next batch while this one is applied.
        if (batch.length >= this.batchSize) next = batches.next();
        await this.applyBatch(batch, null, loops);
        onApplied();
        if (!next) {
          if (this.gatherMs > 0 && batch.length < this.batchSize / 10) {
            await sleep(this.gatherMs, signal);
          }
          next = batches.next();
        }
      }
    } finally {
      // A read still in flight is dropped; the subscription ends once it settles.
      next?.catch(() => undefined);
      void batches.return?.(undefined)?.catch(() => undefined);
    }
  }

  /**
   * {@link catchUp} in `count` lanes: the log is read once, each batch is handed to every lane,
   * and each lane applies its projectors' part and moves their checkpoints in a transaction of
   * its own, while the other lanes do the same on their connections. A lane runs at most
   * LANE_DEPTH batches behind the reader. A lane whose batch fails retries it, up to `maxFailures`
   * times in a row; then every lane stops and the error is thrown.
   */
  private async runLanes(
    signal: AbortSignal,
    bounds: { until: Position; maxFailures: number },
    count: number,
    loops: readonly ProjectorState[] = this.loops,
  ): Promise<void> {
    const { until, maxFailures } = bounds;
    // Beside the live loop (followBeside), which set the checkpoints it reads a moment ago and
    // keeps its own measure of time, only these projectors are touched.
    const beside = loops !== this.loops;
    if (!beside) {
      this.runningSince = performance.now();
      const checkpoints = await this.loadCheckpoints();
      for (const loop of loops) {
        const checkpoint = checkpoints.get(loop.projector.name)!;
        this.advance(loop, checkpoint.position);
        loop.eventsApplied = checkpoint.eventsApplied;
        loop.recent.length = 0;
      }
    }
    const from = lowest(loops);
    if (cmp(from, until) >= 0) return;
    const stop = new AbortController();
    const abort = () => stop.abort();
    signal.addEventListener('abort', abort, { once: true });
    if (signal.aborted) abort();
    const failure: { error: Error | null } = { error: null };
    for (const loop of loops) loop.running = true;
    // Projectors dealt to the lanes in turn.
    const lanes = Array.from(
      { length: Math.min(count, loops.length) },
      (_, i) => new Lane(loops.filter((_l, j) => j % count === i)),
    );
    const workers = lanes.map((lane) =>
      lane.work(async (segment) => {
        for (let attempt = 1; ; attempt++) {
          try {
            await this.applyBatch(segment.events, until, lane.loops, segment.to);
            return;
          } catch (err) {
            for (const loop of lane.loops) {
              loop.lastError = err instanceof Error ? err.message : String(err);
              loop.lastErrorAt = new Date();
            }
            // A checkpoint another runner moved (a swap) makes every retry fail the same way.
            if (
              attempt >= maxFailures ||
              stop.signal.aborted ||
              err instanceof CheckpointMovedError
            ) {
              failure.error ??= err instanceof Error ? err : new Error(String(err));
              stop.abort();
              throw err;
            }
            await sleep(this.retryDelayMs * 2 ** (attempt - 1), stop.signal);
          }
        }
      }, stop.signal),
    );
    // Their failure is failure.error, thrown below once every lane has stopped: not unhandled
    // meanwhile.
    for (const worker of workers) worker.catch(() => undefined);
    // What the projectors that take events need of them: their types (all, if one takes every
    // type), and metadata only if one of them uses it.
    const takers = loops.filter((l) => !l.fromLog).map((l) => l.projector);
    const types = takers.some((p) => p.eventTypes.has(EVERY_EVENT_TYPE))
      ? undefined
      : new Set(takers.flatMap((p) => [...p.eventTypes]));
    const metadata = takers.some((p) => p.usesMetadata !== false);
    try {
      let after = from;
      while (!stop.signal.aborted) {
        const segment = await this.store.readRange({
          after,
          until,
          limit: this.batchSize,
          types,
          metadata,
        });
        await Promise.all(lanes.map((lane) => lane.push(segment, stop.signal)));
        if (cmp(segment.to, until) >= 0) break;
        after = segment.to;
      }
    } finally {
      for (const lane of lanes) lane.close();
      await Promise.allSettled(workers);
      signal.removeEventListener('abort', abort);
      // Beside the live loop, its projectors keep running with it.
      if (!beside) for (const loop of loops) loop.running = false;
    }
    if (failure.error) throw failure.error;
  }

  private relevant(projector: Projector, events: readonly RecordedEvent[]): RecordedEvent[] {
    return projector.eventTypes.has(EVERY_EVENT_TYPE)
      ? events.filter((e) => e.type !== SKIPPED_EVENT_TYPE)
      : events.filter((e) => projector.eventTypes.has(e.type));
  }

  /**
   * Applies `batch` (which ends at `end`, by default its last event) to `loops`' projectors and
   * moves their checkpoints, in one transaction.
   */
  private async applyBatch(
    batch: readonly RecordedEvent[],
    until: Position | null,
    loops: readonly ProjectorState[] = this.loops,
    end: Position = batch[batch.length - 1].position,
  ): Promise<void> {
    const past = until !== null && cmp(end, until) > 0;
    const inRange = past ? batch.filter((e) => cmp(e.position, until) <= 0) : batch;
    // Past `until`, every event up to it has been seen: the checkpoints move to it exactly.
    const to = past ? until : end;
    // Each projector takes the part of the batch past its own checkpoint.
    const work = loops
      .filter((loop) => cmp(to, loop.position) > 0)
      .map((loop) => ({
        loop,
        events: inRange.filter((e) => cmp(e.position, loop.position) > 0),
      }));
    if (work.length === 0) return;
    const rates = work.map((w) => this.rate(w.loop, w.events.length));
    await this.transaction(async (client) => {
      for (const { loop, events } of work) {
        if (loop.fromLog) {
          await loop.projector.applyFromLog!({ after: loop.position, until: to }, client);
          continue;
        }
        const relevant = this.relevant(loop.projector, events);
        if (relevant.length > 0) await loop.projector.apply(relevant, client);
      }
      // Every checkpoint in one statement, each only from where this runner last saw it.
      const { rowCount } = await client.query({
        ...prepared(`UPDATE projection_checkpoints AS c
            SET commit_position = $2, prepare_position = $3,
                events_applied = c.events_applied + i.n, updated_at = now(),
                events_per_second = i.rate, last_error = NULL, last_error_at = NULL
           FROM unnest($1::text[], $4::bigint[], $5::bigint[], $6::bigint[], $7::float8[])
                AS i(name, n, commit_from, prepare_from, rate)
          WHERE c.name = i.name AND c.commit_position = i.commit_from
            AND c.prepare_position = i.prepare_from`),
        values: [
          work.map((w) => w.loop.projector.name),
          to.commit.toString(),
          to.prepare.toString(),
          work.map((w) => w.events.length),
          work.map((w) => w.loop.position.commit.toString()),
          work.map((w) => w.loop.position.prepare.toString()),
          rates,
        ],
      });
      if (rowCount !== work.length) {
        const names = work.map((w) => w.loop.projector.name).join(', ');
        throw new CheckpointMovedError(`a checkpoint of ${names} moved`);
      }
    });
    for (const { loop, events } of work) {
      loop.eventsApplied += events.length;
      loop.lastError = null;
      loop.lastErrorAt = null;
      this.advance(loop, to);
    }
  }

  /**
   * Events per second over the last RATE_WINDOW_MS (or since the loop started, if later),
   * counting this batch: how fast the checkpoints move now.
   */
  private rate(loop: ProjectorState, events: number): number {
    const now = performance.now();
    const recent = loop.recent;
    recent.push({ at: now, events });
    while (recent.length > 0 && recent[0].at < now - RATE_WINDOW_MS) recent.shift();
    const spanMs = Math.max(Math.min(now - this.runningSince, RATE_WINDOW_MS), 1_000);
    const total = recent.reduce((n, r) => n + r.events, 0);
    return Math.round((total * 1000) / spanMs);
  }

  /**
   * A failed batch of `loops`' projectors, before it is retried from their checkpoints: in their
   * status, in the log, and where every process sees it (recordError).
   */
  private async reportFailure(loops: readonly ProjectorState[], err: unknown): Promise<void> {
    const message = err instanceof Error ? err.message : String(err);
    for (const loop of loops) {
      loop.lastError = message;
      loop.lastErrorAt = new Date();
    }
    const names = loops.map((l) => l.projector.name);
    this.options.logger?.error(
      { err, projections: names },
      'projection batch failed; retrying from the checkpoints',
    );
    await this.recordError(message, names);
  }

  /** The failure of `names`, where every process sees it (GET /admin/v1/projections). Best effort. */
  private async recordError(message: string, names: readonly string[]): Promise<void> {
    try {
      await this.transaction(
        (client) =>
          client.query(
            `UPDATE projection_checkpoints SET last_error = $2, last_error_at = now()
              WHERE name = ANY($1::text[])`,
            [names, message.slice(0, 2000)],
          ),
        false,
      );
    } catch {
      // The database may be what failed; the error is in the log and in status() anyway.
    }
  }

  /** A transaction in the runner's schema; a live batch also holds the pause lock shared. */
  private transaction<T>(fn: (client: PoolClient) => Promise<T>, batch = true): Promise<T> {
    const prelude = batch ? this.batchPrelude : this.scope;
    return inTransaction(this.pool, fn, prelude ?? undefined);
  }

  private advance(loop: ProjectorState, position: Position): void {
    loop.position = position;
    loop.waiters.reached(position);
  }

  private async loadCheckpoints(): Promise<
    Map<string, { position: Position; eventsApplied: number }>
  > {
    await this.transaction(async (client) => {
      const names = this.projectorNames;
      await client.query(
        `INSERT INTO projection_checkpoints (name, store) SELECT unnest($1::text[]), $2
         ON CONFLICT (name) DO NOTHING`,
        [names, this.store.adapter],
      );
      // A checkpoint at the start belongs to no store yet: it becomes this one's (even when
      // another one's is refused below).
      await client.query(
        `UPDATE projection_checkpoints SET store = $2
          WHERE name = ANY($1::text[]) AND store <> $2
            AND commit_position = 0 AND prepare_position = 0`,
        [names, this.store.adapter],
      );
    }, false);
    return this.transaction((client) => this.readCheckpoints(client), false);
  }

  private async readCheckpoints(
    client: PoolClient,
  ): Promise<Map<string, { position: Position; eventsApplied: number }>> {
    const names = this.projectorNames;
    const { rows } = await client.query<{
      name: string;
      commit_position: string;
      prepare_position: string;
      events_applied: string;
      store: string;
    }>(
      `SELECT name, commit_position, prepare_position, events_applied, store
         FROM projection_checkpoints WHERE name = ANY($1::text[])`,
      [names],
    );
    const foreign = rows.filter(
      (r) =>
        r.store !== this.store.adapter && (r.commit_position !== '0' || r.prepare_position !== '0'),
    );
    if (foreign.length > 0) {
      throw new ForeignCheckpointError(
        `the checkpoints of ${foreign.map((r) => r.name).join(', ')} are positions in the ` +
          `${foreign[0].store} event log, not in ${this.store.adapter}: copy the log with ` +
          'npm run admin -- copy-to-eventstoredb (which carries the checkpoints over), or rebuild ' +
          'those read models (docs/operations.md)',
      );
    }
    return new Map(
      rows.map((r) => [
        r.name,
        {
          position: { commit: BigInt(r.commit_position), prepare: BigInt(r.prepare_position) },
          eventsApplied: Number(r.events_applied),
        },
      ]),
    );
  }
}

/** Batches a lane may hold (applying one, the next ones waiting) before the reader waits. */
const LANE_DEPTH = 3;

/** A part of the log handed to the lanes: its events (some maybe skipped) and where it ends. */
interface Segment {
  readonly events: readonly RecordedEvent[];
  readonly to: Position;
}

/** The queue of batches of one lane (some projectors) in {@link ProjectionRunner.runLanes}. */
class Lane {
  private readonly queue: Segment[] = [];
  /** Its projectors all apply from the log: it applies every queued segment at once. */
  private readonly merges: boolean;
  private closed = false;
  private wakeWorker: (() => void) | null = null;
  private wakeReader: (() => void) | null = null;

  constructor(readonly loops: readonly ProjectorState[]) {
    this.merges = loops.every((l) => l.fromLog);
  }

  /** Queues a batch; waits while the lane is LANE_DEPTH batches behind. */
  async push(batch: Segment, signal: AbortSignal): Promise<void> {
    while (this.queue.length >= LANE_DEPTH && !signal.aborted && !this.closed) {
      await wake(signal, (done) => (this.wakeReader = done));
    }
    if (signal.aborted || this.closed) return;
    this.queue.push(batch);
    this.wakeWorker?.();
  }

  /** No more batches: the worker ends once the queue is empty. */
  close(): void {
    this.closed = true;
    this.wakeWorker?.();
    this.wakeReader?.();
  }

  /** Applies the queued batches in order with `apply` until closed and empty, or aborted. */
  async work(apply: (segment: Segment) => Promise<void>, signal: AbortSignal): Promise<void> {
    for (;;) {
      if (signal.aborted) return;
      if (this.queue.length === 0) {
        if (this.closed) return;
        await wake(signal, (done) => (this.wakeWorker = done));
        continue;
      }
      // A lane that reads no events applies what is queued as one range: fewer, larger statements.
      const taken = this.merges ? this.queue.length : 1;
      const segment: Segment =
        taken === 1
          ? this.queue[0]
          : {
              events: this.queue.slice(0, taken).flatMap((s) => s.events),
              to: this.queue[taken - 1].to,
            };
      await apply(segment);
      this.queue.splice(0, taken);
      this.wakeReader?.();
    }
  }
}

/** The lowest position of `loops`: where a loop over all of them reads from. */
function lowest(loops: readonly ProjectorState[]): Position {
  return minPosition(loops.map((l) => l.position));
}

/** Empties a projector's tables and resets its checkpoint: the next run rebuilds from zero. */
export async function resetProjection(pool: Pool, projector: Projector): Promise<void> {
  await inTransaction(pool, async (client) => {
    for (const table of projector.tables) await client.query(`TRUNCATE ${table}`);
    await client.query(
      `UPDATE projection_checkpoints
          SET commit_position = 0, prepare_position = 0, events_applied = 0, updated_at = now()
        WHERE name = $1`,
      [projector.name],
    );
  });
}

function isPosition(p: Position | ReadonlyMap<string, Position>): p is Position {
  return typeof (p as Position).commit === 'bigint';
}

/** `commit/prepare`, as positions are shown to administrators. */
export function describePosition(p: Position): string {
  return `${p.commit}/${p.prepare}`;
}

/** A PostgreSQL string literal (standard_conforming_strings, the default since 9.1). */
export function quoteLiteral(text: string): string {
  return `'${text.replace(/'/g, "''")}'`;
}

/** A PostgreSQL identifier, quoted. */
export function quoteIdent(name: string): string {
  return `"${name.replace(/"/g, '""')}"`;
}

/** Resolves when the function handed to `set` is called, or when the signal aborts. */
function wake(signal: AbortSignal, set: (done: () => void) => void): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      signal.removeEventListener('abort', done);
      resolve();
    };
    set(done);
    signal.addEventListener('abort', done, { once: true });
  });
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  if (signal.aborted) return Promise.resolve();
  return new Promise((resolve) => {
    const t = setTimeout(done, ms);
    function done() {
      clearTimeout(t);
      signal.removeEventListener('abort', done);
      resolve();
    }
    signal.addEventListener('abort', done, { once: true });
  });
}
