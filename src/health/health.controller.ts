import { Controller, Get, Inject } from '@nestjs/common';
import { ApiOperation, ApiTags } from '@nestjs/swagger';
import {
  HealthCheck,
  HealthCheckService,
  HealthIndicatorResult,
  HealthIndicatorService,
} from '@nestjs/terminus';
import type { Pool } from 'pg';
import { ProjectionRunner } from '../../projections/projection-runner';
import { Public } from '../common/http/request-context';
import { PG_POOL } from '../core/core.module';
import { EventStore } from '../event-store/event-store.port';

/** A projection further behind than this many events is reported down. */
const MAX_HEALTHY_LAG = 100_000;

@ApiTags('health')
@Controller('health')
export class HealthController {
  constructor(
    private readonly health: HealthCheckService,
    private readonly indicators: HealthIndicatorService,
    @Inject(PG_POOL) private readonly pool: Pool,
    private readonly store: EventStore,
    private readonly runner: ProjectionRunner,
  ) {}

  @Get()
  @Public()
  @HealthCheck()
  @ApiOperation({ summary: 'Database, event store and the lag of each projection' })
  check() {
    return this.health.check([
      () => this.database(),
      () => this.eventStore(),
      () => this.projections(),
    ]);
  }

  @Get('live')
  @Public()
  @ApiOperation({
    summary: 'Liveness: the process answers (no dependency is checked; see GET /health)',
  })
  live(): { status: 'ok' } {
    return { status: 'ok' };
  }

  private async database(): Promise<HealthIndicatorResult> {
    const session = this.indicators.check('database');
    try {
      await this.pool.query('SELECT 1');
      return session.up();
    } catch (err) {
      return session.down({ message: (err as Error).message });
    }
  }

  private async eventStore(): Promise<HealthIndicatorResult> {
    const session = this.indicators.check('event_store');
    try {
      const head = await this.store.headPosition();
      return session.up({
        adapter: this.store.adapter,
        head: head ? `${head.commit}/${head.prepare}` : null,
      });
    } catch (err) {
      return session.down({ message: (err as Error).message });
    }
  }

  /** Read from the checkpoints table, so it is right wherever the projections run. */
  private async projections(): Promise<HealthIndicatorResult> {
    const session = this.indicators.check('projections');
    const local = new Map(this.runner.status().map((p) => [p.name, p]));
    const { rows } = await this.pool.query<{
      name: string;
      commit_position: string;
      prepare_position: string;
      events_applied: string;
      updated_at: Date;
    }>(`SELECT name, commit_position, prepare_position, events_applied, updated_at
          FROM projection_checkpoints ORDER BY name`);
    const details: Record<string, unknown> = {};
    let healthy = true;
    for (const name of this.runner.projectorNames) {
      const row = rows.find((r) => r.name === name);
      const position = row
        ? { commit: BigInt(row.commit_position), prepare: BigInt(row.prepare_position) }
        : { commit: 0n, prepare: 0n };
      const lag = await this.store.countAfter(position, MAX_HEALTHY_LAG);
      const ok = lag < MAX_HEALTHY_LAG;
      healthy &&= ok;
      details[name] = {
        status: ok ? 'up' : 'down',
        lag_events: lag,
        events_applied: row ? Number(row.events_applied) : 0,
        checkpoint_updated_at: row?.updated_at ?? null,
        last_error: local.get(name)?.lastError ?? null,
      };
    }
    return healthy ? session.up(details) : session.down(details);
  }
}
