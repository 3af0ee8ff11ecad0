import { Inject, Injectable } from '@nestjs/common';
import { CommandBus, QueryBus } from '@nestjs/cqrs';
import { randomUUID } from 'node:crypto';
import { UserDirectory } from '../../accounts/user-directory';
import { DomainError, ErrorCodes, Errors } from '../../common/errors';
import { APP_SETTINGS, AppSettings } from '../../config/app-config';
import type { EventMetadata } from '../../event-store/event-store.port';
import {
  ChangeGroupCommand,
  GroupChange,
  GroupChanged,
} from '../../groups/commands/change-group/change-group.command';
import type { UserResult } from '../../groups/domain/group';
import { GroupReader } from '../../groups/group-reader';
import { GroupStore } from '../../groups/group.store';
import { GroupErrors } from '../../groups/groups.errors';
import {
  GroupActor,
  ROLE_MEMBER,
  STATUS_BANNED,
  STATUS_DISMISSED,
  STATUS_NORMAL,
} from '../../groups/groups.events';
import {
  SendMessageCommand,
  SentMessage,
} from '../../messaging/commands/send-message/send-message.command';
import { GetHistoryQuery, History } from '../../messaging/queries/get-history/get-history.query';
import { parseMsgKey } from '../../messaging/msg-key';
import { GatewayReader } from './gateway-reader';
import { MAX_LIST } from './gateway.dto';
import { ConversationDetail, LastMessage, MsgData, toDetail, toMsgData } from './gateway.view';

/** How stale this node's view of a group may be for a check (another node's change). */
/** The seed's "30 messages" reads, and the most a range answers. */
export const AROUND_SIZE = 30;
export const MAX_RANGE = 200;
/** Rows per page when the joined list walks GroupReader's pages (up to {@link MAX_LIST}). */
const JOINED_PAGE = 200;
/** Ids checked at once by the inner operations (users, groups). */
const CHECK_CHUNK = 50;
const TEXT = 1;
const ADMIN: GroupActor = { kind: 'admin' };

const unique = (ids: readonly string[]): string[] => [...new Set(ids)];

async function inChunks<T, R>(items: readonly T[], fn: (item: T) => Promise<R>): Promise<R[]> {
  const out: R[] = [];
  for (let i = 0; i < items.length; i += CHECK_CHUNK) {
    out.push(...(await Promise.all(items.slice(i, i + CHECK_CHUNK).map(fn))));
  }
  return out;
}

/**
 * The seed gateway's conversation and message operations over the native buses: a conversation
 * is a group (README.md beside this file). Nothing is decided here: changes go through
 * ChangeGroupCommand and SendMessageCommand, message reads through GetHistoryQuery; this class
 * maps ids and shapes and checks what the seed's answers need before anything is written.
 */
@Injectable()
export class GatewayService {
  constructor(
    private readonly commands: CommandBus,
    private readonly queries: QueryBus,
    private readonly groups: GroupStore,
    private readonly groupReader: GroupReader,
    private readonly users: UserDirectory,
    private readonly reader: GatewayReader,
    /** Conversation ids are made as the native API makes group ids it is not given. */
    @Inject(APP_SETTINGS) private readonly settings: AppSettings,
  ) {}

  // ---- conversations --------------------------------------------------------------------------

  /** A temporary, open group owned by the caller; the conversation type is its group type. */
  async create(uid: string, conversationType: number, metadata: EventMetadata): Promise<string> {
    const created = await this.change(
      {
        kind: 'CreateGroup',
        groupId: '', // generated
        actor: { kind: 'user', uid },
        name: '',
        faceUrl: '',
        introduction: '',
        notification: '',
        ex: '',
        groupType: conversationType,
        temporary: true,
        joinPolicy: 'open',
        ownerUid: uid,
        members: [],
      },
      metadata,
    );
    return created.groupId;
  }

