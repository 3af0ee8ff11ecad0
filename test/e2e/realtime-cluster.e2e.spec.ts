import { randomBytes } from 'node:crypto';
import request from 'supertest';
import { createTestDatabase, TestDatabase } from '../support/database';
import { connectSocket, TestSocket, textTo } from '../support/realtime';
import { runServer, ServerProcess } from '../support/server-process';
import { TEST_MASTER_KEY } from '../support/test-keys';
import { waitFor } from '../support/wait-for';

interface Pushed {
  talker_id: string;
  sender_uid: string;
  content: string;
  msg_seqno: number;
  msg_key: string;
}

interface Session {
  talker_id: string;
  session_type: number;
  unread_count: number;
  max_seqno: number;
  ack_seqno?: number;
}

type Ack = { code: number; data?: { msg_key: string; msg_seqno: number }; message?: string };

/**
 * Two real server processes on one database and no broker but the event log: each follows the
 * log and pushes to the sockets it holds. Only node 1 runs the projections, so the session objects
 * node 2 pushes must wait for a projection that runs in another process.
 */
describe('realtime across two API nodes sharing one event log', () => {
  let db: TestDatabase;
  let node1: ServerProcess;
  let node2: ServerProcess;
  let url1: string;
  let url2: string;
  const sockets: TestSocket[] = [];
  const secrets = {
    JWT_SECRET: randomBytes(32).toString('base64url'),
    ADMIN_API_KEY: randomBytes(24).toString('base64url'),
    MASTER_KEY: TEST_MASTER_KEY.toString('base64'),
  };
  const tokens = new Map<string, string>();

  const token = async (uid: string): Promise<string> => {
    const known = tokens.get(uid);
    if (known) return known;
    const res = await request(url1)
      .post('/inner/get_token')
      .set('X-Admin-Key', secrets.ADMIN_API_KEY)
      .send({ session: uid, platform: 1 });
    expect(res.status).toBe(200);
    tokens.set(uid, res.body.data as string);
    return res.body.data as string;
  };
  const open = async (url: string, uid: string) => {
    const s = await connectSocket(url, { token: await token(uid) });
    sockets.push(s);
    return s;
  };
  /** `uid` follows `target`; both are registered first (a follow needs a known target). */
  const follow = async (uid: string, target: string) => {
    await token(target);
    const res = await request(url1)
      .put(`/api/v1/relations/following/${target}`)
      .set('Authorization', `Bearer ${await token(uid)}`);
    expect(res.status).toBe(200);
  };
  const sessionOf = async (url: string, uid: string, talker: string): Promise<Session> => {
    const res = await request(url)
      .get(`/api/v1/sessions/1/${talker}`)
      .set('Authorization', `Bearer ${await token(uid)}`);
    expect(res.status).toBe(200);
    return res.body as Session;
  };
  /** Every message of `uid`'s session with `talker`, oldest first (projected by node 1). */
  const history = async (url: string, uid: string, talker: string): Promise<Pushed[]> => {
    const out: Pushed[] = [];
    let begin = 0;
    for (;;) {
      const res = await request(url)
        .get(`/api/v1/sessions/1/${talker}/messages`)
        .query({ size: 200, begin_seqno: begin })
        .set('Authorization', `Bearer ${await token(uid)}`);
      expect(res.status).toBe(200);
      const page = (res.body.messages as Pushed[])
        .slice()
        .sort((a, b) => a.msg_seqno - b.msg_seqno);
      if (page.length === 0) return out;
      out.push(...page);
      begin = page[page.length - 1].msg_seqno;
    }
  };

  beforeAll(async () => {
    db = await createTestDatabase();
    const env = {
      ...secrets,
      DATABASE_URL: db.url,
      PORT: '0',
      HOST: '127.0.0.1',
      SEND_RATE_PER_SECOND: '10000',
      SEND_RATE_BURST: '10000',
    };
    node1 = runServer({ ...env, PROJECTIONS: 'on' });
    node2 = runServer({ ...env, PROJECTIONS: 'off' });
    [url1, url2] = await Promise.all([node1.ready, node2.ready]);
  });
  afterAll(async () => {
    sockets.forEach((s) => s.close());
    for (const node of [node1, node2]) {
      if (node && node.child.exitCode === null) {
        node.child.kill('SIGTERM');
        await node.exited;
      }
    }
    await db?.drop();
  });

  it('pushes to a client on node 1, in msg_seqno order and once each, what a client on node 2 sends', async () => {
    // Given bob on node 1 and alice on node 2, and bob following alice
    expect(url1).not.toBe(url2);
    await follow('c-bob', 'c-alice');
    const bob = await open(url1, 'c-bob');
    const alice = await open(url2, 'c-alice');

    // When alice sends 50 messages at once, without waiting for any ack
    const n = 50;
    const acks = await Promise.all(
      Array.from({ length: n }, (_, i) => alice.call<Ack>('send', textTo('c-bob', `m${i}`))),
    );

    // Then every send is acknowledged, numbered 1..50
    expect(acks.map((a) => a.code)).toEqual(Array(n).fill(0));
    const acked = new Map(acks.map((a) => [a.data!.msg_key, a.data!.msg_seqno]));
    expect([...acked.values()].sort((a, b) => a - b)).toEqual(
      Array.from({ length: n }, (_, i) => i + 1),
    );
    // And bob receives all 50 pushes, strictly in msg_seqno order, each exactly once
    await waitFor(() => bob.all('message').length >= n, `${n} pushes on node 1`);
    const pushed = bob.all<Pushed>('message');
    expect(pushed.map((m) => m.msg_seqno)).toEqual(Array.from({ length: n }, (_, i) => i + 1));
    for (const m of pushed) {
      expect(m).toMatchObject({ talker_id: 'c-alice', sender_uid: 'c-alice' });
      expect(acked.get(m.msg_key)).toBe(m.msg_seqno);
      expect(JSON.parse(m.content)).toEqual({ content: expect.stringMatching(/^m\d+$/) });
    }
    // And alice's sending connection has its acks, not the messages again
    expect(alice.all('message')).toEqual([]);

    // And bob's session object arrives once projected, agreeing with a REST read on either node
    const bobSession = await bob.next<Session>(
      'session_updated',
      (s) => s.talker_id === 'c-alice' && s.max_seqno === n,
    );
    expect(bobSession.unread_count).toBe(n);
    for (const url of [url1, url2]) {
      expect(await sessionOf(url, 'c-bob', 'c-alice')).toMatchObject({
        max_seqno: bobSession.max_seqno,
        unread_count: bobSession.unread_count,
      });
    }
    // And node 2, which runs no projection, pushes alice's session only once node 1 projected it
    const aliceSession = await alice.next<Session>(
      'session_updated',
      (s) => s.talker_id === 'c-bob' && s.max_seqno === n,
    );
    expect(aliceSession.unread_count).toBe(0);
    expect(await sessionOf(url2, 'c-alice', 'c-bob')).toMatchObject({
      max_seqno: n,
      unread_count: 0,
    });
    // Session objects are read after their projection, so they never go backwards
    for (const s of [bob, alice]) {
      const seqnos = s.all<Session>('session_updated').map((x) => x.max_seqno);
      expect(seqnos).toEqual([...seqnos].sort((a, b) => a - b));
      expect(seqnos[seqnos.length - 1]).toBe(n);
    }
  });

  it('pushes to a client on node 2 what is sent over REST on node 1, and its read ack back', async () => {
    // Given carol on node 2 following dave
    await follow('c-carol', 'c-dave');
    const carol = await open(url2, 'c-carol');
    const daveElsewhere = await open(url2, 'c-dave');

    // When dave sends over REST on node 1
    const sent = await request(url1)
      .post('/api/v1/messages')
      .set('Authorization', `Bearer ${await token('c-dave')}`)
      .send(textTo('c-carol', 'over rest'));
    expect(sent.status).toBe(201);

    // Then carol gets it on node 2, and dave's own device on node 2 too
    const m = await carol.next<Pushed>('message', (x) => x.msg_key === sent.body.msg_key);
    expect(m).toMatchObject({ talker_id: 'c-dave', msg_seqno: 1 });
    const mine = await daveElsewhere.next<Pushed>(
      'message',
      (x) => x.msg_key === sent.body.msg_key,
    );
    expect(mine.talker_id).toBe('c-carol');

    // When carol reads it from node 2
    const ack = await carol.call<{ code: number }>('ack', {
      session_type: 1,
      talker_id: 'c-dave',
      ack_seqno: 1,
    });
    expect(ack.code).toBe(0);
    // Then her session, projected on node 1, is pushed to her with nothing unread
    const read = await carol.next<Session>(
      'session_updated',
      (s) => s.talker_id === 'c-dave' && s.unread_count === 0,
    );
    expect(read.max_seqno).toBe(1);
    expect((await sessionOf(url1, 'c-carol', 'c-dave')).unread_count).toBe(0);
  });

  // Last: stopping node 2 ends the cluster's tests that need it.
  describe('when node 2 is stopped with SIGTERM while its client keeps sending', () => {
    let erin: TestSocket;
    let frank: TestSocket;
    let why: { code: number; message: string };
    let disconnectReason: string | null = null;
    let exitCode: number | null;
    /** Each send's ack, or null when the connection ended before it came. */
    const replies: (Ack | null)[] = [];

    beforeAll(async () => {
      // Given erin on node 2 sending to frank on node 1, who follows her
      await follow('c-frank', 'c-erin');
      frank = await open(url1, 'c-frank');
      erin = await open(url2, 'c-erin');
      erin.socket.on('disconnect', (reason) => (disconnectReason = reason));
      const sendOne = (i: number) =>
        new Promise<Ack | null>((resolve) => {
          if (!erin.socket.connected) return resolve(null);
          const gone = () => resolve(null);
          erin.socket.once('disconnect', gone);
          erin.socket.emit('send', textTo('c-frank', `s${i}`), (reply: Ack) => {
            erin.socket.off('disconnect', gone);
            resolve(reply);
          });
        });
      let i = 0;
      // Four senders keep sends in flight until the connection ends
      const senders = Array.from({ length: 4 }, async () => {
        while (erin.socket.connected) replies.push(await sendOne(i++));
      });
      await waitFor(() => replies.filter((r) => r?.code === 0).length >= 20, 'some acked sends');

      // When node 2 is stopped with SIGTERM
      node2.child.kill('SIGTERM');
      why = await erin.next<{ code: number; message: string }>('server_shutdown');
      await waitFor(() => disconnectReason !== null, 'the connection to end');
      await Promise.all(senders);
      exitCode = await node2.exited;
    });

    const acked = () => replies.filter((r): r is Ack => r?.code === 0).map((r) => r.data!.msg_key);
    /** Erin's messages in history, once every acknowledged one is there (node 1 projects). */
    const stored = async (): Promise<Pushed[]> => {
      let out: Pushed[] = [];
      await waitFor(
        async () => {
          out = await history(url1, 'c-frank', 'c-erin');
          const keys = new Set(out.map((m) => m.msg_key));
          return acked().every((k) => keys.has(k));
        },
        'every acknowledged send in history',
        15_000,
        100,
      );
      return out;
    };

    it('tells its client why, closes the transport (the client reconnects by itself), exits 0', () => {
      expect(why).toEqual({ code: 50302, message: expect.any(String) });
      expect(disconnectReason).toBe('transport close');
      expect(exitCode).toBe(0);
    });

    it('loses no acknowledged send: each is in history and was pushed to node 1', async () => {
      // The sends it answered either succeeded or were refused as shutting down
      const refused = replies.filter((r): r is Ack => r !== null && r.code !== 0);
      expect(refused.map((r) => r.code)).toEqual(refused.map(() => 50302));
      const messages = await stored();
      expect(messages.map((m) => m.msg_seqno)).toEqual(messages.map((_, j) => j + 1));
      await waitFor(
        () => frank.all('message').length >= messages.length,
        'frank to get every stored message',
      );
      expect(frank.all<Pushed>('message').map((m) => m.msg_key)).toEqual(
        messages.map((m) => m.msg_key),
      );
      expect((await request(url1).get('/health')).status).toBe(200);
    });

    it('answers every send it committed before it closes the transport', async () => {
      // The gateway drains commands in flight before letting sockets go: their sender must learn
      // that they were sent, or it cannot tell a sent message from a lost one.
      const messages = await stored();
      expect(messages.map((m) => m.msg_key).sort()).toEqual(acked().sort());
    });
  });
});
