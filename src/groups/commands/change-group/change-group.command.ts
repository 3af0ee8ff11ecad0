import { Command } from '@nestjs/cqrs';
import type { EventMetadata, Position } from '../../../event-store/event-store.port';
import type { GroupCommand, GroupResult } from '../../domain/group';

/** What a caller asks; the handler adds the time, the command id and the configured limits. */
export type GroupChange = GroupCommand extends infer C
  ? C extends GroupCommand
    ? Omit<C, 'nowUs' | 'commandId' | 'maxMembers' | 'unknown'>
    : never
  : never;

export interface GroupChanged extends GroupResult {
  /** Position of the last event written, or null when nothing was written. */
  readonly position: Position | null;
}

/** Any change to a group: create, info, join, applications, members, roles, mutes, status. */
export class ChangeGroupCommand extends Command<GroupChanged> {
  constructor(
    readonly change: GroupChange,
    readonly metadata: EventMetadata,
  ) {
    super();
  }
}
