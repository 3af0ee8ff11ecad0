import { randomUUID } from 'node:crypto';
import type { Pool, PoolClient } from 'pg';
import { DomainError } from '../src/common/errors';
import { MsgKeyGenerator } from '../src/common/ids';
import { KeyRing } from '../src/crypto/key-ring';
import { EventStore, RecordedEvent } from '../src/event-store/event-store.port';
import { PostgresEventStore } from '../src/event-store/postgres/postgres-event-store';
import { ExistingGroup, GroupCommand, GroupState, sendRefusal } from '../src/groups/domain/group';
import { GroupStore } from '../src/groups/group.store';
import {
  AT_ALL,
  GROUP_ASSISTANT_ACKED,
  GroupActor,
  groupConversationId,
  JoinPolicy,
  ROLE_ADMIN,
  ROLE_MEMBER,
  ROLE_OWNER,
  RoleLevel,
} from '../src/groups/groups.events';
import { ConversationStore } from '../src/messaging/conversation.store';
import { privateConversationId, RecallTargetUnknown } from '../src/messaging/domain/conversation';
import { UserRelationsStore } from '../src/relations/user-relations.store';
import { SessionEventsWriter } from '../src/sessions/session-events.writer';
import {
  SESSION_ACKED,
  SESSION_DND_SET,
  SESSION_TOP_SET,
  SESSION_TRUST_SET,
  SESSIONS_REMOVED,
} from '../src/sessions/sessions.events';
import { useTestStore } from '../test/support/test-store';
import {
  caughtUp,
  dumpReadModels,
  resetAll,
  testKeyRing,
  testProjectors,
} from '../test/support/messaging';
import { waitFor } from '../test/support/wait-for';
import { ProjectionRunner } from './projection-runner';
import type { Projector } from './projector';
import { seeded } from '../test/support/seeded-random';

const USERS = ['u0', 'u1', 'u2', 'u3', 'u4', 'u5'];
const NAMES = testProjectors(null as never).map((p) => p.name);
const META = { actor: { kind: 'system' as const, id: 'test' }, correlationId: 'read-models' };

const GROUP_IDS = ['g0', 'g1', 'g2', 'g3'];
/** Small, so that some creations, joins and invitations are refused as full. */
const MAX_MEMBERS = 5;
/** Commands whose events the group assistant tells the managers of. */
const NOTIFYING = new Set<GroupCommand['kind']>([
  'JoinGroup',
  'HandleApplication',
  'AddMembers',
  'RemoveMembers',
  'QuitGroup',
]);
const ADMIN: GroupActor = { kind: 'admin' };
const asUser = (uid: string): GroupActor => ({ kind: 'user', uid });
const isManager = (role: number | undefined) => role === ROLE_OWNER || role === ROLE_ADMIN;
const windowKey = (groupId: string, uid: string) => `${groupId}/${uid}`;

/** A user's group session as the log implies it, kept by the workload as it writes. */
interface Window {
  /** The group's newest seqno at their latest join, and at their leaving (null: a member). */
  join: number;
  left: number | null;
  /** Read progress from their own messages, acks and removals (the view adds the join). */
  ack: number;
  hidden: number;
  /** The newest message that mentioned them by name. */
  mentioned: number;
}

/**
 * The group side of the workload, on its own PRNG so that a seed's private-messaging writes stay
 * what they were: group commands through the aggregate (refusals included, as the decider makes
 * them), sends with mentions and "@all" as the send handler filters them, recalls, group session
 * events and group assistant acks. From the aggregate's states and the order of the writes alone
 * it keeps what the log implies (windows, read progress, mentions, notices) to check the read
 * models against.
 */
