import type { Pool } from 'pg';
import {
  comparePositions as cmp,
  EventStore,
  Position,
  RecordedEvent,
  START,
} from '../src/event-store/event-store.port';
import { inTransaction } from '../src/database/with-client';
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
}

/** Another runner moved the checkpoint: this batch is void, start again from the checkpoint. */
class CheckpointMovedError extends Error {}

interface Loop {
  readonly projector: Projector;
  position: Position;
  eventsApplied: number;
  running: boolean;
  lastError: string | null;
  lastErrorAt: Date | null;
  waiters: { position: Position; resolve: () => void }[];
}

/**
 * Follows the event log for each projector and applies it in batches. A batch's read-model
 * changes and the projector's checkpoint are written in one transaction: a crash at any point
 * leaves the read model exactly at its checkpoint, so nothing is applied twice or skipped.
 */
export class ProjectionRunner {
  private readonly loops: Loop[];
  private controller: AbortController | null = null;
  private tasks: Promise<void>[] = [];
  private readonly batchSize: number;
  private readonly retryDelayMs: number;

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
      waiters: [],
    }));
    this.batchSize = options.batchSize ?? 2000;
    this.retryDelayMs = options.retryDelayMs ?? 200;
  }

  /** True while the runner is started in this process. */
  get started(): boolean {
    return this.controller !== null;
  }

  get projectorNames(): string[] {
    return this.loops.map((l) => l.projector.name);
  }

  start(): void {
    if (this.controller) return;
    const controller = new AbortController();
    this.controller = controller;
    this.tasks = this.loops.map((loop) => this.run(loop, controller.signal));
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
  async waitFor(position: Position, signal?: AbortSignal, names?: readonly string[]): Promise<void> {
    const loops = names ? this.loops.filter((l) => names.includes(l.projector.name)) : this.loops;
    await Promise.all(
      loops.map(
        (loop) =>
          new Promise<void>((resolve) => {
            if (cmp(loop.position, position) >= 0) return resolve();
            // The listener goes once the wait ends either way: a signal that outlives many
            // waits (the realtime follower's) must not collect one per wait.
            const done = () => {
              signal?.removeEventListener('abort', done);
              resolve();
            };
            loop.waiters.push({ position, resolve: done });
            signal?.addEventListener('abort', done, { once: true });
          }),
      ),
    );
  }

  private async run(loop: Loop, signal: AbortSignal): Promise<void> {
    let delay = this.retryDelayMs;
    loop.running = true;
    while (!signal.aborted) {
      try {
        const checkpoint = await this.loadCheckpoint(loop.projector.name);
        this.advance(loop, checkpoint.position);
        loop.eventsApplied = checkpoint.eventsApplied;
        let position = checkpoint.position;
        for await (const batch of this.store.subscribeAll({
          after: position,
          batchSize: this.batchSize,
          signal,
        })) {
          position = await this.applyBatch(loop, position, batch);
          delay = this.retryDelayMs;
        }
      } catch (err) {
        if (signal.aborted) break;
        loop.lastError = err instanceof Error ? err.message : String(err);
        loop.lastErrorAt = new Date();
        if (!(err instanceof CheckpointMovedError)) {
          this.options.logger?.error(
            { err, projection: loop.projector.name },
            'projection batch failed; retrying from its checkpoint',
          );
        }
        await sleep(delay, signal);
        delay = Math.min(delay * 2, 30_000);
      }
    }
    loop.running = false;
  }

  private async applyBatch(
    loop: Loop,
    from: Position,
    batch: readonly RecordedEvent[],
  ): Promise<Position> {
    const { projector } = loop;
    const to = batch[batch.length - 1].position;
    const relevant = batch.filter((e) => projector.eventTypes.has(e.type));
    await inTransaction(this.pool, async (client) => {
      if (relevant.length > 0) await projector.apply(relevant, client);
      const { rowCount } = await client.query(
        `UPDATE projection_checkpoints
            SET commit_position = $2, prepare_position = $3,
                events_applied = events_applied + $4, updated_at = now()
          WHERE name = $1 AND commit_position = $5 AND prepare_position = $6`,
        [
          projector.name,
          to.commit.toString(),
          to.prepare.toString(),
          batch.length,
          from.commit.toString(),
          from.prepare.toString(),
        ],
      );
      if (rowCount !== 1) throw new CheckpointMovedError(`checkpoint of ${projector.name} moved`);
    });
    loop.eventsApplied += batch.length;
    loop.lastError = null;
    this.advance(loop, to);
    return to;
  }

  private advance(loop: Loop, position: Position): void {
    loop.position = position;
    loop.waiters = loop.waiters.filter((w) => {
      if (cmp(position, w.position) < 0) return true;
      w.resolve();
      return false;
    });
  }

  private async loadCheckpoint(
    name: string,
  ): Promise<{ position: Position; eventsApplied: number }> {
    await this.pool.query(
      `INSERT INTO projection_checkpoints (name) VALUES ($1) ON CONFLICT (name) DO NOTHING`,
      [name],
    );
    const { rows } = await this.pool.query<{
      commit_position: string;
      prepare_position: string;
      events_applied: string;
    }>(
      `SELECT commit_position, prepare_position, events_applied
         FROM projection_checkpoints WHERE name = $1`,
      [name],
    );
    return {
      position: {
        commit: BigInt(rows[0].commit_position),
        prepare: BigInt(rows[0].prepare_position),
      },
      eventsApplied: Number(rows[0].events_applied),
    };
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
