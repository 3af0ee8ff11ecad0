import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { Type } from 'class-transformer';
import {
  ArrayMaxSize,
  IsArray,
  IsIn,
  IsInt,
  IsObject,
  IsOptional,
  IsString,
  Matches,
  Max,
  MaxLength,
  Min,
  ValidateNested,
} from 'class-validator';
import { UID_PATTERN, UID_RULE } from '../../accounts/commands/issue-token/get-token.request.dto';
import { GROUP_ID_PATTERN, GROUP_ID_RULE } from '../../groups/groups.events';

/**
 * The request messages of OpenIM's `service group` (openim-group.proto.txt) as JSON bodies, with
 * the proto's exact field names. Every field the proto has is accepted; `OperationID` (and its
 * spellings `operationID`, `OperationId` where the proto has them) and `OpUserID` are validated as
 * text and otherwise ignored: the caller is the bearer token's user, or the administrator.
 */

/** Users one request may name (invite, kick, add, remove, initial members, member infos). */
export const MAX_UIDS = 1_000;
/** Groups one get_groups_info may name. */
export const MAX_GROUP_IDS = 1_000;
/** RequestPagination.ShowNumber: default and maximum. */
export const DEFAULT_SHOW_NUMBER = 20;
export const MAX_SHOW_NUMBER = 1_000;

/** The pattern, or the empty string (proto3's unset text). */
const orEmpty = (p: RegExp) => new RegExp(`^(?:${p.source.replace(/^\^|\$$/g, '')})?$`);
const GROUP_ID_OR_EMPTY = orEmpty(GROUP_ID_PATTERN);
const UID_OR_EMPTY = orEmpty(UID_PATTERN);

const IsGroupId = (name: string) =>
  Matches(GROUP_ID_PATTERN, { message: `${name} must be a group id: ${GROUP_ID_RULE}` });
const IsUid = (name: string) =>
  Matches(UID_PATTERN, { message: `${name} must be a user id: ${UID_RULE}` });
const IsUidList = (name: string) =>
  Matches(UID_PATTERN, { each: true, message: `${name} must hold user ids: ${UID_RULE}` });

/** Fields every rpc may carry and that change nothing. */
class Traced {
  @ApiPropertyOptional({ description: 'Accepted and ignored (OpenIM tracing id)' })
  @IsOptional()
  @IsString()
  @MaxLength(128)
  OperationID?: string;
}

class TracedWithOpUser extends Traced {
  @ApiPropertyOptional({ description: 'Ignored: the caller is the bearer token user' })
  @IsOptional()
  @IsString()
  @MaxLength(128)
  OpUserID?: string;
}

/** server_api_params.GroupInfo as a request carries it. */
export class GroupInfoFieldsDto {
  @ApiPropertyOptional({ maxLength: 64 })
  @IsOptional()
  @IsString()
  @MaxLength(64)
  GroupName?: string;

  @ApiPropertyOptional({ maxLength: 4096 })
  @IsOptional()
  @IsString()
  @MaxLength(4096)
  Notification?: string;

  @ApiPropertyOptional({ maxLength: 1024 })
  @IsOptional()
  @IsString()
  @MaxLength(1024)
  Introduction?: string;

  @ApiPropertyOptional({ maxLength: 1024 })
  @IsOptional()
  @IsString()
  @MaxLength(1024)
  FaceURL?: string;

  @ApiPropertyOptional({ maxLength: 4096 })
  @IsOptional()
  @IsString()
  @MaxLength(4096)
  Ex?: string;

  @ApiPropertyOptional({ description: "The client's group type, kept as given (default 0)" })
  @IsOptional()
  @IsInt()
  @Min(0)
  @Max(1_000_000)
  GroupType?: number;

  @ApiPropertyOptional({
    description: 'Join policy: 0 approval (default), 1 invite only, 2 open',
    enum: [0, 1, 2],
  })
  @IsOptional()
  @IsIn([0, 1, 2])
  NeedVerification?: 0 | 1 | 2;

  // Read-only in this server: accepted (clients send whole GroupInfo messages) and ignored.
  @ApiPropertyOptional({ description: 'Create: the owner (the caller); set: ignored' })
  @IsOptional()
  @Matches(UID_OR_EMPTY, { message: `OwnerUserID must be a user id: ${UID_RULE}` })
  OwnerUserID?: string;

