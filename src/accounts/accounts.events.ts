/** Events of a user stream (`user-<uid>`). Type strings are frozen. */
export const USER_REGISTERED = 'UserRegistered';
export const TOKEN_ISSUED = 'TokenIssued';

export interface UserRegisteredData {
  readonly uid: string;
  readonly platform: number;
}

export interface TokenIssuedData {
  readonly uid: string;
  readonly platform: number;
  /** The token's `jti`, so a token can be traced to its issue (never the token itself). */
  readonly tokenId: string;
  readonly expiresAt: string;
}

export const userStream = (uid: string): string => `user-${uid}`;

/**
 * An administrator erased the user (`npm run admin -- erase-user`, `POST
 * /admin/v1/users/{uid}/erase`): their data key is destroyed, so every envelope sealed for them
 * opens to nothing from then on, and the projections empty what they hold of the user's content
 * (docs/admin/streams-export-erasure.md). Recorded after the key is destroyed; the metadata's
 * actor is the administrator.
 */
export const USER_ERASED = 'UserErased';

export interface UserErasedData {
  readonly uid: string;
  /** When the erasure was decided, microseconds since the epoch. */
  readonly atUs: number;
}
