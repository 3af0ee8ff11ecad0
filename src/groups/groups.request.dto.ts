import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { Type } from 'class-transformer';
import {
  ArrayMaxSize,
  ArrayMinSize,
  IsArray,
  IsBoolean,
  IsIn,
  IsInt,
  IsOptional,
  IsString,
  Matches,
  Max,
  MaxLength,
  Min,
  ValidateIf,
  ValidateNested,
} from 'class-validator';
import { UID_PATTERN, UID_RULE } from '../accounts/commands/issue-token/get-token.request.dto';
import { GROUP_ID_PATTERN, GROUP_ID_RULE, JOIN_POLICIES, JoinPolicy } from './groups.events';

/**
 * Optional, but not null: a field left out changes nothing, `null` is refused (it would name no
 * value to set).
 */
const PresentNotNull = () => ValidateIf((_o: unknown, value: unknown) => value !== undefined);

/** Users one request may name (invite, kick, add, remove, initial members). */
export const MAX_UIDS_PER_REQUEST = 1_000;

export class GroupParamsDto {
  @Matches(GROUP_ID_PATTERN, { message: `group_id must be a group id: ${GROUP_ID_RULE}` })
  group_id!: string;
}

export class GroupMemberParamsDto extends GroupParamsDto {
  @Matches(UID_PATTERN, { message: `uid must be a user id: ${UID_RULE}` })
  uid!: string;
}

export class InitialMemberDto {
  @ApiProperty()
  @Matches(UID_PATTERN, { message: `uid must be a user id: ${UID_RULE}` })
  uid!: string;

  @ApiPropertyOptional({ description: '1 member (default), 3 admin', enum: [1, 3] })
  @IsOptional()
  @IsIn([1, 3])
  role_level?: 1 | 3;
}

/** The fields a group's owner or admins may set (all optional on a change). */
export class GroupInfoDto {
  @ApiPropertyOptional({ maxLength: 64 })
  @PresentNotNull()
  @IsString()
  @MaxLength(64)
  name?: string;

  @ApiPropertyOptional({ maxLength: 1024 })
  @PresentNotNull()
  @IsString()
  @MaxLength(1024)
  face_url?: string;

  @ApiPropertyOptional({ maxLength: 1024 })
  @PresentNotNull()
  @IsString()
  @MaxLength(1024)
  introduction?: string;

  @ApiPropertyOptional({ maxLength: 4096 })
  @PresentNotNull()
  @IsString()
  @MaxLength(4096)
  notification?: string;

  @ApiPropertyOptional({ maxLength: 4096, description: 'Free text for the client' })
  @PresentNotNull()
  @IsString()
  @MaxLength(4096)
  ex?: string;

  @ApiPropertyOptional({ enum: JOIN_POLICIES })
  @PresentNotNull()
  @IsIn(JOIN_POLICIES)
  join_policy?: JoinPolicy;
}

export class CreateGroupDto extends GroupInfoDto {
  @ApiPropertyOptional({ description: `Chosen by the client, else generated: ${GROUP_ID_RULE}` })
  @IsOptional()
  @Matches(GROUP_ID_PATTERN, { message: `group_id must be a group id: ${GROUP_ID_RULE}` })
  group_id?: string;

  @ApiPropertyOptional({ description: "The client's group type, kept as given (default 0)" })
  @IsOptional()
  @IsInt()
  @Min(0)
  @Max(1_000_000)
  group_type?: number;

  @ApiPropertyOptional({
    description: 'A temporary group (default for users); a normal one needs the admin key',
  })
  @IsOptional()
  @IsBoolean()
  temporary?: boolean;

  @ApiPropertyOptional({ type: [InitialMemberDto], maxItems: MAX_UIDS_PER_REQUEST })
  @IsOptional()
  @IsArray()
  @ArrayMaxSize(MAX_UIDS_PER_REQUEST)
  @ValidateNested({ each: true })
  @Type(() => InitialMemberDto)
  members?: InitialMemberDto[];
}

export class AdminCreateGroupDto extends CreateGroupDto {
  @ApiProperty({ description: 'The owner (an administrator creates on behalf of a user)' })
  @Matches(UID_PATTERN, { message: `owner_uid must be a user id: ${UID_RULE}` })
  owner_uid!: string;
}

export class UidListDto {
  @ApiProperty({ type: [String], maxItems: MAX_UIDS_PER_REQUEST })
  @IsArray()
  @ArrayMinSize(1)
  @ArrayMaxSize(MAX_UIDS_PER_REQUEST)
  @Matches(UID_PATTERN, { each: true, message: `uids must hold user ids: ${UID_RULE}` })
  uids!: string[];
}

export class UidListWithReasonDto extends UidListDto {
  @ApiPropertyOptional({ maxLength: 1024 })
  @IsOptional()
  @IsString()
  @MaxLength(1024)
  reason?: string;
}

