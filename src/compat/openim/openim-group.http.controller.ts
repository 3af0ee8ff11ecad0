import { Body, Controller, HttpCode, Post } from '@nestjs/common';
import { CommandBus } from '@nestjs/cqrs';
import { ApiBearerAuth, ApiOperation, ApiTags } from '@nestjs/swagger';
import { Errors } from '../../common/errors';
import { AuthUser, CurrentUser, RequestMetadata } from '../../common/http/request-context';
import { Clock } from '../../core/clock';
import type { EventMetadata } from '../../event-store/event-store.port';
import {
  ChangeGroupCommand,
  GroupChange,
  GroupChanged,
} from '../../groups/commands/change-group/change-group.command';
import type { ApplicationView, GroupView } from '../../groups/group-reader';
import { GroupReader } from '../../groups/group-reader';
import { GroupStore } from '../../groups/group.store';
import {
  ROLE_ADMIN,
  ROLE_MEMBER,
  ROLE_OWNER,
  RoleLevel,
  STATUS_DISMISSED,
} from '../../groups/groups.events';
import {
  CreateGroupReqDto,
  GetGroupApplicationListReqDto,
  GetGroupMemberListReqDto,
  GetGroupMembersInfoReqDto,
  GetGroupsInfoReqDto,
  GetJoinedGroupListReqDto,
  GetUserReqApplicationListReqDto,
  GroupApplicationResponseReqDto,
  GroupIdReqDto,
  InviteUserToGroupReqDto,
  JoinGroupReqDto,
  KickGroupMemberReqDto,
  SetGroupInfoReqDto,
  TransferGroupOwnerReqDto,
} from './openim-group.dto';
import {
  allMembers,
  commonResp,
  groupInfoOfState,
  groupInfoOfView,
  id2Results,
  JOIN_POLICY_OF,
  memberOfView,
  OK,
  OpenImGroupInfo,
  requestOfView,
} from './openim-group.mapping';

/** How stale this node's view of a group may be when it authorizes a read. */
/** get_group_member_list: members per page (OpenIM's). */
export const MEMBER_PAGE_SIZE = 100;
/** Rows per read-model query when an rpc answers a whole list. */
const BATCH = 1_000;
/** Applications one list answers (the proto has no paging): the newest ones. */
const MAX_APPLICATIONS = 1_000;

/**
 * The members' rpcs of OpenIM's `service group` at `POST /group/<rpc in snake_case>`, acting as
 * the bearer token's user. Changes are ChangeGroupCommands (the aggregate checks roles); reads go
 * to the group read models, after a membership check for the member lists of groups that are not
 * open. Errors are `{ErrCode, ErrMsg}` with a truthful HTTP status (src/common/http/error.filter.ts).
 */
@ApiTags('openim (group)')
@ApiBearerAuth()
@Controller('group')
export class OpenImGroupHttpController {
  constructor(
    private readonly commands: CommandBus,
    private readonly reader: GroupReader,
    private readonly store: GroupStore,
    private readonly clock: Clock,
  ) {}

  private change(change: GroupChange, m: EventMetadata): Promise<GroupChanged> {
    return this.commands.execute(new ChangeGroupCommand(change, m));
  }

  /** A field naming the user an rpc is about: empty (the caller) or the caller. */
  private static self(u: AuthUser, field: string, given: string | undefined): string {
    if (given && given !== u.uid) {
      throw Errors.forbidden(`${field} must be the caller (${u.uid}) or empty`);
    }
    return u.uid;
  }

  private async groupInfos(ids: readonly string[]): Promise<Map<string, OpenImGroupInfo>> {
    const groups = await this.reader.groups([...new Set(ids)]);
    return new Map(groups.map((g) => [g.group_id, groupInfoOfView(g)]));
  }

  private async requests(apps: ApplicationView[]) {
    const groups = await this.groupInfos(apps.map((a) => a.group_id));
    return apps.map((a) => requestOfView(a, groups));
  }

