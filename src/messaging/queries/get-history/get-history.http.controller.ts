import { Controller, Get, Param, Query } from '@nestjs/common';
import { QueryBus } from '@nestjs/cqrs';
import { ApiBearerAuth, ApiOperation, ApiPropertyOptional, ApiTags } from '@nestjs/swagger';
import { Type } from 'class-transformer';
import { IsInt, IsOptional, Max, Min } from 'class-validator';
import { AuthUser, CurrentUser } from '../../../common/http/request-context';
import { SessionParamsDto } from '../../../sessions/session-ref.dto';
import { GetHistoryQuery, History } from './get-history.query';

export class GetHistoryRequestDto {
  @ApiPropertyOptional({ description: 'Messages per page, default 20, at most 200' })
  @IsOptional()
  @Type(() => Number)
  @IsInt()
  @Min(1)
  @Max(200)
  size?: number;

  @ApiPropertyOptional({ description: 'Only messages after this seqno (exclusive)' })
  @IsOptional()
  @Type(() => Number)
  @IsInt()
  @Min(0)
  @Max(Number.MAX_SAFE_INTEGER)
  begin_seqno?: number;

  @ApiPropertyOptional({ description: 'Only messages before this seqno (exclusive)' })
  @IsOptional()
  @Type(() => Number)
  @IsInt()
  @Min(0)
  @Max(Number.MAX_SAFE_INTEGER)
  end_seqno?: number;
}

@ApiTags('messages')
@ApiBearerAuth()
@Controller('api/v1/sessions')
export class GetHistoryHttpController {
  constructor(private readonly queries: QueryBus) {}

  @Get(':session_type/:talker_id/messages')
  @ApiOperation({ summary: "A session's history, newest first, paged by seqno" })
  async history(
    @CurrentUser() user: AuthUser,
    @Param() p: SessionParamsDto,
    @Query() q: GetHistoryRequestDto,
  ): Promise<History> {
    return this.queries.execute(
      new GetHistoryQuery(
        user.uid,
        p.session_type,
        p.talker_id,
        q.size ?? 20,
        q.begin_seqno ?? null,
        q.end_seqno ?? null,
      ),
    );
  }
}
