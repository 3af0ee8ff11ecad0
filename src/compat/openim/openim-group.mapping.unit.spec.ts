import { DomainError } from '../../common/errors';
import type { MemberView } from '../../groups/group-reader';
import {
  JOIN_POLICY_OF,
  memberOfView,
  NEED_VERIFICATION_OF,
  pageRequest,
  parseGroupCursor,
  parseMemberCursor,
} from './openim-group.mapping';

const member = (over: Partial<MemberView>): MemberView => ({
  group_id: 'g1',
  uid: 'bob',
  role_level: 1,
  member_seq: 7,
  joined_at: 1_700_000_000_999,
  join_how: 'joined',
  inviter_uid: null,
  muted_until: 0,
  ...over,
});

describe('OpenIM group mapping', () => {
  it('NeedVerification and the join policy map both ways: 0 approval, 1 invite only, 2 open', () => {
    expect(NEED_VERIFICATION_OF).toEqual({ approval: 0, invite_only: 1, open: 2 });
    for (const v of [0, 1, 2] as const) expect(NEED_VERIFICATION_OF[JOIN_POLICY_OF[v]]).toBe(v);
  });

  it('members: seconds, JoinSource by how they came, the inviter only for invitations', () => {
    expect(memberOfView(member({}))).toEqual({
      GroupID: 'g1',
      UserID: 'bob',
      RoleLevel: 1,
      JoinTime: 1_700_000_000,
      Nickname: '',
      FaceURL: '',
      JoinSource: 3,
      OperatorUserID: '',
      Ex: '',
      MuteEndTime: 0,
      InviterUserID: '',
    });
    expect(
      memberOfView(
        member({ join_how: 'invited', inviter_uid: 'ann', muted_until: 1_800_000_000_500 }),
      ),
    ).toMatchObject({
      JoinSource: 2,
      InviterUserID: 'ann',
      OperatorUserID: 'ann',
      MuteEndTime: 1_800_000_000,
    });
    expect(memberOfView(member({ join_how: 'approved', inviter_uid: 'ann' }))).toMatchObject({
      JoinSource: 3,
      InviterUserID: '',
      OperatorUserID: 'ann',
    });
  });

  it('pagination: page 1 of 20 by default, reach by page number bounded, a cursor skips nothing', () => {
    expect(pageRequest(undefined, false)).toEqual({ pageNumber: 1, showNumber: 20, skip: 0 });
    expect(pageRequest({ PageNumber: 0, ShowNumber: 0 }, false)).toEqual({
      pageNumber: 1,
      showNumber: 20,
      skip: 0,
    });
    expect(pageRequest({ PageNumber: 3, ShowNumber: 50 }, false).skip).toBe(100);
    expect(pageRequest({ PageNumber: 3, ShowNumber: 50 }, true).skip).toBe(0);
    expect(pageRequest({ PageNumber: 101, ShowNumber: 100 }, false).skip).toBe(10_000);
    expect(() => pageRequest({ PageNumber: 102, ShowNumber: 100 }, false)).toThrow(DomainError);
  });

  it('cursors: what the answers hand out, nothing else', () => {
    expect(parseGroupCursor('1700000000000000.g_1')).toEqual({
      createdAtUs: 1_700_000_000_000_000,
      groupId: 'g_1',
    });
    expect(parseMemberCursor('42')).toBe(42);
    for (const bad of ['', 'x', '1.', '.g', '1.g-1', '12345678901234567.g']) {
      expect(() => parseGroupCursor(bad)).toThrow(DomainError);
    }
    for (const bad of ['', '-1', '1.5', 'x', '1234567890123456']) {
      expect(() => parseMemberCursor(bad)).toThrow(DomainError);
    }
  });
});
