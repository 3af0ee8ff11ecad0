import { randomUUID } from 'node:crypto';
import { Client } from 'pg';
import request from 'supertest';
import { startTestApp, TestApp } from '../support/app';
import { waitFor } from '../support/wait-for';

const notice = (title: string) =>
  JSON.stringify({ title, text: `${title}: details`, jump_text: '', jump_uri: '' });

interface Outcome {
  receiver_id: string;
  code: number;
  message: string;
  msg_key?: string;
  msg_seqno?: number;
}

/**
 * Operators' API: profiles that make system accounts, their notices, broadcasts. The limits are
 * tight (one message at a time, two a day) so that a notice getting through shows it bypasses them.
 */
describe('admin messages over HTTP', () => {
  let t: TestApp;
  let db: Client;

  beforeAll(async () => {
    t = await startTestApp({
      SEND_RATE_PER_SECOND: '0.01',
      SEND_RATE_BURST: '1',
      SEND_DAILY_CAP: '2',
    });
    db = new Client({ connectionString: t.db.url });
    await db.connect();
  });
  afterAll(async () => {
    await db.end();
    await t.close();
  });

  /** Tokens of the users registered so far, for requests that need them synchronously. */
  const tokens = new Map<string, string>();
  const user = async (uid: string) => {
    const token = await t.user(uid);
    tokens.set(uid, token);
    return token;
  };
  const eventCount = () => t.eventCount();
  const rejects = (req: request.Test, status: number, code: number) => t.rejects(req, status, code);

  const profile = (uid: string, body: Record<string, unknown> = {}, key = t.adminKey) =>
    request(t.url)
      .put(`/admin/v1/users/${uid}/profile`)
      .set('X-Admin-Key', key)
      .send({
        name: 'UP主小助手',
        face: 'https://message.example.com/bfs/im/up-assistant.png',
        official_type: 1,
        system_msg_type: 7,
        ...body,
      });

  const adminSend = (sender: string, receiver: string, body: Record<string, unknown> = {}) =>
    request(t.url)
      .post('/admin/v1/messages')
      .set('X-Admin-Key', t.adminKey)
      .send({
        sender_uid: sender,
        receiver_id: receiver,
        msg_type: 10,
        content: notice('流量奖励到账通知'),
        dev_id: randomUUID(),
        notify_code: '2091_253',
        ...body,
      });

  const broadcast = (body: Record<string, unknown>, key = t.adminKey) =>
    request(t.url).post('/admin/v1/messages/broadcast').set('X-Admin-Key', key).send(body);

  /** A user's own send; both users must be registered already. */
  const userSend = (from: string, to: string) =>
    request(t.url)
      .post('/api/v1/messages')
      .set('Authorization', `Bearer ${tokens.get(from) ?? ''}`)
      .send({
        receiver_id: to,
        receiver_type: 1,
        msg_type: 1,
        content: JSON.stringify({ content: 'hi' }),
        dev_id: randomUUID(),
      });

  const history = async (uid: string, talker: string) => {
    const res = await request(t.url)
      .get(`/api/v1/sessions/1/${talker}/messages`)
      .set('Authorization', `Bearer ${await user(uid)}`);
    expect(res.status).toBe(200);
    return res.body.messages as Record<string, unknown>[];
  };

  const detail = async (uid: string, talker: string) =>
    request(t.url)
      .get(`/api/v1/sessions/1/${talker}`)
      .set('Authorization', `Bearer ${await user(uid)}`);

  const unread = async (uid: string) =>
    (
      await request(t.url)
        .get('/api/v1/unread')
        .set('Authorization', `Bearer ${await user(uid)}`)
    ).body as Record<string, number>;

  /** A system account `uid` of kind `kind`, its profile projected. */
  async function systemAccount(uid: string, kind = 7) {
    const res = await profile(uid, { system_msg_type: kind });
    expect(res.status).toBe(200);
  }

  describe('profiles', () => {
    it('registers a user with their first profile, and updates it after', async () => {
      const first = await profile('prof-new');
      expect({ status: first.status, body: first.body as unknown }).toEqual({
        status: 200,
        body: { registered: true },
      });
      const again = await profile('prof-new', { name: '新名字' });
      expect(again.body).toEqual({ registered: false });
      // And an existing user is not registered twice
      await user('prof-old');
      expect((await profile('prof-old', { system_msg_type: 0 })).body).toEqual({
        registered: false,
      });
    });

    it('rejects malformed profiles with 40000 and writes nothing', async () => {
      await rejects(profile('prof-bad', { system_msg_type: 5 }), 400, 40000);
      await rejects(profile('prof-bad', { official_type: 2 }), 400, 40000);
      await rejects(profile('prof-bad', { name: '' }), 400, 40000);
      await rejects(profile('prof-bad', { face: 'javascript:alert(1)' }), 400, 40000);
      await rejects(profile('prof-bad', { extra: 1 }), 400, 40000);
      await rejects(profile('prof bad'), 400, 40000);
    });
  });

  describe('notices from system accounts', () => {
    it('delivers notices (msg_type 10, notify_code, msg_source 5) past the one-message rule and the rate limits', async () => {
      // Given a system account and a user who does not follow it
      await systemAccount('sys-up');
      await user('sys-r');
      // When it sends three notices at once (a user may send one, then must wait for a reply)
      const sent = [];
      for (const title of ['one', 'two', 'three']) {
        const res = await adminSend('sys-up', 'sys-r', { content: notice(title) });
        expect(res.status).toBe(201);
        sent.push(res.body as { msg_key: string; msg_seqno: number });
      }
      // Then all are delivered, in order
      expect(sent.map((s) => s.msg_seqno)).toEqual([1, 2, 3]);
      await waitFor(async () => (await history('sys-r', 'sys-up')).length === 3, 'three notices');
      const messages = await history('sys-r', 'sys-up');
      expect(messages[0]).toMatchObject({
        sender_uid: 'sys-up',
        receiver_id: 'sys-r',
        msg_type: 10,
        msg_key: sent[2].msg_key,
        notify_code: '2091_253',
        msg_source: 5,
        msg_status: 0,
      });
      expect(JSON.parse(messages[0].content as string)).toMatchObject({ title: 'three' });
    });

    it('still holds a user to the limits that notices bypass', async () => {
      // Given the file's limits (one message at a time, two a day) and two followers of a user
      await user('lim-s');
      await t.follow(await user('lim-r1'), 'lim-s');
      await t.follow(await user('lim-r2'), 'lim-s');
      // When the user sends twice at once, Then the second is too fast
      expect((await userSend('lim-s', 'lim-r1')).status).toBe(201);
      await rejects(userSend('lim-s', 'lim-r2'), 429, 21020);
    });

    it('shows the receiver a system session with account_info and push counts', async () => {
      // Given a system account (UP assistant) that sent two notices to a user
      await systemAccount('sys-s');
      await user('sys-s-r');
      for (let i = 0; i < 2; i++) expect((await adminSend('sys-s', 'sys-s-r')).status).toBe(201);
      // Then the user's session with it is a system session with two unread notices
      let res = await detail('sys-s-r', 'sys-s');
      await waitFor(async () => {
        res = await detail('sys-s-r', 'sys-s');
        return res.body.max_seqno === 2;
      }, 'the session');
      expect(res.body).toMatchObject({
        talker_id: 'sys-s',
        system_msg_type: 7,
        account_info: {
          name: 'UP主小助手',
          pic_url: 'https://message.example.com/bfs/im/up-assistant.png',
        },
        unread_count: 2,
        biz_msg_unread_count: 2,
        new_push_msg: 1,
        is_intercept: 0,
        last_msg: { msg_type: 10, notify_code: '2091_253', msg_source: 5 },
      });
      // And the unread counts put them with pushes from accounts not followed
      expect(await unread('sys-s-r')).toMatchObject({
        unfollow_push_msg: 2,
        biz_msg_unfollow_unread: 2,
        biz_msg_follow_unread: 0,
        unfollow_unread: 0,
        follow_unread: 0,
        dustbin_unread: 0,
        dustbin_push_msg: 0,
        custom_unread: 0,
      });
      // When the user follows the account, Then they count as followed pushes
      await t.follow(await user('sys-s-r'), 'sys-s');
      await waitFor(
        async () => (await unread('sys-s-r')).biz_msg_follow_unread === 2,
        'followed pushes',
      );
      expect(await unread('sys-s-r')).toMatchObject({ unfollow_push_msg: 0, follow_unread: 0 });
      // When the user reads them, Then nothing new is pushed
      const ack = await request(t.url)
        .put('/api/v1/sessions/1/sys-s/ack')
        .set('Authorization', `Bearer ${await user('sys-s-r')}`)
        .send({ ack_seqno: 2 });
      expect(ack.body).toEqual({ ack_seqno: 2, changed: true });
      await waitFor(async () => (await detail('sys-s-r', 'sys-s')).body.new_push_msg === 0, 'read');
      expect((await detail('sys-s-r', 'sys-s')).body).toMatchObject({ biz_msg_unread_count: 0 });
    });

    it('counts customer-service notices (system_msg_type 8) in custom_unread', async () => {
      await systemAccount('sys-cs', 8);
      await user('sys-cs-r');
      expect((await adminSend('sys-cs', 'sys-cs-r')).status).toBe(201);
      await waitFor(async () => (await unread('sys-cs-r')).custom_unread === 1, 'custom unread');
    });

    it('reaches a user who intercepts strangers or accepts followed users only, but not one who blocked it', async () => {
      // Given a system account, and users with strict settings
      await systemAccount('sys-p');
      for (const [uid, body] of [
        ['sys-p-i', { intercept: true }],
        ['sys-p-f', { followed_only: true }],
      ] as const) {
        const res = await request(t.url)
          .put('/api/v1/relations/privacy')
          .set('Authorization', `Bearer ${await user(uid)}`)
          .send(body);
        expect(res.body).toEqual({ changed: true });
      }
      // Then its notices reach both, and are not intercepted
      expect((await adminSend('sys-p', 'sys-p-i')).status).toBe(201);
      expect((await adminSend('sys-p', 'sys-p-f')).status).toBe(201);
      await waitFor(async () => (await detail('sys-p-i', 'sys-p')).status === 200, 'the session');
      expect((await detail('sys-p-i', 'sys-p')).body).toMatchObject({ is_intercept: 0 });
      // And a user who blocked it does not get them
      const blocker = await user('sys-p-b');
      const block = await request(t.url)
        .put('/api/v1/relations/blocks/sys-p')
        .set('Authorization', `Bearer ${blocker}`);
      expect(block.status).toBe(200);
      await rejects(adminSend('sys-p', 'sys-p-b'), 403, 25005);
    });

    it('refuses a sender that is not a system account with 40300', async () => {
      await user('plain-s');
      await user('plain-r');
      await rejects(adminSend('plain-s', 'plain-r'), 403, 40300);
      // Not after a profile that keeps them a person either
      expect((await profile('plain-s', { system_msg_type: 0 })).status).toBe(200);
      await rejects(adminSend('plain-s', 'plain-r'), 403, 40300);
      // Nor a sender that does not exist
      await rejects(adminSend('plain-nobody', 'plain-r'), 403, 40300);
    });

    it('answers a retried notice with the first send and writes nothing', async () => {
      await systemAccount('sys-retry');
      await user('sys-retry-r');
      const devId = randomUUID();
      const first = await adminSend('sys-retry', 'sys-retry-r', { dev_id: devId });
      expect(first.status).toBe(201);
      const before = await eventCount();
      const again = await adminSend('sys-retry', 'sys-retry-r', { dev_id: devId });
      expect(again.body).toEqual(first.body);
      expect(await eventCount()).toBe(before);
    });

    it('rejects malformed notices with 40000 and writes nothing', async () => {
      await systemAccount('sys-bad');
      await user('sys-bad-r');
      await rejects(adminSend('sys-bad', 'sys-bad-r', { msg_source: 1 }), 400, 40000);
      await rejects(adminSend('sys-bad', 'sys-bad-r', { notify_code: 'abc' }), 400, 40000);
      await rejects(adminSend('sys-bad', 'sys-bad-r', { dev_id: 'x' }), 400, 40000);
      await rejects(adminSend('sys-bad', 'sys-bad-r', { receiver_id: 'a b' }), 400, 40000);
      await rejects(adminSend('sys-bad', 'sys-bad-r', { extra: true }), 400, 40000);
      await rejects(
        adminSend('sys-bad', 'sys-bad-r', { content: JSON.stringify({ text: 'no title' }) }),
        400,
        40000,
      );
      await rejects(adminSend('sys-bad', 'sys-bad-r', { msg_type: 77 }), 400, 21035);
      await rejects(adminSend('sys-bad', 'sys-bad-nobody'), 404, 40401);
    });
  });

  describe('broadcast', () => {
    it('answers per receiver, and a retried broadcast sends nobody a second copy', async () => {
      // Given a system account and three users (one id does not exist)
      await systemAccount('bc-sys');
      for (const u of ['bc-1', 'bc-2', 'bc-3']) await user(u);
      const body = {
        sender_uid: 'bc-sys',
        receiver_ids: ['bc-1', 'bc-2', 'bc-nobody', 'bc-3'],
        msg_type: 10,
        content: notice('活动通知'),
        dev_id: randomUUID(),
        notify_code: '12_34',
      };
      // When it is broadcast
      const res = await broadcast(body);
      // Then each receiver has an outcome, in order: sent, or 40401 for the unknown user
      expect(res.status).toBe(200);
      const results = res.body.results as Outcome[];
      expect(results.map((r) => [r.receiver_id, r.code])).toEqual([
        ['bc-1', 0],
        ['bc-2', 0],
        ['bc-nobody', 40401],
        ['bc-3', 0],
      ]);
      for (const r of results.filter((x) => x.code === 0)) {
        expect(r).toMatchObject({ msg_seqno: 1, msg_key: expect.stringMatching(/^\d+$/) });
      }
      expect(new Set(results.map((r) => r.msg_key).filter(Boolean)).size).toBe(3);
      // When the same broadcast is retried
      const before = await eventCount();
      const again = await broadcast(body);
      // Then the outcomes name the same messages and nothing is written
      expect(again.status).toBe(200);
      const retried = again.body.results as Outcome[];
      expect(retried.map((r) => [r.receiver_id, r.code, r.msg_key, r.msg_seqno])).toEqual(
        results.map((r) => [r.receiver_id, r.code, r.msg_key, r.msg_seqno]),
      );
      expect(await eventCount()).toBe(before);
      // And each receiver holds one copy
      for (const u of ['bc-1', 'bc-2', 'bc-3']) {
        await waitFor(async () => (await history(u, 'bc-sys')).length > 0, `${u}'s copy`);
        const copies = await history(u, 'bc-sys');
        expect(copies).toHaveLength(1);
        expect(copies[0]).toMatchObject({ msg_type: 10, notify_code: '12_34', msg_source: 5 });
      }
    });

    it('answers per receiver when the sender is not a system account', async () => {
      await user('bc-plain');
      await user('bc-plain-r');
      const res = await broadcast({
        sender_uid: 'bc-plain',
        receiver_ids: ['bc-plain-r'],
        msg_type: 10,
        content: notice('x'),
        dev_id: randomUUID(),
      });
      expect(res.status).toBe(200);
      expect(res.body.results).toEqual([
        { receiver_id: 'bc-plain-r', code: 40300, message: expect.any(String) },
      ]);
    });

    it('rejects malformed broadcasts with 40000 and writes nothing', async () => {
      await systemAccount('bc-bad');
      const good = {
        sender_uid: 'bc-bad',
        receiver_ids: ['bc-1'],
        msg_type: 10,
        content: notice('x'),
        dev_id: randomUUID(),
      };
      await rejects(broadcast({ ...good, receiver_ids: [] }), 400, 40000);
      await rejects(broadcast({ ...good, receiver_ids: ['bc-1', 'bc-1'] }), 400, 40000);
      await rejects(broadcast({ ...good, receiver_ids: 'bc-1' }), 400, 40000);
      await rejects(broadcast({ ...good, receiver_ids: ['a b'] }), 400, 40000);
      await rejects(
        broadcast({ ...good, receiver_ids: Array.from({ length: 1001 }, (_, i) => `u${i}`) }),
        400,
        40000,
      );
    });
  });

  describe('the admin key', () => {
    it('refuses a wrong or missing admin key with 401 and writes nothing', async () => {
      await user('key-r');
      const wrong = 'x'.repeat(t.adminKey.length);
      await rejects(profile('key-x', {}, wrong), 401, 40110);
      await rejects(
        request(t.url).put('/admin/v1/users/key-x/profile').send({
          name: 'n',
          face: '',
          official_type: -1,
          system_msg_type: 7,
        }),
        401,
        40110,
      );
      await rejects(
        request(t.url)
          .post('/admin/v1/messages')
          .set('X-Admin-Key', wrong)
          .send({
            sender_uid: 'sys-up',
            receiver_id: 'key-r',
            msg_type: 10,
            content: notice('x'),
            dev_id: randomUUID(),
          }),
        401,
        40110,
      );
      await rejects(
        broadcast(
          {
            sender_uid: 'sys-up',
            receiver_ids: ['key-r'],
            msg_type: 10,
            content: notice('x'),
            dev_id: randomUUID(),
          },
          wrong,
        ),
        401,
        40110,
      );
      await rejects(
        request(t.url).post('/admin/v1/messages/123456789/sys-cancel').set('X-Admin-Key', wrong),
        401,
        40110,
      );
    });
  });
});
