import { DomainError, ErrorCodes } from '../../common/errors';
import type { NewEvent } from '../../common/stream-command-processor';
import { GroupErrors } from '../groups.errors';
import {
  GROUP_APPLICATION_HANDLED,
  GROUP_APPLIED,
  GROUP_CREATED,
  GROUP_DISMISSED,
  GROUP_INFO_SET,
  GROUP_MEMBER_MUTED,
  GROUP_MEMBER_ROLE_SET,
  GROUP_MEMBERS_JOINED,
  GROUP_MEMBERS_LEFT,
  GROUP_OWNER_TRANSFERRED,
  GROUP_STATUS_SET,
  GroupActor,
  GroupApplicationHandledData,
  GroupAppliedData,
  GroupCreatedData,
  GroupDismissedData,
  GroupInfoFields,
  GroupInfoSetData,
  GroupMemberMutedData,
  GroupMemberRoleSetData,
  GroupMembersJoinedData,
  GroupMembersLeftData,
  GroupOwnerTransferredData,
  GroupStatus,
  GroupStatusSetData,
  HandleResult,
  JoinHow,
  JoinPolicy,
  LeaveHow,
  ROLE_ADMIN,
  ROLE_MEMBER,
  ROLE_OWNER,
  RoleLevel,
  STATUS_BANNED,
  STATUS_DISMISSED,
  STATUS_MUTED,
  STATUS_NORMAL,
} from '../groups.events';
import {
  AddMembers,
  CreateGroup,
  decide,
  DismissGroup,
  evolve,
  ExistingGroup,
  groupDecider,
  GroupCommand,
  GroupResult,
  GroupState,
  HandleApplication,
  initialState,
  JoinGroup,
  managesGroup,
  MuteMember,
  QuitGroup,
  RemoveMembers,
  sendRefusal,
  SetGroupInfo,
  SetGroupStatus,
  SetMemberRole,
  TransferOwner,
} from './group';
import { seeded } from '../../../test/support/seeded-random';

const GROUP = 'g_1';
const OWNER = 'owner';
const ADMIN = 'admin-1';
const ADMIN2 = 'admin-2';
const MEMBER = 'member-1';
const MEMBER2 = 'member-2';
const OUTSIDER = 'outsider';
const NEWCOMER = 'newcomer';

/** When the group was created, and when the command under test is decided. */
const T0_US = 1_720_000_000_000_000;
const T1_US = T0_US + 1_000_000;
const HOUR_US = 3_600_000_000;
/** Large enough not to matter unless a test is about it. */
const MAX = 1000;

const C = GroupErrors.codes;

const user = (uid: string): GroupActor => ({ kind: 'user', uid });
const ADMIN_KEY: GroupActor = { kind: 'admin' };

const base = (actor: GroupActor) => ({
  groupId: GROUP,
  actor,
  nowUs: T1_US,
  commandId: 'cmd-1',
});

// ---- commands -----------------------------------------------------------------------------------

/** The owner creates a temporary open group with an admin and two members. */
function create(overrides: Partial<CreateGroup> = {}): CreateGroup {
  return {
    kind: 'CreateGroup',
    ...base(user(OWNER)),
    nowUs: T0_US,
    name: 'the group',
    faceUrl: 'https://example.com/face.png',
    introduction: 'intro',
    notification: 'notice',
    ex: '{}',
    groupType: 2,
    temporary: true,
    joinPolicy: 'open',
    ownerUid: OWNER,
    members: [
      { uid: ADMIN, roleLevel: ROLE_ADMIN },
      { uid: MEMBER, roleLevel: ROLE_MEMBER },
      { uid: MEMBER2, roleLevel: ROLE_MEMBER },
    ],
    maxMembers: MAX,
    ...overrides,
  };
}

const setInfo = (actor: GroupActor, changes: GroupInfoFields): SetGroupInfo => ({
  kind: 'SetGroupInfo',
  ...base(actor),
  changes,
});

const join = (uid: string, overrides: Partial<JoinGroup> = {}): JoinGroup => ({
  kind: 'JoinGroup',
  ...base(user(uid)),
  reqMessage: 'let me in',
  maxMembers: MAX,
  ...overrides,
});

const handle = (
  actor: GroupActor,
  uid: string,
  result: HandleResult,
  overrides: Partial<HandleApplication> = {},
): HandleApplication => ({
  kind: 'HandleApplication',
  ...base(actor),
  uid,
  result,
  handledMsg: 'ok',
  maxMembers: MAX,
  ...overrides,
});

const quit = (actor: GroupActor): QuitGroup => ({ kind: 'QuitGroup', ...base(actor) });

const remove = (actor: GroupActor, uids: string[]): RemoveMembers => ({
  kind: 'RemoveMembers',
  ...base(actor),
  uids,
  reason: 'spam',
});

const add = (
  actor: GroupActor,
  uids: string[],
  overrides: Partial<AddMembers> = {},
): AddMembers => ({
  kind: 'AddMembers',
  ...base(actor),
  uids,
  unknown: new Set<string>(),
  maxMembers: MAX,
  ...overrides,
});

const transfer = (
  actor: GroupActor,
  toUid: string,
  fromUid: string | null = null,
): TransferOwner => ({
  kind: 'TransferOwner',
  ...base(actor),
  fromUid,
  toUid,
});

const setRole = (actor: GroupActor, uid: string, roleLevel: RoleLevel): SetMemberRole => ({
  kind: 'SetMemberRole',
  ...base(actor),
  uid,
  roleLevel,
});

const mute = (actor: GroupActor, uid: string, mutedUntilUs: number): MuteMember => ({
  kind: 'MuteMember',
  ...base(actor),
  uid,
  mutedUntilUs,
});

const setStatus = (actor: GroupActor, groupStatus: GroupStatus): SetGroupStatus => ({
  kind: 'SetGroupStatus',
  ...base(actor),
  groupStatus,
});

const dismiss = (actor: GroupActor): DismissGroup => ({ kind: 'DismissGroup', ...base(actor) });

// ---- events -------------------------------------------------------------------------------------

/** The GroupCreated of `create()`: owner, admin, member, member2; open; temporary. */
function created(overrides: Partial<GroupCreatedData> = {}): NewEvent {
  const data: GroupCreatedData = {
    groupId: GROUP,
    name: 'the group',
    faceUrl: 'https://example.com/face.png',
    introduction: 'intro',
    notification: 'notice',
    ex: '{}',
    groupType: 2,
    temporary: true,
    joinPolicy: 'open',
    ownerUid: OWNER,
    creatorUid: OWNER,
    members: [
      { uid: OWNER, roleLevel: ROLE_OWNER },
      { uid: ADMIN, roleLevel: ROLE_ADMIN },
      { uid: MEMBER, roleLevel: ROLE_MEMBER },
      { uid: MEMBER2, roleLevel: ROLE_MEMBER },
    ],
    atUs: T0_US,
    ...overrides,
  };
  return { type: GROUP_CREATED, data };
}

/** The standard group with another join policy. */
const createdWith = (joinPolicy: JoinPolicy): NewEvent => created({ joinPolicy });

