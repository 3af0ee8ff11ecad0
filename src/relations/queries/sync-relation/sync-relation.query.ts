import { Query } from '@nestjs/cqrs';

/** The seed's RelationLog: one change of the caller's relations. */
export interface RelationLog {
  seqno: number;
  uid: string;
  /** 1 follow, 2 unfollow, 3 block, 4 unblock. */
  op: number;
  /** Microseconds. */
  ts: number;
}

/** The seed's FriendRelation: one user in the caller's full relation list. */
export interface FriendRelation {
  uid: string;
  is_follow: 0 | 1;
  is_block: 0 | 1;
}

/** The seed's RspRelationSync (group_list waits for groups). */
export interface RelationSync {
  /** 1: the client is too far behind (or ahead); friend_list is the whole list. */
  full: 0 | 1;
  relation_logs: RelationLog[];
  friend_list: FriendRelation[];
  server_relation_oplog_seqno: number;
  group_list: never[];
}

/** A client this many changes behind gets the full list instead of the log. */
export const MAX_INCREMENTAL_LOGS = 500;

/** The caller's relation changes after `clientSeqno`, or everything when that is too old. */
export class SyncRelationQuery extends Query<RelationSync> {
  constructor(
    readonly uid: string,
    readonly clientSeqno: number,
  ) {
    super();
  }
}
