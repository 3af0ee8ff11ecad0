import { Inject } from '@nestjs/common';
import { IQueryHandler, QueryHandler } from '@nestjs/cqrs';
import type { Pool } from 'pg';
import { PG_POOL } from '../../../core/core.module';
import { VISIBLE } from '../../session-reader';
import { ShareList, ShareListQuery } from './share-list.query';

@QueryHandler(ShareListQuery)
export class ShareListHandler implements IQueryHandler<ShareListQuery, ShareList> {
  constructor(@Inject(PG_POOL) private readonly pool: Pool) {}

  async execute(q: ShareListQuery): Promise<ShareList> {
    // System accounts are not people to share with; blocked users neither.
    const { rows } = await this.pool.query<{
      talker_id: string;
      name: string | null;
      face: string | null;
      official_type: number | null;
    }>(
      `SELECT s.talker_id, p.name, p.face, p.official_type
         FROM rm_sessions s
         LEFT JOIN rm_profiles p ON p.uid = s.talker_id
        WHERE s.owner_uid = $1 AND s.session_type = 1 AND ${VISIBLE}
          AND COALESCE(p.system_msg_type, 0) = 0
          AND NOT EXISTS (SELECT 1 FROM rm_relations b WHERE b.owner_uid = s.owner_uid
                             AND b.kind = 2 AND b.target_uid = s.talker_id)
        ORDER BY s.session_ts DESC, s.talker_id DESC
        LIMIT $2`,
      [q.ownerUid, q.size],
    );
    return {
      session_list: rows.map((r) => ({
        talker_id: r.talker_id,
        talker_uname: r.name ?? r.talker_id,
        talker_icon: r.face ?? '',
        official_type: r.official_type ?? -1,
      })),
      is_address_list_empty: rows.length === 0 ? 1 : 0,
    };
  }
}
