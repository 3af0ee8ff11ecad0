import { Inject, Injectable } from '@nestjs/common';
import type { Pool } from 'pg';
import { Errors } from '../common/errors';
import { Lru } from '../common/lru';
import { APP_SETTINGS, AppSettings } from '../config/app-config';
import { Clock } from '../core/clock';
import { PG_POOL } from '../core/core.module';

interface Bucket {
  tokens: number;
  refilledAtMs: number;
}

interface DailyCount {
  readonly day: number;
  count: number;
}

const DAY_MS = 86_400_000;

/**
 * The seed's send limits for one sender: 21020 (too fast: a token bucket of
 * `SEND_RATE_PER_SECOND`, bursts up to `SEND_RATE_BURST`) and 21046 (more than `SEND_DAILY_CAP`
 * messages in a UTC day). Both are counted on this node; the daily count starts from the
 * `rm_daily_sends` read model the first time a sender sends on a day, so a restart does not reset
 * it. With several API nodes a sender spread over them gets each node's rate (see docs/api.md).
 */
@Injectable()
export class SendLimits {
  private readonly buckets = new Lru<string, Bucket>(100_000);
  private readonly daily = new Lru<string, DailyCount>(100_000);

  constructor(
    @Inject(PG_POOL) private readonly pool: Pool,
    private readonly clock: Clock,
    @Inject(APP_SETTINGS) private readonly settings: AppSettings,
  ) {}

  /** Takes one send from the sender's allowance, or throws 21020 / 21046 and takes nothing. */
  async take(uid: string): Promise<void> {
    const {
      SEND_RATE_PER_SECOND: rate,
      SEND_RATE_BURST: burst,
      SEND_DAILY_CAP: cap,
    } = this.settings.config;
    const now = this.clock.nowMs();
    const bucket = this.buckets.get(uid) ?? { tokens: burst, refilledAtMs: now };
    bucket.tokens = Math.min(burst, bucket.tokens + ((now - bucket.refilledAtMs) / 1000) * rate);
    bucket.refilledAtMs = now;
    this.buckets.set(uid, bucket);
    if (bucket.tokens < 1) throw Errors.sendTooFast(rate);

    const day = Math.floor(now / DAY_MS);
    let daily = this.daily.get(uid);
    if (!daily || daily.day !== day) {
      daily = { day, count: await this.countedToday(uid, day) };
      this.daily.set(uid, daily);
    }
    if (daily.count >= cap) throw Errors.dailyCapReached(cap);
    bucket.tokens -= 1;
    daily.count += 1;
  }

  private async countedToday(uid: string, day: number): Promise<number> {
    const { rows } = await this.pool.query<{ sent: number }>(
      'SELECT sent FROM rm_daily_sends WHERE uid = $1 AND day = $2',
      [uid, day],
    );
    return rows[0]?.sent ?? 0;
  }
}
