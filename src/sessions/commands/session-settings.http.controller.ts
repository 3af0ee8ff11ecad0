import { Body, Controller, Delete, HttpCode, Param, Post, Put } from '@nestjs/common';
import { CommandBus } from '@nestjs/cqrs';
import {
  ApiBearerAuth,
  ApiOperation,
  ApiProperty,
  ApiPropertyOptional,
  ApiTags,
} from '@nestjs/swagger';
import { Type } from 'class-transformer';
import {
  ArrayMaxSize,
  ArrayMinSize,
  IsArray,
  IsBoolean,
  IsInt,
  IsOptional,
  Max,
  Min,
  ValidateNested,
} from 'class-validator';
import { AuthUser, CurrentUser, RequestMetadata } from '../../common/http/request-context';
import type { EventMetadata } from '../../event-store/event-store.port';
import { SessionParamsDto, SessionRefDto, toSessionRef } from '../session-ref.dto';
import { ReadUnfollowedCommand } from './read-unfollowed/read-unfollowed.command';
import {
  MAX_BATCH_SESSIONS,
  RemoveSessionsCommand,
} from './remove-sessions/remove-sessions.command';
import { SessionFlag, SetSessionFlagCommand } from './set-session-flag/set-session-flag.command';
import { AckResult, UpdateAckCommand } from './update-ack/update-ack.command';

export class UpdateAckRequestDto {
  @ApiProperty({ description: 'Read up to and including this seqno' })
  @IsInt()
  @Min(0)
  @Max(Number.MAX_SAFE_INTEGER)
  ack_seqno!: number;
}

export class FlagRequestDto {
  @ApiProperty({ description: 'true to set, false to clear' })
  @IsBoolean()
  on!: boolean;
}

export class BatchRemoveRequestDto {
  @ApiPropertyOptional({
    type: [SessionRefDto],
    description: `Up to ${MAX_BATCH_SESSIONS} sessions; omitted: every session with a user not followed`,
  })
  @IsOptional()
  @IsArray()
  @ArrayMinSize(1)
  @ArrayMaxSize(MAX_BATCH_SESSIONS)
  @ValidateNested({ each: true })
  @Type(() => SessionRefDto)
  sessions?: SessionRefDto[];
}

@ApiTags('sessions')
@ApiBearerAuth()
@Controller('api/v1/sessions')
export class SessionSettingsHttpController {
  constructor(private readonly commands: CommandBus) {}

  @Put(':session_type/:talker_id/ack')
  @ApiOperation({ summary: 'Read progress (update_ack); never moves back' })
  async ack(
    @CurrentUser() user: AuthUser,
    @Param() p: SessionParamsDto,
    @Body() body: UpdateAckRequestDto,
    @RequestMetadata() metadata: EventMetadata,
  ): Promise<{ ack_seqno: number; changed: boolean }> {
    const r: AckResult = await this.commands.execute(
      new UpdateAckCommand(user.uid, p.session_type, p.talker_id, body.ack_seqno, metadata),
    );
    return { ack_seqno: r.ackSeqno, changed: r.changed };
  }

  @Put(':session_type/:talker_id/top')
  @ApiOperation({ summary: 'Pin (on) or unpin (off) a session (SetTop)' })
  top(
    @CurrentUser() user: AuthUser,
    @Param() p: SessionParamsDto,
    @Body() body: FlagRequestDto,
    @RequestMetadata() metadata: EventMetadata,
  ): Promise<{ changed: boolean }> {
    return this.flag(user, p, 'top', body.on, metadata);
  }

  @Put(':session_type/:talker_id/dnd')
  @ApiOperation({ summary: 'Do not disturb: the session stops counting in unread totals' })
  dnd(
    @CurrentUser() user: AuthUser,
    @Param() p: SessionParamsDto,
    @Body() body: FlagRequestDto,
    @RequestMetadata() metadata: EventMetadata,
  ): Promise<{ changed: boolean }> {
    return this.flag(user, p, 'dnd', body.on, metadata);
  }

  @Put(':session_type/:talker_id/trust')
  @ApiOperation({ summary: 'Trust an intercepted session (is_trust): back in the main list' })
  trust(
    @CurrentUser() user: AuthUser,
    @Param() p: SessionParamsDto,
    @Body() body: FlagRequestDto,
    @RequestMetadata() metadata: EventMetadata,
  ): Promise<{ changed: boolean }> {
    return this.flag(user, p, 'trust', body.on, metadata);
  }

  @Delete(':session_type/:talker_id')
  @ApiOperation({ summary: 'Remove a session: hidden (and read) until a new message arrives' })
  remove(
    @CurrentUser() user: AuthUser,
    @Param() p: SessionParamsDto,
    @RequestMetadata() metadata: EventMetadata,
  ): Promise<{ removed: number }> {
    return this.commands.execute(new RemoveSessionsCommand(user.uid, [toSessionRef(p)], metadata));
  }

  @Post('batch-remove')
  @HttpCode(200)
  @ApiOperation({ summary: 'Remove several sessions (BatchRmSessions)' })
  batchRemove(
    @CurrentUser() user: AuthUser,
    @Body() body: BatchRemoveRequestDto,
    @RequestMetadata() metadata: EventMetadata,
  ): Promise<{ removed: number }> {
    const refs = body.sessions ? body.sessions.map(toSessionRef) : null;
    return this.commands.execute(new RemoveSessionsCommand(user.uid, refs, metadata));
  }

  @Post('read-unfollowed')
  @HttpCode(200)
  @ApiOperation({ summary: 'Mark every session with a user not followed read (UpdateUnflwRead)' })
  readUnfollowed(
    @CurrentUser() user: AuthUser,
    @RequestMetadata() metadata: EventMetadata,
  ): Promise<{ sessions: number }> {
    return this.commands.execute(new ReadUnfollowedCommand(user.uid, metadata));
  }

  private flag(
    user: AuthUser,
    p: SessionParamsDto,
    flag: SessionFlag,
    on: boolean,
    metadata: EventMetadata,
  ): Promise<{ changed: boolean }> {
    return this.commands.execute(
      new SetSessionFlagCommand(user.uid, p.session_type, p.talker_id, flag, on, metadata),
    );
  }
}