class GroupWorkload {
  readonly windows = new Map<string, Window>();
  /** Each group's newest message seqno. */
  readonly newest = new Map<string, number>();
  readonly atAll = new Map<string, number>();
  /** Group assistant: notices per manager, and the newest ack per user. */
  readonly notices = new Map<string, number>();
  readonly assistantAcks = new Map<string, number>();
  readonly counts = new Map<string, number>();
  private readonly sent: { groupId: string; from: string; msgKey: string }[] = [];
  private readonly random: () => number;
  private readonly groups: GroupStore;
  private readonly conversations: ConversationStore;
  private readonly sessions: SessionEventsWriter;
  private readonly keys = new MsgKeyGenerator(10);
  private n = 0;

  constructor(
    store: EventStore,
    private readonly keyRing: KeyRing,
    private readonly seed: number,
  ) {
    this.random = seeded(seed * 7919 + 1);
    this.groups = new GroupStore(store);
    this.conversations = new ConversationStore(store);
    this.sessions = new SessionEventsWriter(store);
  }

  /** The aggregate as the workload left it (this node's own writes are in the cache at once). */
  state(groupId: string): Promise<GroupState> {
    return this.groups.read(groupId);
  }

  /** One group write with probability `rate`, else none. */
  async maybeStep(nowUs: number, rate: number): Promise<void> {
    if (this.random() < rate) await this.step(nowUs);
  }

  private pick<T>(xs: readonly T[]): T {
    return xs[Math.floor(this.random() * xs.length)];
  }

  private count(what: string): void {
    this.counts.set(what, (this.counts.get(what) ?? 0) + 1);
  }

  private async step(nowUs: number): Promise<void> {
    const n = this.n++;
    const groupId = this.pick(GROUP_IDS);
    const state = await this.state(groupId);
    const base = { groupId, nowUs, commandId: randomUUID() };
    if (state.status !== 'exists') return this.create(base, n);
    const members = [...state.members.keys()];
    const managers = members.filter((u) => isManager(state.members.get(u)?.roleLevel));
    const outsiders = USERS.filter((u) => !state.members.has(u));
    const applicants = [...state.applications.keys()];
    const anyone = () => (this.random() < 0.2 ? ADMIN : asUser(this.pick(members)));
    const manager = () => (this.random() < 0.2 ? ADMIN : asUser(this.pick(managers)));
    const r = this.random();
    if (r < 0.34) return this.send(state, nowUs, n);
    if (r < 0.4) return this.recall(state, nowUs, n);
    if (r < 0.5 && outsiders.length > 0) {
      return this.run({
        ...base,
        kind: 'JoinGroup',
        actor: asUser(this.pick(outsiders)),
        reqMessage: this.pick(['hello', 'let me in']),
        maxMembers: MAX_MEMBERS,
      });
    }
    if (r < 0.58 && applicants.length > 0) {
      return this.run({
        ...base,
        kind: 'HandleApplication',
        actor: this.random() < 0.8 ? manager() : anyone(),
        uid: this.pick(applicants),
        result: this.random() < 0.6 ? 1 : -1,
        handledMsg: `handled ${n}`,
        maxMembers: MAX_MEMBERS,
      });
    }
    if (r < 0.63) {
      return this.run({
        ...base,
        kind: 'AddMembers',
        actor: anyone(),
        uids: this.random() < 0.5 ? [this.pick(USERS)] : [this.pick(USERS), this.pick(USERS)],
        unknown: new Set(),
        maxMembers: MAX_MEMBERS,
      });
    }
    if (r < 0.69) {
      return this.run({
        ...base,
        kind: 'RemoveMembers',
        actor: this.random() < 0.85 ? manager() : anyone(),
        uids: [this.pick(members)],
        reason: `kicked ${n}`,
      });
    }
    if (r < 0.74) {
      return this.run({ ...base, kind: 'QuitGroup', actor: asUser(this.pick(members)) });
    }
    if (r < 0.79) {
      return this.run({
        ...base,
        kind: 'SetMemberRole',
        actor: this.random() < 0.2 ? ADMIN : asUser(state.ownerUid),
        uid: this.pick(members),
        roleLevel: this.pick([ROLE_MEMBER, ROLE_ADMIN] as const),
      });
    }
    if (r < 0.81) {
      return this.run({
        ...base,
        kind: 'TransferOwner',
        actor: asUser(state.ownerUid),
        fromUid: null,
        toUid: this.pick(members),
      });
    }
    if (r < 0.83) {
      return this.run({
        ...base,
        kind: 'MuteMember',
        actor: manager(),
        uid: this.pick(members),
        mutedUntilUs: this.random() < 0.6 ? nowUs + 20_000 : 0,
      });
    }
    if (r < 0.85) {
      return this.run({
        ...base,
        kind: 'SetGroupInfo',
        actor: manager(),
        changes:
          this.random() < 0.5
            ? { joinPolicy: this.pick(['open', 'approval'] as const) }
            : { name: `group ${n}` },
      });
    }
    if (r < 0.86) {
      return this.run({
        ...base,
        kind: 'SetGroupStatus',
        actor: manager(),
        groupStatus: this.pick([0, 3] as const),
      });
    }
    if (r < 0.95) return this.sessionEvent(groupId, nowUs);
    return this.assistantAck(nowUs);
  }

