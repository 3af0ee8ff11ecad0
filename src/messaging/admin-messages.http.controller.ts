import { Body, Controller, HttpCode, Param, Post, UseGuards } from '@nestjs/common';
import { CommandBus } from '@nestjs/cqrs';
import {
  ApiHeader,
  ApiOperation,
  ApiProperty,
  ApiPropertyOptional,
  ApiTags,
} from '@nestjs/swagger';
import {
  ArrayMaxSize,
  ArrayMinSize,
  IsArray,
  IsIn,
  IsInt,
  IsOptional,
  IsString,
  IsUUID,
  Matches,
  Max,
  MaxLength,
  Min,
} from 'class-validator';
import { AdminKeyGuard } from '../accounts/auth.guards';
import { UID_PATTERN, UID_RULE } from '../accounts/commands/issue-token/get-token.request.dto';
import { Errors } from '../common/errors';
import { Public, RequestMetadata } from '../common/http/request-context';
import type { EventMetadata } from '../event-store/event-store.port';
import {
  BroadcastCommand,
  BroadcastOutcome,
  MAX_BROADCAST_RECEIVERS,
} from './commands/broadcast/broadcast.command';
import {
  SendMessageCommand,
  SendMessageInput,
  SentMessage,
} from './commands/send-message/send-message.command';
import {
  SendMessageResponseDto,
  toSendResponse,
} from './commands/send-message/send-message.request.dto';
import { SysCancelCommand } from './commands/sys-cancel/sys-cancel.command';
import { parseMsgKey } from './msg-key';

/** The seed's message sources that mean an official or automatic sender. */
const SYSTEM_MSG_SOURCES = [5, 6, 12, 13, 16, 17, 18, 19];

export class SystemMessageDto {
  @ApiProperty({ description: 'A system account (its profile has system_msg_type > 0)' })
  @Matches(UID_PATTERN, { message: `sender_uid must be a user id: ${UID_RULE}` })
  sender_uid!: string;

  @ApiProperty({ description: 'Message type: 10 notification, or any type a user may send' })
  @IsInt()
  @Min(0)
  @Max(100_000)
  msg_type!: number;

  @ApiProperty({ description: "The seed's content object as JSON text" })
  @IsString()
  @MaxLength(60_000)
  content!: string;

  @ApiProperty({ description: 'A UUID per message: a retry never sends twice' })
  @IsUUID('all')
  dev_id!: string;

  @ApiPropertyOptional({ description: 'Message source, default 5 (official push)' })
  @IsOptional()
  @IsInt()
  @IsIn(SYSTEM_MSG_SOURCES)
  msg_source?: number;

  @ApiPropertyOptional({ description: 'Business code <main>_<sub>, e.g. 2091_253' })
  @IsOptional()
  @Matches(/^[0-9]{1,9}_[0-9]{1,9}$/, { message: 'notify_code must look like 2091_253' })
  notify_code?: string;
}

export class SendSystemMessageDto extends SystemMessageDto {
  @ApiProperty({ description: 'The receiving user' })
  @Matches(UID_PATTERN, { message: `receiver_id must be a user id: ${UID_RULE}` })
  receiver_id!: string;
}

export class BroadcastDto extends SystemMessageDto {
  @ApiProperty({ type: [String], description: `1 to ${MAX_BROADCAST_RECEIVERS} distinct users` })
  @IsArray()
  @ArrayMinSize(1)
  @ArrayMaxSize(MAX_BROADCAST_RECEIVERS)
  @Matches(UID_PATTERN, { each: true, message: `receiver_ids must hold user ids: ${UID_RULE}` })
  receiver_ids!: string[];
}

function input(d: SystemMessageDto): Omit<SendMessageInput, 'receiverId'> {
  return {
    senderUid: d.sender_uid,
    receiverType: 1,
    msgType: d.msg_type,
    content: d.content,
    devId: d.dev_id.toLowerCase(),
    atUids: null,
    msgSource: d.msg_source ?? 5,
    newFaceVersion: 1,
    notifyCode: d.notify_code ?? '',
    system: true,
  };
}

/** Messages from system accounts and system recalls, for operators (admin key). */
@ApiTags('admin: messages')
@ApiHeader({ name: 'X-Admin-Key', required: true })
@Public()
@UseGuards(AdminKeyGuard)
@Controller('admin/v1/messages')
export class AdminMessagesHttpController {
  constructor(private readonly commands: CommandBus) {}

  @Post()
  @ApiOperation({ summary: 'One message from a system account to one user (SendP2PMessage)' })
  async send(
    @Body() body: SendSystemMessageDto,
    @RequestMetadata() metadata: EventMetadata,
  ): Promise<SendMessageResponseDto> {
    const sent: SentMessage = await this.commands.execute(
      new SendMessageCommand({ ...input(body), receiverId: body.receiver_id }, metadata),
    );
    return toSendResponse(sent);
  }

  @Post('broadcast')
  @HttpCode(200)
  @ApiOperation({
    summary: 'The same message to many users (SendBroadCastMessage), with a result per user',
  })
  async broadcast(
    @Body() body: BroadcastDto,
    @RequestMetadata() metadata: EventMetadata,
  ): Promise<{ results: BroadcastOutcome[] }> {
    if (new Set(body.receiver_ids).size !== body.receiver_ids.length) {
      throw Errors.validation('receiver_ids must not repeat a user');
    }
    const results: BroadcastOutcome[] = await this.commands.execute(
      new BroadcastCommand(input(body), body.receiver_ids, metadata),
    );
    return { results };
  }

  @Post(':msg_key/sys-cancel')
  @HttpCode(200)
  @ApiOperation({ summary: 'System recall: the message disappears from history (sys_cancel)' })
  async sysCancel(
    @Param('msg_key') msgKey: string,
    @RequestMetadata() metadata: EventMetadata,
  ): Promise<SendMessageResponseDto> {
    const key = parseMsgKey(msgKey);
    if (key === null) throw Errors.validation('msg_key must be a positive 64-bit integer');
    return toSendResponse(await this.commands.execute(new SysCancelCommand(key, metadata)));
  }
}
