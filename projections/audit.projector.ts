import type { PoolClient } from 'pg';
import { prepared } from '../src/database/prepared';
import type { Position, RecordedEvent } from '../src/event-store/event-store.port';
import {
  auditAction,
  auditActionSql,
  auditSubjects,
  auditSubjectsSql,
  clip,
  decidedAt,
  decidedAtSql,
  decidedAtTextSql,
  MAX_TEXT,
  optionalText,
  optionalTextSql,
  SEPARATOR,
} from './audit-fields';
import { EVERY_EVENT_TYPE } from './projection-runner';
import { byLogIndex, IN_RANGE, LogRange, rangeParams } from './from-log';
import type { Projector } from './projector';

export { auditAction, auditSubjects } from './audit-fields';

type Data = Record<string, unknown>;

/**
 * A timestamptz from epoch milliseconds, exactly. `to_timestamp(ms / 1000.0)` goes through a
 * double, which rounds far from 1970, and so does `ms * interval '1 millisecond'` once ms * 1,000
 * passes 2^53 (the year 2255: 9999-12-31T23:59:59.999 came out 999008 µs). Whole seconds times a
 * second stay exact to the year 20,000 (seconds * 10^6 is seconds * 15,625 * 2^6), and the
 * milliseconds left are small. The pg driver's Date holds milliseconds: `apply` writes
 * `recorded_at` truncated to them, as applyFromLog does with date_trunc.
 */
const EPOCH_MS = (ms: string) =>
  `('epoch'::timestamptz + (${ms} / 1000) * interval '1 second' + (${ms} % 1000) * interval '1 millisecond')`;

/** rm_audit's columns, in the order both ways of writing it select them. */
const AUDIT_COLUMNS = `event_id, commit_position, prepare_position, stream_id, category, revision,
  type, action, actor_kind, actor_id, ip, device, correlation_id, causation_id, recorded_at,
  decided_at, subjects`;

/**
 * Upserts rm_audit_hours from `source`, rows of (hour, first commit, first prepare, last commit,
 * last prepare): an hour met again (a later batch, a batch applied again) keeps the lower first
 * and the higher last.
 */
const upsertHours = (source: string) => `
  INSERT INTO rm_audit_hours AS h (hour, first_commit, first_prepare, last_commit, last_prepare)
  ${source}
  ON CONFLICT (hour) DO UPDATE SET
    (first_commit, first_prepare) =
      (SELECT c, p FROM (VALUES (h.first_commit, h.first_prepare),
                                (EXCLUDED.first_commit, EXCLUDED.first_prepare)) AS v(c, p)
        ORDER BY c, p LIMIT 1),
    (last_commit, last_prepare) =
      (SELECT c, p FROM (VALUES (h.last_commit, h.last_prepare),
                                (EXCLUDED.last_commit, EXCLUDED.last_prepare)) AS v(c, p)
        ORDER BY c DESC, p DESC LIMIT 1)
  WHERE (EXCLUDED.first_commit, EXCLUDED.first_prepare) < (h.first_commit, h.first_prepare)
     OR (EXCLUDED.last_commit, EXCLUDED.last_prepare) > (h.last_commit, h.last_prepare)`;

/**
 * {@link AuditProjector.applyFromLog}: the rows `apply` writes, computed by PostgreSQL from the
 * events of (after, until] ($1-$4: commit and prepare of each), and their hours. Every field the
 * way audit-fields.ts reads it in this process; `recorded_at` to the millisecond, as the pg
 * driver's Date holds it for `apply` (an hour is the same either way). No ON CONFLICT, unlike
 * `apply`: es_events holds each event id once, and the runner applies each range once (its
 * checkpoint moves in the same transaction), so a rebuild may build the primary key after its
 * load (keysAfterLoadFromLog). The hours come from the rows inserted (RETURNING), so the events,
 * content included, are not kept in a CTE for a second reading; the subquery is not flattened
 * (OFFSET 0), so that each of its columns is computed once however often the fields use it.
 */
const FROM_LOG_SQL = `
  WITH audit AS (
    INSERT INTO rm_audit (${AUDIT_COLUMNS})
    SELECT e.event_id, e.c, e.p, e.stream, split_part(e.stream, '-', 1), e.revision,
           left(e.type, ${MAX_TEXT}), ${auditActionSql('e.type', 'e.data')},
           ${optionalTextSql('e.actor', ['kind'])}, ${optionalTextSql('e.actor', ['id'])},
           ${optionalTextSql('e.m', ['ip'])}, ${optionalTextSql('e.m', ['device'])},
           ${optionalTextSql('e.m', ['correlationId'])}, ${optionalTextSql('e.m', ['causationId'])},
           date_trunc('milliseconds', e.created_at), ${decidedAtSql('e.at')},
           ${auditSubjectsSql('e.type', 'e.data')}
      FROM (SELECT e.event_id, e.transaction_id::text::bigint AS c, e.global_position AS p,
                   left(e.stream_id, ${MAX_TEXT}) AS stream, e.revision, e.type, e.data,
                   e.metadata AS m, e.metadata->'actor' AS actor, e.created_at,
                   ${decidedAtTextSql('e.metadata')} AS at
              FROM es_events e
             WHERE ${IN_RANGE}
            OFFSET 0) e
    RETURNING commit_position AS c, prepare_position AS p, recorded_at
  )
  ${upsertHours(`SELECT floor(extract(epoch FROM a.recorded_at) / 3600)::bigint, (min(ARRAY[a.c, a.p]))[1], (min(ARRAY[a.c, a.p]))[2],
                        (max(ARRAY[a.c, a.p]))[1], (max(ARRAY[a.c, a.p]))[2]
                   FROM audit a GROUP BY 1`)}`;