  @Post('create_group')
  @HttpCode(200)
  @ApiOperation({
    summary:
      'createGroup: a temporary group owned by the caller, with InitMemberList (RoleLevel 3 ' +
      'admins); answers the GroupInfo. Normal groups: POST /admin/v1/groups (admin key)',
  })
  async createGroup(
    @CurrentUser() u: AuthUser,
    @Body() dto: CreateGroupReqDto,
    @RequestMetadata() m: EventMetadata,
  ) {
    const info = dto.GroupInfo ?? {};
    const ownerUid = dto.OwnerUserID || info.OwnerUserID || u.uid;
    const members = (dto.InitMemberList ?? []).map((x): { uid: string; roleLevel: RoleLevel } => {
      if (x.RoleLevel === ROLE_OWNER && x.UserID !== ownerUid) {
        throw Errors.validation(
          `InitMemberList: ${x.UserID} cannot be the owner (RoleLevel 2): the owner is OwnerUserID`,
        );
      }
      return { uid: x.UserID, roleLevel: x.RoleLevel === ROLE_ADMIN ? ROLE_ADMIN : ROLE_MEMBER };
    });
    const created = await this.change(
      {
        kind: 'CreateGroup',
        groupId: info.GroupID || '', // '' generates one
        actor: { kind: 'user', uid: u.uid },
        name: info.GroupName ?? '',
        faceUrl: info.FaceURL ?? '',
        introduction: info.Introduction ?? '',
        notification: info.Notification ?? '',
        ex: info.Ex ?? '',
        groupType: info.GroupType ?? 0,
        temporary: true,
        joinPolicy: JOIN_POLICY_OF[info.NeedVerification ?? 0],
        ownerUid,
        members,
      },
      m,
    );
    const g = await this.store.existing(created.groupId);
    return { ...OK, GroupInfo: groupInfoOfState(g) };
  }

  @Post('join_group')
  @HttpCode(200)
  @ApiOperation({
    summary: 'joinGroup: joins at once (NeedVerification 2), applies (0) or is refused (1: 26009)',
  })
  async joinGroup(
    @CurrentUser() u: AuthUser,
    @Body() dto: JoinGroupReqDto,
    @RequestMetadata() m: EventMetadata,
  ) {
    await this.change(
      {
        kind: 'JoinGroup',
        groupId: dto.GroupID,
        actor: { kind: 'user', uid: u.uid },
        reqMessage: dto.ReqMessage ?? '',
      },
      m,
    );
    return commonResp();
  }

  @Post('quit_group')
  @HttpCode(200)
  @ApiOperation({ summary: 'quitGroup: the caller leaves (the owner transfers first: 26008)' })
  async quitGroup(
    @CurrentUser() u: AuthUser,
    @Body() dto: GroupIdReqDto,
    @RequestMetadata() m: EventMetadata,
  ) {
    await this.change(
      { kind: 'QuitGroup', groupId: dto.GroupID, actor: { kind: 'user', uid: u.uid } },
      m,
    );
    return commonResp();
  }

  @Post('get_groups_info')
  @HttpCode(200)
  @ApiOperation({
    summary: 'getGroupsInfo: the groups that exist among GroupIDList, in order (no membership)',
  })
  async getGroupsInfo(@Body() dto: GetGroupsInfoReqDto) {
    const groups = await this.reader.groups([...new Set(dto.GroupIDList)]);
    return { ...OK, GroupInfoList: groups.map(groupInfoOfView) };
  }

