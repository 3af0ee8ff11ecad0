import {
  Body,
  Controller,
  Delete,
  Get,
  HttpCode,
  Param,
  Patch,
  Post,
  Put,
  Query,
} from '@nestjs/common';
import { CommandBus } from '@nestjs/cqrs';
import { ApiBearerAuth, ApiOperation, ApiTags } from '@nestjs/swagger';
import { Errors } from '../common/errors';
import { MsgKeyGenerator } from '../common/ids';
import { AuthUser, CurrentUser, RequestMetadata } from '../common/http/request-context';
import { Clock } from '../core/clock';
import type { EventMetadata } from '../event-store/event-store.port';
import {
  ChangeGroupCommand,
  GroupChange,
  GroupChanged,
} from './commands/change-group/change-group.command';
import { GroupReader } from './group-reader';
import { GroupStore } from './group.store';
import { GroupErrors } from './groups.errors';
import { GROUP_ID_PATTERN, GROUP_ID_RULE, GroupActor, ROLE_MEMBER } from './groups.events';
import {
  AckAssistantCommand,
  AssistantAcked,
} from './commands/ack-assistant/ack-assistant.command';
import {
  AssistantAckDto,
  AssistantPageDto,
  ChangeMembersDto,
  CreateGroupDto,
  GroupIdsDto,
  GroupInfoDto,
  GroupMemberParamsDto,
  GroupPageDto,
  GroupParamsDto,
  GroupStatusDto,
  GroupSyncDto,
  HandleApplicationDto,
  JoinGroupDto,
  MemberPageDto,
  MuteMemberDto,
  SetRoleDto,
  TransferOwnerDto,
  UidListDto,
  UidListWithReasonDto,
} from './groups.request.dto';

/** How stale this node's view of a group may be when it authorizes a read. */
const READ_CHECK_MAX_AGE_MS = 1_000;

/** The native answer to a change: the group's version after it, and per-user outcomes. */
export function changedView(c: GroupChanged) {
  return {
    group_id: c.groupId,
    version: c.version,
    outcome: c.outcome,
    results: c.results.map((r) => ({
      uid: r.uid,
      result: r.result,
      ...(r.code !== undefined ? { code: r.code, reason: r.reason } : {}),
    })),
  };
}

export function infoChanges(dto: GroupInfoDto) {
  return {
    name: dto.name,
    faceUrl: dto.face_url,
    introduction: dto.introduction,
    notification: dto.notification,
    ex: dto.ex,
    joinPolicy: dto.join_policy,
  };
}

/** A create request as the aggregate takes it (the id generated unless the client chose one). */
export function createChange(
  dto: CreateGroupDto,
  actor: GroupActor,
  ownerUid: string,
  ids: MsgKeyGenerator,
): GroupChange {
  return {
    kind: 'CreateGroup',
    groupId: dto.group_id ?? ids.next(),
    actor,
    name: dto.name ?? '',
    faceUrl: dto.face_url ?? '',
    introduction: dto.introduction ?? '',
    notification: dto.notification ?? '',
    ex: dto.ex ?? '',
    groupType: dto.group_type ?? 0,
    temporary: dto.temporary ?? actor.kind === 'user',
    joinPolicy: dto.join_policy ?? 'approval',
    ownerUid,
    members: (dto.members ?? []).map((m) => ({
      uid: m.uid,
      roleLevel: m.role_level ?? ROLE_MEMBER,
    })),
  };
}

/**
 * Groups for their members: OpenIM's group service and TeamTalk's groups as native REST. Every
 * change goes through the group aggregate, which checks the caller's role; reads check that the
 * caller may see the group's members (a member, or anyone for an open group).
 */
@ApiTags('groups')
@ApiBearerAuth()
@Controller('api/v1/groups')
export class GroupsHttpController {
  constructor(
    private readonly commands: CommandBus,
    private readonly reader: GroupReader,
    private readonly store: GroupStore,
    private readonly ids: MsgKeyGenerator,
    private readonly clock: Clock,
  ) {}

  private async change(change: GroupChange, m: EventMetadata) {
    return changedView(await this.commands.execute(new ChangeGroupCommand(change, m)));
  }

