import request from 'supertest';
import { startTestApp, TestApp } from '../support/app';
import { waitFor } from '../support/wait-for';

/**
 * The Go IM gateway's conversation and message operations (go-im-gateway-api.md) as its clients
 * call them: its paths, its bodies, its envelope (`{code: 0, data}` on success, `{code, error}` on
 * failure). A conversation is a group (src/compat/gateway/README.md).
 */

interface MsgData {
  MsgId: string;
  ConversationID: string;
  FromSession: string;
  SendTime: number;
  Status: number;
  Type: number;
  Content: string;
}

interface Detail {
  ConversationID: string;
  LastMsgID: string;
  LastSendTime: number;
  IsDelete: boolean;
  ConversationType: number;
  LastSendSession: string;
  IsArchive: boolean;
}

describe('Go IM gateway compatibility: conversations and messages', () => {
  let t: TestApp;

  beforeAll(async () => {
    t = await startTestApp();
  });
  afterAll(async () => {
    await t.close();
  });

  const post = (path: string, body: unknown, token?: string) => {
    const req = request(t.url).post(path);
    if (token) req.set('Authorization', `Bearer ${token}`);
    return req.send(body as object);
  };
  const inner = (path: string, body: unknown) =>
    request(t.url)
      .post(path)
      .set('X-Admin-Key', t.adminKey)
      .send(body as object);

  /** Expects the success envelope: HTTP 200, code 0, data, no error field. */
  async function ok<T>(req: request.Test): Promise<T> {
    const res = await req;
    expect({ status: res.status, code: res.body.code }).toEqual({ status: 200, code: 0 });
    expect(res.body).toHaveProperty('data');
    expect(res.body).not.toHaveProperty('error');
    return res.body.data as T;
  }

  /** Expects the error envelope (code and error, no data) and that nothing was written. */
  async function rejects(req: request.Test, status: number, code: number) {
    const before = await t.eventCount();
    const res = await req;
    expect({ status: res.status, code: res.body.code }).toEqual({ status, code });
    expect(typeof res.body.error).toBe('string');
    expect(Object.keys(res.body).sort()).toEqual(['code', 'error']);
    expect(await t.eventCount()).toBe(before);
    return res;
  }

  async function create(token: string, type = 0): Promise<string> {
    const data = await ok<{ ConversationId: string }>(
      post('/create_conversation', { conversation_type: type }, token),
    );
    expect(Object.keys(data)).toEqual(['ConversationId']);
    return data.ConversationId;
  }

  const join = (token: string, id: string) =>
    ok<{ ConversationId: string }>(post('/join_conversation', { conversation_id: id }, token));

  async function send(token: string, id: string, text: string): Promise<string> {
    const data = await ok<{ MsgID: string }>(
      post('/send_msg', { conversation_id: id, status: 0, type: 1, content: text }, token),
    );
    expect(Object.keys(data)).toEqual(['MsgID']);
    expect(data.MsgID).toMatch(/^[1-9][0-9]*$/);
    return data.MsgID;
  }

  const joined = async (token: string, id: string) =>
    (
      await ok<{ Joined: boolean }>(
        post('/check_joined_conversation', { conversation_id: id }, token),
      )
    ).Joined;

  const detail = (token: string, id: string) =>
    ok<Detail>(post('/get_conversation_detail', { conversation_id: id }, token));

  const joinedList = async (token: string, uid: string) =>
    (
      await ok<{ Conversations: Detail[] }>(
        post('/get_joined_conversation', { SessionId: uid }, token),
      )
    ).Conversations;

  const msgs = async (path: string, token: string, body: object) =>
    (await ok<{ Msg: MsgData[] }>(post(path, body, token))).Msg;

  const texts = (list: MsgData[]) => list.map((m) => m.Content);

  const last30 = (token: string, id: string, desc = false) =>
    msgs('/get_conversation_last_30_msg', token, { conversation_id: id, desc });

  describe('conversations', () => {
    let owner: string;
    let bob: string;
    let carol: string;
    let id: string;

    beforeAll(async () => {
      owner = await t.user('gw-owner');
      bob = await t.user('gw-bob');
      carol = await t.user('gw-carol');
      id = await create(owner, 3);
    });

    it('creates a conversation the creator is in, and others may join', async () => {
      expect(id).toMatch(/^[1-9][0-9]*$/);
      expect(await joined(owner, id)).toBe(true);
      expect(await joined(bob, id)).toBe(false);
      expect(await join(bob, id)).toEqual({ ConversationId: id });
      expect(await joined(bob, id)).toBe(true);
    });

    it('answers a second join with success and writes nothing', async () => {
      const before = await t.eventCount();
      expect(await join(bob, id)).toEqual({ ConversationId: id });
      expect(await t.eventCount()).toBe(before);
    });

    it('shows the detail to members, with the type and no message yet', async () => {
      expect(await detail(bob, id)).toEqual({
        ConversationID: id,
        LastMsgID: '',
        LastSendTime: 0,
        IsDelete: false,
        ConversationType: 3,
        LastSendSession: '',
        IsArchive: false,
      });
      expect(
        await ok<{ MsgId: string }>(post('/get_lastone_msgid', { conversation_id: id }, bob)),
      ).toEqual({ MsgId: '' });
    });

    it("lists the caller's conversations with their details", async () => {
      await waitFor(
        async () => (await joinedList(bob, 'gw-bob')).some((c) => c.ConversationID === id),
        "bob's joined list",
      );
      const list = await joinedList(bob, 'gw-bob');
      expect(list).toEqual([await detail(bob, id)]);
      expect(await joinedList(carol, 'gw-carol')).toEqual([]);
    });

    it("refuses another user's joined list with 403", async () => {
      await rejects(post('/get_joined_conversation', { SessionId: 'gw-bob' }, carol), 403, 40300);
    });

    it('refuses the detail and the history to a non-member with 403 26002', async () => {
      await rejects(post('/get_conversation_detail', { conversation_id: id }, carol), 403, 26002);
      await rejects(post('/get_lastone_msgid', { conversation_id: id }, carol), 403, 26002);
      await rejects(
        post('/get_conversation_last_30_msg', { conversation_id: id }, carol),
        403,
        26002,
      );
    });

    it('answers 404 26001 for a conversation that does not exist', async () => {
      const none = { conversation_id: 'nosuchconversation' };
      await rejects(post('/check_joined_conversation', none, bob), 404, 26001);
      await rejects(post('/get_conversation_detail', none, bob), 404, 26001);
      await rejects(post('/join_conversation', none, bob), 404, 26001);
    });

    it('lets a member leave, and refuses the owner (26008) and a non-member (26002)', async () => {
      expect(
        await ok<{ ConversationId: string }>(
          post('/leave_conversation', { conversation_id: id }, bob),
        ),
      ).toEqual({ ConversationId: id });
      expect(await joined(bob, id)).toBe(false);
      await rejects(post('/leave_conversation', { conversation_id: id }, bob), 403, 26002);
      await rejects(post('/leave_conversation', { conversation_id: id }, owner), 409, 26008);
      await rejects(post('/get_conversation_detail', { conversation_id: id }, bob), 403, 26002);
      await waitFor(
        async () => (await joinedList(bob, 'gw-bob')).length === 0,
        "bob's joined list to lose the conversation",
      );
    });

    it('needs a bearer token (401 40100 in the gateway envelope)', async () => {
      await rejects(post('/create_conversation', { conversation_type: 0 }), 401, 40100);
      await rejects(post('/send_msg', { conversation_id: id, type: 1, content: 'x' }), 401, 40100);
    });
  });

  describe('messages', () => {
    let ann: string;
    let ben: string;
    let outsider: string;
    let id: string;
    const keys: string[] = [];

    beforeAll(async () => {
      ann = await t.user('gw-ann');
      ben = await t.user('gw-ben');
      outsider = await t.user('gw-outsider');
      id = await create(ann);
      await join(ben, id);
      for (let i = 1; i <= 5; i++) keys.push(await send(i % 2 ? ann : ben, id, `m${i}`));
      await waitFor(async () => (await last30(ben, id)).length === 5, 'the five messages');
    });

    it('reads the newest messages oldest first, or newest first with desc', async () => {
      const list = await last30(ann, id);
      expect(texts(list)).toEqual(['m1', 'm2', 'm3', 'm4', 'm5']);
      expect(list[0]).toEqual({
        MsgId: keys[0],
        ConversationID: id,
        FromSession: 'gw-ann',
        SendTime: expect.any(Number),
        Status: 0,
        Type: 1,
        Content: 'm1',
      });
      expect(list.map((m) => m.MsgId)).toEqual(keys);
      expect(list.map((m) => m.FromSession)).toEqual([
        'gw-ann',
        'gw-ben',
        'gw-ann',
        'gw-ben',
        'gw-ann',
      ]);
      // Microseconds (the send times, strictly increasing on one node: the clock spreads sends
      // within one millisecond), not milliseconds or seconds.
      const nowUs = Date.now() * 1000;
      for (const m of list) expect(Math.abs(m.SendTime - nowUs)).toBeLessThan(120_000_000);
      for (let i = 1; i < list.length; i++) {
        expect(list[i].SendTime).toBeGreaterThan(list[i - 1].SendTime);
      }
      expect(texts(await last30(ann, id, true))).toEqual(['m5', 'm4', 'm3', 'm2', 'm1']);
    });

    it('reads an inclusive range of ids, in either order of its ends', async () => {
      const range = (start: string, end: string, desc: boolean) =>
        msgs('/get_conversation_msg_by_range', ben, {
          conversation_id: id,
          start_msg_id: start,
          end_msg_id: end,
          desc,
        });
      expect(texts(await range(keys[1], keys[3], false))).toEqual(['m2', 'm3', 'm4']);
      expect(texts(await range(keys[1], keys[3], true))).toEqual(['m4', 'm3', 'm2']);
      expect(texts(await range(keys[3], keys[1], false))).toEqual(['m2', 'm3', 'm4']);
      expect(texts(await range(keys[2], keys[2], true))).toEqual(['m3']);
      expect(texts(await range(keys[0], keys[4], false))).toEqual(['m1', 'm2', 'm3', 'm4', 'm5']);
    });

    it('reads the messages before and after an id, the id itself excluded', async () => {
      const around = (path: string, msgId: string, desc?: boolean) =>
        msgs(path, ann, {
          conversation_id: id,
          msg_id: msgId,
          ...(desc === undefined ? {} : { desc }),
        });
      const before = '/get_conversation_30msg_before_the_id';
      const after = '/get_conversation_30msg_after_the_id';
      expect(texts(await around(before, keys[3], false))).toEqual(['m1', 'm2', 'm3']);
      expect(texts(await around(before, keys[3], true))).toEqual(['m3', 'm2', 'm1']);
      expect(texts(await around(before, keys[3]))).toEqual(['m1', 'm2', 'm3']);
      expect(texts(await around(after, keys[1], false))).toEqual(['m3', 'm4', 'm5']);
      expect(texts(await around(after, keys[1], true))).toEqual(['m5', 'm4', 'm3']);
      expect(await around(after, keys[4])).toEqual([]);
      expect(await around(before, keys[0])).toEqual([]);
    });

    it('reads the newest message, its id, and the detail of the newest', async () => {
      const [lastOne] = await msgs('/get_conversation_lastone_msg', ben, {
        conversation_id: id,
        desc: false,
      });
      expect(lastOne).toMatchObject({ MsgId: keys[4], Content: 'm5', FromSession: 'gw-ann' });
      expect(
        await ok<{ MsgId: string }>(post('/get_lastone_msgid', { conversation_id: id }, ben)),
      ).toEqual({ MsgId: keys[4] });
      const d = await detail(ben, id);
      expect(d).toEqual({
        ConversationID: id,
        LastMsgID: keys[4],
        LastSendTime: lastOne.SendTime,
        IsDelete: false,
        ConversationType: 0,
        LastSendSession: 'gw-ann',
        IsArchive: false,
      });
      const list = await joinedList(ben, 'gw-ben');
      expect(list.find((c) => c.ConversationID === id)).toEqual(d);
    });

    it('answers 404 10005 for an unknown msg id and 400 for one that is not an id', async () => {
      const body = { conversation_id: id, start_msg_id: keys[0], end_msg_id: '999999999' };
      await rejects(post('/get_conversation_msg_by_range', body, ann), 404, 10005);
      await rejects(
        post('/get_conversation_30msg_after_the_id', { conversation_id: id, msg_id: '1' }, ann),
        404,
        10005,
      );
      await rejects(
        post(
          '/get_conversation_30msg_after_the_id',
          { conversation_id: id, msg_id: 'EDCZL-SY32' },
          ann,
        ),
        400,
        40000,
      );
    });

    it('refuses every read to a non-member with 26002, before looking the id up', async () => {
      const reads: [string, object][] = [
        ['/get_conversation_msg_by_range', { start_msg_id: keys[0], end_msg_id: '999999999' }],
        ['/get_conversation_30msg_before_the_id', { msg_id: '999999999' }],
        ['/get_conversation_30msg_after_the_id', { msg_id: keys[0] }],
        ['/get_conversation_last_30_msg', {}],
        ['/get_conversation_lastone_msg', {}],
        ['/get_lastone_msgid', {}],
      ];
      for (const [path, extra] of reads) {
        await rejects(post(path, { conversation_id: id, ...extra }, outsider), 403, 26002);
      }
      await rejects(
        post('/send_msg', { conversation_id: id, type: 1, content: 'x' }, outsider),
        403,
        26002,
      );
    });

    it('sends other types as their content JSON, and refuses unknown types', async () => {
      const image = JSON.stringify({ url: 'https://example.com/a.png', height: 10, width: 20 });
      const data = await ok<{ MsgID: string }>(
        post('/send_msg', { conversation_id: id, type: 2, content: image, status: 0 }, ann),
      );
      await waitFor(
        async () => (await last30(ann, id, true))[0]?.MsgId === data.MsgID,
        'the image message',
      );
      const [m] = await last30(ann, id, true);
      expect(m.Type).toBe(2);
      expect(JSON.parse(m.Content)).toMatchObject({ url: 'https://example.com/a.png' });
      await rejects(
        post('/send_msg', { conversation_id: id, type: 99, content: '{}' }, ann),
        400,
        21035,
      );
      await rejects(
        post('/send_msg', { conversation_id: id, type: 1, content: '' }, ann),
        400,
        40000,
      );
    });

    it('recalls a message with type 5 and its MsgID as the content', async () => {
      const key = await send(ben, id, 'oops');
      const recall = await ok<{ MsgID: string }>(
        post('/send_msg', { conversation_id: id, type: 5, content: key }, ben),
      );
      await waitFor(
        async () => (await last30(ann, id, true))[0]?.MsgId === recall.MsgID,
        'the recall notice',
      );
      const [notice, recalled] = await last30(ann, id, true);
      expect(notice).toMatchObject({ Type: 5, Content: key, FromSession: 'gw-ben' });
      expect(recalled).toMatchObject({ MsgId: key, Status: 1, Content: '' });
    });

    it('never sends twice for one dev_id', async () => {
      const body = {
        conversation_id: id,
        type: 1,
        content: 'once',
        dev_id: '8e0f3f64-0d9b-4c55-9f61-0d1c6c9b2a11',
      };
      const first = await ok<{ MsgID: string }>(post('/send_msg', body, ann));
      const before = await t.eventCount();
      const again = await ok<{ MsgID: string }>(post('/send_msg', body, ann));
      expect(again).toEqual(first);
      expect(await t.eventCount()).toBe(before);
    });

    it('reads at most 30 in the 30-message reads', async () => {
      const more: string[] = [];
      for (let i = 0; i < 32; i++) more.push(await send(ann, id, `bulk${i}`));
      await waitFor(
        async () => (await last30(ann, id, true))[0]?.MsgId === more[31],
        'the bulk messages',
      );
      const latest = await last30(ann, id);
      expect(latest).toHaveLength(30);
      expect(texts(latest)).toEqual(more.slice(2).map((_, i) => `bulk${i + 2}`));
      const before = await msgs('/get_conversation_30msg_before_the_id', ann, {
        conversation_id: id,
        msg_id: more[31],
        desc: true,
      });
      expect(before).toHaveLength(30);
      expect(before[0].Content).toBe('bulk30');
      const after = await msgs('/get_conversation_30msg_after_the_id', ann, {
        conversation_id: id,
        msg_id: keys[0],
      });
      expect(after).toHaveLength(30);
      expect(texts(after).slice(0, 4)).toEqual(['m2', 'm3', 'm4', 'm5']);
    });
  });

  describe('the member window', () => {
    it('shows a later member only what came after their join, and nothing after they left', async () => {
      const host = await t.user('gw-host');
      const late = await t.user('gw-late');
      const id = await create(host);
      const early1 = await send(host, id, 'early1');
      await send(host, id, 'early2');
      await join(late, id);
      const after1 = await send(host, id, 'after1');
      await waitFor(async () => (await last30(late, id)).length > 0, "the late member's history");
      expect(texts(await last30(late, id))).toEqual(['after1']);
      expect(
        texts(
          await msgs('/get_conversation_msg_by_range', late, {
            conversation_id: id,
            start_msg_id: early1,
            end_msg_id: after1,
          }),
        ),
      ).toEqual(['after1']);
      expect(
        await msgs('/get_conversation_30msg_before_the_id', late, {
          conversation_id: id,
          msg_id: after1,
        }),
      ).toEqual([]);
      expect((await detail(late, id)).LastMsgID).toBe(after1);
      expect(texts(await last30(host, id))).toEqual(['early1', 'early2', 'after1']);

      await ok(post('/leave_conversation', { conversation_id: id }, late));
      const afterLeave = await send(host, id, 'after-leave');
      await waitFor(
        async () => (await last30(host, id, true))[0]?.MsgId === afterLeave,
        'the message after the leave',
      );
      await waitFor(
        async () => !(await joinedList(late, 'gw-late')).some((c) => c.ConversationID === id),
        'the leave to be projected',
      );
      expect(texts(await last30(late, id))).toEqual(['after1']);
      expect(
        await ok<{ MsgId: string }>(post('/get_lastone_msgid', { conversation_id: id }, late)),
      ).toEqual({ MsgId: after1 });
      expect(
        await msgs('/get_conversation_30msg_after_the_id', late, {
          conversation_id: id,
          msg_id: after1,
        }),
      ).toEqual([]);
      await rejects(post('/get_conversation_detail', { conversation_id: id }, late), 403, 26002);
    });
  });

  describe('inner operations', () => {
    let erin: string;
    let frank: string;
    let user: string;
    let id: string;

    beforeAll(async () => {
      erin = await t.user('gw-erin');
      frank = await t.user('gw-frank');
      await t.user('gw-gina');
      user = await t.user('gw-user');
    });

    it('creates a conversation owned by the first session with the others in it', async () => {
      const data = await ok<{ ConversationId: string }>(
        inner('/inner/create_conversation', {
          conversation_type: 7,
          sessions: ['gw-erin', 'gw-frank', 'gw-gina'],
        }),
      );
      id = data.ConversationId;
      expect(Object.keys(data)).toEqual(['ConversationId']);
      expect(await joined(frank, id)).toBe(true);
      expect(await detail(erin, id)).toMatchObject({ ConversationType: 7, IsArchive: false });
      await rejects(post('/leave_conversation', { conversation_id: id }, erin), 409, 26008);
    });

    it('refuses the inner operations without the admin key, even with a user token', async () => {
      const calls: [string, object][] = [
        ['/inner/create_conversation', { conversation_type: 0, sessions: ['gw-user'] }],
        ['/inner/kickout_conversation', { conversation_id: id, sessions: ['gw-frank'] }],
        ['/inner/join_conversation', { conversation_id: id, sessions: ['gw-user'] }],
        ['/inner/set_archive_conversations', { conversation_ids: [id], is_archive: true }],
      ];
      for (const [path, body] of calls) {
        await rejects(post(path, body), 401, 40110);
        await rejects(post(path, body, user), 403, 40300);
        await rejects(post(path, body).set('X-Admin-Key', 'wrong'), 401, 40110);
      }
    });

    it('refuses to create without sessions or with an unknown user', async () => {
      await rejects(
        inner('/inner/create_conversation', { conversation_type: 0, sessions: [] }),
        400,
        40000,
      );
      await rejects(
        inner('/inner/create_conversation', {
          conversation_type: 0,
          sessions: ['gw-erin', 'gw-nobody'],
        }),
        404,
        40401,
      );
    });

    it('kicks members out; the owner cannot be, and a non-member is already out', async () => {
      expect(
        await ok(
          inner('/inner/kickout_conversation', { conversation_id: id, sessions: ['gw-frank'] }),
        ),
      ).toEqual({ ConversationId: id });
      expect(await joined(frank, id)).toBe(false);
      await rejects(
        inner('/inner/kickout_conversation', {
          conversation_id: id,
          sessions: ['gw-gina', 'gw-erin'],
        }),
        409,
        26008,
      );
      expect(await joined(await t.user('gw-gina'), id)).toBe(true);
      const before = await t.eventCount();
      await ok(
        inner('/inner/kickout_conversation', { conversation_id: id, sessions: ['gw-frank'] }),
      );
      expect(await t.eventCount()).toBe(before);
      await rejects(
        inner('/inner/kickout_conversation', {
          conversation_id: 'nosuchone',
          sessions: ['gw-frank'],
        }),
        404,
        26001,
      );
    });

    it('adds members; those already in are fine, unknown users refuse the request', async () => {
      expect(
        await ok(
          inner('/inner/join_conversation', {
            conversation_id: id,
            sessions: ['gw-frank', 'gw-gina'],
          }),
        ),
      ).toEqual({ ConversationId: id });
      expect(await joined(frank, id)).toBe(true);
      await rejects(
        inner('/inner/join_conversation', {
          conversation_id: id,
          sessions: ['gw-user', 'gw-nobody'],
        }),
        404,
        40401,
      );
      expect(await joined(user, id)).toBe(false);
    });

    it('archives a conversation read-only, and unarchives it', async () => {
      await send(frank, id, 'before archive');
      const archived = await inner('/inner/set_archive_conversations', {
        conversation_ids: [id],
        is_archive: true,
      });
      expect(archived.status).toBe(200);
      expect(archived.body).toEqual({ code: 0 });
      expect(await detail(erin, id)).toMatchObject({ IsArchive: true, IsDelete: false });
      await rejects(
        post('/send_msg', { conversation_id: id, type: 1, content: 'no' }, frank),
        403,
        26012,
      );
      await rejects(post('/join_conversation', { conversation_id: id }, user), 403, 26012);
      await waitFor(async () => (await last30(frank, id)).length === 1, 'the message before');
      expect(texts(await last30(frank, id))).toEqual(['before archive']);
      await waitFor(
        async () => (await joinedList(frank, 'gw-frank')).some((c) => c.IsArchive),
        'the archive to be projected',
      );

      // Archiving again writes nothing.
      const before = await t.eventCount();
      await inner('/inner/set_archive_conversations', { conversation_ids: [id], is_archive: true });
      expect(await t.eventCount()).toBe(before);

      const unarchived = await inner('/inner/set_archive_conversations', {
        conversation_ids: [id],
        is_archive: false,
      });
      expect(unarchived.body).toEqual({ code: 0 });
      expect(await detail(erin, id)).toMatchObject({ IsArchive: false });
      await send(frank, id, 'after unarchive');
    });

    it('refuses to archive an unknown conversation, writing nothing for the others', async () => {
      await rejects(
        inner('/inner/set_archive_conversations', {
          conversation_ids: [id, 'nosuchone'],
          is_archive: true,
        }),
        404,
        26001,
      );
      expect((await detail(erin, id)).IsArchive).toBe(false);
    });
  });

  describe('malformed requests', () => {
    let token: string;
    let id: string;

    beforeAll(async () => {
      token = await t.user('gw-bad');
      id = await create(token);
    });

    it.each([
      ['/create_conversation', {}],
      ['/create_conversation', { conversation_type: '1' }],
      ['/create_conversation', { conversation_type: -1 }],
      ['/create_conversation', { conversation_type: 1.5 }],
      ['/create_conversation', { conversation_type: 1, name: 'extra' }],
      ['/join_conversation', { conversation_id: 'has-dash' }],
      ['/join_conversation', { conversation_id: 42 }],
      ['/check_joined_conversation', {}],
      ['/get_joined_conversation', { SessionId: '' }],
      ['/send_msg', { conversation_id: 'x', type: 1 }],
      ['/send_msg', { conversation_id: 'x', type: '1', content: 'hi' }],
      ['/send_msg', { conversation_id: 'x', type: 1, content: 'hi', status: 1 }],
      ['/send_msg', { conversation_id: 'x', type: 1, content: 'hi', dev_id: 'not-a-uuid' }],
      ['/get_conversation_msg_by_range', { conversation_id: 'x', start_msg_id: '1' }],
      ['/get_conversation_msg_by_range', { conversation_id: 'x', start_msg_id: 1, end_msg_id: 2 }],
      ['/get_conversation_30msg_before_the_id', { conversation_id: 'x', msg_id: '01' }],
      [
        '/get_conversation_30msg_after_the_id',
        { conversation_id: 'x', msg_id: '99999999999999999999' },
      ],
      ['/get_conversation_last_30_msg', { conversation_id: 'x', desc: 'yes' }],
      ['/get_conversation_lastone_msg', { conversation_id: '' }],
      ['/get_lastone_msgid', []],
    ])('refuses %s %p with 400 40000, writing nothing', async (path, body) => {
      await rejects(post(path, body, token), 400, 40000);
    });

    it.each([
      ['/inner/create_conversation', { conversation_type: 0 }],
      ['/inner/create_conversation', { conversation_type: 0, sessions: 'gw-bad' }],
      ['/inner/create_conversation', { conversation_type: 0, sessions: ['bad id'] }],
      [
        '/inner/create_conversation',
        { conversation_type: 0, sessions: Array(1001).fill('gw-bad') },
      ],
      ['/inner/kickout_conversation', { conversation_id: 'x', sessions: [] }],
      ['/inner/join_conversation', { sessions: ['gw-bad'] }],
      ['/inner/set_archive_conversations', { conversation_ids: ['x'] }],
      ['/inner/set_archive_conversations', { conversation_ids: [], is_archive: true }],
      ['/inner/set_archive_conversations', { conversation_ids: ['x'], is_archive: 'true' }],
    ])('refuses %s %p with 400 40000, writing nothing', async (path, body) => {
      await rejects(inner(path, body), 400, 40000);
    });

    it('refuses a body that is not JSON with 400 40001', async () => {
      await rejects(
        request(t.url)
          .post('/send_msg')
          .set('Authorization', `Bearer ${token}`)
          .set('Content-Type', 'application/json')
          .send('{"conversation_id":'),
        400,
        40001,
      );
      expect(await joined(token, id)).toBe(true);
    });
  });
});
