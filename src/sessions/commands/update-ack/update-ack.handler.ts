import { CommandHandler, ICommandHandler } from '@nestjs/cqrs';
import { Errors } from '../../../common/errors';
import { Lru } from '../../../common/lru';
import { GroupStore } from '../../../groups/group.store';
import { Clock } from '../../../core/clock';
import { SessionEventsWriter } from '../../session-events.writer';
import { SessionLookup } from '../../session-lookup';
import { SESSION_ACKED, SessionAckedData } from '../../sessions.events';
import { AckResult, UpdateAckCommand } from './update-ack.command';

/**
 * An ack at or below what is already acked writes nothing (the projection keeps the maximum, so
 * skipping it is always safe). "Already acked" is the read model's value or, when the read model
 * lags, the newest ack this node wrote.
 */
@CommandHandler(UpdateAckCommand)
export class UpdateAckHandler implements ICommandHandler<UpdateAckCommand, AckResult> {
  private readonly written = new Lru<string, number>(100_000);

  constructor(
    private readonly sessions: SessionLookup,
    private readonly writer: SessionEventsWriter,
    private readonly clock: Clock,
    private readonly groups: GroupStore,
  ) {}

  async execute(c: UpdateAckCommand): Promise<AckResult> {
    const session = await this.sessions.require(c.ownerUid, c.sessionType, c.talkerId);
    // Read progress must not pass the newest message (OpenIM's "read seq must not be bigger than
    // max seq"); the read model may lag the log, so the log decides when they disagree.
    if (c.ackSeqno > session.maxSeqno) {
      // The log knows newer messages than the read model; a group's only for its members (a
      // former member's session ends where they left).
      const member =
        c.sessionType !== 2 ||
        (await this.groups
          .read(c.talkerId)
          .then((g) => g.status === 'exists' && g.members.has(c.ownerUid)));
      const newest = member
        ? await this.sessions.newestSeqno(c.ownerUid, c.talkerId, c.sessionType)
        : session.maxSeqno;
      if (c.ackSeqno > newest) {
        throw Errors.validation(
          `ack_seqno ${c.ackSeqno} is beyond the session's newest message (${Math.max(newest, session.maxSeqno)})`,
        );
      }
    }
    const key = `${c.ownerUid}\u0000${c.sessionType}\u0000${c.talkerId}`;
    const acked = Math.max(session.ackSeqno, this.written.get(key) ?? 0);
    if (c.ackSeqno <= acked) return { ackSeqno: acked, changed: false };
    const data: SessionAckedData = {
      ownerUid: c.ownerUid,
      acks: [{ sessionType: c.sessionType, talkerId: c.talkerId, ackSeqno: c.ackSeqno }],
      atUs: this.clock.nowUs(),
    };
    await this.writer.append(c.ownerUid, SESSION_ACKED, data, c.metadata);
    this.written.set(key, Math.max(c.ackSeqno, this.written.get(key) ?? 0));
    return { ackSeqno: c.ackSeqno, changed: true };
  }
}
