import { CommandHandler, ICommandHandler } from '@nestjs/cqrs';
import { Clock } from '../../../core/clock';
import { SessionEventsWriter } from '../../session-events.writer';
import { SessionLookup, SessionState } from '../../session-lookup';
import {
  SESSION_DND_SET,
  SESSION_TOP_SET,
  SESSION_TRUST_SET,
  SessionDndSetData,
  SessionTopSetData,
  SessionTrustSetData,
} from '../../sessions.events';
import { SessionFlag, SetSessionFlagCommand } from './set-session-flag.command';

const IS_ON: Record<SessionFlag, (s: SessionState) => boolean> = {
  top: (s) => s.topTs > 0,
  dnd: (s) => s.isDnd,
  trust: (s) => s.isTrust,
};

@CommandHandler(SetSessionFlagCommand)
export class SetSessionFlagHandler implements ICommandHandler<
  SetSessionFlagCommand,
  { changed: boolean }
> {
  constructor(
    private readonly sessions: SessionLookup,
    private readonly writer: SessionEventsWriter,
    private readonly clock: Clock,
  ) {}

  /**
   * Always records the setting asked for, even when the read model says it is already so: the read
   * model may lag a change made a moment ago (here or on another node), and skipping the write
   * would then lose this one. The projection applies settings in log order, last one wins.
   * `changed` says whether the read model held another value.
   */
  async execute(c: SetSessionFlagCommand): Promise<{ changed: boolean }> {
    const session = await this.sessions.require(c.ownerUid, c.sessionType, c.talkerId);
    const changed = IS_ON[c.flag](session) !== c.on;
    const ref = { ownerUid: c.ownerUid, sessionType: c.sessionType, talkerId: c.talkerId };
    switch (c.flag) {
      case 'top': {
        const data: SessionTopSetData = { ...ref, topTs: c.on ? this.clock.nowUs() : 0 };
        await this.writer.append(c.ownerUid, SESSION_TOP_SET, data, c.metadata);
        break;
      }
      case 'dnd': {
        const data: SessionDndSetData = { ...ref, dnd: c.on };
        await this.writer.append(c.ownerUid, SESSION_DND_SET, data, c.metadata);
        break;
      }
      case 'trust': {
        const data: SessionTrustSetData = { ...ref, trusted: c.on };
        await this.writer.append(c.ownerUid, SESSION_TRUST_SET, data, c.metadata);
        break;
      }
      default: {
        const never: never = c.flag;
        throw new Error(`unknown session flag ${String(never)}`);
      }
    }
    return { changed };
  }
}
