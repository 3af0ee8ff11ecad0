import { ApiProperty, ApiPropertyOptional, ApiPropertyOptions } from '@nestjs/swagger';
import {
  ArrayMaxSize,
  ArrayNotEmpty,
  IsArray,
  IsBoolean,
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
import { UID_PATTERN, UID_RULE } from '../../accounts/commands/issue-token/get-token.request.dto';
import { GROUP_ID_PATTERN, GROUP_ID_RULE } from '../../groups/groups.events';

/**
 * Request bodies of the seed gateway (go-im-gateway-api.md), field names as the seed spells them.
 * Every list is bounded ({@link MAX_LIST}); unknown fields are refused (400 40000) by the global
 * validation pipe, as everywhere in this server.
 */

/** The most ids one request may name, and the most conversations one list answers. */
export const MAX_LIST = 1000;

/** A msg id as this server issues it: the decimal text of a positive 64-bit msg_key. */
const MSG_ID_PATTERN = /^[1-9][0-9]{0,18}$/;
const MSG_ID_RULE = 'a msg id is the decimal msg_key this server returned (MsgID, MsgId)';

/** group_type is a 32-bit column: the seed's int64 conversation_type is held to that range. */
const MAX_CONVERSATION_TYPE = 2_147_483_647;

const conversationIdDoc = {
  description: `The conversation (group) id this server returned: ${GROUP_ID_RULE}`,
  example: '7049126873493225472',
};

export class ConversationRefDto {
  @ApiProperty(conversationIdDoc)
  @IsString()
  @Matches(GROUP_ID_PATTERN, { message: `conversation_id: ${GROUP_ID_RULE}` })
  conversation_id!: string;
}

export class CreateConversationDto {
  @ApiProperty({ description: 'Conversation type, kept as the group type', example: 0 })
  @IsInt()
  @Min(0)
  @Max(MAX_CONVERSATION_TYPE)
  conversation_type!: number;
}

export class JoinedConversationsDto {
  @ApiProperty({ description: 'The caller’s own user id (another user’s: 403)', example: 'alice' })
  @IsString()
  @Matches(UID_PATTERN, { message: `SessionId must be a user id: ${UID_RULE}` })
  SessionId!: string;
}

export class SendMsgDto extends ConversationRefDto {
  @ApiPropertyOptional({ description: 'Message status on sending: 0 (the only one a sender sets)' })
  @IsOptional()
  @IsInt()
  @IsIn([0])
  status?: number;

  @ApiProperty({
    description: 'Message type: 1 text (content is the plain text), 5 recall (content the MsgID)',
    example: 1,
  })
  @IsInt()
  @Min(0)
  @Max(100_000)
  type!: number;

  @ApiProperty({
    description: 'Type 1: the text itself; other types: the content JSON text of that type',
    example: '消息内容',
  })
  @IsString()
  @MaxLength(60_000)
  content!: string;

  @ApiPropertyOptional({
    description: 'Not in the seed: a UUID per message; a retry with the same one never sends twice',
  })
  @IsOptional()
  @IsUUID('all')
  dev_id?: string;
}

export class MsgOrderDto extends ConversationRefDto {
  @ApiPropertyOptional({ description: 'true: newest first; false (default): oldest first' })
  @IsOptional()
  @IsBoolean()
  desc?: boolean;
}

export class MsgByRangeDto extends MsgOrderDto {
  @ApiProperty({ description: 'First message of the range (inclusive)', example: '123456789' })
  @IsString()
  @Matches(MSG_ID_PATTERN, { message: `start_msg_id: ${MSG_ID_RULE}` })
  start_msg_id!: string;

  @ApiProperty({ description: 'Last message of the range (inclusive)', example: '123456999' })
  @IsString()
  @Matches(MSG_ID_PATTERN, { message: `end_msg_id: ${MSG_ID_RULE}` })
  end_msg_id!: string;
}

export class MsgAroundDto extends MsgOrderDto {
  @ApiProperty({ description: 'The message to read before or after (not included)' })
  @IsString()
  @Matches(MSG_ID_PATTERN, { message: `msg_id: ${MSG_ID_RULE}` })
  msg_id!: string;
}

// ---- inner (administrator) requests ----------------------------------------------------------

const sessionsDoc: ApiPropertyOptions = {
  description: `User ids (1-${MAX_LIST}): ${UID_RULE}`,
  type: [String],
  example: ['alice', 'bob'],
};

export class InnerCreateConversationDto extends CreateConversationDto {
  @ApiProperty({
    description: `The owner first, then the members (1-${MAX_LIST}): ${UID_RULE}`,
    type: [String],
    example: ['alice', 'bob'],
  })
  @IsArray()
  @ArrayNotEmpty()
  @ArrayMaxSize(MAX_LIST)
  @IsString({ each: true })
  @Matches(UID_PATTERN, { each: true, message: `each of sessions must be a user id: ${UID_RULE}` })
  sessions!: string[];
}

export class InnerMembersDto extends ConversationRefDto {
  @ApiProperty(sessionsDoc)
  @IsArray()
  @ArrayNotEmpty()
  @ArrayMaxSize(MAX_LIST)
  @IsString({ each: true })
  @Matches(UID_PATTERN, { each: true, message: `each of sessions must be a user id: ${UID_RULE}` })
  sessions!: string[];
}

export class InnerArchiveDto {
  @ApiProperty({
    description: `Conversation ids (1-${MAX_LIST}): ${GROUP_ID_RULE}`,
    type: [String],
  })
  @IsArray()
  @ArrayNotEmpty()
  @ArrayMaxSize(MAX_LIST)
  @IsString({ each: true })
  @Matches(GROUP_ID_PATTERN, { each: true, message: `each of conversation_ids: ${GROUP_ID_RULE}` })
  conversation_ids!: string[];

  @ApiProperty({ description: 'true: archive (read-only); false: unarchive' })
  @IsBoolean()
  is_archive!: boolean;
}