  @ApiPropertyOptional({ description: 'Ignored' })
  @IsOptional()
  @IsInt()
  @Min(0)
  CreateTime?: number;

  @ApiPropertyOptional({ description: 'Ignored' })
  @IsOptional()
  @IsInt()
  @Min(0)
  MemberCount?: number;

  @ApiPropertyOptional({ description: 'Ignored (operate_group_status changes it)' })
  @IsOptional()
  @IsInt()
  @Min(0)
  @Max(3)
  Status?: number;

  @ApiPropertyOptional({ description: 'Ignored' })
  @IsOptional()
  @Matches(UID_OR_EMPTY, { message: `CreatorUserID must be a user id: ${UID_RULE}` })
  CreatorUserID?: string;

  // The rest of OpenIM v2's server_api_params.GroupInfo: accepted and ignored.
  @ApiPropertyOptional({ description: 'Ignored' })
  @IsOptional()
  @IsInt()
  LookMemberInfo?: number;

  @ApiPropertyOptional({ description: 'Ignored' })
  @IsOptional()
  @IsInt()
  ApplyMemberFriend?: number;

  @ApiPropertyOptional({ description: 'Ignored' })
  @IsOptional()
  @IsInt()
  @Min(0)
  NotificationUpdateTime?: number;

  @ApiPropertyOptional({ description: 'Ignored' })
  @IsOptional()
  @Matches(UID_OR_EMPTY, { message: `NotificationUserID must be a user id: ${UID_RULE}` })
  NotificationUserID?: string;
}

export class CreateGroupInfoDto extends GroupInfoFieldsDto {
  @ApiPropertyOptional({ description: `Chosen by the client, else generated: ${GROUP_ID_RULE}` })
  @IsOptional()
  @Matches(GROUP_ID_OR_EMPTY, { message: `GroupID must be a group id: ${GROUP_ID_RULE}` })
  GroupID?: string;
}

export class SetGroupInfoGroupDto extends GroupInfoFieldsDto {
  @ApiProperty()
  @IsGroupId('GroupID')
  GroupID!: string;
}

export class GroupAddMemberInfoDto {
  @ApiProperty()
  @IsUid('UserID')
  UserID!: string;

  @ApiPropertyOptional({
    description: '1 member (default, also 0), 3 admin; 2 only for OwnerUserID',
    enum: [0, 1, 2, 3],
  })
  @IsOptional()
  @IsIn([0, 1, 2, 3])
  RoleLevel?: number;
}

export class CreateGroupReqDto extends TracedWithOpUser {
  @ApiPropertyOptional({ type: [GroupAddMemberInfoDto], maxItems: MAX_UIDS })
  @IsOptional()
  @IsArray()
  @ArrayMaxSize(MAX_UIDS)
  @ValidateNested({ each: true })
  @Type(() => GroupAddMemberInfoDto)
  InitMemberList?: GroupAddMemberInfoDto[];

  @ApiPropertyOptional({ type: CreateGroupInfoDto })
  @IsOptional()
  @IsObject()
  @ValidateNested()
  @Type(() => CreateGroupInfoDto)
  GroupInfo?: CreateGroupInfoDto;

  @ApiPropertyOptional({ description: 'The owner: the caller (another user is 26003)' })
  @IsOptional()
  @Matches(UID_OR_EMPTY, { message: `OwnerUserID must be a user id: ${UID_RULE}` })
  OwnerUserID?: string;
}

export class GetGroupsInfoReqDto extends TracedWithOpUser {
  @ApiProperty({ type: [String], maxItems: MAX_GROUP_IDS })
  @IsArray()
  @ArrayMaxSize(MAX_GROUP_IDS)
  @Matches(GROUP_ID_PATTERN, {
    each: true,
    message: `GroupIDList must hold group ids: ${GROUP_ID_RULE}`,
  })
  GroupIDList!: string[];
}

export class SetGroupInfoReqDto extends TracedWithOpUser {
  @ApiProperty({ type: SetGroupInfoGroupDto })
  @IsObject()
  @ValidateNested()
  @Type(() => SetGroupInfoGroupDto)
  GroupInfo!: SetGroupInfoGroupDto;
}

