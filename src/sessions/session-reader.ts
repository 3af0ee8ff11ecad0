import { Inject, Injectable } from '@nestjs/common';
import type { Pool } from 'pg';
import { PG_POOL } from '../core/core.module';
import { prepared } from '../database/prepared';
import { MessageRow, messageColumns, toMessageView } from '../messaging/message.view';
import type { SessionRef } from './sessions.events';
import type { SessionView } from './session.view';

/**
 * Which of the owner's sessions a list shows. The seed's get_sessions `session_type`: 1 the main
 * list (UN_FOLD_SESSION), 2 users not followed (UN_FOLLOW_SINGLE_SESSION), 3 groups
 * (MY_GROUP_SESSION), 4 all; plus `intercepted`, the dustbin of a user who filters strangers.
 */
export type SessionFilter = 'main' | 'unfollowed' | 'groups' | 'all' | 'intercepted';

/** SQL for one row of the session list, aliased: s session, m last message, p talker profile. */
// The follow is joined once (fr) rather than probed with EXISTS where it is used: the planner
// turned each EXISTS into a hashed subplan over all of rm_relations (bench:session-list).
const FOLLOWS = `(fr.target_uid IS NOT NULL)`;
const SYSTEM = `(COALESCE(p.system_msg_type, 0) > 0)`;
const INTERCEPTED = `(s.session_type = 1 AND s.is_trust = 0 AND NOT ${SYSTEM}
                      AND COALESCE(us.intercept, false) AND NOT ${FOLLOWS})`;
export const VISIBLE = `s.max_seqno > s.hidden_upto_seqno`;

/** Where a session row comes from: both kinds, or one-to-one or group sessions alone. */
const SOURCE_ALL = 'rm_session_view';
const SOURCE_PRIVATE = '(SELECT * FROM rm_sessions WHERE session_type = 1)';
const SOURCE_GROUPS = 'rm_group_session_view';

const fromSql = (source: string) => `${source} s
  LEFT JOIN rm_messages m ON m.conversation_id = s.conversation_id AND m.msg_seqno = s.max_seqno
  LEFT JOIN rm_relations fr
    ON fr.owner_uid = s.owner_uid AND fr.kind = 1 AND fr.target_uid = s.talker_id
   AND s.session_type = 1
  LEFT JOIN rm_user_settings us ON us.uid = s.owner_uid
  LEFT JOIN rm_profiles p ON p.uid = s.talker_id AND s.session_type = 1
  LEFT JOIN rm_groups gr ON gr.group_id = s.talker_id AND s.session_type = 2`;
const FROM = fromSql(SOURCE_ALL);

const COLUMNS = `s.talker_id, s.session_type, s.top_ts, s.is_dnd, s.is_trust, s.at_seqno,
  s.ack_seqno, s.ack_ts, s.session_ts, s.max_seqno,
  GREATEST(s.max_seqno - s.ack_seqno, 0) AS unread_count,
  ${FOLLOWS} AS is_follow, ${INTERCEPTED} AS is_intercept,
  COALESCE(p.system_msg_type, 0) AS system_msg_type, p.name AS talker_name, p.face AS talker_face,
  gr.name AS group_name, gr.face_url AS group_cover, gr.group_type, gr.status AS group_status,
  m.msg_seqno IS NOT NULL AS has_last, ${messageColumns('m')}`;

function filterSql(filter: SessionFilter, unfollowFold: boolean): string {
  switch (filter) {
    case 'all':
      return 'true';
    case 'main':
      return unfollowFold
        ? `NOT ${INTERCEPTED} AND (s.session_type = 2 OR ${SYSTEM} OR ${FOLLOWS})`
        : `NOT ${INTERCEPTED}`;
    case 'unfollowed':
      return `s.session_type = 1 AND NOT ${SYSTEM} AND NOT ${FOLLOWS} AND NOT ${INTERCEPTED}`;
    case 'groups':
      return 's.session_type = 2';
    case 'intercepted':
      return INTERCEPTED;
  }
}

