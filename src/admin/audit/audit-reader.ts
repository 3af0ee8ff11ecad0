import { Inject, Injectable } from '@nestjs/common';
import type { Pool } from 'pg';
import { PG_POOL } from '../../core/core.module';
import type { Position } from '../../event-store/event-store.port';
import type { AuditQuery, Instant } from './audit-query';
import { encodeAuditCursor } from './audit-query';

/** One event as the audit shows it: metadata and ids, never content. */
export interface AuditEventView {
  /** The event's position in the log, `<commit>/<prepare>`. */
  position: string;
  event_id: string;
  stream_id: string;
  revision: number;
  type: string;
  /** What it did, where its type covers several actions (`kicked`, `quit`), else null. */
  action: string | null;
  /** Who caused it; null for an event written without an actor. */
  actor: { kind: string; id: string | null } | null;
  ip: string | null;
  device: string | null;
  correlation_id: string | null;
  causation_id: string | null;
  /** When the store recorded it (its commit time), ISO-8601 UTC. */
  recorded_at: string;
  /** When the command was decided (its metadata's `at`), or null. */
  decided_at: string | null;
  /** What it is about: msg_keys, target users, token ids (docs/admin/audit.md, per type). */
  subjects: string[];
}

export interface AuditPage {
  /** Newest first. */
  events: AuditEventView[];
  /** Pass back as `cursor` for the next, older page; null on the last page. */
  next_cursor: string | null;
}

interface AuditRow {
  event_id: string;
  c: string;
  p: string;
  stream_id: string;
  revision: string;
  type: string;
  action: string | null;
  actor_kind: string | null;
  actor_id: string | null;
  ip: string | null;
  device: string | null;
  correlation_id: string | null;
  causation_id: string | null;
  recorded_at: Date;
  decided_at: Date | null;
  subjects: string[];
}

const ORDER = 'commit_position DESC, prepare_position DESC';
const MIN_BIGINT = -(1n << 63n);
const MAX_BIGINT = (1n << 63n) - 1n;

/**
 * Queries the audit index (rm_audit) newest first, one page at a time. Every filter given narrows
 * the page (AND); the cursor is the position of the previous page's last event, so paging through
 * a result never repeats or skips an event, even while new ones are indexed (they come in at the
 * newest end, at positions above every indexed one).
 *
 * Each filter column has an index that ends with the position, so a page is a backward range
 * scan of one index that stops after `limit` rows; several types are one such scan per type,
 * merged. The correlation id and the subjects are found through their own indexes and the
 * (small) result sorted. A time range first becomes a range of positions (rm_audit_hours), which
 * bounds whichever scan the other filters choose.
 */
@Injectable()
export class AuditReader {
  constructor(@Inject(PG_POOL) private readonly pool: Pool) {}