  private create(base: { groupId: string; nowUs: number; commandId: string }, n: number) {
    const owner = this.pick(USERS);
    const members = USERS.filter((u) => u !== owner && this.random() < 0.4).map((uid) => ({
      uid,
      roleLevel: this.random() < 0.25 ? ROLE_ADMIN : (ROLE_MEMBER as RoleLevel),
    }));
    const byAdmin = this.random() < 0.3;
    const joinPolicy: JoinPolicy = GROUP_IDS.indexOf(base.groupId) % 2 ? 'approval' : 'open';
    return this.run({
      ...base,
      kind: 'CreateGroup',
      actor: byAdmin ? ADMIN : asUser(owner),
      name: `group ${n}`,
      faceUrl: '',
      introduction: `made by ${owner}`,
      notification: '',
      ex: '',
      groupType: byAdmin ? 0 : 2,
      temporary: !byAdmin,
      joinPolicy,
      ownerUid: owner,
      members,
      maxMembers: MAX_MEMBERS,
    });
  }

  /** A group command; a refusal by the decider writes nothing and is fine. */
  private async run(command: GroupCommand): Promise<void> {
    const before = await this.state(command.groupId);
    try {
      await this.groups.execute(command, META);
    } catch (err) {
      if (!(err instanceof DomainError)) throw err;
      this.count(`refused ${command.kind}`);
      return;
    }
    this.count(command.kind);
    const after = (await this.state(command.groupId)) as ExistingGroup;
    const newest = this.newest.get(command.groupId) ?? 0;
    const was = (uid: string) => before.status === 'exists' && before.members.has(uid);
    for (const uid of USERS) {
      const key = windowKey(command.groupId, uid);
      const w = this.windows.get(key);
      if (after.members.has(uid) && !was(uid)) {
        // A new window; the member's own session row (acks, mentions) outlives their windows.
        this.windows.set(key, {
          join: newest,
          left: null,
          ack: w?.ack ?? 0,
          hidden: w?.hidden ?? 0,
          mentioned: w?.mentioned ?? 0,
        });
        if (w) this.count('rejoined');
      } else if (!after.members.has(uid) && was(uid)) {
        w!.left = newest;
      }
    }
    if (before.status === 'exists' && NOTIFYING.has(command.kind)) {
      // Each event is a notice to the managers as they were before it but the one who acted.
      const events = after.version - before.version;
      const actor = command.actor.kind === 'user' ? command.actor.uid : null;
      for (const [uid, m] of before.members) {
        if (events > 0 && uid !== actor && isManager(m.roleLevel)) {
          this.notices.set(uid, (this.notices.get(uid) ?? 0) + events);
        }
      }
    }
  }

  private window(groupId: string, uid: string): Window {
    return this.windows.get(windowKey(groupId, uid))!;
  }

