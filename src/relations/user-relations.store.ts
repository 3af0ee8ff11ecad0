import { Injectable } from '@nestjs/common';
import { userStream } from '../accounts/accounts.events';
import { Executed, StreamCommandProcessor } from '../common/stream-command-processor';
import { EventMetadata, EventStore } from '../event-store/event-store.port';
import {
  RelationsResult,
  UserRelationsCommand,
  userRelationsDecider,
  UserRelationsState,
} from './domain/user-relations';

/**
 * How stale a relation check at send time may be. This node's own writes are seen at once; a
 * follow or block written through another node is seen within this time.
 */
export const RELATION_CHECK_MAX_AGE_MS = 1_000;

/** The relation aggregates (one per user stream), shared by relation commands and send checks. */
@Injectable()
export class UserRelationsStore {
  private readonly processor: StreamCommandProcessor<
    UserRelationsState,
    UserRelationsCommand,
    RelationsResult
  >;

  constructor(store: EventStore) {
    this.processor = new StreamCommandProcessor(store, userRelationsDecider, {
      cacheSize: 50_000,
    });
  }

  execute(
    command: UserRelationsCommand,
    metadata: EventMetadata,
  ): Promise<Executed<RelationsResult>> {
    return this.processor.execute(userStream(command.uid), command, metadata);
  }

  read(uid: string): Promise<UserRelationsState> {
    return this.processor.read(userStream(uid), RELATION_CHECK_MAX_AGE_MS);
  }
}
