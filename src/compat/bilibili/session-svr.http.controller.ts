import {
  Body,
  Controller,
  Get,
  HttpCode,
  Post,
  Query,
  UseGuards,
  UseInterceptors,
} from '@nestjs/common';
import { CommandBus, QueryBus } from '@nestjs/cqrs';
import { ApiBearerAuth, ApiOperation, ApiTags } from '@nestjs/swagger';
import { AuthUser, CurrentUser, Public, RequestMetadata } from '../../common/http/request-context';
import type { EventMetadata } from '../../event-store/event-store.port';
import { UpdateAckCommand } from '../../sessions/commands/update-ack/update-ack.command';
import {
  ListSessionsQuery,
  NewSessionsQuery,
  SessionPage,
} from '../../sessions/queries/list-sessions/list-sessions.query';
import { SessionDetailQuery } from '../../sessions/queries/session-detail/session-detail.query';
import { ShareList, ShareListQuery } from '../../sessions/queries/share-list/share-list.query';
import { UnreadCounts, UnreadQuery } from '../../sessions/queries/unread/unread.query';
import type { SessionFilter } from '../../sessions/session-reader';
import type { SessionView } from '../../sessions/session.view';
import { BilibiliAuthGuard } from './bilibili-auth.guard';
import { BilibiliEnvelopeInterceptor } from './bilibili-envelope';
import { oneOf, pageSize, readParams, uid, uint, uint64Bound } from './bilibili-params';
import { wireSession, wireSessions } from './bilibili.serializers';

/** The proto's SESSION_TYPE of ReqGetSessions: which list get_sessions returns. */
const LIST_BY_SESSION_TYPE: Record<1 | 2 | 3 | 4, SessionFilter> = {
  1: 'main', // UN_FOLD_SESSION
  2: 'unfollowed', // UN_FOLLOW_SINGLE_SESSION
  3: 'groups', // MY_GROUP_SESSION
  4: 'all', // ALL_SESSION
};

/** `api.vc.bilibili.com/session_svr/v1/session_svr/*`: session lists, unread counts, read progress. */
@ApiTags('compat: bilibili')
@ApiBearerAuth()
@Public()
@UseGuards(BilibiliAuthGuard)
@UseInterceptors(BilibiliEnvelopeInterceptor)
@Controller('session_svr/v1/session_svr')
export class SessionSvrHttpController {
  constructor(
    private readonly commands: CommandBus,
    private readonly queries: QueryBus,
  ) {}

  @Get('single_unread')
  @ApiOperation({ summary: 'Unread counts (seed 未读私信数; native GET /api/v1/unread)' })
  singleUnread(@CurrentUser() user: AuthUser, @Query() query: unknown): Promise<UnreadCounts> {
    const q = readParams(query, {
      unread_type: oneOf([0, 1, 2] as const).optional(),
      show_unfollow_list: oneOf([0, 1] as const).optional(),
    });
    return this.queries.execute(new UnreadQuery(user.uid, q.unread_type ?? 0));
  }

  @Get('new_sessions')
  @ApiOperation({ summary: 'Sessions active after begin_ts (seed 新会话列表)' })
  async newSessions(@CurrentUser() user: AuthUser, @Query() query: unknown) {
    const q = readParams(query, {
      begin_ts: uint64Bound().optional(),
      size: pageSize(20, 100),
    });
    const page: SessionPage = await this.queries.execute(
      new NewSessionsQuery(user.uid, q.begin_ts ?? 0, q.size),
    );
    return this.sessionsData(user, page);
  }

  @Get('get_sessions')
  @ApiOperation({
    summary:
      'The session list (proto GetSessions): session_type 1 main, 2 not followed, 3 groups, ' +
      '4 all; pinned first, then newest; the next page by end_ts = the last session_ts',
  })
  async getSessions(@CurrentUser() user: AuthUser, @Query() query: unknown) {
    const q = readParams(query, {
      begin_ts: uint64Bound().optional(),
      end_ts: uint64Bound().optional(),
      size: pageSize(20, 100),
      session_type: oneOf([1, 2, 3, 4] as const).optional(),
      unfollow_fold: oneOf([0, 1] as const).optional(),
      // Groups are one list entry each (no group folding yet); the order is always pinned first,
      // then newest. Both are accepted as the proto has them.
      group_fold: oneOf([0, 1, 2] as const).optional(),
      sort_rule: uint(1000).optional(),
    });
    const page: SessionPage = await this.queries.execute(
      new ListSessionsQuery(user.uid, {
        filter: LIST_BY_SESSION_TYPE[q.session_type ?? 1],
        unfollowFold: q.unfollow_fold === 1,
        size: q.size,
        cursor: null,
        // 0 is the proto's unset value.
        beginTs: q.begin_ts || null,
        endTs: q.end_ts || null,
      }),
    );
    return this.sessionsData(user, page);
  }

  @Get('session_detail')
  @ApiOperation({ summary: 'One session (seed 会话详细信息); 1000004 when never chatted' })
  async sessionDetail(@CurrentUser() user: AuthUser, @Query() query: unknown) {
    const q = readParams(query, {
      talker_id: uid(),
      session_type: oneOf([1, 2] as const),
    });
    const session: SessionView = await this.queries.execute(
      new SessionDetailQuery(user.uid, { sessionType: q.session_type, talkerId: q.talker_id }),
    );
    return wireSession(session);
  }

  @Post('update_ack')
  @HttpCode(200)
  @ApiOperation({ summary: 'Read progress (seed 设置私信为已读), form body; never moves back' })
  async updateAck(
    @CurrentUser() user: AuthUser,
    @Body() body: unknown,
    @RequestMetadata() metadata: EventMetadata,
  ): Promise<Record<string, never>> {
    const b = readParams(body, {
      talker_id: uid(),
      session_type: oneOf([1, 2] as const),
      ack_seqno: uint64Bound(),
    });
    await this.commands.execute(
      new UpdateAckCommand(user.uid, b.session_type, b.talker_id, b.ack_seqno, metadata),
    );
    return {};
  }

  /** RspSessions; `is_address_list_empty` tells an empty page from an empty address list. */
  private async sessionsData(user: AuthUser, page: SessionPage) {
    let addressListEmpty: 0 | 1 = 0;
    if (page.session_list.length === 0) {
      const contacts: ShareList = await this.queries.execute(new ShareListQuery(user.uid, 1));
      addressListEmpty = contacts.is_address_list_empty;
    }
    return wireSessions(page.session_list, page.has_more, addressListEmpty);
  }
}
