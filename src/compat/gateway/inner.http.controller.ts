import { Body, Controller, HttpCode, Post, UseGuards } from '@nestjs/common';
import { ApiHeader, ApiOperation, ApiTags } from '@nestjs/swagger';
import { AdminKeyGuard } from '../../accounts/auth.guards';
import { Public, RequestMetadata } from '../../common/http/request-context';
import type { EventMetadata } from '../../event-store/event-store.port';
import { InnerArchiveDto, InnerCreateConversationDto, InnerMembersDto } from './gateway.dto';
import { GatewayService } from './gateway.service';
import { ok, Ok } from './gateway.view';

/**
 * The seed gateway's inner conversation operations: an administrator's, with `X-Admin-Key` (a
 * user token is not enough: 401 40110). The changes act as the administrator ({kind:'admin'}).
 */
@ApiTags('gateway')
@ApiHeader({ name: 'X-Admin-Key', required: true })
@Public()
@UseGuards(AdminKeyGuard)
@Controller('inner')
export class GatewayInnerHttpController {
  constructor(private readonly gateway: GatewayService) {}

  @Post('create_conversation')
  @HttpCode(200)
  @ApiOperation({
    summary:
      'Create a conversation: a normal open group owned by the first of sessions, the others ' +
      'its members',
  })
  async create(
    @Body() body: InnerCreateConversationDto,
    @RequestMetadata() metadata: EventMetadata,
  ): Promise<Ok<{ ConversationId: string }>> {
    const id = await this.gateway.innerCreate(body.conversation_type, body.sessions, metadata);
    return ok({ ConversationId: id });
  }

  @Post('kickout_conversation')
  @HttpCode(200)
  @ApiOperation({ summary: 'Remove members (those not in it: no error; the owner: 26008)' })
  async kickout(
    @Body() body: InnerMembersDto,
    @RequestMetadata() metadata: EventMetadata,
  ): Promise<Ok<{ ConversationId: string }>> {
    await this.gateway.innerKickout(body.conversation_id, body.sessions, metadata);
    return ok({ ConversationId: body.conversation_id });
  }

  @Post('join_conversation')
  @HttpCode(200)
  @ApiOperation({ summary: 'Add members (those already in: no error; unknown users: 40401)' })
  async join(
    @Body() body: InnerMembersDto,
    @RequestMetadata() metadata: EventMetadata,
  ): Promise<Ok<{ ConversationId: string }>> {
    await this.gateway.innerJoin(body.conversation_id, body.sessions, metadata);
    return ok({ ConversationId: body.conversation_id });
  }

  @Post('set_archive_conversations')
  @HttpCode(200)
  @ApiOperation({
    summary: 'Archive (group status 1, read-only) or unarchive (status 0) conversations',
  })
  async setArchive(
    @Body() body: InnerArchiveDto,
    @RequestMetadata() metadata: EventMetadata,
  ): Promise<{ code: 0 }> {
    await this.gateway.innerArchive(body.conversation_ids, body.is_archive, metadata);
    return { code: 0 };
  }
}