  private async send(state: ExistingGroup, nowUs: number, n: number): Promise<void> {
    const groupId = state.info.groupId;
    const members = [...state.members.keys()];
    const from = this.random() < 0.9 ? this.pick(members) : this.pick(USERS);
    // The send handler's checks: a member who may speak now; "@all" from a manager only.
    if (sendRefusal(state, groupId, from, nowUs)) return this.count('refused send');
    const r = this.random();
    const manages = isManager(state.members.get(from)?.roleLevel);
    let atUids: string[] | null = null;
    if (r < 0.25) atUids = [this.pick(members)];
    else if (r < 0.4 && manages) atUids = [AT_ALL];
    else if (r < 0.45 && manages) atUids = [this.pick(members), AT_ALL];
    const content = await this.keyRing.encryptFor(from, JSON.stringify({ content: `g${n}` }));
    const { result } = await this.conversations.execute(
      {
        kind: 'SendMessage',
        conversationId: groupConversationId(groupId),
        senderUid: from,
        receiverType: 2,
        receiverId: groupId,
        msgType: 1,
        content,
        atUids,
        msgSource: 7,
        newFaceVersion: 1,
        devId: `g-${this.seed}-${n}`,
        msgKey: this.keys.next(),
        nowUs,
        receiverFollowsSender: true,
        system: false,
      },
      META,
    );
    this.count(atUids ? 'send with mentions' : 'send');
    this.newest.set(groupId, result.seqno);
    const own = this.window(groupId, from);
    own.ack = Math.max(own.ack, result.seqno);
    for (const uid of atUids ?? []) {
      if (uid === AT_ALL) this.atAll.set(groupId, result.seqno);
      else if (uid !== from) this.window(groupId, uid).mentioned = result.seqno;
    }
    this.sent.push({ groupId, from, msgKey: result.msgKey });
  }

  private async recall(state: ExistingGroup, nowUs: number, n: number): Promise<void> {
    const groupId = state.info.groupId;
    const mine = this.sent.filter((m) => m.groupId === groupId);
    if (mine.length === 0) return;
    const m = this.pick(mine);
    if (sendRefusal(state, groupId, m.from, nowUs)) return this.count('refused recall');
    try {
      const { result } = await this.conversations.execute(
        {
          kind: 'RecallMessage',
          conversationId: groupConversationId(groupId),
          senderUid: m.from,
          receiverType: 2,
          receiverId: groupId,
          targetMsgKey: m.msgKey,
          msgKey: this.keys.next(),
          nowUs,
          devId: `gr-${this.seed}-${n}`,
          msgSource: 7,
          system: false,
          windowUs: 3_600_000_000,
        },
        META,
      );
      this.count('recall');
      this.newest.set(groupId, result.seqno);
      const own = this.window(groupId, m.from);
      own.ack = Math.max(own.ack, result.seqno);
    } catch (err) {
      // Already recalled, or out of the recent window: no event.
      if (!(err instanceof DomainError || err instanceof RecallTargetUnknown)) throw err;
      this.count('refused recall');
    }
  }

  /** A session event of type 2 from someone who was ever a member, within their window. */
  private async sessionEvent(groupId: string, nowUs: number): Promise<void> {
    const owners = USERS.filter((u) => this.windows.has(windowKey(groupId, u)));
    if (owners.length === 0) return;
    const ownerUid = this.pick(owners);
    const w = this.window(groupId, ownerUid);
    const visible = w.left ?? this.newest.get(groupId) ?? 0;
    const ref = { ownerUid, sessionType: 2 as const, talkerId: groupId };
    const kind = this.pick(['ack', 'ack', 'ack', 'remove', 'top', 'dnd'] as const);
    // Removing a session already hidden up to its newest message writes nothing.
    if (kind === 'remove' && visible <= Math.max(w.hidden, w.join)) return;
    this.count(`session ${kind}`);
    if (kind === 'ack') {
      const ackSeqno = Math.floor(this.random() * (visible + 1));
      await this.sessions.append(
        ownerUid,
        SESSION_ACKED,
        { ownerUid, acks: [{ ...ref, ackSeqno }], atUs: nowUs },
        META,
      );
      w.ack = Math.max(w.ack, ackSeqno);
    } else if (kind === 'remove') {
      await this.sessions.append(
        ownerUid,
        SESSIONS_REMOVED,
        {
          ownerUid,
          sessions: [{ sessionType: 2, talkerId: groupId, uptoSeqno: visible }],
          atUs: nowUs,
        },
        META,
      );
      w.ack = Math.max(w.ack, visible);
      w.hidden = Math.max(w.hidden, visible);
    } else if (kind === 'top') {
      await this.sessions.append(
        ownerUid,
        SESSION_TOP_SET,
        { ...ref, topTs: this.random() < 0.5 ? nowUs : 0 },
        META,
      );
    } else {
      await this.sessions.append(
        ownerUid,
        SESSION_DND_SET,
        { ...ref, dnd: this.random() < 0.5 },
        META,
      );
    }
  }

