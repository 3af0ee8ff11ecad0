import type { PoolClient } from 'pg';
import { TOKEN_ISSUED, USER_REGISTERED } from '../src/accounts/accounts.events';
import { ADMIN_OPERATION_RECORDED } from '../src/admin/admin-actions';
import type { Position, RecordedEvent } from '../src/event-store/event-store.port';
import {
  GROUP_APPLICATION_HANDLED,
  GROUP_APPLIED,
  GROUP_ASSISTANT_ACKED,
  GROUP_CREATED,
  GROUP_DISMISSED,
  GROUP_INFO_SET,
  GROUP_MEMBER_MUTED,
  GROUP_MEMBER_ROLE_SET,
  GROUP_MEMBERS_JOINED,
  GROUP_MEMBERS_LEFT,
  GROUP_OWNER_TRANSFERRED,
  GROUP_STATUS_SET,
} from '../src/groups/groups.events';
import { MESSAGE_RECALLED, MESSAGE_SENT } from '../src/messaging/messaging.events';
import {
  BLOCKED,
  FOLLOWED,
  PRIVACY_CHANGED,
  PROFILE_UPDATED,
  UNBLOCKED,
  UNFOLLOWED,
} from '../src/relations/relations.events';
import {
  SESSION_ACKED,
  SESSION_DND_SET,
  SESSION_TOP_SET,
  SESSION_TRUST_SET,
  SESSIONS_REMOVED,
} from '../src/sessions/sessions.events';
import { EVERY_EVENT_TYPE } from './projection-runner';
import type { Projector } from './projector';

/**
 * Longest text kept in an indexed column. The log's metadata is bounded where the API writes it
 * (a request id, a device id: 128 characters), but an imported or foreign event could carry more,
 * and a btree entry over about 2.7 kB would fail the whole batch.
 */
const MAX_TEXT = 512;
/** Most subjects kept for one event (a group created or joined by many users at once). */
const MAX_SUBJECTS = 1000;
/**
 * Joins an event's subjects into one text for the INSERT (unnest cannot take an array of arrays
 * of different lengths; splitting on a separator costs PostgreSQL far less than parsing JSON).
 * The ASCII unit separator: no id holds one, and a subject that did is dropped.
 */
const SEPARATOR = '\u001f';

type Data = Record<string, unknown>;

const str = (v: unknown): string[] => (typeof v === 'string' && v !== '' ? [v] : []);
const strs = (v: unknown): string[] => (Array.isArray(v) ? v.flatMap(str) : []);
const field = (key: string) => (d: Data) => str(d[key]);
/** The `key` of every element of the array `d[list]` (members, acks, sessions). */
const each = (list: string, key: string) => (d: Data) =>
  Array.isArray(d[list])
    ? (d[list] as unknown[]).flatMap((x) => str((x as Data | null)?.[key]))
    : [];

/** Arguments of an administrator's operation that name what it worked on. */
const ADMIN_ARG_SUBJECTS = ['uid', 'stream', 'projection'];

/**
 * What an event is about, per type: the keys an administrator searches the audit for. Ids only
 * (a message's msg_key, the user a follow or a kick targets, a token's id), never content: the
 * audit index holds nothing an erasure has to reach. The actor and the stream are columns of
 * their own and are not repeated here. A type not listed has no subjects.
 */
