import { Inject } from '@nestjs/common';
import { CommandHandler, ICommandHandler } from '@nestjs/cqrs';
import type { Pool } from 'pg';
import { Errors } from '../../../common/errors';
import { MsgKeyGenerator, uuidV5 } from '../../../common/ids';
import { Clock } from '../../../core/clock';
import { PG_POOL } from '../../../core/core.module';
import { ConversationStore } from '../../conversation.store';
import type { SessionType } from '../../messaging.events';
import type { SentMessage } from '../send-message/send-message.command';
import { SysCancelCommand } from './sys-cancel.command';

/** Namespace of system recalls' dev_ids: one per recalled msg_key, so a retry is recognised. */
const SYS_CANCEL_NAMESPACE = '3f0b9a44-1c7e-4d52-8e0f-6a2d9c1b7e35';

@CommandHandler(SysCancelCommand)
export class SysCancelHandler implements ICommandHandler<SysCancelCommand, SentMessage> {
  constructor(
    private readonly conversations: ConversationStore,
    private readonly keys: MsgKeyGenerator,
    private readonly clock: Clock,
    @Inject(PG_POOL) private readonly pool: Pool,
  ) {}

  async execute(c: SysCancelCommand): Promise<SentMessage> {
    const { rows } = await this.pool.query<{
      conversation_id: string;
      sender_uid: string;
      receiver_type: SessionType;
      receiver_id: string;
      msg_seqno: string;
      msg_type: number;
      msg_status: number;
      sent_at_us: string;
    }>(
      `SELECT conversation_id, sender_uid, receiver_type, receiver_id, msg_seqno, msg_type,
              msg_status, sent_at_us
         FROM rm_messages WHERE msg_key = $1`,
      [c.msgKey],
    );
    const m = rows[0];
    if (!m) throw Errors.msgKeyNotFound(c.msgKey);
    if (m.msg_type === 5) throw Errors.validation('a recall notice cannot itself be recalled');
    const { result, position } = await this.conversations.execute(
      {
        kind: 'RecallMessage',
        conversationId: m.conversation_id,
        senderUid: m.sender_uid,
        receiverType: m.receiver_type,
        receiverId: m.receiver_id,
        targetMsgKey: c.msgKey,
        msgKey: this.keys.next(),
        nowUs: this.clock.nowUs(),
        devId: uuidV5(c.msgKey, SYS_CANCEL_NAMESPACE),
        msgSource: 5,
        system: true,
        windowUs: 0,
        knownTarget: {
          seqno: Number(m.msg_seqno),
          senderUid: m.sender_uid,
          sentAtUs: Number(m.sent_at_us),
          recalled: m.msg_status !== 0,
        },
      },
      c.metadata,
    );
    return { ...result, position, eInfos: [], keyHitInfos: null, msgContent: null };
  }
}
