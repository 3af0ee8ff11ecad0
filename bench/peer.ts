import { ChildProcess, fork } from 'node:child_process';
import { readFileSync } from 'node:fs';

/**
 * Load-generating child processes: the bench forks itself (or another script) and talks to each
 * child with `{ id, command }` messages answered `{ id, value | error }`.
 */

/** The parent's side: one forked process, asked commands and awaited. */
export class Peer<C> {
  private next = 0;
  private readonly waiting = new Map<number, (m: { value?: unknown; error?: string }) => void>();

  constructor(readonly child: ChildProcess) {
    child.on('message', (m: { id: number; value?: unknown; error?: string }) => {
      this.waiting.get(m.id)?.(m);
      this.waiting.delete(m.id);
    });
    child.on('exit', (code, signal) => {
      for (const w of this.waiting.values()) {
        w({ error: `client process exited (${code ?? signal}) with a command outstanding` });
      }
      this.waiting.clear();
    });
  }

  ask<T>(command: C): Promise<T> {
    const id = this.next++;
    return new Promise<T>((resolve, reject) => {
      this.waiting.set(id, (m) => (m.error ? reject(new Error(m.error)) : resolve(m.value as T)));
      this.child.send({ id, command });
    });
  }
}

/** The child's side: answers the parent's commands with `handle`, and ends when the parent goes. */
export function serveParent<C>(handle: (command: C) => Promise<unknown>): void {
  process.on('message', (m: { id: number; command: C }) => {
    handle(m.command).then(
      (value) => process.send!({ id: m.id, value }),
      (err: unknown) => process.send!({ id: m.id, error: String(err) }),
    );
  });
  process.on('disconnect', () => process.exit(0));
}

/** Forks a TypeScript file (run through ts-node) with an IPC channel. */
export function forkTs(file: string, args: string[] = []): ChildProcess {
  return fork(file, args, {
    execArgv: ['-r', 'ts-node/register/transpile-only'],
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
}

/** Resident memory of a process, KiB (NaN once it is gone). */
export function rssKb(pid: number): number {
  try {
    const line = readFileSync(`/proc/${pid}/status`, 'utf8')
      .split('\n')
      .find((l) => l.startsWith('VmRSS:'));
    return Number(/(\d+)/.exec(line ?? '')?.[1] ?? NaN);
  } catch {
    return NaN;
  }
}

/** Runs `fn` over `items`, `n` at a time. */
export async function inPool<T>(
  items: readonly T[],
  n: number,
  fn: (t: T, i: number) => Promise<void>,
): Promise<void> {
  let i = 0;
  await Promise.all(
    Array.from({ length: n }, async () => {
      while (i < items.length) {
        const k = i++;
        await fn(items[k], k);
      }
    }),
  );
}
