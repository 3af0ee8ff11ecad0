import { Inject } from '@nestjs/common';
import { CommandHandler, ICommandHandler } from '@nestjs/cqrs';
import type { Pool } from 'pg';
import { Clock } from '../../../core/clock';
import { PG_POOL } from '../../../core/core.module';
import { SessionEventsWriter } from '../../session-events.writer';
import { SessionLookup } from '../../session-lookup';
import { SESSIONS_REMOVED, SessionsRemovedData } from '../../sessions.events';
import { RemoveSessionsCommand } from './remove-sessions.command';

type Removal = SessionsRemovedData['sessions'][number];

/** The events carry at most this many sessions each, so no event grows without bound. */
const PER_EVENT = 500;

@CommandHandler(RemoveSessionsCommand)
export class RemoveSessionsHandler implements ICommandHandler<
  RemoveSessionsCommand,
  { removed: number }
> {
  constructor(
    private readonly sessions: SessionLookup,
    private readonly writer: SessionEventsWriter,
    private readonly clock: Clock,
    @Inject(PG_POOL) private readonly pool: Pool,
  ) {}

  async execute(c: RemoveSessionsCommand): Promise<{ removed: number }> {
    const removals = c.sessions ? await this.named(c) : await this.unfollowed(c.ownerUid);
    for (let i = 0; i < removals.length; i += PER_EVENT) {
      const data: SessionsRemovedData = {
        ownerUid: c.ownerUid,
        sessions: removals.slice(i, i + PER_EVENT),
        atUs: this.clock.nowUs(),
      };
      await this.writer.append(c.ownerUid, SESSIONS_REMOVED, data, c.metadata);
    }
    return { removed: removals.length };
  }

  /** Every named session must exist (1000004 names the first that does not). */
  private async named(c: RemoveSessionsCommand): Promise<Removal[]> {
    const out: Removal[] = [];
    for (const ref of c.sessions ?? []) {
      const s = await this.sessions.require(c.ownerUid, ref.sessionType, ref.talkerId);
      if (s.maxSeqno > s.hiddenUptoSeqno) out.push({ ...ref, uptoSeqno: s.maxSeqno });
    }
    return out;
  }

  private async unfollowed(owner: string): Promise<Removal[]> {
    const { rows } = await this.pool.query<{ talker_id: string; max_seqno: string }>(
      `SELECT s.talker_id, s.max_seqno FROM rm_sessions s
        WHERE s.owner_uid = $1 AND s.session_type = 1 AND s.max_seqno > s.hidden_upto_seqno
          AND NOT EXISTS (SELECT 1 FROM rm_relations r
                           WHERE r.owner_uid = s.owner_uid AND r.kind = 1
                             AND r.target_uid = s.talker_id)
          AND NOT EXISTS (SELECT 1 FROM rm_profiles p
                           WHERE p.uid = s.talker_id AND p.system_msg_type > 0)`,
      [owner],
    );
    return rows.map((r) => ({
      sessionType: 1 as const,
      talkerId: r.talker_id,
      uptoSeqno: Number(r.max_seqno),
    }));
  }
}
