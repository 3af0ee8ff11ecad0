import request from 'supertest';
import { EventStore } from '../../src/event-store/event-store.port';
import { startTestApp, TestApp } from '../support/app';
import { EsdbTestServer, startEsdbTestServer } from '../support/esdb-test-server';
import { connectSocket, textTo } from '../support/realtime';
import { waitFor } from '../support/wait-for';

interface Pushed {
  msg_key: string;
  msg_seqno: number;
}

/**
 * The whole app on the EventStoreDB adapter (over real gRPC to the protocol-level test server):
 * commands, projections and pushes, and what happens when the server goes away and returns.
 */
describe('the app on EventStoreDB', () => {
  let server: EsdbTestServer;
  let t: TestApp;

  beforeAll(async () => {
    server = await startEsdbTestServer();
    t = await startTestApp({ EVENTSTORE_CONNECTION_STRING: server.connectionString });
  });
  afterAll(async () => {
    await t?.close();
    await server?.close();
  });

  const send = (token: string, to: string, text: string) =>
    request(t.url)
      .post('/api/v1/messages')
      .set('Authorization', `Bearer ${token}`)
      .send(textTo(to, text));

  const history = async (token: string, talker: string) => {
    const res = await request(t.url)
      .get(`/api/v1/sessions/1/${talker}/messages?size=50`)
      .set('Authorization', `Bearer ${token}`);
    expect(res.status).toBe(200);
    return (res.body as { messages: Pushed[] }).messages;
  };

  it('runs on the adapter: health names it, the log is in EventStoreDB', async () => {
    expect(t.app.get(EventStore).adapter).toBe('eventstoredb');
    const before = server.eventCount();
    await t.user('es-a');
    expect(server.eventCount()).toBeGreaterThan(before);
    const health = await request(t.url).get('/health');
    expect(health.body.details.event_store).toMatchObject({
      status: 'up',
      adapter: 'eventstoredb',
    });
  });

  it('answers 503 / 50305 while the server is down, loses nothing acknowledged, and catches up when it returns', async () => {
    const [alice, bob] = [await t.user('es-alice'), await t.user('es-bob')];
    await t.follow(bob, 'es-alice');
    const bobSocket = await connectSocket(t.url, { token: bob });
    try {
      const first = await send(alice, 'es-bob', 'before');
      expect(first.status).toBe(201);
      await bobSocket.next<Pushed>('message', (m) => m.msg_seqno === 1);

      await server.goDown();
      const refused = await send(alice, 'es-bob', 'while down');
      expect(refused.status).toBe(503);
      expect(refused.body).toMatchObject({ statusCode: 503, code: 50305 });
      expect(refused.headers['retry-after']).toBe('1');

      await server.comeBack();
      // The same request again (same dev_id) until the server answers: a retry is safe.
      const again = textTo('es-bob', 'after');
      let accepted: request.Response | undefined;
      await waitFor(async () => {
        accepted = await request(t.url)
          .post('/api/v1/messages')
          .set('Authorization', `Bearer ${alice}`)
          .send(again);
        if (accepted.status !== 503) return true;
        return false;
      }, 'a send accepted after the server returned');
      expect(accepted!.status).toBe(201);
      const key = (accepted!.body as { msg_key: string }).msg_key;
      const retried = await request(t.url)
        .post('/api/v1/messages')
        .set('Authorization', `Bearer ${alice}`)
        .send(again);
      expect((retried.body as { msg_key: string }).msg_key).toBe(key);

      // The realtime follower and the projections resumed from where they were.
      await bobSocket.next<Pushed>('message', (m) => m.msg_key === key);
      await waitFor(async () => (await history(bob, 'es-alice')).length >= 2, 'bob’s history');
      const messages = await history(bob, 'es-alice');
      expect(messages.map((m) => m.msg_seqno).sort()).toEqual([1, 2]);
      expect(bobSocket.all<Pushed>('message').map((m) => m.msg_seqno)).toEqual([1, 2]);
    } finally {
      bobSocket.close();
    }
  });

  it('hands out /notify cursors of EventStoreDB positions, and refuses a cursor of the PostgreSQL log', async () => {
    const carol = await t.user('es-carol');
    const poll = (cursor?: string) =>
      request(t.url)
        .get('/notify')
        .query({ protoc: 'poll', timeout_ms: 0, ...(cursor === undefined ? {} : { cursor }) })
        .set('Authorization', `Bearer ${carol}`);
    const first = await poll();
    expect(first.status).toBe(200);
    const cursor = (first.body as { cursor: string }).cursor;
    expect(cursor).toMatch(/^e\.[0-9a-z]+\.[0-9a-z]+$/);
    expect((await poll(cursor)).status).toBe(200);
    // The same position written as the PostgreSQL log's cursors are: not a cursor of this log.
    const refused = await poll(cursor.slice(2));
    expect(refused.status).toBe(400);
    expect(refused.body).toMatchObject({ code: 40000 });
  });
});
