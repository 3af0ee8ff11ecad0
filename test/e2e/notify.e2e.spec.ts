import { randomUUID } from 'node:crypto';
import http from 'node:http';
import request from 'supertest';
import { UserFeeds } from '../../src/realtime/user-feeds';
import { startTestApp, TestApp } from '../support/app';
import { createTestPool } from '../support/database';
import { followerAtHead } from '../support/realtime';
import { waitFor } from '../support/wait-for';
import { seeded } from '../support/seeded-random';

interface PushedMessage {
  talker_id: string;
  sender_uid: string;
  content: string;
  msg_seqno: number;
  msg_key: string;
}

interface SessionObject {
  talker_id: string;
  unread_count: number;
  max_seqno: number;
}

interface NotifyEvent {
  cursor: string | null;
  event: string;
  data: unknown;
}

interface PollBody {
  cursor: string;
  events: NotifyEvent[];
  has_more: 0 | 1;
}

/** One Server-Sent Events frame: its `id:`, `event:` and parsed `data:`. */
interface SseFrame {
  id?: string;
  event: string;
  data: unknown;
}

interface SseStream {
  readonly status: number;
  readonly headers: http.IncomingHttpHeaders;
  readonly frames: SseFrame[];
  /** Resolves when the server ends the stream (or the connection is lost). */
  readonly ended: Promise<void>;
  /** Every frame of `event` received so far. */
  all<T>(event: string): { id?: string; data: T }[];
  close(): void;
}

/**
 * Opens `GET path` as an event stream with Node's http client and parses its frames as they come
 * (comments and `retry:` skipped). Resolves once the response head is in.
 */
function openSse(url: string, path: string, headers: Record<string, string> = {}) {
  return new Promise<SseStream>((resolve, reject) => {
    const req = http.get(`${url}${path}`, { headers: { accept: 'text/event-stream', ...headers } });
    req.once('error', reject);
    req.once('response', (res) => {
      const frames: SseFrame[] = [];
      let buffer = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => {
        buffer += chunk;
        let end: number;
        while ((end = buffer.indexOf('\n\n')) >= 0) {
          const block = buffer.slice(0, end);
          buffer = buffer.slice(end + 2);
          const frame: Partial<SseFrame> & { dataLines: string[] } = { dataLines: [] };
          for (const line of block.split('\n')) {
            const colon = line.indexOf(':');
            if (colon === 0) continue; // a comment (heartbeat)
            const field = colon < 0 ? line : line.slice(0, colon);
            const value = colon < 0 ? '' : line.slice(colon + 1).replace(/^ /, '');
            if (field === 'id') frame.id = value;
            else if (field === 'event') frame.event = value;
            else if (field === 'data') frame.dataLines.push(value);
          }
          if (frame.dataLines.length === 0) continue; // `retry:` alone
          frames.push({
            ...(frame.id !== undefined ? { id: frame.id } : {}),
            event: frame.event ?? 'message',
            data: JSON.parse(frame.dataLines.join('\n')),
          });
        }
      });
      res.on('error', () => undefined);
      const ended = new Promise<void>((done) => res.once('close', () => done()));
      resolve({
        status: res.statusCode ?? 0,
        headers: res.headers,
        frames,
        ended,
        all: <T>(event: string) =>
          frames.filter((f) => f.event === event).map((f) => ({ id: f.id, data: f.data as T })),
        close: () => req.destroy(),
      });
    });
  });
}

