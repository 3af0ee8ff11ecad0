import type { EventStore, Position } from '../event-store/event-store.port';

const CURSOR = /^(e\.)?([0-9a-z]{1,14})\.([0-9a-z]{1,14})$/;

/** Which log a cursor's position belongs to. */
export type CursorStore = EventStore['adapter'];

/**
 * A client's place in its event feed: the log position of the last event it was given, as opaque
 * text (`<commit>.<prepare>` in base 36; `e.<commit>.<prepare>` for a position in EventStoreDB, so
 * that a cursor of one log is never read as a position of the other after an installation moves).
 * Handing it back resumes right after that event.
 */
export function encodeCursor(p: Position, store: CursorStore = 'postgres'): string {
  const tag = store === 'eventstoredb' ? 'e.' : '';
  return `${tag}${p.commit.toString(36)}.${p.prepare.toString(36)}`;
}

/**
 * The position a cursor names, or null when the text is not a cursor this server made (for this
 * store).
 */
export function decodeCursor(text: string, store: CursorStore = 'postgres'): Position | null {
  const found = CURSOR.exec(text);
  if (!found || (found[1] !== undefined) !== (store === 'eventstoredb')) return null;
  const m = [found[0], found[2], found[3]];
  const commit = parseInt(m[1], 36);
  const prepare = parseInt(m[2], 36);
  // Positions this server hands out stay below 2^53; anything larger was never issued, and
  // leading zeros would make two texts name one position.
  if (!Number.isSafeInteger(commit) || !Number.isSafeInteger(prepare)) return null;
  if (commit.toString(36) !== m[1] || prepare.toString(36) !== m[2]) return null;
  return { commit: BigInt(commit), prepare: BigInt(prepare) };
}
