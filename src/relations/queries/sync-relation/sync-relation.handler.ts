import { Inject } from '@nestjs/common';
import { IQueryHandler, QueryHandler } from '@nestjs/cqrs';
import type { Pool } from 'pg';
import { PG_POOL } from '../../../core/core.module';
import {
  FriendRelation,
  MAX_INCREMENTAL_LOGS,
  RelationSync,
  SyncRelationQuery,
} from './sync-relation.query';

@QueryHandler(SyncRelationQuery)
export class SyncRelationHandler implements IQueryHandler<SyncRelationQuery, RelationSync> {
  constructor(@Inject(PG_POOL) private readonly pool: Pool) {}

  async execute({ uid, clientSeqno }: SyncRelationQuery): Promise<RelationSync> {
    const { rows: head } = await this.pool.query<{ seqno: string | null }>(
      'SELECT max(seqno) AS seqno FROM rm_relation_oplog WHERE owner_uid = $1',
      [uid],
    );
    const server = Number(head[0].seqno ?? 0);
    const base = { server_relation_oplog_seqno: server, group_list: [] };
    if (clientSeqno === server) {
      return { ...base, full: 0, relation_logs: [], friend_list: [] };
    }
    // A client holding nothing (0) gets the list, not the whole history of changes.
    if (clientSeqno > 0 && clientSeqno < server && server - clientSeqno <= MAX_INCREMENTAL_LOGS) {
      const { rows } = await this.pool.query<{
        seqno: string;
        target_uid: string;
        op: number;
        at_us: string;
      }>(
        `SELECT seqno, target_uid, op, at_us FROM rm_relation_oplog
          WHERE owner_uid = $1 AND seqno > $2 ORDER BY seqno`,
        [uid, clientSeqno],
      );
      return {
        ...base,
        full: 0,
        relation_logs: rows.map((r) => ({
          seqno: Number(r.seqno),
          uid: r.target_uid,
          op: r.op,
          ts: Number(r.at_us),
        })),
        friend_list: [],
      };
    }
    // New, too far behind, or ahead of the server (a client from another install): start over.
    const { rows } = await this.pool.query<{ target_uid: string; kinds: number[] }>(
      `SELECT target_uid, array_agg(kind) AS kinds FROM rm_relations
        WHERE owner_uid = $1 GROUP BY target_uid ORDER BY target_uid`,
      [uid],
    );
    const friendList: FriendRelation[] = rows.map((r) => ({
      uid: r.target_uid,
      is_follow: r.kinds.includes(1) ? 1 : 0,
      is_block: r.kinds.includes(2) ? 1 : 0,
    }));
    return { ...base, full: 1, relation_logs: [], friend_list: friendList };
  }
}
