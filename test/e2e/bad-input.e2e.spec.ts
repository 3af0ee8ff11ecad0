import { randomUUID } from 'node:crypto';
import { Client } from 'pg';
import request from 'supertest';
import { JwtService } from '@nestjs/jwt';
import { startTestApp, TestApp } from '../support/app';

const text = (t: string) => JSON.stringify({ content: t });

describe('bad input and authority', () => {
  let t: TestApp;
  let alice: string;
  let db: Client;

  beforeAll(async () => {
    t = await startTestApp({ MAX_TEXT_LENGTH: '20', BODY_LIMIT_BYTES: '4096' });
    alice = await t.tokenFor('alice');
    await t.follow(await t.tokenFor('bob'), 'alice');
    db = new Client({ connectionString: t.db.url });
    await db.connect();
  });
  afterAll(async () => {
    await db.end();
    await t.close();
  });

  const eventCount = async () =>
    Number((await db.query<{ n: string }>('SELECT count(*) AS n FROM es_events')).rows[0].n);

  const goodSend = () => ({
    receiver_id: 'bob',
    receiver_type: 1,
    msg_type: 1,
    content: text('hi'),
    dev_id: randomUUID(),
  });

  /** Sends, expects the status and code, and checks that nothing was written. */
  async function rejects(
    req: request.Test,
    status: number,
    code: number,
  ): Promise<request.Response> {
    const before = await eventCount();
    const res = await req;
    expect({ status: res.status, code: res.body.code }).toEqual({ status, code });
    expect(typeof (res.body.message ?? res.body.error)).toBe('string');
    expect(await eventCount()).toBe(before);
    return res;
  }

  const post = (body: unknown, token = alice) =>
    request(t.url)
      .post('/api/v1/messages')
      .set('Authorization', `Bearer ${token}`)
      .send(body as object);

  describe('inner get_token', () => {
    it('refuses a wrong or missing admin key with 401 in the gateway envelope', async () => {
      const wrong = await rejects(
        request(t.url)
          .post('/inner/get_token')
          .set('X-Admin-Key', 'nope')
          .send({ session: 'x', platform: 1 }),
        401,
        40110,
      );
      expect(wrong.body).toEqual({ code: 40110, error: expect.any(String) });
      await rejects(
        request(t.url).post('/inner/get_token').send({ session: 'x', platform: 1 }),
        401,
        40110,
      );
    });

    it('refuses user ids outside 1-64 characters of [A-Za-z0-9_.-]', async () => {
      for (const session of ['', 'a'.repeat(65), 'has space', 'tilde~x', 'ünï', 42]) {
        const res = await request(t.url)
          .post('/inner/get_token')
          .set('X-Admin-Key', t.adminKey)
          .send({ session, platform: 1 });
        expect(res.status).toBe(400);
        expect(res.body.code).toBe(40000);
      }
      const ok = await request(t.url)
        .post('/inner/get_token')
        .set('X-Admin-Key', t.adminKey)
        .send({ session: 'A-z_0.9'.padEnd(64, 'x'), platform: 3 });
      expect(ok.status).toBe(200);
    });
  });

  describe('bearer tokens', () => {
    it('needs a token, and says whether it is missing, expired or forged', async () => {
      await rejects(request(t.url).get('/api/v1/sessions'), 401, 40100);
      await rejects(
        request(t.url).get('/api/v1/sessions').set('Authorization', 'Basic abc'),
        401,
        40100,
      );
      const expired = await new JwtService({ secret: t.jwtSecret }).signAsync(
        { sub: 'alice', plat: 1, jti: randomUUID() },
        { expiresIn: -10 },
      );
      await rejects(
        request(t.url).get('/api/v1/sessions').set('Authorization', `Bearer ${expired}`),
        401,
        40101,
      );
      const forged = await new JwtService({ secret: 'x'.repeat(40) }).signAsync({
        sub: 'alice',
        plat: 1,
        jti: randomUUID(),
      });
      await rejects(post(goodSend(), forged), 401, 40102);
      await rejects(post(goodSend(), 'not.a.jwt'), 401, 40102);
    });
  });

  describe('sending', () => {
    it('rejects malformed JSON', async () => {
      await rejects(
        request(t.url)
          .post('/api/v1/messages')
          .set('Authorization', `Bearer ${alice}`)
          .set('Content-Type', 'application/json')
          .send('{"receiver_id": '),
        400,
        40001,
      );
    });

    it('rejects unknown fields and wrong types, naming them', async () => {
      const unknown = await rejects(post({ ...goodSend(), admin: true }), 400, 40000);
      expect(unknown.body.message).toMatch(/admin/);
      const wrongType = await rejects(post({ ...goodSend(), receiver_type: '1' }), 400, 40000);
      expect(wrongType.body.message).toMatch(/receiver_type/);
      await rejects(post({ ...goodSend(), msg_type: 1.5 }), 400, 40000);
      await rejects(post({ ...goodSend(), dev_id: 'not-a-uuid' }), 400, 40000);
      await rejects(post({ ...goodSend(), content: { content: 'object' } }), 400, 40000);
      await rejects(post([goodSend()]), 400, 40000);
      await rejects(post({ ...goodSend(), at_uids: 'bob' }), 400, 40000);
    });

    it('rejects a body over the limit with 413', async () => {
      await rejects(post({ ...goodSend(), content: text('x'.repeat(5000)) }), 413, 41300);
    });

    it('rejects text PostgreSQL cannot store: NUL and unpaired surrogates, raw or escaped', async () => {
      await rejects(post({ ...goodSend(), content: text('a\ud800b') }), 400, 40000);
      await rejects(post({ ...goodSend(), content: '{"content":"a\\ud800b"}' }), 400, 40000);
      await rejects(post({ ...goodSend(), content: text('nul\u0000') }), 400, 40000);
      await rejects(post({ ...goodSend(), content: '{"content":"nul\\u0000"}' }), 400, 40000);
      const get = (path: string) =>
        request(t.url).get(path).set('Authorization', `Bearer ${alice}`);
      await rejects(get('/api/v1/sessions?cursor=%00'), 400, 40000);
    });

    it('keeps the other sends of a burst when one of them is bad', async () => {
      const sends = Array.from({ length: 6 }, (_, i) =>
        post({ ...goodSend(), content: i === 3 ? '{"content":"x\\ud800"}' : text(`ok ${i}`) }),
      );
      const statuses = (await Promise.all(sends)).map((r) => r.status);
      expect(statuses).toEqual([201, 201, 201, 400, 201, 201]);
    });

    it('treats a dev_id reused for another receiver as a new message, not an error', async () => {
      await t.tokenFor('carl');
      const devId = randomUUID();
      const toBob = await post({ ...goodSend(), dev_id: devId });
      const toCarl = await post({ ...goodSend(), receiver_id: 'carl', dev_id: devId });
      expect([toBob.status, toCarl.status]).toEqual([201, 201]);
      expect(toCarl.body.msg_key).not.toBe(toBob.body.msg_key);
    });

    it('rejects an unknown receiver with 404', async () => {
      await rejects(post({ ...goodSend(), receiver_id: 'nobody' }), 404, 40401);
    });

    it('applies the seed rules: to yourself 21026, too long 21007, unknown type 21035', async () => {
      await rejects(post({ ...goodSend(), receiver_id: 'alice' }), 400, 21026);
      await rejects(post({ ...goodSend(), content: text('x'.repeat(21)) }), 400, 21007);
      await rejects(post({ ...goodSend(), msg_type: 77 }), 400, 21035);
      await rejects(post({ ...goodSend(), content: 'plain text' }), 400, 40000);
      await rejects(post({ ...goodSend(), content: text('') }), 400, 40000);
      // exactly at the limit is fine (counted in characters, not bytes)
      const ok = await post({ ...goodSend(), content: text('字'.repeat(20)) });
      expect(ok.status).toBe(201);
    });
  });

  describe('queries', () => {
    it('validates paging parameters and path parameters', async () => {
      const get = (path: string) =>
        request(t.url).get(path).set('Authorization', `Bearer ${alice}`);
      await rejects(get('/api/v1/sessions?size=0'), 400, 40000);
      await rejects(get('/api/v1/sessions?size=101'), 400, 40000);
      await rejects(get('/api/v1/sessions?size=abc'), 400, 40000);
      await rejects(get('/api/v1/sessions?cursor=garbage'), 400, 40000);
      await rejects(get('/api/v1/sessions?unknown=1'), 400, 40000);
      await rejects(get('/api/v1/sessions/3/bob/messages'), 400, 40000);
      await rejects(get('/api/v1/sessions/1/bob/messages?size=201'), 400, 40000);
      await rejects(get('/api/v1/sessions/1/bob/messages?end_seqno=-1'), 400, 40000);
      await rejects(get('/api/v1/sessions/1/b~b/messages'), 400, 40000);
      await rejects(get('/api/v1/sessions/1/bob/messages?begin_seqno=1e20'), 400, 40000);
      await rejects(
        get('/api/v1/sessions/1/bob/messages?end_seqno=99999999999999999999'),
        400,
        40000,
      );
      const cursor = (v: unknown) => Buffer.from(JSON.stringify(v)).toString('base64url');
      for (const bad of [
        [0, 0, 99999, 'x'],
        [0, 0, 1, 'a\u0000'],
        [-1, 0, 1, 'x'],
        [0, 0, 1, 'a b'],
        [1e300, 0, 1, 'x'],
      ]) {
        await rejects(get(`/api/v1/sessions?cursor=${cursor(bad)}`), 400, 40000);
      }
      await rejects(get('/api/v1/nothing-here'), 404, 40400);
    });

    it('shows a user only their own conversations', async () => {
      const mallory = await t.tokenFor('mallory');
      // alice has talked to bob; mallory asking for "bob" sees her own (empty) conversation
      const res = await request(t.url)
        .get('/api/v1/sessions/1/bob/messages')
        .set('Authorization', `Bearer ${mallory}`);
      expect(res.status).toBe(200);
      expect(res.body.messages).toEqual([]);
      const list = await request(t.url)
        .get('/api/v1/sessions')
        .set('Authorization', `Bearer ${mallory}`);
      expect(list.body.session_list).toEqual([]);
    });
  });

  it('never answers 500 to a burst of garbage', async () => {
    const bodies: unknown[] = [
      null,
      0,
      'x',
      [],
      {},
      { receiver_id: null },
      { content: 1 },
      { dev_id: {} },
    ];
    for (const body of bodies) {
      const res = await request(t.url)
        .post('/api/v1/messages')
        .set('Authorization', `Bearer ${alice}`)
        .set('Content-Type', 'application/json')
        .send(JSON.stringify(body));
      expect(res.status).toBeGreaterThanOrEqual(400);
      expect(res.status).toBeLessThan(500);
    }
  });
});
