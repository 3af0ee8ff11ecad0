import type { PoolClient } from 'pg';
import { USER_ERASED, UserErasedData } from '../src/accounts/accounts.events';
import type { RecordedEvent } from '../src/event-store/event-store.port';
import {
  AT_ALL,
  GROUP_APPLICATION_HANDLED,
  GROUP_APPLIED,
  GROUP_ASSISTANT_ACKED,
  GroupAssistantAckedData,
  GROUP_CREATED,
  GROUP_DISMISSED,
  GROUP_EVENT_TYPES,
  GROUP_INFO_SET,
  GROUP_MEMBER_MUTED,
  GROUP_MEMBER_ROLE_SET,
  GROUP_MEMBERS_JOINED,
  GROUP_MEMBERS_LEFT,
  GROUP_OWNER_TRANSFERRED,
  GROUP_STATUS_SET,
  groupConversationId,
  infoChangesByName,
  GroupApplicationHandledData,
  GroupAppliedData,
  GroupCreatedData,
  GroupDismissedData,
  GroupInfoSetData,
  GroupMemberMutedData,
  GroupMemberRoleSetData,
  GroupMembersJoinedData,
  GroupMembersLeftData,
  GroupOwnerTransferredData,
  GroupStatusSetData,
  ROLE_MEMBER,
  ROLE_OWNER,
  STATUS_DISMISSED,
} from '../src/groups/groups.events';
import {
  MESSAGE_RECALLED,
  MESSAGE_SENT,
  MessageRecalledData,
  MessageSentData,
} from '../src/messaging/messaging.events';
import type { Projector } from './projector';

/** A group's messages within a batch, between two of its membership events. */
interface GroupProgress {
  maxSeqno: number;
  lastTs: number;
  atAllSeqno: number;
}

/**
 * rm_groups, rm_group_members, rm_group_requests. Events are applied in log order: a member's
 * join_seqno is the group's max_seqno when their join is applied, so "history from the message
 * after they joined" is decided by the log, the same in every rebuild. Messages of a batch are one
 * update per group, written before the next membership event of that batch.
 *
 * A `UserErased` empties the texts the user wrote that these tables hold: their applications'
 * messages, their answers to applications, and the assistant's notices that carry either (or the
 * reason they gave for leaving or kicking). Those texts are plain in the log (only message content
 * is sealed), so they are emptied here, at the erasure's place in the log, in every rebuild too.
 */
export class GroupsProjector implements Projector {
  readonly name = 'groups';
  readonly usesMetadata = false;
  readonly eventTypes = new Set([
    ...GROUP_EVENT_TYPES,
    MESSAGE_SENT,
    MESSAGE_RECALLED,
    GROUP_ASSISTANT_ACKED,
    USER_ERASED,
  ]);
  readonly tables = [
    'rm_groups',
    'rm_group_members',
    'rm_group_requests',
    'rm_group_assistant',
    'rm_group_notices',
  ];

  async apply(events: readonly RecordedEvent[], tx: PoolClient): Promise<void> {
    let progress = new Map<string, GroupProgress>();
    const flush = async () => {
      if (progress.size === 0) return;
      const rows = [...progress].map(([groupId, p]) => ({ groupId, ...p }));
      progress = new Map();
      await tx.query(
        `UPDATE rm_groups AS g SET max_seqno = GREATEST(g.max_seqno, i.s),
                last_ts = GREATEST(g.last_ts, i.ts), at_all_seqno = GREATEST(g.at_all_seqno, i.a)
           FROM unnest($1::text[], $2::bigint[], $3::bigint[], $4::bigint[]) AS i(id, s, ts, a)
          WHERE g.group_id = i.id`,
        [
          rows.map((r) => r.groupId),
          rows.map((r) => r.maxSeqno),
          rows.map((r) => r.lastTs),
          rows.map((r) => r.atAllSeqno),
        ],
      );
    };
    for (const e of events) {
      if (e.type === MESSAGE_SENT || e.type === MESSAGE_RECALLED) {
        const m = e.data as MessageSentData | MessageRecalledData;
        if (m.receiverType !== 2) continue;
        const p = progress.get(m.receiverId) ?? { maxSeqno: 0, lastTs: 0, atAllSeqno: 0 };
        p.maxSeqno = Math.max(p.maxSeqno, m.seqno);
        p.lastTs = Math.max(p.lastTs, m.sentAtUs);
        if ('atUids' in m && m.atUids?.includes(AT_ALL)) p.atAllSeqno = m.seqno;
        progress.set(m.receiverId, p);
        continue;
      }
      await flush();
      if (e.type === USER_ERASED) {
        await redactGroupTextsOf([(e.data as UserErasedData).uid], tx);
        continue;
      }
      if (e.type === GROUP_ASSISTANT_ACKED) {
        const a = e.data as GroupAssistantAckedData;
        await tx.query(
          `INSERT INTO rm_group_assistant AS a (owner_uid, ack_seqno) VALUES ($1, $2)
           ON CONFLICT (owner_uid) DO UPDATE SET ack_seqno = GREATEST(a.ack_seqno, EXCLUDED.ack_seqno)`,
          [a.ownerUid, a.ackSeqno],
        );
        continue;
      }
      // The notice goes to the managers as they were before the event (an accepted applicant,
      // say, is not told of their own joining as a manager).
      await this.notify(e, tx);
      await this.applyGroupEvent(e, tx);
    }
    await flush();
  }