  /** The group exists and `uid` may read its members: a member, or anyone if it is open. */
  private async mayRead(groupId: string, uid: string): Promise<void> {
    const g = await this.store.read(groupId, READ_CHECK_MAX_AGE_MS);
    if (g.status !== 'exists') throw GroupErrors.notFound(groupId);
    if (!g.members.has(uid) && g.info.joinPolicy !== 'open') throw GroupErrors.notMember(groupId);
  }

  @Post()
  @ApiOperation({ summary: 'Create a (temporary) group owned by the caller, with its members' })
  create(
    @CurrentUser() u: AuthUser,
    @Body() dto: CreateGroupDto,
    @RequestMetadata() m: EventMetadata,
  ) {
    return this.change(createChange(dto, { kind: 'user', uid: u.uid }, u.uid, this.ids), m);
  }

  @Get()
  @ApiOperation({ summary: 'Groups by id (batch, at most 100): public info, no membership needed' })
  async info(@Query() q: GroupIdsDto) {
    const ids = [...new Set(q.ids.split(',').filter((id) => id !== ''))];
    if (ids.length === 0 || ids.length > 100) {
      throw Errors.validation('ids must name 1 to 100 groups');
    }
    const bad = ids.find((id) => !GROUP_ID_PATTERN.test(id));
    if (bad !== undefined)
      throw Errors.validation(`ids: ${bad} is not a group id: ${GROUP_ID_RULE}`);
    return { groups: await this.reader.groups(ids) };
  }

  @Get('joined')
  @ApiOperation({ summary: "The caller's groups, paged by cursor" })
  async joined(@CurrentUser() u: AuthUser, @Query() q: GroupPageDto) {
    const page = await this.reader.joined(u.uid, { after: q.cursor, size: q.size ?? 50 });
    return { groups: page.items, next_cursor: page.next_cursor };
  }

  @Post('sync')
  @HttpCode(200)
  @ApiOperation({
    summary: "TeamTalk's group version sync: the caller's groups newer than the versions given",
  })
  async sync(@CurrentUser() u: AuthUser, @Body() dto: GroupSyncDto) {
    const versions = new Map(dto.versions.map((v) => [v.group_id, v.version]));
    return { groups: await this.reader.changedSince(u.uid, versions) };
  }

  @Get('owned/unread')
  @ApiOperation({ summary: "Bilibili's MyGroupUnread: unread messages in the groups I own" })
  async ownedUnread(@CurrentUser() u: AuthUser) {
    return { unread_count: await this.reader.unreadInOwnedGroups(u.uid) };
  }

  @Get('assistant')
  @ApiOperation({
    summary:
      "Bilibili's GroupAssisMsg: notices of applications and membership in the groups I own or " +
      'administer, after client_seqno, oldest first',
  })
  assistant(@CurrentUser() u: AuthUser, @Query() q: AssistantPageDto) {
    return this.reader.assistant(u.uid, q.client_seqno ?? 0, q.size ?? 20);
  }

  @Put('assistant/ack')
  @ApiOperation({ summary: "Bilibili's AckAssisMsg: the group assistant is read up to ack_seqno" })
  async ackAssistant(
    @CurrentUser() u: AuthUser,
    @Body() dto: AssistantAckDto,
    @RequestMetadata() m: EventMetadata,
  ) {
    const r: AssistantAcked = await this.commands.execute(
      new AckAssistantCommand(u.uid, dto.ack_seqno, m),
    );
    return { ack_seqno: r.ackSeqno, changed: r.changed };
  }

  @Get('applications/received')
  @ApiOperation({ summary: 'Pending applications to the groups the caller owns or administers' })
  async received(@CurrentUser() u: AuthUser, @Query() q: GroupPageDto) {
    return this.reader.applicationsToManage(u.uid, q.size ?? 50, q.cursor);
  }

  @Get('applications/sent')
  @ApiOperation({ summary: "The caller's own applications, newest first" })
  async sent(@CurrentUser() u: AuthUser, @Query() q: GroupPageDto) {
    return this.reader.applicationsOf(u.uid, q.size ?? 50, q.cursor);
  }

