import { randomBytes, randomUUID } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Pool } from 'pg';
import request from 'supertest';
import { ProjectionRunner } from '../../../projections/projection-runner';
import { startTestApp, TestApp } from '../../../test/support/app';
import { createTestDatabase, createTestPool, TestDatabase } from '../../../test/support/database';
import { EsdbTestServer, startEsdbTestServer } from '../../../test/support/esdb-test-server';
import { caughtUp, dumpReadModels, testProjectors } from '../../../test/support/messaging';
import { TEST_MASTER_KEY } from '../../../test/support/test-keys';
import { waitFor } from '../../../test/support/wait-for';
import { KeyRing } from '../../crypto/key-ring';
import type { EventStore } from '../../event-store/event-store.port';
import { EventStoreDbEventStore } from '../../event-store/eventstoredb/eventstoredb-event-store';
import { PostgresEventStore } from '../../event-store/postgres/postgres-event-store';
import { ADMIN_OPERATION_RECORDED } from '../admin-actions';
import { runAdmin } from '../admin.cli';
import { AdminContext, EXIT } from '../admin-context';
import type { ImportCommandResult } from './import.command';

interface Run {
  readonly status: number;
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs `npm run admin -- <args>` in process with `env`. */
async function admin(args: string[], env: NodeJS.ProcessEnv): Promise<Run> {
  let stdout = '';
  let stderr = '';
  const context: AdminContext = {
    env: { ADMIN_ACTOR: 'ops', ...env },
    stdout: { write: (text: string) => (stdout += text) },
    stderr: { write: (text: string) => (stderr += text) },
    signal: new AbortController().signal,
    exitCode: 0,
  };
  const status = await runAdmin(args, context);
  return { status, stdout, stderr };
}

type Line = Record<string, unknown>;
const parse = (file: string): Line[] =>
  readFileSync(file, 'utf8')
    .trimEnd()
    .split('\n')
    .map((l) => JSON.parse(l) as Line);
const events = (lines: Line[]) => lines.filter((l) => 'id' in l);
/** An event line without what differs between two stores' copies of one log. */
const portable = (l: Line, keepTime: boolean) => {
  const { position: _position, created_at: createdAt, ...rest } = l;
  return keepTime ? { ...rest, created_at: createdAt } : rest;
};

/**
 * Export and import end to end (issue 7, item 7): a log written through the API goes out as
 * NDJSON, into a fresh PostgreSQL log and into EventStoreDB (the gRPC test server); exported
 * again it gives the same lines, and read models rebuilt from the imported log equal the
 * original's.
 */
describe('npm run admin -- export / import', () => {
  let t: TestApp;
  let sourcePool: Pool;
  let dir: string;
  let exported: string;
  const tokens = new Map<string, string>();

  const send = (from: string, to: string, receiverType: 1 | 2, content: string, msgType = 1) =>
    request(t.url)
      .post('/api/v1/messages')
      .set('Authorization', `Bearer ${tokens.get(from)}`)
      .send({
        receiver_id: to,
        receiver_type: receiverType,
        msg_type: msgType,
        content,
        dev_id: randomUUID(),
      });
  const sourceEnv = () => ({ DATABASE_URL: t.db.url });

  /**
   * user_keys of the source, copied as an operator would (pg_dump -t user_keys). The docs say to
   * copy before importing; these tests copy after, which is the same while the log erases no one
   * (the import then writes no destroyed key to collide with).
   */
  async function copyKeys(to: Pool): Promise<void> {
    const { rows } = await sourcePool.query<{
      uid: string;
      wrapped_key: Buffer | null;
      created_at: Date;
      destroyed_at: Date | null;
    }>('SELECT uid, wrapped_key, created_at, destroyed_at FROM user_keys');
    for (const r of rows) {
      await to.query(
        'INSERT INTO user_keys (uid, wrapped_key, created_at, destroyed_at) VALUES ($1, $2, $3, $4)',
        [r.uid, r.wrapped_key, r.created_at, r.destroyed_at],
      );
    }
  }

  /** The read models built from `store` into `pool` from scratch, every table but the audit's. */
  async function rebuild(store: EventStore, pool: Pool) {
    const projectors = testProjectors(pool);
    const runner = new ProjectionRunner(store, pool, projectors);
    runner.start();
    try {
      await waitFor(
        async () => {
          const head = await store.headPosition();
          const { rows } = await pool.query<{ c: string; p: string }>(
            `SELECT min(commit_position)::text AS c, min(prepare_position)::text AS p
               FROM projection_checkpoints`,
          );
          return (
            head !== null &&
            rows[0].c === head.commit.toString() &&
            runner
              .status()
              .every(
                (s) => s.position.commit === head.commit && s.position.prepare === head.prepare,
              )
          );
        },
        'the rebuild to reach the head',
        30_000,
      );
    } finally {
      await runner.stop();
    }
    return withoutAudit(await dumpReadModels(pool));
  }
  /**
   * The audit index records positions and commit times, which differ from store to store (and
   * each log holds its own export or import record): it is compared by the audit's own tests.
   */
  const withoutAudit = (dump: Record<string, unknown[]>) => {
    const { rm_audit: _audit, rm_audit_hours: _hours, ...rest } = dump;
    return rest;
  };

  beforeAll(async () => {
    t = await startTestApp();
    sourcePool = createTestPool(t.db.url, 4);
    dir = mkdtempSync(join(tmpdir(), 'im-export-'));
    exported = join(dir, 'events.ndjson');
    for (const uid of ['ann', 'ben', 'cat']) tokens.set(uid, await t.user(uid));
    await t.follow(tokens.get('ben')!, 'ann');
    await t.follow(tokens.get('ann')!, 'ben');
    // Given a log of private and group messages, a recall, a group with an application
    for (let i = 0; i < 5; i++) {
      expect(
        (
          await send(
            i % 2 ? 'ben' : 'ann',
            i % 2 ? 'ann' : 'ben',
            1,
            JSON.stringify({ content: `hello ${i}` }),
          )
        ).status,
      ).toBe(201);
    }
    const sent = await send('ann', 'ben', 1, JSON.stringify({ content: 'oops' }));
    expect(
      (await send('ann', 'ben', 1, (sent.body as { msg_key: string }).msg_key, 5)).status,
    ).toBe(201);
    const auth = (uid: string) => `Bearer ${tokens.get(uid)}`;
    expect(
      (
        await request(t.url)
          .post('/api/v1/groups')
          .set('Authorization', auth('ann'))
          .send({ group_id: 'book', name: 'book club', members: [{ uid: 'ben' }] })
      ).status,
    ).toBe(201);
    await send('ben', 'book', 2, JSON.stringify({ content: 'chapter one' }));
    await request(t.url)
      .post('/api/v1/groups/book/join')
      .set('Authorization', auth('cat'))
      .send({ req_message: 'may I?' });
    const names = testProjectors(sourcePool).map((p) => p.name);
    await waitFor(() => caughtUp(sourcePool, names), 'the source read models');
  });
  afterAll(async () => {
    rmSync(dir, { recursive: true, force: true });
    await sourcePool.end();
    await t.close();
  });

  describe('export', () => {
    beforeAll(async () => {
      const run = await admin(['export', '--output', exported, '--batch-size', '7'], sourceEnv());
      expect(run).toMatchObject({ status: EXIT.ok });
    });

    it('writes a header, every event in log order with its fields, and a summary', async () => {
      const lines = parse(exported);
      const log = await new PostgresEventStore(sourcePool).readAll({ limit: 100_000 });
      const body = events(lines);
      expect(lines[0]).toMatchObject({
        format: 'im-events',
        version: 2,
        store: 'postgres',
        filter: {},
        keys: false,
      });
      expect(lines.filter((l) => 'key' in l)).toEqual([]);
      expect(lines[lines.length - 1]).toEqual({ summary: { events: body.length } });
      expect(body.map((l) => l.id)).toEqual(log.slice(0, body.length).map((e) => e.id));
      expect(body[0]).toEqual({
        id: log[0].id,
        stream: log[0].streamId,
        revision: log[0].revision,
        type: log[0].type,
        created_at: log[0].createdAt.toISOString(),
        metadata: log[0].metadata,
        data: log[0].data,
        position: {
          commit: log[0].position.commit.toString(),
          prepare: log[0].position.prepare.toString(),
        },
      });
      // Sealed content stays sealed
      const message = body.find((l) => l.type === 'MessageSent') as { data: { content: string } };
      expect(message.data.content).toMatch(/^e1\./);
      expect(readFileSync(exported, 'utf8')).not.toContain('hello 0');
      // And the export itself is recorded, after it
      expect(log.slice(body.length).map((e) => e.type)).toContain(ADMIN_OPERATION_RECORDED);
    });

    it('filters by stream and category, and by time', async () => {
      const filtered = join(dir, 'filtered.ndjson');
      const run = await admin(
        ['export', '--output', filtered, '--category', 'group', '--stream', 'conversation-ann~ben'],
        sourceEnv(),
      );
      expect(run.status).toBe(EXIT.ok);
      const streams = new Set(events(parse(filtered)).map((l) => l.stream));
      expect([...streams].sort()).toEqual(['conversation-ann~ben', 'group-book']);
      const none = await admin(
        ['export', '--output', filtered, '--since', '2999-01-01'],
        sourceEnv(),
      );
      expect(none.status).toBe(EXIT.ok);
      expect(parse(filtered).slice(1)).toEqual([{ summary: { events: 0 } }]);
    });

    it('refuses bad filters with exit 2, writing no file', async () => {
      const file = join(dir, 'bad.ndjson');
      for (const args of [
        ['--since', 'yesterday'],
        ['--since', '2026-12-02', '--until', '2026-12-01'],
        ['--category', 'no-dashes'],
      ]) {
        const run = await admin(['export', '--output', file, ...args], sourceEnv());
        expect(run.status).toBe(EXIT.usage);
      }
      expect(() => readFileSync(file)).toThrow();
      expect(() => readFileSync(`${file}.partial`)).toThrow();
    });

    it('streams the same lines over REST', async () => {
      const res = await request(t.url)
        .get('/admin/v1/export')
        .query({ category: 'group' })
        .set('X-Admin-Key', t.adminKey);
      expect(res.status).toBe(200);
      expect(res.headers['content-type']).toMatch(/^application\/x-ndjson/);
      const lines = res.text
        .trimEnd()
        .split('\n')
        .map((l) => JSON.parse(l) as Line);
      const fromFile = events(parse(exported)).filter((l) =>
        (l.stream as string).startsWith('group-'),
      );
      expect(events(lines)).toEqual(fromFile);
      for (const query of [
        { since: 'soon' },
        { category: 'a-b' },
        { since: '2026-12-02', until: '2026-12-01' },
      ]) {
        const bad = await request(t.url)
          .get('/admin/v1/export')
          .query(query)
          .set('X-Admin-Key', t.adminKey);
        expect({ status: bad.status, code: (bad.body as { code: number }).code }).toEqual({
          status: 400,
          code: 40000,
        });
      }
    });
  });

  describe('import into a fresh PostgreSQL log', () => {
    let db: TestDatabase;
    let pool: Pool;

    beforeAll(async () => {
      db = await createTestDatabase();
      pool = createTestPool(db.url, 4);
    });
    afterAll(async () => {
      await pool.end();
      await db.drop();
    });

    it('refuses a bad file before writing anything, naming the line', async () => {
      const lines = readFileSync(exported, 'utf8').split('\n');
      const first = JSON.parse(lines[1]) as { data: Record<string, unknown> };
      const withNul = JSON.stringify({ ...first, data: { ...first.data, note: 'a\u0000b' } });
      const cases: [string, string][] = [
        [lines.slice(0, 3).join('\n') + '\n{"id": nope\n', 'line 4: not valid JSON'],
        [[lines[0], withNul, ...lines.slice(2)].join('\n'), 'line 2: "data.note" holds U+0000'],
        [[lines[0], lines[2]].join('\n'), 'line 2: stream'],
        [[...lines.slice(0, 4), lines[lines.length - 2]].join('\n'), 'line 5: the summary counts'],
      ];
      for (const [content, message] of cases) {
        const file = join(dir, 'broken.ndjson');
        writeFileSync(file, content);
        const run = await admin(['import', file, '--json'], { DATABASE_URL: db.url });
        expect(run.status).toBe(EXIT.usage);
        expect(run.stderr).toContain(message);
        expect(JSON.parse(run.stdout)).toMatchObject({ status: 'invalid' });
      }
      const { rows } = await pool.query<{ n: string }>('SELECT count(*) AS n FROM es_events');
      expect(rows[0].n).toBe('0');
    });

    it('imports every event at its revision; exported again, the lines are the same', async () => {
      const run = await admin(['import', exported, '--json', '--batch-size', '5'], {
        DATABASE_URL: db.url,
      });
      expect(run.status).toBe(EXIT.ok);
      const result = JSON.parse(run.stdout) as ImportCommandResult;
      const original = events(parse(exported));
      expect(result).toMatchObject({ status: 'completed', import: { imported: original.length } });

      const again = join(dir, 'again.ndjson');
      expect((await admin(['export', '--output', again], { DATABASE_URL: db.url })).status).toBe(
        EXIT.ok,
      );
      const copy = events(parse(again));
      // Every line the same, times included: only positions are the target's own
      expect(copy.slice(0, original.length).map((l) => portable(l, true))).toEqual(
        original.map((l) => portable(l, true)),
      );
      // And in the log itself, each event's commit time is the source's, to the precision the
      // export keeps (milliseconds)
      const times = async (p: Pool) =>
        (
          await p.query<{ event_id: string; t: string }>(
            `SELECT event_id, to_char(date_trunc('milliseconds', created_at) AT TIME ZONE 'UTC',
                                      'YYYY-MM-DD"T"HH24:MI:SS.US') AS t
               FROM es_events WHERE event_id = ANY ($1::uuid[]) ORDER BY event_id`,
            [original.map((l) => l.id)],
          )
        ).rows;
      const imported = await times(pool);
      expect(imported).toHaveLength(original.length);
      expect(imported).toEqual(await times(sourcePool));
      // And the import itself is recorded in the target, after what it imported
      expect(
        copy
          .slice(original.length)
          .map((l) => [l.type, (l.data as { operation: string }).operation]),
      ).toEqual([[ADMIN_OPERATION_RECORDED, 'import']]);
    });

    it('refuses a target that is not empty, adding nothing to it but the record', async () => {
      const before = await pool.query<{ n: string }>('SELECT count(*) AS n FROM es_events');
      const run = await admin(['import', exported], { DATABASE_URL: db.url });
      expect(run.status).toBe(EXIT.usage);
      expect(run.stderr).toContain('the target store is not empty');
      const after = await pool.query<{ n: string }>('SELECT count(*) AS n FROM es_events');
      expect(Number(after.rows[0].n)).toBe(Number(before.rows[0].n) + 1);
    });

    it("rebuilds read models equal to the original's (with the data keys copied)", async () => {
      await copyKeys(pool);
      const store = new PostgresEventStore(pool);
      try {
        expect(await rebuild(store, pool)).toEqual(withoutAudit(await dumpReadModels(sourcePool)));
        // The audit index records the original times too (its positions are the target's)
        const audit = async (p: Pool) =>
          (
            await p.query<{ event_id: string; recorded_at: Date }>(
              `SELECT event_id, recorded_at FROM rm_audit WHERE event_id = ANY ($1::uuid[])
                ORDER BY event_id`,
              [events(parse(exported)).map((l) => l.id)],
            )
          ).rows;
        const rebuilt = await audit(pool);
        expect(rebuilt).toHaveLength(events(parse(exported)).length);
        expect(rebuilt).toEqual(await audit(sourcePool));
      } finally {
        await store.close();
      }
    });
  });

  describe('import into EventStoreDB', () => {
    let server: EsdbTestServer;
    let db: TestDatabase;
    let pool: Pool;
    const env = () => ({
      DATABASE_URL: db.url,
      EVENTSTORE_CONNECTION_STRING: server.connectionString,
    });

    beforeAll(async () => {
      server = await startEsdbTestServer();
      db = await createTestDatabase();
      pool = createTestPool(db.url, 4);
    });
    afterAll(async () => {
      await pool.end();
      await db.drop();
      await server.close();
    });

    it('keeps every line, times included: exported again, only positions differ', async () => {
      const run = await admin(['import', exported], env());
      expect(run.status).toBe(EXIT.ok);
      expect(run.stdout).toContain('imported');
      const again = join(dir, 'esdb.ndjson');
      expect((await admin(['export', '--output', again], env())).status).toBe(EXIT.ok);
      const original = events(parse(exported));
      const copy = events(parse(again));
      expect(parse(again)[0]).toMatchObject({ store: 'eventstoredb' });
      expect(copy.slice(0, original.length).map((l) => portable(l, true))).toEqual(
        original.map((l) => portable(l, true)),
      );
    });

    it("rebuilds read models equal to the original's", async () => {
      await copyKeys(pool);
      const store = EventStoreDbEventStore.fromConnectionString(server.connectionString);
      try {
        expect(await rebuild(store, pool)).toEqual(withoutAudit(await dumpReadModels(sourcePool)));
      } finally {
        await store.close();
      }
    });
  });
  describe('the data keys, carried by export --with-keys', () => {
    let withKeys: string;
    const opened: { db: TestDatabase; pool: Pool }[] = [];
    const fresh = async () => {
      const db = await createTestDatabase();
      const target = { db, pool: createTestPool(db.url, 4) };
      opened.push(target);
      return target;
    };
    const masterKey = TEST_MASTER_KEY.toString('base64');
    const keysIn = async (p: Pool, uids = ['ann', 'ben']) =>
      (
        await p.query<{ uid: string; wrapped_key: Buffer | null; destroyed: boolean }>(
          `SELECT uid, wrapped_key, destroyed_at IS NOT NULL AS destroyed
             FROM user_keys WHERE uid = ANY($1::text[]) ORDER BY uid`,
          [uids],
        )
      ).rows.map((r) => ({
        uid: r.uid,
        wrapped: r.wrapped_key?.toString('base64') ?? null,
        destroyed: r.destroyed,
      }));
    const count = async (p: Pool, table: string) =>
      Number((await p.query<{ n: string }>(`SELECT count(*) AS n FROM ${table}`)).rows[0].n);

    // Runs last: it erases cat in the source (who sealed nothing: she only asked to join).
    beforeAll(async () => {
      expect((await admin(['erase-user', 'cat', '--yes'], sourceEnv())).status).toBe(EXIT.ok);
      const names = testProjectors(sourcePool).map((p) => p.name);
      await waitFor(() => caughtUp(sourcePool, names), 'the source read models');
      withKeys = join(dir, 'with-keys.ndjson');
      const run = await admin(['export', '--output', withKeys, '--with-keys'], sourceEnv());
      expect(run.status).toBe(EXIT.ok);
      expect(run.stderr).toContain('and 3 data keys');
    });
    afterAll(async () => {
      for (const { db, pool } of opened) {
        await pool.end();
        await db.drop();
      }
    });

    it('carries, after the events, the keys their sealed content needs and those of erased users', async () => {
      const lines = parse(withKeys);
      expect(lines[0]).toMatchObject({ version: 2, keys: true });
      // The same events as without keys (and the exports recorded since)
      const plain = events(parse(exported));
      expect(events(lines).slice(0, plain.length)).toEqual(plain);
      // Then a key for each sender of sealed content (ann and ben), and cat's, destroyed (she
      // sealed nothing, but is erased), as the source's user_keys holds them, before the summary
      const keyLines = lines.filter((l) => 'key' in l);
      expect(
        keyLines.map((l) => {
          const k = l.key as { uid: string; wrapped_key: string | null };
          return { uid: k.uid, wrapped: k.wrapped_key, destroyed: k.wrapped_key === null };
        }),
      ).toEqual(await keysIn(sourcePool, ['ann', 'ben', 'cat']));
      expect(keyLines.map((l) => (l.key as { uid: string }).uid)).toEqual(['ann', 'ben', 'cat']);
      expect(lines.indexOf(keyLines[0])).toBe(lines.length - 4);
      expect(lines[lines.length - 1]).toEqual({ summary: { events: events(lines).length } });

      // Over REST too, only with with_keys=true
      const rest = async (query: Record<string, string>) =>
        request(t.url)
          .get('/admin/v1/export')
          .query({ stream: 'conversation-ann~ben', ...query })
          .set('X-Admin-Key', t.adminKey);
      const keyed = (await rest({ with_keys: 'true' })).text.trimEnd().split('\n');
      expect(keyed.filter((l) => l.startsWith('{"key"')).map((l) => JSON.parse(l) as Line)).toEqual(
        keyLines.slice(0, 2),
      );
      expect((await rest({})).text).not.toContain('{"key"');
      const bad = await rest({ with_keys: 'yes' });
      expect({ status: bad.status, code: (bad.body as { code: number }).code }).toEqual({
        status: 400,
        code: 40000,
      });
    });

    it("goes into a fresh installation with the source's master key: the content opens", async () => {
      const { db, pool } = await fresh();
      const run = await admin(['import', withKeys, '--json'], {
        DATABASE_URL: db.url,
        MASTER_KEY: masterKey,
      });
      expect(run.status).toBe(EXIT.ok);
      expect(JSON.parse(run.stdout)).toMatchObject({
        status: 'completed',
        validated: { keys: 3 },
        keys: { carried: 3, erased: 0, restored: 3 },
      });
      expect(run.stdout).not.toContain('wrapped');
      const all = ['ann', 'ben', 'cat'];
      expect(await keysIn(pool, all)).toEqual(await keysIn(sourcePool, all));
      // cat stays erased: no key can be made for her here
      await expect(new KeyRing(pool, TEST_MASTER_KEY).encryptFor('cat', 'x')).rejects.toThrow();
      // Read models built from the imported log equal the original's, message content included,
      // with no key copied by hand
      const store = new PostgresEventStore(pool);
      try {
        expect(await rebuild(store, pool)).toEqual(withoutAudit(await dumpReadModels(sourcePool)));
      } finally {
        await store.close();
      }
    });

    it('is refused, with nothing written, by an installation whose master key does not open it', async () => {
      const { db, pool } = await fresh();
      const cases: [NodeJS.ProcessEnv, string][] = [
        [
          { MASTER_KEY: randomBytes(32).toString('base64') },
          "the data keys of 2 user(s) (ann, ben) do not open under this installation's master key",
        ],
        [{}, 'this installation has no master key: set MASTER_KEY'],
      ];
      for (const [env, message] of cases) {
        const run = await admin(['import', withKeys, '--json'], { DATABASE_URL: db.url, ...env });
        expect(run.status).toBe(EXIT.usage);
        expect(run.stderr).toContain(message);
        expect(JSON.parse(run.stdout)).toMatchObject({ status: 'refused' });
      }
      // And by one that has another key for one of the users
      await pool.query(`INSERT INTO user_keys (uid, wrapped_key) VALUES ('ben', $1)`, [
        randomBytes(60),
      ]);
      const clash = await admin(['import', withKeys], {
        DATABASE_URL: db.url,
        MASTER_KEY: masterKey,
      });
      expect(clash.status).toBe(EXIT.usage);
      expect(clash.stderr).toContain('1 user(s) (ben) already have another data key here');
      expect(await count(pool, 'es_events')).toBe(0);
      expect(await count(pool, 'user_keys')).toBe(1);
    });

    it("keeps an erased user's key destroyed: that content stays closed, the rest opens", async () => {
      // The file as the source would have written it after ben's erasure
      const erased = join(dir, 'erased.ndjson');
      writeFileSync(
        erased,
        readFileSync(withKeys, 'utf8').replace(
          /\{"key":\{"uid":"ben","wrapped_key":"[^"]+","created_at":("[^"]+"),"destroyed_at":null\}\}/,
          '{"key":{"uid":"ben","wrapped_key":null,"created_at":$1,' +
            '"destroyed_at":"2026-12-06T00:00:00.000Z"}}',
        ),
      );
      expect(readFileSync(erased, 'utf8')).toContain('"uid":"ben","wrapped_key":null');
      const { db, pool } = await fresh();
      const run = await admin(['import', erased], { DATABASE_URL: db.url, MASTER_KEY: masterKey });
      expect(run.status).toBe(EXIT.ok);
      expect((await keysIn(pool)).map((k) => [k.uid, k.destroyed])).toEqual([
        ['ann', false],
        ['ben', true],
      ]);
      const sealed = events(parse(erased))
        .filter((l) => l.type === 'MessageSent' && l.stream === 'conversation-ann~ben')
        .map((l) => (l.data as { content: string }).content);
      const ring = new KeyRing(pool, TEST_MASTER_KEY);
      const opened = await ring.decryptMany(sealed);
      // ann wrote "hello 0", "hello 2", …; ben's "hello 1", "hello 3" stay closed
      expect(opened.filter((o) => o !== null).map((o) => JSON.parse(o) as unknown)).toContainEqual({
        content: 'hello 0',
      });
      expect(opened.filter((o) => o === null).length).toBe(2);
    });

    it('keeps an erasure through an export without keys, and says whose content will not open', async () => {
      const plain = join(dir, 'plain-after-erasure.ndjson');
      expect((await admin(['export', '--output', plain], sourceEnv())).status).toBe(EXIT.ok);
      const { db, pool } = await fresh();
      const run = await admin(['import', plain, '--json'], { DATABASE_URL: db.url });
      expect(run.status).toBe(EXIT.ok);
      expect(JSON.parse(run.stdout)).toMatchObject({
        keys: { carried: 0, erased: 1, restored: 1 },
      });
      expect(run.stderr).toContain(
        'warning: the file carries no data key for 2 user(s) whose sealed content it holds (ann, ben)',
      );
      expect(await keysIn(pool, ['ann', 'ben', 'cat'])).toEqual([
        { uid: 'cat', wrapped: null, destroyed: true },
      ]);
    });
  });
});
