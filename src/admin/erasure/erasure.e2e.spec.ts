import { randomUUID } from 'node:crypto';
import type { Pool } from 'pg';
import request from 'supertest';
import { allProjectors } from '../../../projections';
import { ProjectionRunner } from '../../../projections/projection-runner';
import { startTestApp, TestApp } from '../../../test/support/app';
import { createTestPool } from '../../../test/support/database';
import { caughtUp, dumpReadModels, resetAll, testKeyRing } from '../../../test/support/messaging';
import { waitFor } from '../../../test/support/wait-for';
import { USER_ERASED } from '../../accounts/accounts.events';
import { KeyRing } from '../../crypto/key-ring';
import { EventStore } from '../../event-store/event-store.port';
import { ADMIN_OPERATION_RECORDED } from '../admin-actions';
import { runAdmin } from '../admin.cli';
import { EXIT } from '../admin-context';
import type { StreamPage } from '../streams/stream-inspection';
import type { EraseUserResult } from './erase-user';

interface Message {
  sender_uid: string;
  msg_seqno: number;
  msg_key: string;
  content: string;
  msg_status: number;
  erased?: true;
}

const text = (t: string) => JSON.stringify({ content: t });

/**
 * Erasure end to end (issue 7, item 8): alice and bob talk in private and in a group, alice also
 * applies to carol's group; an administrator erases alice. Her content is then gone from the read
 * models, the log (it no longer opens), an export and a rebuild; bob's messages and every id,
 * seqno and time stay; alice can no longer send.
 */
