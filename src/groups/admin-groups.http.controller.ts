import {
  Body,
  Controller,
  Delete,
  Get,
  HttpCode,
  Param,
  Post,
  Put,
  Query,
  UseGuards,
} from '@nestjs/common';
import { CommandBus } from '@nestjs/cqrs';
import { ApiHeader, ApiOperation, ApiTags } from '@nestjs/swagger';
import { AdminKeyGuard } from '../accounts/auth.guards';
import { Errors } from '../common/errors';
import { Public, RequestMetadata } from '../common/http/request-context';
import { Clock } from '../core/clock';
import type { EventMetadata } from '../event-store/event-store.port';
import {
  ChangeGroupCommand,
  GroupChange,
  GroupChanged,
} from './commands/change-group/change-group.command';
import { GroupReader } from './group-reader';
import { GroupErrors } from './groups.errors';
import { changedView, createChange } from './groups.http.controller';
import {
  AdminCreateGroupDto,
  GroupMemberParamsDto,
  GroupParamsDto,
  GroupSearchDto,
  GroupStatusDto,
  MemberPageDto,
  SetRoleDto,
  TransferOwnerDto,
  UidListDto,
} from './groups.request.dto';

const ADMIN = { kind: 'admin' } as const;

/** A search cursor: `<created_at_us>.<group_id>` of the last group of the previous page. */
function parseSearchCursor(cursor: string | undefined) {
  if (cursor === undefined) return undefined;
  const m = /^(\d{1,16})\.([A-Za-z0-9_]{1,64})$/.exec(cursor);
  if (!m) throw Errors.validation('cursor: pass back next_cursor of the previous page');
  return { createdAtUs: Number(m[1]), groupId: m[2] };
}

/**
 * OpenIM's CMS operations and TeamTalk's normal groups, for administrators (X-Admin-Key): they
 * act as every group's owner, may ban groups and create normal (non-temporary) ones.
 */
@ApiTags('groups (admin)')
@ApiHeader({ name: 'X-Admin-Key', required: true })
@Public()
@UseGuards(AdminKeyGuard)
@Controller('admin/v1/groups')
export class AdminGroupsHttpController {
  constructor(
    private readonly commands: CommandBus,
    private readonly reader: GroupReader,
    private readonly clock: Clock,
  ) {}

  private run(change: GroupChange, m: EventMetadata): Promise<GroupChanged> {
    return this.commands.execute(new ChangeGroupCommand(change, m));
  }

  @Post()
  @ApiOperation({ summary: 'Create a group (normal unless temporary: true) for its owner' })
  async create(@Body() dto: AdminCreateGroupDto, @RequestMetadata() m: EventMetadata) {
    return changedView(await this.run(createChange(dto, ADMIN, dto.owner_uid), m));
  }

  @Get()
  @ApiOperation({ summary: 'Search groups by name, or list all, newest first, paged by cursor' })
  async search(@Query() q: GroupSearchDto) {
    const found = await this.reader.search({
      name: q.name,
      after: parseSearchCursor(q.cursor),
      size: q.size ?? 50,
    });
    return { groups: found.groups, total: found.total, next_cursor: found.next };
  }

  @Get(':group_id')
  @ApiOperation({ summary: 'One group (OpenIM GetGroupById)' })
  async one(@Param() p: GroupParamsDto) {
    const [group] = await this.reader.groups([p.group_id]);
    if (!group) throw GroupErrors.notFound(p.group_id);
    return group;
  }

  @Get(':group_id/members')
  @ApiOperation({ summary: 'Members in join order, paged by member_seq' })
  async members(@Param() p: GroupParamsDto, @Query() q: MemberPageDto) {
    const [group] = await this.reader.groups([p.group_id]);
    if (!group) throw GroupErrors.notFound(p.group_id);
    const page = await this.reader.members(p.group_id, {
      afterSeq: q.cursor ?? 0,
      size: q.size ?? 100,
      roleLevel: q.role_level,
      nowUs: this.clock.nowUs(),
    });
    return { members: page.members, next_cursor: page.nextSeq };
  }

  @Put(':group_id/status')
  @ApiOperation({ summary: 'Set the status: 0 normal, 1 banned, 2 dismissed, 3 muted' })
  async status(
    @Param() p: GroupParamsDto,
    @Body() dto: GroupStatusDto,
    @RequestMetadata() m: EventMetadata,
  ) {
    return changedView(
      await this.run(
        { kind: 'SetGroupStatus', groupId: p.group_id, actor: ADMIN, groupStatus: dto.status },
        m,
      ),
    );
  }

  @Put(':group_id/members/:uid/role')
  @ApiOperation({ summary: "Set a member's role (the owner's cannot change: 26003)" })
  async role(
    @Param() p: GroupMemberParamsDto,
    @Body() dto: SetRoleDto,
    @RequestMetadata() m: EventMetadata,
  ) {
    return changedView(
      await this.run(
        {
          kind: 'SetMemberRole',
          groupId: p.group_id,
          actor: ADMIN,
          uid: p.uid,
          roleLevel: dto.role_level,
        },
        m,
      ),
    );
  }

  @Put(':group_id/owner')
  @ApiOperation({ summary: 'Transfer the ownership to a member' })
  async transfer(
    @Param() p: GroupParamsDto,
    @Body() dto: TransferOwnerDto,
    @RequestMetadata() m: EventMetadata,
  ) {
    return changedView(
      await this.run(
        { kind: 'TransferOwner', groupId: p.group_id, actor: ADMIN, fromUid: null, toUid: dto.uid },
        m,
      ),
    );
  }

  @Delete(':group_id')
  @ApiOperation({ summary: 'Dismiss (delete) the group' })
  async dismiss(@Param() p: GroupParamsDto, @RequestMetadata() m: EventMetadata) {
    return changedView(
      await this.run({ kind: 'DismissGroup', groupId: p.group_id, actor: ADMIN }, m),
    );
  }

  @Post(':group_id/members')
  @HttpCode(200)
  @ApiOperation({ summary: 'Add members: the users added and those that were not' })
  async add(
    @Param() p: GroupParamsDto,
    @Body() dto: UidListDto,
    @RequestMetadata() m: EventMetadata,
  ) {
    const changed = await this.run(
      { kind: 'AddMembers', groupId: p.group_id, actor: ADMIN, uids: dto.uids },
      m,
    );
    return { ...changedView(changed), ...successAndFailed(changed) };
  }

  @Post(':group_id/members/remove')
  @HttpCode(200)
  @ApiOperation({ summary: 'Remove members: the users removed and those that were not' })
  async remove(
    @Param() p: GroupParamsDto,
    @Body() dto: UidListDto,
    @RequestMetadata() m: EventMetadata,
  ) {
    const changed = await this.run(
      { kind: 'RemoveMembers', groupId: p.group_id, actor: ADMIN, uids: dto.uids, reason: '' },
      m,
    );
    return { ...changedView(changed), ...successAndFailed(changed) };
  }
}

export function successAndFailed(changed: GroupChanged) {
  return {
    success: changed.results.filter((r) => r.result === 0).map((r) => r.uid),
    failed: changed.results.filter((r) => r.result !== 0).map((r) => r.uid),
  };
}
