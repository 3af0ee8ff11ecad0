import { CommandHandler, ICommandHandler } from '@nestjs/cqrs';
import { UserDirectory } from '../../../accounts/user-directory';
import { Errors } from '../../../common/errors';
import { Clock } from '../../../core/clock';
import { UserRelationsStore } from '../../user-relations.store';
import {
  ChangeRelationCommand,
  RelationChanged,
  SetPrivacyCommand,
} from './change-relation.command';

@CommandHandler(ChangeRelationCommand)
export class ChangeRelationHandler implements ICommandHandler<
  ChangeRelationCommand,
  RelationChanged
> {
  constructor(
    private readonly relations: UserRelationsStore,
    private readonly users: UserDirectory,
    private readonly clock: Clock,
  ) {}

  async execute(c: ChangeRelationCommand): Promise<RelationChanged> {
    if (c.targetUid !== c.uid && !(await this.users.exists(c.targetUid))) {
      throw Errors.userNotFound(c.targetUid);
    }
    const { result } = await this.relations.execute(
      {
        kind: 'ChangeRelation',
        uid: c.uid,
        targetUid: c.targetUid,
        op: c.op,
        nowUs: this.clock.nowUs(),
      },
      c.metadata,
    );
    return result;
  }
}

@CommandHandler(SetPrivacyCommand)
export class SetPrivacyHandler implements ICommandHandler<SetPrivacyCommand, { changed: boolean }> {
  constructor(
    private readonly relations: UserRelationsStore,
    private readonly clock: Clock,
  ) {}

  async execute(c: SetPrivacyCommand): Promise<{ changed: boolean }> {
    const { result } = await this.relations.execute(
      {
        kind: 'SetPrivacy',
        uid: c.uid,
        followedOnly: c.followedOnly,
        intercept: c.intercept,
        nowUs: this.clock.nowUs(),
      },
      c.metadata,
    );
    return { changed: result.changed };
  }
}