  /** The group assistant's read progress, up to the user's newest notice. */
  private async assistantAck(nowUs: number): Promise<void> {
    const ownerUid = this.pick(USERS);
    const ackSeqno = Math.floor(this.random() * ((this.notices.get(ownerUid) ?? 0) + 1));
    await this.sessions.append(
      ownerUid,
      GROUP_ASSISTANT_ACKED,
      { ownerUid, ackSeqno, atUs: nowUs },
      META,
    );
    this.count('assistant ack');
    this.assistantAcks.set(ownerUid, Math.max(ackSeqno, this.assistantAcks.get(ownerUid) ?? 0));
  }
}

/**
 * Every kind of private-messaging write, at random, through the real write paths: sends (sealed),
 * recalls, relation and privacy changes, profiles, and every session event; and, with `groups`,
 * a group write before each of them at the rate given (about one for two).
 */
async function randomWorkload(
  store: EventStore,
  keyRing: KeyRing,
  seed: number,
  ops: number,
  groups?: GroupWorkload,
  groupRate = 0.5,
) {
  const random = seeded(seed);
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(random() * xs.length)];
  const conversations = new ConversationStore(store);
  const relations = new UserRelationsStore(store);
  const sessions = new SessionEventsWriter(store);
  const keys = new MsgKeyGenerator(9);
  const sent: { from: string; to: string; msgKey: string; seqno: number }[] = [];
  let nowUs = 1_800_000_000_000_000 + seed * 1_000_000_000;
  for (let i = 0; i < ops; i++) {
    nowUs += 1 + Math.floor(random() * 1000);
    // On the group workload's own PRNG: this seed's private writes stay what they were.
    await groups?.maybeStep(nowUs, groupRate);
    const a = pick(USERS);
    const b = pick(USERS.filter((u) => u !== a));
    const r = random();
    if (r < 0.5) {
      const content = await keyRing.encryptFor(a, JSON.stringify({ content: `m${i} [doge]` }));
      const { result } = await conversations.execute(
        {
          kind: 'SendMessage',
          conversationId: privateConversationId(a, b),
          senderUid: a,
          receiverType: 1,
          receiverId: b,
          msgType: 1,
          content,
          atUids: null,
          msgSource: 7,
          newFaceVersion: 1,
          devId: `dev-${seed}-${i}`,
          msgKey: keys.next(),
          nowUs,
          receiverFollowsSender: true,
          system: false,
        },
        META,
      );
      sent.push({ from: a, to: b, msgKey: result.msgKey, seqno: result.seqno });
    } else if (r < 0.6 && sent.length > 0) {
      const m = pick(sent);
      await conversations
        .execute(
          {
            kind: 'RecallMessage',
            conversationId: privateConversationId(m.from, m.to),
            senderUid: m.from,
            receiverType: 1,
            receiverId: m.to,
            targetMsgKey: m.msgKey,
            msgKey: keys.next(),
            nowUs,
            devId: `recall-${seed}-${i}`,
            msgSource: 7,
            system: random() < 0.3,
            windowUs: 3_600_000_000,
          },
          META,
        )
        .catch(() => undefined); // already recalled, or out of the recent window: no event
    } else if (r < 0.75) {
      const op = pick(['follow', 'unfollow', 'block', 'unblock'] as const);
      await relations.execute({ kind: 'ChangeRelation', uid: a, targetUid: b, op, nowUs }, META);
    } else if (r < 0.8) {
      await relations.execute(
        { kind: 'SetPrivacy', uid: a, intercept: random() < 0.5, followedOnly: false, nowUs },
        META,
      );
    } else if (r < 0.82) {
      await relations.execute(
        {
          kind: 'UpdateProfile',
          uid: a,
          name: `name ${i}`,
          face: '',
          officialType: -1,
          systemMsgType: random() < 0.2 ? 7 : 0,
          nowUs,
        },
        META,
      );
    } else {
      const ref = { ownerUid: a, sessionType: 1 as const, talkerId: b };
      const mine = sent.filter((m) => (m.from === a && m.to === b) || (m.from === b && m.to === a));
      const newest = mine.length ? mine[mine.length - 1].seqno : 0;
      const kind = pick(['ack', 'top', 'dnd', 'remove', 'trust'] as const);
      if (kind === 'ack') {
        const ackSeqno = Math.floor(random() * (newest + 1));
        await sessions.append(
          a,
          SESSION_ACKED,
          { ownerUid: a, acks: [{ ...ref, ackSeqno }], atUs: nowUs },
          META,
        );
      } else if (kind === 'top') {
        await sessions.append(
          a,
          SESSION_TOP_SET,
          { ...ref, topTs: random() < 0.5 ? nowUs : 0 },
          META,
        );
      } else if (kind === 'dnd') {
        await sessions.append(a, SESSION_DND_SET, { ...ref, dnd: random() < 0.5 }, META);
      } else if (kind === 'trust') {
        await sessions.append(a, SESSION_TRUST_SET, { ...ref, trusted: random() < 0.5 }, META);
      } else if (newest > 0) {
        await sessions.append(
          a,
          SESSIONS_REMOVED,
          {
            ownerUid: a,
            sessions: [{ sessionType: 1, talkerId: b, uptoSeqno: newest }],
            atUs: nowUs,
          },
          META,
        );
      }
    }
  }
}

