import {
  closeSync,
  mkdirSync,
  openSync,
  readFileSync,
  renameSync,
  rmSync,
  writeSync,
} from 'node:fs';
import { join } from 'node:path';
import { commandLineOf } from './process-info';

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
  const cmdline = commandLineOf(pid);
  return cmdline === null || /node/.test(cmdline); // no /proc: trust the signal check
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
    let stale: number | null = null;
    for (let attempt = 0; attempt < 3; attempt++) {
      try {
        const fd = openSync(path, 'wx', 0o644);
        writeSync(fd, String(process.pid));
        closeSync(fd);
        return new DataDirLock(path, stale);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      }
      let holder: number;
      try {
        holder = Number.parseInt(readFileSync(path, 'utf8').trim(), 10);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'ENOENT') continue; // taken over meanwhile
        throw err;
      }
      if (Number.isSafeInteger(holder) && holder !== process.pid && isAlive(holder)) {
        throw new DataDirInUseError(
          `DATA_DIR ${dataDir} is in use by another server (pid ${holder}); stop it or set ` +
            `DATA_DIR to another directory`,
        );
      }
      // The holder died without cleaning up: take over. Renaming the stale file away is atomic,
      // so of two servers starting together on it only one can go on to create a new one.
      try {
        renameSync(path, `${path}.stale-${process.pid}`);
        rmSync(`${path}.stale-${process.pid}`, { force: true });
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
      }
      if (attempt === 0) stale = Number.isSafeInteger(holder) ? holder : null;
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
