import { Inject, Injectable } from '@nestjs/common';
import type { Pool } from 'pg';
import { PG_POOL } from '../../core/core.module';
import { groupConversationId } from '../../groups/groups.events';
import type { LastMessage } from './gateway.view';

/**
 * The few reads of rm_messages the gateway needs beyond GetHistoryQuery: a msg id's seqno (the
 * seed addresses messages by id, history by seqno), send times in microseconds (MessageView has
 * seconds), and the newest message of many conversations at once (the joined list).
 */
@Injectable()
export class GatewayReader {
  constructor(@Inject(PG_POOL) private readonly pool: Pool) {}

  /** The seqno of message `msgKey` in the group's conversation, or null when it is not there. */
  async seqnoOf(groupId: string, msgKey: string): Promise<number | null> {
    const { rows } = await this.pool.query<{ msg_seqno: string }>(
      'SELECT msg_seqno FROM rm_messages WHERE msg_key = $1 AND conversation_id = $2',
      [msgKey, groupConversationId(groupId)],
    );
    return rows.length ? Number(rows[0].msg_seqno) : null;
  }

  /** Send times (microseconds) of the group's messages among `msgKeys`, by msg_key. */
  async sendTimes(groupId: string, msgKeys: readonly string[]): Promise<Map<string, number>> {
    if (msgKeys.length === 0) return new Map();
    const { rows } = await this.pool.query<{ msg_key: string; sent_at_us: string }>(
      `SELECT msg_key::text AS msg_key, sent_at_us::text AS sent_at_us FROM rm_messages
        WHERE conversation_id = $1 AND msg_key = ANY($2::bigint[])`,
      [groupConversationId(groupId), msgKeys],
    );
    return new Map(rows.map((r) => [r.msg_key, Number(r.sent_at_us)]));
  }

  /**
   * For each of `groupIds`, the newest message `uid` may read there, by the same window as
   * GetHistoryQuery: after their join, not after they left, system-recalled messages left out.
   * Groups without such a message (or without `uid`'s membership) are absent from the map.
   */
  async lastMessages(uid: string, groupIds: readonly string[]): Promise<Map<string, LastMessage>> {
    if (groupIds.length === 0) return new Map();
    const { rows } = await this.pool.query<{
      group_id: string;
      msg_key: string;
      sent_at_us: string;
      sender_uid: string;
    }>(
      `SELECT i.id AS group_id, m.msg_key::text AS msg_key, m.sent_at_us::text AS sent_at_us,
              m.sender_uid
         FROM unnest($2::text[], $3::text[]) AS i(id, conversation_id)
         JOIN rm_group_members gm ON gm.group_id = i.id AND gm.uid = $1
         CROSS JOIN LATERAL (
           SELECT msg_key, sent_at_us, sender_uid FROM rm_messages
            WHERE conversation_id = i.conversation_id
              AND msg_seqno > gm.join_seqno
              AND (gm.left_seqno IS NULL OR msg_seqno <= gm.left_seqno)
              AND msg_status <> 2
            ORDER BY msg_seqno DESC LIMIT 1) m`,
      [uid, groupIds, groupIds.map(groupConversationId)],
    );
    return new Map(
      rows.map((r) => [
        r.group_id,
        { msgKey: r.msg_key, sentAtUs: Number(r.sent_at_us), senderUid: r.sender_uid },
      ]),
    );
  }
}