/**
 * rm_audit, the audit index: one row per event of every type, with its position, stream,
 * revision, type and action, who caused it (actor kind and id), from where (ip, device), its correlation and
 * causation ids, when the store recorded it and when the command was decided, and its subjects.
 * Metadata and ids only: no message content, names or other personal content, so erasing a user
 * leaves the index as it is. One INSERT per batch; an event already indexed (same id) is skipped.
 * Beside it, rm_audit_hours keeps where each hour's events lie in the log, for time ranges.
 */
export class AuditProjector implements Projector {
  readonly name = 'audit';
  readonly eventTypes: ReadonlySet<string> = new Set([EVERY_EVENT_TYPE]);
  readonly tables = ['rm_audit', 'rm_audit_hours'];
  /** applyFromLog inserts without looking for the event: es_events holds each id once. */
  readonly keysAfterLoadFromLog = ['rm_audit'];

  async apply(events: readonly RecordedEvent[], tx: PoolClient): Promise<void> {
    if (events.length === 0) return;
    const rows = events.map((e) => {
      const m = (e.metadata ?? {}) as unknown as Data;
      const actor = (m.actor ?? {}) as Data;
      const subjects = auditSubjects(e.type, e.data);
      return {
        id: e.id,
        commit: e.position.commit.toString(),
        prepare: e.position.prepare.toString(),
        stream: clip(e.streamId),
        revision: e.revision,
        type: clip(e.type),
        action: auditAction(e.type, e.data),
        actorKind: optionalText(actor.kind),
        actorId: optionalText(actor.id),
        ip: optionalText(m.ip),
        device: optionalText(m.device),
        correlation: optionalText(m.correlationId),
        causation: optionalText(m.causationId),
        recordedAt: e.createdAt.getTime(),
        decidedAt: decidedAt(m.at),
        subjects: subjects.join(SEPARATOR),
      };
    });
    const hours = hoursOf(events);
    // The category is the stream id up to its first dash (split_part); times travel as epoch
    // milliseconds, cheaper to send and to read than timestamps as text. The rows and their
    // hours in one statement: one round trip.
    await tx.query({
      ...prepared(`WITH audit AS (
       INSERT INTO rm_audit (${AUDIT_COLUMNS})
       SELECT i.id, i.c, i.p, i.stream, split_part(i.stream, '-', 1), i.revision, i.type, i.action,
              i.actor_kind, i.actor_id, i.ip, i.device, i.correlation, i.causation,
              ${EPOCH_MS('i.recorded_ms')}, ${EPOCH_MS('i.decided_ms')},
              string_to_array(i.subjects, E'\\x1f')
         FROM unnest($1::uuid[], $2::bigint[], $3::bigint[], $4::text[], $5::bigint[], $6::text[],
                     $7::text[], $8::text[], $9::text[], $10::text[], $11::text[], $12::text[],
                     $13::text[], $14::bigint[], $15::bigint[], $16::text[])
              AS i(id, c, p, stream, revision, type, action, actor_kind, actor_id, ip, device,
                   correlation, causation, recorded_ms, decided_ms, subjects)
       ON CONFLICT (event_id) DO NOTHING
     )
     ${upsertHours(
       'SELECT * FROM unnest($17::bigint[], $18::bigint[], $19::bigint[], $20::bigint[], $21::bigint[])',
     )}`),
      values: [
        rows.map((r) => r.id),
        rows.map((r) => r.commit),
        rows.map((r) => r.prepare),
        rows.map((r) => r.stream),
        rows.map((r) => r.revision),
        rows.map((r) => r.type),
        rows.map((r) => r.action),
        rows.map((r) => r.actorKind),
        rows.map((r) => r.actorId),
        rows.map((r) => r.ip),
        rows.map((r) => r.device),
        rows.map((r) => r.correlation),
        rows.map((r) => r.causation),
        rows.map((r) => r.recordedAt),
        rows.map((r) => r.decidedAt),
        rows.map((r) => r.subjects),
        hours.map(([hour]) => hour),
        hours.map(([, h]) => h.first.commit.toString()),
        hours.map(([, h]) => h.first.prepare.toString()),
        hours.map(([, h]) => h.last.commit.toString()),
        hours.map(([, h]) => h.last.prepare.toString()),
      ],
    });
  }

  /** What {@link apply} writes for the events of (after, until], computed in SQL (FROM_LOG_SQL). */
  async applyFromLog(range: LogRange, tx: PoolClient): Promise<void> {
    // Named: planning this statement takes a few milliseconds, more than a small range's work.
    await byLogIndex(tx, () => tx.query({ ...prepared(FROM_LOG_SQL), values: rangeParams(range) }));
  }
}

/**
 * rm_audit_hours' rows for a batch: the first and last position of each hour's events. A batch is
 * in log order, so its first and last event of an hour are that hour's extremes within it.
 */
function hoursOf(
  events: readonly RecordedEvent[],
): [number, { first: Position; last: Position }][] {
  const hours = new Map<number, { first: Position; last: Position }>();
  for (const e of events) {
    const hour = auditHour(e.createdAt.getTime());
    const seen = hours.get(hour);
    if (seen) seen.last = e.position;
    else hours.set(hour, { first: e.position, last: e.position });
  }
  return [...hours];
}

/** The hour of rm_audit_hours an instant falls in: whole hours since the epoch (UTC). */
export function auditHour(epochMs: number): number {
  return Math.floor(epochMs / 3_600_000);
}