  async query(q: AuditQuery): Promise<AuditPage> {
    const params: unknown[] = [];
    const param = (value: unknown) => {
      params.push(value);
      return `$${params.length}`;
    };
    const where: string[] = [];
    if (q.actor) {
      // The kind is one of three known words: inlined, so the planner can use the partial index
      // of non-user actors for `actor=admin`.
      where.push(`actor_kind = '${q.actor.kind}'`);
      if (q.actor.id !== undefined) where.push(`actor_id = ${param(q.actor.id)}`);
    }
    if (q.stream !== undefined) where.push(`stream_id = ${param(q.stream)}`);
    if (q.category !== undefined) where.push(`category = ${param(q.category)}`);
    if (q.action !== undefined) where.push(`action = ${param(q.action)}`);
    // A bound on the position is a row comparison, which the planner cannot estimate; the same
    // bound on commit_position alone (implied by it) it estimates from the column's statistics,
    // and so keeps a narrow range a plain index scan rather than a parallel bitmap scan.
    const bound = (op: '>=' | '<=' | '<', p: Position) => {
      const [c, pr] = [param(p.commit.toString()), param(p.prepare.toString())];
      where.push(`(commit_position, prepare_position) ${op} (${c}::bigint, ${pr}::bigint)`);
      where.push(`commit_position ${op === '<' ? '<=' : op} ${c}::bigint`);
    };
    if (q.from !== undefined || q.to !== undefined) {
      const span = await this.positionsOf(q.from, q.to);
      if (span === null) return { events: [], next_cursor: null };
      bound('>=', span.first);
      bound('<=', span.last);
    }
    if (q.from !== undefined) where.push(`recorded_at >= ${param(q.from.text)}::timestamptz`);
    if (q.to !== undefined) where.push(`recorded_at < ${param(q.to.text)}::timestamptz`);
    if (q.correlationId !== undefined) where.push(`correlation_id = ${param(q.correlationId)}`);
    if (q.subject !== undefined) where.push(`subjects @> ARRAY[${param(q.subject)}]::text[]`);
    if (q.before) bound('<', q.before);
    // One more than a page: whether there is a next page.
    const limit = param(q.limit + 1);
    const types = q.types ?? [];
    // Several types: the newest page of each, merged. Each branch names its type as a value of
    // its own, so each is planned for that type (its own index scan); a join against a list of
    // types would be planned once for any type.
    const page =
      types.length <= 1
        ? `SELECT * FROM rm_audit
            ${whereClause(types.length === 1 ? [...where, `type = ${param(types[0])}`] : where)}
            ORDER BY ${ORDER} LIMIT ${limit}`
        : types
            .map(
              (t) => `(SELECT * FROM rm_audit ${whereClause([...where, `type = ${param(t)}`])}
                        ORDER BY ${ORDER} LIMIT ${limit})`,
            )
            .join(' UNION ALL ');
    const { rows } = await this.pool.query<AuditRow>(
      `SELECT event_id, commit_position::text AS c, prepare_position::text AS p, stream_id,
              revision, type, action, actor_kind, actor_id, ip, device, correlation_id, causation_id,
              recorded_at, decided_at, subjects
         FROM (${page}) page
        ORDER BY ${ORDER} LIMIT ${limit}`,
      params,
    );
    const more = rows.length > q.limit;
    const shown = more ? rows.slice(0, q.limit) : rows;
    const last = shown[shown.length - 1];
    return {
      events: shown.map(toView),
      next_cursor: more ? encodeAuditCursor(position(last.c, last.p)) : null,
    };
  }

  /**
   * Where the events recorded in [from, to) lie in the log: between the first position of the
   * range's first hour and the last position of its last hour (rm_audit_hours). Null when no
   * event was recorded in those hours.
   */
  private async positionsOf(
    from: Instant | undefined,
    to: Instant | undefined,
  ): Promise<{ first: Position; last: Position } | null> {
    const { rows } = await this.pool.query<{ fc: string; fp: string; lc: string; lp: string }>(
      `SELECT f.c AS fc, f.p AS fp, l.c AS lc, l.p AS lp
         FROM (SELECT first_commit AS c, first_prepare AS p FROM rm_audit_hours
                WHERE hour BETWEEN $1 AND $2 ORDER BY 1, 2 LIMIT 1) f,
              (SELECT last_commit AS c, last_prepare AS p FROM rm_audit_hours
                WHERE hour BETWEEN $1 AND $2 ORDER BY 1 DESC, 2 DESC LIMIT 1) l`,
      [
        (from ? hourOf(from.us) : MIN_BIGINT).toString(),
        // `to` is exclusive: its hour counts only if the range reaches into it.
        (to ? hourOf(to.us - 1n) : MAX_BIGINT).toString(),
      ],
    );
    if (rows.length === 0) return null;
    const [r] = rows;
    return { first: position(r.fc, r.fp), last: position(r.lc, r.lp) };
  }
}

/** Whole hours since the epoch of an instant in microseconds, rounded down. */
function hourOf(us: bigint): bigint {
  const hour = 3_600_000_000n;
  return us >= 0n ? us / hour : -((-us + hour - 1n) / hour);
}

function whereClause(conditions: readonly string[]): string {
  return conditions.length === 0 ? '' : `WHERE ${conditions.join(' AND ')}`;
}

function position(commit: string, prepare: string): Position {
  return { commit: BigInt(commit), prepare: BigInt(prepare) };
}

function toView(r: AuditRow): AuditEventView {
  return {
    position: `${r.c}/${r.p}`,
    event_id: r.event_id,
    stream_id: r.stream_id,
    revision: Number(r.revision),
    type: r.type,
    action: r.action,
    actor: r.actor_kind === null ? null : { kind: r.actor_kind, id: r.actor_id },
    ip: r.ip,
    device: r.device,
    correlation_id: r.correlation_id,
    causation_id: r.causation_id,
    recorded_at: r.recorded_at.toISOString(),
    decided_at: r.decided_at?.toISOString() ?? null,
    subjects: r.subjects,
  };
}
