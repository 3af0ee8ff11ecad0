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
