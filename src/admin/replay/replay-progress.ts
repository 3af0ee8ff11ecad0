import type { ProjectionRunner } from '../../../projections/projection-runner';
import { EventStore, minPosition } from '../../event-store/event-store.port';

/** Where a rebuild, a verify or a time-travel build is. */
export type ReplayPhase =
  | 'preparing'
  | 'loading'
  | 'indexing'
  | 'catching-up'
  | 'swapping'
  | 'comparing'
  | 'finishing'
  | 'done';

export interface ReplayProgress {
  readonly phase: ReplayPhase;
  /** Events of the log the copy has passed (its checkpoints' events_applied). */
  readonly eventsApplied: number;
  /** Events still ahead of it, as last counted; null before the first count. */
  readonly eventsRemaining: number | null;
  /** Over the last few seconds. */
  readonly eventsPerSecond: number;
  readonly etaSeconds: number | null;
}

/** A long operation stopped by its signal (Ctrl-C, a job cancelled, the server stopping). */
export class ReplayInterruptedError extends Error {
  override readonly name = 'ReplayInterruptedError';
}

/** Throws {@link ReplayInterruptedError} once `signal` has aborted. */
export function checkInterrupted(signal: AbortSignal, what: string): void {
  if (signal.aborted) {
    throw new ReplayInterruptedError(`${what} interrupted: run it again to resume`);
  }
}

const RATE_WINDOW_MS = 5_000;
const TICK_MS = 250;
/** A count reads the log's index after the position: not too often (on EventStoreDB, the log). */
const COUNT_EVERY_MS = 15_000;

/**
 * Follows a shadow runner's progress for a progress line or a job's status: events applied (from
 * the runner), events remaining (counted after its slowest checkpoint every 15 s, less what was
 * applied since in between), the rate over the last 5 s and the time left at that rate.
 */
export class ProgressMeter {
  private current: ReplayProgress = {
    phase: 'preparing',
    eventsApplied: 0,
    eventsRemaining: null,
    eventsPerSecond: 0,
    etaSeconds: null,
  };
  private readonly samples: { at: number; applied: number }[] = [];
  private timer: NodeJS.Timeout | null = null;
  private counting = false;
  private countedAt = Number.NEGATIVE_INFINITY;
  /** The last count of the events ahead, and the events applied when it was taken. */
  private counted: { remaining: number; applied: number } | null = null;

  constructor(private readonly onProgress?: (p: ReplayProgress) => void) {}

  get progress(): ReplayProgress {
    return this.current;
  }

  phase(phase: ReplayPhase): void {
    this.update({ phase });
  }

  /** Samples `runner` every 250 ms until {@link unwatch}. */
  watch(runner: ProjectionRunner, store: EventStore): void {
    this.unwatch();
    const tick = () => {
      const status = runner.status();
      if (status.length === 0) return;
      const applied = Math.min(...status.map((s) => s.eventsApplied));
      const now = performance.now();
      this.samples.push({ at: now, applied });
      while (this.samples.length > 2 && this.samples[0].at < now - RATE_WINDOW_MS) {
        this.samples.shift();
      }
      const first = this.samples[0];
      const rate =
        now - first.at >= 500 ? ((applied - first.applied) * 1000) / (now - first.at) : 0;
      // Between counts, what was counted less what has been applied since (the log's growth
      // shows at the next count).
      const remaining = this.counted
        ? Math.max(0, this.counted.remaining - (applied - this.counted.applied))
        : null;
      this.update({
        eventsApplied: applied,
        eventsRemaining: remaining,
        eventsPerSecond: Math.max(0, Math.round(rate)),
        etaSeconds: remaining !== null && rate > 0 ? remaining / rate : null,
      });
      if (!this.counting && now - this.countedAt >= COUNT_EVERY_MS) {
        this.counting = true;
        this.countedAt = now;
        const slowest = minPosition(status.map((s) => s.position));
        store
          .countAfter(slowest, 100_000_000)
          .then((n) => {
            this.counted = { remaining: n, applied };
            this.update({ eventsRemaining: n });
          })
          .catch(() => undefined)
          .finally(() => (this.counting = false));
      }
    };
    tick();
    this.timer = setInterval(tick, TICK_MS);
    this.timer.unref();
  }

  unwatch(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    this.samples.length = 0;
    this.counted = null;
    this.countedAt = Number.NEGATIVE_INFINITY;
  }

  private update(change: Partial<ReplayProgress>): void {
    this.current = { ...this.current, ...change };
    this.onProgress?.(this.current);
  }
}
