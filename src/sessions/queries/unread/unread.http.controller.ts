import { Body, Controller, Get, HttpCode, Post, Query } from '@nestjs/common';
import { QueryBus } from '@nestjs/cqrs';
import { ApiBearerAuth, ApiOperation, ApiPropertyOptional, ApiTags } from '@nestjs/swagger';
import { Type } from 'class-transformer';
import { IsIn, IsOptional } from 'class-validator';
import { AuthUser, CurrentUser } from '../../../common/http/request-context';
import { toSessionRef } from '../../session-ref.dto';
import { SessionRefsRequestDto } from '../session-detail/session-detail.http.controller';
import {
  SpecificUnread,
  SpecificUnreadQuery,
  UnreadCounts,
  UnreadQuery,
  UnreadType,
} from './unread.query';

export class UnreadRequestDto {
  @ApiPropertyOptional({ description: '0 every kind (default), 1 followed only, 2 not followed' })
  @IsOptional()
  @Type(() => Number)
  @IsIn([0, 1, 2])
  unread_type?: UnreadType;

  @ApiPropertyOptional({ description: 'Accepted for the seed; the counts do not depend on it' })
  @IsOptional()
  @Type(() => Number)
  @IsIn([0, 1])
  show_unfollow_list?: 0 | 1;
}

@ApiTags('sessions')
@ApiBearerAuth()
@Controller('api/v1/unread')
export class UnreadHttpController {
  constructor(private readonly queries: QueryBus) {}

  @Get()
  @ApiOperation({ summary: 'My unread counts (single_unread)' })
  unread(@CurrentUser() user: AuthUser, @Query() q: UnreadRequestDto): Promise<UnreadCounts> {
    return this.queries.execute(new UnreadQuery(user.uid, q.unread_type ?? 0));
  }

  @Post('specific')
  @HttpCode(200)
  @ApiOperation({ summary: 'Unread counts of the named sessions and their total' })
  specific(
    @CurrentUser() user: AuthUser,
    @Body() body: SessionRefsRequestDto,
  ): Promise<SpecificUnread> {
    return this.queries.execute(new SpecificUnreadQuery(user.uid, body.sessions.map(toSessionRef)));
  }
}
