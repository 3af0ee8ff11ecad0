import { Injectable } from '@nestjs/common';
import { randomUUID } from 'node:crypto';
import { EventMetadata, EventStore } from '../event-store/event-store.port';
import { sessionsStream } from './sessions.events';

/**
 * Appends a user's session events. They need no aggregate: each is valid on its own (checked by
 * its handler against the read model) and the projection makes them commute where order could
 * matter (read progress takes the maximum), so they append without an expected revision.
 */
@Injectable()
export class SessionEventsWriter {
  constructor(private readonly store: EventStore) {}

  async append(ownerUid: string, type: string, data: unknown, metadata: EventMetadata) {
    return this.store.append(
      sessionsStream(ownerUid),
      [{ id: randomUUID(), type, data, metadata }],
      'any',
    );
  }
}