describe('GET /notify: realtime events over long poll and Server-Sent Events', () => {
  let t: TestApp;
  const streams: SseStream[] = [];

  beforeAll(async () => {
    t = await startTestApp();
  });
  afterAll(async () => {
    streams.forEach((s) => s.close());
    await t.close();
  });
  /** `from` may message `to` any number of times (`to` follows `from`); the follow is pushed. */
  const pair = async (from: string, to: string) => {
    await t.user(from);
    await t.follow(await t.user(to), from);
    await followerAtHead(t.app);
  };
  const sendRest = async (from: string, to: string, text: string) => {
    const res = await request(t.url)
      .post('/api/v1/messages')
      .set('Authorization', `Bearer ${await t.user(from)}`)
      .send({
        receiver_id: to,
        receiver_type: 1,
        msg_type: 1,
        content: JSON.stringify({ content: text }),
        dev_id: randomUUID(),
      });
    expect(res.status).toBe(201);
    return res.body as { msg_key: string; msg_seqno: number };
  };
  const poll = async (uid: string, q: Record<string, string | number> = {}) => {
    const res = await request(t.url)
      .get('/notify')
      .query({ protoc: 'poll', ...q })
      .set('Authorization', `Bearer ${await t.user(uid)}`);
    expect(res.status).toBe(200);
    return res.body as PollBody;
  };
  const messagesOf = (events: NotifyEvent[]) =>
    events.filter((e) => e.event === 'message').map((e) => e.data as PushedMessage);
  const sessionDetail = async (uid: string, talker: string) =>
    (
      await request(t.url)
        .get(`/api/v1/sessions/1/${talker}`)
        .set('Authorization', `Bearer ${await t.user(uid)}`)
    ).body as SessionObject;

  describe('protoc=poll', () => {
    it('starts at the head and, with nothing new, answers after timeout_ms with no events', async () => {
      // Given bob has old messages (a poll without a cursor must not replay them)
      await pair('p1-alice', 'p1-bob');
      await sendRest('p1-alice', 'p1-bob', 'old news');
      await waitFor(
        async () => (await sessionDetail('p1-bob', 'p1-alice')).max_seqno === 1,
        'the old message to be projected',
      );
      await followerAtHead(t.app);

      // When bob polls without a cursor, for 300 ms
      const t0 = Date.now();
      const body = await poll('p1-bob', { timeout_ms: 300 });

      // Then the poll waited, and answers nothing but a cursor to resume from
      expect(Date.now() - t0).toBeGreaterThanOrEqual(250);
      expect(body).toEqual({
        cursor: expect.stringMatching(/^[0-9a-z]+\.[0-9a-z]+$/),
        events: [],
        has_more: 0,
      });
    });

    it('answers a waiting poll as soon as a message for its user is sent, well before its timeout', async () => {
      // Given bob's cursor, and a poll of his waiting on it for up to 20 s (token as a parameter)
      await pair('p2-alice', 'p2-bob');
      const { cursor } = await poll('p2-bob', { timeout_ms: 0 });
      const feeds = t.app.get(UserFeeds);
      const t0 = Date.now();
      const pending = request(t.url)
        .get('/notify')
        .query({ protoc: 'poll', cursor, timeout_ms: 20_000, token: await t.user('p2-bob') })
        .then((res) => res);
      await waitFor(() => feeds.isOnline('p2-bob'), 'the poll to be waiting');

      // When alice sends him a message over REST
      const sent = await sendRest('p2-alice', 'p2-bob', 'wake up');

      // Then the poll answers with it at once
      const res = await pending;
      expect(res.status).toBe(200);
      expect(Date.now() - t0).toBeLessThan(5_000);
      const body = res.body as PollBody;
      const [message] = messagesOf(body.events);
      expect(message).toMatchObject({
        msg_key: sent.msg_key,
        msg_seqno: 1,
        talker_id: 'p2-alice',
        sender_uid: 'p2-alice',
      });
      expect(JSON.parse(message.content)).toEqual({ content: 'wake up' });
      expect(body.events[0].cursor).toEqual(expect.any(String));
      expect(body.cursor).not.toBe(cursor);
      // And the session it changed, as projected, with no cursor (it is derived state)
      const session = body.events.find((e) => e.event === 'session_updated');
      expect(session).toMatchObject({
        cursor: null,
        data: { talker_id: 'p2-alice', max_seqno: 1, unread_count: 1 },
      });
      expect(feeds.isOnline('p2-bob')).toBe(false);
    });

    it('gives a client that was away everything it missed, in msg_seqno order, with the session', async () => {
      // Given bob's cursor, then five messages sent to him (and five to dave) while he is away
      await pair('p3-alice', 'p3-bob');
      const { cursor } = await poll('p3-bob', { timeout_ms: 0 });
      const sent: string[] = [];
      await pair('p3-carol', 'p3-dave');
      for (let i = 0; i < 5; i++) {
        sent.push((await sendRest('p3-alice', 'p3-bob', `m${i}`)).msg_key);
        await sendRest('p3-carol', 'p3-dave', `not for bob ${i}`);
      }

      // When he polls from his cursor until he has them all
      const received: NotifyEvent[] = [];
      let at = cursor;
      await waitFor(async () => {
        const body = await poll('p3-bob', { cursor: at, timeout_ms: 1_000 });
        received.push(...body.events);
        at = body.cursor;
        return messagesOf(received).length >= 5 && body.has_more === 0;
      }, 'every missed message');

      // Then he has each once, in order, nothing of other users, and his session as REST shows it
      expect(received.filter((e) => JSON.stringify(e.data).includes('p3-carol'))).toEqual([]);
      expect(messagesOf(received).map((m) => m.msg_key)).toEqual(sent);
      expect(messagesOf(received).map((m) => m.msg_seqno)).toEqual([1, 2, 3, 4, 5]);
      const sessions = received
        .filter((e) => e.event === 'session_updated')
        .map((e) => e.data as SessionObject);
      expect(sessions.at(-1)).toMatchObject({
        talker_id: 'p3-alice',
        max_seqno: 5,
        unread_count: 5,
      });
      expect(await sessionDetail('p3-bob', 'p3-alice')).toMatchObject({
        max_seqno: 5,
        unread_count: 5,
      });
    });

    it('replays a recalled message as history shows it now, and one cursor per event', async () => {
      // Given bob's cursor, then two messages to him, one recalled by alice and one by the system
      await pair('p5-alice', 'p5-bob');
      const { cursor } = await poll('p5-bob', { timeout_ms: 0 });
      const kept = await sendRest('p5-alice', 'p5-bob', 'kept');
      const oops = await sendRest('p5-alice', 'p5-bob', 'oops');
      const gone = await sendRest('p5-alice', 'p5-bob', 'gone');
      const recall = await request(t.url)
        .post('/api/v1/messages')
        .set('Authorization', `Bearer ${await t.user('p5-alice')}`)
        .send({
          receiver_id: 'p5-bob',
          receiver_type: 1,
          msg_type: 5,
          content: oops.msg_key,
          dev_id: randomUUID(),
        });
      expect(recall.status).toBe(201);
      // (a system recall finds the message in history, so it waits for the projection)
      let cancelled = 0;
      await waitFor(async () => {
        cancelled = (
          await request(t.url)
            .post(`/admin/v1/messages/${gone.msg_key}/sys-cancel`)
            .set('X-Admin-Key', t.adminKey)
            .send({})
        ).status;
        return cancelled !== 404;
      }, 'the system recall');
      expect(cancelled).toBe(200);

      // When he catches up from before them all
      const received: NotifyEvent[] = [];
      let at = cursor;
      await waitFor(async () => {
        const body = await poll('p5-bob', { cursor: at, timeout_ms: 500 });
        received.push(...body.events);
        at = body.cursor;
        return received.filter((e) => e.event === 'message_recalled').length >= 2;
      }, 'both recalls');

      // Then the kept message has its text, the recalled one none, the cancelled one is absent
      const byKey = new Map(messagesOf(received).map((m) => [m.msg_key, m]));
      expect(JSON.parse(byKey.get(kept.msg_key)!.content)).toEqual({ content: 'kept' });
      expect(byKey.get(oops.msg_key)).toMatchObject({ content: '', msg_status: 1 });
      expect(byKey.has(gone.msg_key)).toBe(false);
      // And a recall's two items (its notice, then message_recalled) carry one cursor, on the last
      const recallItems = received.filter(
        (e) =>
          e.event === 'message_recalled' ||
          (e.event === 'message' && (e.data as { msg_type: number }).msg_type === 5),
      );
      for (const e of recallItems) {
        expect(e.cursor === null).toBe(e.event === 'message');
      }
    });

    it('stops waiting when the client of a poll goes away', async () => {
      // Given a poll of bob's waiting for up to 20 s
      const feeds = t.app.get(UserFeeds);
      const req = http.get(`${t.url}/notify?protoc=poll&timeout_ms=20000`, {
        headers: { authorization: `Bearer ${await t.user('p5-bob')}` },
      });
      req.on('error', () => undefined);
      await waitFor(() => feeds.isOnline('p5-bob'), 'the poll to be waiting');

      // When its client disconnects
      req.destroy();

      // Then the node lets go of it
      await waitFor(() => !feeds.isOnline('p5-bob'), 'the poll to be let go', 2_000);
    });

    it('misses nothing and repeats nothing when sends interleave with polls of any small limit', async () => {
      const seed = Date.now() % 100_000;
      const random = seeded(seed);
      const pick = (lo: number, hi: number) => lo + Math.floor(random() * (hi - lo + 1));
      // Given bob's cursor
      await pair('p4-alice', 'p4-bob');
      let at = (await poll('p4-bob', { timeout_ms: 0 })).cursor;
      const sent: string[] = [];
      const received: NotifyEvent[] = [];
      const pollOnce = async (timeoutMs: number) => {
        const limit = pick(1, 5);
        const body = await poll('p4-bob', { cursor: at, limit, timeout_ms: timeoutMs });
        // "About" limit: the session objects of what was read come on top
        expect({ seed, n: messagesOf(body.events).length <= limit }).toEqual({ seed, n: true });
        received.push(...body.events);
        at = body.cursor;
        return body;
      };

      // When alice sends 40 messages in bursts of 1 to 4 (concurrent within a burst), while bob
      // polls between bursts with a random limit
      while (sent.length < 40) {
        const burst = await Promise.all(
          Array.from({ length: pick(1, 4) }, (_, i) => sendRest('p4-alice', 'p4-bob', `b${i}`)),
        );
        sent.push(...burst.sort((a, b) => a.msg_seqno - b.msg_seqno).map((s) => s.msg_key));
        for (let polls = pick(0, 2); polls > 0; polls--) await pollOnce(0);
      }
      // And then polls until he has caught up
      await waitFor(
        async () =>
          (await pollOnce(1_000)).has_more === 0 && messagesOf(received).length >= sent.length,
        `bob to catch up (seed ${seed})`,
        20_000,
        0,
      );

      // Then the messages he got are exactly those sent, in msg_seqno order, none twice
      const got = messagesOf(received);
      expect({ seed, keys: got.map((m) => m.msg_key) }).toEqual({ seed, keys: sent });
      expect(got.map((m) => m.msg_seqno)).toEqual(sent.map((_, i) => i + 1));
      // And every message event carries a cursor; the last session object is the projected one
      expect(received.filter((e) => e.event === 'message' && !e.cursor)).toEqual([]);
      const sessions = received
        .filter((e) => e.event === 'session_updated')
        .map((e) => e.data as SessionObject);
      expect(sessions.at(-1)).toMatchObject({ max_seqno: sent.length, unread_count: sent.length });
    });
  });

  describe('protoc=sse', () => {
    it('streams messages with their cursor as id, and resumes after Last-Event-ID with exactly what was missed', async () => {
      // Given bob's event stream
      await pair('s1-alice', 's1-bob');
      const bob = await t.user('s1-bob');
      const first = await openSse(t.url, '/notify?protoc=sse', { authorization: `Bearer ${bob}` });
      streams.push(first);
      expect(first.status).toBe(200);
      expect(first.headers['content-type']).toMatch(/^text\/event-stream/);

      // When alice sends a message
      const m1 = await sendRest('s1-alice', 's1-bob', 'one');
      // Then it comes as a `message` frame whose id is a cursor
      await waitFor(() => first.all('message').length >= 1, 'the first message frame');
      const [frame] = first.all<PushedMessage>('message');
      expect(frame.data).toMatchObject({
        msg_key: m1.msg_key,
        msg_seqno: 1,
        talker_id: 's1-alice',
      });
      expect(frame.id).toMatch(/^[0-9a-z]+\.[0-9a-z]+$/);
      // And the session object follows, without an id (it is derived state)
      await waitFor(() => first.all('session_updated').length >= 1, 'the session frame');
      expect(first.all('session_updated')[0].id).toBeUndefined();

      // When bob goes away, two messages are sent, and he comes back with Last-Event-ID
      first.close();
      // (the node lets go of a stream whose client left)
      await waitFor(() => !t.app.get(UserFeeds).isOnline('s1-bob'), 'the stream to be let go');
      const m2 = await sendRest('s1-alice', 's1-bob', 'two');
      const m3 = await sendRest('s1-alice', 's1-bob', 'three');
      const second = await openSse(t.url, `/notify?protoc=sse&token=${bob}`, {
        'last-event-id': frame.id!,
      });
      streams.push(second);
      expect(second.status).toBe(200);
      // And one more comes live, to mark the end of what may arrive
      const m4 = await sendRest('s1-alice', 's1-bob', 'four');

      // Then he gets exactly the two he missed, then the live one: none twice, none lost
      await waitFor(
        () => second.all<PushedMessage>('message').some((f) => f.data.msg_key === m4.msg_key),
        'the live message after the resume',
      );
      const resumed = second.all<PushedMessage>('message');
      expect(resumed.map((f) => f.data.msg_key)).toEqual([m2.msg_key, m3.msg_key, m4.msg_key]);
      expect(resumed.map((f) => f.data.msg_seqno)).toEqual([2, 3, 4]);
      expect(resumed.every((f) => f.id !== undefined)).toBe(true);
      await waitFor(
        () => second.all<SessionObject>('session_updated').some((s) => s.data.max_seqno === 4),
        'the session after the resume',
      );
      second.close();
    });
  });

  describe('when the node stops', () => {
    it('ends open streams with server_shutdown and answers waiting polls at once', async () => {
      // Given a node of its own with an open stream (bob) and a waiting poll (carol)
      const node = await startTestApp();
      let closing: Promise<void> | undefined;
      try {
        const stream = await openSse(node.url, '/notify?protoc=sse', {
          authorization: `Bearer ${await node.user('stop-bob')}`,
        });
        streams.push(stream);
        const t0 = Date.now();
        const polled = request(node.url)
          .get('/notify')
          .query({ protoc: 'poll', timeout_ms: 20_000 })
          .set('Authorization', `Bearer ${await node.user('stop-carol')}`)
          .then((res) => res);
        const feeds = node.app.get(UserFeeds);
        await waitFor(
          () => feeds.isOnline('stop-bob') && feeds.isOnline('stop-carol'),
          'the stream and the poll to be open',
        );

        // When the node stops
        closing = node.close();

        // Then the stream is told why and ended, and the poll answers with a cursor
        await stream.ended;
        expect(stream.all('server_shutdown').map((f) => f.data)).toEqual([
          { code: 50302, message: expect.any(String) },
        ]);
        const res = await polled;
        expect(res.status).toBe(200);
        expect(res.body).toMatchObject({ cursor: expect.any(String), events: [] });
        expect(Date.now() - t0).toBeLessThan(10_000);
        await closing;
      } finally {
        if (!closing) await node.close();
      }
    });
  });

  describe('bad input is refused before anything is written', () => {
    const notify = () => request(t.url).get('/notify');
    const bearer = async () => `Bearer ${await t.user('bad-bob')}`;

    it('refuses a feed over the per-user limit with 429 42900', async () => {
      // Given ten polls of one user waiting (the default limit is 10)
      const token = await t.user('many-feeds');
      const feeds = t.app.get(UserFeeds);
      const waiting = Array.from({ length: 10 }, () =>
        notify()
          .query({ protoc: 'poll', timeout_ms: 3_000 })
          .set('Authorization', `Bearer ${token}`)
          .then((r) => r.status),
      );
      await waitFor(() => feeds.feedsOf('many-feeds') === 10, 'ten waiting polls');
      // Then an eleventh is refused, writing nothing, and the ten answer in time
      await t.rejects(
        notify().query({ protoc: 'poll', timeout_ms: 0 }).set('Authorization', `Bearer ${token}`),
        429,
        42900,
      );
      expect(await Promise.all(waiting)).toEqual(waiting.map(() => 200));
    });

    it('needs a valid token, in the header or as a parameter', async () => {
      await t.rejects(notify().query({ protoc: 'poll', timeout_ms: 0 }), 401, 40100);
      await t.rejects(
        notify().query({ protoc: 'poll', timeout_ms: 0 }).set('Authorization', 'Bearer nope'),
        401,
        40102,
      );
      await t.rejects(notify().query({ protoc: 'sse', token: 'nope' }), 401, 40102);
    });

    it('needs protoc to be sse or poll', async () => {
      await t.rejects(notify().set('Authorization', await bearer()), 400, 40000);
      await t.rejects(
        notify()
          .query({ protoc: 'carrier-pigeon' })
          .set('Authorization', await bearer()),
        400,
        40000,
      );
    });

    it('points protoc=ws at Socket.IO', async () => {
      const res = await t.rejects(
        notify()
          .query({ protoc: 'ws' })
          .set('Authorization', await bearer()),
        400,
        40000,
      );
      expect(res.body.message).toMatch(/Socket\.IO/);
    });

    it('refuses a cursor it did not make, or one beyond the head of the log', async () => {
      for (const cursor of [
        'not-a-cursor',
        '1.2.3',
        'ZZ.1',
        '-1.5',
        'zzzzzzzzzzzzzz.zzzzzzzzzzzzzz',
      ]) {
        for (const protoc of ['poll', 'sse']) {
          await t.rejects(
            notify()
              .query({ protoc, cursor, timeout_ms: 0 })
              .set('Authorization', await bearer()),
            400,
            40000,
          );
        }
      }
      // Well-formed, but past the last event the log holds
      const pool = createTestPool(t.db.url, 1);
      const { rows } = await pool
        .query<{ c: string; p: string }>(
          `SELECT transaction_id::text AS c, global_position::text AS p FROM es_events
            ORDER BY transaction_id DESC, global_position DESC LIMIT 1`,
        )
        .finally(() => pool.end());
      const [commit, prepare] = [BigInt(rows[0].c), BigInt(rows[0].p)];
      const cursorOf = (c: bigint, p: bigint) => `${c.toString(36)}.${p.toString(36)}`;
      for (const beyond of [cursorOf(commit, prepare + 1n), cursorOf(commit + 1_000_000n, 1n)]) {
        await t.rejects(
          notify()
            .query({ protoc: 'poll', cursor: beyond, timeout_ms: 0 })
            .set('Authorization', await bearer()),
          400,
          40000,
        );
      }
      // The last event itself is a cursor it may have given
      expect(
        (await poll('bad-bob', { cursor: cursorOf(commit, prepare), timeout_ms: 0 })).events,
      ).toEqual(expect.any(Array));
      await t.rejects(
        notify()
          .set('Last-Event-ID', 'garbage')
          .query({ protoc: 'sse' })
          .set('Authorization', await bearer()),
        400,
        40000,
      );
    });

    it('refuses a timeout_ms or limit out of range', async () => {
      for (const q of [
        { timeout_ms: -1 },
        { timeout_ms: 60_001 },
        { limit: 0 },
        { limit: 'ten' },
      ]) {
        await t.rejects(
          notify()
            .query({ protoc: 'poll', ...q })
            .set('Authorization', await bearer()),
          400,
          40000,
        );
      }
    });
  });
});
