import { CommandHandler, ICommandHandler } from '@nestjs/cqrs';
import { Errors } from '../../../common/errors';
import { Clock } from '../../../core/clock';
import { SessionEventsWriter } from '../../session-events.writer';
import { SessionLookup } from '../../session-lookup';
import { SESSION_ACKED, SessionAckedData } from '../../sessions.events';
import { AckResult, UpdateAckCommand } from './update-ack.command';

@CommandHandler(UpdateAckCommand)
export class UpdateAckHandler implements ICommandHandler<UpdateAckCommand, AckResult> {
  constructor(
    private readonly sessions: SessionLookup,
    private readonly writer: SessionEventsWriter,
    private readonly clock: Clock,
  ) {}

  async execute(c: UpdateAckCommand): Promise<AckResult> {
    const session = await this.sessions.require(c.ownerUid, c.sessionType, c.talkerId);
    // Read progress must not pass the newest message (OpenIM's "read seq must not be bigger than
    // max seq"); the read model may lag the log, so the log decides when they disagree.
    if (c.ackSeqno > session.maxSeqno) {
      const newest =
        c.sessionType === 1 ? await this.sessions.newestSeqno(c.ownerUid, c.talkerId) : 0;
      if (c.ackSeqno > newest) {
        throw Errors.validation(
          `ack_seqno ${c.ackSeqno} is beyond the session's newest message (${Math.max(newest, session.maxSeqno)})`,
        );
      }
    }
    if (c.ackSeqno <= session.ackSeqno) return { ackSeqno: session.ackSeqno, changed: false };
    const data: SessionAckedData = {
      ownerUid: c.ownerUid,
      acks: [{ sessionType: c.sessionType, talkerId: c.talkerId, ackSeqno: c.ackSeqno }],
      atUs: this.clock.nowUs(),
    };
    await this.writer.append(c.ownerUid, SESSION_ACKED, data, c.metadata);
    return { ackSeqno: c.ackSeqno, changed: true };
  }
}
