import { Controller, Get, Inject, Query, Req, Res } from '@nestjs/common';
import { JwtService } from '@nestjs/jwt';
import {
  ApiBearerAuth,
  ApiOperation,
  ApiProperty,
  ApiPropertyOptional,
  ApiResponse,
  ApiTags,
} from '@nestjs/swagger';
import { Type } from 'class-transformer';
import { IsIn, IsInt, IsOptional, IsString, Max, MaxLength, Min } from 'class-validator';
import type { Request, Response } from 'express';
import { verifyUserToken } from '../accounts/auth.guards';
import { DomainError, ErrorCodes, Errors } from '../common/errors';
import { Public } from '../common/http/request-context';
import { APP_SETTINGS, AppSettings } from '../config/app-config';
import { comparePositions, EventStore, Position } from '../event-store/event-store.port';
import { decodeCursor, encodeCursor } from './cursor';
import { RealtimeErrors, replyTo } from './realtime.errors';
import { RealtimeFollower } from './realtime-follower';
import { FeedItem, UserFeeds } from './user-feeds';

const DEFAULT_TIMEOUT_MS = 25_000;
const DEFAULT_LIMIT = 100;
const HEARTBEAT_MS = 15_000;
/** Live items an SSE stream may hold back while it catches up before it is let go (42901). */
const SSE_MAX_WAITING = 10_000;

export class NotifyQueryDto {
  @ApiProperty({ enum: ['sse', 'poll', 'ws'], description: 'ws means Socket.IO at /socket.io/' })
  @IsIn(['sse', 'poll', 'ws'])
  protoc!: 'sse' | 'poll' | 'ws';

  @ApiPropertyOptional({
    description:
      'The user token, for clients that cannot send an Authorization header (EventSource)',
  })
  @IsOptional()
  @IsString()
  @MaxLength(4096)
  token?: string;

  @ApiPropertyOptional({
    description: 'Resume after this cursor (SSE also takes the Last-Event-ID header)',
  })
  @IsOptional()
  @IsString()
  @MaxLength(64)
  cursor?: string;

  @ApiPropertyOptional({ description: 'Long poll: longest wait for news, ms (default 25000)' })
  @IsOptional()
  @Type(() => Number)
  @IsInt()
  @Min(0)
  @Max(60_000)
  timeout_ms?: number;

  @ApiPropertyOptional({ description: 'Long poll: about how many events at most (default 100)' })
  @IsOptional()
  @Type(() => Number)
  @IsInt()
  @Min(1)
  @Max(1_000)
  limit?: number;
}

export class NotifyEventDto {
  @ApiProperty({
    nullable: true,
    type: String,
    description: 'Resume after this event (null on session_updated, which is derived state)',
  })
  cursor!: string | null;
  @ApiProperty({
    description:
      'message, message_recalled, ack_updated, relation_updated or session_updated (docs/realtime.md)',
  })
  event!: string;
  @ApiProperty({ description: 'The same payload the socket event carries' })
  data!: unknown;
}

export class NotifyPollDto {
  @ApiProperty({ description: 'Pass it back as `cursor` on the next poll' })
  cursor!: string;
  @ApiProperty({ type: [NotifyEventDto] })
  events!: NotifyEventDto[];
  @ApiProperty({ description: '1 when more is waiting: poll again at once' })
  has_more!: 0 | 1;
}

/**
 * The gateway seed's `/notify`: the realtime events over Server-Sent Events or long poll, for
 * clients that cannot hold a Socket.IO connection. Both resume from a cursor and miss nothing.
 */
@ApiTags('realtime')
@ApiBearerAuth()
@Controller('notify')
export class NotifyHttpController {
  constructor(
    private readonly feeds: UserFeeds,
    private readonly follower: RealtimeFollower,
    private readonly store: EventStore,
    private readonly jwt: JwtService,
    @Inject(APP_SETTINGS) private readonly settings: AppSettings,
  ) {}

  @Get()
  @Public()
  @ApiOperation({
    summary:
      'Realtime events: protoc=sse (text/event-stream, `id:` is the cursor) or protoc=poll ' +
      '(returns after news or timeout_ms); bearer token or token=',
  })
  @ApiResponse({ status: 200, type: NotifyPollDto, description: 'protoc=poll' })
  async notify(
    @Query() q: NotifyQueryDto,
    @Req() req: Request,
    @Res() res: Response,
  ): Promise<void> {
    if (q.protoc === 'ws') {
      throw Errors.validation(
        'protoc=ws: connect with Socket.IO on this port (path /socket.io/, auth: { token })',
      );
    }
    if (this.feeds.stopping) throw RealtimeErrors.shuttingDown();
    const uid = await this.authenticate(req, q);
    // Feeds count against the same per-user bound as sockets, apart from them.
    const max = this.settings.config.REALTIME_MAX_SOCKETS_PER_USER;
    if (this.feeds.feedsOf(uid) >= max) throw RealtimeErrors.tooManyConnections(max);
    // A reconnecting EventSource sends the id it last saw, newer than the cursor in its URL.
    const lastEventId = q.protoc === 'sse' ? req.header('last-event-id') : undefined;
    const after = await this.startAfter(lastEventId || q.cursor);
    const closed = new AbortController();
    req.once('close', () => closed.abort());
    res.once('close', () => closed.abort());
    // A client gone during the awaits above closed before anyone listened.
    if (req.destroyed || res.destroyed || res.socket?.destroyed) return;
    if (q.protoc === 'poll') {
      await this.poll(uid, after, q, res, closed.signal);
    } else {
      await this.sse(uid, after, res, closed);
    }
  }

