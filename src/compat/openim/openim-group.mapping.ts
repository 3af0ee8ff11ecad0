import { Errors } from '../../common/errors';
import type { ExistingGroup, UserResult } from '../../groups/domain/group';
import type {
  ApplicationView,
  GroupReader,
  GroupView,
  MemberView,
} from '../../groups/group-reader';
import type { JoinPolicy } from '../../groups/groups.events';
import { DEFAULT_SHOW_NUMBER, RequestPaginationDto } from './openim-group.dto';

/**
 * Our group read models and results as OpenIM's messages (server_api_params.GroupInfo,
 * GroupMemberFullInfo, GroupRequest, Id2Result). Times are seconds, as OpenIM's are.
 */

/** server_api_params.GroupInfo. */
export interface OpenImGroupInfo {
  GroupID: string;
  GroupName: string;
  Notification: string;
  Introduction: string;
  FaceURL: string;
  OwnerUserID: string;
  CreateTime: number;
  MemberCount: number;
  Ex: string;
  Status: number;
  CreatorUserID: string;
  GroupType: number;
  NeedVerification: number;
}

/** server_api_params.GroupMemberFullInfo. */
export interface OpenImGroupMember {
  GroupID: string;
  UserID: string;
  RoleLevel: number;
  JoinTime: number;
  Nickname: string;
  FaceURL: string;
  JoinSource: number;
  OperatorUserID: string;
  Ex: string;
  MuteEndTime: number;
  InviterUserID: string;
}

/** server_api_params.GroupRequest, with UserID and GroupID also at the top (OpenIM v2's JSON). */
export interface OpenImGroupRequest {
  UserID: string;
  GroupID: string;
  UserInfo: { UserID: string; Nickname: string; FaceURL: string };
  GroupInfo: OpenImGroupInfo | { GroupID: string };
  HandleResult: number;
  ReqMsg: string;
  HandleMsg: string;
  ReqTime: number;
  HandleUserID: string;
  HandleTime: number;
  Ex: string;
}

/** group.Id2Result: 0 ok, -1 refused. */
export interface Id2Result {
  UserID: string;
  Result: number;
}

/** group.CMSGroup. */
export interface CmsGroup {
  GroupInfo: OpenImGroupInfo;
  GroupMasterName: string;
  GroupMasterId: string;
}

/** NeedVerification <-> join policy: 0 approval, 1 invite only, 2 open. */
export const NEED_VERIFICATION_OF: Record<JoinPolicy, 0 | 1 | 2> = {
  approval: 0,
  invite_only: 1,
  open: 2,
};
export const JOIN_POLICY_OF: Record<0 | 1 | 2, JoinPolicy> = {
  0: 'approval',
  1: 'invite_only',
  2: 'open',
};

/** OpenIM's JoinSource: 2 invited (and initial or added members), 3 applied or joined alone. */
export const JOIN_BY_INVITATION = 2;
export const JOIN_BY_SEARCH = 3;
const JOIN_SOURCE_OF: Record<string, number> = {
  created: JOIN_BY_INVITATION,
  invited: JOIN_BY_INVITATION,
  added: JOIN_BY_INVITATION,
  joined: JOIN_BY_SEARCH,
  approved: JOIN_BY_SEARCH,
};

export const OK = { ErrCode: 0, ErrMsg: '' } as const;
/** The answer of the rpcs whose response is `{ CommonResp }` only. */
export const commonResp = () => ({ CommonResp: { ...OK } });

const seconds = (ms: number) => Math.floor(ms / 1000);

export function groupInfoOfView(g: GroupView): OpenImGroupInfo {
  return {
    GroupID: g.group_id,
    GroupName: g.name,
    Notification: g.notification,
    Introduction: g.introduction,
    FaceURL: g.face_url,
    OwnerUserID: g.owner_uid,
    CreateTime: seconds(g.created_at),
    MemberCount: g.member_count,
    Ex: g.ex,
    Status: g.status,
    CreatorUserID: g.creator_uid ?? '',
    GroupType: g.group_type,
    NeedVerification: NEED_VERIFICATION_OF[g.join_policy],
  };
}

/** The same from the aggregate, which has a change at once (the read model a moment later). */
export function groupInfoOfState(g: ExistingGroup): OpenImGroupInfo {
  return {
    GroupID: g.info.groupId,
    GroupName: g.info.name,
    Notification: g.info.notification,
    Introduction: g.info.introduction,
    FaceURL: g.info.faceUrl,
    OwnerUserID: g.ownerUid,
    CreateTime: Math.floor(g.info.createdAtUs / 1_000_000),
    MemberCount: g.members.size,
    Ex: g.info.ex,
    Status: g.groupStatus,
    CreatorUserID: g.info.creatorUid ?? '',
    GroupType: g.info.groupType,
    NeedVerification: NEED_VERIFICATION_OF[g.info.joinPolicy],
  };
}

