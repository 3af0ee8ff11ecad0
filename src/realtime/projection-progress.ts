import { Inject, Injectable, Logger } from '@nestjs/common';
import type { Pool } from 'pg';
import { ProjectionRunner } from '../../projections/projection-runner';
import { PG_POOL } from '../core/core.module';
import { comparePositions, Position } from '../event-store/event-store.port';

/** How often a node without the projections reads a checkpoint while someone waits on it. */
const POLL_MS = 15;

interface Waiter {
  readonly position: Position;
  readonly resolve: () => void;
}

/**
 * Waits until a projection has applied the log up to a position, wherever it runs: in this process
 * (the runner says so at once) or in another (its checkpoint row is read, by one poller per
 * projection for all who wait on it, while anyone does).
 */
@Injectable()
export class ProjectionProgress {
  private readonly log = new Logger('realtime');
  private readonly waiting = new Map<string, Waiter[]>();

  constructor(
    private readonly runner: ProjectionRunner,
    @Inject(PG_POOL) private readonly pool: Pool,
  ) {}

  /** Resolves once `name` has applied `position`, or when the signal aborts. */
  async reached(name: string, position: Position, signal: AbortSignal): Promise<void> {
    if (signal.aborted) return;
    if (this.runner.started && this.runner.projectorNames.includes(name)) {
      return this.runner.waitFor(position, signal, [name]);
    }
    await new Promise<void>((resolve) => {
      const waiter: Waiter = { position, resolve: () => done() };
      const done = () => {
        signal.removeEventListener('abort', done);
        const list = this.waiting.get(name);
        if (list)
          this.waiting.set(
            name,
            list.filter((w) => w !== waiter),
          );
        resolve();
      };
      signal.addEventListener('abort', done, { once: true });
      const list = this.waiting.get(name);
      if (list) list.push(waiter);
      else {
        this.waiting.set(name, [waiter]);
        void this.poll(name);
      }
    });
  }

  private async poll(name: string): Promise<void> {
    while ((this.waiting.get(name)?.length ?? 0) > 0) {
      try {
        const { rows } = await this.pool.query<{ c: string; p: string }>(
          `SELECT commit_position AS c, prepare_position AS p
             FROM projection_checkpoints WHERE name = $1`,
          [name],
        );
        if (rows[0]) {
          const at = { commit: BigInt(rows[0].c), prepare: BigInt(rows[0].p) };
          for (const w of this.waiting.get(name) ?? []) {
            if (comparePositions(at, w.position) >= 0) w.resolve();
          }
        }
      } catch (err) {
        this.log.warn({ err, msg: `reading the checkpoint of ${name} failed; retrying` });
      }
      if ((this.waiting.get(name)?.length ?? 0) > 0) {
        await new Promise((resolve) => setTimeout(resolve, POLL_MS));
      }
    }
    this.waiting.delete(name);
  }
}
