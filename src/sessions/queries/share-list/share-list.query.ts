import { Query } from '@nestjs/cqrs';

/** The seed's ShareSessionInfo. */
export interface ShareSession {
  talker_id: string;
  talker_uname: string;
  talker_icon: string;
  /** -1 none, 0 personal, 1 organisation. */
  official_type: number;
}

export interface ShareList {
  session_list: ShareSession[];
  /** 1 when the caller has no one-to-one session at all. */
  is_address_list_empty: 0 | 1;
}

export const MAX_SHARE_LIST = 20;

/** The users the caller chatted with most recently, to share something with (at most 20). */
export class ShareListQuery extends Query<ShareList> {
  constructor(
    readonly ownerUid: string,
    readonly size: number,
  ) {
    super();
  }
}