  @Patch(':group_id')
  @ApiOperation({ summary: 'Set the group info (owner or admin)' })
  setInfo(
    @CurrentUser() u: AuthUser,
    @Param() p: GroupParamsDto,
    @Body() dto: GroupInfoDto,
    @RequestMetadata() m: EventMetadata,
  ) {
    const actor = { kind: 'user', uid: u.uid } as const;
    return this.change(
      { kind: 'SetGroupInfo', groupId: p.group_id, actor, changes: infoChanges(dto) },
      m,
    );
  }

  @Delete(':group_id')
  @ApiOperation({ summary: 'Dismiss the group (owner)' })
  dismiss(
    @CurrentUser() u: AuthUser,
    @Param() p: GroupParamsDto,
    @RequestMetadata() m: EventMetadata,
  ) {
    return this.change(
      { kind: 'DismissGroup', groupId: p.group_id, actor: { kind: 'user', uid: u.uid } },
      m,
    );
  }

  @Post(':group_id/join')
  @HttpCode(200)
  @ApiOperation({
    summary: 'Join: at once (open), as an application (approval) or refused (invite only, 26009)',
  })
  join(
    @CurrentUser() u: AuthUser,
    @Param() p: GroupParamsDto,
    @Body() dto: JoinGroupDto,
    @RequestMetadata() m: EventMetadata,
  ) {
    return this.change(
      {
        kind: 'JoinGroup',
        groupId: p.group_id,
        actor: { kind: 'user', uid: u.uid },
        reqMessage: dto.req_message ?? '',
      },
      m,
    );
  }

  @Post(':group_id/quit')
  @HttpCode(200)
  @ApiOperation({ summary: 'Quit (the owner transfers first: 26008)' })
  quit(
    @CurrentUser() u: AuthUser,
    @Param() p: GroupParamsDto,
    @RequestMetadata() m: EventMetadata,
  ) {
    return this.change(
      { kind: 'QuitGroup', groupId: p.group_id, actor: { kind: 'user', uid: u.uid } },
      m,
    );
  }

  @Post(':group_id/applications/:uid')
  @HttpCode(200)
  @ApiOperation({ summary: "Accept (1) or refuse (-1) a user's application (owner or admin)" })
  handle(
    @CurrentUser() u: AuthUser,
    @Param() p: GroupMemberParamsDto,
    @Body() dto: HandleApplicationDto,
    @RequestMetadata() m: EventMetadata,
  ) {
    return this.change(
      {
        kind: 'HandleApplication',
        groupId: p.group_id,
        actor: { kind: 'user', uid: u.uid },
        uid: p.uid,
        result: dto.result,
        handledMsg: dto.handled_msg ?? '',
      },
      m,
    );
  }

  @Post(':group_id/invitations')
  @HttpCode(200)
  @ApiOperation({ summary: 'Invite users (members; owner or admin in an invite-only group)' })
  invite(
    @CurrentUser() u: AuthUser,
    @Param() p: GroupParamsDto,
    @Body() dto: UidListWithReasonDto,
    @RequestMetadata() m: EventMetadata,
  ) {
    const actor = { kind: 'user', uid: u.uid } as const;
    return this.change({ kind: 'AddMembers', groupId: p.group_id, actor, uids: dto.uids }, m);
  }

  @Post(':group_id/kicks')
  @HttpCode(200)
  @ApiOperation({ summary: 'Kick members with a reason (owner or admin), a result per user' })
  kick(
    @CurrentUser() u: AuthUser,
    @Param() p: GroupParamsDto,
    @Body() dto: UidListWithReasonDto,
    @RequestMetadata() m: EventMetadata,
  ) {
    const actor = { kind: 'user', uid: u.uid } as const;
    return this.change(
      {
        kind: 'RemoveMembers',
        groupId: p.group_id,
        actor,
        uids: dto.uids,
        reason: dto.reason ?? '',
      },
      m,
    );
  }

