import { Inject, Injectable } from '@nestjs/common';
import type { Pool } from 'pg';
import { Errors } from '../common/errors';
import { Lru } from '../common/lru';
import { TokenBucket } from '../common/token-bucket';
import { APP_SETTINGS, AppSettings } from '../config/app-config';
import { Clock } from '../core/clock';
import { PG_POOL } from '../core/core.module';

interface Allowance {
  readonly rate: TokenBucket;
  day: number;
  sentToday: number;
}

const DAY_MS = 86_400_000;

/** Gives back a send taken by {@link SendLimits.take} that did not send (refused, or a retry). */
export type Refund = () => void;

/**
 * The seed's send limits for one sender: 21020 (too fast: a token bucket of
 * `SEND_RATE_PER_SECOND`, bursts up to `SEND_RATE_BURST`) and 21046 (more than `SEND_DAILY_CAP`
 * messages in a UTC day). Both are counted on this node; the daily count starts from the
 * `rm_daily_sends` read model the first time a sender sends on a day, so a restart does not reset
 * it. With several API nodes a sender spread over them gets each node's rate (docs/api.md).
 *
 * The check and the take happen together with no await between them, so a concurrent burst
 * cannot slip through; the only await (loading the day's count) comes first and is shared by
 * concurrent callers.
 */
@Injectable()
export class SendLimits {
  private readonly allowances = new Lru<string, Allowance>(100_000);
  private readonly loading = new Map<string, Promise<number>>();

  constructor(
    @Inject(PG_POOL) private readonly pool: Pool,
    private readonly clock: Clock,
    @Inject(APP_SETTINGS) private readonly settings: AppSettings,
  ) {}

  /** Takes one send from the sender's allowance, or throws 21020 / 21046 and takes nothing. */
  async take(uid: string): Promise<Refund> {
    const {
      SEND_RATE_PER_SECOND: rate,
      SEND_RATE_BURST: burst,
      SEND_DAILY_CAP: cap,
    } = this.settings.config;
    const day = Math.floor(this.clock.nowMs() / DAY_MS);
    if (this.allowances.get(uid)?.day !== day) {
      const counted = await this.countedToday(uid, day);
      const current = this.allowances.get(uid);
      if (current?.day !== day) {
        this.allowances.set(uid, {
          rate: current?.rate ?? new TokenBucket(rate, burst, this.clock.nowMs()),
          day,
          sentToday: counted,
        });
      }
    }
    const a = this.allowances.get(uid)!;
    if (!a.rate.has(this.clock.nowMs())) throw Errors.sendTooFast(rate);
    if (a.sentToday >= cap) throw Errors.dailyCapReached(cap);
    a.rate.take(this.clock.nowMs());
    a.sentToday += 1;
    let refunded = false;
    return () => {
      if (refunded) return;
      refunded = true;
      a.rate.giveBack();
      if (a.day === day) a.sentToday = Math.max(0, a.sentToday - 1);
    };
  }

  /** The day's count from the read model, loaded once for concurrent first sends. */
  private countedToday(uid: string, day: number): Promise<number> {
    const key = `${uid}\u0000${day}`;
    let pending = this.loading.get(key);
    if (!pending) {
      pending = this.pool
        .query<{ sent: number }>('SELECT sent FROM rm_daily_sends WHERE uid = $1 AND day = $2', [
          uid,
          day,
        ])
        .then((r) => r.rows[0]?.sent ?? 0)
        .finally(() => this.loading.delete(key));
      this.loading.set(key, pending);
    }
    return pending;
  }
}
