import { Controller, Get, Query } from '@nestjs/common';
import { QueryBus } from '@nestjs/cqrs';
import { ApiBearerAuth, ApiOperation, ApiPropertyOptional, ApiTags } from '@nestjs/swagger';
import { Type } from 'class-transformer';
import { IsIn, IsInt, IsOptional, IsString, Max, MaxLength, Min } from 'class-validator';
import { Errors } from '../../../common/errors';
import { AuthUser, CurrentUser } from '../../../common/http/request-context';
import type { SessionFilter } from '../../session-reader';
import {
  decodeCursor,
  ListSessionsQuery,
  NewSessionsQuery,
  SessionPage,
} from './list-sessions.query';

const FILTERS: SessionFilter[] = ['main', 'unfollowed', 'groups', 'all', 'intercepted'];
const MAX_TS = Number.MAX_SAFE_INTEGER;

export class ListSessionsRequestDto {
  @ApiPropertyOptional({ description: 'Sessions per page, default 20, at most 100' })
  @IsOptional()
  @Type(() => Number)
  @IsInt()
  @Min(1)
  @Max(100)
  size?: number;

  @ApiPropertyOptional({ description: 'next_cursor of the previous page' })
  @IsOptional()
  @IsString()
  @MaxLength(512)
  cursor?: string;

  @ApiPropertyOptional({
    enum: FILTERS,
    description:
      'main (default): the list without intercepted sessions; unfollowed: users not followed; ' +
      'groups; all; intercepted: the dustbin',
  })
  @IsOptional()
  @IsIn(FILTERS)
  filter?: SessionFilter;

  @ApiPropertyOptional({ description: '1: leave users not followed out of the main list' })
  @IsOptional()
  @Type(() => Number)
  @IsIn([0, 1])
  unfollow_fold?: 0 | 1;

  @ApiPropertyOptional({ description: 'Only sessions active after this time (µs, exclusive)' })
  @IsOptional()
  @Type(() => Number)
  @IsInt()
  @Min(0)
  @Max(MAX_TS)
  begin_ts?: number;

  @ApiPropertyOptional({
    description:
      'Only sessions active before this time (µs, exclusive): the last session_ts of the ' +
      'previous page. Pages with end_ts hold no pinned sessions (those come on the first page).',
  })
  @IsOptional()
  @Type(() => Number)
  @IsInt()
  @Min(0)
  @Max(MAX_TS)
  end_ts?: number;
}

export class NewSessionsRequestDto {
  @ApiPropertyOptional({ description: 'Sessions active after this time (µs); default 0' })
  @IsOptional()
  @Type(() => Number)
  @IsInt()
  @Min(0)
  @Max(MAX_TS)
  begin_ts?: number;

  @ApiPropertyOptional({ description: 'At most this many, default 20, at most 100' })
  @IsOptional()
  @Type(() => Number)
  @IsInt()
  @Min(1)
  @Max(100)
  size?: number;
}

@ApiTags('sessions')
@ApiBearerAuth()
@Controller('api/v1/sessions')
export class ListSessionsHttpController {
  constructor(private readonly queries: QueryBus) {}

  @Get()
  @ApiOperation({ summary: 'My sessions: pinned first, then by latest message' })
  async list(
    @CurrentUser() user: AuthUser,
    @Query() q: ListSessionsRequestDto,
  ): Promise<SessionPage> {
    const cursor = q.cursor === undefined ? null : decodeCursor(q.cursor);
    if (q.cursor !== undefined && cursor === null) {
      throw Errors.validation('cursor is not a cursor returned by this endpoint');
    }
    if (cursor && q.end_ts !== undefined) {
      throw Errors.validation('page by cursor or by end_ts, not both');
    }
    return this.queries.execute(
      new ListSessionsQuery(user.uid, {
        filter: q.filter ?? 'main',
        unfollowFold: q.unfollow_fold === 1,
        size: q.size ?? 20,
        cursor,
        beginTs: q.begin_ts ?? null,
        endTs: q.end_ts ?? null,
      }),
    );
  }

  @Get('new')
  @ApiOperation({ summary: 'Sessions active since begin_ts, newest first (new_sessions)' })
  async newSessions(
    @CurrentUser() user: AuthUser,
    @Query() q: NewSessionsRequestDto,
  ): Promise<SessionPage> {
    return this.queries.execute(new NewSessionsQuery(user.uid, q.begin_ts ?? 0, q.size ?? 20));
  }
}