type Row = Record<string, unknown>;

/** Rows keyed by `key`, so that two sets of rows compare whatever their order. */
const byKey = (rows: Row[], key: (r: Row) => string) =>
  Object.fromEntries(rows.map((r) => [key(r), r]));

/**
 * The group read models hold what the log implies, as the workload modelled it: each group's
 * version, size and newest message; each member's window, role and mute; pending applications;
 * every group session (unread, mentions, hidden history); the group assistant's notices and acks.
 */
async function expectGroupsAsModelled(pool: Pool, model: GroupWorkload): Promise<void> {
  const groups: Row[] = [];
  const current: Row[] = [];
  const pending: Row[] = [];
  for (const groupId of GROUP_IDS) {
    const g = await model.state(groupId);
    if (g.status !== 'exists') continue;
    groups.push({
      group_id: groupId,
      owner_uid: g.ownerUid,
      join_policy: g.info.joinPolicy,
      status: g.groupStatus,
      version: g.version,
      member_count: g.members.size,
      max_seqno: model.newest.get(groupId) ?? 0,
      at_all_seqno: model.atAll.get(groupId) ?? 0,
    });
    for (const [uid, m] of g.members) {
      current.push({
        group_id: groupId,
        uid,
        role_level: m.roleLevel,
        muted_until_us: m.mutedUntilUs,
      });
    }
    for (const [uid, a] of g.applications) {
      pending.push({ group_id: groupId, uid, req_message: a.reqMessage });
    }
  }
  const windows: Row[] = [];
  const sessions: Row[] = [];
  for (const [key, w] of model.windows) {
    const [groupId, uid] = key.split('/');
    windows.push({ group_id: groupId, uid, join_seqno: w.join, left_seqno: w.left });
    const atAll = model.atAll.get(groupId) ?? 0;
    const mention = Math.max(w.mentioned, w.left === null || atAll <= w.left ? atAll : 0);
    const ack = Math.max(w.ack, w.join);
    sessions.push({
      owner_uid: uid,
      talker_id: groupId,
      max_seqno: w.left ?? model.newest.get(groupId) ?? 0,
      ack_seqno: ack,
      at_seqno: mention > ack ? mention : 0,
      hidden_upto_seqno: Math.max(w.hidden, w.join),
    });
  }
  const assistant: Row[] = [];
  for (const uid of USERS) {
    const notices = model.notices.get(uid);
    const acked = model.assistantAcks.get(uid);
    if (notices === undefined && acked === undefined) continue;
    assistant.push({
      owner_uid: uid,
      max_seqno: notices ?? 0,
      ack_seqno: acked ?? 0,
      notices: notices ?? 0,
      newest_notice: notices ?? 0,
    });
  }
  const query = async (sql: string) => (await pool.query<Row>(sql)).rows;
  const group = (r: Row) => `${String(r.group_id)}/${String(r.uid)}`;
  expect(
    byKey(
      await query(`SELECT group_id, owner_uid, join_policy, status, version, member_count,
                          max_seqno::int, at_all_seqno::int FROM rm_groups`),
      (r) => String(r.group_id),
    ),
  ).toEqual(byKey(groups, (r) => String(r.group_id)));
  expect(
    byKey(
      await query(`SELECT group_id, uid, join_seqno::int, left_seqno::int FROM rm_group_members`),
      group,
    ),
  ).toEqual(byKey(windows, group));
  expect(
    byKey(
      await query(`SELECT group_id, uid, role_level, muted_until_us::float8 AS muted_until_us
                     FROM rm_group_members WHERE left_seqno IS NULL`),
      group,
    ),
  ).toEqual(byKey(current, group));
  expect(
    byKey(
      await query(`SELECT group_id, uid, req_message FROM rm_group_requests WHERE status = 0`),
      group,
    ),
  ).toEqual(byKey(pending, group));
  expect(
    byKey(
      await query(`SELECT owner_uid, talker_id, max_seqno::int, ack_seqno::int, at_seqno::int,
                          hidden_upto_seqno::int
                     FROM rm_session_view WHERE session_type = 2`),
      (r) => `${String(r.owner_uid)}/${String(r.talker_id)}`,
    ),
  ).toEqual(byKey(sessions, (r) => `${String(r.owner_uid)}/${String(r.talker_id)}`));
  expect(
    byKey(
      await query(`SELECT a.owner_uid, a.max_seqno::int, a.ack_seqno::int,
                          (SELECT count(*)::int FROM rm_group_notices n
                            WHERE n.owner_uid = a.owner_uid) AS notices,
                          (SELECT COALESCE(max(seqno), 0)::int FROM rm_group_notices n
                            WHERE n.owner_uid = a.owner_uid) AS newest_notice
                     FROM rm_group_assistant a`),
      (r) => String(r.owner_uid),
    ),
  ).toEqual(byKey(assistant, (r) => String(r.owner_uid)));
}

