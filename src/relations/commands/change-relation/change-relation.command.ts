import { Command } from '@nestjs/cqrs';
import type { EventMetadata } from '../../../event-store/event-store.port';

export type RelationOpName = 'follow' | 'unfollow' | 'block' | 'unblock';

export interface RelationChanged {
  /** False when the relation already was as asked (nothing written). */
  readonly changed: boolean;
  /** The caller's relation op-log sequence number afterwards. */
  readonly oplogSeqno: number;
}

/** Follow, unfollow, block or unblock another user: an event on the caller's own stream. */
export class ChangeRelationCommand extends Command<RelationChanged> {
  constructor(
    readonly uid: string,
    readonly targetUid: string,
    readonly op: RelationOpName,
    readonly metadata: EventMetadata,
  ) {
    super();
  }
}

/** The caller's privacy settings: followed-only messages (25003) and intercepting strangers. */
export class SetPrivacyCommand extends Command<{ changed: boolean }> {
  constructor(
    readonly uid: string,
    readonly followedOnly: boolean | undefined,
    readonly intercept: boolean | undefined,
    readonly metadata: EventMetadata,
  ) {
    super();
  }
}
