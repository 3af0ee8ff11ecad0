import { randomUUID } from 'node:crypto';
import { Client } from 'pg';
import request from 'supertest';
import { awaitReplayJob, startTestApp, TestApp } from '../../../test/support/app';
import { waitFor } from '../../../test/support/wait-for';

const text = (t: string) => JSON.stringify({ content: t });

interface SessionItem {
  talker_id: string;
  unread_count: number;
  last_msg: { content: string; msg_seqno: number } | null;
}

/**
 * The replay tools over REST, on the real application: a rebuild while users keep sending and
 * reading, verify as a job, projection status, and time travel read through the same endpoints.
 */
describe('replay over HTTP', () => {
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

  const admin = {
    get: (path: string) => request(t.url).get(path).set('X-Admin-Key', t.adminKey),
    post: (path: string, body: object = {}) =>
      request(t.url).post(path).set('X-Admin-Key', t.adminKey).send(body),
    delete: (path: string) => request(t.url).delete(path).set('X-Admin-Key', t.adminKey),
  };

  const send = (token: string, to: string, words: string) =>
    request(t.url)
      .post('/api/v1/messages')
      .set('Authorization', `Bearer ${token}`)
      .send({
        receiver_id: to,
        receiver_type: 1,
        msg_type: 1,
        content: text(words),
        dev_id: randomUUID(),
      });

  const sessions = (token: string, query = '') =>
    request(t.url).get(`/api/v1/sessions${query}`).set('Authorization', `Bearer ${token}`);

  const job = (kind: 'rebuild' | 'verify', id: string, timeoutMs?: number) =>
    awaitReplayJob(t.url, t.adminKey, kind, id, timeoutMs);

  async function caughtUp(): Promise<void> {
    await waitFor(
      async () => {
        const res = await admin.get('/admin/v1/projections');
        const all = res.body.projections as { lagEvents: number }[];
        return res.status === 200 && all.every((p) => p.lagEvents === 0);
      },
      'every projection at the head',
      30_000,
      20,
    );
  }

  it('keeps serving reads and writes while every read model is rebuilt and swapped in', async () => {
    // Given users who talk to each other
    const uids = ['rb-a', 'rb-b', 'rb-c', 'rb-d'];
    const tokens = await Promise.all(uids.map((u) => t.user(u)));
    for (const [i, token] of tokens.entries()) {
      for (const other of uids.filter((_, j) => j !== i)) await t.follow(token, other);
    }
    for (let i = 0; i < 60; i++) {
      const res = await send(tokens[i % 4], uids[(i + 1) % 4], `before ${i}`);
      expect(res.status).toBe(201);
    }

    // And clients that keep sending and reading, noting every failure
    const failures: string[] = [];
    const sent: string[] = [];
    let stop = false;
    const client = async (n: number) => {
      for (let i = 0; !stop; i++) {
        const from = (n + i) % 4;
        const to = (from + 1 + (i % 3)) % 4;
        const wrote = await send(tokens[from], uids[to], `during ${n}-${i}`);
        if (wrote.status === 201) sent.push(wrote.body.msg_key as string);
        else failures.push(`send ${wrote.status} ${wrote.text}`);
        const list = await sessions(tokens[to]);
        if (list.status !== 200) failures.push(`sessions ${list.status} ${list.text}`);
        const history = await request(t.url)
          .get(`/api/v1/sessions/1/${uids[from]}/messages?size=20`)
          .set('Authorization', `Bearer ${tokens[to]}`);
        if (history.status !== 200) failures.push(`history ${history.status} ${history.text}`);
      }
    };
    const clients = [0, 1, 2].map(client);

    // When every projection is rebuilt over the admin API
    const started = await admin.post('/admin/v1/projections/rebuild', {});
    expect(started.status).toBe(202);
    expect(started.body).toMatchObject({ kind: 'rebuild', status: 'running' });
    const done = await job('rebuild', started.body.job_id as string);
    stop = true;
    await Promise.all(clients);

    // Then it completed and swapped, and no request failed meanwhile
    expect(done.error).toBeNull();
    expect(done.status).toBe('completed');
    expect(done.result).toMatchObject({ resumed: false, swap: { attempts: expect.any(Number) } });
    expect(failures).toEqual([]);
    expect(sent.length).toBeGreaterThan(10);
    // And everything sent, before and during, is in the read models once they catch up
    await caughtUp();
    const { rows } = await db.query<{ n: string }>(
      'SELECT count(*) AS n FROM rm_messages WHERE msg_key = ANY($1::bigint[])',
      [sent],
    );
    expect(Number(rows[0].n)).toBe(sent.length);
    // And a verify finds the rebuilt read models equal to another rebuild
    const check = await admin.post('/admin/v1/projections/verify', {});
    expect(check.status).toBe(202);
    const verified = await job('verify', check.body.job_id as string);
    expect(verified.status).toBe('completed');
    expect(verified.result).toMatchObject({ equal: true, differing: [] });
    // And both operations are in the audit trail of administrators
    const ops = await db.query<{ op: string; outcome: string }>(
      `SELECT data->>'operation' AS op, data->>'outcome' AS outcome FROM es_events
        WHERE type = 'AdminOperationRecorded' ORDER BY global_position`,
    );
    expect(ops.rows).toEqual(
      expect.arrayContaining([
        { op: 'rebuild', outcome: 'completed' },
        { op: 'verify', outcome: 'completed' },
      ]),
    );
  });

  it("shows a user's session list as it was at a time with ?as_of, and as it is without", async () => {
    // Given U writes to V and W, and V answers once
    const [u, v, w] = await Promise.all(['tt-u', 'tt-v', 'tt-w'].map((x) => t.user(x)));
    await t.follow(v, 'tt-u');
    await t.follow(w, 'tt-u');
    await t.follow(u, 'tt-v');
    await t.follow(u, 'tt-w');
    expect((await send(u, 'tt-v', 'morning V')).status).toBe(201);
    expect((await send(u, 'tt-w', 'morning W')).status).toBe(201);
    expect((await send(v, 'tt-u', 'hi U')).status).toBe(201);
    await caughtUp();
    const then = await sessions(u);
    // And "09:00" is noted, then more happens: V writes twice more, U writes to W again
    await new Promise((r) => setTimeout(r, 20));
    const nineOClock = new Date().toISOString();
    await new Promise((r) => setTimeout(r, 20));
    expect((await send(v, 'tt-u', 'are you there')).status).toBe(201);
    expect((await send(v, 'tt-u', 'hello?')).status).toBe(201);
    expect((await send(u, 'tt-w', 'later W')).status).toBe(201);
    await caughtUp();

    // When a snapshot of 09:00 is built
    const built = await admin.post('/admin/v1/time-travel', { at: nineOClock });
    expect(built.status).toBe(202);
    const id = built.body.id as string;
    expect(id).toMatch(/^[a-z0-9]+$/);
    await waitFor(
      async () => (await admin.get(`/admin/v1/time-travel/${id}`)).body.state === 'ready',
      'the snapshot',
      60_000,
      50,
    );

    // Then U's session list as of 09:00 (U's token and the admin key) is the earlier one
    const asOf = await sessions(u, `?as_of=${id}`).set('X-Admin-Key', t.adminKey);
    expect(asOf.status).toBe(200);
    const byTalker = (res: request.Response) =>
      Object.fromEntries(
        (res.body.session_list as SessionItem[]).map((s) => [
          s.talker_id,
          { unread: s.unread_count, last: JSON.parse(s.last_msg!.content).content as string },
        ]),
      );
    expect(byTalker(asOf)).toEqual({
      'tt-v': { unread: 1, last: 'hi U' },
      'tt-w': { unread: 0, last: 'morning W' },
    });
    expect(asOf.body).toEqual(then.body);
    // And without as_of it is the list as it is now
    expect(byTalker(await sessions(u))).toEqual({
      'tt-v': { unread: 3, last: 'hello?' },
      'tt-w': { unread: 0, last: 'later W' },
    });
    // And history reads the snapshot the same way
    const history = await request(t.url)
      .get(`/api/v1/sessions/1/tt-v/messages?size=20&as_of=${id}`)
      .set('Authorization', `Bearer ${u}`)
      .set('X-Admin-Key', t.adminKey);
    expect(history.status).toBe(200);
    expect(history.body.messages).toHaveLength(2);

    // And only an administrator may, only to read, only an existing snapshot
    await t.rejects(sessions(u, `?as_of=${id}`), 403, 40300);
    await t.rejects(
      request(t.url)
        .post(`/api/v1/messages?as_of=${id}`)
        .set('Authorization', `Bearer ${u}`)
        .set('X-Admin-Key', t.adminKey)
        .send({
          receiver_id: 'tt-v',
          receiver_type: 1,
          msg_type: 1,
          content: text('x'),
          dev_id: randomUUID(),
        }),
      400,
      40072,
    );
    await t.rejects(
      sessions(u, '?as_of=nosuchsnapshot').set('X-Admin-Key', t.adminKey),
      404,
      40470,
    );

    // And it is listed, and dropped
    const list = await admin.get('/admin/v1/time-travel');
    expect(list.body.snapshots).toEqual(
      expect.arrayContaining([expect.objectContaining({ id, state: 'ready', at: nineOClock })]),
    );
    expect((await admin.delete(`/admin/v1/time-travel/${id}`)).status).toBe(200);
    await t.rejects(admin.get(`/admin/v1/time-travel/${id}`), 404, 40470);
    await t.rejects(sessions(u, `?as_of=${id}`).set('X-Admin-Key', t.adminKey), 404, 40470);
  });

  /** Builds a snapshot up to the head of the log and waits until it is ready; its id. */
  async function snapshotAtHead(): Promise<string> {
    await caughtUp();
    const head = (await admin.get('/admin/v1/projections')).body.head as string;
    const built = await admin.post('/admin/v1/time-travel', { position: head });
    expect(built.status).toBe(202);
    const id = built.body.id as string;
    await waitFor(
      async () => (await admin.get(`/admin/v1/time-travel/${id}`)).body.state === 'ready',
      'the snapshot',
      60_000,
      50,
    );
    return id;
  }

  it('records each ?as_of read as an administrator operation naming the route, snapshot and user', async () => {
    // Given a snapshot, and U's token
    const u = await t.user('rec-u');
    const id = await snapshotAtHead();

    // When U's session list is read as of it
    const read = await sessions(u, `?as_of=${id}`).set('X-Admin-Key', t.adminKey);
    expect(read.status).toBe(200);

    // Then the read is in the log, as the admin key's, with what was read
    const { rows } = await db.query<{ data: unknown; actor: unknown }>(
      `SELECT data, metadata->'actor' AS actor FROM es_events
        WHERE type = 'AdminOperationRecorded' AND data->'args'->>'snapshot' = $1`,
      [id],
    );
    expect(rows).toEqual([
      {
        data: {
          operation: 'as-of-read',
          args: {
            snapshot: id,
            method: 'GET',
            path: '/api/v1/sessions',
            route: expect.stringContaining('sessions'),
            uid: 'rec-u',
          },
          outcome: 'completed',
        },
        actor: { kind: 'admin', id: 'admin-key' },
      },
    ]);
    expect((await admin.delete(`/admin/v1/time-travel/${id}`)).status).toBe(200);
  });

  it('refuses ?as_of on a snapshot made before a migration of the read models, listing it as stale', async () => {
    // Given a snapshot that reads fine
    const u = await t.user('st-u');
    const id = await snapshotAtHead();
    const asOf = () => sessions(u, `?as_of=${id}`).set('X-Admin-Key', t.adminKey);
    expect((await asOf()).status).toBe(200);

    // When a migration changes a read model's table
    await db.query('ALTER TABLE rm_user_settings ADD COLUMN tt_probe integer');
    try {
      // Then, once the node has seen it (its fingerprint is cached a few seconds), reads of the
      // snapshot are refused with a stable code, not a 500, and not recorded
      await waitFor(async () => (await asOf()).status !== 200, 'the migration seen', 15_000, 100);
      const refused = await t.rejects(asOf(), 409, 40972);
      expect(refused.body.message).toMatch(/build a new one/);
      // And the snapshot is listed as stale
      expect((await admin.get(`/admin/v1/time-travel/${id}`)).body.state).toBe('stale');
      expect((await admin.get('/admin/v1/time-travel')).body.snapshots).toEqual(
        expect.arrayContaining([expect.objectContaining({ id, state: 'stale' })]),
      );
    } finally {
      await db.query('ALTER TABLE rm_user_settings DROP COLUMN tt_probe');
    }
    // And it can still be dropped
    expect((await admin.delete(`/admin/v1/time-travel/${id}`)).status).toBe(200);
  });

  /**
   * V's message to U, a snapshot of that moment, and U's answer after it; the snapshot's id and a
   * read of U's history with V as of it, once that read answers (a node sees the live tables'
   * definitions within 3 s, and a test before may have changed one).
   */
  async function snapshotBetweenMessages(
    prefix: string,
  ): Promise<{ id: string; history: () => request.Test }> {
    const u = await t.user(`${prefix}-u`);
    const v = await t.user(`${prefix}-v`);
    expect((await send(v, `${prefix}-u`, 'before the snapshot')).status).toBe(201);
    const id = await snapshotAtHead();
    expect((await send(u, `${prefix}-v`, 'after the snapshot')).status).toBe(201);
    await caughtUp();
    const history = () =>
      request(t.url)
        .get(`/api/v1/sessions/1/${prefix}-v/messages?size=20&as_of=${id}`)
        .set('Authorization', `Bearer ${u}`)
        .set('X-Admin-Key', t.adminKey);
    await waitFor(async () => (await history()).status === 200, 'the snapshot read', 10_000, 100);
    return { id, history };
  }

  it('answers 404 to a read of a snapshot dropped while it reads, never the live read models', async () => {
    // Given V's message to U, a snapshot of that moment, and U's answer
    const { id, history } = await snapshotBetweenMessages('dr');
    expect((await history()).body.messages).toHaveLength(1);

    // When a read of U's history as of it waits for the snapshot's messages table
    await db.query('BEGIN');
    let reading: Promise<request.Response> | undefined;
    try {
      await db.query(`LOCK TABLE asof_${id}.rm_messages IN ACCESS EXCLUSIVE MODE`);
      reading = history().then((res) => res);
      await waitFor(
        async () =>
          (
            await db.query(
              `SELECT 1 FROM pg_stat_activity
                WHERE wait_event_type = 'Lock' AND pid <> pg_backend_pid()`,
            )
          ).rowCount === 1,
        'the read waiting for the snapshot',
        10_000,
        20,
      );
      // And the snapshot is dropped meanwhile (the read then finds the live table by its name)
      await db.query(`DROP SCHEMA asof_${id} CASCADE`);
    } finally {
      await db.query('COMMIT');
    }

    // Then the read is told the snapshot is gone, rather than answered from the live history
    const res = await reading;
    expect(res.body).not.toHaveProperty('messages');
    expect([res.status, res.body.code]).toEqual([404, 40470]);
  });

  it('answers 404 to reads of a snapshot whose drop is under way, its tables going one by one', async () => {
    // Given V's message to U, a snapshot of that moment, and U's answer
    const { id, history } = await snapshotBetweenMessages('dw');

    // When the snapshot is dropped while a reader holds one of its last tables, so that the drop
    // has taken its messages and waits there
    await db.query('BEGIN');
    let dropping: Promise<request.Response> | undefined;
    try {
      await db.query(`SELECT 1 FROM asof_${id}.rm_users LIMIT 1`);
      dropping = admin.delete(`/admin/v1/time-travel/${id}`).then((res) => res);
      await waitFor(
        async () =>
          (
            await db.query(
              `SELECT 1 FROM pg_locks
                WHERE NOT granted AND mode = 'AccessExclusiveLock'
                  AND relation = 'asof_${id}.rm_users'::regclass`,
            )
          ).rowCount === 1,
        'the drop to wait for the reader',
        10_000,
        20,
      );
      // Then a read of it meanwhile is told it is gone, rather than answered from the live
      // messages table its name now finds
      const res = await history();
      expect(res.body).not.toHaveProperty('messages');
      expect([res.status, res.body.code]).toEqual([404, 40470]);
    } finally {
      await db.query('COMMIT');
    }
    // And the drop then ends
    expect((await dropping).status).toBe(200);
    await t.rejects(admin.get(`/admin/v1/time-travel/${id}`), 404, 40470);
  });

  it('answers a snapshot id only once the snapshot exists: building, then ready', async () => {
    // Given the checkpoints table held, so that a build cannot create its copy of it yet (the
    // live projections wait meanwhile)
    const u = await t.user('bd-u');
    await caughtUp();
    const head = (await admin.get('/admin/v1/projections')).body.head as string;
    const blocker = new Client({ connectionString: t.db.url });
    await blocker.connect();
    let posting: Promise<request.Response> | undefined;
    try {
      await blocker.query('BEGIN');
      await blocker.query('LOCK TABLE projection_checkpoints IN ACCESS EXCLUSIVE MODE');

      // When a snapshot is asked for
      posting = admin.post('/admin/v1/time-travel', { position: head }).then((r) => r);
      await waitFor(
        async () => {
          const { rows } = await db.query<{ n: number }>(
            `SELECT count(*)::int AS n FROM pg_stat_activity
              WHERE datname = current_database() AND wait_event_type = 'Lock'
                AND query ILIKE 'CREATE TABLE%'`,
          );
          return rows[0].n > 0;
        },
        'the build waiting to copy the table',
        10_000,
        20,
      );
      // Then an id answered while its schema cannot exist yet would be unknown to every reader
      const early = await Promise.race([
        posting,
        new Promise<null>((resolve) => setTimeout(() => resolve(null), 300)),
      ]);
      if (early) {
        const got = await admin.get(`/admin/v1/time-travel/${early.body.id as string}`);
        expect({ status: got.status, code: got.body.code }).toEqual({
          status: 200,
          code: undefined,
        });
      }
    } finally {
      await blocker.query('ROLLBACK');
      await blocker.end();
    }

    // And once answered, the snapshot is known at once: building (or already ready)
    const built = await posting;
    expect(built.status).toBe(202);
    const id = built.body.id as string;
    const [got, read] = await Promise.all([
      admin.get(`/admin/v1/time-travel/${id}`),
      sessions(u, `?as_of=${id}`).set('X-Admin-Key', t.adminKey),
    ]);
    expect(got.status).toBe(200);
    expect(['building', 'ready']).toContain(got.body.state);
    expect([
      [409, 40971],
      [200, undefined],
    ]).toContainEqual([read.status, read.body.code]);
    await waitFor(
      async () => (await admin.get(`/admin/v1/time-travel/${id}`)).body.state === 'ready',
      'the snapshot',
      60_000,
      50,
    );
    expect((await admin.delete(`/admin/v1/time-travel/${id}`)).status).toBe(200);
  });

  it('reports each projection: checkpoint, lag in events and seconds, events/s', async () => {
    await caughtUp();
    const res = await admin.get('/admin/v1/projections');
    expect(res.status).toBe(200);
    const names = (res.body.projections as { name: string }[]).map((p) => p.name);
    expect(names).toEqual(expect.arrayContaining(['users', 'messages', 'sessions', 'audit']));
    for (const p of res.body.projections) {
      expect(p).toMatchObject({
        store: 'postgres',
        checkpoint: expect.stringMatching(/^\d+\/\d+$/),
        lagEvents: 0,
        lagSeconds: 0,
        eventsPerSecond: expect.any(Number),
        lastError: null,
      });
      expect(p.eventsApplied).toBeGreaterThan(0);
    }
    expect(res.body.head).toMatch(/^\d+\/\d+$/);
  });

  it('refuses bad input with clear codes, writing nothing', async () => {
    const rejected = await t.rejects(
      admin.post('/admin/v1/projections/rebuild', { projections: ['messages', 'nope'] }),
      400,
      40070,
    );
    expect(rejected.body.message).toMatch(/unknown projection: nope/);
    await t.rejects(
      admin.post('/admin/v1/projections/verify', { projections: 'messages' }),
      400,
      40000,
    );
    await t.rejects(admin.get(`/admin/v1/projections/rebuild/${randomUUID()}`), 404, 40471);
    await t.rejects(admin.get('/admin/v1/projections/verify/not-a-uuid'), 400, 40000);
    await t.rejects(
      admin.post('/admin/v1/time-travel', { at: new Date().toISOString(), position: '1/1' }),
      400,
      40073,
    );
    await t.rejects(admin.post('/admin/v1/time-travel', {}), 400, 40073);
    await t.rejects(
      admin.post('/admin/v1/time-travel', { position: '999999999/999999999' }),
      400,
      40073,
    );
    await t.rejects(
      admin.post('/admin/v1/time-travel', { at: new Date(Date.now() + 3_600_000).toISOString() }),
      400,
      40073,
    );
    await t.rejects(admin.post('/admin/v1/time-travel', { at: 'yesterday' }), 400, 40000);
    await t.rejects(admin.delete('/admin/v1/time-travel/nosuch'), 404, 40470);
    const user = await t.user('rb-x');
    await t.rejects(
      request(t.url).get('/admin/v1/projections').set('Authorization', `Bearer ${user}`),
      403,
      40300,
    );
  });

  it('refuses a time-travel time without its zone (40000), as the audit does', async () => {
    // A bare time would be the server's local time, which the caller cannot see
    const bare = await t.rejects(
      admin.post('/admin/v1/time-travel', { at: '2025-12-09T09:00:00' }),
      400,
      40000,
    );
    expect(bare.body.message).toMatch(/with a zone/);
    // One with an offset is read as such (here: in the future)
    await t.rejects(
      admin.post('/admin/v1/time-travel', { at: '2999-01-01T08:00:00+08:00' }),
      400,
      40073,
    );
  });

  it('refuses a time-travel time before the first event of the log (40073)', async () => {
    const early = await t.rejects(
      admin.post('/admin/v1/time-travel', { at: '2000-01-01T00:00:00Z' }),
      400,
      40073,
    );
    expect(early.body.message).toMatch(/before the first event/);
  });

  it('refuses ?as_of on the live feed /notify (400, 40074)', async () => {
    const u = await t.user('rb-feed');
    const refused = await t.rejects(
      request(t.url)
        .get('/notify?protoc=poll&timeout_ms=1&as_of=nosuchsnapshot')
        .set('Authorization', `Bearer ${u}`)
        .set('X-Admin-Key', t.adminKey),
      400,
      40074,
    );
    expect(refused.body.message).toMatch(/live feed/);
  });
});
