import { Body, Controller, HttpCode, Post, UseGuards, UseInterceptors } from '@nestjs/common';
import { CommandBus } from '@nestjs/cqrs';
import { ApiBearerAuth, ApiOperation, ApiTags } from '@nestjs/swagger';
import { isUUID } from 'class-validator';
import { z } from 'zod';
import { Errors } from '../../common/errors';
import { AuthUser, CurrentUser, Public, RequestMetadata } from '../../common/http/request-context';
import type { EventMetadata } from '../../event-store/event-store.port';
import {
  SendMessageCommand,
  SentMessage,
} from '../../messaging/commands/send-message/send-message.command';
import { BilibiliAuthGuard } from './bilibili-auth.guard';
import { BilibiliEnvelopeInterceptor } from './bilibili-envelope';
import { oneOf, readParams, text, uid, uint } from './bilibili-params';
import { wireSent } from './bilibili.serializers';

/** The seed's 消息来源 of a message sent from the web client. */
const MSG_SOURCE_WEB = 7;

const devId = () =>
  text(64).refine((v) => isUUID(v, 'all'), { message: 'must be a UUID (the seed: version 4)' });

/** `api.vc.bilibili.com/web_im/v1/web_im/*`: sending (and recalling) as the web client does. */
@ApiTags('compat: bilibili')
@ApiBearerAuth()
@Public()
@UseGuards(BilibiliAuthGuard)
@UseInterceptors(BilibiliEnvelopeInterceptor)
@Controller('web_im/v1/web_im')
export class WebImHttpController {
  constructor(private readonly commands: CommandBus) {}

  @Post('send_msg')
  @HttpCode(200)
  @ApiOperation({
    summary:
      'Send a message (seed 发送私信(web端)), form body msg[...]; msg[msg_type]=5 with the ' +
      'msg_key as msg[content] recalls; a retried msg[dev_id] returns the first msg_key',
  })
  async sendMsg(
    @CurrentUser() user: AuthUser,
    @Body() body: unknown,
    @RequestMetadata() metadata: EventMetadata,
  ) {
    const b = readParams(body, {
      'msg[sender_uid]': uid(),
      'msg[receiver_id]': uid(),
      'msg[receiver_type]': oneOf([1, 2] as const),
      'msg[msg_type]': uint(100_000),
      // "恒为 0": a client may leave it out.
      'msg[msg_status]': oneOf([0] as const).optional(),
      'msg[dev_id]': devId(),
      // The client's clock: required by the seed, not trusted here (the server's time is kept).
      'msg[timestamp]': uint().optional(),
      'msg[new_face_version]': oneOf([0, 1] as const).optional(),
      'msg[content]': text(60_000),
    } satisfies z.ZodRawShape);
    if (b['msg[sender_uid]'] !== user.uid) {
      throw Errors.validation(
        `msg[sender_uid] must be your own id (${user.uid}), not ${b['msg[sender_uid]']}`,
      );
    }
    const sent: SentMessage = await this.commands.execute(
      new SendMessageCommand(
        {
          senderUid: user.uid,
          receiverType: b['msg[receiver_type]'],
          receiverId: b['msg[receiver_id]'],
          msgType: b['msg[msg_type]'],
          content: b['msg[content]'],
          devId: b['msg[dev_id]'].toLowerCase(),
          atUids: null,
          msgSource: MSG_SOURCE_WEB,
          newFaceVersion: b['msg[new_face_version]'] ?? 0,
        },
        metadata,
      ),
    );
    return wireSent(sent);
  }
}