export class GetGroupApplicationListReqDto extends TracedWithOpUser {
  @ApiPropertyOptional({ description: 'The caller, or empty (another user: 40300)' })
  @IsOptional()
  @Matches(UID_OR_EMPTY, { message: `FromUserID must be a user id: ${UID_RULE}` })
  FromUserID?: string;
}

export class GetUserReqApplicationListReqDto extends TracedWithOpUser {
  @ApiPropertyOptional({ description: 'The caller, or empty (another user: 40300)' })
  @IsOptional()
  @Matches(UID_OR_EMPTY, { message: `UserID must be a user id: ${UID_RULE}` })
  UserID?: string;
}

export class TransferGroupOwnerReqDto extends TracedWithOpUser {
  @ApiProperty()
  @IsGroupId('GroupID')
  GroupID!: string;

  @ApiPropertyOptional({ description: 'When given, must be the current owner (else 40000)' })
  @IsOptional()
  @Matches(UID_OR_EMPTY, { message: `OldOwnerUserID must be a user id: ${UID_RULE}` })
  OldOwnerUserID?: string;

  @ApiProperty()
  @IsUid('NewOwnerUserID')
  NewOwnerUserID!: string;
}

export class JoinGroupReqDto extends TracedWithOpUser {
  @ApiProperty()
  @IsGroupId('GroupID')
  GroupID!: string;

  @ApiPropertyOptional({ maxLength: 1024 })
  @IsOptional()
  @IsString()
  @MaxLength(1024)
  ReqMessage?: string;
}

export class GroupApplicationResponseReqDto extends TracedWithOpUser {
  @ApiProperty()
  @IsGroupId('GroupID')
  GroupID!: string;

  @ApiProperty({ description: 'The applicant' })
  @IsUid('FromUserID')
  FromUserID!: string;

  @ApiPropertyOptional({ maxLength: 1024 })
  @IsOptional()
  @IsString()
  @MaxLength(1024)
  HandledMsg?: string;

  @ApiProperty({ description: '1 accept, -1 refuse', enum: [1, -1] })
  @IsIn([1, -1])
  HandleResult!: 1 | -1;
}

export class GroupIdReqDto extends TracedWithOpUser {
  @ApiProperty()
  @IsGroupId('GroupID')
  GroupID!: string;
}

export class GetGroupMemberListReqDto extends GroupIdReqDto {
  @ApiPropertyOptional({
    description: '0 all (default), else only this RoleLevel: 1 member, 2 owner, 3 admin',
    enum: [0, 1, 2, 3],
  })
  @IsOptional()
  @IsIn([0, 1, 2, 3])
  Filter?: number;

  @ApiPropertyOptional({ description: 'nextSeq of the previous page; 0 for the first page' })
  @IsOptional()
  @IsInt()
  @Min(0)
  @Max(2_147_483_647)
  NextSeq?: number;
}

export class GetGroupMembersInfoReqDto extends GroupIdReqDto {
  @ApiProperty({ type: [String], maxItems: MAX_UIDS })
  @IsArray()
  @ArrayMaxSize(MAX_UIDS)
  @IsUidList('memberList')
  memberList!: string[];
}

export class KickGroupMemberReqDto extends GroupIdReqDto {
  @ApiProperty({ type: [String], maxItems: MAX_UIDS })
  @IsArray()
  @ArrayMaxSize(MAX_UIDS)
  @IsUidList('KickedUserIDList')
  KickedUserIDList!: string[];

  @ApiPropertyOptional({ maxLength: 1024 })
  @IsOptional()
  @IsString()
  @MaxLength(1024)
  Reason?: string;
}

export class GetJoinedGroupListReqDto {
  @ApiPropertyOptional({ description: 'The caller, or empty (another user: 40300)' })
  @IsOptional()
  @Matches(UID_OR_EMPTY, { message: `FromUserID must be a user id: ${UID_RULE}` })
  FromUserID?: string;

  @ApiPropertyOptional({ description: 'Accepted and ignored (the proto spells it operationID)' })
  @IsOptional()
  @IsString()
  @MaxLength(128)
  operationID?: string;

  @ApiPropertyOptional({ description: 'Ignored: the caller is the bearer token user' })
  @IsOptional()
  @IsString()
  @MaxLength(128)
  OpUserID?: string;
}

