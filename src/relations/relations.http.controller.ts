import { Body, Controller, Delete, Get, Param, Put, Query } from '@nestjs/common';
import { CommandBus, QueryBus } from '@nestjs/cqrs';
import { ApiBearerAuth, ApiOperation, ApiPropertyOptional, ApiTags } from '@nestjs/swagger';
import { Type } from 'class-transformer';
import { IsBoolean, IsInt, IsOptional, Matches, Max, Min } from 'class-validator';
import { UID_PATTERN, UID_RULE } from '../accounts/commands/issue-token/get-token.request.dto';
import { Errors } from '../common/errors';
import { AuthUser, CurrentUser, RequestMetadata } from '../common/http/request-context';
import type { EventMetadata } from '../event-store/event-store.port';
import {
  ChangeRelationCommand,
  RelationChanged,
  RelationOpName,
  SetPrivacyCommand,
} from './commands/change-relation/change-relation.command';
import { RelationSync, SyncRelationQuery } from './queries/sync-relation/sync-relation.query';

export class TargetParamsDto {
  @Matches(UID_PATTERN, { message: `uid must be a user id: ${UID_RULE}` })
  uid!: string;
}

export class SyncRelationRequestDto {
  @ApiPropertyOptional({ description: 'The op-log seqno the client holds (0: none)' })
  @IsOptional()
  @Type(() => Number)
  @IsInt()
  @Min(0)
  @Max(Number.MAX_SAFE_INTEGER)
  client_relation_oplog_seqno?: number;
}

export class PrivacyRequestDto {
  @ApiPropertyOptional({ description: 'Only users I follow may message me (25003)' })
  @IsOptional()
  @IsBoolean()
  followed_only?: boolean;

  @ApiPropertyOptional({ description: 'Intercept sessions of users I do not follow (dustbin)' })
  @IsOptional()
  @IsBoolean()
  intercept?: boolean;
}

interface RelationAnswer {
  changed: boolean;
  relation_oplog_seqno: number;
}

@ApiTags('relations')
@ApiBearerAuth()
@Controller('api/v1/relations')
export class RelationsHttpController {
  constructor(
    private readonly commands: CommandBus,
    private readonly queries: QueryBus,
  ) {}

  @Put('following/:uid')
  @ApiOperation({ summary: 'Follow a user' })
  follow(
    @CurrentUser() u: AuthUser,
    @Param() p: TargetParamsDto,
    @RequestMetadata() m: EventMetadata,
  ) {
    return this.change(u, p.uid, 'follow', m);
  }

  @Delete('following/:uid')
  @ApiOperation({ summary: 'Unfollow a user' })
  unfollow(
    @CurrentUser() u: AuthUser,
    @Param() p: TargetParamsDto,
    @RequestMetadata() m: EventMetadata,
  ) {
    return this.change(u, p.uid, 'unfollow', m);
  }

  @Put('blocks/:uid')
  @ApiOperation({ summary: 'Block a user: no messages either way (25005)' })
  block(
    @CurrentUser() u: AuthUser,
    @Param() p: TargetParamsDto,
    @RequestMetadata() m: EventMetadata,
  ) {
    return this.change(u, p.uid, 'block', m);
  }

  @Delete('blocks/:uid')
  @ApiOperation({ summary: 'Unblock a user' })
  unblock(
    @CurrentUser() u: AuthUser,
    @Param() p: TargetParamsDto,
    @RequestMetadata() m: EventMetadata,
  ) {
    return this.change(u, p.uid, 'unblock', m);
  }

  @Get('sync')
  @ApiOperation({
    summary: 'Relation changes after my op-log seqno, or the full list (SyncRelation)',
  })
  sync(@CurrentUser() u: AuthUser, @Query() q: SyncRelationRequestDto): Promise<RelationSync> {
    return this.queries.execute(new SyncRelationQuery(u.uid, q.client_relation_oplog_seqno ?? 0));
  }

  @Put('privacy')
  @ApiOperation({ summary: 'My privacy settings (followed_only, intercept)' })
  privacy(
    @CurrentUser() u: AuthUser,
    @Body() body: PrivacyRequestDto,
    @RequestMetadata() m: EventMetadata,
  ): Promise<{ changed: boolean }> {
    if (body.followed_only === undefined && body.intercept === undefined) {
      throw Errors.validation('give followed_only, intercept or both');
    }
    return this.commands.execute(
      new SetPrivacyCommand(u.uid, body.followed_only, body.intercept, m),
    );
  }

  private async change(
    u: AuthUser,
    target: string,
    op: RelationOpName,
    m: EventMetadata,
  ): Promise<RelationAnswer> {
    const r: RelationChanged = await this.commands.execute(
      new ChangeRelationCommand(u.uid, target, op, m),
    );
    return { changed: r.changed, relation_oplog_seqno: r.oplogSeqno };
  }
}
