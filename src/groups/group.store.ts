import { Injectable } from '@nestjs/common';
import { Executed, StreamCommandProcessor } from '../common/stream-command-processor';
import { EventMetadata, EventStore } from '../event-store/event-store.port';
import { GroupCommand, groupDecider, GroupResult, GroupState } from './domain/group';
import { groupStream } from './groups.events';

/** The group aggregates: every group change, and the membership check of every group send. */
@Injectable()
export class GroupStore {
  private readonly processor: StreamCommandProcessor<GroupState, GroupCommand, GroupResult>;

  constructor(store: EventStore) {
    this.processor = new StreamCommandProcessor(store, groupDecider, { cacheSize: 20_000 });
  }

  execute(command: GroupCommand, metadata: EventMetadata): Promise<Executed<GroupResult>> {
    return this.processor.execute(groupStream(command.groupId), command, metadata);
  }

  /**
   * The group as a check may see it: from this node's cache when confirmed within `maxAgeMs`
   * (this node's own changes are there at once; another node's within that time).
   */
  read(groupId: string, maxAgeMs: number): Promise<GroupState> {
    return this.processor.read(groupStream(groupId), maxAgeMs);
  }
}
