import { ApiProperty } from '@nestjs/swagger';
import { IsIn, IsInt, Matches } from 'class-validator';
import { UID_PATTERN, UID_RULE } from '../accounts/commands/issue-token/get-token.request.dto';
import type { SessionType } from '../messaging/messaging.events';
import type { SessionRef } from './sessions.events';

/** A session named in a body: the seed's SimpleSession. */
export class SessionRefDto {
  @ApiProperty({ description: '1: user, 2: group' })
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
