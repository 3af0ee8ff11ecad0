import type { Pool } from 'pg';

/** Latency figures for the benches: percentiles of timed calls, printed one line per case. */

export interface Latency {
  readonly n: number;
  readonly p50: number;
  readonly p95: number;
  readonly p99: number;
  readonly max: number;
}

/** Nearest-rank percentiles of `samples` (milliseconds); sorts a copy. */
export function latency(samples: readonly number[]): Latency {
  const s = [...samples].sort((a, b) => a - b);
  const at = (p: number) => s[Math.min(s.length - 1, Math.ceil((p / 100) * s.length) - 1)] ?? NaN;
  return { n: s.length, p50: at(50), p95: at(95), p99: at(99), max: s[s.length - 1] ?? NaN };
}

export function printLatency(name: string, l: Latency, target?: number): void {
  const ms = (v: number) => v.toFixed(2).padStart(7);
  const verdict =
    target === undefined
      ? ''
      : l.p99 < target
        ? `  (p99 < ${target} ms)`
        : `  MISSES p99 < ${target} ms`;
  process.stdout.write(
    `${name.padEnd(52)} n ${String(l.n).padStart(6)}  p50 ${ms(l.p50)}  p99 ${ms(l.p99)}  max ${ms(l.max)} ms${verdict}\n`,
  );
}

/**
 * Calls `fn(i)` `n` times one after another (after `warmup` untimed calls) and prints the latency
 * of each call.
 */
export async function timeCalls(
  name: string,
  n: number,
  fn: (i: number) => Promise<unknown>,
  options: { warmup?: number; target?: number } = {},
): Promise<Latency> {
  for (let i = 0; i < (options.warmup ?? 0); i++) await fn(-1 - i);
  const samples: number[] = new Array(n);
  for (let i = 0; i < n; i++) {
    const t0 = performance.now();
    await fn(i);
    samples[i] = performance.now() - t0;
  }
  const l = latency(samples);
  printLatency(name, l, options.target);
  return l;
}

/** A small deterministic PRNG (mulberry32), so runs pick the same positions. */
export { seeded as random } from '../test/support/seeded-random';

/** EXPLAIN (ANALYZE, BUFFERS) of a statement, as text lines. */
export async function explain(pool: Pool, sql: string, params: unknown[]): Promise<string> {
  const { rows } = await pool.query<{ 'QUERY PLAN': string }>(
    `EXPLAIN (ANALYZE, BUFFERS, COSTS OFF) ${sql}`,
    params,
  );
  return rows.map((r) => r['QUERY PLAN']).join('\n');
}

/** A pool that remembers the last statement run through it, to EXPLAIN what a handler ran. */
export function spying(pool: Pool): { pool: Pool; last: () => { sql: string; params: unknown[] } } {
  let last = { sql: '', params: [] as unknown[] };
  const spy = {
    query: (sql: string, params: unknown[]) => {
      last = { sql, params };
      return pool.query(sql, params);
    },
  };
  return { pool: spy as unknown as Pool, last: () => last };
}
