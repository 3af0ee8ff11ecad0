import { Command } from '@nestjs/cqrs';
import type { EventMetadata } from '../../../event-store/event-store.port';
import type { SessionType } from '../../../messaging/messaging.events';

/** Which per-session setting: pinned (the seed's SetTop), do-not-disturb, trusted (not intercepted). */
export type SessionFlag = 'top' | 'dnd' | 'trust';

/** Turns one of a session's settings on or off. Setting what is already set writes nothing. */
export class SetSessionFlagCommand extends Command<{ changed: boolean }> {
  constructor(
    readonly ownerUid: string,
    readonly sessionType: SessionType,
    readonly talkerId: string,
    readonly flag: SessionFlag,
    readonly on: boolean,
    readonly metadata: EventMetadata,
  ) {
    super();
  }
}
