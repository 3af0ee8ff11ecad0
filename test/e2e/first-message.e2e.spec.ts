import { randomUUID } from 'node:crypto';
import { Client } from 'pg';
import request from 'supertest';
import { startTestApp, TestApp } from '../support/app';
import { waitFor } from '../support/wait-for';

const text = (t: string) => JSON.stringify({ content: t });

describe('the first message, end to end over HTTP', () => {
  let t: TestApp;
  let alice: string;
  let bob: string;

  beforeAll(async () => {
    t = await startTestApp();
    alice = await t.tokenFor('alice');
    bob = await t.tokenFor('bob');
    // Followers may receive any number of messages (strangers one, until they reply).
    await t.follow(bob, 'alice');
    await t.follow(await t.tokenFor('carol'), 'alice');
  });
  afterAll(() => t.close());

  const send = (token: string, receiver: string, body: Record<string, unknown> = {}) =>
    request(t.url)
      .post('/api/v1/messages')
      .set('Authorization', `Bearer ${token}`)
      .send({
        receiver_id: receiver,
        receiver_type: 1,
        msg_type: 1,
        content: text('hello'),
        dev_id: randomUUID(),
        ...body,
      });

  const sessions = (token: string) =>
    request(t.url).get('/api/v1/sessions').set('Authorization', `Bearer ${token}`);

  it('gives consecutive seqnos, an unread count to the receiver only, and the history to both', async () => {
    // Given two registered users
    // When alice sends bob three messages
    const sent = [];
    for (const word of ['one', 'two', 'three']) {
      const res = await send(alice, 'bob', { content: text(word) });
      expect(res.status).toBe(201);
      sent.push(res.body as { msg_key: string; msg_seqno: number; timestamp: number });
    }
    // Then the seqnos are 1, 2, 3 and the keys are distinct 64-bit strings
    expect(sent.map((s) => s.msg_seqno)).toEqual([1, 2, 3]);
    expect(new Set(sent.map((s) => s.msg_key)).size).toBe(3);
    for (const s of sent) expect(s.msg_key).toMatch(/^\d{1,20}$/);

    // And bob's session with alice shows three unread, alice's none
    await waitFor(async () => {
      const res = await sessions(bob);
      return res.body.session_list?.[0]?.unread_count === 3;
    }, 'bob to see three unread messages');
    const bobs = (await sessions(bob)).body;
    expect(bobs.session_list).toHaveLength(1);
    expect(bobs.session_list[0]).toMatchObject({
      talker_id: 'alice',
      session_type: 1,
      unread_count: 3,
      max_seqno: 3,
      ack_seqno: 0,
      last_msg: { sender_uid: 'alice', receiver_id: 'bob', msg_seqno: 3, content: text('three') },
    });
    const alices = (await sessions(alice)).body;
    expect(alices.session_list[0]).toMatchObject({
      talker_id: 'bob',
      unread_count: 0,
      ack_seqno: 3,
    });

    // And both read the same history, newest first
    const history = await request(t.url)
      .get('/api/v1/sessions/1/alice/messages')
      .set('Authorization', `Bearer ${bob}`);
    expect(history.status).toBe(200);
    expect(history.body.messages.map((m: { msg_seqno: number }) => m.msg_seqno)).toEqual([3, 2, 1]);
    expect(history.body.messages[2]).toMatchObject({
      msg_key: sent[0].msg_key,
      content: text('one'),
      msg_status: 0,
      timestamp: sent[0].timestamp,
    });
    const fromAlice = await request(t.url)
      .get('/api/v1/sessions/1/bob/messages?size=2')
      .set('Authorization', `Bearer ${alice}`);
    expect(fromAlice.body).toMatchObject({ has_more: 1, min_seqno: 2, max_seqno: 3 });
    const older = await request(t.url)
      .get('/api/v1/sessions/1/bob/messages?size=2&end_seqno=2')
      .set('Authorization', `Bearer ${alice}`);
    expect(older.body).toMatchObject({ has_more: 0, min_seqno: 1, max_seqno: 1 });
    const newer = await request(t.url)
      .get('/api/v1/sessions/1/bob/messages?size=1&begin_seqno=1')
      .set('Authorization', `Bearer ${alice}`);
    expect(newer.body).toMatchObject({ has_more: 1, min_seqno: 2, max_seqno: 2 });
  });

  it('answers a retried dev_id with the first send and writes nothing new', async () => {
    const devId = randomUUID();
    const first = await send(alice, 'carol-never', { dev_id: devId });
    expect(first.status).toBe(404);
    await t.tokenFor('carol');
    const a = await send(alice, 'carol', { dev_id: devId });
    const b = await send(alice, 'carol', { dev_id: devId.toUpperCase() });
    expect(a.status).toBe(201);
    expect(b.status).toBe(200);
    expect(b.body).toEqual(a.body);
    const next = await send(alice, 'carol');
    expect(next.body.msg_seqno).toBe(2);
  });

  it('replying marks the replier read and leaves the other side one unread', async () => {
    await t.tokenFor('dave');
    const dave = await t.tokenFor('dave');
    const erin = await t.tokenFor('erin');
    await t.follow(erin, 'dave');
    await send(dave, 'erin');
    await send(dave, 'erin');
    await send(erin, 'dave');
    await waitFor(async () => {
      const d = (await sessions(dave)).body.session_list?.[0];
      return d?.max_seqno === 3;
    }, 'dave to see the reply');
    const d = (await sessions(dave)).body.session_list[0];
    const e = (await sessions(erin)).body.session_list[0];
    expect(d).toMatchObject({ talker_id: 'erin', unread_count: 1, ack_seqno: 2 });
    expect(e).toMatchObject({ talker_id: 'dave', unread_count: 0, ack_seqno: 3 });
  });

  it('pages the session list by cursor without gaps or repeats', async () => {
    const owner = await t.tokenFor('pager');
    const talkers = Array.from({ length: 7 }, (_, i) => `talker${i}`);
    for (const uid of talkers) {
      const token = await t.tokenFor(uid);
      expect((await send(token, 'pager')).status).toBe(201);
    }
    await waitFor(
      async () => (await sessions(owner)).body.session_list?.length === 7,
      'seven sessions',
    );
    const seen: string[] = [];
    let cursor: string | null = null;
    do {
      const res: request.Response = await request(t.url)
        .get('/api/v1/sessions')
        .query({ size: 3, ...(cursor ? { cursor } : {}) })
        .set('Authorization', `Bearer ${owner}`);
      expect(res.status).toBe(200);
      seen.push(...res.body.session_list.map((s: { talker_id: string }) => s.talker_id));
      cursor = res.body.next_cursor;
      expect(res.body.has_more).toBe(cursor ? 1 : 0);
    } while (cursor);
    // newest first: the last talker to write comes first
    expect(seen).toEqual([...talkers].reverse());
  });

  it('reports health with each projection', async () => {
    const res = await request(t.url).get('/health');
    expect(res.status).toBe(200);
    expect(res.body.info.database.status).toBe('up');
    expect(res.body.info.event_store.status).toBe('up');
    expect(Object.keys(res.body.info.projections)).toEqual(
      expect.arrayContaining(['users', 'messages', 'sessions']),
    );
  });

  it('serves the OpenAPI document', async () => {
    const res = await request(t.url).get('/docs-json');
    expect(res.status).toBe(200);
    expect(Object.keys(res.body.paths)).toEqual(
      expect.arrayContaining(['/api/v1/messages', '/api/v1/sessions', '/inner/get_token']),
    );
  });

  it('records who sent each message in the event metadata', async () => {
    const res = await send(alice, 'bob')
      .set('X-Request-Id', 'req-trace-1')
      .set('X-Device-Id', 'phone-7');
    expect(res.status).toBe(201);
    const c = new Client({ connectionString: t.db.url });
    await c.connect();
    const { rows } = await c.query(
      `SELECT metadata FROM es_events WHERE type = 'MessageSent' AND data->>'msgKey' = $1`,
      [res.body.msg_key],
    );
    await c.end();
    expect(rows[0].metadata).toMatchObject({
      actor: { kind: 'user', id: 'alice' },
      correlationId: 'req-trace-1',
      device: 'phone-7',
    });
  });
});
