import { Inject, Injectable } from '@nestjs/common';
import type { Pool } from 'pg';
import { Errors } from '../common/errors';
import { PG_POOL } from '../core/core.module';
import type { MessageView } from '../messaging/message.view';
import type { JoinPolicy } from './groups.events';

/** A group as every native endpoint returns it (times in milliseconds). */
export interface GroupView {
  group_id: string;
  name: string;
  face_url: string;
  introduction: string;
  notification: string;
  ex: string;
  group_type: number;
  /** TeamTalk's temporary group (created by a user) rather than a normal one (by an admin). */
  temporary: boolean;
  join_policy: JoinPolicy;
  /** 0 normal, 1 banned, 2 dismissed, 3 muted. */
  status: number;
  owner_uid: string;
  creator_uid: string | null;
  member_count: number;
  /** Increases with every change of the group (TeamTalk's group version). */
  version: number;
  created_at: number;
  updated_at: number;
  /** The newest message's seqno (0 before the first). */
  max_seqno: number;
}

export interface MemberView {
  group_id: string;
  uid: string;
  /** 1 member, 2 owner, 3 admin. */
  role_level: number;
  /** The member-list cursor: members page in join order. */
  member_seq: number;
  joined_at: number;
  /** created, joined, invited, approved or added. */
  join_how: string;
  inviter_uid: string | null;
  /** Milliseconds; 0 when not muted. */
  muted_until: number;
}

export interface ApplicationView {
  group_id: string;
  uid: string;
  req_message: string;
  req_at: number;
  /** 0 pending, 1 accepted, -1 refused. */
  status: number;
  handled_msg: string;
  handled_by: string | null;
  handled_at: number;
}

interface GroupRow {
  group_id: string;
  name: string;
  face_url: string;
  introduction: string;
  notification: string;
  ex: string;
  group_type: number;
  temporary: boolean;
  join_policy: JoinPolicy;
  status: number;
  owner_uid: string;
  creator_uid: string | null;
  member_count: number;
  version: number;
  created_at_us: string;
  updated_at_us: string;
  max_seqno: string;
}

interface MemberRow {
  group_id: string;
  uid: string;
  role_level: number;
  member_seq: string;
  joined_at_us: string;
  join_how: string;
  inviter_uid: string | null;
  muted_until_us: string;
}

const ms = (us: string | number) => Math.floor(Number(us) / 1000);

const GROUP_COLUMNS = `g.group_id, g.name, g.face_url, g.introduction, g.notification, g.ex,
  g.group_type, g.temporary, g.join_policy, g.status, g.owner_uid, g.creator_uid, g.member_count,
  g.version, g.created_at_us, g.updated_at_us, g.max_seqno`;
const MEMBER_COLUMNS = `m.group_id, m.uid, m.role_level, m.member_seq, m.joined_at_us, m.join_how,
  m.inviter_uid, m.muted_until_us`;

export function toGroupView(r: GroupRow): GroupView {
  return {
    group_id: r.group_id,
    name: r.name,
    face_url: r.face_url,
    introduction: r.introduction,
    notification: r.notification,
    ex: r.ex,
    group_type: r.group_type,
    temporary: r.temporary,
    join_policy: r.join_policy,
    status: r.status,
    owner_uid: r.owner_uid,
    creator_uid: r.creator_uid,
    member_count: r.member_count,
    version: r.version,
    created_at: ms(r.created_at_us),
    updated_at: ms(r.updated_at_us),
    max_seqno: Number(r.max_seqno),
  };
}

function toMemberView(r: MemberRow, nowUs: number): MemberView {
  const muted = Number(r.muted_until_us);
  return {
    group_id: r.group_id,
    uid: r.uid,
    role_level: r.role_level,
    member_seq: Number(r.member_seq),
    joined_at: ms(r.joined_at_us),
    join_how: r.join_how,
    inviter_uid: r.inviter_uid,
    muted_until: muted > nowUs ? ms(muted) : 0,
  };
}

const toApplicationView = (r: Record<string, unknown>): ApplicationView => ({
  group_id: String(r.group_id),
  uid: String(r.uid),
  req_message: String(r.req_message),
  req_at: ms(String(r.req_at_us)),
  status: Number(r.status),
  handled_msg: String(r.handled_msg),
  handled_by: (r.handled_by as string | null) ?? null,
  handled_at: ms(String(r.handled_at_us)),
});

