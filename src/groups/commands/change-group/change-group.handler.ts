import { Inject } from '@nestjs/common';
import { CommandHandler, ICommandHandler } from '@nestjs/cqrs';
import { randomUUID } from 'node:crypto';
import { UserDirectory } from '../../../accounts/user-directory';
import { Errors } from '../../../common/errors';
import { APP_SETTINGS, AppSettings } from '../../../config/app-config';
import { Clock } from '../../../core/clock';
import { DomainError } from '../../../common/errors';
import { MsgKeyGenerator } from '../../../common/ids';
import { KeyRing } from '../../../crypto/key-ring';
import type { EventMetadata } from '../../../event-store/event-store.port';
import type { CreateGroup, GroupCommand } from '../../domain/group';
import { GroupErrors } from '../../groups.errors';
import { GroupStore } from '../../group.store';
import { ChangeGroupCommand, GroupChange, GroupChanged } from './change-group.command';

const GENERATED_ID_ATTEMPTS = 3;

/**
 * Runs a group change through the group aggregate. Users named by a create must exist (40401);
 * users named by an add or invite that do not exist are refused one by one, as OpenIM's
 * Id2Result has it. An erased user cannot write words into a group (410, 41000): see
 * {@link authoredText}.
 */
@CommandHandler(ChangeGroupCommand)
export class ChangeGroupHandler implements ICommandHandler<ChangeGroupCommand, GroupChanged> {
  constructor(
    private readonly groups: GroupStore,
    private readonly users: UserDirectory,
    private readonly clock: Clock,
    private readonly ids: MsgKeyGenerator,
    @Inject(APP_SETTINGS) private readonly settings: AppSettings,
    private readonly keyRing: KeyRing,
  ) {}

  async execute({ change, metadata }: ChangeGroupCommand): Promise<GroupChanged> {
    if (change.actor.kind === 'user' && authoredText(change).some((t) => (t ?? '') !== '')) {
      const { uid } = change.actor;
      if ((await this.keyRing.destroyedAmong([uid])).has(uid)) throw Errors.accountErased(uid);
    }
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

/**
 * The free text a change carries, written by its actor. It is stored plain in the group's events
 * (only message content is sealed), and an erasure empties it in the read models only up to the
 * `UserErased` event: what an erased user wrote after it would stay readable. So a change by an
 * erased user that carries any is refused (the database's destroyed key says who is erased; one
 * query, made only for such changes); one without words (quit, a join without a message) is not.
 */
function authoredText(change: GroupChange): (string | undefined | null)[] {
  switch (change.kind) {
    case 'CreateGroup':
      return [change.name, change.faceUrl, change.introduction, change.notification, change.ex];
    case 'SetGroupInfo': {
      const { name, faceUrl, introduction, notification, ex } = change.changes;
      return [name, faceUrl, introduction, notification, ex];
    }
    case 'JoinGroup':
      return [change.reqMessage];
    case 'HandleApplication':
      return [change.handledMsg];
    case 'RemoveMembers':
      return [change.reason];
    case 'QuitGroup':
    case 'AddMembers':
    case 'TransferOwner':
    case 'SetMemberRole':
    case 'MuteMember':
    case 'SetGroupStatus':
    case 'DismissGroup':
      return [];
    default: {
      // A new kind of change says here which words it carries.
      const unknown: never = change;
      return unknown;
    }
  }
}
