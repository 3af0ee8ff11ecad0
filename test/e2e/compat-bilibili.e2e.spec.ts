import { randomUUID } from 'node:crypto';
import { Client } from 'pg';
import request from 'supertest';
import { JwtService } from '@nestjs/jwt';
import { startTestApp, TestApp } from '../support/app';
import { waitFor } from '../support/wait-for';

/**
 * The Bilibili web API (bilibili-private-message-api.md) as its clients call it: the seed's curl
 * examples replayed with this server's host and credentials, answers read in the seed's envelope
 * and, where 64-bit ids matter, in the raw response text.
 */

// The seed's users: the sender of its send_msg examples and the receiver mid 1.
const UP = '293793435';
const ONE = '1';
const JCT = 'bili-jct-0123456789abcdef';
const TWO_53 = 2n ** 53n;

/**
 * A body as `curl --data-urlencode 'name=content'` sends it: the name as written (curl expects it
 * encoded already, so brackets and the seed's stray space go out raw), the content encoded.
 */
const curlForm = (...pairs: string[]): string =>
  pairs
    .map((p) => {
      const eq = p.indexOf('=');
      return `${p.slice(0, eq)}=${encodeURIComponent(p.slice(eq + 1))}`;
    })
    .join('&');

/** `-b 'SESSDATA=xxx'` plus the `bili_jct` cookie that a logged-in browser holds. */
const cookie = (token: string, jct = JCT) => `SESSDATA=${token}; bili_jct=${jct}`;

/** Every `"name":<number>` in a raw JSON text, as digit strings. */
const rawNumbers = (text: string, name: string): string[] =>
  [...text.matchAll(new RegExp(`"${name}":(\\d+)`, 'g'))].map((m) => m[1]);

