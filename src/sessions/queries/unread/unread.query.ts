import { Query } from '@nestjs/cqrs';
import type { SessionRef } from '../../sessions.events';

/** The seed's single_unread `data`, every field. */
export interface UnreadCounts {
  /** Unread in sessions with users the caller does not follow (not intercepted). */
  unfollow_unread: number;
  /** Unread in sessions with users the caller follows, and in groups. */
  follow_unread: number;
  /** Unread notices from system accounts the caller does not follow. */
  unfollow_push_msg: number;
  /** Intercepted notices: always 0, system accounts are never intercepted. */
  dustbin_push_msg: number;
  /** Unread in intercepted sessions (the dustbin). */
  dustbin_unread: number;
  biz_msg_unfollow_unread: number;
  biz_msg_follow_unread: number;
  /** Unread from customer-service accounts (system_msg_type 8). */
  custom_unread: number;
}

/** 0 every kind, 1 followed only, 2 not followed only (the seed's ENUM_UNREAD_TYPE). */
export type UnreadType = 0 | 1 | 2;

/** Unread counts over the caller's visible sessions; do-not-disturb sessions are not counted. */
export class UnreadQuery extends Query<UnreadCounts> {
  constructor(
    readonly ownerUid: string,
    readonly unreadType: UnreadType,
  ) {
    super();
  }
}

export interface SpecificUnread {
  /** talker_id → unread count, for each named session that exists. */
  talkerUnreadCnt: Record<string, number>;
  allUnreadCnt: number;
}

/** The seed's SpecificSingleUnread: unread counts of the named sessions and their total. */
export class SpecificUnreadQuery extends Query<SpecificUnread> {
  constructor(
    readonly ownerUid: string,
    readonly refs: readonly SessionRef[],
  ) {
    super();
  }
}
