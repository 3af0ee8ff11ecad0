import { BeforeApplicationShutdown, Inject, Logger } from '@nestjs/common';
import { CommandBus, QueryBus } from '@nestjs/cqrs';
import { JwtService } from '@nestjs/jwt';
import {
  Ack,
  ConnectedSocket,
  MessageBody,
  OnGatewayConnection,
  OnGatewayInit,
  SubscribeMessage,
  WebSocketGateway,
} from '@nestjs/websockets';
import { randomUUID } from 'node:crypto';
import type { DefaultEventsMap, Server, Socket } from 'socket.io';
import { verifyUserToken } from '../accounts/auth.guards';
import { DomainError, ErrorCodes, Errors } from '../common/errors';
import type { AuthUser } from '../common/http/request-context';
import { parsePayload } from '../common/http/validation';
import { TokenBucket } from '../common/token-bucket';
import { APP_SETTINGS, AppSettings } from '../config/app-config';
import { Clock } from '../core/clock';
import { EventMetadata, EventStore, Position } from '../event-store/event-store.port';
import {
  SendMessageCommand,
  SentMessage,
} from '../messaging/commands/send-message/send-message.command';
import {
  SendMessageRequestDto,
  toSendInput,
  toSendResponse,
} from '../messaging/commands/send-message/send-message.request.dto';
import { GetHistoryQuery, History } from '../messaging/queries/get-history/get-history.query';
import { AckResult, UpdateAckCommand } from '../sessions/commands/update-ack/update-ack.command';
import { ProjectionProgress } from './projection-progress';
import type { Push } from './push-router';
import { PushSink, RealtimeFollower, SessionUpdatedPush } from './realtime-follower';
import { connectError, RealtimeErrors, Reply, replyTo } from './realtime.errors';
import { SocketAckDto, SocketSyncDto } from './socket.dto';

/** A client's ack callback. */
type AckFn = (reply: Reply) => void;

/** Client → server events; anything else is answered with 40400. */
const CLIENT_EVENTS = new Set(['send', 'ack', 'sync']);
const DEFAULT_SYNC_SIZE = 50;
/** How long a stopping node waits for commands in flight before it lets sockets go. */
const DRAIN_MS = 5_000;
/** Sends that may wait for a place (REALTIME_MAX_UNPUSHED) before more are refused (50304). */
const MAX_WAITING_SENDS = 10_000;
/** Longest a `sync` waits for history to catch up with the log before it reads what is there. */
const SYNC_WAIT_MS = 2_000;

/** What a connection carries once authenticated. */
interface SocketData {
  user: AuthUser;
  device: string | undefined;
  events: TokenBucket;
}

/** A connection, its `data` set by the handshake. */
type UserSocket = Socket<DefaultEventsMap, DefaultEventsMap, DefaultEventsMap, SocketData>;

/** engine.io keeps what a transport has not yet taken in `writeBuffer` (public in JS). */
const writeBufferOf = (socket: Socket): unknown[] =>
  (socket.conn as unknown as { writeBuffer: unknown[] }).writeBuffer;

const userRoom = (uid: string): string => `user:${uid}`;

/** What {@link coalesceFrames} relies on in engine.io's websocket transport (and ws under it). */
interface FramedTransport {
  name?: string;
  send?: (packets: unknown[]) => void;
  socket?: { _socket?: { cork?: () => void; uncork?: () => void } };
  coalesced?: true;
}

type RawSocket = { cork: () => void; uncork: () => void };

/** The TCP socket under a websocket transport, or null (long polling, or internals changed). */
function rawSocketOf(transport: unknown): RawSocket | null {
  const t = transport as FramedTransport;
  const raw = t?.name === 'websocket' ? t.socket?._socket : undefined;
  return typeof raw?.cork === 'function' && typeof raw.uncork === 'function'
    ? (raw as RawSocket)
    : null;
}

/**
 * Writes the frames a websocket transport flushes at once (every packet queued while the previous
 * write was in flight: under load, many pushes to one socket) with one system call, by corking
 * its TCP socket around the flush. Without it each frame is a write of its own, which was most
 * of a node's cost of fanning a group's messages out (bench/README.md). Anything unexpected in
 * the transport leaves it as it is.
 */
