import { closeSync, mkdirSync, openSync, readFileSync, rmSync, writeSync } from 'node:fs';
import { join } from 'node:path';

export class DataDirInUseError extends Error {
  override readonly name = 'DataDirInUseError';
}

/** Alive and a node process: after a reboot a stale pid may name something unrelated. */
function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EPERM') return false;
  }
  try {
    return /node/.test(readFileSync(`/proc/${pid}/cmdline`, 'utf8'));
  } catch {
    return true; // no /proc: trust the signal check
  }
}

/**
 * An exclusive claim on a data directory, held for the life of the process: a second server on the
 * same directory fails at once with the holder's pid instead of fighting over the database.
 */
export class DataDirLock {
  private constructor(
    private readonly path: string,
    /** Pid of a previous holder that died without releasing, if any. */
    readonly stalePid: number | null,
  ) {}

  static acquire(dataDir: string): DataDirLock {
    mkdirSync(dataDir, { recursive: true });
    const path = join(dataDir, 'server.pid');
    for (let attempt = 0; attempt < 2; attempt++) {
      try {
        const fd = openSync(path, 'wx', 0o644);
        writeSync(fd, String(process.pid));
        closeSync(fd);
        return new DataDirLock(path, null);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      }
      const holder = Number.parseInt(readFileSync(path, 'utf8').trim(), 10);
      if (Number.isSafeInteger(holder) && holder !== process.pid && isAlive(holder)) {
        throw new DataDirInUseError(
          `DATA_DIR ${dataDir} is in use by another server (pid ${holder}); stop it or set ` +
            `DATA_DIR to another directory`,
        );
      }
      // The holder died without cleaning up: take over.
      rmSync(path, { force: true });
      if (attempt === 0 && Number.isSafeInteger(holder)) {
        const fd = openSync(path, 'wx', 0o644);
        writeSync(fd, String(process.pid));
        closeSync(fd);
        return new DataDirLock(path, holder);
      }
    }
    throw new DataDirInUseError(`could not claim DATA_DIR ${dataDir}`);
  }

  release(): void {
    try {
      if (readFileSync(this.path, 'utf8').trim() === String(process.pid)) rmSync(this.path);
    } catch {
      // Already gone: nothing to release.
    }
  }
}
