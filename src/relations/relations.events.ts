/**
 * Relation and privacy events, on the user's own stream (`user-<uid>`) next to the account's.
 * Type strings are frozen. Every relation change carries the user's relation op-log sequence
 * number, so a client can sync only what changed since the number it holds (SyncRelation).
 */
export const FOLLOWED = 'Followed';
export const UNFOLLOWED = 'Unfollowed';
export const BLOCKED = 'Blocked';
export const UNBLOCKED = 'Unblocked';
export const PRIVACY_CHANGED = 'PrivacyChanged';
export const PROFILE_UPDATED = 'ProfileUpdated';

/** The op-log's operation codes, as SyncRelation returns them. */
export const RelationOp = { follow: 1, unfollow: 2, block: 3, unblock: 4 } as const;

export interface RelationChangedData {
  readonly uid: string;
  readonly targetUid: string;
  /** The user's relation op-log sequence number of this change, from 1. */
  readonly oplogSeqno: number;
  readonly atUs: number;
}

export interface PrivacyChangedData {
  readonly uid: string;
  /** Only users this user follows may message them (the seed's 25003). */
  readonly followedOnly: boolean;
  /** Sessions of senders this user does not follow are intercepted (`is_intercept`, dustbin). */
  readonly intercept: boolean;
  readonly atUs: number;
}

/**
 * A user's public profile, set by the inner API. System accounts (`systemMsgType` > 0: 1 live
 * assistant, 7 UP assistant, 8 customer service, as in the seed) send notices and bypass rules.
 */
export interface ProfileUpdatedData {
  readonly uid: string;
  readonly name: string;
  readonly face: string;
  /** -1 none, 0 personal, 1 organisation (the seed's share list `official_type`). */
  readonly officialType: number;
  readonly systemMsgType: number;
  readonly atUs: number;
}