  private async applyGroupEvent(e: RecordedEvent, tx: PoolClient): Promise<void> {
    const groupId = (e.data as { groupId: string }).groupId;
    const atUs = (e.data as { atUs: number }).atUs;
    switch (e.type) {
      case GROUP_CREATED: {
        const d = e.data as GroupCreatedData;
        await tx.query(
          `INSERT INTO rm_groups (group_id, conversation_id, name, face_url, introduction,
                                  notification, ex, group_type, temporary, join_policy, owner_uid,
                                  creator_uid, version, created_at_us, updated_at_us)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, 0, $13, $13)
           ON CONFLICT DO NOTHING`,
          [
            d.groupId,
            groupConversationId(d.groupId),
            d.name,
            d.faceUrl,
            d.introduction,
            d.notification,
            d.ex,
            d.groupType,
            d.temporary,
            d.joinPolicy,
            d.ownerUid,
            d.creatorUid,
            d.atUs,
          ],
        );
        await this.join(tx, d.groupId, d.members, 'created', d.creatorUid, d.atUs, e.revision);
        break;
      }
      case GROUP_INFO_SET: {
        const d = e.data as GroupInfoSetData;
        const sets: string[] = [];
        const params: unknown[] = [groupId];
        // Column names are the wire names (INFO_FIELD_NAMES): fixed strings, never input.
        for (const [column, value] of Object.entries(infoChangesByName(d.changes))) {
          sets.push(`${column} = $${params.push(value)}`);
        }
        if (sets.length > 0) {
          await tx.query(`UPDATE rm_groups SET ${sets.join(', ')} WHERE group_id = $1`, params);
        }
        break;
      }
      case GROUP_MEMBERS_JOINED: {
        const d = e.data as GroupMembersJoinedData;
        await this.join(tx, groupId, d.members, d.how, d.byUid, d.atUs, e.revision);
        // An accepted application or an invitation settles a pending application.
        await tx.query(
          `UPDATE rm_group_requests SET status = 1, handled_at_us = $3
            WHERE group_id = $1 AND uid = ANY($2::text[]) AND status = 0`,
          [groupId, d.members.map((m) => m.uid), d.atUs],
        );
        break;
      }
      case GROUP_MEMBERS_LEFT: {
        const d = e.data as GroupMembersLeftData;
        const { rowCount } = await tx.query(
          `UPDATE rm_group_members AS m SET left_seqno = g.max_seqno, left_at_us = $3,
                  left_revision = $4
             FROM rm_groups g
            WHERE m.group_id = $1 AND g.group_id = $1 AND m.uid = ANY($2::text[])
              AND m.left_seqno IS NULL`,
          [groupId, d.uids, d.atUs, e.revision],
        );
        await tx.query(
          `UPDATE rm_groups SET member_count = member_count - $2 WHERE group_id = $1`,
          [groupId, rowCount ?? 0],
        );
        break;
      }
      case GROUP_APPLIED: {
        const d = e.data as GroupAppliedData;
        await tx.query(
          `INSERT INTO rm_group_requests AS r (group_id, uid, req_message, req_at_us)
           VALUES ($1, $2, $3, $4)
           ON CONFLICT (group_id, uid) DO UPDATE SET req_message = EXCLUDED.req_message,
             req_at_us = EXCLUDED.req_at_us, status = 0, handled_msg = '', handled_by = NULL,
             handled_at_us = 0`,
          [groupId, d.uid, d.reqMessage, d.atUs],
        );
        break;
      }
      case GROUP_APPLICATION_HANDLED: {
        const d = e.data as GroupApplicationHandledData;
        await tx.query(
          `UPDATE rm_group_requests SET status = $3, handled_msg = $4, handled_by = $5,
                  handled_at_us = $6
            WHERE group_id = $1 AND uid = $2`,
          [groupId, d.uid, d.result, d.handledMsg, d.byUid, d.atUs],
        );
        break;
      }
      case GROUP_OWNER_TRANSFERRED: {
        const d = e.data as GroupOwnerTransferredData;
        await tx.query(
          `UPDATE rm_group_members SET role_level = CASE WHEN uid = $3 THEN $4 ELSE $5 END::int2,
                  muted_until_us = CASE WHEN uid = $3 THEN 0 ELSE muted_until_us END,
                  manager_since_revision = CASE
                    WHEN uid <> $3 THEN NULL
                    WHEN role_level IN (2, 3) THEN manager_since_revision
                    ELSE $6 END
            WHERE group_id = $1 AND uid IN ($2, $3)`,
          [groupId, d.fromUid, d.toUid, ROLE_OWNER, ROLE_MEMBER, e.revision],
        );
        await tx.query(`UPDATE rm_groups SET owner_uid = $2 WHERE group_id = $1`, [
          groupId,
          d.toUid,
        ]);
        break;
      }
      case GROUP_MEMBER_ROLE_SET: {
        const d = e.data as GroupMemberRoleSetData;
        await tx.query(
          `UPDATE rm_group_members SET role_level = $3::int2,
                  manager_since_revision = CASE
                    WHEN $3::int2 = 1 THEN NULL
                    WHEN role_level IN (2, 3) THEN manager_since_revision
                    ELSE $4 END
            WHERE group_id = $1 AND uid = $2`,
          [groupId, d.uid, d.roleLevel, e.revision],
        );
        break;
      }
      case GROUP_MEMBER_MUTED: {
        const d = e.data as GroupMemberMutedData;
        await tx.query(
          `UPDATE rm_group_members SET muted_until_us = $3 WHERE group_id = $1 AND uid = $2`,
          [groupId, d.uid, d.mutedUntilUs],
        );
        break;
      }
      case GROUP_STATUS_SET: {
        const d = e.data as GroupStatusSetData;
        await tx.query(`UPDATE rm_groups SET status = $2 WHERE group_id = $1`, [groupId, d.status]);
        break;
      }
      case GROUP_DISMISSED: {
        const d = e.data as GroupDismissedData;
        await tx.query(`UPDATE rm_groups SET status = $2 WHERE group_id = $1`, [
          d.groupId,
          STATUS_DISMISSED,
        ]);
        break;
      }
    }
    // Every event of the group moves its version (TeamTalk's group version sync).
    await tx.query(
      `UPDATE rm_groups SET version = version + 1, updated_at_us = GREATEST(updated_at_us, $2)
        WHERE group_id = $1`,
      [groupId, atUs],
    );
  }

