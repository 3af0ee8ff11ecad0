import { ChildProcess, spawn } from 'node:child_process';
import { join } from 'node:path';

export interface ServerProcess {
  readonly child: ChildProcess;
  /** Every line the process printed, stdout and stderr. */
  readonly lines: string[];
  /** Resolves with the URL once the server logs that it listens; rejects if it exits first. */
  readonly ready: Promise<string>;
  readonly exited: Promise<number | null>;
}

const ROOT = join(__dirname, '..', '..');

/**
 * Runs `src/main.ts` as `npm start` would (or `npm run start:api` / `start:projector` with a
 * role), in its own process, with the given environment.
 */
export function runServer(
  env: Record<string, string>,
  role?: 'all' | 'api' | 'projector',
): ServerProcess {
  const args = ['-r', 'ts-node/register/transpile-only', 'src/main.ts', ...(role ? [role] : [])];
  const child = spawn(process.execPath, args, {
    cwd: ROOT,
    env: { PATH: process.env.PATH, HOME: process.env.HOME, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const lines: string[] = [];
  let onLine: (line: string) => void = () => undefined;
  for (const stream of [child.stdout, child.stderr]) {
    let buffer = '';
    stream.on('data', (chunk: Buffer) => {
      buffer += chunk.toString('utf8');
      let i: number;
      while ((i = buffer.indexOf('\n')) >= 0) {
        const line = buffer.slice(0, i);
        buffer = buffer.slice(i + 1);
        lines.push(line);
        onLine(line);
      }
    });
  }
  const exited = new Promise<number | null>((resolve) =>
    child.once('exit', (code) => resolve(code)),
  );
  const ready = new Promise<string>((resolve, reject) => {
    onLine = (line) => {
      if (line.includes('"server listening"')) resolve((JSON.parse(line) as { url: string }).url);
    };
    void exited.then((code) =>
      reject(new Error(`server exited with ${code} before listening:\n${lines.join('\n')}`)),
    );
  });
  ready.catch(() => undefined);
  return { child, lines, ready, exited };
}
