import { DomainError, ErrorCodes } from '../common/errors';

/** Codes of group operations (docs/errors.md). */
const codes = {
  NOT_FOUND: 26001,
  NOT_MEMBER: 26002,
  ROLE_REQUIRED: 26003,
  DISMISSED: 26004,
  GROUP_MUTED: 26005,
  MEMBER_MUTED: 26006,
  ALREADY_MEMBER: 26007,
  OWNER_MUST_TRANSFER: 26008,
  INVITE_ONLY: 26009,
  APPLICATION_NOT_FOUND: 26010,
  FULL: 26011,
  BANNED: 26012,
  EXISTS: 26013,
  ADMIN_ONLY: 26014,
  TARGET_NOT_MEMBER: 26015,
} as const;

export const GroupErrors = {
  codes,
  notFound: (groupId: string) =>
    new DomainError(codes.NOT_FOUND, 404, `group ${groupId} does not exist`),
  notMember: (groupId: string) =>
    new DomainError(codes.NOT_MEMBER, 403, `you are not a member of group ${groupId}`),
  targetNotMember: (groupId: string, uid: string) =>
    new DomainError(codes.TARGET_NOT_MEMBER, 404, `${uid} is not a member of group ${groupId}`),
  roleRequired: (what: string) =>
    new DomainError(codes.ROLE_REQUIRED, 403, `only the owner or an admin may ${what}`),
  ownerRequired: (what: string) =>
    new DomainError(codes.ROLE_REQUIRED, 403, `only the owner may ${what}`),
  /** The caller's role does not reach the target's (removing or muting the owner, an admin). */
  rank: (why: string) => new DomainError(codes.ROLE_REQUIRED, 403, why),
  ownerRoleFixed: () =>
    new DomainError(
      codes.ROLE_REQUIRED,
      403,
      "the owner's role cannot be changed; the owner transfers the ownership instead",
    ),
  adminOnly: (what: string) =>
    new DomainError(codes.ADMIN_ONLY, 403, `only an administrator (admin key) may ${what}`),
  normalGroupAdminOnly: () =>
    new DomainError(
      codes.ADMIN_ONLY,
      403,
      'users create temporary groups; a normal group is created by an administrator (admin key)',
    ),
  dismissed: (groupId: string) =>
    new DomainError(codes.DISMISSED, 410, `group ${groupId} has been dismissed`),
  banned: (groupId: string) =>
    new DomainError(codes.BANNED, 403, `group ${groupId} is banned by an administrator`),
  groupMuted: (groupId: string) =>
    new DomainError(
      codes.GROUP_MUTED,
      403,
      `group ${groupId} is muted: only the owner and admins may send`,
    ),
  memberMuted: (groupId: string, untilUs: number) =>
    new DomainError(
      codes.MEMBER_MUTED,
      403,
      `you are muted in group ${groupId} until ${new Date(Math.floor(untilUs / 1000)).toISOString()}`,
    ),
  alreadyMember: (groupId: string, uid: string) =>
    new DomainError(codes.ALREADY_MEMBER, 409, `${uid} is already a member of group ${groupId}`),
  ownerMustTransfer: (groupId: string) =>
    new DomainError(
      codes.OWNER_MUST_TRANSFER,
      409,
      `the owner cannot quit group ${groupId}: transfer the ownership first (or dismiss it)`,
    ),
  inviteOnly: (groupId: string) =>
    new DomainError(
      codes.INVITE_ONLY,
      403,
      `group ${groupId} is invite-only: ask its owner or an admin to invite you`,
    ),
  applicationNotFound: (groupId: string, uid: string) =>
    new DomainError(
      codes.APPLICATION_NOT_FOUND,
      404,
      `${uid} has no pending application to group ${groupId}`,
    ),
  full: (groupId: string, max: number) =>
    new DomainError(codes.FULL, 409, `group ${groupId} is full (at most ${max} members)`),
  exists: (groupId: string) =>
    new DomainError(codes.EXISTS, 409, `group ${groupId} already exists`),
  validation: (message: string) => new DomainError(ErrorCodes.VALIDATION_FAILED, 400, message),
};
