/**
 * The baseline of bench/realtime.bench.ts: a bare Socket.IO server with no persistence, no
 * validation and no rules. The handshake's `auth.token` is taken as the user id (no JWT); `send`
 * is relayed to the room of its `receiver_id` as `message` and acknowledged as the real gateway
 * acknowledges it. Run as a child process (forked with an IPC channel): it reports its port with
 * `process.send({ port })` and stops on SIGTERM.
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Server } from 'socket.io';

interface SendBody {
  receiver_id?: unknown;
  receiver_type?: unknown;
  msg_type?: unknown;
  content?: unknown;
}

const http = createServer();
// The gateway's own settings (socket-io.adapter.ts): the same frame limit, no client bundle.
const io = new Server(http, { serveClient: false, maxHttpBufferSize: 262_144 });
let seqno = 0;

io.use((socket, next) => {
  const uid = (socket.handshake.auth as { token?: unknown } | undefined)?.token;
  if (typeof uid !== 'string' || uid === '') return next(new Error('auth.token (the uid) needed'));
  socket.data.uid = uid;
  next();
});

io.on('connection', (socket) => {
  const uid = socket.data.uid as string;
  void socket.join(`user:${uid}`);
  socket.on('send', (body: SendBody, ack?: (reply: unknown) => void) => {
    seqno += 1;
    const msg = {
      sender_uid: uid,
      receiver_type: body.receiver_type,
      receiver_id: body.receiver_id,
      msg_type: body.msg_type,
      content: body.content,
      msg_seqno: seqno,
      timestamp: Math.floor(Date.now() / 1000),
      msg_key: String(seqno),
      talker_id: uid,
      session_type: 1,
    };
    io.to(`user:${String(body.receiver_id)}`).emit('message', msg);
    ack?.({ code: 0, data: { msg_key: msg.msg_key, msg_seqno: seqno, timestamp: msg.timestamp } });
  });
});

http.listen(0, '127.0.0.1', () => {
  process.send?.({ port: (http.address() as AddressInfo).port });
});

process.on('SIGTERM', () => {
  void io.close(() => process.exit(0));
});
// The bench going away takes the relay with it.
process.on('disconnect', () => process.exit(0));
