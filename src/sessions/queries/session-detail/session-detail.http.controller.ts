import { Body, Controller, Get, HttpCode, Param, Post } from '@nestjs/common';
import { QueryBus } from '@nestjs/cqrs';
import { ApiBearerAuth, ApiOperation, ApiProperty, ApiTags } from '@nestjs/swagger';
import { Type } from 'class-transformer';
import { ArrayMaxSize, ArrayMinSize, IsArray, ValidateNested } from 'class-validator';
import { AuthUser, CurrentUser } from '../../../common/http/request-context';
import { SessionParamsDto, SessionRefDto, toSessionRef } from '../../session-ref.dto';
import type { SessionView } from '../../session.view';
import { MAX_SESSION_REFS, SessionDetailQuery, SessionDetailsQuery } from './session-detail.query';

export class SessionRefsRequestDto {
  @ApiProperty({ type: [SessionRefDto], description: `1 to ${MAX_SESSION_REFS} sessions` })
  @IsArray()
  @ArrayMinSize(1)
  @ArrayMaxSize(MAX_SESSION_REFS)
  @ValidateNested({ each: true })
  @Type(() => SessionRefDto)
  sessions!: SessionRefDto[];
}

@ApiTags('sessions')
@ApiBearerAuth()
@Controller('api/v1/sessions')
export class SessionDetailHttpController {
  constructor(private readonly queries: QueryBus) {}

  @Get(':session_type/:talker_id')
  @ApiOperation({ summary: 'One session (1000004 when never chatted)' })
  detail(@CurrentUser() user: AuthUser, @Param() p: SessionParamsDto): Promise<SessionView> {
    return this.queries.execute(new SessionDetailQuery(user.uid, toSessionRef(p)));
  }

  @Post('details')
  @HttpCode(200)
  @ApiOperation({ summary: 'Several sessions: those that exist, in the order asked' })
  async details(
    @CurrentUser() user: AuthUser,
    @Body() body: SessionRefsRequestDto,
  ): Promise<{ session_list: SessionView[] }> {
    const refs = body.sessions.map(toSessionRef);
    return { session_list: await this.queries.execute(new SessionDetailsQuery(user.uid, refs)) };
  }
}