/** The standard group with a second admin. */
const createdWithTwoAdmins = (): NewEvent =>
  created({
    members: [
      { uid: OWNER, roleLevel: ROLE_OWNER },
      { uid: ADMIN, roleLevel: ROLE_ADMIN },
      { uid: ADMIN2, roleLevel: ROLE_ADMIN },
      { uid: MEMBER, roleLevel: ROLE_MEMBER },
      { uid: MEMBER2, roleLevel: ROLE_MEMBER },
    ],
  });

function infoSet(changes: GroupInfoFields, byUid: string | null, atUs = T1_US): NewEvent {
  const data: GroupInfoSetData = { groupId: GROUP, changes, byUid, atUs };
  return { type: GROUP_INFO_SET, data };
}

function joined(uids: string[], how: JoinHow, byUid: string | null, atUs = T1_US): NewEvent {
  const data: GroupMembersJoinedData = {
    groupId: GROUP,
    members: uids.map((uid) => ({ uid, roleLevel: ROLE_MEMBER })),
    how,
    byUid,
    atUs,
  };
  return { type: GROUP_MEMBERS_JOINED, data };
}

function left(
  uids: string[],
  how: LeaveHow,
  byUid: string | null,
  reason = how === 'quit' ? '' : 'spam',
): NewEvent {
  const data: GroupMembersLeftData = { groupId: GROUP, uids, how, reason, byUid, atUs: T1_US };
  return { type: GROUP_MEMBERS_LEFT, data };
}

function applied(uid: string, reqMessage = 'let me in', atUs = T1_US): NewEvent {
  const data: GroupAppliedData = { groupId: GROUP, uid, reqMessage, atUs };
  return { type: GROUP_APPLIED, data };
}

function handled(uid: string, result: HandleResult, byUid: string | null): NewEvent {
  const data: GroupApplicationHandledData = {
    groupId: GROUP,
    uid,
    result,
    handledMsg: 'ok',
    byUid,
    atUs: T1_US,
  };
  return { type: GROUP_APPLICATION_HANDLED, data };
}

function transferred(fromUid: string, toUid: string, byUid: string | null): NewEvent {
  const data: GroupOwnerTransferredData = { groupId: GROUP, fromUid, toUid, byUid, atUs: T1_US };
  return { type: GROUP_OWNER_TRANSFERRED, data };
}

function roleSet(
  uid: string,
  roleLevel: GroupMemberRoleSetData['roleLevel'],
  byUid: string | null,
): NewEvent {
  const data: GroupMemberRoleSetData = { groupId: GROUP, uid, roleLevel, byUid, atUs: T1_US };
  return { type: GROUP_MEMBER_ROLE_SET, data };
}

function muted(uid: string, mutedUntilUs: number, byUid: string | null, atUs = T1_US): NewEvent {
  const data: GroupMemberMutedData = { groupId: GROUP, uid, mutedUntilUs, byUid, atUs };
  return { type: GROUP_MEMBER_MUTED, data };
}

function statusSet(status: GroupStatusSetData['status'], byUid: string | null): NewEvent {
  const data: GroupStatusSetData = { groupId: GROUP, status, byUid, atUs: T1_US };
  return { type: GROUP_STATUS_SET, data };
}

function dismissed(byUid: string | null): NewEvent {
  const data: GroupDismissedData = { groupId: GROUP, byUid, atUs: T1_US };
  return { type: GROUP_DISMISSED, data };
}

// ---- given / when / then ------------------------------------------------------------------------

function exists(state: GroupState): ExistingGroup {
  expect(state.status).toBe('exists');
  return state as ExistingGroup;
}

const replay = (state: GroupState, events: readonly NewEvent[]): GroupState =>
  events.reduce(evolve, state);

/**
 * given(...history).when(command).then(...newEvents) / .thenThrows(code). `then` returns the
 * result and the state after the new events, for further checks.
 */
function given(...history: NewEvent[]) {
  const state = replay(initialState(), history);
  return {
    state,
    when(command: GroupCommand) {
      return {
        then(...expected: NewEvent[]): { result: GroupResult; state: GroupState } {
          const decision = decide(command, state);
          expect(decision.events).toEqual(expected);
          return { result: decision.result, state: replay(state, decision.events) };
        },
        thenThrows(code: number): DomainError {
          let thrown: unknown;
          try {
            decide(command, state);
          } catch (err) {
            thrown = err;
          }
          expect(thrown).toBeInstanceOf(DomainError);
          expect((thrown as DomainError).code).toBe(code);
          return thrown as DomainError;
        },
      };
    },
  };
}

const roleIn = (state: GroupState, uid: string): RoleLevel | undefined =>
  exists(state).members.get(uid)?.roleLevel;

