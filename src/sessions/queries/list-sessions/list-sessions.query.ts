import { Query } from '@nestjs/cqrs';
import type { SessionView } from '../../session.view';

export interface SessionPage {
  session_list: SessionView[];
  has_more: 0 | 1;
  /** Pass back as `cursor` for the next page; null on the last page. */
  next_cursor: string | null;
}

/** The caller's sessions, pinned first, then by latest activity; paged by an opaque cursor. */
export class ListSessionsQuery extends Query<SessionPage> {
  constructor(
    readonly ownerUid: string,
    readonly size: number,
    readonly cursor: SessionCursor | null,
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
  try {
    const v: unknown = JSON.parse(Buffer.from(text, 'base64url').toString('utf8'));
    if (
      Array.isArray(v) &&
      v.length === 4 &&
      Number.isSafeInteger(v[0]) &&
      Number.isSafeInteger(v[1]) &&
      Number.isSafeInteger(v[2]) &&
      typeof v[3] === 'string'
    ) {
      return {
        topTs: v[0] as number,
        sessionTs: v[1] as number,
        sessionType: v[2] as number,
        talkerId: v[3],
      };
    }
  } catch {
    // fall through
  }
  return null;
}