  /** Joins an open group; a member already in answers as if they had just joined. */
  async join(uid: string, groupId: string, metadata: EventMetadata): Promise<void> {
    const group = await this.groups.existing(groupId);
    if (group.members.has(uid)) return;
    // The gateway has no way to wait for an approval: refuse before an application is written.
    if (group.info.joinPolicy === 'approval') throw approvalNeeded(groupId);
    let joined: GroupChanged;
    try {
      joined = await this.change(
        { kind: 'JoinGroup', groupId, actor: { kind: 'user', uid }, reqMessage: '' },
        metadata,
      );
    } catch (err) {
      if (err instanceof DomainError && err.code === GroupErrors.codes.ALREADY_MEMBER) return;
      throw err;
    }
    // The policy changed to approval between the check and the join: an application was filed.
    if (joined.outcome === 'applied') throw approvalNeeded(groupId);
  }

  /** Quits the group (the owner may not: 26008, the seed has no ownership transfer). */
  async leave(uid: string, groupId: string, metadata: EventMetadata): Promise<void> {
    await this.change({ kind: 'QuitGroup', groupId, actor: { kind: 'user', uid } }, metadata);
  }

  /** Whether `uid` is a member now (the group aggregate: the caller's own join shows at once). */
  async isMember(uid: string, groupId: string): Promise<boolean> {
    return (await this.groups.existing(groupId)).members.has(uid);
  }

  /** The detail of a group `uid` is a member of now (26002 otherwise). */
  async detail(uid: string, groupId: string): Promise<ConversationDetail> {
    const group = await this.groups.existing(groupId);
    if (!group.members.has(uid)) throw GroupErrors.notMember(groupId);
    const last = await this.lastVisible(uid, groupId);
    return toDetail(
      groupId,
      {
        groupType: group.info.groupType,
        deleted: group.groupStatus === STATUS_DISMISSED,
        archived: group.groupStatus === STATUS_BANNED,
      },
      last,
    );
  }

  /** The details of the groups `uid` is a member of (read model), at most {@link MAX_LIST}. */
  async joined(uid: string): Promise<ConversationDetail[]> {
    const groups = [];
    let after: string | undefined;
    do {
      const page = await this.groupReader.joined(uid, {
        after,
        size: Math.min(JOINED_PAGE, MAX_LIST - groups.length),
      });
      groups.push(...page.items);
      after = page.next_cursor ?? undefined;
    } while (after !== undefined && groups.length < MAX_LIST);
    const last = await this.reader.lastMessages(
      uid,
      groups.map((g) => g.group_id),
    );
    return groups.map((g) =>
      toDetail(
        g.group_id,
        {
          groupType: g.group_type,
          deleted: g.status === STATUS_DISMISSED,
          archived: g.status === STATUS_BANNED,
        },
        last.get(g.group_id) ?? null,
      ),
    );
  }

  // ---- messages -------------------------------------------------------------------------------

  /** Sends to the group; a text message's content is its plain text. */
  async send(
    uid: string,
    m: { groupId: string; type: number; content: string; devId?: string },
    metadata: EventMetadata,
  ): Promise<SentMessage> {
    return this.commands.execute(
      new SendMessageCommand(
        {
          senderUid: uid,
          receiverType: 2,
          receiverId: m.groupId,
          msgType: m.type,
          content: m.type === TEXT ? JSON.stringify({ content: m.content }) : m.content,
          atUids: null,
          msgSource: 0,
          newFaceVersion: 0,
          devId: m.devId ?? randomUUID(),
        },
        metadata,
      ),
    );
  }

  /** The newest message `uid` may read in the group (GetHistoryQuery's window), or null. */
  async lastVisible(uid: string, groupId: string): Promise<LastMessage | null> {
    const [m] = await this.history(uid, groupId, 1, null, null, true);
    return m ? { msgKey: m.MsgId, sentAtUs: m.SendTime, senderUid: m.FromSession } : null;
  }

