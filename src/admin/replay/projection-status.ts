import type { Pool } from 'pg';
import { describePosition, quoteIdent } from '../../../projections/projection-runner';
import type { EventStore, Position } from '../../event-store/event-store.port';
import { copiesInUse, listCopies } from './read-model-copies';

export interface ProjectionState {
  readonly name: string;
  /** The event store its checkpoint is a position of. */
  readonly store: string;
  /** `commit/prepare` of the last event applied (`0/0`: none). */
  readonly checkpoint: string;
  readonly eventsApplied: number;
  /** Events after the checkpoint, counted no further than `lagCappedAt`. */
  readonly lagEvents: number;
  readonly lagCappedAt: number;
  /** Age of the oldest event it has not applied; 0 when it is at the head. */
  readonly lagSeconds: number;
  /**
   * Events per second over the last 10 s, as the runner writes it with each checkpoint; 0 when
   * it wrote none for 10 s (idle, stopped or stuck: see lastError).
   */
  readonly eventsPerSecond: number;
  readonly updatedAt: string | null;
  /** The last failure of its runner, until a batch succeeds. */
  readonly lastError: string | null;
  readonly lastErrorAt: string | null;
}

/** A rebuild or verify copy: under way (its job holds it) or left by an interrupted rebuild. */
export interface CopyState {
  readonly schema: string;
  readonly kind: string;
  readonly projections: readonly string[];
  readonly state: 'running' | 'interrupted';
  readonly checkpoint: string;
  readonly eventsApplied: number;
  readonly createdAt: string | null;
}

export interface ProjectionsReport {
  readonly at: string;
  readonly adapter: EventStore['adapter'];
  /** The last event readers can see; null for an empty log. */
  readonly head: string | null;
  readonly projections: readonly ProjectionState[];
  readonly copies: readonly CopyState[];
}

const RATE_WINDOW_MS = 10_000;
const LAG_CAP = 10_000_000;

/**
 * Each projection's standing, from the checkpoints table (so any process can tell, wherever the
 * projections run) and the event store (lag). Lags are counted once per distinct checkpoint.
 */
export async function projectionStatus(
  pool: Pool,
  store: EventStore,
  names: readonly string[],
  now: () => Date = () => new Date(),
): Promise<ProjectionsReport> {
  const { rows } = await pool.query<{
    name: string;
    c: string;
    p: string;
    events_applied: string;
    store: string;
    updated_at: Date;
    events_per_second: number;
    last_error: string | null;
    last_error_at: Date | null;
  }>(
    `SELECT name, commit_position::text AS c, prepare_position::text AS p, events_applied, store,
            updated_at, events_per_second, last_error, last_error_at
       FROM projection_checkpoints WHERE name = ANY($1::text[])`,
    [names],
  );
  const head = await store.headPosition();
  const at = now();
  const lags = new Map<string, Promise<{ events: number; seconds: number }>>();
  const lagOf = (position: Position) => {
    const key = describePosition(position);
    let lag = lags.get(key);
    if (!lag) {
      lag = (async () => {
        const events = await store.countAfter(position, LAG_CAP);
        if (events === 0) return { events, seconds: 0 };
        const [oldest] = await store.readAll({ after: position, limit: 1 });
        const seconds = oldest ? Math.max(0, at.getTime() - oldest.createdAt.getTime()) / 1000 : 0;
        return { events, seconds };
      })();
      lags.set(key, lag);
    }
    return lag;
  };
  const projections: ProjectionState[] = [];
  for (const name of names) {
    const row = rows.find((r) => r.name === name);
    const position = row
      ? { commit: BigInt(row.c), prepare: BigInt(row.p) }
      : { commit: 0n, prepare: 0n };
    const foreign =
      row !== undefined && row.store !== store.adapter && (row.c !== '0' || row.p !== '0');
    const lag = foreign ? { events: 0, seconds: 0 } : await lagOf(position);
    const fresh = row !== undefined && at.getTime() - row.updated_at.getTime() <= RATE_WINDOW_MS;
    projections.push({
      name,
      store: row?.store ?? store.adapter,
      checkpoint: describePosition(position),
      eventsApplied: row ? Number(row.events_applied) : 0,
      lagEvents: lag.events,
      lagCappedAt: LAG_CAP,
      lagSeconds: Math.round(lag.seconds * 10) / 10,
      eventsPerSecond: fresh ? Math.round(row.events_per_second) : 0,
      updatedAt: row?.updated_at.toISOString() ?? null,
      lastError:
        row?.last_error ??
        (foreign ? `checkpoint is a position of ${row.store}, not ${store.adapter}` : null),
      lastErrorAt: row?.last_error_at?.toISOString() ?? null,
    });
  }
  return {
    at: at.toISOString(),
    adapter: store.adapter,
    head: head ? describePosition(head) : null,
    projections,
    copies: await copyStates(pool),
  };
}

/** Rebuilds and verifies under way, and rebuilds left by an interruption (resumable). */
async function copyStates(pool: Pool): Promise<CopyState[]> {
  const copies = [...(await listCopies(pool, 'rebuild')), ...(await listCopies(pool, 'verify'))];
  const inUse = await copiesInUse(
    pool,
    copies.map((c) => c.schema),
  );
  const out: CopyState[] = [];
  for (const copy of copies) {
    let checkpoint = '0/0';
    let eventsApplied = 0;
    try {
      const { rows } = await pool.query<{ c: string; p: string; n: string }>(
        `SELECT commit_position::text AS c, prepare_position::text AS p, events_applied::text AS n
           FROM ${quoteIdent(copy.schema)}.projection_checkpoints
          ORDER BY commit_position, prepare_position LIMIT 1`,
      );
      if (rows[0]) {
        checkpoint = `${rows[0].c}/${rows[0].p}`;
        eventsApplied = Number(rows[0].n);
      }
    } catch {
      // Dropped meanwhile, or being created: nothing to tell yet.
    }
    out.push({
      schema: copy.schema,
      kind: copy.meta?.kind ?? 'unknown',
      projections: copy.meta?.projections ?? [],
      state: inUse.has(copy.schema) ? 'running' : 'interrupted',
      checkpoint,
      eventsApplied,
      createdAt: copy.meta?.createdAt ?? null,
    });
  }
  return out;
}