const SUBJECTS: Readonly<Record<string, (d: Data) => string[]>> = {
  // user-<uid>
  [USER_REGISTERED]: field('uid'),
  [TOKEN_ISSUED]: (d) => [...str(d.uid), ...str(d.tokenId)],
  [FOLLOWED]: field('targetUid'),
  [UNFOLLOWED]: field('targetUid'),
  [BLOCKED]: field('targetUid'),
  [UNBLOCKED]: field('targetUid'),
  [PRIVACY_CHANGED]: field('uid'),
  [PROFILE_UPDATED]: field('uid'),
  // USER_ERASED of src/accounts/accounts.events.ts (issue 7's erasure), named here by its frozen
  // type string so that the audit does not wait on that change.
  UserErased: field('uid'),
  // conversation-<id>: the message; a recall names the recalled message and its own notice.
  [MESSAGE_SENT]: field('msgKey'),
  [MESSAGE_RECALLED]: (d) => [...str(d.targetMsgKey), ...str(d.msgKey)],
  // sessions-<uid>: the sessions' talkers (users, or groups for session type 2)
  [SESSION_ACKED]: each('acks', 'talkerId'),
  [SESSIONS_REMOVED]: each('sessions', 'talkerId'),
  [SESSION_TOP_SET]: field('talkerId'),
  [SESSION_DND_SET]: field('talkerId'),
  [SESSION_TRUST_SET]: field('talkerId'),
  [GROUP_ASSISTANT_ACKED]: () => [],
  // group-<id>: the users a change is about (the group is the stream)
  [GROUP_CREATED]: each('members', 'uid'),
  [GROUP_INFO_SET]: () => [],
  [GROUP_MEMBERS_JOINED]: each('members', 'uid'),
  [GROUP_MEMBERS_LEFT]: (d) => strs(d.uids),
  [GROUP_APPLIED]: field('uid'),
  [GROUP_APPLICATION_HANDLED]: field('uid'),
  [GROUP_OWNER_TRANSFERRED]: (d) => [...str(d.toUid), ...str(d.fromUid)],
  [GROUP_MEMBER_ROLE_SET]: field('uid'),
  [GROUP_MEMBER_MUTED]: field('uid'),
  [GROUP_STATUS_SET]: () => [],
  [GROUP_DISMISSED]: () => [],
  // adminop-<id>: the operation's name and what it worked on
  [ADMIN_OPERATION_RECORDED]: (d) => {
    const args = (d.args ?? {}) as Data;
    return [
      ...str(d.operation),
      ...ADMIN_ARG_SUBJECTS.flatMap((k) => [...str(args[k]), ...strs(args[k])]),
    ];
  },
};

const ROLE_NAMES: Readonly<Record<number, string>> = { 1: 'member', 3: 'admin' };
const STATUS_NAMES: Readonly<Record<number, string>> = { 0: 'normal', 1: 'banned', 3: 'muted' };
const onOff = (v: unknown) => (v === true ? 'on' : v === false ? 'off' : null);
/** A short code of the event's own vocabulary, or null for anything else. */
const code = (v: unknown) => (typeof v === 'string' && /^[A-Za-z0-9_]{1,64}$/.test(v) ? v : null);

/**
 * What an event did where one type covers several actions, as a short code of its own vocabulary:
 * a kick and a quit are both `GroupMembersLeft` (`kicked`, `quit`), a sender's recall and an
 * administrator's sys-cancel both `MessageRecalled` (`recall`, `sys_cancel`). Null for other types.
 */
const ACTIONS: Readonly<Record<string, (d: Data) => string | null>> = {
  [MESSAGE_RECALLED]: (d) => (d.system === true ? 'sys_cancel' : 'recall'),
  [GROUP_MEMBERS_JOINED]: (d) => code(d.how),
  [GROUP_MEMBERS_LEFT]: (d) => code(d.how),
  [GROUP_APPLICATION_HANDLED]: (d) =>
    d.result === 1 ? 'accepted' : d.result === -1 ? 'refused' : null,
  [GROUP_MEMBER_MUTED]: (d) =>
    typeof d.mutedUntilUs === 'number' ? (d.mutedUntilUs > 0 ? 'muted' : 'unmuted') : null,
  [GROUP_MEMBER_ROLE_SET]: (d) => ROLE_NAMES[d.roleLevel as number] ?? null,
  [GROUP_STATUS_SET]: (d) => STATUS_NAMES[d.status as number] ?? null,
  [SESSION_TOP_SET]: (d) =>
    typeof d.topTs === 'number' ? (d.topTs > 0 ? 'pinned' : 'unpinned') : null,
  [SESSION_DND_SET]: (d) => onOff(d.dnd),
  [SESSION_TRUST_SET]: (d) => onOff(d.trusted),
  [ADMIN_OPERATION_RECORDED]: (d) => code(d.outcome),
};