export class InviteUserToGroupReqDto extends GroupIdReqDto {
  @ApiPropertyOptional({ maxLength: 1024, description: 'Accepted; not kept' })
  @IsOptional()
  @IsString()
  @MaxLength(1024)
  Reason?: string;

  @ApiProperty({ type: [String], maxItems: MAX_UIDS })
  @IsArray()
  @ArrayMaxSize(MAX_UIDS)
  @IsUidList('InvitedUserIDList')
  InvitedUserIDList!: string[];
}

// ---- CMS (administrators, X-Admin-Key) ----------------------------------------------------------

/** server_api_params.RequestPagination. */
export class RequestPaginationDto {
  @ApiPropertyOptional({ description: 'From 1 (0 or absent: 1)' })
  @IsOptional()
  @IsInt()
  @Min(0)
  @Max(1_000_000)
  PageNumber?: number;

  @ApiPropertyOptional({
    description: `Default ${DEFAULT_SHOW_NUMBER}, at most ${MAX_SHOW_NUMBER}`,
  })
  @IsOptional()
  @IsInt()
  @Min(0)
  @Max(MAX_SHOW_NUMBER)
  ShowNumber?: number;
}

class PagedCms extends Traced {
  @ApiPropertyOptional({ type: RequestPaginationDto })
  @IsOptional()
  @IsObject()
  @ValidateNested()
  @Type(() => RequestPaginationDto)
  Pagination?: RequestPaginationDto;

  @ApiPropertyOptional({
    description:
      'Not in the proto: NextCursor of the previous answer. When given it replaces PageNumber ' +
      '(keyset paging, stable while groups are created)',
  })
  @IsOptional()
  @IsString()
  @MaxLength(128)
  Cursor?: string;
}

export class GetGroupReqDto extends PagedCms {
  @ApiPropertyOptional({ description: 'Groups whose name contains this (any case); empty: all' })
  @IsOptional()
  @IsString()
  @MaxLength(64)
  GroupName?: string;
}

export class GetGroupsReqDto extends PagedCms {}

export class CmsGroupIdReqDto extends Traced {
  @ApiProperty()
  @IsGroupId('GroupId')
  GroupId!: string;
}

export class OperateGroupStatusReqDto extends CmsGroupIdReqDto {
  @ApiProperty({ description: '0 normal, 1 banned, 2 dismissed, 3 muted', enum: [0, 1, 2, 3] })
  @IsIn([0, 1, 2, 3])
  Status!: 0 | 1 | 2 | 3;
}

export class OperateUserRoleReqDto extends CmsGroupIdReqDto {
  @ApiProperty()
  @IsUid('UserId')
  UserId!: string;

  @ApiProperty({
    description: '1 member, 3 admin; 2 transfers the ownership to UserId',
    enum: [1, 2, 3],
  })
  @IsIn([1, 2, 3])
  RoleLevel!: 1 | 2 | 3;
}

export class GetGroupMembersCmsReqDto extends PagedCms {
  @ApiProperty()
  @IsGroupId('GroupId')
  GroupId!: string;

  @ApiPropertyOptional({
    description: 'Members whose user id contains this (any case); there are no display names',
  })
  @IsOptional()
  @IsString()
  @MaxLength(64)
  UserName?: string;
}

export class RemoveGroupMembersCmsReqDto extends CmsGroupIdReqDto {
  @ApiProperty({ type: [String], maxItems: MAX_UIDS })
  @IsArray()
  @ArrayMaxSize(MAX_UIDS)
  @IsUidList('UserIds')
  UserIds!: string[];
}

/** The proto spells this one's tracing id `OperationId`. */
export class AddGroupMembersCmsReqDto {
  @ApiProperty()
  @IsGroupId('GroupId')
  GroupId!: string;

  @ApiProperty({ type: [String], maxItems: MAX_UIDS })
  @IsArray()
  @ArrayMaxSize(MAX_UIDS)
  @IsUidList('UserIds')
  UserIds!: string[];

  @ApiPropertyOptional({ description: 'Accepted and ignored' })
  @IsOptional()
  @IsString()
  @MaxLength(128)
  OperationId?: string;
}