  @Post(':group_id/members/change')
  @HttpCode(200)
  @ApiOperation({
    summary:
      "TeamTalk's change members: add (1, as an invitation) or remove (2, as a kick); the " +
      'current and the changed member lists',
  })
  async changeMembers(
    @CurrentUser() u: AuthUser,
    @Param() p: GroupParamsDto,
    @Body() dto: ChangeMembersDto,
    @RequestMetadata() m: EventMetadata,
  ) {
    const actor = { kind: 'user', uid: u.uid } as const;
    const change: GroupChange =
      dto.change_type === 1
        ? { kind: 'AddMembers', groupId: p.group_id, actor, uids: dto.uids }
        : { kind: 'RemoveMembers', groupId: p.group_id, actor, uids: dto.uids, reason: '' };
    const changed: GroupChanged = await this.commands.execute(new ChangeGroupCommand(change, m));
    // The current members from the aggregate, which has the change already (the read model may not).
    const g = await this.store.read(p.group_id, READ_CHECK_MAX_AGE_MS);
    return {
      ...changedView(changed),
      change_type: dto.change_type,
      cur_user_id_list: g.status === 'exists' ? [...g.members.keys()] : [],
      chg_user_id_list: changed.results.filter((r) => r.result === 0).map((r) => r.uid),
    };
  }

  @Put(':group_id/owner')
  @ApiOperation({ summary: 'Transfer the ownership to a member (owner)' })
  transfer(
    @CurrentUser() u: AuthUser,
    @Param() p: GroupParamsDto,
    @Body() dto: TransferOwnerDto,
    @RequestMetadata() m: EventMetadata,
  ) {
    const actor = { kind: 'user', uid: u.uid } as const;
    return this.change(
      { kind: 'TransferOwner', groupId: p.group_id, actor, fromUid: null, toUid: dto.uid },
      m,
    );
  }

  @Put(':group_id/members/:uid/role')
  @ApiOperation({ summary: "Set a member's role: 1 member, 3 admin (owner)" })
  setRole(
    @CurrentUser() u: AuthUser,
    @Param() p: GroupMemberParamsDto,
    @Body() dto: SetRoleDto,
    @RequestMetadata() m: EventMetadata,
  ) {
    const actor = { kind: 'user', uid: u.uid } as const;
    return this.change(
      { kind: 'SetMemberRole', groupId: p.group_id, actor, uid: p.uid, roleLevel: dto.role_level },
      m,
    );
  }

  @Put(':group_id/members/:uid/mute')
  @ApiOperation({ summary: 'Mute a member for some seconds, 0 to lift it (owner or admin)' })
  mute(
    @CurrentUser() u: AuthUser,
    @Param() p: GroupMemberParamsDto,
    @Body() dto: MuteMemberDto,
    @RequestMetadata() m: EventMetadata,
  ) {
    const actor = { kind: 'user', uid: u.uid } as const;
    const until = dto.muted_seconds > 0 ? this.clock.nowUs() + dto.muted_seconds * 1_000_000 : 0;
    return this.change(
      { kind: 'MuteMember', groupId: p.group_id, actor, uid: p.uid, mutedUntilUs: until },
      m,
    );
  }

  @Put(':group_id/status')
  @ApiOperation({ summary: 'Mute (3) or unmute (0) the whole group (owner or admin)' })
  status(
    @CurrentUser() u: AuthUser,
    @Param() p: GroupParamsDto,
    @Body() dto: GroupStatusDto,
    @RequestMetadata() m: EventMetadata,
  ) {
    const actor = { kind: 'user', uid: u.uid } as const;
    return this.change(
      { kind: 'SetGroupStatus', groupId: p.group_id, actor, groupStatus: dto.status },
      m,
    );
  }

  @Get(':group_id/members')
  @ApiOperation({ summary: 'Members in join order, paged by member_seq, optionally by role' })
  async members(@CurrentUser() u: AuthUser, @Param() p: GroupParamsDto, @Query() q: MemberPageDto) {
    await this.mayRead(p.group_id, u.uid);
    const page = await this.reader.members(p.group_id, {
      afterSeq: q.cursor ?? 0,
      size: q.size ?? 100,
      roleLevel: q.role_level,
      nowUs: this.clock.nowUs(),
    });
    return { members: page.members, next_cursor: page.nextSeq };
  }

  @Post(':group_id/members/query')
  @HttpCode(200)
  @ApiOperation({ summary: 'The named users that are members (OpenIM getGroupMembersInfo)' })
  async membersInfo(
    @CurrentUser() u: AuthUser,
    @Param() p: GroupParamsDto,
    @Body() dto: UidListDto,
  ) {
    await this.mayRead(p.group_id, u.uid);
    return { members: await this.reader.membersByUid(p.group_id, dto.uids, this.clock.nowUs()) };
  }
}
