import { Query } from '@nestjs/cqrs';
import { UID_PATTERN } from '../../../accounts/commands/issue-token/get-token.request.dto';
import type { SessionFilter } from '../../session-reader';
import type { SessionView } from '../../session.view';

export interface SessionPage {
  session_list: SessionView[];
  has_more: 0 | 1;
  /** Pass back as `cursor` for the next page; null on the last page. */
  next_cursor: string | null;
}

export interface ListSessionsOptions {
  readonly filter: SessionFilter;
  /** Leave sessions with users not followed out of the main list (they have their own). */
  readonly unfollowFold: boolean;
  readonly size: number;
  readonly cursor: SessionCursor | null;
  /** session_ts bounds in microseconds, exclusive (the seed's begin_ts / end_ts). */
  readonly beginTs: number | null;
  readonly endTs: number | null;
}

/**
 * The caller's sessions, pinned first, then by latest activity. Pages by an opaque cursor, or as
 * the seed does by `end_ts` (the last session_ts seen): pinned sessions all come on the page
 * without `end_ts`, and pages with it hold unpinned sessions only, so none repeats.
 */
export class ListSessionsQuery extends Query<SessionPage> {
  constructor(
    readonly ownerUid: string,
    readonly options: ListSessionsOptions,
  ) {
    super();
  }
}

/** The seed's new_sessions: sessions active after `beginTs`, newest first. */
export class NewSessionsQuery extends Query<SessionPage> {
  constructor(
    readonly ownerUid: string,
    readonly beginTs: number,
    readonly size: number,
  ) {
    super();
  }
}

export interface SessionCursor {
  readonly topTs: number;
  readonly sessionTs: number;
  readonly sessionType: number;
  readonly talkerId: string;
}

export function encodeCursor(c: SessionCursor): string {
  return Buffer.from(JSON.stringify([c.topTs, c.sessionTs, c.sessionType, c.talkerId])).toString(
    'base64url',
  );
}

/** @returns null when the text is not a cursor this server made. */
export function decodeCursor(text: string): SessionCursor | null {
  let v: unknown;
  try {
    v = JSON.parse(Buffer.from(text, 'base64url').toString('utf8'));
  } catch {
    return null;
  }
  if (!Array.isArray(v) || v.length !== 4) return null;
  const [topTs, sessionTs, sessionType, talkerId] = v as unknown[];
  const timestamp = (x: unknown): x is number => Number.isSafeInteger(x) && (x as number) >= 0;
  // Everything the query binds must fit its column: bigint, smallint 1|2, a user id.
  if (!timestamp(topTs) || !timestamp(sessionTs)) return null;
  if (sessionType !== 1 && sessionType !== 2) return null;
  if (typeof talkerId !== 'string' || !UID_PATTERN.test(talkerId)) return null;
  return { topTs, sessionTs, sessionType, talkerId };
}
