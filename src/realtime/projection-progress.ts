import { Inject, Injectable, Logger } from '@nestjs/common';
import type { Pool } from 'pg';
import { ProjectionRunner } from '../../projections/projection-runner';
import { PositionWaiters } from '../common/position-waiters';
import { PG_POOL } from '../core/core.module';
import type { Position } from '../event-store/event-store.port';

/** How often a node without the projections reads a checkpoint while someone waits on it. */
const POLL_MS = 15;

/**
 * Waits until a projection has applied the log up to a position, wherever it runs: in this process
 * (the runner says so at once) or in another (its checkpoint row is read, by one poller per
 * projection for all who wait on it, while anyone does).
 */
@Injectable()
export class ProjectionProgress {
  private readonly log = new Logger('realtime');
  private readonly waiting = new Map<string, PositionWaiters>();

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
    let waiters = this.waiting.get(name);
    const polling = waiters !== undefined;
    if (!waiters) this.waiting.set(name, (waiters = new PositionWaiters()));
    const done = waiters.wait(position, signal);
    if (!polling) void this.poll(name, waiters);
    await done;
  }

  private async poll(name: string, waiters: PositionWaiters): Promise<void> {
    while (waiters.size > 0) {
      try {
        const { rows } = await this.pool.query<{ c: string; p: string }>(
          `SELECT commit_position AS c, prepare_position AS p
             FROM projection_checkpoints WHERE name = $1`,
          [name],
        );
        if (rows[0]) waiters.reached({ commit: BigInt(rows[0].c), prepare: BigInt(rows[0].p) });
      } catch (err) {
        this.log.warn({ err, msg: `reading the checkpoint of ${name} failed; retrying` });
      }
      if (waiters.size > 0) await new Promise((resolve) => setTimeout(resolve, POLL_MS));
    }
    this.waiting.delete(name);
  }
}