function coalesceFrames(transport: unknown): void {
  const t = transport as FramedTransport;
  const raw = rawSocketOf(t);
  if (!raw || typeof t.send !== 'function' || t.coalesced) return;
  const send = t.send.bind(t);
  t.send = (packets) => {
    raw.cork();
    try {
      send(packets);
    } finally {
      raw.uncork();
    }
  };
  t.coalesced = true;
}

/**
 * Which connection on this node issued a command, by the correlation id its events carry, so the
 * pushes those events cause skip it. Two generations, swapped every half minute, bound the memory.
 */
class Origins {
  private current = new Map<string, string>();
  private previous = new Map<string, string>();
  private swappedAt = 0;

  constructor(private readonly clock: Clock) {}

  add(correlationId: string, socketId: string): void {
    const now = this.clock.nowMs();
    if (now - this.swappedAt > 30_000) {
      this.previous = this.current;
      this.current = new Map();
      this.swappedAt = now;
    }
    this.current.set(correlationId, socketId);
  }

  get(correlationId: string): string | undefined {
    return this.current.get(correlationId) ?? this.previous.get(correlationId);
  }
}

/**
 * Socket.IO on the server's own port, default namespace: `auth: { token }` in the handshake,
 * `send` / `ack` / `sync` with ack callbacks, and the pushes of the log follower to every connected
 * device of each user (docs/realtime.md).
 */
