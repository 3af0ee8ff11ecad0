import { Inject, Injectable } from '@nestjs/common';
import type { Pool } from 'pg';
import { Errors } from '../common/errors';
import { PG_POOL } from '../core/core.module';
import { EventStore } from '../event-store/event-store.port';
import { conversationStream, privateConversationId } from '../messaging/domain/conversation';
import type { SessionType } from '../messaging/messaging.events';
import { groupConversationId } from '../groups/groups.events';

export interface SessionState {
  readonly maxSeqno: number;
  readonly ackSeqno: number;
  readonly topTs: number;
  readonly isDnd: boolean;
  readonly isTrust: boolean;
  readonly hiddenUptoSeqno: number;
}

/**
 * What session commands check before they write: that the session exists (1000004 otherwise)
 * and how far its messages go. Read from the read model; a conversation's newest seqno, which the
 * read model may not have yet, from the log.
 */
@Injectable()
export class SessionLookup {
  constructor(
    @Inject(PG_POOL) private readonly pool: Pool,
    private readonly store: EventStore,
  ) {}

  async find(owner: string, type: SessionType, talker: string): Promise<SessionState | null> {
    const { rows } = await this.pool.query<{
      max_seqno: string;
      ack_seqno: string;
      top_ts: string;
      is_dnd: number;
      is_trust: number;
      hidden_upto_seqno: string;
    }>(
      `SELECT max_seqno, ack_seqno, top_ts, is_dnd, is_trust, hidden_upto_seqno FROM rm_session_view
        WHERE owner_uid = $1 AND session_type = $2 AND talker_id = $3`,
      [owner, type, talker],
    );
    const r = rows[0];
    if (!r) return null;
    return {
      maxSeqno: Number(r.max_seqno),
      ackSeqno: Number(r.ack_seqno),
      topTs: Number(r.top_ts),
      isDnd: r.is_dnd === 1,
      isTrust: r.is_trust === 1,
      hiddenUptoSeqno: Number(r.hidden_upto_seqno),
    };
  }

  async require(owner: string, type: SessionType, talker: string): Promise<SessionState> {
    const found = await this.find(owner, type, talker);
    if (found) return found;
    // A conversation whose first message the read model has not seen yet still exists.
    const newest = type === 1 ? await this.newestSeqno(owner, talker) : 0;
    // (A group session exists from the member's join: the view has it once projected.)
    if (newest === 0) throw Errors.sessionNotFound(talker, type);
    return {
      maxSeqno: newest,
      ackSeqno: 0,
      topTs: 0,
      isDnd: false,
      isTrust: false,
      hiddenUptoSeqno: 0,
    };
  }

  /** The newest seqno of a session's conversation, from the log (0 when it has none). */
  async newestSeqno(owner: string, talker: string, type: SessionType = 1): Promise<number> {
    const conversationId =
      type === 2 ? groupConversationId(talker) : privateConversationId(owner, talker);
    const [last] = await this.store.readStream(conversationStream(conversationId), {
      direction: 'backwards',
      limit: 1,
    });
    return last ? Number((last.data as { seqno: number }).seqno) : 0;
  }
}