/** The seed's group system notice: msg_type 306 (as in its example), msg_source 13. */
export const ASSISTANT_MSG_TYPE = 306;
export const ASSISTANT_MSG_SOURCE = 13;

export interface AssistantPage {
  messages: MessageView[];
  has_more: 0 | 1;
  min_seqno: number | null;
  max_seqno: number | null;
  /** How far the owner has read the assistant, and what is left. */
  ack_seqno: number;
  unread_count: number;
  /** The newest notice's seqno (0 when none). */
  newest_seqno: number;
}

/** An application page's cursor: `<req_at_us>:<group_id>:<uid>` of its last row. */
function parseApplicationCursor(cursor: string | undefined) {
  if (cursor === undefined) return undefined;
  const m = /^(\d{1,16}):([A-Za-z0-9_]{1,64}):([A-Za-z0-9_.-]{1,64})$/.exec(cursor);
  if (!m) throw Errors.validation('cursor: pass back next_cursor of the previous page');
  return { atUs: m[1], groupId: m[2], uid: m[3] };
}

function applicationPage(rows: Record<string, unknown>[], size: number) {
  const page = rows.slice(0, size);
  const last = rows.length > size ? page[page.length - 1] : null;
  return {
    applications: page.map(toApplicationView),
    next_cursor: last
      ? `${String(last.req_at_us)}:${String(last.group_id)}:${String(last.uid)}`
      : null,
  };
}

export interface Page<T> {
  items: T[];
  /** Pass back as `cursor` for the next page; null on the last page. */
  next_cursor: string | null;
}

/** Reads of the group read models, for the native API and the compatible ones. */
@Injectable()
export class GroupReader {
  constructor(@Inject(PG_POOL) private readonly pool: Pool) {}

  /** The groups that exist among `ids`, in the order asked. */
  async groups(ids: readonly string[]): Promise<GroupView[]> {
    if (ids.length === 0) return [];
    const { rows } = await this.pool.query<GroupRow>(
      `SELECT ${GROUP_COLUMNS} FROM unnest($1::text[]) WITH ORDINALITY AS i(id, ord)
         JOIN rm_groups g ON g.group_id = i.id ORDER BY i.ord`,
      [ids],
    );
    return rows.map(toGroupView);
  }

  /** A page of current members in join order, after `afterSeq`, optionally of one role. */
  async members(
    groupId: string,
    o: { afterSeq: number; size: number; roleLevel?: number; nowUs: number },
  ): Promise<{ members: MemberView[]; nextSeq: number | null }> {
    const params: unknown[] = [groupId, o.afterSeq, o.size + 1];
    const role = o.roleLevel ? `AND m.role_level = $${params.push(o.roleLevel)}` : '';
    const { rows } = await this.pool.query<MemberRow>(
      `SELECT ${MEMBER_COLUMNS} FROM rm_group_members m
        WHERE m.group_id = $1 AND m.left_seqno IS NULL AND m.member_seq > $2 ${role}
        ORDER BY m.member_seq LIMIT $3`,
      params,
    );
    const page = rows.slice(0, o.size).map((r) => toMemberView(r, o.nowUs));
    return {
      members: page,
      nextSeq: rows.length > o.size ? page[page.length - 1].member_seq : null,
    };
  }

  /** The current members among `uids`, in the order asked. */
  async membersByUid(groupId: string, uids: readonly string[], nowUs: number) {
    if (uids.length === 0) return [];
    const { rows } = await this.pool.query<MemberRow>(
      `SELECT ${MEMBER_COLUMNS} FROM unnest($2::text[]) WITH ORDINALITY AS i(uid, ord)
         JOIN rm_group_members m ON m.group_id = $1 AND m.uid = i.uid AND m.left_seqno IS NULL
        ORDER BY i.ord`,
      [groupId, uids],
    );
    return rows.map((r) => toMemberView(r, nowUs));
  }

  /** The groups `uid` is a member of now, by group id, paged by cursor. */
  async joined(
    uid: string,
    o: { after?: string; size: number; normalOnly?: boolean },
  ): Promise<Page<GroupView>> {
    const params: unknown[] = [uid, o.size + 1];
    const after = o.after ? `AND g.group_id > $${params.push(o.after)}` : '';
    const normal = o.normalOnly ? 'AND NOT g.temporary' : '';
    const { rows } = await this.pool.query<GroupRow>(
      `SELECT ${GROUP_COLUMNS} FROM rm_group_members m JOIN rm_groups g USING (group_id)
        WHERE m.uid = $1 AND m.left_seqno IS NULL ${after} ${normal}
        ORDER BY g.group_id LIMIT $2`,
      params,
    );
    const items = rows.slice(0, o.size).map(toGroupView);
    return {
      items,
      next_cursor: rows.length > o.size ? items[items.length - 1].group_id : null,
    };
  }