@WebSocketGateway()
export class RealtimeGateway
  implements OnGatewayInit, OnGatewayConnection, BeforeApplicationShutdown, PushSink
{
  private readonly log = new Logger('realtime');
  private io!: Server;
  private readonly origins: Origins;
  private draining = false;
  private inFlight = 0;
  private idle: (() => void) | null = null;
  /** Sends admitted and not yet pushed, and the sends waiting for that to drop. */
  private unpushed = 0;
  private readonly admissions: (() => void)[] = [];
  /** TCP sockets corked during the current delivery run, uncorked on the next tick. */
  private corked: Set<RawSocket> | null = null;

  constructor(
    private readonly commands: CommandBus,
    private readonly queries: QueryBus,
    private readonly jwt: JwtService,
    private readonly clock: Clock,
    @Inject(APP_SETTINGS) private readonly settings: AppSettings,
    private readonly store: EventStore,
    private readonly progress: ProjectionProgress,
    private readonly follower: RealtimeFollower,
  ) {
    this.origins = new Origins(clock);
    follower.addSink(this);
  }

  afterInit(io: Server): void {
    this.io = io;
    io.use((socket, next) => {
      this.admit(socket as UserSocket).then(
        () => next(),
        (err: unknown) => next(connectError(err)),
      );
    });
  }

  handleConnection(socket: UserSocket): void {
    const { user } = socket.data;
    coalesceFrames(socket.conn.transport);
    socket.conn.once('upgrade', (transport: unknown) => coalesceFrames(transport));
    const room = userRoom(user.uid);
    void socket.join(room);
    // The groups this user is in count them as connected here, until their last socket goes
    // (by 'disconnect' the socket has left its rooms).
    this.follower.presenceChanged(user.uid);
    socket.once('disconnect', () => this.follower.presenceChanged(user.uid));
    // Concurrent handshakes can all pass the check in admit(); the last ones leave again.
    if ((this.io.sockets.adapter.rooms.get(room)?.size ?? 0) > this.maxPerUser) {
      this.dismiss(socket, RealtimeErrors.tooManyConnections(this.maxPerUser));
      return;
    }
    socket.use((packet, next) => {
      const [event, ...args] = packet as [string, ...unknown[]];
      const last = args[args.length - 1];
      const ack = typeof last === 'function' ? (last as AckFn) : null;
      let refusal: DomainError | null = null;
      if (!CLIENT_EVENTS.has(event)) refusal = RealtimeErrors.unknownEvent(String(event));
      else if (!socket.data.events.take(this.clock.nowMs())) {
        refusal = Errors.sendTooFast(this.settings.config.REALTIME_EVENT_RATE_PER_SECOND);
      }
      if (!refusal) return next();
      const reply = replyTo(refusal);
      this.answer(socket, ack, reply, String(event));
    });
  }

  @SubscribeMessage('send')
  async send(
    @ConnectedSocket() socket: UserSocket,
    @MessageBody() body: unknown,
    @Ack() ack: AckFn | undefined,
  ): Promise<void> {
    await this.command(socket, ack, async (metadata) => {
      const dto = parsePayload(SendMessageRequestDto, body);
      // Sends this node has admitted and its log follower not yet pushed, past a bound, hold
      // new sends back: under overload the node answers sends only as fast as it delivers them,
      // rather than letting deliveries fall ever further behind.
      await this.admitSend();
      let sent: SentMessage;
      try {
        sent = await this.commands.execute(
          new SendMessageCommand(toSendInput(socket.data.user.uid, dto), metadata),
        );
      } catch (err) {
        this.releaseSend();
        throw err;
      }
      if (sent.position) void this.follower.passed(sent.position).then(() => this.releaseSend());
      else this.releaseSend();
      return toSendResponse(sent);
    });
  }

  @SubscribeMessage('ack')
  async ack(
    @ConnectedSocket() socket: UserSocket,
    @MessageBody() body: unknown,
    @Ack() ack: AckFn | undefined,
  ): Promise<void> {
    await this.command(socket, ack, async (metadata) => {
      const dto = parsePayload(SocketAckDto, body);
      const r: AckResult = await this.commands.execute(
        new UpdateAckCommand(
          socket.data.user.uid,
          dto.session_type,
          dto.talker_id,
          dto.ack_seqno,
          metadata,
        ),
      );
      return { ack_seqno: r.ackSeqno, changed: r.changed };
    });
  }

  @SubscribeMessage('sync')
  async sync(
    @ConnectedSocket() socket: UserSocket,
    @MessageBody() body: unknown,
    @Ack() ack: AckFn | undefined,
  ): Promise<void> {
    this.answer(socket, ack, await this.syncPage(socket, body));
  }

  private async syncPage(socket: UserSocket, body: unknown): Promise<Reply> {
    try {
      const dto = parsePayload(SocketSyncDto, body);
      const size = dto.size ?? DEFAULT_SYNC_SIZE;
      await this.historyCaughtUp();
      const page: History = await this.queries.execute(
        new GetHistoryQuery(
          socket.data.user.uid,
          dto.session_type,
          dto.talker_id,
          size,
          dto.after_seqno,
          null,
        ),
      );
      // History pages are newest first; a sync is replayed oldest first.
      const messages = page.messages.reverse();
      return {
        code: 0,
        data: {
          messages,
          has_more: page.has_more,
          next_after_seqno: messages.length
            ? messages[messages.length - 1].msg_seqno
            : dto.after_seqno,
        },
      };
    } catch (err) {
      return this.failure(socket, 'sync', err);
    }
  }

  // --- pushes from the log follower ---

  isOnline(uid: string): boolean {
    return this.io?.sockets.adapter.rooms.has(userRoom(uid)) ?? false;
  }

  push(push: Push, _position: Position, origin: string): void {
    const skip = push.skipOrigin ? this.origins.get(origin) : undefined;
    this.emitTo(push.to, push.event, push.data, skip);
  }

  /**
   * One payload to many users' sockets (a group message): one broadcast to the eligible sockets
   * encodes the packet once, however many members are connected.
   */
  pushShared(pushes: readonly Push[], _position: Position, origin: string): void {
    const { event, data } = pushes[0];
    const skip = pushes[0].skipOrigin ? this.origins.get(origin) : undefined;
    const targets: string[] = [];
    for (const p of pushes) {
      const ids = this.io.sockets.adapter.rooms.get(userRoom(p.to));
      if (!ids) continue;
      for (const id of ids) {
        if (id === skip) continue;
        const socket = this.io.sockets.sockets.get(id);
        if (!socket) continue;
        if (this.backlogged(socket)) {
          this.dismiss(socket, RealtimeErrors.slowConsumer());
          continue;
        }
        this.corkUntilNextTick(socket);
        targets.push(id);
      }
    }
    // Every socket is in the room named by its id.
    if (targets.length > 0) this.io.to(targets).emit(event, data);
  }

  sessionUpdated(uid: string, session: SessionUpdatedPush): void {
    this.emitTo(uid, 'session_updated', session, undefined);
  }

  /** Connections this node holds (for health and benchmarks). */
  get connections(): number {
    return this.io?.sockets.sockets.size ?? 0;
  }

  /**
   * Stopping: new commands are refused with 50302, those in flight finish, then every socket is
   * told why and its transport closed, so clients reconnect (to another node) on their own.
   */
  async beforeApplicationShutdown(): Promise<void> {
    if (!this.io) return;
    this.draining = true;
    if (this.inFlight > 0) {
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, DRAIN_MS);
        this.idle = () => {
          clearTimeout(timer);
          resolve();
        };
      });
    }
    const reason = replyTo(RealtimeErrors.shuttingDown());
    const closed: Promise<void>[] = [];
    for (const socket of this.io.sockets.sockets.values()) {
      closed.push(new Promise((resolve) => socket.conn.once('close', () => resolve())));
      socket.emit('server_shutdown', reason);
      // Closing the transport (not disconnecting the socket) makes clients reconnect by
      // themselves. It closes once what is queued is written: the last acks and the reason.
      socket.conn.close();
    }
    // Socket.IO's own close, next, discards whatever is still queued: let the queues drain first.
    await Promise.race([Promise.all(closed), new Promise((r) => setTimeout(r, DRAIN_MS).unref())]);
  }

  // --- internals ---

  /** Waits until fewer than REALTIME_MAX_UNPUSHED sends are admitted and not yet pushed. */
  private async admitSend(): Promise<void> {
    if (
      this.unpushed < this.settings.config.REALTIME_MAX_UNPUSHED &&
      this.admissions.length === 0
    ) {
      this.unpushed += 1;
      return;
    }
    if (this.admissions.length >= MAX_WAITING_SENDS) throw RealtimeErrors.busy();
    // First come, first served: a released place passes straight to the longest waiting send.
    await new Promise<void>((resolve) => this.admissions.push(resolve));
  }

  /** An admitted send was pushed (or failed): its place goes to the next waiting send. */
  private releaseSend(): void {
    const next = this.admissions.shift();
    if (next) next();
    else this.unpushed -= 1;
  }

  /**
   * Replies to a client event: through its ack callback, else as an `exception` event when it is a
   * refusal. Replies count against the connection's backlog bound like pushes do.
   */
  private answer(socket: Socket, ack: AckFn | null | undefined, reply: Reply, event?: string) {
    if (this.backlogged(socket)) {
      this.dismiss(socket, RealtimeErrors.slowConsumer());
      return;
    }
    if (ack) ack(reply);
    else if (reply.code !== 0) socket.emit('exception', { ...reply, event });
  }

  /**
   * Waits (bounded) until message history holds every event committed so far, so a `sync` after
   * a reconnect sees each message that was pushed while the client was away.
   */
  private async historyCaughtUp(): Promise<void> {
    const head = await this.store.headPosition();
    if (!head) return;
    const signal = AbortSignal.timeout(SYNC_WAIT_MS);
    await this.progress.reached('messages', head, signal);
  }

  private get maxPerUser(): number {
    return this.settings.config.REALTIME_MAX_SOCKETS_PER_USER;
  }

  /** Handshake: a valid token, room for one more connection, a node that is not stopping. */
  private async admit(socket: UserSocket): Promise<void> {
    if (this.draining) throw RealtimeErrors.shuttingDown();
    // Authenticated connections: a handshake that never authenticates holds no place.
    if (this.io.sockets.sockets.size >= this.settings.config.REALTIME_MAX_CONNECTIONS) {
      throw RealtimeErrors.nodeFull();
    }
    const auth = socket.handshake.auth as Record<string, unknown> | undefined;
    const token = typeof auth?.token === 'string' ? auth.token : null;
    if (!token) {
      throw new DomainError(
        ErrorCodes.TOKEN_MISSING,
        401,
        'a token is required: connect with auth: { token: "<jwt>" }',
      );
    }
    const user = await verifyUserToken(this.jwt, token);
    if ((this.io.sockets.adapter.rooms.get(userRoom(user.uid))?.size ?? 0) >= this.maxPerUser) {
      throw RealtimeErrors.tooManyConnections(this.maxPerUser);
    }
    const device = typeof auth?.device === 'string' ? auth.device.slice(0, 128) : undefined;
    const { REALTIME_EVENT_RATE_PER_SECOND: rate, REALTIME_EVENT_BURST: burst } =
      this.settings.config;
    socket.data = { user, device, events: new TokenBucket(rate, burst, this.clock.nowMs()) };
  }

  /**
   * Runs a command for a socket: its metadata, its origin for the pushes, and the reply, which is
   * handed to the transport before the command stops counting as in flight, so a stopping node
   * closes no connection with an answer still unsent.
   */
  private async command(
    socket: UserSocket,
    ack: AckFn | undefined,
    run: (metadata: EventMetadata) => Promise<unknown>,
  ): Promise<void> {
    if (this.draining) {
      this.answer(socket, ack, replyTo(RealtimeErrors.shuttingDown()));
      return;
    }
    const { user, device } = socket.data;
    const metadata: EventMetadata = {
      actor: { kind: 'user', id: user.uid },
      correlationId: randomUUID(),
      ip: socket.handshake.address,
      device: device ?? `platform:${user.platform}`,
      at: new Date(this.clock.nowMs()).toISOString(),
    };
    this.origins.add(metadata.correlationId, socket.id);
    this.inFlight += 1;
    try {
      let reply: Reply;
      try {
        reply = { code: 0, data: await run(metadata) };
      } catch (err) {
        reply = this.failure(socket, 'command', err);
      }
      this.answer(socket, ack, reply);
    } finally {
      this.inFlight -= 1;
      if (this.inFlight === 0 && this.idle) this.idle();
    }
  }

  private failure(socket: UserSocket, what: string, err: unknown): Reply {
    if (!(err instanceof DomainError)) {
      this.log.error({ err, msg: `socket ${what} failed`, uid: socket.data.user.uid });
    }
    return replyTo(err);
  }

  /**
   * Emits to each connection of a user, except `skip`. A connection whose unsent backlog is over
   * its bound is dropped instead (its backlog discarded) with the reason: it catches up with `sync`.
   */
  private emitTo(uid: string, event: string, data: unknown, skip: string | undefined): void {
    const ids = this.io.sockets.adapter.rooms.get(userRoom(uid));
    if (!ids) return;
    for (const id of ids) {
      if (id === skip) continue;
      const socket = this.io.sockets.sockets.get(id);
      if (!socket) continue;
      if (this.backlogged(socket)) {
        this.dismiss(socket, RealtimeErrors.slowConsumer());
        continue;
      }
      this.corkUntilNextTick(socket);
      socket.emit(event, data);
    }
  }

  /**
   * Holds the socket's writes until the follower has handed out the whole batch (it does so in
   * one synchronous run), so that a batch's pushes to one connection leave in one write.
   */
  private corkUntilNextTick(socket: Socket): void {
    const raw = rawSocketOf(socket.conn.transport);
    if (!raw) return;
    if (!this.corked) {
      const corked = (this.corked = new Set());
      process.nextTick(() => {
        this.corked = null;
        for (const r of corked) r.uncork();
      });
    }
    if (this.corked.has(raw)) return;
    raw.cork();
    this.corked.add(raw);
  }

  private backlogged(socket: Socket): boolean {
    const { REALTIME_MAX_QUEUED: maxQueued, REALTIME_MAX_BUFFERED_BYTES: maxBytes } =
      this.settings.config;
    // What the websocket holds above the kernel's buffers, when the transport is a websocket.
    const ws = (socket.conn.transport as unknown as { socket?: { bufferedAmount?: number } })
      .socket;
    return writeBufferOf(socket).length >= maxQueued || (ws?.bufferedAmount ?? 0) >= maxBytes;
  }

  /** Drops a connection with its reason, discarding what it has not yet been sent. */
  private dismiss(socket: Socket, why: DomainError): void {
    this.log.warn({
      msg: 'disconnecting a socket',
      reason: why.message,
      code: why.code,
      socket: socket.id,
    });
    writeBufferOf(socket).length = 0;
    socket.emit('disconnect_reason', replyTo(why));
    socket.disconnect(true);
    // A connection that takes nothing at all would hold its close open: end it regardless.
    setTimeout(() => socket.conn.close(true), 2_000).unref();
  }
}
