import { Command } from '@nestjs/cqrs';
import type { EventMetadata } from '../../../event-store/event-store.port';

export interface IssuedToken {
  readonly token: string;
  readonly registered: boolean;
}

/** Issue a token for a user, registering the user on first use (the gateway's inner get_token). */
export class IssueTokenCommand extends Command<IssuedToken> {
  constructor(
    readonly uid: string,
    readonly platform: number,
    readonly metadata: EventMetadata,
  ) {
    super();
  }
}
