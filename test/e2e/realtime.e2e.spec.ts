import { randomUUID } from 'node:crypto';
import request from 'supertest';
import { startTestApp, TestApp } from '../support/app';
import { EventStore } from '../../src/event-store/event-store.port';
import { conversationStream, privateConversationId } from '../../src/messaging/domain/conversation';
import { MESSAGE_SENT, MessageSentData } from '../../src/messaging/messaging.events';
import { RealtimeGateway } from '../../src/realtime/realtime.gateway';
import { waitFor } from '../support/wait-for';
import { connectSocket, refusedConnection, TestSocket, textTo } from '../support/realtime';

interface Pushed {
  talker_id: string;
  session_type: number;
  sender_uid: string;
  content: string;
  msg_seqno: number;
  msg_key: string;
}

describe('realtime over Socket.IO: handshake, send, pushes, ack, sync', () => {
  let t: TestApp;
  const sockets: TestSocket[] = [];
  const open = async (uid: string, extra: Record<string, unknown> = {}) => {
    const s = await connectSocket(t.url, { token: await t.user(uid), ...extra });
    sockets.push(s);
    return s;
  };

  beforeAll(async () => {
    t = await startTestApp();
  });
  afterAll(async () => {
    sockets.forEach((s) => s.close());
    await t.close();
  });

  it('refuses a handshake without a token, or with a bad one, saying why in data.code', async () => {
    expect((await refusedConnection(t.url, {})).data).toEqual({ code: 40100 });
    expect((await refusedConnection(t.url, { token: 'nope' })).data).toEqual({ code: 40102 });
  });

  it('delivers a sent message to every device of the receiver and the sender’s other devices', async () => {
    const [a1, a2, b1, b2] = [
      await open('rt-a'),
      await open('rt-a'),
      await open('rt-b'),
      await open('rt-b'),
    ];
    await t.follow(await t.user('rt-b'), 'rt-a');
    const reply = await a1.call<{ code: number; data: { msg_key: string; msg_seqno: number } }>(
      'send',
      textTo('rt-b', 'hello'),
    );
    expect(reply.code).toBe(0);
    expect(reply.data.msg_seqno).toBe(1);
    for (const s of [b1, b2]) {
      const m = await s.next<Pushed>('message', (m) => m.msg_key === reply.data.msg_key);
      expect(m).toMatchObject({
        talker_id: 'rt-a',
        session_type: 1,
        sender_uid: 'rt-a',
        msg_seqno: 1,
      });
      expect(JSON.parse(m.content)).toEqual({ content: 'hello' });
    }
    const mine = await a2.next<Pushed>('message', (m) => m.msg_key === reply.data.msg_key);
    expect(mine.talker_id).toBe('rt-b');
    // The sending device has its ack; it gets the session object but not the message again.
    const session = await a1.next<{ talker_id: string; max_seqno: number }>(
      'session_updated',
      (s) => s.talker_id === 'rt-b' && s.max_seqno === 1,
    );
    expect(session.max_seqno).toBe(1);
    expect(a1.all('message')).toEqual([]);
    const bSession = await b1.next<{ talker_id: string; unread_count: number; max_seqno: number }>(
      'session_updated',
      (s) => s.talker_id === 'rt-a' && s.max_seqno === 1,
    );
    expect(bSession.unread_count).toBe(1);
  });

  it('acks read progress, pushes ack_updated to the other devices and the session with unread 0', async () => {
    const [a, b1, b2] = [await open('ack-a'), await open('ack-b'), await open('ack-b')];
    await t.follow(await t.user('ack-b'), 'ack-a');
    for (const word of ['one', 'two']) {
      expect((await a.call('send', textTo('ack-b', word))).code).toBe(0);
    }
    await b1.next<Pushed>('message', (m) => m.msg_seqno === 2);
    const reply = await b1.call('ack', { talker_id: 'ack-a', session_type: 1, ack_seqno: 2 });
    expect(reply).toEqual({ code: 0, data: { ack_seqno: 2, changed: true } });
    const seen = await b2.next('ack_updated');
    expect(seen).toEqual({ talker_id: 'ack-a', session_type: 1, ack_seqno: 2 });
    const session = await b2.next<{ talker_id: string; unread_count: number; ack_seqno: number }>(
      'session_updated',
      (s) => s.talker_id === 'ack-a' && s.ack_seqno === 2,
    );
    expect(session.unread_count).toBe(0);
    expect(b1.all('ack_updated')).toEqual([]);
    // The pushed object is what a REST read says.
    const rest = await request(t.url)
      .get('/api/v1/sessions/1/ack-a')
      .set('Authorization', `Bearer ${await t.user('ack-b')}`);
    expect(rest.status).toBe(200);
    expect(rest.body).toMatchObject({ unread_count: 0, ack_seqno: 2 });
  });

  it('pushes a recall to both sides: the notice as a message, and message_recalled', async () => {
    const [a, b] = [await open('rc-a'), await open('rc-b')];
    await t.follow(await t.user('rc-b'), 'rc-a');
    const sent = await a.call<{ code: number; data: { msg_key: string } }>(
      'send',
      textTo('rc-b', 'oops'),
    );
    const recall = await a.call<{ code: number; data: { msg_seqno: number } }>('send', {
      ...textTo('rc-b', ''),
      msg_type: 5,
      content: sent.data.msg_key,
    });
    expect(recall.code).toBe(0);
    for (const s of [a, b]) {
      const r = await s.next<Record<string, unknown>>('message_recalled');
      expect(r).toMatchObject({
        msg_key: sent.data.msg_key,
        msg_seqno: 1,
        sys_cancel: 0,
        notice_msg_seqno: 2,
      });
    }
    const notice = await b.next<Pushed & { msg_type: number }>('message', (m) => m.msg_seqno === 2);
    expect(notice).toMatchObject({ msg_type: 5, content: sent.data.msg_key, talker_id: 'rc-a' });
  });

  it('pushes relation changes to the actor, and follows (never blocks) to the target', async () => {
    const [a, b] = [await open('rel-a'), await open('rel-b')];
    await t.follow(await t.user('rel-a'), 'rel-b');
    expect(await a.next('relation_updated')).toEqual({
      op: 'follow',
      uid: 'rel-a',
      target_uid: 'rel-b',
      oplog_seqno: 1,
    });
    expect(await b.next('relation_updated')).toMatchObject({
      op: 'follow',
      uid: 'rel-a',
      oplog_seqno: 0,
    });
    const blocked = await request(t.url)
      .put('/api/v1/relations/blocks/rel-b')
      .set('Authorization', `Bearer ${await t.user('rel-a')}`);
    expect(blocked.status).toBe(200);
    await a.next<{ op: string }>('relation_updated', (r) => r.op === 'block');
    expect(b.all<{ op: string }>('relation_updated').map((r) => r.op)).toEqual(['follow']);
  });

  it('syncs the messages after a seqno, oldest first, in pages', async () => {
    const a = await open('sy-a');
    await t.follow(await t.user('sy-b'), 'sy-a');
    for (let i = 1; i <= 5; i++)
      expect((await a.call('send', textTo('sy-b', `m${i}`))).code).toBe(0);
    const b = await open('sy-b');
    type Page = {
      code: number;
      data: { messages: Pushed[]; has_more: number; next_after_seqno: number };
    };
    const first = await b.call<Page>('sync', {
      talker_id: 'sy-a',
      session_type: 1,
      after_seqno: 1,
      size: 3,
    });
    expect(first.code).toBe(0);
    expect(first.data.messages.map((m) => m.msg_seqno)).toEqual([2, 3, 4]);
    expect(first.data).toMatchObject({ has_more: 1, next_after_seqno: 4 });
    const rest = await b.call<Page>('sync', {
      talker_id: 'sy-a',
      session_type: 1,
      after_seqno: first.data.next_after_seqno,
    });
    const texts = rest.data.messages.map(
      (m) => (JSON.parse(m.content) as { content: string }).content,
    );
    expect(texts).toEqual(['m5']);
    expect(rest.data.has_more).toBe(0);
  });

  describe('bad input: a clear reply to that client only, nothing written', () => {
    it('answers unknown events, malformed payloads and refused sends with their codes', async () => {
      const a = await open('bad-a');
      await t.user('bad-b');
      const before = await t.eventCount();
      expect(await a.call('subscribe', {})).toMatchObject({ code: 40400 });
      for (const payload of ['text', 42, null, [1, 2], {}, { ...textTo('bad-b', 'x'), extra: 1 }]) {
        const reply = await a.call<{ code: number; message: string }>('send', payload);
        expect(reply.code).toBe(40000);
        expect(typeof reply.message).toBe('string');
      }
      expect(await a.call('send')).toMatchObject({ code: 40000 });
      expect(await a.call('send', textTo('bad-a', 'me'))).toMatchObject({ code: 21026 });
      expect(await a.call('send', textTo('nobody-here', 'x'))).toMatchObject({ code: 40401 });
      expect(
        await a.call('ack', { talker_id: 'bad-b', session_type: 3, ack_seqno: 1 }),
      ).toMatchObject({
        code: 40000,
      });
      expect(
        await a.call('sync', { talker_id: 'bad-b', session_type: 1, after_seqno: -1 }),
      ).toMatchObject({ code: 40000 });
      // An event without an ack callback is answered with an `exception` event.
      a.socket.emit('no-such-event', {});
      expect(await a.next('exception')).toMatchObject({ code: 40400, event: 'no-such-event' });
      expect(await t.eventCount()).toBe(before);
      expect(a.socket.connected).toBe(true);
    });

    it('drops only the connection that sends a frame over the limit', async () => {
      const [big, other] = [await open('frame-a'), await open('frame-b')];
      const before = await t.eventCount();
      const closed = new Promise<string>((resolve) => big.socket.once('disconnect', resolve));
      big.socket.emit('send', { ...textTo('frame-b', 'x'), content: 'y'.repeat(300_000) });
      expect(await closed).toBe('transport close');
      expect(other.socket.connected).toBe(true);
      expect(
        await other.call('sync', { talker_id: 'frame-a', session_type: 1, after_seqno: 0 }),
      ).toMatchObject({
        code: 0,
      });
      expect(await t.eventCount()).toBe(before);
    });
  });
});