  /**
   * The group assistant's notice of an application or a membership change, to each current
   * owner and admin of the group but the one who made it, numbered per recipient.
   */
  private async notify(e: RecordedEvent, tx: PoolClient): Promise<void> {
    const notice = noticeOf(e);
    if (!notice) return;
    const d = e.data as { groupId: string; byUid?: string | null; atUs: number };
    await tx.query(
      `WITH r AS (
         SELECT uid, row_number() OVER (ORDER BY uid) AS n FROM rm_group_members
          WHERE group_id = $1 AND left_seqno IS NULL AND role_level IN (2, 3)
            AND uid IS DISTINCT FROM $2
       ), a AS (
         INSERT INTO rm_group_assistant AS a (owner_uid, max_seqno) SELECT uid, 1 FROM r
         ON CONFLICT (owner_uid) DO UPDATE SET max_seqno = a.max_seqno + 1
         RETURNING owner_uid, max_seqno
       )
       INSERT INTO rm_group_notices (owner_uid, seqno, msg_key, group_id, op, uids, by_uid, detail,
                                     at_us)
       SELECT a.owner_uid, a.max_seqno, $3::bigint + r.n, $1, $4, $5, $2, $6, $7
         FROM a JOIN r ON r.uid = a.owner_uid`,
      [d.groupId, d.byUid ?? null, noticeKeyBase(e), notice.op, notice.uids, notice.detail, d.atUs],
    );
  }

