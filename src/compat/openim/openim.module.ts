import { Module } from '@nestjs/common';
import { CqrsModule } from '@nestjs/cqrs';
import { GroupsModule } from '../../groups/groups.module';
import { OpenImGroupCmsHttpController } from './openim-group-cms.http.controller';
import { OpenImGroupHttpController } from './openim-group.http.controller';

/**
 * OpenIM's `service group` (openim-group.proto.txt) over HTTP: `POST /group/<rpc in snake_case>`
 * with the proto's messages as JSON. Thin controllers over the group command (ChangeGroupCommand)
 * and the group read models; nothing here decides. See README.md beside this file.
 */
@Module({
  imports: [CqrsModule, GroupsModule],
  controllers: [OpenImGroupHttpController, OpenImGroupCmsHttpController],
})
export class OpenImCompatModule {}
