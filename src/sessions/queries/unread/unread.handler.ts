import { Inject } from '@nestjs/common';
import { IQueryHandler, QueryHandler } from '@nestjs/cqrs';
import type { Pool } from 'pg';
import { PG_POOL } from '../../../core/core.module';
import { SessionReader, VISIBLE } from '../../session-reader';
import { SpecificUnread, SpecificUnreadQuery, UnreadCounts, UnreadQuery } from './unread.query';

@QueryHandler(UnreadQuery)
export class UnreadHandler implements IQueryHandler<UnreadQuery, UnreadCounts> {
  constructor(@Inject(PG_POOL) private readonly pool: Pool) {}

  async execute({ ownerUid, unreadType }: UnreadQuery): Promise<UnreadCounts> {
    // Only sessions with something unread are read (the rm_sessions_unread partial index); `u` is
    // materialized so the follow is looked up once per session, not once per aggregate.
    const { rows } = await this.pool.query<Record<keyof UnreadCounts, string>>(
      `WITH u AS MATERIALIZED (
         SELECT s.session_type, s.max_seqno - s.ack_seqno AS n,
                COALESCE(p.system_msg_type, 0) AS sys,
                s.session_type = 1 AND f.target_uid IS NOT NULL AS follows,
                s.is_trust = 1 AS trusted
           FROM rm_session_view s
           LEFT JOIN rm_profiles p ON p.uid = s.talker_id AND s.session_type = 1
           LEFT JOIN rm_relations f
             ON f.owner_uid = s.owner_uid AND f.kind = 1 AND f.target_uid = s.talker_id
          WHERE s.owner_uid = $1 AND s.max_seqno > s.ack_seqno AND ${VISIBLE} AND s.is_dnd = 0
       ), k AS (
         SELECT u.*, (u.session_type = 1 AND u.sys = 0 AND NOT u.follows AND NOT u.trusted
                      AND COALESCE((SELECT intercept FROM rm_user_settings WHERE uid = $1), false))
                     AS intercepted
           FROM u
       )
       SELECT
         COALESCE(sum(n) FILTER (WHERE sys = 0 AND session_type = 1 AND NOT follows
                                   AND NOT intercepted), 0) AS unfollow_unread,
         COALESCE(sum(n) FILTER (WHERE sys = 0 AND (session_type = 2 OR follows)), 0)
           AS follow_unread,
         COALESCE(sum(n) FILTER (WHERE sys > 0 AND NOT follows), 0) AS unfollow_push_msg,
         0 AS dustbin_push_msg,
         COALESCE(sum(n) FILTER (WHERE intercepted), 0) AS dustbin_unread,
         COALESCE(sum(n) FILTER (WHERE sys > 0 AND NOT follows), 0) AS biz_msg_unfollow_unread,
         COALESCE(sum(n) FILTER (WHERE sys > 0 AND follows), 0) AS biz_msg_follow_unread,
         COALESCE(sum(n) FILTER (WHERE sys = 8), 0) AS custom_unread
       FROM k`,
      [ownerUid],
    );
    const r = rows[0];
    const n = (v: string, keep: boolean) => (keep ? Number(v) : 0);
    const follow = unreadType !== 2;
    const unfollow = unreadType !== 1;
    return {
      unfollow_unread: n(r.unfollow_unread, unfollow),
      follow_unread: n(r.follow_unread, follow),
      unfollow_push_msg: n(r.unfollow_push_msg, unfollow),
      dustbin_push_msg: 0,
      dustbin_unread: n(r.dustbin_unread, unfollow),
      biz_msg_unfollow_unread: n(r.biz_msg_unfollow_unread, unfollow),
      biz_msg_follow_unread: n(r.biz_msg_follow_unread, follow),
      custom_unread: n(r.custom_unread, true),
    };
  }
}

@QueryHandler(SpecificUnreadQuery)
export class SpecificUnreadHandler implements IQueryHandler<SpecificUnreadQuery, SpecificUnread> {
  constructor(private readonly reader: SessionReader) {}

  async execute({ ownerUid, refs }: SpecificUnreadQuery): Promise<SpecificUnread> {
    const rows = await this.reader.byRefs(ownerUid, refs);
    const talkerUnreadCnt: Record<string, number> = {};
    let allUnreadCnt = 0;
    for (const r of rows) {
      const unread = Number(r.unread_count);
      // Keyed by talker as the seed's map is; a user and a group with one id add up.
      talkerUnreadCnt[r.talker_id] = (talkerUnreadCnt[r.talker_id] ?? 0) + unread;
      allUnreadCnt += unread;
    }
    return { talkerUnreadCnt, allUnreadCnt };
  }
}
