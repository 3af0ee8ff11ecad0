import { Body, Controller, HttpCode, Post, UseGuards } from '@nestjs/common';
import { CommandBus } from '@nestjs/cqrs';
import { ApiHeader, ApiOperation, ApiSecurity, ApiTags } from '@nestjs/swagger';
import { AdminKeyGuard } from '../../accounts/auth.guards';
import { Public, RequestMetadata } from '../../common/http/request-context';
import { Clock } from '../../core/clock';
import type { EventMetadata } from '../../event-store/event-store.port';
import {
  ChangeGroupCommand,
  GroupChange,
  GroupChanged,
} from '../../groups/commands/change-group/change-group.command';
import { GroupReader, GroupView, MemberView } from '../../groups/group-reader';
import { GroupErrors } from '../../groups/groups.errors';
import { ROLE_OWNER } from '../../groups/groups.events';
import {
  AddGroupMembersCmsReqDto,
  CmsGroupIdReqDto,
  GetGroupMembersCmsReqDto,
  GetGroupReqDto,
  GetGroupsReqDto,
  OperateGroupStatusReqDto,
  OperateUserRoleReqDto,
  RemoveGroupMembersCmsReqDto,
} from './openim-group.dto';
import {
  allMembers,
  cmsGroup,
  memberOfView,
  pageRequest,
  parseGroupCursor,
  parseMemberCursor,
  successAndFailed,
} from './openim-group.mapping';

const ADMIN = { kind: 'admin' } as const;

/**
 * The CMS rpcs of OpenIM's `service group` (GetGroupById … AddGroupMembersCMS) at
 * `POST /group/<rpc in snake_case>`, for administrators (X-Admin-Key), who act as every group's
 * owner. Paged lists take RequestPagination and also an extra `Cursor` (keyset paging): see
 * README.md beside this file.
 */
@ApiTags('openim (group)')
@ApiHeader({ name: 'X-Admin-Key', required: true })
@ApiSecurity('admin-key')
@Public()
@UseGuards(AdminKeyGuard)
@Controller('group')
export class OpenImGroupCmsHttpController {
  constructor(
    private readonly commands: CommandBus,
    private readonly reader: GroupReader,
    private readonly clock: Clock,
  ) {}

  private change(change: GroupChange, m: EventMetadata): Promise<GroupChanged> {
    return this.commands.execute(new ChangeGroupCommand(change, m));
  }

  private async existing(groupId: string): Promise<GroupView> {
    const [group] = await this.reader.groups([groupId]);
    if (!group) throw GroupErrors.notFound(groupId);
    return group;
  }

  /** A page of the group search: by Cursor, else by PageNumber (skipping with one keyset read). */
  private async searchPage(dto: GetGroupReqDto) {
    const page = pageRequest(dto.Pagination, dto.Cursor !== undefined);
    const name = dto.GroupName || undefined;
    let after = dto.Cursor !== undefined ? parseGroupCursor(dto.Cursor) : undefined;
    if (page.skip > 0) {
      const skipped = await this.reader.search({ name, size: page.skip });
      if (skipped.next === null) {
        return { page, groups: [] as GroupView[], total: skipped.total, next: null };
      }
      after = parseGroupCursor(skipped.next);
    }
    const found = await this.reader.search({ name, after, size: page.showNumber });
    return { page, groups: found.groups, total: found.total, next: found.next };
  }

  @Post('get_group_by_id')
  @HttpCode(200)
  @ApiOperation({ summary: 'GetGroupById (admin key): the CMSGroup; 26001 when there is none' })
  async getGroupById(@Body() dto: CmsGroupIdReqDto) {
    return { CMSGroup: cmsGroup(await this.existing(dto.GroupId)) };
  }

  @Post('get_group')
  @HttpCode(200)
  @ApiOperation({
    summary:
      'GetGroup (admin key): groups whose name contains GroupName (any case), newest first; ' +
      'GroupNums is the number found; NextCursor (extra) pages on',
  })
  async getGroup(@Body() dto: GetGroupReqDto) {
    const r = await this.searchPage(dto);
    return {
      CMSGroups: r.groups.map(cmsGroup),
      Pagination: { PageNumber: r.page.pageNumber, ShowNumber: r.page.showNumber },
      GroupNums: r.total,
      NextCursor: r.next ?? '',
    };
  }

  @Post('get_groups')
  @HttpCode(200)
  @ApiOperation({
    summary: 'GetGroups (admin key): every group, newest first; GroupNum is their number',
  })
  async getGroups(@Body() dto: GetGroupsReqDto) {
    const r = await this.searchPage(dto);
    return {
      CMSGroups: r.groups.map(cmsGroup),
      Pagination: { PageNumber: r.page.pageNumber, ShowNumber: r.page.showNumber },
      GroupNum: r.total,
      NextCursor: r.next ?? '',
    };
  }

