import type { PoolClient } from 'pg';
import type { RecordedEvent } from '../src/event-store/event-store.port';
import {
  TOKEN_ISSUED,
  TokenIssuedData,
  USER_REGISTERED,
  UserRegisteredData,
} from '../src/accounts/accounts.events';
import type { Projector } from './projector';

/** rm_users: the user directory. */
export class UsersProjector implements Projector {
  readonly name = 'users';
  readonly usesMetadata = false;
  readonly eventTypes = new Set([USER_REGISTERED, TOKEN_ISSUED]);
  readonly tables = ['rm_users'];

  async apply(events: readonly RecordedEvent[], tx: PoolClient): Promise<void> {
    const users = new Map<string, { platform: number; registeredAt: Date; lastTokenAt: Date }>();
    for (const e of events) {
      if (e.type === USER_REGISTERED) {
        const d = e.data as UserRegisteredData;
        users.set(d.uid, {
          platform: d.platform,
          registeredAt: e.createdAt,
          lastTokenAt: e.createdAt,
        });
      } else if (e.type === TOKEN_ISSUED) {
        const d = e.data as TokenIssuedData;
        const u = users.get(d.uid);
        if (u) u.lastTokenAt = e.createdAt;
        else
          users.set(d.uid, {
            platform: d.platform,
            registeredAt: e.createdAt,
            lastTokenAt: e.createdAt,
          });
      }
    }
    if (users.size === 0) return;
    const uids = [...users.keys()];
    const rows = [...users.values()];
    // A token for a user registered in an earlier batch only moves last_token_at.
    await tx.query(
      `INSERT INTO rm_users (uid, platform, registered_at, last_token_at)
       SELECT * FROM unnest($1::text[], $2::int[], $3::timestamptz[], $4::timestamptz[])
       ON CONFLICT (uid) DO UPDATE
         SET last_token_at = GREATEST(rm_users.last_token_at, EXCLUDED.last_token_at)`,
      [
        uids,
        rows.map((r) => r.platform),
        rows.map((r) => r.registeredAt),
        rows.map((r) => r.lastTokenAt),
      ],
    );
  }
}
