import type { Pool } from 'pg';
import {
  comparePositions as cmp,
  EventStore,
  Position,
  RecordedEvent,
  START,
} from '../src/event-store/event-store.port';
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
}

/** A checkpoint is a position in another event store than this runner's. */
export class ForeignCheckpointError extends Error {
  override readonly name = 'ForeignCheckpointError';
}

/** Another runner moved the checkpoint: this batch is void, start again from the checkpoint. */
class CheckpointMovedError extends Error {}

/** A projector and where it stands in the log. */
interface ProjectorState {
  readonly projector: Projector;
  position: Position;
  eventsApplied: number;
  running: boolean;
  lastError: string | null;
  lastErrorAt: Date | null;
  readonly waiters: PositionWaiters;
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

  constructor(
    private readonly store: EventStore,
    private readonly pool: Pool,
    projectors: readonly Projector[],
    private readonly options: ProjectionRunnerOptions = {},
  ) {
    this.loops = projectors.map((projector) => ({
      projector,
      position: START,
      eventsApplied: 0,
      running: false,
      lastError: null,
      lastErrorAt: null,
      waiters: new PositionWaiters(),
    }));
    this.batchSize = options.batchSize ?? 2000;
    this.retryDelayMs = options.retryDelayMs ?? 200;
    this.gatherMs = options.gatherMs ?? 0;
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
   * One loop for every projector: each batch is read once and applied by each projector whose
   * checkpoint it passes, all in one transaction with their checkpoints. (Reading and committing
   * once per batch rather than once per projector is most of a batch's cost when traffic is light
   * and batches are small.) A projector that fails holds the others back: the batch is retried
   * from the checkpoints as a whole.
   */
  private async run(signal: AbortSignal): Promise<void> {
    let delay = this.retryDelayMs;
    for (const loop of this.loops) loop.running = true;
    while (!signal.aborted) {
      try {
        const checkpoints = await this.loadCheckpoints();
        for (const loop of this.loops) {
          const checkpoint = checkpoints.get(loop.projector.name)!;
          this.advance(loop, checkpoint.position);
          loop.eventsApplied = checkpoint.eventsApplied;
        }
        const from = this.loops
          .map((l) => l.position)
          .reduce((min, p) => (cmp(p, min) < 0 ? p : min));
        for await (const batch of this.store.subscribeAll({
          after: from,
          batchSize: this.batchSize,
          signal,
        })) {
          await this.applyBatch(batch);
          delay = this.retryDelayMs;
          if (this.gatherMs > 0 && batch.length < this.batchSize / 10) {
            await sleep(this.gatherMs, signal);
          }
        }
      } catch (err) {
        if (signal.aborted) break;
        for (const loop of this.loops) {
          loop.lastError = err instanceof Error ? err.message : String(err);
          loop.lastErrorAt = new Date();
        }
        if (!(err instanceof CheckpointMovedError)) {
          this.options.logger?.error(
            { err, projections: this.projectorNames },
            'projection batch failed; retrying from the checkpoints',
          );
        }
        await sleep(delay, signal);
        delay = Math.min(delay * 2, 30_000);
      }
    }
    for (const loop of this.loops) loop.running = false;
  }

  private async applyBatch(batch: readonly RecordedEvent[]): Promise<void> {
    const to = batch[batch.length - 1].position;
    // Each projector takes the part of the batch past its own checkpoint.
    const work = this.loops
      .map((loop) => ({ loop, events: batch.filter((e) => cmp(e.position, loop.position) > 0) }))
      .filter((w) => w.events.length > 0);
    if (work.length === 0) return;
    await inTransaction(this.pool, async (client) => {
      for (const { loop, events } of work) {
        const { projector } = loop;
        const relevant = events.filter((e) => projector.eventTypes.has(e.type));
        if (relevant.length > 0) await projector.apply(relevant, client);
      }
      // Every checkpoint in one statement, each only from where this runner last saw it.
      const { rowCount } = await client.query(
        `UPDATE projection_checkpoints AS c
            SET commit_position = $2, prepare_position = $3,
                events_applied = c.events_applied + i.n, updated_at = now()
           FROM unnest($1::text[], $4::bigint[], $5::bigint[], $6::bigint[])
                AS i(name, n, commit_from, prepare_from)
          WHERE c.name = i.name AND c.commit_position = i.commit_from
            AND c.prepare_position = i.prepare_from`,
        [
          work.map((w) => w.loop.projector.name),
          to.commit.toString(),
          to.prepare.toString(),
          work.map((w) => w.events.length),
          work.map((w) => w.loop.position.commit.toString()),
          work.map((w) => w.loop.position.prepare.toString()),
        ],
      );
      if (rowCount !== work.length) {
        const names = work.map((w) => w.loop.projector.name).join(', ');
        throw new CheckpointMovedError(`a checkpoint of ${names} moved`);
      }
    });
    for (const { loop, events } of work) {
      loop.eventsApplied += events.length;
      loop.lastError = null;
      this.advance(loop, to);
    }
  }

  private advance(loop: ProjectorState, position: Position): void {
    loop.position = position;
    loop.waiters.reached(position);
  }

  private async loadCheckpoints(): Promise<
    Map<string, { position: Position; eventsApplied: number }>
  > {
    const names = this.projectorNames;
    await this.pool.query(
      `INSERT INTO projection_checkpoints (name, store) SELECT unnest($1::text[]), $2
       ON CONFLICT (name) DO NOTHING`,
      [names, this.store.adapter],
    );
    // A checkpoint at the start belongs to no store yet: it becomes this one's.
    await this.pool.query(
      `UPDATE projection_checkpoints SET store = $2
        WHERE name = ANY($1::text[]) AND store <> $2
          AND commit_position = 0 AND prepare_position = 0`,
      [names, this.store.adapter],
    );
    const { rows } = await this.pool.query<{
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

function sleep(ms: number, signal: AbortSignal): Promise<void> {
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