describe('realtime limits: event floods, connections per user, slow consumers', () => {
  let t: TestApp;
  const sockets: TestSocket[] = [];
  beforeAll(async () => {
    t = await startTestApp({
      REALTIME_EVENT_RATE_PER_SECOND: '1',
      REALTIME_EVENT_BURST: '5',
      REALTIME_MAX_SOCKETS_PER_USER: '2',
      REALTIME_MAX_QUEUED: '5',
      SEND_RATE_PER_SECOND: '1',
      SEND_RATE_BURST: '3',
    });
  });
  afterAll(async () => {
    sockets.forEach((s) => s.close());
    await t.close();
  });

  it('limits sends with the REST rule (21020) and a flood of any event per socket', async () => {
    const a = await connectSocket(t.url, { token: await t.user('fl-a') });
    sockets.push(a);
    await t.follow(await t.user('fl-b'), 'fl-a');
    const codes: number[] = [];
    for (let i = 0; i < 4; i++) {
      codes.push((await a.call<{ code: number }>('send', textTo('fl-b', `${i}`))).code);
    }
    // The sender's allowance (burst 3) is the REST one: the fourth send is too fast.
    expect(codes).toEqual([0, 0, 0, 21020]);
    // The socket's own budget (burst 5, one a second) covers every event: a sync flood is refused.
    const syncs: number[] = [];
    for (let i = 0; i < 8; i++) {
      const sync = { talker_id: 'fl-b', session_type: 1, after_seqno: 0 };
      syncs.push((await a.call<{ code: number }>('sync', sync)).code);
    }
    expect(syncs).toContain(21020);
    expect(syncs.slice(0, syncs.indexOf(21020)).every((c) => c === 0)).toBe(true);
    expect(a.socket.connected).toBe(true);
  });

  it('refuses a connection over the per-user limit with 42900', async () => {
    const token = await t.user('many');
    sockets.push(await connectSocket(t.url, { token }), await connectSocket(t.url, { token }));
    expect((await refusedConnection(t.url, { token })).data).toEqual({ code: 42900 });
  });

  it('drops a client that stops reading, with its reason; it catches up with sync', async () => {
    // A raw long-poll client: handshake, connect, then it never polls again, so whatever the
    // server sends it waits in that connection's buffer.
    const base = `${t.url}/socket.io/?EIO=4&transport=polling`;
    const open = await request(base).get('');
    const sid = (JSON.parse(open.text.slice(1)) as { sid: string }).sid;
    const token = await t.user('slow-b');
    // Three senders, three messages each: past the bound, within each sender's send limit.
    const senders = ['slow-a1', 'slow-a2', 'slow-a3'];
    for (const uid of senders) {
      await t.user(uid);
      await t.follow(token, uid);
    }
    const connect = await request(`${base}&sid=${sid}`)
      .post('')
      .set('Content-Type', 'text/plain')
      .send(`40${JSON.stringify({ token })}`);
    expect(connect.text).toBe('ok');
    expect((await request(`${base}&sid=${sid}`).get('')).text).toMatch(/^40/);

    const keys = new Map<string, string[]>();
    for (const uid of senders) {
      const a = await connectSocket(t.url, { token: await t.user(uid) });
      sockets.push(a);
      keys.set(uid, []);
      for (let i = 0; i < 3; i++) {
        const reply = await a.call<{ code: number; data: { msg_key: string } }>(
          'send',
          textTo('slow-b', `${i}`),
        );
        expect(reply.code).toBe(0);
        keys.get(uid)!.push(reply.data.msg_key);
      }
    }
    // Nine messages pass the bound of 5 queued packets: what is waiting is dropped, and the
    // reason is the one thing left to read.
    const gateway = t.app.get(RealtimeGateway);
    await waitFor(() => !gateway.isOnline('slow-b'), 'the slow client to be dropped');
    const rest = await request(`${base}&sid=${sid}`).get('');
    const packets = rest.text.split('\x1e');
    expect(packets[0]).toMatch(/^42\["disconnect_reason",\{"code":42901,/);
    expect(packets).toContain('41');
    // The sender was not held up, and the dropped client gets everything back with sync.
    const back = await connectSocket(t.url, { token });
    sockets.push(back);
    for (const uid of senders) {
      const synced = await back.call<{ data: { messages: { msg_key: string }[] } }>('sync', {
        talker_id: uid,
        session_type: 1,
        after_seqno: 0,
      });
      expect(synced.data.messages.map((m) => m.msg_key)).toEqual(keys.get(uid));
    }
  });
});

describe('realtime under overload: sends wait for the follower to push earlier ones', () => {
  let t: TestApp;
  const sockets: TestSocket[] = [];
  beforeAll(async () => {
    t = await startTestApp({ REALTIME_MAX_UNPUSHED: '1' });
  });
  afterAll(async () => {
    sockets.forEach((s) => s.close());
    await t.close();
  });

  it('answers a burst of sends one push at a time, every one acknowledged and delivered in order', async () => {
    const [a, b] = [
      await connectSocket(t.url, { token: await t.user('ov-a') }),
      await connectSocket(t.url, { token: await t.user('ov-b') }),
    ];
    sockets.push(a, b);
    await t.follow(await t.user('ov-b'), 'ov-a');
    // How many messages the receiver had when each ack arrived, in the order they arrived.
    const deliveredAtAck: number[] = [];
    const replies = await Promise.all(
      Array.from({ length: 30 }, (_, i) =>
        a
          .call<{ code: number; data: { msg_seqno: number } }>('send', textTo('ov-b', `${i}`))
          .then((r) => {
            deliveredAtAck.push(b.all('message').length);
            return r;
          }),
      ),
    );
    // With one unpushed send allowed, the k-th ack comes after the earlier sends were pushed
    // (a little slack for the two sockets' own delivery order).
    deliveredAtAck.forEach((delivered, k) => expect(delivered).toBeGreaterThanOrEqual(k - 3));
    expect(replies.map((r) => r.code)).toEqual(replies.map(() => 0));
    expect(replies.map((r) => r.data.msg_seqno).sort((x, y) => x - y)).toEqual(
      replies.map((_, i) => i + 1),
    );
    await b.next<Pushed>('message', (m) => m.msg_seqno === 30);
    expect(b.all<Pushed>('message').map((m) => m.msg_seqno)).toEqual(replies.map((_, i) => i + 1));
  });
});

describe('realtime: messages logged before content was encrypted', () => {
  let t: TestApp;
  const sockets: TestSocket[] = [];
  beforeAll(async () => {
    t = await startTestApp();
  });
  afterAll(async () => {
    sockets.forEach((s) => s.close());
    await t.close();
  });

  it('pushes plain content as it is, and keeps following the log after it', async () => {
    const b = await connectSocket(t.url, { token: await t.user('pl-b') });
    sockets.push(b);
    await t.user('pl-a');
    const conversationId = privateConversationId('pl-a', 'pl-b');
    const data: MessageSentData = {
      conversationId,
      seqno: 1,
      msgKey: '4242',
      sentAtUs: Date.now() * 1000,
      senderUid: 'pl-a',
      receiverType: 1,
      receiverId: 'pl-b',
      msgType: 1,
      content: JSON.stringify({ content: 'from before encryption' }),
      atUids: null,
      msgSource: 0,
      newFaceVersion: 0,
      devId: randomUUID(),
    };
    await t.app.get(EventStore).append(
      conversationStream(conversationId),
      [
        {
          id: randomUUID(),
          type: MESSAGE_SENT,
          data,
          metadata: { actor: { kind: 'system', id: 'import' }, correlationId: randomUUID() },
        },
      ],
      'no_stream',
    );
    const old = await b.next<Pushed>('message', (m) => m.msg_key === '4242');
    expect(JSON.parse(old.content)).toEqual({ content: 'from before encryption' });
    // The follower did not stall on it: a message sent after it arrives too.
    const c = await connectSocket(t.url, { token: await t.user('pl-c') });
    sockets.push(c);
    await t.follow(await t.user('pl-b'), 'pl-c');
    const sent = await c.call<{ data: { msg_key: string } }>('send', textTo('pl-b', 'after'));
    await b.next<Pushed>('message', (m) => m.msg_key === sent.data.msg_key);
  });
});
