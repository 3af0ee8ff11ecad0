import request from 'supertest';
import { verifyOverHttp } from '../support/app';
import { createTestDatabase, TestDatabase } from '../support/database';
import { EsdbTestServer, startEsdbTestServer } from '../support/esdb-test-server';
import { textTo } from '../support/realtime';
import { runServer, ServerProcess } from '../support/server-process';
import { waitFor } from '../support/wait-for';

const ADMIN_KEY = 'k'.repeat(30);
// Each test starts real processes (ts-node, a migration, a Nest app): on a loaded 2-core machine a
// start takes tens of seconds. The waits below are bounds, not sleeps.
jest.setTimeout(240_000);
const START_BOUND_MS = 90_000;

/**
 * The production layout as real processes: `start:api` and `start:projector` (twice) over one
 * PostgreSQL and EventStoreDB (the gRPC test server), as docker/docker-compose.yml runs them.
 */
describe('separate API and projector processes on EventStoreDB', () => {
  let db: TestDatabase;
  let esdb: EsdbTestServer;
  const running: ServerProcess[] = [];

  const start = (role: 'api' | 'projector') => {
    const p = runServer(
      {
        DATABASE_URL: db.url,
        EVENTSTORE_CONNECTION_STRING: esdb.connectionString,
        JWT_SECRET: 'j'.repeat(40),
        ADMIN_API_KEY: ADMIN_KEY,
        MASTER_KEY: Buffer.alloc(32, 9).toString('base64'),
        PORT: '0',
        PROJECTOR_LOCK_POLL_MS: '200',
      },
      role,
    );
    running.push(p);
    return p;
  };
  const leads = (p: ServerProcess) => p.lines.some((l) => l.includes('projections: took the lead'));
  const waitsForStore = (p: ServerProcess) =>
    p.lines.filter((l) => l.includes('is unreachable; retrying in')).length;

  beforeAll(async () => {
    db = await createTestDatabase();
    esdb = await startEsdbTestServer();
  });
  afterEach(async () => {
    await esdb.comeBack();
  });
  afterAll(async () => {
    for (const p of running) if (p.child.exitCode === null) p.child.kill('SIGKILL');
    await Promise.all(running.map((p) => p.exited));
    await esdb.close();
    await db.drop();
  });

  it('one projector leads; when it is killed the other takes over and the API keeps serving', async () => {
    const api = start('api');
    const first = start('projector');
    const [url] = await Promise.all([api.ready, first.ready]);
    await waitFor(() => leads(first), 'the first projector to lead', START_BOUND_MS);
    const second = start('projector');
    await second.ready;

    const token = async (uid: string) => {
      const res = await request(url)
        .post('/inner/get_token')
        .set('X-Admin-Key', ADMIN_KEY)
        .send({ session: uid, platform: 1 });
      expect(res.status).toBe(200);
      return (res.body as { data: string }).data;
    };
    const [alice, bob] = [await token('p-alice'), await token('p-bob')];
    const follow = await request(url)
      .put('/api/v1/relations/following/p-alice')
      .set('Authorization', `Bearer ${bob}`);
    expect(follow.status).toBe(200);
    const send = async (text: string) => {
      const res = await request(url)
        .post('/api/v1/messages')
        .set('Authorization', `Bearer ${alice}`)
        .send(textTo('p-bob', text));
      expect(res.status).toBe(201);
    };
    const history = async () => {
      const res = await request(url)
        .get('/api/v1/sessions/1/p-alice/messages')
        .set('Authorization', `Bearer ${bob}`);
      return res.status === 200 ? (res.body as { messages: unknown[] }).messages.length : 0;
    };

    await send('one');
    await waitFor(async () => (await history()) === 1, 'the first message projected');
    expect(leads(second)).toBe(false);

    first.child.kill('SIGKILL');
    await first.exited;
    await send('two');
    await waitFor(() => leads(second), 'the second projector to take over', START_BOUND_MS);
    await waitFor(async () => (await history()) === 2, 'the second message projected', 30_000);
    const health = await request(url).get('/health');
    expect(health.status).toBe(200);
    expect(health.body.details.event_store).toMatchObject({ adapter: 'eventstoredb' });
    // And the read models the projector that took over kept are what a rebuild makes
    expect(await verifyOverHttp(url, ADMIN_KEY, START_BOUND_MS)).toMatchObject({
      equal: true,
      differing: [],
    });
  });

  it('waits for EventStoreDB at start, logging each try, and serves once it answers', async () => {
    await esdb.goDown();
    const api = start('api');
    await waitFor(() => waitsForStore(api) >= 2, 'two tries logged', START_BOUND_MS);
    expect(api.lines.some((l) => l.includes('"server listening"'))).toBe(false);
    expect(api.child.exitCode).toBeNull();
    await esdb.comeBack();
    const url = await api.ready;
    expect((await request(url).get('/health/live')).status).toBe(200);
  });

  it('stops at once, exit status 0, when signalled while waiting for EventStoreDB', async () => {
    await esdb.goDown();
    const api = start('api');
    await waitFor(() => waitsForStore(api) >= 1, 'a try logged', START_BOUND_MS);
    api.child.kill('SIGTERM');
    expect(await api.exited).toBe(0);
  });
});
