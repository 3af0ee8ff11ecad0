import { randomUUID } from 'node:crypto';
import { Client } from 'pg';
import request from 'supertest';
import { startTestApp, TestApp } from '../support/app';
import { waitFor } from '../support/wait-for';

const text = (t: string) => JSON.stringify({ content: t });

type Method = 'get' | 'post' | 'put' | 'delete' | 'patch';

interface Route {
  method: Method;
  /** As OpenAPI names it, with {params}. */
  path: string;
  /** A valid body, so that only the missing credentials can be refused. */
  body?: object;
  /** Query parameters the route needs. */
  query?: string;
}

const ref = (talker: string) => ({ session_type: 1, talker_id: talker });

/** Every user endpoint, with parameters that would be accepted from the right user. */
const USER_ROUTES: Route[] = [
  {
    method: 'post',
    path: '/api/v1/messages',
    body: {
      receiver_id: 'az-b',
      receiver_type: 1,
      msg_type: 1,
      content: text('hi'),
      dev_id: '0b0a2c8e-6f0e-4a43-9c11-6a3f3e0b7d21',
    },
  },
  { method: 'get', path: '/api/v1/sessions' },
  { method: 'get', path: '/api/v1/sessions/new' },
  { method: 'get', path: '/api/v1/sessions/{session_type}/{talker_id}' },
  { method: 'delete', path: '/api/v1/sessions/{session_type}/{talker_id}' },
  { method: 'get', path: '/api/v1/sessions/{session_type}/{talker_id}/messages' },
  {
    method: 'put',
    path: '/api/v1/sessions/{session_type}/{talker_id}/ack',
    body: { ack_seqno: 1 },
  },
  { method: 'put', path: '/api/v1/sessions/{session_type}/{talker_id}/top', body: { on: true } },
  { method: 'put', path: '/api/v1/sessions/{session_type}/{talker_id}/dnd', body: { on: true } },
  { method: 'put', path: '/api/v1/sessions/{session_type}/{talker_id}/trust', body: { on: true } },
  { method: 'post', path: '/api/v1/sessions/details', body: { sessions: [ref('az-b')] } },
  { method: 'post', path: '/api/v1/sessions/batch-remove', body: { sessions: [ref('az-b')] } },
  { method: 'post', path: '/api/v1/sessions/read-unfollowed' },
  { method: 'get', path: '/api/v1/unread' },
  { method: 'post', path: '/api/v1/unread/specific', body: { sessions: [ref('az-b')] } },
  { method: 'get', path: '/api/v1/share-list' },
  { method: 'put', path: '/api/v1/relations/following/{uid}' },
  { method: 'delete', path: '/api/v1/relations/following/{uid}' },
  { method: 'put', path: '/api/v1/relations/blocks/{uid}' },
  { method: 'delete', path: '/api/v1/relations/blocks/{uid}' },
  { method: 'get', path: '/api/v1/relations/sync' },
  { method: 'put', path: '/api/v1/relations/privacy', body: { intercept: true } },
  { method: 'post', path: '/api/v1/groups', body: { name: 'g' } },
  { method: 'get', path: '/api/v1/groups', query: 'ids=azg' },
  { method: 'get', path: '/api/v1/groups/joined' },
  { method: 'post', path: '/api/v1/groups/sync', body: { versions: [] } },
  { method: 'get', path: '/api/v1/groups/owned/unread' },
  { method: 'get', path: '/api/v1/groups/assistant' },
  { method: 'put', path: '/api/v1/groups/assistant/ack', body: { ack_seqno: 0 } },
  { method: 'get', path: '/api/v1/groups/applications/received' },
  { method: 'get', path: '/api/v1/groups/applications/sent' },
  { method: 'patch', path: '/api/v1/groups/{group_id}', body: { name: 'x' } },
  { method: 'delete', path: '/api/v1/groups/{group_id}' },
  { method: 'post', path: '/api/v1/groups/{group_id}/join', body: {} },
  { method: 'post', path: '/api/v1/groups/{group_id}/quit' },
  { method: 'post', path: '/api/v1/groups/{group_id}/applications/{uid}', body: { result: 1 } },
  { method: 'post', path: '/api/v1/groups/{group_id}/invitations', body: { uids: ['az-b'] } },
  { method: 'post', path: '/api/v1/groups/{group_id}/kicks', body: { uids: ['az-b'] } },
  {
    method: 'post',
    path: '/api/v1/groups/{group_id}/members/change',
    body: { change_type: 1, uids: ['az-b'] },
  },
  { method: 'put', path: '/api/v1/groups/{group_id}/owner', body: { uid: 'az-b' } },
  { method: 'put', path: '/api/v1/groups/{group_id}/members/{uid}/role', body: { role_level: 3 } },
  {
    method: 'put',
    path: '/api/v1/groups/{group_id}/members/{uid}/mute',
    body: { muted_seconds: 1 },
  },
  { method: 'put', path: '/api/v1/groups/{group_id}/status', body: { status: 3 } },
  { method: 'get', path: '/api/v1/groups/{group_id}/members' },
  { method: 'post', path: '/api/v1/groups/{group_id}/members/query', body: { uids: ['az-b'] } },
];

