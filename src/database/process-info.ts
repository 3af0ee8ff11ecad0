import { readFileSync } from 'node:fs';

/**
 * The command line of a live process, '' when it is gone, and null where /proc cannot be read.
 * Used to tell our own stale pid files from a pid reused by an unrelated process.
 */
export function commandLineOf(pid: number): string | null {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').replace(/\0/g, ' ');
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'ENOENT' ? '' : null;
  }
}
