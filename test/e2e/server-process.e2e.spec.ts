import { randomUUID } from 'node:crypto';
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import request from 'supertest';
import { createTestDatabase, TestDatabase } from '../support/database';
import { runServer, ServerProcess } from '../support/server-process';
import { waitFor } from '../support/wait-for';

// Real processes with an embedded PostgreSQL each: slow to start on a loaded 2-core machine.
jest.setTimeout(240_000);

/** `npm start` on the embedded default, as a real process: start, restart, clash, stop. */
describe('the server process on the embedded default', () => {
  let dataDir: string;
  const running: ServerProcess[] = [];

  const start = (env: Record<string, string> = {}) => {
    const server = runServer({ DATA_DIR: dataDir, PORT: '0', ...env });
    running.push(server);
    return server;
  };
  const stop = async (server: ServerProcess) => {
    server.child.kill('SIGTERM');
    return server.exited;
  };

  beforeAll(() => {
    dataDir = mkdtempSync(join(tmpdir(), 'im-server-'));
    chmodSync(dataDir, 0o755);
  });
  afterAll(async () => {
    for (const s of running) if (s.child.exitCode === null) s.child.kill('SIGKILL');
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('serves the first message, keeps everything across a restart, and stops cleanly', async () => {
    // Given a server started on an empty DATA_DIR
    const first = start();
    const url = await first.ready;
    const secrets = JSON.parse(readFileSync(join(dataDir, 'secrets.json'), 'utf8'));
    expect(first.lines.join('\n')).toContain(join(dataDir, 'secrets.json'));
    const token = async (base: string, uid: string) =>
      (
        await request(base)
          .post('/inner/get_token')
          .set('X-Admin-Key', secrets.adminApiKey)
          .send({ session: uid, platform: 1 })
      ).body.data as string;
    const alice = await token(url, 'alice');
    const bob = await token(url, 'bob');
    const followed = await request(url)
      .put('/api/v1/relations/following/alice')
      .set('Authorization', `Bearer ${bob}`);
    expect(followed.status).toBe(200);
    const sendToBob = (base: string, text: string) =>
      request(base)
        .post('/api/v1/messages')
        .set('Authorization', `Bearer ${alice}`)
        .send({
          receiver_id: 'bob',
          receiver_type: 1,
          msg_type: 1,
          content: JSON.stringify({ content: text }),
          dev_id: randomUUID(),
        });
    const sent = await sendToBob(url, 'survives restarts');
    expect(sent.status).toBe(201);
    await waitFor(async () => {
      const res = await request(url).get('/api/v1/sessions').set('Authorization', `Bearer ${bob}`);
      return res.body.session_list?.[0]?.unread_count === 1;
    }, 'bob to see the message');

    // And a second server on the same DATA_DIR fails at once, naming the holder
    const clash = start();
    expect(await clash.exited).toBe(1);
    expect(clash.lines.join('\n')).toMatch(/DATA_DIR .* is in use by another server \(pid \d+\)/);

    // When the first is stopped with SIGTERM
    expect(await stop(first)).toBe(0);
    expect(existsSync(join(dataDir, 'postgres', 'postmaster.pid'))).toBe(false);
    expect(existsSync(join(dataDir, 'server.pid'))).toBe(false);

    // Then a restart serves the same data to the same tokens
    const second = start();
    const url2 = await second.ready;
    const history = await request(url2)
      .get('/api/v1/sessions/1/alice/messages')
      .set('Authorization', `Bearer ${bob}`);
    expect(history.status).toBe(200);
    expect(history.body.messages).toHaveLength(1);
    expect(history.body.messages[0].msg_key).toBe(sent.body.msg_key);
    const next = await sendToBob(url2, 'again');
    expect(next.body.msg_seqno).toBe(2);
    expect(await stop(second)).toBe(0);
  });

  it('recovers the data directory after the server was killed with SIGKILL', async () => {
    const victim = start();
    await victim.ready;
    victim.child.kill('SIGKILL');
    await victim.exited;
    const after = start();
    await after.ready;
    expect(after.lines.join('\n')).toMatch(/previous server did not stop cleanly/);
    expect(await stop(after)).toBe(0);
  });

  describe('with an external database', () => {
    let db: TestDatabase;
    beforeAll(async () => {
      db = await createTestDatabase();
    });
    afterAll(() => db.drop());

    const external = () => ({
      DATABASE_URL: db.url,
      JWT_SECRET: 'j'.repeat(40),
      ADMIN_API_KEY: 'k'.repeat(30),
      MASTER_KEY: Buffer.alloc(32, 9).toString('base64'),
    });

    it('fails with a clear message when the port is taken', async () => {
      const holder = start(external());
      const url = await holder.ready;
      const port = new URL(url).port;
      const second = start({ ...external(), PORT: port });
      expect(await second.exited).toBe(1);
      expect(second.lines.join('\n')).toContain(`PORT ${port} is already in use`);
      expect(await stop(holder)).toBe(0);
    });

    it('drains under keep-alive load: SIGTERM ends it cleanly, no request answered 5xx', async () => {
      const server = start({
        ...external(),
        SEND_RATE_PER_SECOND: '10000',
        SEND_RATE_BURST: '10000',
      });
      const url = await server.ready;
      const token = async (uid: string) =>
        (
          await request(url)
            .post('/inner/get_token')
            .set('X-Admin-Key', external().ADMIN_API_KEY)
            .send({ session: uid, platform: 1 })
        ).body.data as string;
      const senders = await Promise.all(Array.from({ length: 8 }, (_, i) => token(`drain${i}`)));
      // Each receiver follows its sender, so the senders may send any number of messages.
      for (let i = 0; i < 8; i++) {
        const res = await request(url)
          .put(`/api/v1/relations/following/drain${i}`)
          .set('Authorization', `Bearer ${senders[(i + 1) % 8]}`);
        expect(res.status).toBe(200);
      }
      const statuses: number[] = [];
      let stopped = false;
      // fetch keeps its connections alive: the drain must end them, not wait for them.
      const loops = senders.map(async (bearer, i) => {
        while (!stopped) {
          try {
            const res = await fetch(`${url}/api/v1/messages`, {
              method: 'POST',
              headers: { authorization: `Bearer ${bearer}`, 'content-type': 'application/json' },
              body: JSON.stringify({
                receiver_id: `drain${(i + 1) % 8}`,
                receiver_type: 1,
                msg_type: 1,
                content: JSON.stringify({ content: 'load' }),
                dev_id: randomUUID(),
              }),
            });
            statuses.push(res.status);
            await res.arrayBuffer();
          } catch {
            if (server.child.exitCode !== null) break; // refused or reset once it is gone
          }
        }
      });
      await waitFor(() => statuses.length > 50, 'some load');
      const t0 = Date.now();
      server.child.kill('SIGTERM');
      const code = await server.exited;
      stopped = true;
      await Promise.all(loops);
      expect(code).toBe(0);
      expect(Date.now() - t0).toBeLessThan(15_000);
      expect(statuses.filter((s) => s >= 500)).toEqual([]);
      expect(statuses.filter((s) => s === 201).length).toBeGreaterThan(50);
    });

    it('refuses to start with a wrong setting, naming the variable', async () => {
      const bad = start({ ...external(), PORT: 'eighty', JWT_SECRET: 'short' });
      expect(await bad.exited).toBe(1);
      const out = bad.lines.join('\n');
      expect(out).toContain('PORT');
      expect(out).toContain('JWT_SECRET: must be at least 32 characters');
    });

    it('needs the secrets to be configured when DATABASE_URL is set', async () => {
      const bad = start({ DATABASE_URL: db.url });
      expect(await bad.exited).toBe(1);
      expect(bad.lines.join('\n')).toMatch(/JWT_SECRET: required when DATABASE_URL is set/);
    });
  });
});