  /** Messages from `startMsgId` to `endMsgId`, both included, at most {@link MAX_RANGE}. */
  async range(
    uid: string,
    groupId: string,
    startMsgId: string,
    endMsgId: string,
    desc: boolean,
  ): Promise<MsgData[]> {
    await this.requireReader(uid, groupId);
    const [a, b] = await Promise.all([
      this.seqnoOf(groupId, startMsgId),
      this.seqnoOf(groupId, endMsgId),
    ]);
    const [lo, hi] = a <= b ? [a, b] : [b, a];
    return this.history(uid, groupId, MAX_RANGE, lo - 1, hi + 1, desc);
  }

  /** The 30 messages just before `msgId` (or after it), `msgId` itself excluded. */
  async around(
    uid: string,
    groupId: string,
    msgId: string,
    side: 'before' | 'after',
    desc: boolean,
  ): Promise<MsgData[]> {
    await this.requireReader(uid, groupId);
    const seqno = await this.seqnoOf(groupId, msgId);
    return side === 'before'
      ? this.history(uid, groupId, AROUND_SIZE, null, seqno, desc)
      : this.history(uid, groupId, AROUND_SIZE, seqno, null, desc);
  }

  /** The newest `size` messages `uid` may read. */
  latest(uid: string, groupId: string, size: number, desc: boolean): Promise<MsgData[]> {
    return this.history(uid, groupId, size, null, null, desc);
  }

  /**
   * A page of GetHistoryQuery (exclusive seqno bounds, the member's window, 26001/26002) as
   * MsgData, newest first when `desc`, else oldest first.
   */
  private async history(
    uid: string,
    groupId: string,
    size: number,
    beginSeqno: number | null,
    endSeqno: number | null,
    desc: boolean,
  ): Promise<MsgData[]> {
    const page: History = await this.queries.execute(
      new GetHistoryQuery(uid, 2, groupId, size, beginSeqno, endSeqno),
    );
    const times = await this.reader.sendTimes(
      groupId,
      page.messages.map((m) => m.msg_key),
    );
    const out = page.messages.map((m) =>
      toMsgData(groupId, m, times.get(m.msg_key) ?? m.timestamp * 1_000_000),
    );
    return desc ? out : out.reverse();
  }

  /**
   * The caller may read the group's history (a member now or before; GetHistoryQuery narrows it
   * to their window): checked before a msg id is looked up, so that a non-member learns nothing
   * of the group's messages (26002 rather than 10005).
   */
  private async requireReader(uid: string, groupId: string): Promise<void> {
    if (await this.groupReader.window(groupId, uid)) return;
    const group = await this.groups.existing(groupId);
    if (!group.members.has(uid)) throw GroupErrors.notMember(groupId);
  }

  private async seqnoOf(groupId: string, msgId: string): Promise<number> {
    const key = parseMsgKey(msgId);
    if (key === null) throw Errors.validation(`${msgId} is not a msg id (a positive 64-bit key)`);
    const seqno = await this.reader.seqnoOf(groupId, key);
    if (seqno === null) throw Errors.msgKeyNotFound(key);
    return seqno;
  }

  // ---- inner (administrator) operations -------------------------------------------------------

  /** A normal, open group owned by the first of `sessions`, the others its members. */
  async innerCreate(
    conversationType: number,
    sessions: readonly string[],
    metadata: EventMetadata,
  ): Promise<string> {
    const [owner, ...members] = unique(sessions);
    const created = await this.change(
      {
        kind: 'CreateGroup',
        groupId: '', // generated
        actor: ADMIN,
        name: '',
        faceUrl: '',
        introduction: '',
        notification: '',
        ex: '',
        groupType: conversationType,
        temporary: false,
        joinPolicy: 'open',
        ownerUid: owner,
        members: members.map((uid) => ({ uid, roleLevel: ROLE_MEMBER })),
      },
      metadata,
    );
    return created.groupId;
  }