  @Post('set_group_info')
  @HttpCode(200)
  @ApiOperation({
    summary:
      'setGroupInfo (owner or admin): GroupName, Notification, Introduction, FaceURL, Ex when ' +
      'non-empty; NeedVerification when present',
  })
  async setGroupInfo(
    @CurrentUser() u: AuthUser,
    @Body() dto: SetGroupInfoReqDto,
    @RequestMetadata() m: EventMetadata,
  ) {
    const i = dto.GroupInfo;
    // OpenIM's setGroupInfo: an empty text is "unchanged" (proto3 cannot tell it from unset).
    const text = (v: string | undefined) => (v ? v : undefined);
    await this.change(
      {
        kind: 'SetGroupInfo',
        groupId: i.GroupID,
        actor: { kind: 'user', uid: u.uid },
        changes: {
          name: text(i.GroupName),
          notification: text(i.Notification),
          introduction: text(i.Introduction),
          faceUrl: text(i.FaceURL),
          ex: text(i.Ex),
          joinPolicy:
            i.NeedVerification === undefined ? undefined : JOIN_POLICY_OF[i.NeedVerification],
        },
      },
      m,
    );
    return commonResp();
  }

  @Post('get_group_application_list')
  @HttpCode(200)
  @ApiOperation({
    summary:
      'getGroupApplicationList: pending applications to the groups the caller owns or ' +
      'administers, newest first (at most 1000)',
  })
  async getGroupApplicationList(
    @CurrentUser() u: AuthUser,
    @Body() dto: GetGroupApplicationListReqDto,
  ) {
    const uid = OpenImGroupHttpController.self(u, 'FromUserID', dto.FromUserID);
    const { applications: apps } = await this.reader.applicationsToManage(uid, MAX_APPLICATIONS);
    return { ...OK, GroupRequestList: await this.requests(apps) };
  }

  @Post('get_user_req_application_list')
  @HttpCode(200)
  @ApiOperation({
    summary:
      "getUserReqApplicationList: the caller's own applications, handled or not, newest first",
  })
  async getUserReqApplicationList(
    @CurrentUser() u: AuthUser,
    @Body() dto: GetUserReqApplicationListReqDto,
  ) {
    const uid = OpenImGroupHttpController.self(u, 'UserID', dto.UserID);
    const { applications: apps } = await this.reader.applicationsOf(uid, MAX_APPLICATIONS);
    return { CommonResp: { ...OK }, GroupRequestList: await this.requests(apps) };
  }

  @Post('transfer_group_owner')
  @HttpCode(200)
  @ApiOperation({ summary: 'transferGroupOwner (owner): NewOwnerUserID must be a member' })
  async transferGroupOwner(
    @CurrentUser() u: AuthUser,
    @Body() dto: TransferGroupOwnerReqDto,
    @RequestMetadata() m: EventMetadata,
  ) {
    await this.change(
      {
        kind: 'TransferOwner',
        groupId: dto.GroupID,
        actor: { kind: 'user', uid: u.uid },
        fromUid: dto.OldOwnerUserID || null,
        toUid: dto.NewOwnerUserID,
      },
      m,
    );
    return commonResp();
  }

  @Post('group_application_response')
  @HttpCode(200)
  @ApiOperation({
    summary: 'groupApplicationResponse (owner or admin): HandleResult 1 accepts, -1 refuses',
  })
  async groupApplicationResponse(
    @CurrentUser() u: AuthUser,
    @Body() dto: GroupApplicationResponseReqDto,
    @RequestMetadata() m: EventMetadata,
  ) {
    await this.change(
      {
        kind: 'HandleApplication',
        groupId: dto.GroupID,
        actor: { kind: 'user', uid: u.uid },
        uid: dto.FromUserID,
        result: dto.HandleResult,
        handledMsg: dto.HandledMsg ?? '',
      },
      m,
    );
    return commonResp();
  }

