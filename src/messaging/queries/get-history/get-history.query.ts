import { Query } from '@nestjs/cqrs';
import type { MessageView } from '../../message.view';
import type { SessionType } from '../../messaging.events';

export interface History {
  messages: MessageView[];
  has_more: 0 | 1;
  /** Smallest and largest seqno on this page; null when the page is empty. */
  min_seqno: number | null;
  max_seqno: number | null;
}

/**
 * A page of one session's history, newest first. `beginSeqno` and `endSeqno` are exclusive, as in
 * the seed: with `beginSeqno` the page holds the oldest `size` messages after it.
 */
export class GetHistoryQuery extends Query<History> {
  constructor(
    readonly ownerUid: string,
    readonly sessionType: SessionType,
    readonly talkerId: string,
    readonly size: number,
    readonly beginSeqno: number | null,
    readonly endSeqno: number | null,
  ) {
    super();
  }
}