  /**
   * Pending applications to the groups `uid` owns or administers, newest first, paged by cursor
   * (`next_cursor` of the previous page).
   */
  async applicationsToManage(
    uid: string,
    size: number,
    cursor?: string,
  ): Promise<{ applications: ApplicationView[]; next_cursor: string | null }> {
    const after = parseApplicationCursor(cursor);
    const { rows } = await this.pool.query<Record<string, unknown>>(
      `SELECT r.* FROM rm_group_members m
         JOIN rm_group_requests r ON r.group_id = m.group_id AND r.status = 0
        WHERE m.uid = $1 AND m.left_seqno IS NULL AND m.role_level IN (2, 3)
          AND ($3::bigint IS NULL OR (r.req_at_us, r.group_id, r.uid) < ($3, $4::text, $5::text))
        ORDER BY r.req_at_us DESC, r.group_id DESC, r.uid DESC LIMIT $2`,
      [uid, size + 1, after?.atUs ?? null, after?.groupId ?? null, after?.uid ?? null],
    );
    return applicationPage(rows, size);
  }

  /** The applications `uid` made, newest first, whatever became of them, paged by cursor. */
  async applicationsOf(
    uid: string,
    size: number,
    cursor?: string,
  ): Promise<{ applications: ApplicationView[]; next_cursor: string | null }> {
    const after = parseApplicationCursor(cursor);
    const { rows } = await this.pool.query<Record<string, unknown>>(
      `SELECT * FROM rm_group_requests r
        WHERE r.uid = $1
          AND ($3::bigint IS NULL OR (r.req_at_us, r.group_id, r.uid) < ($3, $4::text, $5::text))
        ORDER BY r.req_at_us DESC, r.group_id DESC, r.uid DESC LIMIT $2`,
      [uid, size + 1, after?.atUs ?? null, after?.groupId ?? null, after?.uid ?? null],
    );
    return applicationPage(rows, size);
  }

  /** Administrators: groups whose name contains `name` (any case), or all, newest first. */
  async search(o: {
    name?: string;
    after?: { createdAtUs: number; groupId: string };
    size: number;
  }): Promise<{ groups: GroupView[]; total: number; next: string | null }> {
    const params: unknown[] = [o.size + 1];
    const where: string[] = [];
    if (o.name) {
      const escaped = o.name.replace(/[\\%_]/g, (c) => `\\${c}`);
      where.push(`g.name ILIKE $${params.push(`%${escaped}%`)}`);
    }
    const filter = where.length ? `WHERE ${where.join(' AND ')}` : '';
    const pageWhere = [...where];
    if (o.after) {
      pageWhere.push(
        `(g.created_at_us, g.group_id) < ($${params.push(o.after.createdAtUs)}::bigint, $${params.push(o.after.groupId)}::text)`,
      );
    }
    const pageFilter = pageWhere.length ? `WHERE ${pageWhere.join(' AND ')}` : '';
    const [{ rows }, total] = await Promise.all([
      this.pool.query<GroupRow>(
        `SELECT ${GROUP_COLUMNS} FROM rm_groups g ${pageFilter}
          ORDER BY g.created_at_us DESC, g.group_id DESC LIMIT $1`,
        params,
      ),
      // The count binds only the name (as $1 of its own).
      this.pool.query<{ n: string }>(
        `SELECT count(*) AS n FROM rm_groups g ${filter.replace('$2', '$1')}`,
        o.name ? [params[1]] : [],
      ),
    ]);
    const groups = rows.slice(0, o.size).map(toGroupView);
    const last = rows.length > o.size ? rows[o.size - 1] : null;
    return {
      groups,
      total: Number(total.rows[0].n),
      next: last ? `${last.created_at_us}.${last.group_id}` : null,
    };
  }