/** The workload reached every kind of group write the read models must reproduce. */
function expectGroupCoverage(groups: GroupWorkload): void {
  const missing = [
    'CreateGroup',
    'JoinGroup',
    'HandleApplication',
    'AddMembers',
    'RemoveMembers',
    'QuitGroup',
    'rejoined',
    'SetMemberRole',
    'send',
    'send with mentions',
    'recall',
    'session ack',
    'assistant ack',
  ].filter((what) => !groups.counts.get(what));
  expect({ missing }).toEqual({ missing: [] });
  expect([...groups.counts.keys()].some((what) => what.startsWith('refused'))).toBe(true);
}

describe('read models of private messaging and groups', () => {
  let pool: Pool;
  let store: PostgresEventStore;

  useTestStore((t) => ({ pool, store } = t), { connections: 20, pollIntervalMs: 50 });

  it.each([11, 12, 13])(
    'built live in small batches equal a rebuild from position zero (seed %i)',
    async (seed) => {
      // Given projections following the log live, in small batches, while every kind of write
      // happens at random
      const live = new ProjectionRunner(store, pool, testProjectors(pool), {
        batchSize: 1 + (seed % 7),
      });
      live.start();
      const keyRing = testKeyRing(pool);
      const groups = new GroupWorkload(store, keyRing, seed);
      await randomWorkload(store, keyRing, seed, 400, groups);
      await waitFor(() => caughtUp(pool, NAMES), 'live projections to reach the head', 30_000);
      await live.stop();
      const built = await dumpReadModels(pool);
      expectGroupCoverage(groups);

      // When every read model is rebuilt from position zero in large batches, with a fresh key ring
      const projectors = testProjectors(pool);
      await resetAll(pool, projectors);
      const rebuild = new ProjectionRunner(store, pool, projectors, { batchSize: 500 });
      rebuild.start();
      await waitFor(() => caughtUp(pool, NAMES), 'the rebuild to reach the head', 30_000);
      await rebuild.stop();

      // Then both are the same, row for row (groups and group sessions included)
      expect(built.rm_group_members.length).toBeGreaterThan(0);
      expect(await dumpReadModels(pool)).toEqual(built);
      // And the invariants of sessions hold (a group session's max_seqno is its group's, so the
      // session list as readers see it)
      const { rows } = await pool.query<{ bad: string }>(
        `SELECT count(*) AS bad FROM rm_session_view
          WHERE ack_seqno < 0 OR hidden_upto_seqno > max_seqno OR max_seqno < 0`,
      );
      expect(Number(rows[0].bad)).toBe(0);
      const opened = await pool.query<{ n: string }>(
        `SELECT count(*) AS n FROM rm_messages WHERE content LIKE 'e1.%'`,
      );
      expect(Number(opened.rows[0].n)).toBe(0);
      // And the group read models hold what the log implies
      await expectGroupsAsModelled(pool, groups);
    },
  );

  it('stay equal to a rebuild when batches fail part-way through, at random (seed 14)', async () => {
    // Given projectors that now and then apply a random part of a batch and then fail
    const chance = seeded(1414);
    let failures = 0;
    const flaky = (inner: Projector): Projector => ({
      name: inner.name,
      eventTypes: inner.eventTypes,
      tables: inner.tables,
      async apply(events: readonly RecordedEvent[], tx: PoolClient) {
        if (failures < 40 && chance() < 0.2) {
          failures++;
          await inner.apply(events.slice(0, Math.floor(chance() * (events.length + 1))), tx);
          throw new Error('injected failure part-way through a batch');
        }
        await inner.apply(events, tx);
      },
    });
    const live = new ProjectionRunner(store, pool, testProjectors(pool).map(flaky), {
      batchSize: 4,
      retryDelayMs: 1,
    });
    live.start();
    // When every kind of write happens meanwhile, a group write before each private one
    const keyRing = testKeyRing(pool);
    const groups = new GroupWorkload(store, keyRing, 14);
    await randomWorkload(store, keyRing, 14, 250, groups, 1);
    await waitFor(() => caughtUp(pool, NAMES), 'live projections to reach the head', 30_000);
    await live.stop();
    const built = await dumpReadModels(pool);
    expectGroupCoverage(groups);

    // Then the failures happened and were retried
    expect(failures).toBeGreaterThan(10);
    expect(live.status().every((s) => s.lastError === null)).toBe(true);
    // And the read models hold what the log implies, and equal a rebuild from position zero
    await expectGroupsAsModelled(pool, groups);
    const projectors = testProjectors(pool);
    await resetAll(pool, projectors);
    const rebuild = new ProjectionRunner(store, pool, projectors, { batchSize: 500 });
    rebuild.start();
    await waitFor(() => caughtUp(pool, NAMES), 'the rebuild to reach the head', 30_000);
    await rebuild.stop();
    expect(await dumpReadModels(pool)).toEqual(built);
  });
});
