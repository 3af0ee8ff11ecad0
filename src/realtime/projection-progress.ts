import { Inject, Injectable } from '@nestjs/common';
import type { Pool } from 'pg';
import { ProjectionRunner } from '../../projections/projection-runner';
import { PG_POOL } from '../core/core.module';
import { comparePositions, Position } from '../event-store/event-store.port';

/** How often a node without the projections reads a checkpoint while someone waits on it. */
const POLL_MS = 15;

/**
 * Waits until a projection has applied the log up to a position, wherever it runs: in this process
 * (the runner says so at once) or in another (its checkpoint row is read while someone waits).
 */
@Injectable()
export class ProjectionProgress {
  constructor(
    private readonly runner: ProjectionRunner,
    @Inject(PG_POOL) private readonly pool: Pool,
  ) {}

  async reached(name: string, position: Position, signal: AbortSignal): Promise<void> {
    if (this.runner.started && this.runner.projectorNames.includes(name)) {
      return this.runner.waitFor(position, signal, [name]);
    }
    while (!signal.aborted) {
      const { rows } = await this.pool.query<{ c: string; p: string }>(
        `SELECT commit_position AS c, prepare_position AS p
           FROM projection_checkpoints WHERE name = $1`,
        [name],
      );
      const at = rows[0] && { commit: BigInt(rows[0].c), prepare: BigInt(rows[0].p) };
      if (at && comparePositions(at, position) >= 0) return;
      await new Promise((resolve) => setTimeout(resolve, POLL_MS));
    }
  }
}
