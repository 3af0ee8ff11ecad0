import { CommandHandler, ICommandHandler } from '@nestjs/cqrs';
import { UserDirectory } from '../../../accounts/user-directory';
import { Errors } from '../../../common/errors';
import { Clock } from '../../../core/clock';
import { KeyRing } from '../../../crypto/key-ring';
import { UserRelationsStore } from '../../user-relations.store';
import { UpdateProfileCommand } from './update-profile.command';

/**
 * Creates or updates a profile; a user who did not exist is registered with it. An erased user's
 * profile is refused (410, 41000): its name and face are plain in the log, and an erasure empties
 * nothing written after it.
 */
@CommandHandler(UpdateProfileCommand)
export class UpdateProfileHandler implements ICommandHandler<
  UpdateProfileCommand,
  { registered: boolean }
> {
  constructor(
    private readonly relations: UserRelationsStore,
    private readonly users: UserDirectory,
    private readonly clock: Clock,
    private readonly keyRing: KeyRing,
  ) {}

  async execute(c: UpdateProfileCommand): Promise<{ registered: boolean }> {
    // One query: profiles are set by administrators, rarely.
    if ((await this.keyRing.destroyedAmong([c.uid])).has(c.uid)) throw Errors.accountErased(c.uid);
    const existed = await this.users.exists(c.uid);
    await this.relations.execute(
      {
        kind: 'UpdateProfile',
        uid: c.uid,
        name: c.profile.name,
        face: c.profile.face,
        officialType: c.profile.official_type,
        systemMsgType: c.profile.system_msg_type,
        nowUs: this.clock.nowUs(),
      },
      c.metadata,
    );
    this.users.remember(c.uid);
    return { registered: !existed };
  }
}
