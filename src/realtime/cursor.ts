import type { Position } from '../event-store/event-store.port';

const CURSOR = /^([0-9a-z]{1,14})\.([0-9a-z]{1,14})$/;

/**
 * A client's place in its event feed: the log position of the last event it was given, as opaque
 * text (`<commit>.<prepare>` in base 36). Handing it back resumes right after that event.
 */
export function encodeCursor(p: Position): string {
  return `${p.commit.toString(36)}.${p.prepare.toString(36)}`;
}

/** The position a cursor names, or null when the text is not a cursor this server made. */
export function decodeCursor(text: string): Position | null {
  const m = CURSOR.exec(text);
  if (!m) return null;
  const commit = parseInt(m[1], 36);
  const prepare = parseInt(m[2], 36);
  // Positions this server hands out stay below 2^53; anything larger was never issued, and
  // leading zeros would make two texts name one position.
  if (!Number.isSafeInteger(commit) || !Number.isSafeInteger(prepare)) return null;
  if (commit.toString(36) !== m[1] || prepare.toString(36) !== m[2]) return null;
  return { commit: BigInt(commit), prepare: BigInt(prepare) };
}
