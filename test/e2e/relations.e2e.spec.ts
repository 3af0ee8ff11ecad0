import { Client } from 'pg';
import request from 'supertest';
import { startTestApp, TestApp } from '../support/app';
import { waitFor } from '../support/wait-for';

interface RelationSync {
  full: 0 | 1;
  relation_logs: { seqno: number; uid: string; op: number; ts: number }[];
  friend_list: { uid: string; is_follow: 0 | 1; is_block: 0 | 1 }[];
  server_relation_oplog_seqno: number;
  group_list: unknown[];
}

/** Follows, blocks, privacy settings and SyncRelation, over HTTP. */
describe('relations over HTTP', () => {
  let t: TestApp;
  let db: Client;

  beforeAll(async () => {
    t = await startTestApp();
    db = new Client({ connectionString: t.db.url });
    await db.connect();
  });
  afterAll(async () => {
    await db.end();
    await t.close();
  });

  const user = (uid: string) => t.user(uid);
  const eventCount = () => t.eventCount();
  const rejects = (req: request.Test, status: number, code: number) => t.rejects(req, status, code);

  type Op = 'follow' | 'unfollow' | 'block' | 'unblock';
  const PATH: Record<Op, [string, 'put' | 'delete']> = {
    follow: ['following', 'put'],
    unfollow: ['following', 'delete'],
    block: ['blocks', 'put'],
    unblock: ['blocks', 'delete'],
  };

  /** The request for `op` by `token` on `target`. */
  const change = (token: string, op: Op, target: string) => {
    const [path, method] = PATH[op];
    return request(t.url)
      [method](`/api/v1/relations/${path}/${target}`)
      .set('Authorization', `Bearer ${token}`);
  };

  /** Applies `op` and returns its answer, expecting 200. */
  async function relate(token: string, op: Op, target: string) {
    const res = await change(token, op, target);
    expect(res.status).toBe(200);
    return res.body as { changed: boolean; relation_oplog_seqno: number };
  }

  const sync = (token: string, seqno?: unknown) =>
    request(t.url)
      .get('/api/v1/relations/sync')
      .query(seqno === undefined ? {} : { client_relation_oplog_seqno: seqno })
      .set('Authorization', `Bearer ${token}`);

  const synced = async (token: string, seqno?: number): Promise<RelationSync> => {
    const res = await sync(token, seqno);
    expect(res.status).toBe(200);
    return res.body as RelationSync;
  };

  describe('follow, unfollow, block, unblock', () => {
    it('answers changed and the op-log seqno, and a repeated change is unchanged and writes nothing', async () => {
      // Given two users
      const a = await user('rel-a');
      await user('rel-b');
      // When A follows B, Then it changes, as the first entry of A's op-log
      expect(await relate(a, 'follow', 'rel-b')).toEqual({
        changed: true,
        relation_oplog_seqno: 1,
      });
      // When A follows B again, Then nothing changes and nothing is written
      const before = await eventCount();
      expect(await relate(a, 'follow', 'rel-b')).toEqual({
        changed: false,
        relation_oplog_seqno: 1,
      });
      expect(await eventCount()).toBe(before);
      // And every other change takes the next seqno; repeating one changes nothing
      expect(await relate(a, 'unfollow', 'rel-b')).toEqual({
        changed: true,
        relation_oplog_seqno: 2,
      });
      expect(await relate(a, 'unfollow', 'rel-b')).toEqual({
        changed: false,
        relation_oplog_seqno: 2,
      });
      expect(await relate(a, 'block', 'rel-b')).toEqual({ changed: true, relation_oplog_seqno: 3 });
      expect(await relate(a, 'block', 'rel-b')).toEqual({
        changed: false,
        relation_oplog_seqno: 3,
      });
      expect(await relate(a, 'unblock', 'rel-b')).toEqual({
        changed: true,
        relation_oplog_seqno: 4,
      });
      expect(await relate(a, 'unblock', 'rel-b')).toEqual({
        changed: false,
        relation_oplog_seqno: 4,
      });
      // And B's op-log is B's own: untouched
      expect(await relate(await user('rel-b'), 'follow', 'rel-a')).toEqual({
        changed: true,
        relation_oplog_seqno: 1,
      });
    });

    it('refuses a relation to an unknown user with 40401 and to yourself with 40000', async () => {
      const a = await user('rel-x');
      for (const op of ['follow', 'unfollow', 'block', 'unblock'] as const) {
        await rejects(change(a, op, 'rel-nobody'), 404, 40401);
        await rejects(change(a, op, 'rel-x'), 400, 40000);
      }
    });

    it('shows whom the owner follows as is_follow on the session', async () => {
      // Given B wrote to A
      const a = await user('isf-a');
      const b = await user('isf-b');
      const res = await request(t.url)
        .post('/api/v1/messages')
        .set('Authorization', `Bearer ${b}`)
        .send({
          receiver_id: 'isf-a',
          receiver_type: 1,
          msg_type: 1,
          content: JSON.stringify({ content: 'hi' }),
          dev_id: '6b1f1c1e-0b55-4e58-9a43-3d2d7c1f0a01',
        });
      expect(res.status).toBe(201);
      const session = async () =>
        (await request(t.url).get('/api/v1/sessions/1/isf-b').set('Authorization', `Bearer ${a}`))
          .body as { is_follow?: number };
      await waitFor(async () => (await session()).is_follow === 0, 'the session, not followed');
      // When A follows B, Then the session says so
      await relate(a, 'follow', 'isf-b');
      await waitFor(async () => (await session()).is_follow === 1, 'is_follow 1');
      // When A unfollows B, Then it no longer does
      await relate(a, 'unfollow', 'isf-b');
      await waitFor(async () => (await session()).is_follow === 0, 'is_follow 0');
    });
  });

  describe('SyncRelation', () => {
    // S's op-log: 1 follow f1, 2 follow f2, 3 block k, 4 unfollow f1, 5 follow f3, 6 follow k
    let s: string;
    beforeAll(async () => {
      s = await user('sync-s');
      for (const u of ['sync-f1', 'sync-f2', 'sync-f3', 'sync-k']) await user(u);
      await relate(s, 'follow', 'sync-f1');
      await relate(s, 'follow', 'sync-f2');
      await relate(s, 'block', 'sync-k');
      await relate(s, 'unfollow', 'sync-f1');
      await relate(s, 'follow', 'sync-f3');
      expect(await relate(s, 'follow', 'sync-k')).toEqual({
        changed: true,
        relation_oplog_seqno: 6,
      });
      await waitFor(
        async () => (await synced(s, 6)).server_relation_oplog_seqno === 6,
        'the op-log in the read model',
      );
    });

    const fullList = [
      { uid: 'sync-f2', is_follow: 1, is_block: 0 },
      { uid: 'sync-f3', is_follow: 1, is_block: 0 },
      { uid: 'sync-k', is_follow: 1, is_block: 1 },
    ];

    it('answers a client with nothing (seqno 0) with the full list', async () => {
      const r = await synced(s, 0);
      expect(r).toMatchObject({ full: 1, server_relation_oplog_seqno: 6, relation_logs: [] });
      expect([...r.friend_list].sort((x, y) => x.uid.localeCompare(y.uid))).toEqual(fullList);
      // And without a seqno, the same
      expect(await synced(s)).toEqual(r);
    });

    it('answers a client a little behind with only the later changes, in order', async () => {
      const r = await synced(s, 3);
      expect(r).toMatchObject({ full: 0, server_relation_oplog_seqno: 6, friend_list: [] });
      expect(r.relation_logs.map(({ seqno, uid, op }) => ({ seqno, uid, op }))).toEqual([
        { seqno: 4, uid: 'sync-f1', op: 2 },
        { seqno: 5, uid: 'sync-f3', op: 1 },
        { seqno: 6, uid: 'sync-k', op: 1 },
      ]);
      // Times are microseconds, in order
      const ts = r.relation_logs.map((l) => l.ts);
      expect(ts).toEqual([...ts].sort((x, y) => x - y));
      expect(ts[0]).toBeGreaterThan(1e15);
      // And one a step behind gets the last change only
      expect((await synced(s, 5)).relation_logs.map((l) => l.seqno)).toEqual([6]);
    });

    it('answers a client up to date with nothing', async () => {
      expect(await synced(s, 6)).toEqual({
        full: 0,
        relation_logs: [],
        friend_list: [],
        server_relation_oplog_seqno: 6,
        group_list: [],
      });
    });

    it('answers a client ahead of the server with the full list', async () => {
      const r = await synced(s, 99);
      expect(r).toMatchObject({ full: 1, server_relation_oplog_seqno: 6, relation_logs: [] });
      expect([...r.friend_list].sort((x, y) => x.uid.localeCompare(y.uid))).toEqual(fullList);
    });

    it('answers a user with no relations with an empty sync', async () => {
      const r = await synced(await user('sync-none'), 0);
      expect(r).toMatchObject({
        server_relation_oplog_seqno: 0,
        relation_logs: [],
        friend_list: [],
      });
    });
  });

  describe('privacy', () => {
    it('answers changed for a new setting and unchanged for the same one, writing nothing', async () => {
      const p = await user('prv-a');
      const privacy = (body: unknown) =>
        request(t.url)
          .put('/api/v1/relations/privacy')
          .set('Authorization', `Bearer ${p}`)
          .send(body as object);
      expect((await privacy({ followed_only: true })).body).toEqual({ changed: true });
      const before = await eventCount();
      expect((await privacy({ followed_only: true })).body).toEqual({ changed: false });
      expect((await privacy({ followed_only: true, intercept: false })).body).toEqual({
        changed: false,
      });
      expect(await eventCount()).toBe(before);
      expect((await privacy({ intercept: true })).body).toEqual({ changed: true });
      expect((await privacy({ followed_only: false, intercept: false })).body).toEqual({
        changed: true,
      });
    });
  });

  describe('bad input', () => {
    it('rejects malformed relation requests with 40000 and writes nothing', async () => {
      const a = await user('badr-a');
      await rejects(change(a, 'follow', 'has space'), 400, 40000);
      await rejects(change(a, 'block', 'b~c'), 400, 40000);
      await rejects(change(a, 'follow', 'x'.repeat(65)), 400, 40000);
      const privacy = (body: unknown) =>
        request(t.url)
          .put('/api/v1/relations/privacy')
          .set('Authorization', `Bearer ${a}`)
          .send(body as object);
      await rejects(privacy({}), 400, 40000);
      await rejects(privacy({ followed_only: 'yes' }), 400, 40000);
      await rejects(privacy({ intercept: 1 }), 400, 40000);
      await rejects(privacy({ followed_only: true, admin: true }), 400, 40000);
      await rejects(sync(a, -1), 400, 40000);
      await rejects(sync(a, 'x'), 400, 40000);
      await rejects(sync(a, 1.5), 400, 40000);
      await rejects(sync(a, '99999999999999999999'), 400, 40000);
      await rejects(
        request(t.url).get('/api/v1/relations/sync?other=1').set('Authorization', `Bearer ${a}`),
        400,
        40000,
      );
    });
  });
});