  /** Members in (or back), in join order, each seeing the messages after the group's newest. */
  private async join(
    tx: PoolClient,
    groupId: string,
    members: readonly { uid: string; roleLevel: number }[],
    how: string,
    byUid: string | null,
    atUs: number,
    revision: number,
  ): Promise<void> {
    if (members.length === 0) return;
    const { rowCount } = await tx.query(
      `WITH g AS (SELECT member_seq, max_seqno FROM rm_groups WHERE group_id = $1 FOR UPDATE)
       INSERT INTO rm_group_members AS m (group_id, uid, role_level, member_seq, joined_at_us,
                                          join_seqno, join_how, inviter_uid, join_revision,
                                          manager_since_revision)
       SELECT $1, i.uid, i.role, g.member_seq + i.ord, $4, g.max_seqno, $5, $6, $7,
              CASE WHEN i.role IN (2, 3) THEN $7::bigint END
         FROM g, unnest($2::text[], $3::int2[]) WITH ORDINALITY AS i(uid, role, ord)
       ON CONFLICT (group_id, uid) DO UPDATE SET role_level = EXCLUDED.role_level,
         member_seq = EXCLUDED.member_seq, joined_at_us = EXCLUDED.joined_at_us,
         join_seqno = EXCLUDED.join_seqno, join_how = EXCLUDED.join_how,
         inviter_uid = EXCLUDED.inviter_uid, join_revision = EXCLUDED.join_revision,
         manager_since_revision = EXCLUDED.manager_since_revision,
         muted_until_us = 0, left_seqno = NULL, left_at_us = NULL, left_revision = NULL
         WHERE m.left_seqno IS NOT NULL`,
      [
        groupId,
        members.map((m) => m.uid),
        members.map((m) => m.roleLevel),
        atUs,
        how,
        byUid,
        revision,
      ],
    );
    await tx.query(
      `UPDATE rm_groups SET member_seq = member_seq + $2, member_count = member_count + $3
        WHERE group_id = $1`,
      [groupId, members.length, rowCount ?? 0],
    );
  }
}

/**
 * Empties what the users `uids` wrote in the group read models first on the search path (the live
 * ones, or a copy's: src/admin/erasure): their applications' messages, their answers to
 * applications, and the notices carrying either or a reason they gave. A notice's text is its
 * author's: the applicant's for `applied` (no by_uid), else the one who acted (by_uid).
 */
export async function redactGroupTextsOf(
  uids: readonly string[],
  tx: Pick<PoolClient, 'query'>,
): Promise<void> {
  if (uids.length === 0) return;
  await tx.query(
    `UPDATE rm_group_requests
        SET req_message = CASE WHEN uid = ANY($1::text[]) THEN '' ELSE req_message END,
            handled_msg = CASE WHEN handled_by = ANY($1::text[]) THEN '' ELSE handled_msg END
      WHERE (uid = ANY($1::text[]) AND req_message <> '')
         OR (handled_by = ANY($1::text[]) AND handled_msg <> '')`,
    [uids],
  );
  await tx.query(
    `UPDATE rm_group_notices SET detail = ''
      WHERE detail <> ''
        AND (by_uid = ANY($1::text[])
             OR (op = 'applied' AND by_uid IS NULL AND cardinality(uids) = 1
                 AND uids[1] = ANY($1::text[])))`,
    [uids],
  );
}

/** The tables {@link redactGroupTextsOf} writes. */
export const GROUP_REDACTED_TABLES: readonly string[] = ['rm_group_requests', 'rm_group_notices'];

/** What the group assistant tells managers of an event, or null when it is not such news. */
function noticeOf(e: RecordedEvent): { op: string; uids: string[]; detail: string } | null {
  switch (e.type) {
    case GROUP_APPLIED: {
      const d = e.data as GroupAppliedData;
      return { op: 'applied', uids: [d.uid], detail: d.reqMessage };
    }
    case GROUP_APPLICATION_HANDLED: {
      const d = e.data as GroupApplicationHandledData;
      return { op: d.result === 1 ? 'accepted' : 'refused', uids: [d.uid], detail: d.handledMsg };
    }
    case GROUP_MEMBERS_JOINED: {
      const d = e.data as GroupMembersJoinedData;
      return { op: d.how, uids: d.members.map((m) => m.uid), detail: '' };
    }
    case GROUP_MEMBERS_LEFT: {
      const d = e.data as GroupMembersLeftData;
      return { op: d.how, uids: [...d.uids], detail: d.reason };
    }
    default:
      return null;
  }
}

/**
 * The base of a notice's msg_key, the same in every rebuild: 42 bits of the event's id, shifted
 * to leave room for the recipient's number among the event's recipients (fewer than 2^20).
 */
function noticeKeyBase(e: RecordedEvent): string {
  const bits = BigInt(`0x${e.id.replace(/-/g, '').slice(0, 11)}`) >> 2n;
  return (bits << 20n).toString();
}
