import { CommandBus, CommandHandler, ICommandHandler } from '@nestjs/cqrs';
import { DomainError } from '../../../common/errors';
import { uuidV5 } from '../../../common/ids';
import { SendMessageCommand, SentMessage } from '../send-message/send-message.command';
import { BroadcastCommand, BroadcastOutcome } from './broadcast.command';

/** Sends run this many at a time: a broadcast must not take every connection of the pool. */
const CONCURRENCY = 16;

@CommandHandler(BroadcastCommand)
export class BroadcastHandler implements ICommandHandler<BroadcastCommand, BroadcastOutcome[]> {
  constructor(private readonly commands: CommandBus) {}

  async execute(c: BroadcastCommand): Promise<BroadcastOutcome[]> {
    const outcomes: BroadcastOutcome[] = new Array(c.receiverIds.length);
    let next = 0;
    const worker = async () => {
      for (let i = next++; i < c.receiverIds.length; i = next++) {
        outcomes[i] = await this.sendOne(c, c.receiverIds[i]);
      }
    };
    await Promise.all(Array.from({ length: Math.min(CONCURRENCY, c.receiverIds.length) }, worker));
    return outcomes;
  }

  private async sendOne(c: BroadcastCommand, receiverId: string): Promise<BroadcastOutcome> {
    try {
      const sent: SentMessage = await this.commands.execute(
        new SendMessageCommand(
          { ...c.message, receiverId, devId: uuidV5(receiverId, c.message.devId) },
          c.metadata,
        ),
      );
      return {
        receiver_id: receiverId,
        code: 0,
        message: sent.duplicate ? 'already sent' : 'sent',
        msg_key: sent.msgKey,
        msg_seqno: sent.seqno,
      };
    } catch (err) {
      // A domain refusal is this receiver's outcome; anything else fails the request.
      if (!(err instanceof DomainError)) throw err;
      return { receiver_id: receiverId, code: err.code, message: err.message };
    }
  }
}