  /**
   * Removes `sessions` from the group. Those not in it are already out (no error); the owner
   * cannot be removed (26008, checked before anything is written).
   */
  async innerKickout(
    groupId: string,
    sessions: readonly string[],
    metadata: EventMetadata,
  ): Promise<void> {
    const group = await this.groups.existing(groupId);
    const uids = unique(sessions);
    if (uids.includes(group.ownerUid)) {
      throw new DomainError(
        GroupErrors.codes.OWNER_MUST_TRANSFER,
        409,
        `${group.ownerUid} owns conversation ${groupId} and cannot be removed from it`,
      );
    }
    const { results } = await this.change(
      { kind: 'RemoveMembers', groupId, actor: ADMIN, uids, reason: '' },
      metadata,
    );
    refuseUnexpected(groupId, results, GroupErrors.codes.NOT_MEMBER);
  }

  /**
   * Adds `sessions` to the group. Members already in are fine; an unknown user (40401) or a full
   * group (26011) refuses the whole request before anything is written.
   */
  async innerJoin(
    groupId: string,
    sessions: readonly string[],
    metadata: EventMetadata,
  ): Promise<void> {
    const group = await this.groups.existing(groupId);
    const uids = unique(sessions);
    const known = await inChunks(uids, (uid) => this.users.exists(uid));
    const unknown = uids.find((_, i) => !known[i]);
    if (unknown !== undefined) throw Errors.userNotFound(unknown);
    const max = this.settings.config.GROUP_MAX_MEMBERS;
    const newcomers = uids.filter((uid) => !group.members.has(uid)).length;
    if (group.members.size + newcomers > max) throw GroupErrors.full(groupId, max);
    const { results } = await this.change(
      { kind: 'AddMembers', groupId, actor: ADMIN, uids },
      metadata,
    );
    refuseUnexpected(groupId, results, GroupErrors.codes.ALREADY_MEMBER);
  }

  /**
   * Archives (bans: status 1, read-only) or unarchives (back to normal) the groups. Unknown
   * groups (26001), or a dismissed one to archive (26004), refuse the whole request before
   * anything is written. Unarchiving leaves groups that are not archived as they are (a muted
   * group stays muted).
   */
  async innerArchive(
    groupIds: readonly string[],
    archive: boolean,
    metadata: EventMetadata,
  ): Promise<void> {
    const ids = unique(groupIds);
    const groups = await inChunks(ids, (id) => this.groups.existing(id));
    if (archive) {
      const gone = groups.find((g) => g.groupStatus === STATUS_DISMISSED);
      if (gone) throw GroupErrors.dismissed(gone.info.groupId);
    }
    for (const g of groups) {
      if ((g.groupStatus === STATUS_BANNED) === archive) continue;
      await this.change(
        {
          kind: 'SetGroupStatus',
          groupId: g.info.groupId,
          actor: ADMIN,
          groupStatus: archive ? STATUS_BANNED : STATUS_NORMAL,
        },
        metadata,
      );
    }
  }

  // ---- helpers --------------------------------------------------------------------------------

  private change(change: GroupChange, metadata: EventMetadata): Promise<GroupChanged> {
    return this.commands.execute(new ChangeGroupCommand(change, metadata));
  }
}

function approvalNeeded(groupId: string): DomainError {
  return new DomainError(
    ErrorCodes.FORBIDDEN,
    403,
    `conversation ${groupId} admits members by approval, which the gateway cannot ask for; ` +
      'ask its owner or an admin to add you',
  );
}

/**
 * After a batch change that was checked beforehand: a refusal other than the harmless one means
 * the group changed in between (another request); say so rather than answer success.
 */
function refuseUnexpected(groupId: string, results: readonly UserResult[], harmless: number) {
  const refused = results.filter((r) => r.result === -1 && r.code !== harmless);
  if (refused.length === 0) return;
  throw new DomainError(
    refused[0].code ?? ErrorCodes.VALIDATION_FAILED,
    409,
    `conversation ${groupId} changed meanwhile; refused: ` +
      refused.map((r) => `${r.uid} (${r.reason ?? r.code})`).join(', '),
  );
}
