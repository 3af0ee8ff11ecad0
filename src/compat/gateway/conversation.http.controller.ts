import { Body, Controller, HttpCode, Post } from '@nestjs/common';
import { ApiBearerAuth, ApiOperation, ApiTags } from '@nestjs/swagger';
import { Errors } from '../../common/errors';
import { AuthUser, CurrentUser, RequestMetadata } from '../../common/http/request-context';
import type { EventMetadata } from '../../event-store/event-store.port';
import { ConversationRefDto, CreateConversationDto, JoinedConversationsDto } from './gateway.dto';
import { GatewayService } from './gateway.service';
import { ConversationDetail, ok, Ok } from './gateway.view';

/** The seed gateway's public conversation operations (bearer token). A conversation is a group. */
@ApiTags('gateway')
@ApiBearerAuth()
@Controller()
export class GatewayConversationHttpController {
  constructor(private readonly gateway: GatewayService) {}

  @Post('create_conversation')
  @HttpCode(200)
  @ApiOperation({
    summary: 'Create a conversation: a temporary open group owned by the caller',
  })
  async create(
    @CurrentUser() user: AuthUser,
    @Body() body: CreateConversationDto,
    @RequestMetadata() metadata: EventMetadata,
  ): Promise<Ok<{ ConversationId: string }>> {
    const id = await this.gateway.create(user.uid, body.conversation_type, metadata);
    return ok({ ConversationId: id });
  }

  @Post('join_conversation')
  @HttpCode(200)
  @ApiOperation({ summary: 'Join an open conversation (a member already in: success)' })
  async join(
    @CurrentUser() user: AuthUser,
    @Body() body: ConversationRefDto,
    @RequestMetadata() metadata: EventMetadata,
  ): Promise<Ok<{ ConversationId: string }>> {
    await this.gateway.join(user.uid, body.conversation_id, metadata);
    return ok({ ConversationId: body.conversation_id });
  }

  @Post('leave_conversation')
  @HttpCode(200)
  @ApiOperation({ summary: 'Leave a conversation (its owner may not: 26008)' })
  async leave(
    @CurrentUser() user: AuthUser,
    @Body() body: ConversationRefDto,
    @RequestMetadata() metadata: EventMetadata,
  ): Promise<Ok<{ ConversationId: string }>> {
    await this.gateway.leave(user.uid, body.conversation_id, metadata);
    return ok({ ConversationId: body.conversation_id });
  }

  @Post('check_joined_conversation')
  @HttpCode(200)
  @ApiOperation({ summary: 'Whether the caller is a member of the conversation now' })
  async checkJoined(
    @CurrentUser() user: AuthUser,
    @Body() body: ConversationRefDto,
  ): Promise<Ok<{ Joined: boolean }>> {
    return ok({ Joined: await this.gateway.isMember(user.uid, body.conversation_id) });
  }

  @Post('get_joined_conversation')
  @HttpCode(200)
  @ApiOperation({
    summary: "The caller's conversations with their details (SessionId must be the caller)",
  })
  async joined(
    @CurrentUser() user: AuthUser,
    @Body() body: JoinedConversationsDto,
  ): Promise<Ok<{ Conversations: ConversationDetail[] }>> {
    if (body.SessionId !== user.uid) {
      throw Errors.forbidden("SessionId must be the caller's own user id");
    }
    return ok({ Conversations: await this.gateway.joined(user.uid) });
  }

  @Post('get_conversation_detail')
  @HttpCode(200)
  @ApiOperation({ summary: 'A conversation’s detail and newest message (members only)' })
  async detail(
    @CurrentUser() user: AuthUser,
    @Body() body: ConversationRefDto,
  ): Promise<Ok<ConversationDetail>> {
    return ok(await this.gateway.detail(user.uid, body.conversation_id));
  }

  @Post('get_lastone_msgid')
  @HttpCode(200)
  @ApiOperation({ summary: 'The id of the newest message the caller may read ("" when none)' })
  async lastMsgId(
    @CurrentUser() user: AuthUser,
    @Body() body: ConversationRefDto,
  ): Promise<Ok<{ MsgId: string }>> {
    const last = await this.gateway.lastVisible(user.uid, body.conversation_id);
    return ok({ MsgId: last?.msgKey ?? '' });
  }
}
