import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { INestApplication } from '@nestjs/common';
import { randomBytes } from 'node:crypto';
import { TEST_MASTER_KEY } from './test-keys';
import request from 'supertest';
import { waitFor } from './wait-for';
import { createApp } from '../../src/app.factory';
import { loadConfig } from '../../src/config/app-config';
import { Pool } from 'pg';
import { createTestDatabase, TestDatabase } from './database';

export interface TestApp {
  readonly app: INestApplication;
  readonly url: string;
  readonly db: TestDatabase;
  readonly adminKey: string;
  readonly jwtSecret: string;
  /** A bearer token for `uid`, registering the user through the inner API. */
  tokenFor(uid: string, platform?: number): Promise<string>;
  /** The token's user follows `uid` (lifting the one-message-before-a-reply rule for them). */
  follow(token: string, uid: string): Promise<void>;
  /** `uid`'s token, registering them on first use; the same token on every later call. */
  user(uid: string): Promise<string>;
  /** How many events the log holds. */
  eventCount(): Promise<number>;
  /** Sends the request, expects the status and code, and checks that nothing was written. */
  rejects(req: request.Test, status: number, code: number): Promise<request.Response>;
  /** The read models against a rebuild of them: {@link verifyOverHttp} on this app. */
  verify(): Promise<VerifyJobResult>;
  close(): Promise<void>;
}

/** The Nest app on a random port over a fresh database, as `npm start` builds it. */
export async function startTestApp(env: Record<string, string> = {}): Promise<TestApp> {
  const db = await createTestDatabase();
  const adminKey = randomBytes(24).toString('base64url');
  const jwtSecret = randomBytes(32).toString('base64url');
  // Tests that are not about send limits should not trip them: generous unless a test sets them.
  const config = loadConfig({
    LOG_LEVEL: 'silent',
    SEND_RATE_PER_SECOND: '10000',
    SEND_RATE_BURST: '10000',
    ...env,
  });
  const app = await createApp({
    config,
    databaseUrl: db.url,
    jwtSecret,
    adminApiKey: adminKey,
    masterKey: TEST_MASTER_KEY,
  });
  await app.listen(0, '127.0.0.1');
  const { port } = (app.getHttpServer() as Server).address() as AddressInfo;
  const url = `http://127.0.0.1:${port}`;
  const tokenFor = async (uid: string, platform = 1): Promise<string> => {
    const res = await request(url)
      .post('/inner/get_token')
      .set('X-Admin-Key', adminKey)
      .send({ session: uid, platform });
    if (res.status !== 200) throw new Error(`get_token ${uid}: ${res.status} ${res.text}`);
    return (res.body as { data: string }).data;
  };
  const tokens = new Map<string, Promise<string>>();
  let pool: Pool | undefined;
  const eventCount = async () => {
    pool ??= new Pool({ connectionString: db.url, max: 2 });
    const { rows } = await pool.query<{ n: string }>('SELECT count(*) AS n FROM es_events');
    return Number(rows[0].n);
  };
  return {
    app,
    url,
    db,
    adminKey,
    jwtSecret,
    tokenFor,
    async follow(token, uid) {
      const res = await request(url)
        .put(`/api/v1/relations/following/${uid}`)
        .set('Authorization', `Bearer ${token}`);
      if (res.status !== 200) throw new Error(`follow ${uid}: ${res.status} ${res.text}`);
    },
    user(uid) {
      const known = tokens.get(uid);
      if (known) return known;
      const token = tokenFor(uid);
      tokens.set(uid, token);
      return token;
    },
    eventCount,
    async rejects(req, status, code) {
      const before = await eventCount();
      const res = await req;
      expect({ status: res.status, code: (res.body as { code?: number }).code }).toEqual({
        status,
        code,
      });
      expect(typeof (res.body as { message?: unknown }).message).toBe('string');
      expect(await eventCount()).toBe(before);
      return res;
    },
    verify: () => verifyOverHttp(url, adminKey),
    async close() {
      await pool?.end();
      await app.close();
      await db.drop();
    },
  };
}

/** What a finished verify job reports (src/admin/replay/verify.ts, VerifyResult). */
export interface VerifyJobResult {
  readonly equal: boolean;
  readonly differing: readonly unknown[];
}

/** A rebuild or verify job as `GET /admin/v1/projections/{kind}/{id}` shows it. */
export interface ReplayJobView {
  readonly job_id: string;
  readonly status: string;
  readonly progress: { readonly phase: string; readonly events_applied: number };
  readonly result: Record<string, unknown> | null;
  readonly error: { readonly code: number | null; readonly message: string } | null;
}

/** Polls a rebuild or verify job until it is no longer running; throws on any answer but 200. */
export async function awaitReplayJob(
  url: string,
  adminKey: string,
  kind: 'rebuild' | 'verify',
  id: string,
  timeoutMs = 60_000,
): Promise<ReplayJobView> {
  let job: ReplayJobView | undefined;
  await waitFor(
    async () => {
      const res = await request(url)
        .get(`/admin/v1/projections/${kind}/${id}`)
        .set('X-Admin-Key', adminKey);
      if (res.status !== 200) throw new Error(`${kind} job ${id}: ${res.status} ${res.text}`);
      job = res.body as ReplayJobView;
      return job.status !== 'running';
    },
    `${kind} job ${id}`,
    timeoutMs,
    50,
  );
  return job!;
}

/**
 * Runs `verify` as an administrator does (`POST /admin/v1/projections/verify`, then its job until
 * it ends): every read model rebuilt from the log beside the live ones, compared row for row.
 * For the end of crash and concurrency tests (issue: "use it in tests after crash and concurrency
 * tests"). Throws if the job fails or does not end within `timeoutMs`.
 */
export async function verifyOverHttp(
  url: string,
  adminKey: string,
  timeoutMs = 60_000,
): Promise<VerifyJobResult> {
  const started = await request(url)
    .post('/admin/v1/projections/verify')
    .set('X-Admin-Key', adminKey)
    .send({});
  if (started.status !== 202) throw new Error(`verify: ${started.status} ${started.text}`);
  const id = (started.body as { job_id: string }).job_id;
  const job = await awaitReplayJob(url, adminKey, 'verify', id, timeoutMs);
  if (job.status !== 'completed' || !job.result) {
    throw new Error(`verify job ${id} ended ${job.status}: ${JSON.stringify(job.error)}`);
  }
  return job.result as unknown as VerifyJobResult;
}