  /** Of `uid`'s groups, those whose version is above the one given (all when none is given). */
  async changedSince(uid: string, versions: ReadonlyMap<string, number>): Promise<GroupView[]> {
    const { rows } = await this.pool.query<GroupRow>(
      `SELECT ${GROUP_COLUMNS} FROM rm_group_members m JOIN rm_groups g USING (group_id)
         LEFT JOIN unnest($2::text[], $3::int[]) AS v(id, version) ON v.id = g.group_id
        WHERE m.uid = $1 AND m.left_seqno IS NULL AND g.version > COALESCE(v.version, 0)
        ORDER BY g.group_id`,
      [uid, [...versions.keys()], [...versions.values()]],
    );
    return rows.map(toGroupView);
  }

  /** Bilibili's MyGroupUnread: unread messages in the groups `uid` owns. */
  async unreadInOwnedGroups(uid: string): Promise<number> {
    const { rows } = await this.pool.query<{ n: string }>(
      `SELECT COALESCE(sum(GREATEST(s.max_seqno - s.ack_seqno, 0)), 0) AS n
         FROM rm_session_view s JOIN rm_groups g ON g.group_id = s.talker_id
        WHERE s.owner_uid = $1 AND s.session_type = 2 AND g.owner_uid = $1 AND s.is_dnd = 0`,
      [uid],
    );
    return Number(rows[0].n);
  }

  /**
   * The group assistant's notices to `uid` after `clientSeqno`, oldest first, as the seed's
   * message objects (msg_type 306, msg_source 13 "group system notice", sender 0), with its read
   * progress.
   */
  async assistant(uid: string, clientSeqno: number, size: number): Promise<AssistantPage> {
    // One statement, so the notices and the progress come from one snapshot (two queries could
    // straddle a projected batch and give an unread count that disagrees with the page).
    const { rows } = await this.pool.query<{
      seqno: string | null;
      msg_key: string | null;
      group_id: string;
      op: string;
      uids: string[];
      by_uid: string | null;
      detail: string;
      at_us: string;
      max_seqno: string | null;
      ack_seqno: string | null;
    }>(
      `WITH p AS (SELECT max_seqno, ack_seqno FROM rm_group_assistant WHERE owner_uid = $1)
       SELECT n.seqno, n.msg_key::text, n.group_id, n.op, n.uids, n.by_uid, n.detail, n.at_us,
              p.max_seqno, p.ack_seqno
         FROM (SELECT 1) AS one
         LEFT JOIN p ON true
         LEFT JOIN LATERAL (
           SELECT * FROM rm_group_notices
            WHERE owner_uid = $1 AND seqno > $2 ORDER BY seqno LIMIT $3
         ) n ON true
        ORDER BY n.seqno`,
      [uid, clientSeqno, size + 1],
    );
    const found = rows.filter((r) => r.seqno !== null);
    const messages = found.slice(0, size).map((r): MessageView => ({
      sender_uid: '0',
      receiver_type: 2,
      receiver_id: r.group_id,
      msg_type: ASSISTANT_MSG_TYPE,
      content: JSON.stringify({
        group_id: r.group_id,
        op: r.op,
        uids: r.uids,
        by_uid: r.by_uid,
        content: r.detail,
      }),
      msg_seqno: Number(r.seqno),
      timestamp: Math.floor(Number(r.at_us) / 1_000_000),
      at_uids: null,
      msg_key: String(r.msg_key),
      msg_status: 0,
      notify_code: '',
      new_face_version: 0,
      msg_source: ASSISTANT_MSG_SOURCE,
    }));
    // (every row carries the progress; with no notice there is still the one row)
    const max = Number(rows[0]?.max_seqno ?? 0);
    const ack = Number(rows[0]?.ack_seqno ?? 0);
    return {
      messages,
      has_more: found.length > size ? 1 : 0,
      min_seqno: messages.length ? messages[0].msg_seqno : null,
      max_seqno: messages.length ? messages[messages.length - 1].msg_seqno : null,
      ack_seqno: ack,
      unread_count: Math.max(max - ack, 0),
      newest_seqno: max,
    };
  }

  /** Whose membership a history read needs: the member's window of the group's messages. */
  async window(
    groupId: string,
    uid: string,
  ): Promise<{ afterSeqno: number; uptoSeqno: number | null } | null> {
    const { rows } = await this.pool.query<{ join_seqno: string; left_seqno: string | null }>(
      `SELECT join_seqno, left_seqno FROM rm_group_members WHERE group_id = $1 AND uid = $2`,
      [groupId, uid],
    );
    const r = rows[0];
    if (!r) return null;
    return {
      afterSeqno: Number(r.join_seqno),
      uptoSeqno: r.left_seqno === null ? null : Number(r.left_seqno),
    };
  }
}