  private async authenticate(req: Request, q: NotifyQueryDto): Promise<string> {
    const header = /^Bearer\s+(\S+)$/i.exec(req.header('authorization') ?? '');
    const token = header?.[1] ?? q.token;
    if (!token) {
      throw new DomainError(
        ErrorCodes.TOKEN_MISSING,
        401,
        'an Authorization: Bearer <token> header (or a token parameter) is required',
      );
    }
    return (await verifyUserToken(this.jwt, token)).uid;
  }

  /** Where the feed starts: after the client's cursor, or at the head of the log now. */
  private async startAfter(cursor: string | undefined): Promise<Position> {
    await this.follower.whenReady();
    if (cursor === undefined || cursor === '') return this.follower.position;
    const position = decodeCursor(cursor, this.store.adapter);
    const head = await this.store.headPosition();
    if (!position || (head ? comparePositions(position, head) > 0 : position.commit > 0n)) {
      throw RealtimeErrors.badCursor();
    }
    return position;
  }

  private async poll(
    uid: string,
    after: Position,
    q: NotifyQueryDto,
    res: Response,
    closed: AbortSignal,
  ): Promise<void> {
    const limit = q.limit ?? DEFAULT_LIMIT;
    let wake: () => void = () => undefined;
    let news = false;
    const unlisten = this.feeds.listen(uid, (item) => {
      if (item.position === null || comparePositions(item.position, after) > 0) {
        news = true;
        wake();
      }
    });
    const unregister = this.feeds.onShutdown(() => wake());
    try {
      let caught = await this.feeds.catchUp(uid, after, this.follower.position, limit, closed);
      if (caught.items.length === 0 && caught.complete) {
        if (!news && !this.feeds.stopping) {
          await new Promise<void>((resolve) => {
            const timer = setTimeout(resolve, q.timeout_ms ?? DEFAULT_TIMEOUT_MS);
            wake = () => {
              clearTimeout(timer);
              resolve();
            };
            closed.addEventListener('abort', wake, { once: true });
          });
        }
        // The news is read back from the log with what it changed, so nothing depends on
        // having been listening when a session object was pushed.
        const upto = this.follower.position;
        caught = await this.feeds.catchUp(uid, caught.scannedTo, upto, limit, closed);
      }
      if (closed.aborted) return;
      const cursor = comparePositions(caught.scannedTo, after) > 0 ? caught.scannedTo : after;
      res.status(200).json({
        cursor: encodeCursor(cursor, this.store.adapter),
        events: caught.items.map(toWire),
        has_more: caught.complete ? 0 : 1,
      });
    } finally {
      unlisten();
      unregister();
    }
  }

  private async sse(
    uid: string,
    after: Position,
    res: Response,
    closed: AbortController,
  ): Promise<void> {
    const maxBuffered = this.settings.config.REALTIME_MAX_BUFFERED_BYTES;
    res.status(200);
    res.setHeader('Content-Type', 'text/event-stream; charset=utf-8');
    res.setHeader('Cache-Control', 'no-cache, no-transform');
    res.setHeader('X-Accel-Buffering', 'no');
    res.flushHeaders();
    res.write('retry: 3000\n\n');
    const end = (event: string, reply: unknown) => {
      if (res.writableEnded) return;
      res.end(`event: ${event}\ndata: ${JSON.stringify(reply)}\n\n`);
      closed.abort();
    };
    const write = (item: FeedItem) => {
      if (closed.signal.aborted) return;
      // A client that does not read cannot hold this node's memory: it is let go, and resumes
      // from its last cursor.
      if (res.writableLength > maxBuffered) {
        end('disconnect_reason', replyTo(RealtimeErrors.slowConsumer()));
        res.destroy();
        return;
      }
      const id = item.cursor ? `id: ${item.cursor}\n` : '';
      res.write(`${id}event: ${item.event}\ndata: ${JSON.stringify(item.data)}\n\n`);
    };
    // Live items wait while the catch-up runs, then follow it.
    let queue: FeedItem[] | null = [];
    const unlisten = this.feeds.listen(uid, (item) => {
      if (!queue) return write(item);
      queue.push(item);
      // Live items wait while the stream catches up; a catch-up that long is a slow consumer.
      if (queue.length > SSE_MAX_WAITING) {
        queue = [];
        end('disconnect_reason', replyTo(RealtimeErrors.slowConsumer()));
      }
    });
    const unregister = this.feeds.onShutdown(() =>
      end('server_shutdown', replyTo(RealtimeErrors.shuttingDown())),
    );
    const heartbeat = setInterval(() => res.write(': ping\n\n'), HEARTBEAT_MS);
    closed.signal.addEventListener('abort', () => {
      clearInterval(heartbeat);
      unlisten();
      unregister();
    });
    try {
      const upto = this.follower.position;
      let from = after;
      for (;;) {
        const caught = await this.feeds.catchUp(uid, from, upto, DEFAULT_LIMIT, closed.signal);
        caught.items.forEach(write);
        from = caught.scannedTo;
        if (caught.complete || closed.signal.aborted) break;
      }
      if (closed.signal.aborted) return;
      const waiting = queue;
      queue = null;
      for (const item of waiting) {
        if (item.position === null || comparePositions(item.position, after) > 0) write(item);
      }
    } catch (err) {
      end('error', replyTo(err));
    }
  }
}

function toWire(item: FeedItem): NotifyEventDto {
  return { cursor: item.cursor, event: item.event, data: item.data };
}
