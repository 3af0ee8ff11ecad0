import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import {
  ArrayMaxSize,
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
import {
  UID_PATTERN,
  UID_RULE,
} from '../../../accounts/commands/issue-token/get-token.request.dto';
import type { EmoticonInfo } from '../../domain/emoticons';
import type { KeyHitInfos } from '../../domain/keyword-rules';
import type { SendMessageInput, SentMessage } from './send-message.command';

/** A mentioned user, or everyone. */
const AT_UID_PATTERN = new RegExp(`${UID_PATTERN.source}|^@all$`);

/** Sources a user's client may claim: clients and auto-replies, not official pushes. */
export const USER_MSG_SOURCES = [0, 1, 2, 3, 4, 7, 8, 9, 10, 11];

/** `POST /api/v1/messages`: the seed's send_msg fields, as JSON. */
export class SendMessageRequestDto {
  @ApiProperty({
    description: 'The receiving user id, or group id (receiver_type 2)',
    example: 'bob',
  })
  @IsString()
  @Matches(UID_PATTERN, { message: `receiver_id must be a user or group id: ${UID_RULE}` })
  receiver_id!: string;

  @ApiProperty({ description: '1: user, 2: group', enum: [1, 2] })
  @IsInt()
  @IsIn([1, 2])
  receiver_type!: 1 | 2;

  @ApiProperty({ description: 'Message type; 1 is text', example: 1 })
  @IsInt()
  @Min(0)
  @Max(100_000)
  msg_type!: number;

  @ApiProperty({
    description: 'The seed\'s content object as JSON text, e.g. {"content":"hello"} for text',
    example: '{"content":"hello"}',
  })
  @IsString()
  @MaxLength(60_000)
  content!: string;

  @ApiProperty({ description: 'A UUID per message: retrying with the same one never sends twice' })
  @IsUUID('all')
  dev_id!: string;

  @ApiPropertyOptional({
    description:
      'Groups: mentioned members (their session gets at_seqno); "@all" mentions everyone ' +
      '(owners and admins only). Ids that are not members are dropped.',
    type: [String],
  })
  @IsOptional()
  @IsArray()
  @ArrayMaxSize(100)
  @Matches(AT_UID_PATTERN, {
    each: true,
    message: `at_uids must hold user ids or "@all": ${UID_RULE}`,
  })
  at_uids?: string[];

  @ApiPropertyOptional({
    description:
      'Message source (seed 消息来源列表), default 0: a client (0-4, 7) or an auto-reply (8-11); ' +
      'the official sources are for system accounts through the admin API',
    enum: USER_MSG_SOURCES,
  })
  @IsOptional()
  @IsInt()
  @IsIn(USER_MSG_SOURCES)
  msg_source?: number;

  @ApiPropertyOptional({ description: 'Emoticon version, 0 or 1' })
  @IsOptional()
  @IsInt()
  @IsIn([0, 1])
  new_face_version?: number;
}

export class SendMessageResponseDto {
  @ApiProperty({ description: 'Unique 64-bit message id, as a string' })
  msg_key!: string;
  @ApiProperty({ description: 'Sequence number within the conversation' })
  msg_seqno!: number;
  @ApiProperty({ description: 'Send time in seconds' })
  timestamp!: number;
  @ApiPropertyOptional({ description: 'Emoticons in a text message (seed e_infos)' })
  e_infos?: EmoticonInfo[];
  @ApiPropertyOptional({ description: 'The stored content of a text message (seed msg_content)' })
  msg_content?: string;
  @ApiPropertyOptional({
    description: 'Keyword rule hit: {toast, rule_id, high_text} or {} (text messages only)',
  })
  key_hit_infos?: KeyHitInfos;
}

/** The seed's send_msg `data`, from a send's result. */
export function toSendResponse(sent: SentMessage): SendMessageResponseDto {
  return {
    msg_key: sent.msgKey,
    msg_seqno: sent.seqno,
    timestamp: Math.floor(sent.sentAtUs / 1_000_000),
    ...(sent.eInfos.length > 0 ? { e_infos: [...sent.eInfos] } : {}),
    ...(sent.msgContent !== null ? { msg_content: sent.msgContent } : {}),
    ...(sent.keyHitInfos !== null ? { key_hit_infos: sent.keyHitInfos } : {}),
  };
}

/** The send a user asks for with this body (REST `POST /api/v1/messages`, socket `send`). */
export function toSendInput(senderUid: string, body: SendMessageRequestDto): SendMessageInput {
  return {
    senderUid,
    receiverType: body.receiver_type,
    receiverId: body.receiver_id,
    msgType: body.msg_type,
    content: body.content,
    devId: body.dev_id.toLowerCase(),
    atUids: body.at_uids ?? null,
    msgSource: body.msg_source ?? 0,
    newFaceVersion: body.new_face_version ?? 0,
  };
}