  @Post('operate_group_status')
  @HttpCode(200)
  @ApiOperation({
    summary: 'OperateGroupStatus (admin key): 0 normal, 1 banned, 2 dismissed, 3 muted',
  })
  async operateGroupStatus(
    @Body() dto: OperateGroupStatusReqDto,
    @RequestMetadata() m: EventMetadata,
  ) {
    await this.change(
      { kind: 'SetGroupStatus', groupId: dto.GroupId, actor: ADMIN, groupStatus: dto.Status },
      m,
    );
    return {};
  }

  @Post('operate_user_role')
  @HttpCode(200)
  @ApiOperation({
    summary:
      'OperateUserRole (admin key): RoleLevel 1 member, 3 admin; 2 transfers the ownership; ' +
      "the owner's own role cannot change (26003)",
  })
  async operateUserRole(@Body() dto: OperateUserRoleReqDto, @RequestMetadata() m: EventMetadata) {
    await this.change(
      dto.RoleLevel === ROLE_OWNER
        ? {
            kind: 'TransferOwner',
            groupId: dto.GroupId,
            actor: ADMIN,
            fromUid: null,
            toUid: dto.UserId,
          }
        : {
            kind: 'SetMemberRole',
            groupId: dto.GroupId,
            actor: ADMIN,
            uid: dto.UserId,
            roleLevel: dto.RoleLevel,
          },
      m,
    );
    return {};
  }

  @Post('delete_group')
  @HttpCode(200)
  @ApiOperation({ summary: 'DeleteGroup (admin key): dismisses the group (status 2)' })
  async deleteGroup(@Body() dto: CmsGroupIdReqDto, @RequestMetadata() m: EventMetadata) {
    await this.change({ kind: 'DismissGroup', groupId: dto.GroupId, actor: ADMIN }, m);
    return {};
  }

  @Post('get_group_members_cms')
  @HttpCode(200)
  @ApiOperation({
    summary:
      'GetGroupMembersCMS (admin key): members in join order, UserName filters by user id; ' +
      'MemberNums is the number matching; NextCursor (extra) pages on',
  })
  async getGroupMembersCms(@Body() dto: GetGroupMembersCmsReqDto) {
    const group = await this.existing(dto.GroupId);
    const page = pageRequest(dto.Pagination, dto.Cursor !== undefined);
    const afterCursor = dto.Cursor !== undefined ? parseMemberCursor(dto.Cursor) : 0;
    const nowUs = this.clock.nowUs();
    let members: MemberView[];
    let total: number;
    let next: number | null;
    if (dto.UserName) {
      // No name index: the group's members (at most GROUP_MAX_MEMBERS) filtered here.
      const needle = dto.UserName.toLowerCase();
      const matching = (await allMembers(this.reader, dto.GroupId, nowUs)).filter((x) =>
        x.uid.toLowerCase().includes(needle),
      );
      total = matching.length;
      const rest = matching.filter((x) => x.member_seq > afterCursor);
      const end = page.skip + page.showNumber;
      members = rest.slice(page.skip, end);
      next = rest.length > end ? members[members.length - 1].member_seq : null;
    } else {
      let afterSeq = afterCursor;
      if (page.skip > 0) {
        const skipped = await this.reader.members(dto.GroupId, {
          afterSeq: 0,
          size: page.skip,
          nowUs,
        });
        afterSeq = skipped.nextSeq ?? Number.MAX_SAFE_INTEGER;
      }
      const r = await this.reader.members(dto.GroupId, {
        afterSeq,
        size: page.showNumber,
        nowUs,
      });
      members = r.members;
      next = r.nextSeq;
      total = group.member_count;
    }
    return {
      members: members.map(memberOfView),
      Pagination: { CurrentPage: page.pageNumber, ShowNumber: page.showNumber },
      MemberNums: total,
      NextCursor: next === null ? '' : String(next),
    };
  }

  @Post('remove_group_members_cms')
  @HttpCode(200)
  @ApiOperation({
    summary: 'RemoveGroupMembersCMS (admin key): success and failed user ids (never the owner)',
  })
  async removeGroupMembersCms(
    @Body() dto: RemoveGroupMembersCmsReqDto,
    @RequestMetadata() m: EventMetadata,
  ) {
    const changed = await this.change(
      { kind: 'RemoveMembers', groupId: dto.GroupId, actor: ADMIN, uids: dto.UserIds, reason: '' },
      m,
    );
    return successAndFailed(changed.results);
  }

  @Post('add_group_members_cms')
  @HttpCode(200)
  @ApiOperation({
    summary:
      'AddGroupMembersCMS (admin key): success and failed user ids (unknown users, members, full)',
  })
  async addGroupMembersCms(
    @Body() dto: AddGroupMembersCmsReqDto,
    @RequestMetadata() m: EventMetadata,
  ) {
    const changed = await this.change(
      { kind: 'AddMembers', groupId: dto.GroupId, actor: ADMIN, uids: dto.UserIds },
      m,
    );
    return successAndFailed(changed.results);
  }
}
