import { Body, Controller, HttpCode, Post } from '@nestjs/common';
import { ApiBearerAuth, ApiOperation, ApiTags } from '@nestjs/swagger';
import { AuthUser, CurrentUser, RequestMetadata } from '../../common/http/request-context';
import type { EventMetadata } from '../../event-store/event-store.port';
import { MsgAroundDto, MsgByRangeDto, MsgOrderDto, SendMsgDto } from './gateway.dto';
import { AROUND_SIZE, GatewayService, MAX_RANGE } from './gateway.service';
import { MsgData, ok, Ok } from './gateway.view';

type Msgs = Ok<{ Msg: MsgData[] }>;

/**
 * The seed gateway's message operations (bearer token): sending to a conversation, and reading
 * it through GetHistoryQuery, so a member reads only what was sent while they were in it.
 * `desc` true: newest first; false or absent: oldest first.
 */
@ApiTags('gateway')
@ApiBearerAuth()
@Controller()
export class GatewayMessageHttpController {
  constructor(private readonly gateway: GatewayService) {}

  @Post('send_msg')
  @HttpCode(200)
  @ApiOperation({
    summary: 'Send a message to a conversation (type 1: content is the text; 5 recalls a MsgID)',
  })
  async send(
    @CurrentUser() user: AuthUser,
    @Body() body: SendMsgDto,
    @RequestMetadata() metadata: EventMetadata,
  ): Promise<Ok<{ MsgID: string }>> {
    const sent = await this.gateway.send(
      user.uid,
      {
        groupId: body.conversation_id,
        type: body.type,
        content: body.content,
        devId: body.dev_id,
      },
      metadata,
    );
    return ok({ MsgID: sent.msgKey });
  }

  @Post('get_conversation_msg_by_range')
  @HttpCode(200)
  @ApiOperation({
    summary: `Messages from start_msg_id to end_msg_id, both included (at most ${MAX_RANGE})`,
  })
  async byRange(@CurrentUser() user: AuthUser, @Body() body: MsgByRangeDto): Promise<Msgs> {
    const msgs = await this.gateway.range(
      user.uid,
      body.conversation_id,
      body.start_msg_id,
      body.end_msg_id,
      body.desc ?? false,
    );
    return ok({ Msg: msgs });
  }

  @Post('get_conversation_30msg_before_the_id')
  @HttpCode(200)
  @ApiOperation({ summary: `The ${AROUND_SIZE} messages just before msg_id (not included)` })
  async before(@CurrentUser() user: AuthUser, @Body() body: MsgAroundDto): Promise<Msgs> {
    const msgs = await this.gateway.around(
      user.uid,
      body.conversation_id,
      body.msg_id,
      'before',
      body.desc ?? false,
    );
    return ok({ Msg: msgs });
  }

  @Post('get_conversation_30msg_after_the_id')
  @HttpCode(200)
  @ApiOperation({ summary: `The ${AROUND_SIZE} messages just after msg_id (not included)` })
  async after(@CurrentUser() user: AuthUser, @Body() body: MsgAroundDto): Promise<Msgs> {
    const msgs = await this.gateway.around(
      user.uid,
      body.conversation_id,
      body.msg_id,
      'after',
      body.desc ?? false,
    );
    return ok({ Msg: msgs });
  }

  @Post('get_conversation_last_30_msg')
  @HttpCode(200)
  @ApiOperation({ summary: `The newest ${AROUND_SIZE} messages the caller may read` })
  async last30(@CurrentUser() user: AuthUser, @Body() body: MsgOrderDto): Promise<Msgs> {
    const msgs = await this.gateway.latest(
      user.uid,
      body.conversation_id,
      AROUND_SIZE,
      body.desc ?? false,
    );
    return ok({ Msg: msgs });
  }

  @Post('get_conversation_lastone_msg')
  @HttpCode(200)
  @ApiOperation({ summary: 'The newest message the caller may read (an empty list when none)' })
  async lastOne(@CurrentUser() user: AuthUser, @Body() body: MsgOrderDto): Promise<Msgs> {
    const msgs = await this.gateway.latest(user.uid, body.conversation_id, 1, body.desc ?? false);
    return ok({ Msg: msgs });
  }
}
