import type { INestApplication } from '@nestjs/common';
import { randomUUID } from 'node:crypto';
import { io, Socket } from 'socket.io-client';
import { EventStore } from '../../src/event-store/event-store.port';
import { RealtimeFollower } from '../../src/realtime/realtime-follower';
import { waitFor } from './wait-for';

/** A `socket.io-client` connection that keeps every event it receives, for bounded waits. */
export interface TestSocket {
  readonly socket: Socket;
  /** Every event received, in order. */
  readonly received: { event: string; data: unknown }[];
  /** The data of every `event` received so far. */
  all<T = Record<string, unknown>>(event: string): T[];
  /** Waits (bounded) for an `event` whose data satisfies `match`, and returns its data. */
  next<T = Record<string, unknown>>(
    event: string,
    match?: (data: T) => boolean,
    timeoutMs?: number,
  ): Promise<T>;
  /** Emits with an ack callback and resolves with the reply. */
  call<T = { code: number; data?: unknown; message?: string }>(
    event: string,
    payload?: unknown,
  ): Promise<T>;
  close(): void;
}

/** Connects to the app's default namespace with `auth`, resolving once connected. */
export async function connectSocket(
  url: string,
  auth: Record<string, unknown>,
  options: { transports?: ('websocket' | 'polling')[]; reconnection?: boolean } = {},
): Promise<TestSocket> {
  const socket = io(url, {
    auth,
    transports: options.transports ?? ['websocket'],
    reconnection: options.reconnection ?? false,
    forceNew: true,
  });
  const received: { event: string; data: unknown }[] = [];
  socket.onAny((event: string, data: unknown) => received.push({ event, data }));
  await new Promise<void>((resolve, reject) => {
    socket.once('connect', () => resolve());
    socket.once('connect_error', (err) => reject(err));
  });
  const all = <T>(event: string) =>
    received.filter((r) => r.event === event).map((r) => r.data as T);
  return {
    socket,
    received,
    all,
    async next<T>(event: string, match: (data: T) => boolean = () => true, timeoutMs = 10_000) {
      let found: T | undefined;
      await waitFor(
        () => {
          found = all<T>(event).find(match);
          return found !== undefined;
        },
        `socket event ${event}`,
        timeoutMs,
      );
      return found as T;
    },
    call<T>(event: string, payload?: unknown) {
      return new Promise<T>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`no ack for ${event}`)), 10_000);
        const done = (reply: T) => {
          clearTimeout(timer);
          resolve(reply);
        };
        if (payload === undefined) socket.emit(event, done);
        else socket.emit(event, payload, done);
      });
    },
    close: () => void socket.close(),
  };
}

/** The `connect_error` of a connection that must be refused. */
export async function refusedConnection(
  url: string,
  auth: Record<string, unknown>,
): Promise<Error & { data?: { code: number } }> {
  const socket = io(url, { auth, transports: ['websocket'], reconnection: false, forceNew: true });
  try {
    return await new Promise((resolve, reject) => {
      socket.once('connect', () => reject(new Error('the connection was accepted')));
      socket.once('connect_error', (err) => resolve(err as Error & { data?: { code: number } }));
    });
  } finally {
    socket.close();
  }
}

/** A `send` payload (as `POST /api/v1/messages` takes it): a text message to `to`, new dev_id. */
export const textTo = (to: string, text: string) => ({
  receiver_id: to,
  receiver_type: 1,
  msg_type: 1,
  content: JSON.stringify({ content: text }),
  dev_id: randomUUID(),
});

/**
 * Resolves once the app's log follower has handed out every event in the log so far, so that a
 * cursor taken from the head now lies after them (an event it has yet to pass would otherwise
 * reach a poll meant to wait for something new).
 */
export async function followerAtHead(app: INestApplication): Promise<void> {
  const head = await app.get(EventStore).headPosition();
  if (head) await app.get(RealtimeFollower).passed(head);
}