  @Post('get_group_member_list')
  @HttpCode(200)
  @ApiOperation({
    summary:
      'getGroupMemberList: 100 members per page in join order; Filter 0 all or a RoleLevel; ' +
      'NextSeq 0 first page, nextSeq 0 on the last',
  })
  async getGroupMemberList(@CurrentUser() u: AuthUser, @Body() dto: GetGroupMemberListReqDto) {
    await this.store.readableBy(dto.GroupID, u.uid);
    const page = await this.reader.members(dto.GroupID, {
      afterSeq: dto.NextSeq ?? 0,
      size: MEMBER_PAGE_SIZE,
      roleLevel: dto.Filter || undefined,
      nowUs: this.clock.nowUs(),
    });
    return { ...OK, memberList: page.members.map(memberOfView), nextSeq: page.nextSeq ?? 0 };
  }

  @Post('get_group_members_info')
  @HttpCode(200)
  @ApiOperation({ summary: 'getGroupMembersInfo: those of memberList that are members, in order' })
  async getGroupMembersInfo(@CurrentUser() u: AuthUser, @Body() dto: GetGroupMembersInfoReqDto) {
    await this.store.readableBy(dto.GroupID, u.uid);
    const members = await this.reader.membersByUid(
      dto.GroupID,
      [...new Set(dto.memberList)],
      this.clock.nowUs(),
    );
    return { ...OK, memberList: members.map(memberOfView) };
  }

  @Post('kick_group_member')
  @HttpCode(200)
  @ApiOperation({
    summary: 'kickGroupMember (owner or admin): Id2ResultList, 0 kicked, -1 refused (per user)',
  })
  async kickGroupMember(
    @CurrentUser() u: AuthUser,
    @Body() dto: KickGroupMemberReqDto,
    @RequestMetadata() m: EventMetadata,
  ) {
    const changed = await this.change(
      {
        kind: 'RemoveMembers',
        groupId: dto.GroupID,
        actor: { kind: 'user', uid: u.uid },
        uids: dto.KickedUserIDList,
        reason: dto.Reason ?? '',
      },
      m,
    );
    return { ...OK, Id2ResultList: id2Results(changed.results) };
  }

  @Post('get_joined_group_list')
  @HttpCode(200)
  @ApiOperation({ summary: "getJoinedGroupList: the caller's groups (dismissed ones left out)" })
  async getJoinedGroupList(@CurrentUser() u: AuthUser, @Body() dto: GetJoinedGroupListReqDto) {
    const uid = OpenImGroupHttpController.self(u, 'FromUserID', dto.FromUserID);
    const groups: GroupView[] = [];
    let after: string | undefined;
    for (;;) {
      const page = await this.reader.joined(uid, { after, size: BATCH });
      groups.push(...page.items);
      if (page.next_cursor === null) break;
      after = page.next_cursor;
    }
    return {
      ...OK,
      GroupList: groups.filter((g) => g.status !== STATUS_DISMISSED).map(groupInfoOfView),
    };
  }

  @Post('invite_user_to_group')
  @HttpCode(200)
  @ApiOperation({
    summary:
      'inviteUserToGroup (members; owner or admin when invite only): Id2ResultList, 0 in, -1 ' +
      'refused (unknown user, already a member, full)',
  })
  async inviteUserToGroup(
    @CurrentUser() u: AuthUser,
    @Body() dto: InviteUserToGroupReqDto,
    @RequestMetadata() m: EventMetadata,
  ) {
    const changed = await this.change(
      {
        kind: 'AddMembers',
        groupId: dto.GroupID,
        actor: { kind: 'user', uid: u.uid },
        uids: dto.InvitedUserIDList,
      },
      m,
    );
    return { ...OK, Id2ResultList: id2Results(changed.results) };
  }

  @Post('get_group_all_member')
  @HttpCode(200)
  @ApiOperation({ summary: 'getGroupAllMember: every member in join order' })
  async getGroupAllMember(@CurrentUser() u: AuthUser, @Body() dto: GroupIdReqDto) {
    await this.store.readableBy(dto.GroupID, u.uid);
    const members = await allMembers(this.reader, dto.GroupID, this.clock.nowUs());
    return { ...OK, memberList: members.map(memberOfView) };
  }
}
