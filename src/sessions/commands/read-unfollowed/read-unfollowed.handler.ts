import { Inject } from '@nestjs/common';
import { CommandHandler, ICommandHandler } from '@nestjs/cqrs';
import type { Pool } from 'pg';
import { Clock } from '../../../core/clock';
import { PG_POOL } from '../../../core/core.module';
import { SessionEventsWriter } from '../../session-events.writer';
import { SESSION_ACKED, SessionAckedData } from '../../sessions.events';
import { ReadUnfollowedCommand } from './read-unfollowed.command';

const PER_EVENT = 500;

/**
 * Resolves "unfollowed sessions with unread messages" from the read models now and records the
 * explicit acks, so that replaying the event gives the same result whatever relations are then.
 */
@CommandHandler(ReadUnfollowedCommand)
export class ReadUnfollowedHandler implements ICommandHandler<
  ReadUnfollowedCommand,
  { sessions: number }
> {
  constructor(
    private readonly writer: SessionEventsWriter,
    private readonly clock: Clock,
    @Inject(PG_POOL) private readonly pool: Pool,
  ) {}

  async execute(c: ReadUnfollowedCommand): Promise<{ sessions: number }> {
    const { rows } = await this.pool.query<{ talker_id: string; max_seqno: string }>(
      `SELECT s.talker_id, s.max_seqno FROM rm_sessions s
        WHERE s.owner_uid = $1 AND s.session_type = 1 AND s.max_seqno > s.ack_seqno
          AND NOT EXISTS (SELECT 1 FROM rm_relations r
                           WHERE r.owner_uid = s.owner_uid AND r.kind = 1
                             AND r.target_uid = s.talker_id)`,
      [c.ownerUid],
    );
    const acks = rows.map((r) => ({
      sessionType: 1 as const,
      talkerId: r.talker_id,
      ackSeqno: Number(r.max_seqno),
    }));
    for (let i = 0; i < acks.length; i += PER_EVENT) {
      const data: SessionAckedData = {
        ownerUid: c.ownerUid,
        acks: acks.slice(i, i + PER_EVENT),
        atUs: this.clock.nowUs(),
      };
      await this.writer.append(c.ownerUid, SESSION_ACKED, data, c.metadata);
    }
    return { sessions: acks.length };
  }
}