export function cmsGroup(g: GroupView): CmsGroup {
  // There are no display names in this server: the owner is named by id only.
  return { GroupInfo: groupInfoOfView(g), GroupMasterName: '', GroupMasterId: g.owner_uid };
}

export function memberOfView(m: MemberView): OpenImGroupMember {
  const invited = m.join_how === 'invited' || m.join_how === 'created';
  return {
    GroupID: m.group_id,
    UserID: m.uid,
    RoleLevel: m.role_level,
    JoinTime: seconds(m.joined_at),
    Nickname: '',
    FaceURL: '',
    JoinSource: JOIN_SOURCE_OF[m.join_how] ?? JOIN_BY_INVITATION,
    OperatorUserID: m.inviter_uid ?? '',
    Ex: '',
    MuteEndTime: seconds(m.muted_until),
    InviterUserID: invited ? (m.inviter_uid ?? '') : '',
  };
}

export function requestOfView(
  a: ApplicationView,
  groups: ReadonlyMap<string, OpenImGroupInfo>,
): OpenImGroupRequest {
  return {
    UserID: a.uid,
    GroupID: a.group_id,
    UserInfo: { UserID: a.uid, Nickname: '', FaceURL: '' },
    GroupInfo: groups.get(a.group_id) ?? { GroupID: a.group_id },
    HandleResult: a.status,
    ReqMsg: a.req_message,
    HandleMsg: a.handled_msg,
    ReqTime: seconds(a.req_at),
    HandleUserID: a.handled_by ?? '',
    HandleTime: seconds(a.handled_at),
    Ex: '',
  };
}

export const id2Results = (results: readonly UserResult[]): Id2Result[] =>
  results.map((r) => ({ UserID: r.uid, Result: r.result }));

export function successAndFailed(results: readonly UserResult[]) {
  return {
    success: results.filter((r) => r.result === 0).map((r) => r.uid),
    failed: results.filter((r) => r.result !== 0).map((r) => r.uid),
  };
}

// ---- paging -------------------------------------------------------------------------------------

/** How far PageNumber may reach without a Cursor: (PageNumber - 1) * ShowNumber rows skipped. */
export const MAX_SKIPPED_ROWS = 10_000;

export interface PageRequest {
  pageNumber: number;
  showNumber: number;
  /** Rows before the page (PageNumber), when no cursor is given. */
  skip: number;
}

/** RequestPagination with its defaults: page 1, 20 rows; bounded reach by page number. */
export function pageRequest(p: RequestPaginationDto | undefined, hasCursor: boolean): PageRequest {
  const pageNumber = p?.PageNumber || 1;
  const showNumber = p?.ShowNumber || DEFAULT_SHOW_NUMBER;
  const skip = hasCursor ? 0 : (pageNumber - 1) * showNumber;
  if (skip > MAX_SKIPPED_ROWS) {
    throw Errors.validation(
      `Pagination reaches past ${MAX_SKIPPED_ROWS} rows: page on with Cursor (NextCursor of the ` +
        'previous answer) instead of PageNumber',
    );
  }
  return { pageNumber, showNumber, skip };
}

/** A group search cursor: `<created_at_us>.<group_id>` of the last group of the previous page. */
export function parseGroupCursor(cursor: string): { createdAtUs: number; groupId: string } {
  const m = /^(\d{1,16})\.([A-Za-z0-9_]{1,64})$/.exec(cursor);
  if (!m) throw Errors.validation('Cursor: pass back NextCursor of the previous answer');
  return { createdAtUs: Number(m[1]), groupId: m[2] };
}

/** A member cursor: the member_seq of the last member of the previous page. */
export function parseMemberCursor(cursor: string): number {
  if (!/^\d{1,15}$/.test(cursor)) {
    throw Errors.validation('Cursor: pass back NextCursor of the previous answer');
  }
  return Number(cursor);
}

/** Rows per read-model query when an rpc answers a whole list. */
export const MEMBER_BATCH = 1_000;

/** Every current member of a group, in join order, read in batches. */
export async function allMembers(
  reader: GroupReader,
  groupId: string,
  nowUs: number,
): Promise<MemberView[]> {
  const members: MemberView[] = [];
  let afterSeq = 0;
  for (;;) {
    const page = await reader.members(groupId, { afterSeq, size: MEMBER_BATCH, nowUs });
    members.push(...page.members);
    if (page.nextSeq === null) return members;
    afterSeq = page.nextSeq;
  }
}