/** What an event did, where its type covers several actions (see ACTIONS); else null. */
export function auditAction(type: string, data: unknown): string | null {
  const of = ACTIONS[type];
  if (!of || data === null || typeof data !== 'object') return null;
  return of(data as Data);
}

/** The subjects of an event: its type's keys, distinct, bounded; none for an unknown type. */
export function auditSubjects(type: string, data: unknown): string[] {
  const of = SUBJECTS[type];
  if (!of || data === null || typeof data !== 'object') return [];
  const subjects = of(data as Data).filter((s) => !s.includes(SEPARATOR));
  return [...new Set(subjects.map(clip))].slice(0, MAX_SUBJECTS);
}

function clip(text: string): string {
  return text.length > MAX_TEXT ? text.slice(0, MAX_TEXT) : text;
}

function optionalText(v: unknown): string | null {
  return typeof v === 'string' && v !== '' ? clip(v) : null;
}

/** `metadata.at` (when the command was decided) in ms since the epoch, or null. */
function decidedAt(v: unknown): number | null {
  if (typeof v !== 'string') return null;
  const t = Date.parse(v);
  return Number.isNaN(t) ? null : t;
}

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
    // The category is the stream id up to its first dash (split_part); times travel as epoch
    // milliseconds, cheaper to send and to read than timestamps as text.
    await tx.query(
      `INSERT INTO rm_audit (event_id, commit_position, prepare_position, stream_id, category,
                             revision, type, action, actor_kind, actor_id, ip, device,
                             correlation_id, causation_id, recorded_at, decided_at, subjects)
       SELECT i.id, i.c, i.p, i.stream, split_part(i.stream, '-', 1), i.revision, i.type, i.action,
              i.actor_kind, i.actor_id, i.ip, i.device, i.correlation, i.causation,
              to_timestamp(i.recorded_ms / 1000.0), to_timestamp(i.decided_ms / 1000.0),
              string_to_array(i.subjects, E'\\x1f')
         FROM unnest($1::uuid[], $2::bigint[], $3::bigint[], $4::text[], $5::bigint[], $6::text[],
                     $7::text[], $8::text[], $9::text[], $10::text[], $11::text[], $12::text[],
                     $13::text[], $14::bigint[], $15::bigint[], $16::text[])
              AS i(id, c, p, stream, revision, type, action, actor_kind, actor_id, ip, device,
                   correlation, causation, recorded_ms, decided_ms, subjects)
       ON CONFLICT (event_id) DO NOTHING`,
      [
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
      ],
    );
    await this.applyHours(events, tx);
  }

  /**
   * rm_audit_hours: the first and last position of each hour's events. A batch is in log order,
   * so its first and last event of an hour are that hour's extremes within it; an hour met again
   * (a later batch, a batch applied again) keeps the lower first and the higher last.
   */
  private async applyHours(events: readonly RecordedEvent[], tx: PoolClient): Promise<void> {
    const hours = new Map<number, { first: Position; last: Position }>();
    for (const e of events) {
      const hour = auditHour(e.createdAt.getTime());
      const seen = hours.get(hour);
      if (seen) seen.last = e.position;
      else hours.set(hour, { first: e.position, last: e.position });
    }
    const all = [...hours];
    await tx.query(
      `INSERT INTO rm_audit_hours AS h (hour, first_commit, first_prepare, last_commit, last_prepare)
       SELECT * FROM unnest($1::bigint[], $2::bigint[], $3::bigint[], $4::bigint[], $5::bigint[])
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
          OR (EXCLUDED.last_commit, EXCLUDED.last_prepare) > (h.last_commit, h.last_prepare)`,
      [
        all.map(([hour]) => hour),
        all.map(([, h]) => h.first.commit.toString()),
        all.map(([, h]) => h.first.prepare.toString()),
        all.map(([, h]) => h.last.commit.toString()),
        all.map(([, h]) => h.last.prepare.toString()),
      ],
    );
  }
}

/** The hour of rm_audit_hours an instant falls in: whole hours since the epoch (UTC). */
export function auditHour(epochMs: number): number {
  return Math.floor(epochMs / 3_600_000);
}
