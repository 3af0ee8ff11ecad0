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

/** `POST /api/v1/messages`: the seed's send_msg fields, as JSON. */
export class SendMessageRequestDto {
  @ApiProperty({ description: 'The receiving user id', example: 'bob' })
  @IsString()
  @Matches(UID_PATTERN, { message: `receiver_id must be a user id: ${UID_RULE}` })
  receiver_id!: string;

  @ApiProperty({ description: '1: user (2: group, not yet available)', enum: [1, 2] })
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

  @ApiPropertyOptional({ description: 'Mentioned user ids (groups)', type: [String] })
  @IsOptional()
  @IsArray()
  @ArrayMaxSize(100)
  @Matches(UID_PATTERN, { each: true, message: `at_uids must hold user ids: ${UID_RULE}` })
  at_uids?: string[];

  @ApiPropertyOptional({ description: 'Message source (seed 消息来源列表), default 0' })
  @IsOptional()
  @IsInt()
  @Min(0)
  @Max(1000)
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
}
