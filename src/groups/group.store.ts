import { Injectable } from '@nestjs/common';
import { Executed, StreamCommandProcessor } from '../common/stream-command-processor';
import { EventMetadata, EventStore } from '../event-store/event-store.port';
import { ExistingGroup, GroupCommand, groupDecider, GroupResult, GroupState } from './domain/group';
import { GroupErrors } from './groups.errors';
import { groupStream } from './groups.events';

/**
 * How stale a check against a group may be (a send, a read's authorization, an ack). This node's
 * own changes are seen at once; another node's within this time.
 */
export const GROUP_CHECK_MAX_AGE_MS = 1_000;

/** The group aggregates: every group change, and the checks of sends and reads. */
@Injectable()
export class GroupStore {
  private readonly processor: StreamCommandProcessor<GroupState, GroupCommand, GroupResult>;

  constructor(store: EventStore) {
    this.processor = new StreamCommandProcessor(store, groupDecider, { cacheSize: 20_000 });
  }

  execute(command: GroupCommand, metadata: EventMetadata): Promise<Executed<GroupResult>> {
    return this.processor.execute(groupStream(command.groupId), command, metadata);
  }

  /** The group as a check may see it (within {@link GROUP_CHECK_MAX_AGE_MS}). */
  read(groupId: string): Promise<GroupState> {
    return this.processor.read(groupStream(groupId), GROUP_CHECK_MAX_AGE_MS);
  }

  /** The group, or 26001. */
  async existing(groupId: string): Promise<ExistingGroup> {
    const g = await this.read(groupId);
    if (g.status !== 'exists') throw GroupErrors.notFound(groupId);
    return g;
  }

  /** The group, if `uid` may read its members: a member, or anyone if it is open (26002). */
  async readableBy(groupId: string, uid: string): Promise<ExistingGroup> {
    const g = await this.existing(groupId);
    if (!g.members.has(uid) && g.info.joinPolicy !== 'open') throw GroupErrors.notMember(groupId);
    return g;
  }
}