const concrete = (path: string, query?: string) =>
  (query ? `${path}?${query}` : path)
    .replace('{session_type}', '1')
    .replace('{talker_id}', 'az-b')
    .replace('{uid}', 'az-b')
    .replace('{msg_key}', '123456789')
    .replace('{group_id}', 'azg')
    .replace('{stream_id}', 'user-az-b')
    .replace('{job_id}', '00000000-0000-4000-8000-000000000000')
    .replace('{id}', 'x1');

/**
 * Who may do what: every user endpoint needs a token, a user sees and changes only their own
 * conversations and sessions, and the operators' routes take the admin key only.
 */
describe('authorization over HTTP', () => {
  let t: TestApp;
  let db: Client;
  let a: string;
  let b: string;
  let c: string;
  let firstKey: string;

  beforeAll(async () => {
    t = await startTestApp();
    db = new Client({ connectionString: t.db.url });
    await db.connect();
    // A and B talk: B follows A, A writes twice, B replies once
    a = await t.tokenFor('az-a');
    b = await t.tokenFor('az-b');
    c = await t.tokenFor('az-c');
    await t.follow(b, 'az-a');
    const sends: [string, string, string][] = [
      [a, 'az-b', 'first'],
      [a, 'az-b', 'second'],
      [b, 'az-a', 'reply'],
    ];
    for (const [token, to, words] of sends) {
      const res = await request(t.url)
        .post('/api/v1/messages')
        .set('Authorization', `Bearer ${token}`)
        .send({
          receiver_id: to,
          receiver_type: 1,
          msg_type: 1,
          content: text(words),
          dev_id: randomUUID(),
        });
      expect(res.status).toBe(201);
      firstKey ??= res.body.msg_key as string;
    }
    await waitFor(async () => {
      const res = await request(t.url)
        .get('/api/v1/sessions/1/az-b')
        .set('Authorization', `Bearer ${a}`);
      return res.body.max_seqno === 3;
    }, "A's session with B");
  });
  afterAll(async () => {
    await db.end();
    await t.close();
  });

  const eventCount = async () =>
    Number((await db.query<{ n: string }>('SELECT count(*) AS n FROM es_events')).rows[0].n);

  /** Sends the request, expects the status and code, and checks that nothing was written. */
  async function rejects(req: request.Test, status: number, code: number) {
    const before = await eventCount();
    const res = await req;
    expect({ status: res.status, code: res.body.code }).toEqual({ status, code });
    expect(await eventCount()).toBe(before);
    return res;
  }

  const call = (route: Route, token?: string) => {
    let req = request(t.url)[route.method](concrete(route.path, route.query));
    if (token) req = req.set('Authorization', `Bearer ${token}`);
    return route.body ? req.send(route.body) : req;
  };

  const as = (token: string) => ({
    get: (path: string) => request(t.url).get(path).set('Authorization', `Bearer ${token}`),
    put: (path: string, body: object) =>
      request(t.url).put(path).set('Authorization', `Bearer ${token}`).send(body),
    post: (path: string, body: object = {}) =>
      request(t.url).post(path).set('Authorization', `Bearer ${token}`).send(body),
    delete: (path: string) => request(t.url).delete(path).set('Authorization', `Bearer ${token}`),
  });

  describe('tokens', () => {
    it('lists every user endpoint of the API description in this test', async () => {
      const doc = await request(t.url).get('/docs-json');
      const documented = Object.entries(
        doc.body.paths as Record<string, Record<string, unknown>>,
      ).flatMap(([path, ops]) =>
        Object.keys(ops)
          .filter((m) => ['get', 'post', 'put', 'delete', 'patch'].includes(m))
          .map((m) => `${m} ${path}`),
      );
      const userApi = documented.filter((r) => r.split(' ')[1].startsWith('/api/'));
      expect(userApi.sort()).toEqual(USER_ROUTES.map((r) => `${r.method} ${r.path}`).sort());
    });

    it.each(USER_ROUTES.map((r) => [`${r.method.toUpperCase()} ${r.path}`, r] as const))(
      'refuses %s without a token with 401 and writes nothing',
      async (_name, route) => {
        const res = await rejects(call(route), 401, 40100);
        expect(typeof res.body.message).toBe('string');
      },
    );

    it('refuses the admin key in place of a token', async () => {
      for (const route of USER_ROUTES) {
        await rejects(call(route).set('X-Admin-Key', t.adminKey), 401, 40100);
      }
    });

    it('accepts each user endpoint with a token (the refusals above are the token’s doing)', async () => {
      // From a user of their own, so that nothing here touches A's and B's conversation
      const d = await t.tokenFor('az-d');
      await t.tokenFor('az-e');
      const own = (p: string) => p.replace('az-b', 'az-e');
      for (const route of USER_ROUTES) {
        let req = request(t.url)
          [route.method](own(concrete(route.path, route.query)))
          .set('Authorization', `Bearer ${d}`);
        if (route.body) req = req.send(JSON.parse(own(JSON.stringify(route.body))) as object);
        const res = await req;
        // Never a credential refusal: success, or a domain answer such as 1000004
        expect({ route: `${route.method} ${route.path}`, status: res.status }).not.toMatchObject({
          status: 401,
        });
        expect(res.status).toBeLessThan(500);
      }
    });
  });

  describe("another user's conversation", () => {
    it("shows C nothing of A and B's history: C's own conversation with the named talker", async () => {
      // When C asks for the history with A, and with B
      for (const talker of ['az-a', 'az-b']) {
        const res = await as(c).get(`/api/v1/sessions/1/${talker}/messages`);
        // Then it is C's own conversation with them: empty
        expect(res.status).toBe(200);
        expect(res.body).toMatchObject({ messages: [], has_more: 0 });
      }
      // And C's lists are empty
      expect((await as(c).get('/api/v1/sessions?filter=all')).body.session_list).toEqual([]);
      expect((await as(c).get('/api/v1/sessions/new')).body.session_list).toEqual([]);
      expect((await as(c).get('/api/v1/share-list')).body.session_list).toEqual([]);
      // While A sees the three messages
      expect((await as(a).get('/api/v1/sessions/1/az-b/messages')).body.messages).toHaveLength(3);
    });

    it("answers C 1000004 for A's and B's sessions, for reading and for every change", async () => {
      for (const talker of ['az-a', 'az-b']) {
        const s = `/api/v1/sessions/1/${talker}`;
        await rejects(as(c).get(s), 404, 1000004);
        await rejects(as(c).put(`${s}/ack`, { ack_seqno: 1 }), 404, 1000004);
        await rejects(as(c).put(`${s}/top`, { on: true }), 404, 1000004);
        await rejects(as(c).put(`${s}/dnd`, { on: true }), 404, 1000004);
        await rejects(as(c).put(`${s}/trust`, { on: true }), 404, 1000004);
        await rejects(as(c).delete(s), 404, 1000004);
      }
      await rejects(
        as(c).post('/api/v1/sessions/batch-remove', { sessions: [ref('az-a'), ref('az-b')] }),
        404,
        1000004,
      );
      // And the details and unread counts C may ask for are C's own: none
      expect(
        (await as(c).post('/api/v1/sessions/details', { sessions: [ref('az-a'), ref('az-b')] }))
          .body,
      ).toEqual({ session_list: [] });
      expect(
        (await as(c).post('/api/v1/unread/specific', { sessions: [ref('az-a'), ref('az-b')] }))
          .body,
      ).toEqual({ talkerUnreadCnt: {}, allUnreadCnt: 0 });
      // And A's and B's sessions are as they were
      const mine = (await as(a).get('/api/v1/sessions/1/az-b')).body;
      expect(mine).toMatchObject({ top_ts: 0, is_dnd: 0, ack_seqno: 2, unread_count: 1 });
      const theirs = (await as(b).get('/api/v1/sessions/1/az-a')).body;
      expect(theirs).toMatchObject({ top_ts: 0, is_dnd: 0, ack_seqno: 3, unread_count: 0 });
    });

    it("refuses C's read-unfollowed any effect on A's sessions", async () => {
      const res = await as(c).post('/api/v1/sessions/read-unfollowed');
      expect(res.body).toEqual({ sessions: 0 });
      expect((await as(a).get('/api/v1/sessions/1/az-b')).body).toMatchObject({ unread_count: 1 });
    });

    it("does not let C recall A's message, through either talker", async () => {
      for (const talker of ['az-a', 'az-b']) {
        await rejects(
          as(c).post('/api/v1/messages', {
            receiver_id: talker,
            receiver_type: 1,
            msg_type: 5,
            content: firstKey,
            dev_id: randomUUID(),
          }),
          404,
          10005,
        );
      }
      // Nor B, its receiver
      await rejects(
        as(b).post('/api/v1/messages', {
          receiver_id: 'az-a',
          receiver_type: 1,
          msg_type: 5,
          content: firstKey,
          dev_id: randomUUID(),
        }),
        403,
        40300,
      );
    });

    it('does not let a user send as someone else', async () => {
      await rejects(
        as(c).post('/api/v1/messages', {
          sender_uid: 'az-a',
          receiver_id: 'az-b',
          receiver_type: 1,
          msg_type: 1,
          content: text('spoof'),
          dev_id: randomUUID(),
        }),
        400,
        40000,
      );
    });
  });

  describe('operator routes', () => {
    const adminRoutes: Route[] = [
      {
        method: 'put',
        path: '/admin/v1/users/{uid}/profile',
        body: { name: 'x', face: '', official_type: -1, system_msg_type: 7 },
      },
      {
        method: 'post',
        path: '/admin/v1/messages',
        body: {
          sender_uid: 'az-c',
          receiver_id: 'az-b',
          msg_type: 10,
          content: JSON.stringify({ title: 't', text: 'x' }),
          dev_id: '5a0d1c8e-6f0e-4a43-9c11-6a3f3e0b7d21',
        },
      },
      {
        method: 'post',
        path: '/admin/v1/messages/broadcast',
        body: {
          sender_uid: 'az-c',
          receiver_ids: ['az-b'],
          msg_type: 10,
          content: JSON.stringify({ title: 't', text: 'x' }),
          dev_id: '6a0d1c8e-6f0e-4a43-9c11-6a3f3e0b7d21',
        },
      },
      { method: 'post', path: '/admin/v1/messages/{msg_key}/sys-cancel' },
      { method: 'post', path: '/inner/get_token', body: { session: 'az-new', platform: 1 } },
      { method: 'post', path: '/admin/v1/groups', body: { owner_uid: 'az-c', name: 'g' } },
      {
        method: 'post',
        path: '/inner/create_conversation',
        body: { conversation_type: 0, sessions: ['az-c'] },
      },
      {
        method: 'post',
        path: '/inner/join_conversation',
        body: { conversation_id: 'azg', sessions: ['az-b'] },
      },
      {
        method: 'post',
        path: '/inner/kickout_conversation',
        body: { conversation_id: 'azg', sessions: ['az-b'] },
      },
      {
        method: 'post',
        path: '/inner/set_archive_conversations',
        body: { conversation_ids: ['azg'], is_archive: true },
      },
      { method: 'get', path: '/admin/v1/groups' },
      { method: 'get', path: '/admin/v1/groups/{group_id}' },
      { method: 'delete', path: '/admin/v1/groups/{group_id}' },
      { method: 'get', path: '/admin/v1/groups/{group_id}/members' },
      { method: 'put', path: '/admin/v1/groups/{group_id}/owner', body: { uid: 'az-b' } },
      { method: 'put', path: '/admin/v1/groups/{group_id}/status', body: { status: 1 } },
      {
        method: 'put',
        path: '/admin/v1/groups/{group_id}/members/{uid}/role',
        body: { role_level: 3 },
      },
      { method: 'post', path: '/admin/v1/groups/{group_id}/members', body: { uids: ['az-b'] } },
      {
        method: 'post',
        path: '/admin/v1/groups/{group_id}/members/remove',
        body: { uids: ['az-b'] },
      },
      // The log tools (docs/admin.md).
      { method: 'get', path: '/admin/v1/audit' },
      { method: 'get', path: '/admin/v1/projections' },
      { method: 'post', path: '/admin/v1/projections/rebuild' },
      { method: 'get', path: '/admin/v1/projections/rebuild/{job_id}' },
      { method: 'post', path: '/admin/v1/projections/verify' },
      { method: 'get', path: '/admin/v1/projections/verify/{job_id}' },
      { method: 'post', path: '/admin/v1/time-travel', body: { at: '2026-01-01T00:00:00Z' } },
      { method: 'get', path: '/admin/v1/time-travel' },
      { method: 'get', path: '/admin/v1/time-travel/{id}' },
      { method: 'delete', path: '/admin/v1/time-travel/{id}' },
      { method: 'get', path: '/admin/v1/streams' },
      { method: 'get', path: '/admin/v1/streams/{stream_id}/events' },
      { method: 'get', path: '/admin/v1/export' },
      { method: 'post', path: '/admin/v1/users/{uid}/erase' },
    ];

    it('lists every operator endpoint of the API description in this test', async () => {
      const doc = await request(t.url).get('/docs-json');
      const documented = Object.entries(
        doc.body.paths as Record<string, Record<string, unknown>>,
      ).flatMap(([path, ops]) => Object.keys(ops).map((m) => `${m} ${path}`));
      const operator = documented.filter((r) => /^\w+ \/(admin|inner)\//.test(r));
      expect(operator.sort()).toEqual(adminRoutes.map((r) => `${r.method} ${r.path}`).sort());
    });

    it.each(adminRoutes.map((r) => [`${r.method.toUpperCase()} ${r.path}`, r] as const))(
      'refuses %s with a user token and no admin key (403 40300), and with no credentials (401 40110), writing nothing',
      async (_name, route) => {
        await rejects(call(route, c), 403, 40300);
        await rejects(call(route), 401, 40110);
      },
    );

    it("refuses a sys-cancel of A's message from C's token, and leaves it in history", async () => {
      await rejects(
        request(t.url)
          .post(`/admin/v1/messages/${firstKey}/sys-cancel`)
          .set('Authorization', `Bearer ${c}`),
        403,
        40300,
      );
      const history = (await as(b).get('/api/v1/sessions/1/az-a/messages')).body.messages as {
        msg_key: string;
        msg_status: number;
      }[];
      expect(history.find((m) => m.msg_key === firstKey)).toMatchObject({ msg_status: 0 });
    });
  });
});
