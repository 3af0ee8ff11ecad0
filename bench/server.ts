/**
 * The server as its own process (`node dist/src/main.js`, built by `nest build`) on a bench
 * database, and a keep-alive HTTP client for it.
 */
import { ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { Agent, request } from 'node:http';
import { AddressInfo, createServer } from 'node:net';

/** Generated once: every server a bench starts (API nodes, a projector) shares them. */
const SECRETS = {
  JWT_SECRET: randomBytes(48).toString('base64url'),
  ADMIN_API_KEY: randomBytes(32).toString('base64url'),
  MASTER_KEY: randomBytes(32).toString('base64'),
};

export interface BenchServer {
  readonly url: string;
  readonly adminKey: string;
  readonly child: ChildProcess;
  stop(): Promise<void>;
}

/**
 * Starts the server against `databaseUrl` (the external-database mode: PostgreSQL is the bench's
 * own, started with the same default settings as the embedded one), secrets generated here.
 * `PROF=1` records a CPU profile of the server in /tmp/prof; LOG_LEVEL and PROJECTIONS pass through;
 * SERVER_LOG=<file> keeps its log.
 */
export async function startServer(
  databaseUrl: string,
  env: Record<string, string> = {},
): Promise<BenchServer> {
  const port = await freePort();
  const child = spawn(
    process.execPath,
    [...(process.env.PROF ? ['--cpu-prof', '--cpu-prof-dir=/tmp/prof'] : []), 'dist/src/main.js'],
    {
      env: {
        ...process.env,
        DATABASE_URL: databaseUrl,
        ...SECRETS,
        PORT: String(port),
        HOST: '127.0.0.1',
        // The default log level: one JSON line per request, as in production.
        LOG_LEVEL: process.env.LOG_LEVEL ?? 'info',
        ...env,
      },
      // The request log is read and dropped, so the server never blocks on a full pipe.
      stdio: ['ignore', 'pipe', 'inherit'],
    },
  );
  // SERVER_LOG=<file>: the server's log kept there instead.
  if (process.env.SERVER_LOG) child.stdout.pipe(createWriteStream(process.env.SERVER_LOG));
  else child.stdout.resume();
  const stop = async () => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise((r) => child.once('exit', r));
    child.kill('SIGTERM');
    await exited;
  };
  const url = `http://127.0.0.1:${port}`;
  // Up once /health answers (whatever the log level, so not from the log).
  const probe = new HttpClient(url, 1);
  try {
    for (const deadline = Date.now() + 120_000; ;) {
      if (child.exitCode !== null) throw new Error(`server exited ${child.exitCode}`);
      if (Date.now() > deadline) throw new Error('server did not answer /health in 120 s');
      const up = await probe.call('GET', '/health', {}).then(
        () => true,
        () => false,
      );
      if (up) break;
      await new Promise((r) => setTimeout(r, 100));
    }
  } catch (err) {
    await stop();
    throw err;
  } finally {
    probe.close();
  }
  return { url, adminKey: SECRETS.ADMIN_API_KEY, child, stop };
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

export class HttpClient {
  private readonly agent: Agent;

  constructor(
    readonly url: string,
    connections: number,
  ) {
    this.agent = new Agent({ keepAlive: true, maxSockets: connections });
  }

  call(
    method: string,
    path: string,
    headers: Record<string, string>,
    body?: unknown,
  ): Promise<{ status: number; json: unknown }> {
    return new Promise((resolve, reject) => {
      const payload = body === undefined ? undefined : Buffer.from(JSON.stringify(body));
      const req = request(
        `${this.url}${path}`,
        {
          method,
          agent: this.agent,
          headers: {
            ...headers,
            ...(payload
              ? { 'content-type': 'application/json', 'content-length': payload.length }
              : {}),
          },
        },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('end', () => {
            const text = Buffer.concat(chunks).toString();
            let json: unknown = null;
            try {
              json = JSON.parse(text || 'null');
            } catch {
              json = text;
            }
            resolve({ status: res.statusCode ?? 0, json });
          });
        },
      );
      req.on('error', reject);
      req.end(payload);
    });
  }

  /** A user token from `POST /inner/get_token` (registers the user). */
  async token(adminKey: string, uid: string): Promise<string> {
    const res = await this.call(
      'POST',
      '/inner/get_token',
      { 'x-admin-key': adminKey },
      { session: uid, platform: 7 },
    );
    if (res.status !== 200 && res.status !== 201) {
      throw new Error(`get_token ${uid}: ${res.status} ${JSON.stringify(res.json)}`);
    }
    return (res.json as { data: string }).data;
  }

  close(): void {
    this.agent.destroy();
  }
}
