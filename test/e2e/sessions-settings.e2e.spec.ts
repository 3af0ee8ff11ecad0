import { randomUUID } from 'node:crypto';
import { Client } from 'pg';
import request from 'supertest';
import { startTestApp, TestApp } from '../support/app';
import { waitFor } from '../support/wait-for';

const text = (t: string) => JSON.stringify({ content: t });

interface Session {
  talker_id: string;
  session_type: number;
  top_ts: number;
  is_follow: number;
  is_dnd: number;
  ack_seqno: number;
  ack_ts: number;
  session_ts: number;
  unread_count: number;
  max_seqno: number;
  is_intercept: number;
  is_trust: number;
  last_msg: { msg_seqno: number; sender_uid: string } | null;
}

interface Page {
  session_list: Session[];
  has_more: 0 | 1;
  next_cursor: string | null;
}

interface Unread {
  unfollow_unread: number;
  follow_unread: number;
  unfollow_push_msg: number;
  dustbin_push_msg: number;
  dustbin_unread: number;
  biz_msg_unfollow_unread: number;
  biz_msg_follow_unread: number;
  custom_unread: number;
}

/** Session lists, read progress and per-session settings, over HTTP. */
describe('sessions and their settings over HTTP', () => {
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

  /** Tokens of the users registered so far, for requests that need them synchronously. */
  const tokens = new Map<string, string>();
  const user = async (uid: string) => {
    const token = await t.user(uid);
    tokens.set(uid, token);
    return token;
  };
  const eventCount = () => t.eventCount();
  const rejects = (req: request.Test, status: number, code: number) => t.rejects(req, status, code);

  /** `from` writes to `to` (registering both); returns the seqno. */
  async function send(from: string, to: string, words = 'hello'): Promise<number> {
    await user(to);
    const res = await request(t.url)
      .post('/api/v1/messages')
      .set('Authorization', `Bearer ${await user(from)}`)
      .send({
        receiver_id: to,
        receiver_type: 1,
        msg_type: 1,
        content: text(words),
        dev_id: randomUUID(),
      });
    expect(res.status).toBe(201);
    return res.body.msg_seqno as number;
  }

  /** The Authorization header of a user registered earlier in the test. */
  const auth = (uid: string): string => {
    const token = tokens.get(uid);
    if (!token) throw new Error(`${uid} is not registered yet`);
    return `Bearer ${token}`;
  };

  const get = (uid: string, path: string, query: Record<string, unknown> = {}) =>
    request(t.url).get(path).query(query).set('Authorization', auth(uid));

  const put = (uid: string, path: string, body: object) =>
    request(t.url).put(path).set('Authorization', auth(uid)).send(body);

  const post = (uid: string, path: string, body: object = {}) =>
    request(t.url).post(path).set('Authorization', auth(uid)).send(body);

  const list = async (uid: string, query: Record<string, unknown> = {}): Promise<Page> => {
    const res = await get(uid, '/api/v1/sessions', query);
    expect(res.status).toBe(200);
    return res.body as Page;
  };

  const talkers = (p: Page) => p.session_list.map((s) => s.talker_id);

  const unread = async (uid: string, query: Record<string, unknown> = {}): Promise<Unread> => {
    const res = await get(uid, '/api/v1/unread', query);
    expect(res.status).toBe(200);
    return res.body as Unread;
  };

  /** The owner's session with `talker` (filter all), once `ok` holds for it. */
  async function sessionWhen(
    owner: string,
    talker: string,
    ok: (s: Session) => boolean,
    what: string,
  ): Promise<Session> {
    let found: Session | undefined;
    await waitFor(async () => {
      const res = await get(owner, `/api/v1/sessions/1/${talker}`);
      found = res.status === 200 ? (res.body as Session) : undefined;
      return found !== undefined && ok(found);
    }, what);
    return found as Session;
  }

  async function follow(uid: string, target: string) {
    await user(target);
    await t.follow(await user(uid), target);
  }

  describe('unread counts and read progress', () => {
    it('counts unread for the receiver and keeps the sender’s own session read', async () => {
      // Given B follows A, and A writes three messages
      await follow('u-b', 'u-a');
      for (const w of ['one', 'two', 'three']) await send('u-a', 'u-b', w);
      // Then B's session with A has three unread
      const b = await sessionWhen('u-b', 'u-a', (s) => s.max_seqno === 3, 'B to see 3 messages');
      expect(b).toMatchObject({ unread_count: 3, ack_seqno: 0, is_follow: 1 });
      expect(await unread('u-b')).toMatchObject({ follow_unread: 3, unfollow_unread: 0 });
      // And A's own session is read up to A's last message
      const a = await sessionWhen('u-a', 'u-b', (s) => s.max_seqno === 3, 'A to see 3 messages');
      expect(a).toMatchObject({ unread_count: 0, ack_seqno: 3, is_follow: 0 });
      expect(await unread('u-a')).toMatchObject({ follow_unread: 0, unfollow_unread: 0 });
    });

    it('moves read progress forward only and refuses an ack beyond the newest message', async () => {
      // Given B has three unread from A
      await follow('ack-b', 'ack-a');
      for (let i = 0; i < 3; i++) await send('ack-a', 'ack-b');
      await sessionWhen('ack-b', 'ack-a', (s) => s.max_seqno === 3, 'three messages');
      // When B acks 2, Then it changes and one stays unread
      const ack = (n: unknown) => put('ack-b', '/api/v1/sessions/1/ack-a/ack', { ack_seqno: n });
      expect((await ack(2)).body).toEqual({ ack_seqno: 2, changed: true });
      const s = await sessionWhen('ack-b', 'ack-a', (x) => x.ack_seqno === 2, 'ack 2');
      expect(s.unread_count).toBe(1);
      expect(s.ack_ts).toBeGreaterThan(0);
      // When B acks 1 or 2 again, Then nothing moves back and nothing is written
      const before = await eventCount();
      const lower = await ack(1);
      expect({ status: lower.status, body: lower.body as unknown }).toEqual({
        status: 200,
        body: { ack_seqno: 2, changed: false },
      });
      expect((await ack(2)).body).toEqual({ ack_seqno: 2, changed: false });
      expect(await eventCount()).toBe(before);
      // When B acks beyond the newest message, Then 400 and nothing is written
      await rejects(ack(4), 400, 40000);
      // When B acks the newest, Then nothing is unread
      expect((await ack(3)).body).toEqual({ ack_seqno: 3, changed: true });
      await sessionWhen('ack-b', 'ack-a', (x) => x.unread_count === 0, 'all read');
    });

    it('answers changed false to a lower ack sent while the read model lags, writing nothing', async () => {
      // Given B has three unread from A
      await follow('ackr-b', 'ackr-a');
      for (let i = 0; i < 3; i++) await send('ackr-a', 'ackr-b');
      await sessionWhen('ackr-b', 'ackr-a', (s) => s.max_seqno === 3, 'three messages');
      const ack = (n: number) => put('ackr-b', '/api/v1/sessions/1/ackr-a/ack', { ack_seqno: n });
      // And a read model that lags: B's session row is locked here, so the projection of the
      // next ack waits (reads of the row do not)
      const lagging = new Client({ connectionString: t.db.url });
      await lagging.connect();
      let higher: request.Response;
      let lower: request.Response;
      let written: number;
      try {
        await lagging.query('BEGIN');
        await lagging.query(
          `SELECT 1 FROM rm_sessions WHERE owner_uid = 'ackr-b' AND talker_id = 'ackr-a' FOR UPDATE`,
        );
        // When B acks 3 and then 2 (two devices, say)
        higher = await ack(3);
        const before = await eventCount();
        lower = await ack(2);
        written = (await eventCount()) - before;
      } finally {
        await lagging.query('COMMIT');
        await lagging.end();
      }
      // Then the lower one changes nothing, though the read model had not caught up
      expect(higher.body).toEqual({ ack_seqno: 3, changed: true });
      expect(lower.body).toEqual({ ack_seqno: 3, changed: false });
      expect(written).toBe(0);
      // And the session ends read up to 3
      await sessionWhen('ackr-b', 'ackr-a', (s) => s.ack_seqno === 3, 'ack 3');
    });

    it('refuses an ack of a session never chatted in with 1000004', async () => {
      await user('ackn-b');
      await user('ackn-a');
      await rejects(put('ackn-a', '/api/v1/sessions/1/ackn-b/ack', { ack_seqno: 1 }), 404, 1000004);
    });

    it('leaves do-not-disturb sessions out of the unread counts', async () => {
      // Given O follows F1 and F2, who wrote 2 and 1 messages
      await follow('dnd-o', 'dnd-f1');
      await follow('dnd-o', 'dnd-f2');
      await send('dnd-f1', 'dnd-o');
      await send('dnd-f1', 'dnd-o');
      await send('dnd-f2', 'dnd-o');
      await waitFor(
        async () => (await unread('dnd-o')).follow_unread === 3,
        'three unread from followed users',
      );
      // When O sets do-not-disturb on F1's session
      expect((await put('dnd-o', '/api/v1/sessions/1/dnd-f1/dnd', { on: true })).body).toEqual({
        changed: true,
      });
      // Then only F2's message counts, and the session says is_dnd 1
      await waitFor(async () => (await unread('dnd-o')).follow_unread === 1, 'F1 left out');
      const s = await sessionWhen('dnd-o', 'dnd-f1', (x) => x.is_dnd === 1, 'is_dnd 1');
      expect(s.unread_count).toBe(2);
      // And setting it again changes nothing; clearing it counts F1 again
      expect((await put('dnd-o', '/api/v1/sessions/1/dnd-f1/dnd', { on: true })).body).toEqual({
        changed: false,
      });
      expect((await put('dnd-o', '/api/v1/sessions/1/dnd-f1/dnd', { on: false })).body).toEqual({
        changed: true,
      });
      await waitFor(async () => (await unread('dnd-o')).follow_unread === 3, 'F1 counted again');
    });

    it('marks only sessions with users not followed read (read-unfollowed)', async () => {
      // Given O follows F, who wrote two messages, and stranger S wrote one
      await follow('ru-o', 'ru-f');
      await send('ru-f', 'ru-o');
      await send('ru-f', 'ru-o');
      await send('ru-s', 'ru-o');
      await sessionWhen('ru-o', 'ru-s', (s) => s.unread_count === 1, 'S unread');
      await sessionWhen('ru-o', 'ru-f', (s) => s.unread_count === 2, 'F unread');
      // When O marks the unfollowed read
      const res = await post('ru-o', '/api/v1/sessions/read-unfollowed');
      expect({ status: res.status, body: res.body as unknown }).toEqual({
        status: 200,
        body: { sessions: 1 },
      });
      // Then S's session is read and F's is not
      await sessionWhen('ru-o', 'ru-s', (s) => s.unread_count === 0, 'S read');
      expect((await get('ru-o', '/api/v1/sessions/1/ru-f')).body).toMatchObject({
        unread_count: 2,
      });
      expect(await unread('ru-o')).toMatchObject({ unfollow_unread: 0, follow_unread: 2 });
    });
  });

  describe('pinning and removing', () => {
    it('puts a pinned session first with top_ts > 0, and unpinning restores the order', async () => {
      // Given O follows P1, P2, P3 and has sessions with them (P3 newest)
      for (const p of ['pin-p1', 'pin-p2', 'pin-p3']) await follow('pin-o', p);
      for (const p of ['pin-p1', 'pin-p2', 'pin-p3']) await send(p, 'pin-o');
      await waitFor(async () => (await list('pin-o')).session_list.length === 3, 'three sessions');
      expect(talkers(await list('pin-o'))).toEqual(['pin-p3', 'pin-p2', 'pin-p1']);
      // When O pins the oldest
      const before = Date.now() * 1000;
      expect((await put('pin-o', '/api/v1/sessions/1/pin-p1/top', { on: true })).body).toEqual({
        changed: true,
      });
      // Then it comes first, with the time of pinning
      await waitFor(
        async () => (await list('pin-o')).session_list[0].talker_id === 'pin-p1',
        'P1 first',
      );
      const pinned = (await list('pin-o')).session_list;
      expect(talkers({ session_list: pinned } as Page)).toEqual(['pin-p1', 'pin-p3', 'pin-p2']);
      expect(pinned[0].top_ts).toBeGreaterThanOrEqual(before - 1_000_000);
      expect(pinned[1].top_ts).toBe(0);
      // And a newer message elsewhere does not pass it
      await send('pin-p2', 'pin-o');
      await waitFor(
        async () => (await list('pin-o')).session_list[1]?.talker_id === 'pin-p2',
        'P2 second',
      );
      expect(talkers(await list('pin-o'))).toEqual(['pin-p1', 'pin-p2', 'pin-p3']);
      // When O unpins it, Then the order is by time again
      expect((await put('pin-o', '/api/v1/sessions/1/pin-p1/top', { on: false })).body).toEqual({
        changed: true,
      });
      await waitFor(
        async () => (await list('pin-o')).session_list[2].talker_id === 'pin-p1',
        'P1 last',
      );
      const after = await list('pin-o');
      expect(talkers(after)).toEqual(['pin-p2', 'pin-p3', 'pin-p1']);
      expect(after.session_list.every((s) => s.top_ts === 0)).toBe(true);
      // And unpinning again changes nothing
      expect((await put('pin-o', '/api/v1/sessions/1/pin-p1/top', { on: false })).body).toEqual({
        changed: false,
      });
    });

    it('hides a removed session, read, until a new message brings it back', async () => {
      // Given O follows R and has two unread from R, and one from stranger K
      await follow('rm-o', 'rm-r');
      await send('rm-r', 'rm-o');
      await send('rm-r', 'rm-o');
      await send('rm-k', 'rm-o');
      await waitFor(async () => (await list('rm-o')).session_list.length === 2, 'two sessions');
      // When O removes R's session
      const res = await request(t.url)
        .delete('/api/v1/sessions/1/rm-r')
        .set('Authorization', auth('rm-o'));
      expect({ status: res.status, body: res.body as unknown }).toEqual({
        status: 200,
        body: { removed: 1 },
      });
      // Then it leaves the list, and its messages count as read
      await waitFor(async () => talkers(await list('rm-o')).length === 1, 'R hidden');
      expect(talkers(await list('rm-o'))).toEqual(['rm-k']);
      expect(talkers(await list('rm-o', { filter: 'all' }))).toEqual(['rm-k']);
      expect((await unread('rm-o')).unfollow_unread).toBe(1);
      // When R writes again, Then the session is back with only the new message unread
      await send('rm-r', 'rm-o', 'back');
      await waitFor(async () => talkers(await list('rm-o')).length === 2, 'R back');
      const back = (await list('rm-o')).session_list[0];
      expect(back).toMatchObject({ talker_id: 'rm-r', unread_count: 1, max_seqno: 3 });
    });

    it('removes several named sessions, or every unfollowed one (batch-remove)', async () => {
      // Given O follows F, and F, S1, S2, S3 wrote to O
      await follow('br-o', 'br-f');
      for (const from of ['br-f', 'br-s1', 'br-s2', 'br-s3']) await send(from, 'br-o');
      await waitFor(async () => (await list('br-o')).session_list.length === 4, 'four sessions');
      // When O removes S1 and F by name
      const named = await post('br-o', '/api/v1/sessions/batch-remove', {
        sessions: [
          { session_type: 1, talker_id: 'br-s1' },
          { session_type: 1, talker_id: 'br-f' },
        ],
      });
      expect({ status: named.status, body: named.body as unknown }).toEqual({
        status: 200,
        body: { removed: 2 },
      });
      await waitFor(async () => (await list('br-o')).session_list.length === 2, 'two left');
      expect(talkers(await list('br-o')).sort()).toEqual(['br-s2', 'br-s3']);
      // And a list naming a session never chatted in is refused whole
      await rejects(
        post('br-o', '/api/v1/sessions/batch-remove', {
          sessions: [
            { session_type: 1, talker_id: 'br-s2' },
            { session_type: 1, talker_id: 'br-never' },
          ],
        }),
        404,
        1000004,
      );
      // When F writes again and O removes without naming sessions
      await send('br-f', 'br-o');
      await waitFor(async () => (await list('br-o')).session_list.length === 3, 'F back');
      const all = await post('br-o', '/api/v1/sessions/batch-remove', {});
      expect(all.body).toEqual({ removed: 2 });
      // Then every session with a user not followed is gone, and F's stays
      await waitFor(async () => (await list('br-o')).session_list.length === 1, 'only F');
      expect(talkers(await list('br-o'))).toEqual(['br-f']);
    });
  });

  describe('session details', () => {
    it('answers 1000004 for a session never chatted in', async () => {
      await user('det-a');
      await user('det-b');
      await rejects(get('det-a', '/api/v1/sessions/1/det-b'), 404, 1000004);
      await rejects(get('det-a', '/api/v1/sessions/1/det-nobody'), 404, 1000004);
    });

    it('answers several sessions in the order asked, and their unread counts', async () => {
      // Given O follows D1 and has 2 unread from D1 and 1 from D2
      await follow('det-o', 'det-d1');
      await send('det-d1', 'det-o');
      await send('det-d1', 'det-o');
      await send('det-d2', 'det-o');
      await sessionWhen('det-o', 'det-d1', (s) => s.unread_count === 2, 'D1');
      await sessionWhen('det-o', 'det-d2', (s) => s.unread_count === 1, 'D2');
      const refs = [
        { session_type: 1, talker_id: 'det-d2' },
        { session_type: 1, talker_id: 'det-never' },
        { session_type: 1, talker_id: 'det-d1' },
      ];
      // When O asks for details of three, one never chatted in
      const details = await post('det-o', '/api/v1/sessions/details', { sessions: refs });
      // Then the two that exist come back, in the order asked
      expect(details.status).toBe(200);
      expect(details.body.session_list.map((s: Session) => s.talker_id)).toEqual([
        'det-d2',
        'det-d1',
      ]);
      expect(details.body.session_list[1]).toMatchObject({ unread_count: 2, max_seqno: 2 });
      // And their unread counts, with the total
      const specific = await post('det-o', '/api/v1/unread/specific', { sessions: refs });
      expect({ status: specific.status, body: specific.body as unknown }).toEqual({
        status: 200,
        body: { talkerUnreadCnt: { 'det-d1': 2, 'det-d2': 1 }, allUnreadCnt: 3 },
      });
    });

    it('answers at most 20 users to share with, newest first, and refuses a size of 21', async () => {
      // Given O chatted with 22 users, sh-00 first
      const others = Array.from({ length: 22 }, (_, i) => `sh-${String(i).padStart(2, '0')}`);
      for (const u of others) await send(u, 'sh-o');
      await waitFor(
        async () => (await list('sh-o', { size: 100 })).session_list.length === 22,
        '22 sessions',
      );
      // When O asks for the share list without a size, Then the 20 newest come
      const all = await get('sh-o', '/api/v1/share-list');
      expect(all.status).toBe(200);
      expect(all.body.session_list.map((s: { talker_id: string }) => s.talker_id)).toEqual(
        [...others].reverse().slice(0, 20),
      );
      expect(all.body.session_list[0]).toEqual({
        talker_id: 'sh-21',
        talker_uname: 'sh-21',
        talker_icon: '',
        official_type: -1,
      });
      expect(all.body.is_address_list_empty).toBe(0);
      // And a smaller size is honoured
      expect((await get('sh-o', '/api/v1/share-list', { size: 3 })).body.session_list).toHaveLength(
        3,
      );
      // And 21 is refused
      await rejects(get('sh-o', '/api/v1/share-list', { size: 21 }), 400, 40000);
      await rejects(get('sh-o', '/api/v1/share-list', { size: 0 }), 400, 40000);
      // And a user with no sessions has an empty address list
      await user('sh-lonely');
      const empty = await get('sh-lonely', '/api/v1/share-list');
      expect(empty.body).toEqual({ session_list: [], is_address_list_empty: 1 });
    });
  });

  describe('listing', () => {
    const OWNER = 'pg-o';
    const others = Array.from({ length: 7 }, (_, i) => `pg-${i}`);

    beforeAll(async () => {
      // O follows and has sessions with seven users, pg-6 newest; pg-2 is pinned
      for (const u of others) await follow(OWNER, u);
      for (const u of others) await send(u, OWNER);
      await waitFor(async () => (await list(OWNER)).session_list.length === 7, 'seven sessions');
      await put(OWNER, '/api/v1/sessions/1/pg-2/top', { on: true });
      await waitFor(
        async () => (await list(OWNER)).session_list[0].talker_id === 'pg-2',
        'pg-2 pinned',
      );
    });

    const expected = ['pg-2', 'pg-6', 'pg-5', 'pg-4', 'pg-3', 'pg-1', 'pg-0'];

    it('pages by cursor with no gaps or repeats', async () => {
      const seen: string[] = [];
      let cursor: string | null = null;
      let pages = 0;
      do {
        const page: Page = await list(OWNER, { size: 3, ...(cursor ? { cursor } : {}) });
        seen.push(...talkers(page));
        cursor = page.next_cursor;
        expect(page.has_more).toBe(cursor ? 1 : 0);
        pages += 1;
      } while (cursor && pages < 10);
      expect(seen).toEqual(expected);
    });

    it('pages by end_ts (the last session_ts seen) with no gaps or repeats', async () => {
      const seen: string[] = [];
      let page = await list(OWNER, { size: 3 });
      seen.push(...talkers(page));
      let pages = 1;
      while (page.has_more === 1 && pages < 10) {
        const last = page.session_list[page.session_list.length - 1];
        page = await list(OWNER, { size: 3, end_ts: last.session_ts });
        seen.push(...talkers(page));
        pages += 1;
      }
      expect(seen).toEqual(expected);
      expect(new Set(seen).size).toBe(seen.length);
    });

    it('keeps only sessions active after begin_ts', async () => {
      const all = (await list(OWNER, { filter: 'all' })).session_list;
      const ts = all.find((s) => s.talker_id === 'pg-4')?.session_ts as number;
      const newer = await list(OWNER, { begin_ts: ts });
      expect(talkers(newer).sort()).toEqual(['pg-5', 'pg-6']);
    });

    it('answers new sessions since begin_ts, newest first, pinned or not', async () => {
      // Given the newest session's time
      const all = (await list(OWNER, { filter: 'all' })).session_list;
      const since = Math.max(...all.map((s) => s.session_ts));
      expect(
        (await get(OWNER, '/api/v1/sessions/new', { begin_ts: since })).body.session_list,
      ).toEqual([]);
      // When pg-0 and a newcomer write
      await send('pg-0', OWNER);
      await send('pg-new', OWNER);
      // Then only those two are new, the newest first
      let res: request.Response | undefined;
      await waitFor(async () => {
        res = await get(OWNER, '/api/v1/sessions/new', { begin_ts: since });
        return res.body.session_list?.length === 2;
      }, 'two new sessions');
      expect(res?.body.session_list.map((s: Session) => s.talker_id)).toEqual(['pg-new', 'pg-0']);
      expect(res?.body.has_more).toBe(0);
      const limited = await get(OWNER, '/api/v1/sessions/new', { begin_ts: since, size: 1 });
      expect(limited.body).toMatchObject({ has_more: 1 });
      expect(limited.body.session_list.map((s: Session) => s.talker_id)).toEqual(['pg-new']);
    });

    it('lists users not followed apart (filter=unfollowed) and folds them out of main (unfollow_fold=1)', async () => {
      // Given FO follows FF; FF and stranger FS wrote to FO
      await follow('fo-o', 'fo-f');
      await send('fo-f', 'fo-o');
      await send('fo-s', 'fo-o');
      await waitFor(async () => (await list('fo-o')).session_list.length === 2, 'two sessions');
      expect(talkers(await list('fo-o'))).toEqual(['fo-s', 'fo-f']);
      // Then the unfollowed filter holds only the stranger
      expect(talkers(await list('fo-o', { filter: 'unfollowed' }))).toEqual(['fo-s']);
      // And folding leaves the stranger out of the main list
      expect(talkers(await list('fo-o', { unfollow_fold: 1 }))).toEqual(['fo-f']);
      expect(talkers(await list('fo-o', { filter: 'all' }))).toEqual(['fo-s', 'fo-f']);
    });
  });

  describe('intercepting strangers', () => {
    it('intercepts a stranger’s session into the dustbin, and trusting it brings it back', async () => {
      // Given O intercepts users not followed, and follows F
      await user('ic-o');
      const privacy = await put('ic-o', '/api/v1/relations/privacy', { intercept: true });
      expect(privacy.body).toEqual({ changed: true });
      await follow('ic-o', 'ic-f');
      // When stranger S and F write
      await send('ic-s', 'ic-o');
      await send('ic-f', 'ic-o');
      // Then S's session is intercepted and F's is not
      const s = await sessionWhen('ic-o', 'ic-s', (x) => x.is_intercept === 1, 'S intercepted');
      expect(s).toMatchObject({ is_trust: 0, unread_count: 1 });
      await sessionWhen('ic-o', 'ic-f', (x) => x.is_intercept === 0, 'F in main');
      // And S is in the intercepted list, not in the main list
      expect(talkers(await list('ic-o', { filter: 'intercepted' }))).toEqual(['ic-s']);
      expect(talkers(await list('ic-o'))).toEqual(['ic-f']);
      expect(talkers(await list('ic-o', { filter: 'unfollowed' }))).toEqual([]);
      // And S's message counts in dustbin_unread, not unfollow_unread
      expect(await unread('ic-o')).toMatchObject({
        dustbin_unread: 1,
        unfollow_unread: 0,
        follow_unread: 1,
      });
      // When O trusts S's session
      expect((await put('ic-o', '/api/v1/sessions/1/ic-s/trust', { on: true })).body).toEqual({
        changed: true,
      });
      // Then it is back: trusted, not intercepted, in the main list and the unfollowed count
      const trusted = await sessionWhen('ic-o', 'ic-s', (x) => x.is_trust === 1, 'S trusted');
      expect(trusted.is_intercept).toBe(0);
      expect(talkers(await list('ic-o')).sort()).toEqual(['ic-f', 'ic-s']);
      expect(talkers(await list('ic-o', { filter: 'intercepted' }))).toEqual([]);
      expect(await unread('ic-o')).toMatchObject({ dustbin_unread: 0, unfollow_unread: 1 });
    });
  });

  describe('bad input', () => {
    it('rejects malformed session commands with 40000 and writes nothing', async () => {
      await send('bad-t', 'bad-o');
      await sessionWhen('bad-o', 'bad-t', () => true, 'the session');
      const ack = (body: object) => put('bad-o', '/api/v1/sessions/1/bad-t/ack', body);
      await rejects(ack({}), 400, 40000);
      await rejects(ack({ ack_seqno: -1 }), 400, 40000);
      await rejects(ack({ ack_seqno: 1.5 }), 400, 40000);
      await rejects(ack({ ack_seqno: 1, extra: 1 }), 400, 40000);
      await rejects(put('bad-o', '/api/v1/sessions/3/bad-t/ack', { ack_seqno: 1 }), 400, 40000);
      await rejects(put('bad-o', '/api/v1/sessions/1/bad~t/ack', { ack_seqno: 1 }), 400, 40000);
      for (const flag of ['top', 'dnd', 'trust']) {
        await rejects(put('bad-o', `/api/v1/sessions/1/bad-t/${flag}`, {}), 400, 40000);
        await rejects(put('bad-o', `/api/v1/sessions/1/bad-t/${flag}`, { on: 1 }), 400, 40000);
        await rejects(put('bad-o', `/api/v1/sessions/1/bad-t/${flag}`, { on: 'true' }), 400, 40000);
      }
      await rejects(post('bad-o', '/api/v1/sessions/batch-remove', { sessions: [] }), 400, 40000);
      await rejects(
        post('bad-o', '/api/v1/sessions/batch-remove', { sessions: [{ talker_id: 'bad-t' }] }),
        400,
        40000,
      );
      await rejects(
        post('bad-o', '/api/v1/sessions/batch-remove', { sessions: 'bad-t' }),
        400,
        40000,
      );
    });

    it('rejects ack_seqno of the wrong JSON type with 40000', async () => {
      await send('badj-t', 'badj-o');
      await sessionWhen('badj-o', 'badj-t', () => true, 'the session');
      // A string, a boolean or an array is not a number, whatever it would convert to
      const outcomes = [];
      for (const ackSeqno of ['1', true, [1], ' ']) {
        const before = await eventCount();
        const res = await put('badj-o', '/api/v1/sessions/1/badj-t/ack', { ack_seqno: ackSeqno });
        outcomes.push({
          ack_seqno: ackSeqno,
          status: res.status,
          code: res.body.code as unknown,
          wrote: (await eventCount()) - before,
        });
      }
      expect(outcomes).toEqual(
        ['1', true, [1], ' '].map((v) => ({ ack_seqno: v, status: 400, code: 40000, wrote: 0 })),
      );
    });

    it('rejects session_type of the wrong JSON type in bodies with 40000', async () => {
      await send('badk-t', 'badk-o');
      await sessionWhen('badk-o', 'badk-t', () => true, 'the session');
      const refs = [{ session_type: '1', talker_id: 'badk-t' }];
      await rejects(post('badk-o', '/api/v1/sessions/details', { sessions: refs }), 400, 40000);
      await rejects(post('badk-o', '/api/v1/unread/specific', { sessions: refs }), 400, 40000);
      await rejects(
        post('badk-o', '/api/v1/sessions/batch-remove', { sessions: refs }),
        400,
        40000,
      );
    });

    it('rejects malformed session queries with 40000', async () => {
      await user('badq-o');
      await rejects(get('badq-o', '/api/v1/sessions', { filter: 'bogus' }), 400, 40000);
      await rejects(get('badq-o', '/api/v1/sessions', { unfollow_fold: 2 }), 400, 40000);
      await rejects(get('badq-o', '/api/v1/sessions', { begin_ts: -1 }), 400, 40000);
      await rejects(get('badq-o', '/api/v1/sessions', { end_ts: 'x' }), 400, 40000);
      const first = await list('badq-o');
      expect(first.next_cursor).toBeNull();
      const cursor = Buffer.from(JSON.stringify([0, 1, 1, 'x'])).toString('base64url');
      await rejects(get('badq-o', '/api/v1/sessions', { cursor, end_ts: 5 }), 400, 40000);
      await rejects(get('badq-o', '/api/v1/sessions/new', { begin_ts: -1 }), 400, 40000);
      await rejects(get('badq-o', '/api/v1/sessions/new', { size: 101 }), 400, 40000);
      await rejects(get('badq-o', '/api/v1/sessions/0/x'), 400, 40000);
      await rejects(get('badq-o', '/api/v1/unread', { unread_type: 3 }), 400, 40000);
      await rejects(post('badq-o', '/api/v1/sessions/details', {}), 400, 40000);
      await rejects(post('badq-o', '/api/v1/sessions/details', { sessions: [] }), 400, 40000);
      await rejects(
        post('badq-o', '/api/v1/sessions/details', {
          sessions: Array.from({ length: 101 }, (_, i) => ({
            session_type: 1,
            talker_id: `x${i}`,
          })),
        }),
        400,
        40000,
      );
      await rejects(
        post('badq-o', '/api/v1/unread/specific', {
          sessions: [{ session_type: 9, talker_id: 'x' }],
        }),
        400,
        40000,
      );
    });
  });
});