export class ChangeMembersDto extends UidListDto {
  @ApiProperty({ description: "TeamTalk's change_type: 1 add, 2 remove", enum: [1, 2] })
  @IsIn([1, 2])
  change_type!: 1 | 2;
}

export class JoinGroupDto {
  @ApiPropertyOptional({ description: 'The application message (groups that need approval)' })
  @IsOptional()
  @IsString()
  @MaxLength(1024)
  req_message?: string;
}

export class HandleApplicationDto {
  @ApiProperty({ description: '1 accept, -1 refuse', enum: [1, -1] })
  @IsIn([1, -1])
  result!: 1 | -1;

  @ApiPropertyOptional({ maxLength: 1024 })
  @IsOptional()
  @IsString()
  @MaxLength(1024)
  handled_msg?: string;
}

export class TransferOwnerDto {
  @ApiProperty({ description: 'The member who becomes the owner' })
  @Matches(UID_PATTERN, { message: `uid must be a user id: ${UID_RULE}` })
  uid!: string;
}

export class SetRoleDto {
  @ApiProperty({ description: '1 member, 3 admin (the owner transfers ownership instead)' })
  @IsIn([1, 3])
  role_level!: 1 | 3;
}

export class MuteMemberDto {
  @ApiProperty({ description: 'Seconds from now; 0 lifts the mute', maximum: 31_536_000 })
  @IsInt()
  @Min(0)
  @Max(31_536_000)
  muted_seconds!: number;
}

export class GroupStatusDto {
  @ApiProperty({
    description: '0 normal, 3 muted (owner, admins); 1 banned (administrators); 2 dismissed',
    enum: [0, 1, 2, 3],
  })
  @IsIn([0, 1, 2, 3])
  status!: 0 | 1 | 2 | 3;
}

export class MemberPageDto {
  @ApiPropertyOptional({ description: 'member_seq of the last member of the previous page' })
  @IsOptional()
  @Type(() => Number)
  @IsInt()
  @Min(0)
  @Max(Number.MAX_SAFE_INTEGER)
  cursor?: number;

  @ApiPropertyOptional({ description: 'Members per page, default 100, at most 500' })
  @IsOptional()
  @Type(() => Number)
  @IsInt()
  @Min(1)
  @Max(500)
  size?: number;

  @ApiPropertyOptional({ description: 'Only this role: 1 member, 2 owner, 3 admin' })
  @IsOptional()
  @Type(() => Number)
  @IsIn([1, 2, 3])
  role_level?: number;
}

export class GroupPageDto {
  @ApiPropertyOptional({ description: 'next_cursor of the previous page' })
  @IsOptional()
  @IsString()
  @MaxLength(128)
  cursor?: string;

  @ApiPropertyOptional({ description: 'Groups per page, default 50, at most 200' })
  @IsOptional()
  @Type(() => Number)
  @IsInt()
  @Min(1)
  @Max(200)
  size?: number;
}

export class GroupSearchDto extends GroupPageDto {
  @ApiPropertyOptional({ description: 'Groups whose name contains this (any case)' })
  @IsOptional()
  @IsString()
  @MaxLength(64)
  name?: string;
}

export class GroupIdsDto {
  @ApiProperty({ description: 'Comma-separated group ids, at most 100' })
  @IsString()
  @MaxLength(6_600)
  ids!: string;
}

export class GroupVersionDto {
  @ApiProperty()
  @Matches(GROUP_ID_PATTERN, { message: `group_id must be a group id: ${GROUP_ID_RULE}` })
  group_id!: string;

  @ApiProperty({ description: 'The version the client holds (0: none)' })
  @IsInt()
  @Min(0)
  @Max(2_147_483_647)
  version!: number;
}

export class GroupSyncDto {
  @ApiProperty({ type: [GroupVersionDto], maxItems: 10_000 })
  @IsArray()
  @ArrayMaxSize(10_000)
  @ValidateNested({ each: true })
  @Type(() => GroupVersionDto)
  versions!: GroupVersionDto[];
}

export class AssistantPageDto {
  @ApiPropertyOptional({ description: 'Notices after this seqno (0: from the first)' })
  @IsOptional()
  @Type(() => Number)
  @IsInt()
  @Min(0)
  @Max(Number.MAX_SAFE_INTEGER)
  client_seqno?: number;

  @ApiPropertyOptional({ description: 'Notices per page, default 20, at most 100' })
  @IsOptional()
  @Type(() => Number)
  @IsInt()
  @Min(1)
  @Max(100)
  size?: number;
}

export class AssistantAckDto {
  @ApiProperty({ description: 'Read up to this notice seqno' })
  @IsInt()
  @Min(0)
  @Max(Number.MAX_SAFE_INTEGER)
  ack_seqno!: number;
}
