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
import { EventStore, Position } from '../event-store/event-store.port';

/** A projection further behind than this many events is reported down. */
const MAX_HEALTHY_LAG = 100_000;
/** How long a counted lag is reused. */
const LAG_TTL_MS = 2_000;

@ApiTags('health')
@Controller('health')
export class HealthController {
  private readonly lags = new Map<string, { lag: number; at: number }>();

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

  /**
   * Events after a checkpoint, counted at most once per position every LAG_TTL_MS: the
   * projections usually share one position, and on EventStoreDB a count reads the log, so a
   * public endpoint must not cost a read of up to 100,000 events per projection per call.
   */
  private async lagAfter(position: Position): Promise<number> {
    const key = `${position.commit}/${position.prepare}`;
    const now = Date.now();
    const known = this.lags.get(key);
    if (known && now - known.at < LAG_TTL_MS) return known.lag;
    const lag = await this.store.countAfter(position, MAX_HEALTHY_LAG);
    for (const [k, v] of this.lags) if (now - v.at >= LAG_TTL_MS) this.lags.delete(k);
    this.lags.set(key, { lag, at: now });
    return lag;
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
      const lag = await this.lagAfter(position);
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