export interface SessionRow extends Partial<MessageRow> {
  talker_id: string;
  session_type: number;
  top_ts: string;
  is_dnd: number;
  is_trust: number;
  at_seqno: string;
  ack_seqno: string;
  ack_ts: string;
  session_ts: string;
  max_seqno: string;
  unread_count: string;
  is_follow: boolean;
  is_intercept: boolean;
  system_msg_type: number;
  talker_name: string | null;
  talker_face: string | null;
  has_last: boolean;
  group_name: string | null;
  group_cover: string | null;
  group_type: number | null;
  group_status: number | null;
}

export function toSessionView(r: SessionRow): SessionView {
  const unread = Number(r.unread_count);
  const system = r.system_msg_type > 0;
  return {
    talker_id: r.talker_id,
    session_type: r.session_type,
    at_seqno: Number(r.at_seqno),
    top_ts: Number(r.top_ts),
    group_name: r.group_name ?? '',
    group_cover: r.group_cover ?? '',
    is_follow: r.is_follow ? 1 : 0,
    is_dnd: r.is_dnd ? 1 : 0,
    ack_seqno: Number(r.ack_seqno),
    ack_ts: Number(r.ack_ts),
    session_ts: Number(r.session_ts),
    unread_count: unread,
    last_msg: r.has_last ? toMessageView(r as MessageRow) : null,
    group_type: r.group_type ?? 0,
    can_fold: 0,
    status: r.group_status ?? 0,
    max_seqno: Number(r.max_seqno),
    new_push_msg: system && unread > 0 ? 1 : 0,
    setting: 0,
    is_guardian: 0,
    is_intercept: r.is_intercept ? 1 : 0,
    is_trust: r.is_trust ? 1 : 0,
    system_msg_type: r.system_msg_type,
    ...(system
      ? { account_info: { name: r.talker_name ?? '', pic_url: r.talker_face ?? '' } }
      : {}),
    live_status: 0,
    biz_msg_unread_count: system ? unread : 0,
    user_label: null,
  };
}

export interface ListOptions {
  readonly filter: SessionFilter;
  readonly unfollowFold: boolean;
  readonly size: number;
  /** Keyset position: rows strictly after it in list order. */
  readonly after?: readonly [topTs: number, sessionTs: number, type: number, talker: string];
  /** session_ts bounds in microseconds, both exclusive. */
  readonly beginTs?: number;
  readonly endTs?: number;
  /** Leave pinned sessions out (pages after the first when paging by end_ts). */
  readonly unpinnedOnly?: boolean;
  /** Order by session_ts only, pinned or not (new_sessions). */
  readonly byTimeOnly?: boolean;
}

/** Reads session objects for every session endpoint, native and compatible. */
@Injectable()
export class SessionReader {
  constructor(@Inject(PG_POOL) private readonly pool: Pool) {}

  /**
   * One page in list order (pinned first, then newest), `size + 1` rows to tell has_more. The
   * one-to-one and the group sessions are paged each on their own (the first by the
   * rm_sessions_list index, which an ordered page over their union cannot use) and merged: rows of
   * the two kinds never tie, since session_type is part of the order.
   */
  async list(owner: string, o: ListOptions): Promise<{ rows: SessionRow[]; hasMore: boolean }> {
    const sources =
      o.filter === 'groups'
        ? [SOURCE_GROUPS]
        : o.filter === 'unfollowed' || o.filter === 'intercepted'
          ? [SOURCE_PRIVATE]
          : [SOURCE_PRIVATE, SOURCE_GROUPS];
    const pages = await Promise.all(sources.map((source) => this.page(source, owner, o)));
    const key = (r: SessionRow): number[] =>
      o.byTimeOnly
        ? [Number(r.session_ts), r.session_type]
        : [Number(r.top_ts), Number(r.session_ts), r.session_type];
    const before = (a: SessionRow, b: SessionRow) => {
      const ka = key(a);
      const kb = key(b);
      for (let i = 0; i < ka.length; i++) if (ka[i] !== kb[i]) return ka[i] > kb[i];
      return false;
    };
    // Merge the ordered pages (each already in SQL's order within its kind).
    const merged: SessionRow[] = [];
    const at = pages.map(() => 0);
    while (merged.length < o.size + 1) {
      let best = -1;
      pages.forEach((rows, i) => {
        if (at[i] >= rows.length) return;
        if (best < 0 || before(rows[at[i]], pages[best][at[best]])) best = i;
      });
      if (best < 0) break;
      merged.push(pages[best][at[best]++]);
    }
    return { rows: merged.slice(0, o.size), hasMore: merged.length > o.size };
  }

