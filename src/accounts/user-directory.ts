import { Injectable } from '@nestjs/common';
import { EventStore } from '../event-store/event-store.port';
import { userStream } from './accounts.events';

/**
 * Answers "does this user exist" from the event log (a user exists once `UserRegistered` is
 * appended), so a message to a user registered a moment ago is accepted even before the
 * projection has caught up. Users are never removed, so a positive answer is cached for good.
 */
@Injectable()
export class UserDirectory {
  private readonly known = new Set<string>();

  constructor(private readonly store: EventStore) {}

  async exists(uid: string): Promise<boolean> {
    if (this.known.has(uid)) return true;
    const events = await this.store.readStream(userStream(uid), { limit: 1 });
    if (events.length === 0) return false;
    if (this.known.size > 1_000_000) this.known.clear();
    this.known.add(uid);
    return true;
  }

  remember(uid: string): void {
    this.known.add(uid);
  }
}