describe('erasing a user', () => {
  let t: TestApp;
  let pool: Pool;
  const tokens = new Map<string, string>();
  const ALICE_TEXTS = [
    'alice private secret one',
    'alice private secret two',
    'alice group secret',
  ];
  const APPLICATION = 'alice application words';
  const DAVE_TEXT = 'dave private secret';

  const auth = (uid: string) => `Bearer ${tokens.get(uid)}`;
  const get = (uid: string, path: string) =>
    request(t.url).get(path).set('Authorization', auth(uid));
  const post = (uid: string, path: string, body: object = {}) =>
    request(t.url).post(path).set('Authorization', auth(uid)).send(body);
  const send = (from: string, to: string, receiverType: 1 | 2, words: string) =>
    post(from, '/api/v1/messages', {
      receiver_id: to,
      receiver_type: receiverType,
      msg_type: 1,
      content: text(words),
      dev_id: randomUUID(),
    });
  const erase = (uid: string) =>
    request(t.url).post(`/admin/v1/users/${uid}/erase`).set('X-Admin-Key', t.adminKey);
  const history = async (uid: string, type: 1 | 2, talker: string) => {
    const res = await get(uid, `/api/v1/sessions/${type}/${talker}/messages`);
    expect(res.status).toBe(200);
    return (res.body as { messages: Message[] }).messages;
  };
  const ok = async (req: request.Test, status = 200) => {
    const res = await req;
    expect({ status: res.status, body: res.body as unknown }).toMatchObject({ status });
    return res;
  };

  let before: { private: Message[]; group: Message[] };
  /** A time-travel snapshot of the read models taken before the erasures. */
  let snapshotId: string;
  const asOf = (uid: string, path: string) =>
    get(uid, `${path}${path.includes('?') ? '&' : '?'}as_of=${snapshotId}`).set(
      'X-Admin-Key',
      t.adminKey,
    );

  beforeAll(async () => {
    t = await startTestApp();
    pool = createTestPool(t.db.url, 4);
    for (const uid of ['alice', 'bob', 'carol', 'dave']) tokens.set(uid, await t.user(uid));
    await t.follow(tokens.get('alice')!, 'bob');
    await t.follow(tokens.get('bob')!, 'alice');
    await t.follow(tokens.get('bob')!, 'dave');

    // Given alice and bob talking in private, the last word alice's
    await ok(send('alice', 'bob', 1, ALICE_TEXTS[0]), 201);
    await ok(send('bob', 'alice', 1, 'bob private reply'), 201);
    await ok(send('alice', 'bob', 1, ALICE_TEXTS[1]), 201);
    // And in alice's group
    await ok(
      post('alice', '/api/v1/groups', { group_id: 'tea', name: 'tea', members: [{ uid: 'bob' }] }),
      201,
    );
    await ok(send('alice', 'tea', 2, ALICE_TEXTS[2]), 201);
    await ok(send('bob', 'tea', 2, 'bob group hello'), 201);
    // And alice applying to carol's group, which needs approval
    await ok(post('carol', '/api/v1/groups', { group_id: 'club', name: 'club' }), 201);
    await ok(post('alice', '/api/v1/groups/club/join', { req_message: APPLICATION }));
    // And dave, whom an operator will erase with the CLI, from another process's point of view
    await ok(send('dave', 'bob', 1, DAVE_TEXT), 201);

    await waitFor(
      async () =>
        (await history('bob', 1, 'alice')).length === 3 &&
        (await history('bob', 2, 'tea')).length === 2,
      'the messages in history',
    );
    before = { private: await history('bob', 1, 'alice'), group: await history('bob', 2, 'tea') };

    // And an administrator's time-travel snapshot of this moment: a copy of the read models that
    // no projection follows, showing alice's words
    const head = (await t.app.get(EventStore).headPosition())!;
    const built = await ok(
      request(t.url)
        .post('/admin/v1/time-travel')
        .set('X-Admin-Key', t.adminKey)
        .send({ position: `${head.commit}/${head.prepare}` }),
      202,
    );
    snapshotId = (built.body as { id: string }).id;
    await waitFor(
      async () =>
        (
          (
            await request(t.url)
              .get(`/admin/v1/time-travel/${snapshotId}`)
              .set('X-Admin-Key', t.adminKey)
          ).body as { state: string }
        ).state === 'ready',
      'the snapshot',
      60_000,
    );
    const then = await ok(asOf('bob', '/api/v1/sessions/1/alice/messages'));
    expect(JSON.stringify(then.body)).toContain(ALICE_TEXTS[0]);
  });
  afterAll(async () => {
    await pool.end();
    await t.close();
  });

  it('is for administrators only: a user token is refused, and no key is refused', async () => {
    for (const [method, path] of [
      ['post', '/admin/v1/users/alice/erase'],
      ['get', '/admin/v1/streams/user-alice/events'],
      ['get', '/admin/v1/streams?prefix=user-'],
      ['get', '/admin/v1/export'],
    ] as const) {
      await t.rejects(request(t.url)[method](path).set('Authorization', auth('bob')), 403, 40300);
      await t.rejects(request(t.url)[method](path), 401, 40110);
    }
  });

  describe('stream inspection over REST', () => {
    const admin = (path: string, query: Record<string, unknown> = {}) =>
      request(t.url).get(path).query(query).set('X-Admin-Key', t.adminKey);

    it('lists streams by prefix, paged', async () => {
      const first = await ok(admin('/admin/v1/streams', { prefix: 'user-', limit: 2 }));
      expect(first.body).toEqual({
        streams: [
          { stream_id: 'user-alice', last_revision: expect.any(Number) as number },
          { stream_id: 'user-bob', last_revision: expect.any(Number) as number },
        ],
        next_after: 'user-bob',
      });
      const rest = await ok(admin('/admin/v1/streams', { prefix: 'user-', after: 'user-bob' }));
      expect(
        (rest.body as { streams: { stream_id: string }[] }).streams.map((s) => s.stream_id),
      ).toEqual(['user-carol', 'user-dave']);
    });

    it('pages a stream by revision, and names what is wrong', async () => {
      const page = (
        await ok(
          admin('/admin/v1/streams/conversation-g_tea/events', {
            direction: 'backwards',
            limit: 1,
          }),
        )
      ).body as StreamPage;
      expect(page).toMatchObject({
        last_revision: 1,
        next_from_revision: 0,
        direction: 'backwards',
      });
      expect(page.events[0]).toMatchObject({ revision: 1, type: 'MessageSent' });
      const unknown = await admin('/admin/v1/streams/conversation-none~such/events');
      expect({ status: unknown.status, code: (unknown.body as { code: number }).code }).toEqual({
        status: 404,
        code: 40402,
      });
      for (const query of [
        { limit: 0 },
        { limit: 1001 },
        { from_revision: -1 },
        { direction: 'up' },
      ]) {
        const bad = await admin('/admin/v1/streams/user-bob/events', query);
        expect({ status: bad.status, code: (bad.body as { code: number }).code }).toEqual({
          status: 400,
          code: 40000,
        });
      }
    });
  });

  it('refuses an unknown user with 404, destroying no key', async () => {
    const res = await erase('nobody-here');
    expect(res.status).toBe(404);
    expect(res.body).toMatchObject({ code: 40401 });
    const { rows } = await pool.query(`SELECT 1 FROM user_keys WHERE uid = 'nobody-here'`);
    expect(rows).toEqual([]);
  });

  it('reaches the running server when made with the CLI: its key ring drops the key at once', async () => {
    // Given the server holding dave's key (it opened his message for history)
    const ring = t.app.get(KeyRing);
    const [sent] = await t.app.get(EventStore).readStream('conversation-bob~dave');
    const envelope = (sent.data as { content: string }).content;
    expect(await ring.decrypt(envelope)).toBe(text(DAVE_TEXT));

    // When an operator erases him with npm run admin -- erase-user (confirmed: without --yes
    // nothing is done)
    const cli = async (...args: string[]) => {
      let stdout = '';
      let stderr = '';
      const status = await runAdmin(['erase-user', ...args], {
        env: { DATABASE_URL: t.db.url, ADMIN_ACTOR: 'ops' },
        stdout: { write: (s: string) => (stdout += s) },
        stderr: { write: (s: string) => (stderr += s) },
        signal: new AbortController().signal,
        exitCode: 0,
      });
      return { status, stdout, stderr };
    };
    const unconfirmed = await cli('dave');
    expect(unconfirmed.status).toBe(EXIT.usage);
    expect(unconfirmed.stderr).toContain('--yes');
    expect(await ring.decrypt(envelope)).toBe(text(DAVE_TEXT));
    expect((await cli('no-such-user', '--yes')).status).toBe(EXIT.failed);
    const run = await cli('dave', '--yes');
    expect(run.status).toBe(EXIT.ok);
    expect(run.stdout).toContain('erased: dave');
    expect(run.stdout).toContain('1 copies of them');

    // Then the server's key ring no longer opens his content, and history shows it erased
    await waitFor(
      async () => (await ring.decrypt(envelope)) === null,
      'the server to drop the key',
    );
    await waitFor(
      async () => (await history('bob', 1, 'dave')).every((m) => m.erased === true),
      "dave's message redacted",
    );
  });

  describe('once alice is erased', () => {
    let erased: EraseUserResult;

    beforeAll(async () => {
      erased = (await ok(erase('alice'))).body as EraseUserResult;
    });

    it('answers with the erasure recorded on her stream, by the administrator', async () => {
      expect(erased).toMatchObject({
        uid: 'alice',
        status: 'erased',
        key_destroyed: true,
        event: { stream: 'user-alice' },
      });
      const store = t.app.get(EventStore);
      const events = await store.readStream('user-alice');
      const erasures = events.filter((e) => e.type === USER_ERASED);
      expect(erasures).toHaveLength(1);
      expect(erasures[0].metadata.actor).toEqual({ kind: 'admin', id: 'admin-key' });
      expect(erasures[0].data).toMatchObject({ uid: 'alice' });
      // And the administrator's operation is in the log too
      const all = await store.readAll({ limit: 100_000 });
      expect(
        all.some(
          (e) =>
            e.type === ADMIN_OPERATION_RECORDED &&
            (e.data as { operation: string; args: { uid?: string } }).operation === 'erase-user' &&
            (e.data as { args: { uid?: string } }).args.uid === 'alice',
        ),
      ).toBe(true);
    });

    it('is harmless to repeat: one erasure event, status already_erased', async () => {
      const again = (await ok(erase('alice'))).body as EraseUserResult;
      expect(again).toMatchObject({ status: 'already_erased', event: { id: erased.event.id } });
      const events = await t.app.get(EventStore).readStream('user-alice');
      expect(events.filter((e) => e.type === USER_ERASED)).toHaveLength(1);
    });

    it("empties her messages in bob's history, keeping bob's and every id and seqno", async () => {
      let now: Message[] = [];
      await waitFor(
        async () =>
          (now = await history('bob', 1, 'alice')).every(
            (m) => m.sender_uid !== 'alice' || m.erased === true,
          ),
        "alice's private messages redacted",
      );
      expect(now.map((m) => [m.msg_seqno, m.msg_key, m.sender_uid])).toEqual(
        before.private.map((m) => [m.msg_seqno, m.msg_key, m.sender_uid]),
      );
      for (const m of now) {
        if (m.sender_uid === 'alice') expect(m).toMatchObject({ content: '', erased: true });
        else expect(m).toEqual(before.private.find((b) => b.msg_key === m.msg_key));
      }
      let group: Message[] = [];
      await waitFor(
        async () => (group = await history('bob', 2, 'tea')).some((m) => m.erased === true),
        "alice's group message redacted",
      );
      expect(group.find((m) => m.sender_uid === 'alice')).toMatchObject({
        content: '',
        erased: true,
      });
      expect(group.find((m) => m.sender_uid === 'bob')).toEqual(
        before.group.find((m) => m.sender_uid === 'bob'),
      );
    });

    it('empties the session preview that was her message', async () => {
      await waitFor(async () => {
        const res = await get('bob', '/api/v1/sessions');
        const sessions = (res.body as { session_list: { talker_id: string; last_msg: Message }[] })
          .session_list;
        const last = sessions.find((s) => s.talker_id === 'alice')?.last_msg;
        return last?.erased === true && last.content === '';
      }, "bob's session preview redacted");
    });

    it("empties her application's words for carol", async () => {
      await waitFor(async () => {
        const res = await get('carol', '/api/v1/groups/applications/received');
        const apps = (res.body as { applications: { uid: string; req_message: string }[] })
          .applications;
        return apps.some((a) => a.uid === 'alice' && a.req_message === '');
      }, 'the application redacted');
      const notices = await get('carol', '/api/v1/groups/assistant');
      expect(JSON.stringify(notices.body)).not.toContain(APPLICATION);
    });

    it('empties what she wrote in a time-travel snapshot taken before, at once', async () => {
      // The snapshot has no projection to reach the erasure: the erasure redacted it itself
      expect(erased.copies_redacted).toBe(1);
      const history = async (uid: string, type: 1 | 2, talker: string) =>
        (
          (await ok(asOf(uid, `/api/v1/sessions/${type}/${talker}/messages`))).body as {
            messages: Message[];
          }
        ).messages;
      const then = {
        private: await history('bob', 1, 'alice'),
        group: await history('bob', 2, 'tea'),
      };
      for (const [now, was] of [
        [then.private, before.private],
        [then.group, before.group],
      ]) {
        expect(now.map((m) => [m.msg_seqno, m.msg_key, m.sender_uid])).toEqual(
          was.map((m) => [m.msg_seqno, m.msg_key, m.sender_uid]),
        );
        for (const m of now) {
          if (m.sender_uid === 'alice') expect(m).toMatchObject({ content: '', erased: true });
          else expect(m).toEqual(was.find((b) => b.msg_key === m.msg_key));
        }
      }
      const everything = JSON.stringify([
        then,
        (await ok(asOf('bob', '/api/v1/sessions'))).body,
        (await ok(asOf('carol', '/api/v1/groups/applications/received'))).body,
        (await ok(asOf('carol', '/api/v1/groups/assistant'))).body,
      ]);
      for (const words of [...ALICE_TEXTS, APPLICATION]) expect(everything).not.toContain(words);
      expect(everything).toContain('bob private reply');
    });

    it('refuses her words anywhere else with 41000: groups, applications, her profile', async () => {
      await t.rejects(
        post('alice', '/api/v1/groups', { group_id: 'another', name: 'another' }),
        410,
        41000,
      );
      await t.rejects(
        request(t.url).patch('/api/v1/groups/tea').set('Authorization', auth('alice')).send({
          introduction: 'written after the erasure',
        }),
        410,
        41000,
      );
      await t.rejects(
        post('alice', '/api/v1/groups/tea/kicks', { uids: ['bob'], reason: 'why' }),
        410,
        41000,
      );
      await t.rejects(
        post('alice', '/api/v1/groups/club/join', { req_message: 'again' }),
        410,
        41000,
      );
      await t.rejects(
        request(t.url)
          .put('/admin/v1/users/alice/profile')
          .set('X-Admin-Key', t.adminKey)
          .send({ name: 'Alice Again', face: '', official_type: -1, system_msg_type: 0 }),
        410,
        41000,
      );
      // Others still write
      await ok(
        request(t.url)
          .patch('/api/v1/groups/club')
          .set('Authorization', auth('carol'))
          .send({ introduction: 'carol still writes' }),
      );
    });

    it('refuses her sends with 41000, in private and in groups', async () => {
      await t.rejects(send('alice', 'bob', 1, 'still here?'), 410, 41000);
      await t.rejects(send('alice', 'tea', 2, 'still here?'), 410, 41000);
      // bob still sends
      await ok(send('bob', 'alice', 1, 'bob is still here'), 201);
    });

    it('leaves her content unreadable in the log: inspection shows it erased', async () => {
      const res = await ok(
        request(t.url)
          .get('/admin/v1/streams/conversation-alice~bob/events')
          .query({ limit: 3 })
          .set('X-Admin-Key', t.adminKey),
      );
      const page = res.body as StreamPage;
      const mine = page.events.filter((e) => e.metadata.actor.id === 'alice');
      expect(mine).toHaveLength(2);
      for (const e of mine) {
        expect(e.data).toMatchObject({ content: null });
        expect(e.sealed).toEqual([
          { path: 'content', owner: 'alice', opened: false, erased: true },
        ]);
      }
      const bobs = page.events.find((e) => e.metadata.actor.id === 'bob')!;
      expect(bobs.data).toMatchObject({ content: text('bob private reply') });
      expect(bobs.sealed).toEqual([{ path: 'content', owner: 'bob', opened: true }]);
      // And a node that never saw her key cannot open her envelopes either
      const ring = testKeyRing(pool);
      const raw = await t.app.get(EventStore).readStream('conversation-alice~bob', { limit: 3 });
      expect(
        await ring.decryptMany(raw.map((e) => (e.data as { content: string }).content)),
      ).toEqual([null, text('bob private reply'), null]);
    });

    it('leaves her content unreadable in an export', async () => {
      const res = await ok(request(t.url).get('/admin/v1/export').set('X-Admin-Key', t.adminKey));
      expect(res.headers['content-type']).toMatch(/^application\/x-ndjson/);
      const body = res.text;
      for (const words of [...ALICE_TEXTS, DAVE_TEXT]) expect(body).not.toContain(words);
      const lines = body
        .trimEnd()
        .split('\n')
        .map((l) => JSON.parse(l) as Record<string, unknown>);
      expect(lines[lines.length - 1]).toEqual({ summary: { events: lines.length - 2 } });
      // Her envelopes are in it, and open to nothing; bob's still open
      const sent = lines.filter((l) => l.type === 'MessageSent') as {
        metadata: { actor: { id: string } };
        data: { content: string };
      }[];
      const ring = testKeyRing(pool);
      for (const l of sent) {
        expect(KeyRing.isEnvelope(l.data.content)).toBe(true);
        const opened = await ring.decrypt(l.data.content);
        if (['alice', 'dave'].includes(l.metadata.actor.id)) expect(opened).toBeNull();
        else expect(opened).not.toBeNull();
      }
      expect(lines.some((l) => l.type === USER_ERASED)).toBe(true);
    });

    it('keeps her content out of a rebuild of every read model, which equals the live ones', async () => {
      // Given the live read models, caught up, and the app's projections stopped
      const store = t.app.get(EventStore);
      // The server's own key ring: it held the erased users' keys once
      const projectors = allProjectors(t.app.get(KeyRing));
      const names = projectors.map((p) => p.name);
      await waitFor(() => caughtUp(pool, names), 'the projections to catch up');
      await t.app.get(ProjectionRunner).stop();
      const live = await dumpReadModels(pool);

      // When every read model is rebuilt from position zero
      await resetAll(pool, projectors);
      const runner = new ProjectionRunner(store, pool, projectors);
      runner.start();
      try {
        await waitFor(() => caughtUp(pool, names), 'the rebuild to catch up', 30_000);
      } finally {
        await runner.stop();
      }

      // Then it equals the live read models, and holds nothing she wrote
      const rebuilt = await dumpReadModels(pool);
      expect(rebuilt).toEqual(live);
      const dump = JSON.stringify(rebuilt);
      for (const words of [...ALICE_TEXTS, APPLICATION, DAVE_TEXT]) {
        expect(dump).not.toContain(words);
      }
      expect(dump).toContain('bob private reply');
    });
  });
});
