import { Controller, Get, Query, UseGuards, UseInterceptors } from '@nestjs/common';
import { QueryBus } from '@nestjs/cqrs';
import { ApiBearerAuth, ApiOperation, ApiTags } from '@nestjs/swagger';
import { AuthUser, CurrentUser, Public } from '../../common/http/request-context';
import { GetHistoryQuery, History } from '../../messaging/queries/get-history/get-history.query';
import { BilibiliAuthGuard } from './bilibili-auth.guard';
import { BilibiliEnvelopeInterceptor } from './bilibili-envelope';
import { oneOf, pageSize, readParams, uid, uint64Bound } from './bilibili-params';
import { wireHistory } from './bilibili.serializers';

/** `api.vc.bilibili.com/svr_sync/v1/svr_sync/*`: message history. */
@ApiTags('compat: bilibili')
@ApiBearerAuth()
@Public()
@UseGuards(BilibiliAuthGuard)
@UseInterceptors(BilibiliEnvelopeInterceptor)
@Controller('svr_sync/v1/svr_sync')
export class SvrSyncHttpController {
  constructor(private readonly queries: QueryBus) {}

  @Get('fetch_session_msgs')
  @ApiOperation({
    summary:
      "A session's messages, newest first (seed 私信消息记录); begin_seqno / end_seqno exclusive",
  })
  async fetchSessionMsgs(@CurrentUser() user: AuthUser, @Query() query: unknown) {
    const q = readParams(query, {
      talker_id: uid(),
      session_type: oneOf([1, 2] as const),
      size: pageSize(20, 200),
      // 0 is the proto's unset value for both bounds.
      begin_seqno: uint64Bound().optional(),
      end_seqno: uint64Bound().optional(),
    });
    const history: History = await this.queries.execute(
      new GetHistoryQuery(
        user.uid,
        q.session_type,
        q.talker_id,
        q.size,
        q.begin_seqno || null,
        q.end_seqno || null,
      ),
    );
    return wireHistory(history);
  }
}
