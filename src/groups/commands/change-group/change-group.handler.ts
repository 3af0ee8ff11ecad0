import { Inject } from '@nestjs/common';
import { CommandHandler, ICommandHandler } from '@nestjs/cqrs';
import { randomUUID } from 'node:crypto';
import { UserDirectory } from '../../../accounts/user-directory';
import { Errors } from '../../../common/errors';
import { APP_SETTINGS, AppSettings } from '../../../config/app-config';
import { Clock } from '../../../core/clock';
import { DomainError } from '../../../common/errors';
import { MsgKeyGenerator } from '../../../common/ids';
import type { EventMetadata } from '../../../event-store/event-store.port';
import type { CreateGroup, GroupCommand } from '../../domain/group';
import { GroupErrors } from '../../groups.errors';
import { GroupStore } from '../../group.store';
import { ChangeGroupCommand, GroupChanged } from './change-group.command';

const GENERATED_ID_ATTEMPTS = 3;

/**
 * Runs a group change through the group aggregate. Users named by a create must exist (40401);
 * users named by an add or invite that do not exist are refused one by one, as OpenIM's
 * Id2Result has it.
 */
@CommandHandler(ChangeGroupCommand)
export class ChangeGroupHandler implements ICommandHandler<ChangeGroupCommand, GroupChanged> {
  constructor(
    private readonly groups: GroupStore,
    private readonly users: UserDirectory,
    private readonly clock: Clock,
    private readonly ids: MsgKeyGenerator,
    @Inject(APP_SETTINGS) private readonly settings: AppSettings,
  ) {}

  async execute({ change, metadata }: ChangeGroupCommand): Promise<GroupChanged> {
    const base = {
      nowUs: this.clock.nowUs(),
      commandId: randomUUID(),
      maxMembers: this.settings.config.GROUP_MAX_MEMBERS,
    };
    let command: GroupCommand;
    switch (change.kind) {
      case 'CreateGroup': {
        for (const uid of [change.ownerUid, ...change.members.map((m) => m.uid)]) {
          if (!(await this.users.exists(uid))) throw Errors.userNotFound(uid);
        }
        if (change.groupId === '')
          return this.createWithGeneratedId({ ...change, ...base }, metadata);
        command = { ...change, ...base };
        break;
      }
      case 'AddMembers': {
        const unknown = new Set<string>();
        await Promise.all(
          change.uids.map(async (uid) => {
            if (!(await this.users.exists(uid))) unknown.add(uid);
          }),
        );
        command = { ...change, ...base, unknown };
        break;
      }
      case 'HandleApplication':
      case 'JoinGroup':
        command = { ...change, ...base };
        break;
      default:
        command = { ...change, nowUs: base.nowUs, commandId: base.commandId };
    }
    const { result, position } = await this.groups.execute(command, metadata);
    return { ...result, position };
  }

  /**
   * A group whose id the server chooses. A client may have taken the id generated (ids are open
   * to clients' choice): another is drawn, a few times at most.
   */
  private async createWithGeneratedId(
    command: CreateGroup,
    metadata: EventMetadata,
  ): Promise<GroupChanged> {
    for (let attempt = 1; ; attempt++) {
      try {
        const groupId = this.ids.next();
        const { result, position } = await this.groups.execute(
          { ...command, groupId, commandId: randomUUID() },
          metadata,
        );
        return { ...result, position };
      } catch (err) {
        const taken = err instanceof DomainError && err.code === GroupErrors.codes.EXISTS;
        if (!taken || attempt >= GENERATED_ID_ATTEMPTS) throw err;
      }
    }
  }
}
