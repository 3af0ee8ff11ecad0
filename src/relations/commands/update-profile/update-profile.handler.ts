import { CommandHandler, ICommandHandler } from '@nestjs/cqrs';
import { UserDirectory } from '../../../accounts/user-directory';
import { Clock } from '../../../core/clock';
import { UserRelationsStore } from '../../user-relations.store';
import { UpdateProfileCommand } from './update-profile.command';

/** Creates or updates a profile; a user who did not exist is registered with it. */
@CommandHandler(UpdateProfileCommand)
export class UpdateProfileHandler implements ICommandHandler<
  UpdateProfileCommand,
  { registered: boolean }
> {
  constructor(
    private readonly relations: UserRelationsStore,
    private readonly users: UserDirectory,
    private readonly clock: Clock,
  ) {}

  async execute(c: UpdateProfileCommand): Promise<{ registered: boolean }> {
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