  private async page(source: string, owner: string, o: ListOptions): Promise<SessionRow[]> {
    const params: unknown[] = [owner];
    const bind = (v: unknown) => `$${params.push(v)}`;
    const where = [`s.owner_uid = $1`, VISIBLE, filterSql(o.filter, o.unfollowFold)];
    if (o.after) {
      const [top, ts, type, talker] = o.after;
      where.push(
        `(s.top_ts, s.session_ts, s.session_type, s.talker_id) < (${bind(top)}::bigint, ${bind(ts)}::bigint, ${bind(type)}::int2, ${bind(talker)}::text)`,
      );
    }
    if (o.beginTs !== undefined) where.push(`s.session_ts > ${bind(o.beginTs)}::bigint`);
    if (o.endTs !== undefined) where.push(`s.session_ts < ${bind(o.endTs)}::bigint`);
    if (o.unpinnedOnly) where.push('s.top_ts = 0');
    const order = o.byTimeOnly
      ? 's.session_ts DESC, s.session_type DESC, s.talker_id DESC'
      : 's.top_ts DESC, s.session_ts DESC, s.session_type DESC, s.talker_id DESC';
    const limit = bind(o.size + 1);
    const { rows } = await this.pool.query<SessionRow>({
      ...prepared(
        `SELECT ${COLUMNS} FROM ${fromSql(source)} WHERE ${where.join(' AND ')} ORDER BY ${order}
          LIMIT ${limit}`,
      ),
      values: params,
    });
    return rows;
  }

  /**
   * Sessions of several owners at once (the realtime `session_updated`), each with its owner and
   * whether it is in the list (`visible`: false once removed, until a newer message).
   */
  async ofOwners(
    refs: readonly (SessionRef & { readonly owner: string })[],
  ): Promise<(SessionRow & { owner_uid: string; visible: boolean })[]> {
    if (refs.length === 0) return [];
    const { rows } = await this.pool.query<SessionRow & { owner_uid: string; visible: boolean }>({
      ...prepared(
        `SELECT ${COLUMNS}, s.owner_uid, ${VISIBLE} AS visible FROM ${FROM}
           JOIN unnest($1::text[], $2::int2[], $3::text[]) AS i(o, ty, t)
             ON s.owner_uid = i.o AND s.session_type = i.ty AND s.talker_id = i.t`,
      ),
      values: [
        refs.map((r) => r.owner),
        refs.map((r) => r.sessionType),
        refs.map((r) => r.talkerId),
      ],
    });
    return rows;
  }

  /** The named sessions that exist, in the order asked (removed ones included). */
  async byRefs(owner: string, refs: readonly SessionRef[]): Promise<SessionRow[]> {
    if (refs.length === 0) return [];
    const { rows } = await this.pool.query<SessionRow & { ord: number }>({
      ...prepared(
        `SELECT ${COLUMNS}, i.ord FROM ${FROM}
           JOIN unnest($2::int2[], $3::text[]) WITH ORDINALITY AS i(ty, t, ord)
             ON s.session_type = i.ty AND s.talker_id = i.t
          WHERE s.owner_uid = $1
          ORDER BY i.ord`,
      ),
      values: [owner, refs.map((r) => r.sessionType), refs.map((r) => r.talkerId)],
    });
    return rows;
  }
}