describe('Bilibili web API compatibility', () => {
  let t: TestApp;
  let up: string;
  let one: string;
  let alice: string;
  let carol: string;
  let db: Client;

  beforeAll(async () => {
    t = await startTestApp();
    up = await t.tokenFor(UP, 7);
    one = await t.tokenFor(ONE, 7);
    alice = await t.tokenFor('alice');
    carol = await t.tokenFor('carol');
    // mid 1 follows the sender, so more than one message may reach them (21047 otherwise).
    await t.follow(one, UP);
    await t.follow(one, 'alice');
    db = new Client({ connectionString: t.db.url });
    await db.connect();
  });
  afterAll(async () => {
    await db.end();
    await t.close();
  });

  const eventCount = async () =>
    Number((await db.query<{ n: string }>('SELECT count(*) AS n FROM es_events')).rows[0].n);

  const sendForm = (fields: Record<string, string>, extra: string[] = []) =>
    curlForm(
      ...Object.entries({
        'msg[sender_uid]': UP,
        'msg[receiver_id]': ONE,
        'msg[receiver_type] ': '1',
        'msg[msg_type]': '1',
        'msg[msg_status]': '0',
        'msg[dev_id]': randomUUID().toUpperCase(),
        'msg[timestamp]': '1626181379',
        'msg[new_face_version]': '1',
        'msg[content]': JSON.stringify({ content: 'hello' }),
        csrf: JCT,
        csrf_token: JCT,
        ...fields,
      }).map(([k, v]) => `${k}=${v}`),
      ...extra,
    );

  const sendMsg = (body: string, token = up) =>
    request(t.url)
      .post('/web_im/v1/web_im/send_msg')
      .set('Cookie', cookie(token))
      .type('form')
      .send(body);

  const fetchMsgs = (token: string, talker: string, extra: Record<string, string> = {}) =>
    request(t.url)
      .get('/svr_sync/v1/svr_sync/fetch_session_msgs')
      .query({ talker_id: talker, session_type: '1', size: '20', ...extra })
      .set('Cookie', cookie(token));

  const detail = (token: string, talker: string) =>
    request(t.url)
      .get('/session_svr/v1/session_svr/session_detail')
      .query({ talker_id: talker, session_type: '1', build: '0', mobi_app: 'web' })
      .set('Cookie', cookie(token));

  /** Sends through the compat API and waits until the message is in the receiver's history. */
  async function sendAndProject(content: string): Promise<string> {
    const res = await sendMsg(sendForm({ 'msg[content]': JSON.stringify({ content }) }));
    expect(res.body.code).toBe(0);
    const key = rawNumbers(res.text, 'msg_key')[0];
    await waitFor(
      async () => rawNumbers((await fetchMsgs(one, UP)).text, 'msg_key').includes(key),
      'the message to reach the history',
    );
    return key;
  }

  /** Expects the error envelope with HTTP 200 and checks that nothing was written. */
  async function rejects(req: () => request.Test, code: number): Promise<request.Response> {
    const before = await eventCount();
    const res = await req();
    expect({ status: res.status, code: res.body.code }).toEqual({ status: 200, code });
    expect(res.body).toMatchObject({ ttl: 1, msg: expect.any(String) });
    expect(res.body.message).toBe(res.body.msg);
    expect(res.body.message).not.toBe('0');
    expect(await eventCount()).toBe(before);
    return res;
  }

  describe('send_msg', () => {
    it("sends the seed's text example unchanged, answering msg_key as an exact JSON number", async () => {
      // Given the seed's curl example, trailing space in `msg[receiver_type] ` included
      const body = curlForm(
        `msg[sender_uid]=${UP}`,
        `msg[receiver_id]=${ONE}`,
        'msg[receiver_type] =1',
        'msg[msg_type]=1',
        'msg[msg_status]=0',
        'msg[dev_id]=372778FD-E359-461D-86A3-EA2BCC6FF52A',
        'msg[timestamp]=1626181379',
        'msg[new_face_version]=1',
        'msg[content]={"content":"up主你好,\\n催更[doge]"}',
        `csrf=${JCT}`,
        `csrf_token=${JCT}`,
      );
      // When it is posted with the SESSDATA cookie
      const res = await sendMsg(body);
      // Then the answer is the seed's envelope with HTTP 200
      expect(res.status).toBe(200);
      expect(res.headers['content-type']).toMatch(/^application\/json/);
      expect(res.body).toMatchObject({ code: 0, msg: '0', message: '0', ttl: 1 });
      expect(res.body.data.msg_content).toBe('{"content":"up主你好,\\n催更[doge]"}');
      expect(res.body.data.key_hit_infos).toEqual({});
      expect(Object.keys(res.body.data).sort()).toEqual(
        expect.arrayContaining(['key_hit_infos', 'msg_content', 'msg_key']),
      );
      expect(res.body.data).not.toHaveProperty('msg_seqno');
      // And msg_key is a bare number literal above 2^53, equal digit for digit to the stored key
      const [key] = rawNumbers(res.text, 'msg_key');
      expect(BigInt(key)).toBeGreaterThan(TWO_53);
      const stored = await db.query<{ k: string }>(
        `SELECT data->>'msgKey' AS k FROM es_events WHERE type = 'MessageSent'
          ORDER BY global_position DESC LIMIT 1`,
      );
      expect(stored.rows[0].k).toBe(key);

      // And a retry with the same dev_id answers the same msg_key, writing nothing
      const before = await eventCount();
      const again = await sendMsg(body);
      expect(rawNumbers(again.text, 'msg_key')).toEqual([key]);
      expect(await eventCount()).toBe(before);
    });

    it("sends the seed's image and keyword examples with their answers", async () => {
      const image = await sendMsg(
        curlForm(
          `msg[sender_uid]=${UP}`,
          `msg[receiver_id]=${ONE}`,
          'msg[receiver_type] =1',
          'msg[msg_type]=2',
          'msg[msg_status]=0',
          `msg[dev_id]=${randomUUID().toUpperCase()}`,
          'msg[timestamp]=1626181379',
          'msg[content]={"url":"https://i1.hdslb.com/bfs/face/aebb2639a0d47f2ce1fec0631f412eaf53d4a0be.jpg"}',
          `csrf=${JCT}`,
          `csrf_token=${JCT}`,
        ),
      );
      expect(image.body).toEqual({
        code: 0,
        msg: '0',
        message: '0',
        ttl: 1,
        data: { msg_key: expect.any(Number) },
      });

      const keyword = await sendMsg(sendForm({ 'msg[content]': '{"content":"支付宝"}' }));
      expect(keyword.body.code).toBe(0);
      expect(keyword.body.data).toMatchObject({
        msg_content: '{"content":"支付宝"}',
        key_hit_infos: { rule_id: 2, toast: expect.stringContaining('温馨提示') },
      });
    });

    it('needs no csrf with a bearer token', async () => {
      const res = await request(t.url)
        .post('/web_im/v1/web_im/send_msg')
        .set('Authorization', `Bearer ${up}`)
        .type('form')
        .send(sendForm({ csrf: '', csrf_token: '' }));
      expect(res.status).toBe(200);
      expect(res.body.code).toBe(0);
    });

    it('refuses a sender_uid that is not the caller, and a message to yourself (21026)', async () => {
      const other = await rejects(() => sendMsg(sendForm({ 'msg[sender_uid]': 'alice' })), -400);
      expect(other.body.message).toMatch(/sender_uid/);
      expect(other.body.data).toBeNull();
      const self = await rejects(() => sendMsg(sendForm({ 'msg[receiver_id]': UP })), 21026);
      expect(self.body).toEqual({
        code: 21026,
        msg: self.body.message,
        message: expect.any(String),
        ttl: 1,
        data: null,
      });
    });

    it('refuses bad fields with -400, naming them', async () => {
      const missing = await rejects(
        () => sendMsg(curlForm(`msg[sender_uid]=${UP}`, `csrf=${JCT}`)),
        -400,
      );
      expect(missing.body.message).toMatch(/msg\[receiver_id\] is required/);
      expect(missing.body.message).toMatch(/msg\[content\] is required/);
      await rejects(() => sendMsg(sendForm({ 'msg[dev_id]': 'not-a-uuid' })), -400);
      await rejects(() => sendMsg(sendForm({ 'msg[receiver_type] ': '3' })), -400);
      await rejects(() => sendMsg(sendForm({ 'msg[msg_type]': 'text' })), -400);
      // A field given twice is ambiguous
      await rejects(() => sendMsg(sendForm({}, [`msg[receiver_id]=${UP}`])), -400);
    });

    it('lets no field reach a prototype', async () => {
      const res = await sendMsg(
        sendForm({}, [
          'msg[__proto__][polluted]=1',
          'msg[constructor][prototype][polluted]=1',
          '__proto__[polluted]=1',
        ]),
      );
      expect(res.body.code).toBe(0);
      expect(({} as Record<string, unknown>).polluted).toBeUndefined();
      expect(Object.prototype).not.toHaveProperty('polluted');
    });
  });

  describe('fetch_session_msgs', () => {
    it("answers the seed's example with ids as numbers, newest first", async () => {
      const key = await sendAndProject('for the history');
      // The seed's curl example, as mid 1 reading the session with the sender
      const res = await request(t.url)
        .get('/svr_sync/v1/svr_sync/fetch_session_msgs')
        .query('talker_id=293793435&session_type=1&size=20&sender_device_id=1&build=0&mobi_app=web')
        .set('Cookie', `SESSDATA=${one}`);
      expect(res.status).toBe(200);
      expect(res.body).toMatchObject({ code: 0, msg: '0', message: '0', ttl: 1 });
      const { messages, has_more, min_seqno, max_seqno } = res.body.data;
      expect(has_more).toBe(0);
      expect(messages[0]).toMatchObject({
        sender_uid: Number(UP),
        receiver_type: 1,
        receiver_id: 1,
        msg_type: 1,
        content: JSON.stringify({ content: 'for the history' }),
        msg_status: 0,
        msg_source: 7,
      });
      expect(messages.map((m: { msg_seqno: number }) => m.msg_seqno)).toEqual(
        [...messages.map((m: { msg_seqno: number }) => m.msg_seqno)].sort((a, b) => b - a),
      );
      expect(max_seqno).toBe(messages[0].msg_seqno);
      expect(min_seqno).toBe(messages[messages.length - 1].msg_seqno);
      // Raw text: every id is a bare number, and the first msg_key is the one just sent
      expect(rawNumbers(res.text, 'msg_key')[0]).toBe(key);
      expect(res.text).toContain(`"sender_uid":${UP},`);
      expect(res.text).not.toMatch(/"msg_key":"/);
    });

    it('pages with exclusive begin_seqno and end_seqno', async () => {
      const all = (await fetchMsgs(one, UP, { size: '200' })).body.data;
      const top = all.max_seqno as number;
      const page = (await fetchMsgs(one, UP, { size: '2', end_seqno: String(top) })).body.data;
      expect(page.messages.map((m: { msg_seqno: number }) => m.msg_seqno)).toEqual([
        top - 1,
        top - 2,
      ]);
      expect(page.has_more).toBe(1);
      const after = (await fetchMsgs(one, UP, { begin_seqno: String(top - 1) })).body.data;
      expect(after.messages.map((m: { msg_seqno: number }) => m.msg_seqno)).toEqual([top]);
      // The empty page's sentinel passed back as end_seqno reads from the newest message on
      const sentinel = await fetchMsgs(one, UP, { size: '1', end_seqno: '18446744073709551615' });
      expect(sentinel.body.data.max_seqno).toBe(top);
    });

    it('answers an empty history as the seed does: null, 18446744073709551615 and 0', async () => {
      const res = await fetchMsgs(carol, 'alice');
      expect(res.body).toMatchObject({
        code: 0,
        data: { messages: null, has_more: 0, max_seqno: 0 },
      });
      expect(res.text).toContain('"min_seqno":18446744073709551615');
      expect(res.text).toContain('"max_seqno":0');
    });

    it('refuses a missing talker_id and group sessions with -400', async () => {
      const res = await rejects(
        () =>
          request(t.url)
            .get('/svr_sync/v1/svr_sync/fetch_session_msgs')
            .query({ session_type: '1' })
            .set('Cookie', cookie(one)),
        -400,
      );
      expect(res.body.message).toMatch(/talker_id is required/);
      expect(res.body).not.toHaveProperty('data');
      // A group's history (session type 2): UP is no group, and the group code passes through
      await rejects(() => fetchMsgs(one, UP, { session_type: '2' }), 26001);
      await rejects(() => fetchMsgs(one, UP, { size: 'many' }), -400);
    });
  });

  describe('recall', () => {
    it('recalls by send_msg msg_type 5; the history shows msg_status 1 and empty content', async () => {
      // Given a message that mid 1 has received
      const key = await sendAndProject('oops');
      // When the sender posts msg_type 5 with its msg_key as the content
      const res = await sendMsg(sendForm({ 'msg[msg_type]': '5', 'msg[content]': key }));
      expect(res.body.code).toBe(0);
      const noticeKey = rawNumbers(res.text, 'msg_key')[0];
      expect(noticeKey).not.toBe(key);
      // Then the receiver's history shows the message recalled, and the recall notice
      await waitFor(
        async () => rawNumbers((await fetchMsgs(one, UP)).text, 'msg_key').includes(noticeKey),
        'the recall to reach the history',
      );
      const res2 = await fetchMsgs(one, UP);
      const keys = rawNumbers(res2.text, 'msg_key');
      const messages = res2.body.data.messages as { msg_status: number; content: string }[];
      expect(messages[keys.indexOf(key)]).toMatchObject({ msg_status: 1, content: '' });
      expect(messages[keys.indexOf(noticeKey)]).toMatchObject({ msg_type: 5, content: key });
      // And recalling it again is 21042, an unknown key 10005
      await rejects(() => sendMsg(sendForm({ 'msg[msg_type]': '5', 'msg[content]': key })), 21042);
      await rejects(
        () => sendMsg(sendForm({ 'msg[msg_type]': '5', 'msg[content]': '1234567890123' })),
        10005,
      );
    });
  });

  describe('session_svr', () => {
    it("single_unread: the seed's example, all eight counts", async () => {
      await sendAndProject('unread one');
      const res = await request(t.url)
        .get('/session_svr/v1/session_svr/single_unread')
        .set('Cookie', `SESSDATA=${one}`);
      expect(res.status).toBe(200);
      expect(res.body).toMatchObject({ code: 0, msg: '0', message: '0', ttl: 1 });
      expect(Object.keys(res.body.data).sort()).toEqual(
        [
          'unfollow_unread',
          'follow_unread',
          'unfollow_push_msg',
          'dustbin_push_msg',
          'dustbin_unread',
          'biz_msg_unfollow_unread',
          'biz_msg_follow_unread',
          'custom_unread',
        ].sort(),
      );
      expect(res.body.data.follow_unread).toBeGreaterThan(0);
      const onlyUnfollowed = await request(t.url)
        .get('/session_svr/v1/session_svr/single_unread')
        .query({ unread_type: '2', show_unfollow_list: '1' })
        .set('Cookie', `SESSDATA=${one}`);
      expect(onlyUnfollowed.body.data.follow_unread).toBe(0);
    });

    it("new_sessions: the seed's example, talker_id as a number", async () => {
      await sendAndProject('new session');
      const res = await request(t.url)
        .get('/session_svr/v1/session_svr/new_sessions')
        .query('begin_ts=1712420213519391&size=3&build=0&mobi_app=web')
        .set('Cookie', `SESSDATA=${one}`);
      expect(res.status).toBe(200);
      expect(res.body).toMatchObject({
        code: 0,
        data: {
          has_more: 0,
          anti_disturb_cleaning: false,
          is_address_list_empty: 0,
          show_level: false,
        },
      });
      const [session] = res.body.data.session_list;
      expect(session).toMatchObject({
        talker_id: Number(UP),
        session_type: 1,
        is_follow: 1,
        last_msg: { sender_uid: Number(UP), receiver_id: 1 },
      });
      expect(res.text).toContain(`"talker_id":${UP},`);
      // Nothing after the newest session: session_list null
      const later = await request(t.url)
        .get('/session_svr/v1/session_svr/new_sessions')
        .query({ begin_ts: String(session.session_ts) })
        .set('Cookie', `SESSDATA=${one}`);
      expect(later.body.data).toMatchObject({ session_list: null, is_address_list_empty: 0 });
    });

    it('new_sessions of a user with no sessions: null list, empty address list', async () => {
      const lonely = await t.tokenFor('lonely');
      const res = await request(t.url)
        .get('/session_svr/v1/session_svr/new_sessions')
        .set('Cookie', `SESSDATA=${lonely}`);
      expect(res.body.data).toEqual({
        session_list: null,
        has_more: 0,
        anti_disturb_cleaning: false,
        is_address_list_empty: 1,
        show_level: false,
      });
    });

    it('get_sessions: session_type 1-4 pick the lists, user ids that are names stay strings', async () => {
      // Given alice writes to mid 1 (who follows her), and carol to the sender (who follows no one)
      await request(t.url)
        .post('/web_im/v1/web_im/send_msg')
        .set('Authorization', `Bearer ${alice}`)
        .type('form')
        .send(sendForm({ 'msg[sender_uid]': 'alice' }));
      await request(t.url)
        .post('/web_im/v1/web_im/send_msg')
        .set('Authorization', `Bearer ${carol}`)
        .type('form')
        .send(sendForm({ 'msg[sender_uid]': 'carol', 'msg[receiver_id]': UP }));
      const list = (token: string, q: Record<string, string>) =>
        request(t.url)
          .get('/session_svr/v1/session_svr/get_sessions')
          .query(q)
          .set('Cookie', cookie(token));
      const talkers = (res: request.Response) =>
        ((res.body.data.session_list ?? []) as { talker_id: unknown }[]).map((s) => s.talker_id);
      await waitFor(
        async () => talkers(await list(one, { session_type: '4' })).includes('alice'),
        "alice's session to be listed",
      );
      await waitFor(
        async () => talkers(await list(up, { session_type: '2' })).includes('carol'),
        "carol's session to be listed",
      );
      // Then mid 1's main list holds both (both followed), with "alice" as a string
      const main = await list(one, { session_type: '1', unfollow_fold: '1', sort_rule: '2' });
      expect(main.body.code).toBe(0);
      expect(talkers(main)).toEqual(expect.arrayContaining(['alice', Number(UP)]));
      expect(main.text).toContain('"talker_id":"alice"');
      // And the sender's not-followed list holds carol and mid 1; folded, the main list neither
      expect(talkers(await list(up, { session_type: '2' }))).toEqual(
        expect.arrayContaining(['carol', 1]),
      );
      expect(talkers(await list(up, { session_type: '1', unfollow_fold: '1' }))).toEqual([]);
      // And no groups yet
      const groups = await list(one, { session_type: '3' });
      expect(groups.body.data.session_list).toBeNull();
      // And paging by end_ts (the last session_ts seen) continues the list
      const first = await list(one, { session_type: '4', size: '1' });
      expect(first.body.data.has_more).toBe(1);
      const next = await list(one, {
        session_type: '4',
        size: '1',
        end_ts: String(first.body.data.session_list[0].session_ts),
      });
      expect(talkers(next)).not.toEqual(talkers(first));
      expect(talkers(next)).toHaveLength(1);
      await rejects(() => list(one, { session_type: '5' }), -400);
    });

    it("session_detail: the seed's example; 1000004 for a session never chatted in", async () => {
      await sendAndProject('detail');
      const res = await detail(one, UP);
      expect(res.status).toBe(200);
      expect(res.body).toMatchObject({
        code: 0,
        msg: '0',
        message: '0',
        ttl: 1,
        data: { talker_id: Number(UP), session_type: 1, user_label: null },
      });
      expect(res.text).toMatch(
        new RegExp(`^\\{"code":0,"msg":"0","message":"0","ttl":1,"data":\\{"talker_id":${UP},`),
      );
      const never = await rejects(() => detail(one, 'carol'), 1000004);
      expect(never.body).not.toHaveProperty('data');
    });

    it("cannot read another user's session: a foreign token gets 1000004", async () => {
      // Given mid 1 has a session with the sender, and carol has none with mid 1
      expect((await detail(one, UP)).body.code).toBe(0);
      // When carol asks for the session with talker 1, or reads its history
      await rejects(() => detail(carol, ONE), 1000004);
      const history = await fetchMsgs(carol, ONE);
      // Then she gets nothing of mid 1's conversation
      expect(history.body.data.messages).toBeNull();
    });

    it("update_ack: the seed's example form clears the unread count", async () => {
      await sendAndProject('to be read');
      const before = (await detail(one, UP)).body.data;
      expect(before.unread_count).toBeGreaterThan(0);
      const res = await request(t.url)
        .post('/session_svr/v1/session_svr/update_ack')
        .set('Cookie', cookie(one))
        .type('form')
        .send(
          curlForm(
            `talker_id=${UP}`,
            'session_type=1',
            `ack_seqno=${before.max_seqno}`,
            `csrf=${JCT}`,
            `csrf_token=${JCT}`,
          ),
        );
      expect(res.status).toBe(200);
      expect(res.body).toEqual({ code: 0, msg: '0', message: '0', ttl: 1, data: {} });
      await waitFor(
        async () => (await detail(one, UP)).body.data.unread_count === 0,
        'the ack to be projected',
      );
      expect((await detail(one, UP)).body.data.ack_seqno).toBe(before.max_seqno);
      // Beyond the newest message is a request error; a session never chatted in 1000004
      const ack = (talker: string, seqno: string) =>
        request(t.url)
          .post('/session_svr/v1/session_svr/update_ack')
          .set('Cookie', cookie(one))
          .type('form')
          .send(
            curlForm(`talker_id=${talker}`, 'session_type=1', `ack_seqno=${seqno}`, `csrf=${JCT}`),
          );
      await rejects(() => ack(UP, String(before.max_seqno + 100)), -400);
      await rejects(() => ack('carol', '1'), 1000004);
    });
  });

  describe('authentication and csrf', () => {
    it('answers -101 without credentials, with a forged or expired token', async () => {
      const noAuth = await rejects(
        () => request(t.url).get('/session_svr/v1/session_svr/single_unread'),
        -101,
      );
      expect(noAuth.body).toEqual({
        code: -101,
        msg: noAuth.body.message,
        message: expect.any(String),
        ttl: 1,
      });
      const expired = await new JwtService({ secret: t.jwtSecret }).signAsync(
        { sub: ONE, plat: 7, jti: randomUUID() },
        { expiresIn: -10 },
      );
      const forged = await new JwtService({ secret: 'x'.repeat(40) }).signAsync({
        sub: ONE,
        plat: 7,
        jti: randomUUID(),
      });
      for (const token of [expired, forged, 'not.a.jwt']) {
        await rejects(() => detail(token, UP), -101);
        await rejects(() => sendMsg(sendForm({}), token), -101);
      }
      const bearer = await rejects(
        () =>
          request(t.url)
            .get('/svr_sync/v1/svr_sync/fetch_session_msgs')
            .query({ talker_id: UP, session_type: '1' })
            .set('Authorization', `Bearer ${forged}`),
        -101,
      );
      expect(bearer.body.message).toMatch(/not valid/);
    });

    it('answers -111 to a cookie write whose csrf is missing or not bili_jct, writing nothing', async () => {
      const post = (form: string, cookies: string) =>
        request(t.url)
          .post('/web_im/v1/web_im/send_msg')
          .set('Cookie', cookies)
          .type('form')
          .send(form);
      // csrf and csrf_token missing
      await rejects(
        () => post(sendForm({}).replace(/&csrf(_token)?=[^&]*/g, ''), cookie(up)),
        -111,
      );
      // different from the cookie, or one of the two different
      await rejects(() => post(sendForm({ csrf: 'other', csrf_token: 'other' }), cookie(up)), -111);
      await rejects(() => post(sendForm({ csrf_token: 'other' }), cookie(up)), -111);
      // no bili_jct cookie at all
      await rejects(() => post(sendForm({}), `SESSDATA=${up}`), -111);
      // update_ack alike
      await rejects(
        () =>
          request(t.url)
            .post('/session_svr/v1/session_svr/update_ack')
            .set('Cookie', cookie(one))
            .type('form')
            .send(curlForm(`talker_id=${UP}`, 'session_type=1', 'ack_seqno=1', 'csrf=wrong')),
        -111,
      );
      // csrf in the query string is accepted as the seed's clients may send it
      const viaQuery = await request(t.url)
        .post(`/web_im/v1/web_im/send_msg?csrf=${JCT}`)
        .set('Cookie', cookie(up))
        .type('form')
        .send(sendForm({}).replace(/&csrf(_token)?=[^&]*/g, ''));
      expect(viaQuery.body.code).toBe(0);
    });

    it('answers an unknown endpoint under the prefixes in the envelope', async () => {
      const res = await request(t.url)
        .get('/session_svr/v1/session_svr/no_such_thing')
        .set('Cookie', cookie(one));
      expect(res.status).toBe(200);
      expect(res.body).toMatchObject({ code: -404, ttl: 1 });
    });
  });
});