describe('group', () => {
  describe('create', () => {
    it('lets a user create a temporary group they own, with themselves as owner (role 2)', () => {
      // Given no group, When the owner creates it
      const { result, state } = given().when(create()).then(created());
      // Then it exists at version 1 with the owner as owner
      expect(result).toEqual({ groupId: GROUP, version: 1, outcome: 'done', results: [] });
      const g = exists(state);
      expect(g.version).toBe(1);
      expect(g.ownerUid).toBe(OWNER);
      expect(g.groupStatus).toBe(STATUS_NORMAL);
      expect(g.info).toMatchObject({ creatorUid: OWNER, temporary: true, createdAtUs: T0_US });
      expect(roleIn(state, OWNER)).toBe(ROLE_OWNER);
      expect(roleIn(state, ADMIN)).toBe(ROLE_ADMIN);
      expect(roleIn(state, MEMBER)).toBe(ROLE_MEMBER);
      expect(g.members.size).toBe(4);
    });

    it('adds the owner as owner even when the member list gives them another role', () => {
      const command = create({ members: [{ uid: OWNER, roleLevel: ROLE_MEMBER }] });
      given()
        .when(command)
        .then(created({ members: [{ uid: OWNER, roleLevel: ROLE_OWNER }] }));
    });

    it('keeps admins as role 3 and makes any other role an ordinary member', () => {
      const command = create({
        members: [
          { uid: ADMIN, roleLevel: ROLE_ADMIN },
          { uid: MEMBER, roleLevel: ROLE_OWNER },
        ],
      });
      const { state } = given()
        .when(command)
        .then(
          created({
            members: [
              { uid: OWNER, roleLevel: ROLE_OWNER },
              { uid: ADMIN, roleLevel: ROLE_ADMIN },
              { uid: MEMBER, roleLevel: ROLE_MEMBER },
            ],
          }),
        );
      expect(roleIn(state, MEMBER)).toBe(ROLE_MEMBER);
      expect(exists(state).ownerUid).toBe(OWNER);
    });

    it('folds duplicate members into one, keeping the first role given', () => {
      const command = create({
        members: [
          { uid: MEMBER, roleLevel: ROLE_MEMBER },
          { uid: MEMBER, roleLevel: ROLE_ADMIN },
          { uid: OWNER, roleLevel: ROLE_ADMIN },
          { uid: MEMBER, roleLevel: ROLE_MEMBER },
        ],
      });
      const { state } = given()
        .when(command)
        .then(
          created({
            members: [
              { uid: OWNER, roleLevel: ROLE_OWNER },
              { uid: MEMBER, roleLevel: ROLE_MEMBER },
            ],
          }),
        );
      expect(exists(state).members.size).toBe(2);
    });

    it('refuses a user creating a normal (non-temporary) group with 26014', () => {
      given()
        .when(create({ temporary: false }))
        .thenThrows(C.ADMIN_ONLY);
      expect(C.ADMIN_ONLY).toBe(26014);
    });

    it('lets an administrator create a normal group owned by any user, with no creator', () => {
      const command = create({ actor: ADMIN_KEY, temporary: false, groupType: 1 });
      const { state } = given()
        .when(command)
        .then(created({ temporary: false, groupType: 1, creatorUid: null }));
      expect(exists(state).info.creatorUid).toBeNull();
      expect(exists(state).ownerUid).toBe(OWNER);
    });

    it('refuses a user creating a group owned by someone else with 26003', () => {
      given()
        .when(create({ actor: user(MEMBER) }))
        .thenThrows(C.ROLE_REQUIRED);
    });

    it('refuses to create a group that already exists with 26013', () => {
      given(created()).when(create()).thenThrows(C.EXISTS);
      given(created(), dismissed(OWNER)).when(create()).thenThrows(C.EXISTS);
      expect(C.EXISTS).toBe(26013);
    });

    it('refuses more initial members (the owner counted) than maxMembers with 26011', () => {
      given()
        .when(create({ maxMembers: 3 }))
        .thenThrows(C.FULL);
      expect(C.FULL).toBe(26011);
      // Exactly at the limit is fine, and duplicates do not count twice.
      given()
        .when(create({ maxMembers: 4 }))
        .then(created());
      given()
        .when(
          create({
            maxMembers: 2,
            members: [
              { uid: MEMBER, roleLevel: ROLE_MEMBER },
              { uid: MEMBER, roleLevel: ROLE_MEMBER },
              { uid: OWNER, roleLevel: ROLE_MEMBER },
            ],
          }),
        )
        .then(
          created({
            members: [
              { uid: OWNER, roleLevel: ROLE_OWNER },
              { uid: MEMBER, roleLevel: ROLE_MEMBER },
            ],
          }),
        );
    });
  });

  describe('set info', () => {
    it('lets the owner change the info, writing only the changed fields', () => {
      const { result, state } = given(created())
        .when(setInfo(user(OWNER), { name: 'renamed', introduction: 'intro', ex: undefined }))
        .then(infoSet({ name: 'renamed' }, OWNER));
      expect(result).toEqual({ groupId: GROUP, version: 2, outcome: 'done', results: [] });
      expect(exists(state).info).toMatchObject({ name: 'renamed', introduction: 'intro' });
      expect(exists(state).version).toBe(2);
    });

    it('lets an admin and an administrator change the info', () => {
      given(created())
        .when(setInfo(user(ADMIN), { notification: 'new rules' }))
        .then(infoSet({ notification: 'new rules' }, ADMIN));
      given(created())
        .when(setInfo(ADMIN_KEY, { faceUrl: 'f2' }))
        .then(infoSet({ faceUrl: 'f2' }, null));
    });

    it('refuses an ordinary member with 26003 and an outsider with 26002', () => {
      given(created())
        .when(setInfo(user(MEMBER), { name: 'mine' }))
        .thenThrows(C.ROLE_REQUIRED);
      expect(C.ROLE_REQUIRED).toBe(26003);
      given(created())
        .when(setInfo(user(OUTSIDER), { name: 'mine' }))
        .thenThrows(C.NOT_MEMBER);
      expect(C.NOT_MEMBER).toBe(26002);
    });

    it('writes nothing when no field changes', () => {
      const { result } = given(created())
        .when(setInfo(user(OWNER), { name: 'the group', joinPolicy: 'open' }))
        .then();
      expect(result).toEqual({ groupId: GROUP, version: 1, outcome: 'unchanged', results: [] });
      given(created())
        .when(setInfo(user(OWNER), {}))
        .then();
    });

    it('increments the version by one per event', () => {
      // Given a group changed three times
      const history = [
        created(),
        infoSet({ name: 'a' }, OWNER),
        infoSet({ name: 'b' }, OWNER),
        infoSet({ name: 'c' }, OWNER),
      ];
      expect(exists(given(...history).state).version).toBe(4);
      // When it is changed again, Then the result and the state are at version 5
      const { result, state } = given(...history)
        .when(setInfo(user(ADMIN), { name: 'd' }))
        .then(infoSet({ name: 'd' }, ADMIN));
      expect(result.version).toBe(5);
      expect(exists(state).version).toBe(5);
      expect(exists(state).info.name).toBe('d');
    });

    it('changes the join policy, which the next join obeys', () => {
      const { state } = given(created())
        .when(setInfo(user(OWNER), { joinPolicy: 'invite_only' }))
        .then(infoSet({ joinPolicy: 'invite_only' }, OWNER));
      expect(() => decide(join(NEWCOMER), state)).toThrow(
        expect.objectContaining({ code: C.INVITE_ONLY }),
      );
    });

    it('refuses a change to a group that does not exist with 26001', () => {
      given()
        .when(setInfo(user(OWNER), { name: 'x' }))
        .thenThrows(C.NOT_FOUND);
    });
  });

  describe('join by policy', () => {
    it('lets anyone join an open group at once as an ordinary member', () => {
      const { result, state } = given(created())
        .when(join(NEWCOMER))
        .then(joined([NEWCOMER], 'joined', NEWCOMER));
      expect(result).toEqual({ groupId: GROUP, version: 2, outcome: 'joined', results: [] });
      expect(roleIn(state, NEWCOMER)).toBe(ROLE_MEMBER);
      expect(exists(state).members.get(NEWCOMER)).toEqual({
        roleLevel: ROLE_MEMBER,
        joinedAtUs: T1_US,
        mutedUntilUs: 0,
      });
    });

    it('records an application to an approval group without making a member', () => {
      const { result, state } = given(createdWith('approval'))
        .when(join(NEWCOMER))
        .then(applied(NEWCOMER));
      expect(result).toMatchObject({ version: 2, outcome: 'applied' });
      expect(exists(state).members.has(NEWCOMER)).toBe(false);
      expect(exists(state).applications.get(NEWCOMER)).toEqual({
        reqMessage: 'let me in',
        atUs: T1_US,
      });
    });

    it('writes nothing for a repeated identical application', () => {
      const { result } = given(createdWith('approval'), applied(NEWCOMER))
        .when(join(NEWCOMER, { nowUs: T1_US + 5 }))
        .then();
      expect(result).toEqual({ groupId: GROUP, version: 2, outcome: 'applied', results: [] });
    });

    it('writes nothing while an application is pending, whatever its new message', () => {
      const { result, state } = given(createdWith('approval'), applied(NEWCOMER))
        .when(join(NEWCOMER, { reqMessage: 'please' }))
        .then();
      expect(result.outcome).toBe('applied');
      expect(exists(state).applications.get(NEWCOMER)?.reqMessage).toBe('let me in');
    });

    it('leaves out a null field of a set info (nothing to set)', () => {
      given(created())
        .when(setInfo(user(OWNER), { name: null as unknown as string }))
        .then();
    });

    it('refuses a join of an invite-only group with 26009', () => {
      given(createdWith('invite_only')).when(join(NEWCOMER)).thenThrows(C.INVITE_ONLY);
      expect(C.INVITE_ONLY).toBe(26009);
    });

    it('refuses a member joining again with 26007', () => {
      given(created()).when(join(MEMBER)).thenThrows(C.ALREADY_MEMBER);
      given(createdWith('approval')).when(join(MEMBER)).thenThrows(C.ALREADY_MEMBER);
      expect(C.ALREADY_MEMBER).toBe(26007);
    });

    it('refuses a join of a dismissed group with 26004', () => {
      given(created(), dismissed(OWNER)).when(join(NEWCOMER)).thenThrows(C.DISMISSED);
      expect(C.DISMISSED).toBe(26004);
    });

    it('refuses a join of a banned group with 26012', () => {
      given(created(), statusSet(STATUS_BANNED, null)).when(join(NEWCOMER)).thenThrows(C.BANNED);
      expect(C.BANNED).toBe(26012);
    });

    it('refuses a join of a full open group with 26011', () => {
      given(created())
        .when(join(NEWCOMER, { maxMembers: 4 }))
        .thenThrows(C.FULL);
      given(created())
        .when(join(NEWCOMER, { maxMembers: 5 }))
        .then(joined([NEWCOMER], 'joined', NEWCOMER));
    });

    it('refuses a join of a group that does not exist with 26001', () => {
      given().when(join(NEWCOMER)).thenThrows(C.NOT_FOUND);
      expect(C.NOT_FOUND).toBe(26001);
    });
  });

  describe('handle application', () => {
    const pending = [createdWith('approval'), applied(NEWCOMER)];

    it('lets the owner accept: the application is handled and the applicant joins as approved', () => {
      const { result, state } = given(...pending)
        .when(handle(user(OWNER), NEWCOMER, 1))
        .then(handled(NEWCOMER, 1, OWNER), joined([NEWCOMER], 'approved', OWNER));
      expect(result).toEqual({ groupId: GROUP, version: 4, outcome: 'done', results: [] });
      expect(roleIn(state, NEWCOMER)).toBe(ROLE_MEMBER);
      expect(exists(state).applications.has(NEWCOMER)).toBe(false);
      expect(exists(state).version).toBe(4);
    });

    it('lets an admin refuse, writing only the handled event', () => {
      const { result, state } = given(...pending)
        .when(handle(user(ADMIN), NEWCOMER, -1))
        .then(handled(NEWCOMER, -1, ADMIN));
      expect(result.version).toBe(3);
      expect(exists(state).members.has(NEWCOMER)).toBe(false);
      expect(exists(state).applications.has(NEWCOMER)).toBe(false);
    });

    it('lets an administrator accept, with no approver uid', () => {
      given(...pending)
        .when(handle(ADMIN_KEY, NEWCOMER, 1))
        .then(handled(NEWCOMER, 1, null), joined([NEWCOMER], 'approved', null));
    });

    it('refuses an ordinary member with 26003 and an outsider with 26002', () => {
      given(...pending)
        .when(handle(user(MEMBER), NEWCOMER, 1))
        .thenThrows(C.ROLE_REQUIRED);
      given(...pending)
        .when(handle(user(OUTSIDER), NEWCOMER, 1))
        .thenThrows(C.NOT_MEMBER);
    });

    it('refuses an application that is not pending with 26010', () => {
      given(...pending)
        .when(handle(user(OWNER), OUTSIDER, 1))
        .thenThrows(C.APPLICATION_NOT_FOUND);
      expect(C.APPLICATION_NOT_FOUND).toBe(26010);
      // Once handled it is no longer pending.
      given(...pending, handled(NEWCOMER, -1, OWNER))
        .when(handle(user(OWNER), NEWCOMER, 1))
        .thenThrows(C.APPLICATION_NOT_FOUND);
    });

    it('refuses to accept into a full group with 26011 but still lets a refusal through', () => {
      given(...pending)
        .when(handle(user(OWNER), NEWCOMER, 1, { maxMembers: 4 }))
        .thenThrows(C.FULL);
      given(...pending)
        .when(handle(user(OWNER), NEWCOMER, -1, { maxMembers: 4 }))
        .then(handled(NEWCOMER, -1, OWNER));
    });
  });

  describe('quit', () => {
    it('refuses the owner quitting with 26008', () => {
      given(created())
        .when(quit(user(OWNER)))
        .thenThrows(C.OWNER_MUST_TRANSFER);
      expect(C.OWNER_MUST_TRANSFER).toBe(26008);
    });

    it('refuses a non-member quitting with 26002', () => {
      given(created())
        .when(quit(user(OUTSIDER)))
        .thenThrows(C.NOT_MEMBER);
    });

    it('lets a member leave', () => {
      const { result, state } = given(created())
        .when(quit(user(MEMBER)))
        .then(left([MEMBER], 'quit', MEMBER));
      expect(result).toEqual({ groupId: GROUP, version: 2, outcome: 'done', results: [] });
      expect(exists(state).members.has(MEMBER)).toBe(false);
      expect(exists(state).members.size).toBe(3);
    });

    it('lets an admin leave', () => {
      const { state } = given(created())
        .when(quit(user(ADMIN)))
        .then(left([ADMIN], 'quit', ADMIN));
      expect(managesGroup(state, ADMIN)).toBe(false);
    });

    it('refuses quitting a group that does not exist with 26001', () => {
      given()
        .when(quit(user(MEMBER)))
        .thenThrows(C.NOT_FOUND);
    });
  });

  describe('remove members', () => {
    it('refuses an ordinary member kicking with a thrown 26003', () => {
      given(created())
        .when(remove(user(MEMBER), [MEMBER2]))
        .thenThrows(C.ROLE_REQUIRED);
    });

    it('refuses an outsider with 26002', () => {
      given(created())
        .when(remove(user(OUTSIDER), [MEMBER]))
        .thenThrows(C.NOT_MEMBER);
    });

    it('lets an admin kick an ordinary member', () => {
      const { result, state } = given(created())
        .when(remove(user(ADMIN), [MEMBER]))
        .then(left([MEMBER], 'kicked', ADMIN));
      expect(result).toEqual({
        groupId: GROUP,
        version: 2,
        outcome: 'done',
        results: [{ uid: MEMBER, result: 0 }],
      });
      expect(exists(state).members.has(MEMBER)).toBe(false);
    });

    it('refuses, per user, an admin kicking another admin or the owner', () => {
      const { result } = given(createdWithTwoAdmins())
        .when(remove(user(ADMIN), [ADMIN2, OWNER]))
        .then();
      expect(result.outcome).toBe('unchanged');
      expect(result.version).toBe(1);
      expect(result.results).toEqual([
        { uid: ADMIN2, result: -1, code: C.ROLE_REQUIRED, reason: expect.any(String) },
        { uid: OWNER, result: -1, code: C.ROLE_REQUIRED, reason: expect.any(String) },
      ]);
    });

    it('lets the owner kick an admin', () => {
      const { result, state } = given(created())
        .when(remove(user(OWNER), [ADMIN]))
        .then(left([ADMIN], 'kicked', OWNER));
      expect(result.results).toEqual([{ uid: ADMIN, result: 0 }]);
      expect(exists(state).members.has(ADMIN)).toBe(false);
    });

    it('refuses, per user, a non-member (26002) and the actor themselves (26003)', () => {
      const { result } = given(created())
        .when(remove(user(OWNER), [OUTSIDER, OWNER]))
        .then();
      expect(result.results).toEqual([
        { uid: OUTSIDER, result: -1, code: C.NOT_MEMBER, reason: expect.any(String) },
        { uid: OWNER, result: -1, code: C.ROLE_REQUIRED, reason: expect.stringContaining('quit') },
      ]);
      const bySelf = given(created())
        .when(remove(user(ADMIN), [ADMIN]))
        .then();
      expect(bySelf.result.results).toEqual([
        { uid: ADMIN, result: -1, code: C.ROLE_REQUIRED, reason: expect.stringContaining('quit') },
      ]);
    });

    it('removes the allowed users of a mixed batch, reporting each once in the order asked', () => {
      const { result } = given(createdWithTwoAdmins())
        .when(remove(user(ADMIN), [MEMBER, OUTSIDER, ADMIN2, MEMBER, MEMBER2]))
        .then(left([MEMBER, MEMBER2], 'kicked', ADMIN));
      expect(result.results.map((r) => [r.uid, r.result])).toEqual([
        [MEMBER, 0],
        [OUTSIDER, -1],
        [ADMIN2, -1],
        [MEMBER2, 0],
      ]);
      expect(result.version).toBe(2);
    });

    it("writes how 'removed' and no uid when an administrator removes, admins included", () => {
      const { result } = given(created())
        .when(remove(ADMIN_KEY, [ADMIN, MEMBER, OWNER]))
        .then(left([ADMIN, MEMBER], 'removed', null));
      expect(result.results).toEqual([
        { uid: ADMIN, result: 0 },
        { uid: MEMBER, result: 0 },
        { uid: OWNER, result: -1, code: C.ROLE_REQUIRED, reason: expect.any(String) },
      ]);
    });
  });

  describe('add members', () => {
    it('lets a member invite users into an open group, who enter at once', () => {
      const { result, state } = given(created())
        .when(add(user(MEMBER), [NEWCOMER, OUTSIDER]))
        .then(joined([NEWCOMER, OUTSIDER], 'invited', MEMBER));
      expect(result).toEqual({
        groupId: GROUP,
        version: 2,
        outcome: 'done',
        results: [
          { uid: NEWCOMER, result: 0 },
          { uid: OUTSIDER, result: 0 },
        ],
      });
      expect(roleIn(state, NEWCOMER)).toBe(ROLE_MEMBER);
      expect(roleIn(state, OUTSIDER)).toBe(ROLE_MEMBER);
    });

    it('lets a member invite into an approval group without an application', () => {
      const { state } = given(createdWith('approval'), applied(NEWCOMER))
        .when(add(user(MEMBER), [NEWCOMER]))
        .then(joined([NEWCOMER], 'invited', MEMBER));
      expect(exists(state).applications.has(NEWCOMER)).toBe(false);
    });

    it('refuses unknown users one by one with 40401', () => {
      const { result } = given(created())
        .when(add(user(MEMBER), [NEWCOMER, 'ghost'], { unknown: new Set(['ghost']) }))
        .then(joined([NEWCOMER], 'invited', MEMBER));
      expect(result.results).toEqual([
        { uid: NEWCOMER, result: 0 },
        { uid: 'ghost', result: -1, code: ErrorCodes.USER_NOT_FOUND, reason: expect.any(String) },
      ]);
      expect(ErrorCodes.USER_NOT_FOUND).toBe(40401);
    });

    it('refuses users already members one by one with 26007, writing nothing if none is added', () => {
      const { result } = given(created())
        .when(add(user(ADMIN), [MEMBER, OWNER]))
        .then();
      expect(result.outcome).toBe('unchanged');
      expect(result.results).toEqual([
        { uid: MEMBER, result: -1, code: C.ALREADY_MEMBER, reason: expect.any(String) },
        { uid: OWNER, result: -1, code: C.ALREADY_MEMBER, reason: expect.any(String) },
      ]);
    });

    it('adds users until the group is full and refuses the rest with 26011', () => {
      const { result, state } = given(created())
        .when(add(user(MEMBER), [NEWCOMER, OUTSIDER, 'third'], { maxMembers: 5 }))
        .then(joined([NEWCOMER], 'invited', MEMBER));
      expect(result.results).toEqual([
        { uid: NEWCOMER, result: 0 },
        { uid: OUTSIDER, result: -1, code: C.FULL, reason: expect.any(String) },
        { uid: 'third', result: -1, code: C.FULL, reason: expect.any(String) },
      ]);
      expect(exists(state).members.size).toBe(5);
    });

    it('counts a user asked twice once', () => {
      const { result } = given(created())
        .when(add(user(MEMBER), [NEWCOMER, NEWCOMER]))
        .then(joined([NEWCOMER], 'invited', MEMBER));
      expect(result.results).toEqual([{ uid: NEWCOMER, result: 0 }]);
    });

    it('refuses an ordinary member inviting into an invite-only group with a thrown 26003', () => {
      given(createdWith('invite_only'))
        .when(add(user(MEMBER), [NEWCOMER]))
        .thenThrows(C.ROLE_REQUIRED);
    });

    it('lets a group admin invite and an administrator add into an invite-only group', () => {
      given(createdWith('invite_only'))
        .when(add(user(ADMIN), [NEWCOMER]))
        .then(joined([NEWCOMER], 'invited', ADMIN));
      given(createdWith('invite_only'))
        .when(add(ADMIN_KEY, [NEWCOMER]))
        .then(joined([NEWCOMER], 'added', null));
    });

    it('refuses an outsider inviting with 26002', () => {
      given(created())
        .when(add(user(OUTSIDER), [NEWCOMER]))
        .thenThrows(C.NOT_MEMBER);
    });
  });

  describe('transfer ownership', () => {
    it('makes the new owner role 2 and the old owner an ordinary member (role 1)', () => {
      const { result, state } = given(created())
        .when(transfer(user(OWNER), MEMBER))
        .then(transferred(OWNER, MEMBER, OWNER));
      expect(result.version).toBe(2);
      const g = exists(state);
      expect(g.ownerUid).toBe(MEMBER);
      expect(roleIn(state, MEMBER)).toBe(ROLE_OWNER);
      expect(roleIn(state, OWNER)).toBe(ROLE_MEMBER);
      // The old owner may now quit; the new one may not.
      expect(decide(quit(user(OWNER)), state).events).toEqual([left([OWNER], 'quit', OWNER)]);
      expect(() => decide(quit(user(MEMBER)), state)).toThrow(
        expect.objectContaining({ code: C.OWNER_MUST_TRANSFER }),
      );
    });

    it('lifts the mute of a member who becomes the owner', () => {
      const history = [created(), muted(MEMBER, T1_US + HOUR_US, OWNER, T0_US)];
      const { state } = given(...history)
        .when(transfer(user(OWNER), MEMBER))
        .then(transferred(OWNER, MEMBER, OWNER));
      expect(exists(state).members.get(MEMBER)?.mutedUntilUs).toBe(0);
      expect(sendRefusal(state, GROUP, MEMBER, T1_US + 1)).toBeNull();
    });

    it('refuses anyone but the owner with 26003', () => {
      given(created())
        .when(transfer(user(ADMIN), MEMBER))
        .thenThrows(C.ROLE_REQUIRED);
      given(created())
        .when(transfer(user(MEMBER), MEMBER))
        .thenThrows(C.ROLE_REQUIRED);
      given(created())
        .when(transfer(user(OUTSIDER), MEMBER))
        .thenThrows(C.NOT_MEMBER);
    });

    it('lets an administrator transfer, with no uid', () => {
      given(created())
        .when(transfer(ADMIN_KEY, ADMIN))
        .then(transferred(OWNER, ADMIN, null));
    });

    it('refuses a target who is not a member with 26015', () => {
      given(created())
        .when(transfer(user(OWNER), OUTSIDER))
        .thenThrows(C.TARGET_NOT_MEMBER);
      expect(C.TARGET_NOT_MEMBER).toBe(26015);
    });

    it('refuses an old owner uid that is not the owner with a 400', () => {
      const err = given(created())
        .when(transfer(user(OWNER), MEMBER, ADMIN))
        .thenThrows(ErrorCodes.VALIDATION_FAILED);
      expect(err.status).toBe(400);
      // The right old owner is accepted.
      given(created())
        .when(transfer(user(OWNER), MEMBER, OWNER))
        .then(transferred(OWNER, MEMBER, OWNER));
    });

    it('writes nothing when the owner transfers to themselves', () => {
      const { result } = given(created())
        .when(transfer(user(OWNER), OWNER))
        .then();
      expect(result.outcome).toBe('unchanged');
    });
  });

  describe('set member role', () => {
    it('lets the owner make a member an admin and an admin a member', () => {
      const promoted = given(created())
        .when(setRole(user(OWNER), MEMBER, ROLE_ADMIN))
        .then(roleSet(MEMBER, ROLE_ADMIN, OWNER));
      expect(roleIn(promoted.state, MEMBER)).toBe(ROLE_ADMIN);
      expect(managesGroup(promoted.state, MEMBER)).toBe(true);
      expect(promoted.result.version).toBe(2);

      const demoted = given(created())
        .when(setRole(user(OWNER), ADMIN, ROLE_MEMBER))
        .then(roleSet(ADMIN, ROLE_MEMBER, OWNER));
      expect(roleIn(demoted.state, ADMIN)).toBe(ROLE_MEMBER);
      expect(managesGroup(demoted.state, ADMIN)).toBe(false);
    });

    it('refuses an admin setting roles with 26003, demoting the owner included', () => {
      given(created())
        .when(setRole(user(ADMIN), OWNER, ROLE_MEMBER))
        .thenThrows(C.ROLE_REQUIRED);
      given(created())
        .when(setRole(user(ADMIN), MEMBER, ROLE_ADMIN))
        .thenThrows(C.ROLE_REQUIRED);
      given(created())
        .when(setRole(user(MEMBER), MEMBER2, ROLE_ADMIN))
        .thenThrows(C.ROLE_REQUIRED);
    });

    it("refuses changing the owner's role with 26003, even by an administrator", () => {
      given(created())
        .when(setRole(ADMIN_KEY, OWNER, ROLE_MEMBER))
        .thenThrows(C.ROLE_REQUIRED);
      given(created())
        .when(setRole(user(OWNER), OWNER, ROLE_ADMIN))
        .thenThrows(C.ROLE_REQUIRED);
    });

    it('refuses role 2 (owner) with a 400: ownership is transferred instead', () => {
      const err = given(created())
        .when(setRole(user(OWNER), MEMBER, ROLE_OWNER))
        .thenThrows(ErrorCodes.VALIDATION_FAILED);
      expect(err.status).toBe(400);
    });

    it('writes nothing when the role is unchanged', () => {
      const { result } = given(created())
        .when(setRole(user(OWNER), ADMIN, ROLE_ADMIN))
        .then();
      expect(result).toEqual({ groupId: GROUP, version: 1, outcome: 'unchanged', results: [] });
    });

    it('refuses a target who is not a member with 26015', () => {
      given(created())
        .when(setRole(user(OWNER), OUTSIDER, ROLE_ADMIN))
        .thenThrows(C.TARGET_NOT_MEMBER);
    });
  });

  describe('mute member', () => {
    const UNTIL = T1_US + HOUR_US;

    it('lets the owner mute a member, who may not send until the time passes', () => {
      const { result, state } = given(created())
        .when(mute(user(OWNER), MEMBER, UNTIL))
        .then(muted(MEMBER, UNTIL, OWNER));
      expect(result.version).toBe(2);
      expect(exists(state).members.get(MEMBER)?.mutedUntilUs).toBe(UNTIL);
      expect(sendRefusal(state, GROUP, MEMBER, T1_US)?.code).toBe(C.MEMBER_MUTED);
      expect(sendRefusal(state, GROUP, MEMBER, UNTIL - 1)?.code).toBe(C.MEMBER_MUTED);
      expect(C.MEMBER_MUTED).toBe(26006);
      expect(sendRefusal(state, GROUP, MEMBER, UNTIL)).toBeNull();
      expect(sendRefusal(state, GROUP, MEMBER, UNTIL + HOUR_US)).toBeNull();
      // Others are not affected.
      expect(sendRefusal(state, GROUP, MEMBER2, T1_US)).toBeNull();
    });

    it('lets an admin mute an ordinary member', () => {
      given(created())
        .when(mute(user(ADMIN), MEMBER, UNTIL))
        .then(muted(MEMBER, UNTIL, ADMIN));
    });

    it('refuses an ordinary member muting with 26003', () => {
      given(created())
        .when(mute(user(MEMBER), MEMBER2, UNTIL))
        .thenThrows(C.ROLE_REQUIRED);
    });

    it('refuses muting the owner with 26003, even by an administrator', () => {
      given(created())
        .when(mute(user(ADMIN), OWNER, UNTIL))
        .thenThrows(C.ROLE_REQUIRED);
      given(created())
        .when(mute(ADMIN_KEY, OWNER, UNTIL))
        .thenThrows(C.ROLE_REQUIRED);
    });

    it('refuses an admin muting an admin with 26003, and lets the owner do it', () => {
      given(createdWithTwoAdmins())
        .when(mute(user(ADMIN), ADMIN2, UNTIL))
        .thenThrows(C.ROLE_REQUIRED);
      given(createdWithTwoAdmins())
        .when(mute(user(OWNER), ADMIN2, UNTIL))
        .then(muted(ADMIN2, UNTIL, OWNER));
    });

    it('treats a mute in the past as an unmute', () => {
      // Given a muted member
      const history = [created(), muted(MEMBER, UNTIL, OWNER, T0_US)];
      expect(sendRefusal(given(...history).state, GROUP, MEMBER, T1_US)?.code).toBe(C.MEMBER_MUTED);
      // When an admin mutes them until a time already past
      const { state } = given(...history)
        .when(mute(user(ADMIN), MEMBER, T1_US - 1))
        .then(muted(MEMBER, 0, ADMIN));
      // Then the mute is lifted
      expect(exists(state).members.get(MEMBER)?.mutedUntilUs).toBe(0);
      expect(sendRefusal(state, GROUP, MEMBER, T1_US)).toBeNull();
      // And 0 lifts it the same way
      given(...history)
        .when(mute(user(ADMIN), MEMBER, 0))
        .then(muted(MEMBER, 0, ADMIN));
    });

    it('writes nothing when unmuting a member who is not muted', () => {
      given(created())
        .when(mute(user(OWNER), MEMBER, 0))
        .then();
      // A mute that has run out counts as none.
      given(created(), muted(MEMBER, T1_US - 1, OWNER, T0_US))
        .when(mute(user(OWNER), MEMBER, 0))
        .then();
    });

    it('refuses a target who is not a member with 26015', () => {
      given(created())
        .when(mute(user(OWNER), OUTSIDER, UNTIL))
        .thenThrows(C.TARGET_NOT_MEMBER);
    });
  });

  describe('group status', () => {
    it('lets the owner mute the group: members are refused with 26005, owner and admins speak', () => {
      const { state } = given(created())
        .when(setStatus(user(OWNER), STATUS_MUTED))
        .then(statusSet(STATUS_MUTED, OWNER));
      expect(exists(state).groupStatus).toBe(STATUS_MUTED);
      expect(sendRefusal(state, GROUP, MEMBER, T1_US)?.code).toBe(C.GROUP_MUTED);
      expect(C.GROUP_MUTED).toBe(26005);
      expect(sendRefusal(state, GROUP, ADMIN, T1_US)).toBeNull();
      expect(sendRefusal(state, GROUP, OWNER, T1_US)).toBeNull();
    });

    it('lets an admin unmute the group, after which members speak again', () => {
      const { state } = given(created(), statusSet(STATUS_MUTED, OWNER))
        .when(setStatus(user(ADMIN), STATUS_NORMAL))
        .then(statusSet(STATUS_NORMAL, ADMIN));
      expect(sendRefusal(state, GROUP, MEMBER, T1_US)).toBeNull();
    });

    it('refuses an ordinary member muting the group with 26003', () => {
      given(created())
        .when(setStatus(user(MEMBER), STATUS_MUTED))
        .thenThrows(C.ROLE_REQUIRED);
    });

    it('writes nothing when the status is unchanged', () => {
      const { result } = given(created(), statusSet(STATUS_MUTED, OWNER))
        .when(setStatus(user(OWNER), STATUS_MUTED))
        .then();
      expect(result).toMatchObject({ version: 2, outcome: 'unchanged' });
    });

    it('refuses banning or unbanning by anyone but an administrator with 26014', () => {
      given(created())
        .when(setStatus(user(OWNER), STATUS_BANNED))
        .thenThrows(C.ADMIN_ONLY);
      given(created(), statusSet(STATUS_BANNED, null))
        .when(setStatus(user(OWNER), STATUS_NORMAL))
        .thenThrows(C.ADMIN_ONLY);
      given(created(), statusSet(STATUS_BANNED, null))
        .when(setStatus(user(ADMIN), STATUS_MUTED))
        .thenThrows(C.ADMIN_ONLY);
    });

    it('lets an administrator ban a group, which then refuses sends (26012) and user changes', () => {
      const { state } = given(created())
        .when(setStatus(ADMIN_KEY, STATUS_BANNED))
        .then(statusSet(STATUS_BANNED, null));
      expect(sendRefusal(state, GROUP, OWNER, T1_US)?.code).toBe(C.BANNED);
      expect(sendRefusal(state, GROUP, MEMBER, T1_US)?.code).toBe(C.BANNED);
      expect(() => decide(setInfo(user(OWNER), { name: 'x' }), state)).toThrow(
        expect.objectContaining({ code: C.BANNED }),
      );
      // An administrator still may change it, and unban it.
      expect(decide(setInfo(ADMIN_KEY, { name: 'x' }), state).events).toEqual([
        infoSet({ name: 'x' }, null),
      ]);
      expect(decide(setStatus(ADMIN_KEY, STATUS_NORMAL), state).events).toEqual([
        statusSet(STATUS_NORMAL, null),
      ]);
    });

    it('dismisses the group when status 2 is set', () => {
      const { state } = given(created())
        .when(setStatus(user(OWNER), STATUS_DISMISSED))
        .then(dismissed(OWNER));
      expect(exists(state).groupStatus).toBe(STATUS_DISMISSED);
      given(created())
        .when(setStatus(user(ADMIN), STATUS_DISMISSED))
        .thenThrows(C.ROLE_REQUIRED);
    });
  });

  describe('dismiss', () => {
    it('lets the owner dismiss the group', () => {
      const { result, state } = given(created())
        .when(dismiss(user(OWNER)))
        .then(dismissed(OWNER));
      expect(result).toEqual({ groupId: GROUP, version: 2, outcome: 'done', results: [] });
      expect(exists(state).groupStatus).toBe(STATUS_DISMISSED);
      expect(sendRefusal(state, GROUP, OWNER, T1_US)?.code).toBe(C.DISMISSED);
    });

    it('lets an administrator dismiss the group, with no uid', () => {
      given(created()).when(dismiss(ADMIN_KEY)).then(dismissed(null));
    });

    it('checks who asks before answering that the group is already dismissed', () => {
      given(created(), dismissed(OWNER))
        .when(dismiss(user(NEWCOMER)))
        .thenThrows(C.NOT_MEMBER);
      given(created(), dismissed(OWNER))
        .when(dismiss(user(MEMBER)))
        .thenThrows(C.ROLE_REQUIRED);
    });

    it('leaves a banned group to administrators: its owner cannot dismiss it (26012)', () => {
      given(created(), statusSet(STATUS_BANNED, null))
        .when(dismiss(user(OWNER)))
        .thenThrows(C.BANNED);
      given(created(), statusSet(STATUS_BANNED, null))
        .when(dismiss(ADMIN_KEY))
        .then(dismissed(null));
    });

    it('refuses an ordinary member or a group admin with 26003', () => {
      given(created())
        .when(dismiss(user(MEMBER)))
        .thenThrows(C.ROLE_REQUIRED);
      given(created())
        .when(dismiss(user(ADMIN)))
        .thenThrows(C.ROLE_REQUIRED);
    });

    const afterDismiss: [string, GroupCommand][] = [
      ['set info', setInfo(user(OWNER), { name: 'x' })],
      ['set info by an administrator', setInfo(ADMIN_KEY, { name: 'x' })],
      ['join', join(NEWCOMER)],
      ['handle an application', handle(user(OWNER), NEWCOMER, 1)],
      ['remove', remove(user(OWNER), [MEMBER])],
      ['add', add(ADMIN_KEY, [NEWCOMER])],
      ['transfer', transfer(user(OWNER), MEMBER)],
      ['set a role', setRole(user(OWNER), MEMBER, ROLE_ADMIN)],
      ['mute a member', mute(user(OWNER), MEMBER, T1_US + HOUR_US)],
      ['mute the group', setStatus(user(OWNER), STATUS_MUTED)],
      ['ban the group', setStatus(ADMIN_KEY, STATUS_BANNED)],
      ['quit', quit(user(MEMBER))],
    ];

    it.each(afterDismiss)('refuses %s after the dismissal with 26004', (_name, command) => {
      given(createdWith('approval'), applied(NEWCOMER), dismissed(OWNER))
        .when(command)
        .thenThrows(C.DISMISSED);
    });

    it('writes nothing when a dismissed group is dismissed again', () => {
      const { result } = given(created(), dismissed(OWNER))
        .when(dismiss(user(OWNER)))
        .then();
      expect(result).toMatchObject({ version: 2, outcome: 'unchanged' });
    });
  });

  describe('sendRefusal and managesGroup', () => {
    it('refuses a send to a group that does not exist (26001) or by a non-member (26002)', () => {
      expect(sendRefusal(initialState(), GROUP, MEMBER, T1_US)?.code).toBe(C.NOT_FOUND);
      expect(sendRefusal(given(created()).state, GROUP, OUTSIDER, T1_US)?.code).toBe(C.NOT_MEMBER);
      expect(sendRefusal(given(created()).state, GROUP, MEMBER, T1_US)).toBeNull();
    });

    it('reports the group mute before a member mute', () => {
      const { state } = given(
        created(),
        muted(MEMBER, T1_US + HOUR_US, OWNER, T0_US),
        statusSet(STATUS_MUTED, OWNER),
      );
      expect(sendRefusal(state, GROUP, MEMBER, T1_US)?.code).toBe(C.GROUP_MUTED);
    });

    it('tells owners and admins from members and outsiders', () => {
      const { state } = given(created());
      expect(managesGroup(state, OWNER)).toBe(true);
      expect(managesGroup(state, ADMIN)).toBe(true);
      expect(managesGroup(state, MEMBER)).toBe(false);
      expect(managesGroup(state, OUTSIDER)).toBe(false);
      expect(managesGroup(initialState(), OWNER)).toBe(false);
    });
  });

  describe('evolve', () => {
    it('starts with no group and ignores events before the creation', () => {
      expect(initialState()).toEqual({ status: 'none' });
      expect(evolve(initialState(), joined([MEMBER], 'joined', MEMBER))).toEqual({
        status: 'none',
      });
    });

    it('does not change an earlier state when a later event is evolved (persistent members)', () => {
      // Given the state before a join
      const before = exists(given(created()).state);
      // When a join is evolved from it
      const after = exists(evolve(before, joined([NEWCOMER], 'joined', NEWCOMER)));
      // Then the new state has the newcomer and the earlier one still lacks them
      expect(after.members.has(NEWCOMER)).toBe(true);
      expect(before.members.has(NEWCOMER)).toBe(false);
      expect(before.members.size).toBe(4);
      expect(before.version).toBe(1);
      // And deciding on the earlier state still sees the newcomer as an outsider
      expect(decide(join(NEWCOMER), before).events).toEqual([
        joined([NEWCOMER], 'joined', NEWCOMER),
      ]);
      // Likewise for a leave, a role change and an application
      evolve(before, left([MEMBER], 'quit', MEMBER));
      evolve(before, roleSet(MEMBER, ROLE_ADMIN, OWNER));
      evolve(before, applied(OUTSIDER));
      expect(before.members.get(MEMBER)?.roleLevel).toBe(ROLE_MEMBER);
      expect(before.applications.size).toBe(0);
    });

    it('counts every event in the version, including ones it does not know', () => {
      const state = exists(
        given(created(), infoSet({ name: 'x' }, OWNER), { type: 'SomethingElse', data: {} }).state,
      );
      expect(state.version).toBe(3);
    });
  });

  describe('groupDecider', () => {
    it('wires the pure functions and derives event ids from the command id and index', () => {
      expect(groupDecider.initialState).toBe(initialState);
      expect(groupDecider.evolve).toBe(evolve);
      expect(groupDecider.decide).toBe(decide);
      const command = join(NEWCOMER);
      const first = groupDecider.eventId(command, 0);
      expect(groupDecider.eventId({ ...command, nowUs: T1_US + 9 }, 0)).toBe(first);
      expect(groupDecider.eventId(command, 1)).not.toBe(first);
      expect(groupDecider.eventId({ ...command, commandId: 'cmd-2' }, 0)).not.toBe(first);
    });

    it('answers a retried command from the events the store already had', () => {
      // Given the store holds the join an earlier attempt of this add wrote, at revision 6
      const stored = [
        {
          id: 'e-1',
          type: GROUP_MEMBERS_JOINED,
          streamId: 'group-g',
          revision: 6,
          position: { commit: 1n, prepare: 1n },
          data: {
            groupId: GROUP,
            members: [{ uid: NEWCOMER, roleLevel: 1 }],
            how: 'added',
            byUid: null,
            atUs: T1_US,
          },
          metadata: { actor: { kind: 'admin' as const, id: 'k' }, correlationId: 'c' },
          createdAt: new Date(),
        },
      ];
      // Then the answer has the version after it and each user's outcome
      const result = groupDecider.resultOfStored(add(ADMIN_KEY, [NEWCOMER, MEMBER]), stored);
      expect(result).toEqual({
        groupId: GROUP,
        version: 7,
        outcome: 'done',
        results: [
          { uid: NEWCOMER, result: 0 },
          { uid: MEMBER, result: -1, reason: 'not changed' },
        ],
      });
    });
  });

  describe('joins and leaves at random (property)', () => {
    const USERS = 200;
    const STEPS = 3000;
    /** The owner and at most 100 others: the walk hits the limit now and then. */
    const CAP = 101;
    const seeds = [
      1,
      42,
      0xdeadbeef,
      Number(process.env.GROUP_PROPERTY_SEED ?? Date.now() % 2 ** 31),
    ];

    it.each(seeds)('keeps the members equal to a set model (seed %d)', (seed) => {
      const random = seeded(seed);
      // Given an open group with only its owner
      let state = given(created({ members: [{ uid: OWNER, roleLevel: ROLE_OWNER }] })).state;
      const model = new Set<string>([OWNER]);
      let events = 0;
      const refusals = { [C.ALREADY_MEMBER]: 0, [C.NOT_MEMBER]: 0, [C.FULL]: 0 };
      // When users join and quit at random
      for (let step = 0; step < STEPS; step++) {
        const uid = `u${Math.floor(random() * USERS)}`;
        const command = random() < 0.5 ? join(uid, { maxMembers: CAP }) : quit(user(uid));
        const expectedCode =
          command.kind === 'JoinGroup'
            ? model.has(uid)
              ? C.ALREADY_MEMBER
              : model.size >= CAP
                ? C.FULL
                : null
            : model.has(uid)
              ? null
              : C.NOT_MEMBER;
        let code: number | null = null;
        try {
          const decision = decide(command, state);
          state = replay(state, decision.events);
          events += decision.events.length;
          expect({ seed, step, version: decision.result.version }).toEqual({
            seed,
            step,
            version: exists(state).version,
          });
        } catch (err) {
          code = err instanceof DomainError ? err.code : -1;
        }
        expect({ seed, step, uid, kind: command.kind, code }).toEqual({
          seed,
          step,
          uid,
          kind: command.kind,
          code: expectedCode,
        });
        if (code === null) {
          if (command.kind === 'JoinGroup') model.add(uid);
          else model.delete(uid);
        } else refusals[code as keyof typeof refusals] += 1;
      }
      // Then the members are the model's, every one but the owner an ordinary member
      const g = exists(state);
      expect({ seed, members: [...g.members.keys()].sort() }).toEqual({
        seed,
        members: [...model].sort(),
      });
      const roles = [...g.members.entries()].filter(([uid]) => uid !== OWNER).map(([, m]) => m);
      expect({ seed, allOrdinary: roles.every((m) => m.roleLevel === ROLE_MEMBER) }).toEqual({
        seed,
        allOrdinary: true,
      });
      // And the version is the creation plus one per event
      expect({ seed, version: g.version }).toEqual({ seed, version: 1 + events });
      // And the walk did exercise joins, leaves and both kinds of refusal
      expect({
        seed,
        manyEvents: events > STEPS / 4,
        refusedJoins: refusals[C.ALREADY_MEMBER] > 0,
        refusedQuits: refusals[C.NOT_MEMBER] > 0,
      }).toEqual({ seed, manyEvents: true, refusedJoins: true, refusedQuits: true });
    });
  });
});
