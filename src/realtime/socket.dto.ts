import { IsInt, IsOptional, Max, Min } from 'class-validator';
import { SessionRefDto } from '../sessions/session-ref.dto';

/** Most messages one `sync` answer carries; `has_more` says to ask again. */
export const SYNC_MAX_SIZE = 200;

/** Client → server `ack`: the session is read up to `ack_seqno` (TeamTalk's read ack). */
export class SocketAckDto extends SessionRefDto {
  @IsInt()
  @Min(0)
  @Max(Number.MAX_SAFE_INTEGER)
  ack_seqno!: number;
}

/** Client → server `sync`: the messages of a session after `after_seqno`, oldest first. */
export class SocketSyncDto extends SessionRefDto {
  @IsInt()
  @Min(0)
  @Max(Number.MAX_SAFE_INTEGER)
  after_seqno!: number;

  @IsOptional()
  @IsInt()
  @Min(1)
  @Max(SYNC_MAX_SIZE)
  size?: number;
}
