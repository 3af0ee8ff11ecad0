import { Controller, Get, Query } from '@nestjs/common';
import { QueryBus } from '@nestjs/cqrs';
import { ApiBearerAuth, ApiOperation, ApiPropertyOptional, ApiTags } from '@nestjs/swagger';
import { Type } from 'class-transformer';
import { IsInt, IsOptional, Max, Min } from 'class-validator';
import { AuthUser, CurrentUser } from '../../../common/http/request-context';
import { MAX_SHARE_LIST, ShareList, ShareListQuery } from './share-list.query';

export class ShareListRequestDto {
  @ApiPropertyOptional({
    description: `At most this many, default ${MAX_SHARE_LIST}, at most ${MAX_SHARE_LIST}`,
  })
  @IsOptional()
  @Type(() => Number)
  @IsInt()
  @Min(1)
  @Max(MAX_SHARE_LIST)
  size?: number;
}

@ApiTags('sessions')
@ApiBearerAuth()
@Controller('api/v1/share-list')
export class ShareListHttpController {
  constructor(private readonly queries: QueryBus) {}

  @Get()
  @ApiOperation({ summary: 'Users I chatted with most recently, to share with (ShareList)' })
  list(@CurrentUser() user: AuthUser, @Query() q: ShareListRequestDto): Promise<ShareList> {
    return this.queries.execute(new ShareListQuery(user.uid, q.size ?? MAX_SHARE_LIST));
  }
}
