import { ApiProperty } from '@nestjs/swagger';
import { Type } from 'class-transformer';
import { IsIn, IsInt, Matches } from 'class-validator';
import { UID_PATTERN, UID_RULE } from '../accounts/commands/issue-token/get-token.request.dto';
import type { SessionType } from '../messaging/messaging.events';
import type { SessionRef } from './sessions.events';

/** A session named in a body (the seed's SimpleSession): JSON types are not coerced. */
export class SessionRefDto {
  @ApiProperty({ description: '1: user, 2: group' })
  @IsInt()
  @IsIn([1, 2])
  session_type!: SessionType;

  @ApiProperty({ description: 'The other user (or the group)' })
  @Matches(UID_PATTERN, { message: `talker_id must be a user id: ${UID_RULE}` })
  talker_id!: string;
}

/** A session named in a path (`/{session_type}/{talker_id}`), where the type arrives as text. */
export class SessionParamsDto {
  @ApiProperty({ description: '1: user, 2: group' })
  @Type(() => Number)
  @IsInt()
  @IsIn([1, 2])
  session_type!: SessionType;

  @ApiProperty({ description: 'The other user (or the group)' })
  @Matches(UID_PATTERN, { message: `talker_id must be a user id: ${UID_RULE}` })
  talker_id!: string;
}

export const toSessionRef = (d: SessionRefDto): SessionRef => ({
  sessionType: d.session_type,
  talkerId: d.talker_id,
});
