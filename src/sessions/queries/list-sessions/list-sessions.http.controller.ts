import { Controller, Get, Query } from '@nestjs/common';
import { QueryBus } from '@nestjs/cqrs';
import { ApiBearerAuth, ApiOperation, ApiPropertyOptional, ApiTags } from '@nestjs/swagger';
import { Type } from 'class-transformer';
import { IsInt, IsOptional, IsString, Max, MaxLength, Min } from 'class-validator';
import { Errors } from '../../../common/errors';
import { AuthUser, CurrentUser } from '../../../common/http/request-context';
import { decodeCursor, ListSessionsQuery, SessionPage } from './list-sessions.query';

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
    return this.queries.execute(new ListSessionsQuery(user.uid, q.size ?? 20, cursor));
  }
}
