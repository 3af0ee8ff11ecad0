/**
 * Sending over REST end to end: a server process (as `npm start` runs it, on a fresh embedded
 * PostgreSQL) and a load generator in this process, 200 concurrent senders in 100 pairs, each
 * sending to its partner and waiting for each answer. Reports messages/s acknowledged, latency
 * percentiles, and how long the projections took to show every message afterwards.
 *   npm run bench:http-send            (SENDERS=200 MESSAGES=20000)
 */
import { ChildProcess, spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { chmodSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { Agent, request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { report } from './support';

const SENDERS = Number(process.env.SENDERS ?? 200);
const MESSAGES = Number(process.env.MESSAGES ?? 20_000);
const agent = new Agent({ keepAlive: true, maxSockets: SENDERS });

function call(
  url: string,
  method: string,
  path: string,
  headers: Record<string, string>,
  body?: unknown,
): Promise<{ status: number; json: unknown }> {
  return new Promise((resolve, reject) => {
    const payload = body === undefined ? undefined : Buffer.from(JSON.stringify(body));
    const req = request(
      `${url}${path}`,
      {
        method,
        agent,
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
        res.on('end', () =>
          resolve({
            status: res.statusCode ?? 0,
            json: JSON.parse(Buffer.concat(chunks).toString() || 'null'),
          }),
        );
      },
    );
    req.on('error', reject);
    req.end(payload);
  });
}

function startServer(dataDir: string): Promise<{ child: ChildProcess; url: string }> {
  const child = spawn(
    process.execPath,
    [...(process.env.PROF ? ['--cpu-prof', '--cpu-prof-dir=/tmp/prof'] : []), 'dist/src/main.js'],
    {
      // The default log level: one JSON line per request, as in production.
      env: { ...process.env, DATA_DIR: dataDir, PORT: '0', LOG_LEVEL: 'info' },
      stdio: ['ignore', 'pipe', 'inherit'],
    },
  );
  return new Promise((resolve, reject) => {
    let out = '';
    child.stdout.on('data', (c: Buffer) => {
      out += c.toString();
      const m = /"url":"([^"]+)","embedded"/.exec(out);
      if (m) resolve({ child, url: m[1] });
    });
    child.once('exit', (code) => reject(new Error(`server exited ${code}`)));
  });
}

async function main(): Promise<void> {
  const dataDir = mkdtempSync(join(tmpdir(), 'im-bench-http-'));
  chmodSync(dataDir, 0o755);
  const { child, url } = await startServer(dataDir);
  try {
    const key = (
      JSON.parse(readFileSync(join(dataDir, 'secrets.json'), 'utf8')) as { adminApiKey: string }
    ).adminApiKey;
    const tokens: string[] = [];
    for (let i = 0; i < SENDERS; i++) {
      const res = await call(
        url,
        'POST',
        '/inner/get_token',
        { 'x-admin-key': key },
        { session: `u${i}`, platform: 7 },
      );
      tokens.push((res.json as { data: string }).data);
    }
    const latencies: number[] = [];
    let failures = 0;
    const perSender = Math.ceil(MESSAGES / SENDERS);
    const t0 = performance.now();
    await Promise.all(
      tokens.map(async (token, i) => {
        const partner = `u${i % 2 === 0 ? i + 1 : i - 1}`;
        for (let k = 0; k < perSender; k++) {
          const s = performance.now();
          const res = await call(
            url,
            'POST',
            '/api/v1/messages',
            { authorization: `Bearer ${token}` },
            {
              receiver_id: partner,
              receiver_type: 1,
              msg_type: 1,
              content: JSON.stringify({ content: `message ${k} from u${i}` }),
              dev_id: randomUUID(),
            },
          );
          latencies.push(performance.now() - s);
          if (res.status !== 201) failures++;
        }
      }),
    );
    const ms = performance.now() - t0;
    const sent = perSender * SENDERS;
    report(`REST sends, ${SENDERS} concurrent senders`, sent, ms, 'msgs');
    latencies.sort((a, b) => a - b);
    const pct = (p: number) =>
      latencies[Math.min(latencies.length - 1, Math.floor((p / 100) * latencies.length))].toFixed(
        1,
      );
    process.stdout.write(
      `latency ms: p50 ${pct(50)}  p95 ${pct(95)}  p99 ${pct(99)}  failures ${failures}\n`,
    );

    // How far behind were the projections when the last send was acknowledged?
    const lagStart = performance.now();
    for (;;) {
      const health = await call(url, 'GET', '/health', {});
      const p = (
        health.json as { info?: { projections?: Record<string, { lag_events?: number }> } }
      ).info?.projections;
      const lags = p ? Object.values(p).map((x) => x.lag_events ?? 0) : [1];
      if (lags.every((l) => l === 0)) break;
      await new Promise((r) => setTimeout(r, 20));
    }
    process.stdout.write(
      `projections caught up ${(performance.now() - lagStart).toFixed(0)} ms after the last acknowledgement\n`,
    );
  } finally {
    child.kill('SIGTERM');
    await new Promise((r) => child.once('exit', r));
    rmSync(dataDir, { recursive: true, force: true });
    agent.destroy();
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`${String(err)}\n`);
  process.exit(1);
});
