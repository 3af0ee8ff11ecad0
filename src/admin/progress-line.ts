import type { AdminOutput } from './admin-context';

/**
 * One progress line on stderr: redrawn in place on a terminal (at most every 200 ms), otherwise
 * a plain line every 10 s, so a log file gets a readable trace instead of a flood.
 */
export class ProgressLine {
  private readonly intervalMs: number;
  private readonly now: () => number;
  private lastDrawnAt = Number.NEGATIVE_INFINITY;
  private lastDrawn: string | null = null;
  private pending: string | null = null;

  constructor(
    private readonly out: AdminOutput,
    options: { intervalMs?: number; now?: () => number } = {},
  ) {
    this.intervalMs = options.intervalMs ?? (out.isTTY ? 200 : 10_000);
    this.now = options.now ?? (() => performance.now());
  }

  /** Shows `text` now if the last line is old enough; otherwise keeps it for {@link finish}. */
  update(text: string): void {
    const now = this.now();
    if (now - this.lastDrawnAt < this.intervalMs) {
      this.pending = text;
      return;
    }
    this.draw(text);
    this.lastDrawnAt = now;
  }

  /** Shows the latest text if it was held back, and ends the line. */
  finish(): void {
    if (this.pending !== null && this.pending !== this.lastDrawn) this.draw(this.pending);
    if (this.lastDrawn !== null && this.out.isTTY) this.out.write('\n');
    this.lastDrawn = null;
    this.pending = null;
    this.lastDrawnAt = Number.NEGATIVE_INFINITY;
  }

  private draw(text: string): void {
    this.pending = null;
    this.lastDrawn = text;
    // \r back to the start of the line; ESC[K clears what a longer previous line left.
    this.out.write(this.out.isTTY ? `\r${text}\x1b[K` : `${text}\n`);
  }
}

export function formatCount(n: number): string {
  return Math.round(n).toLocaleString('en-US');
}

/** `42 s`, `3 min 05 s`, `2 h 07 min`. */
export function formatDuration(seconds: number): string {
  const s = Math.max(0, Math.round(seconds));
  if (s < 60) return `${s} s`;
  if (s < 3600) return `${Math.floor(s / 60)} min ${String(s % 60).padStart(2, '0')} s`;
  return `${Math.floor(s / 3600)} h ${String(Math.floor((s % 3600) / 60)).padStart(2, '0')} min`;
}
