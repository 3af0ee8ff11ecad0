import { randomUUID } from 'node:crypto';
import type { Pool } from 'pg';
import { MsgKeyGenerator } from '../src/common/ids';
import { PostgresEventStore } from '../src/event-store/postgres/postgres-event-store';
import type { GroupCommand, GroupResult } from '../src/groups/domain/group';
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
} from '../src/groups/groups.events';
import { ConversationStore } from '../src/messaging/conversation.store';
import { SessionEventsWriter } from '../src/sessions/session-events.writer';
import { SESSION_ACKED, SESSION_DND_SET, SESSION_TOP_SET } from '../src/sessions/sessions.events';
import { useTestStore } from '../test/support/test-store';
import { caughtUp, dumpReadModels, resetAll } from '../test/support/messaging';
import { waitFor } from '../test/support/wait-for';
import { GroupsProjector } from './groups.projector';
import { ProjectionRunner } from './projection-runner';
import type { Projector } from './projector';
import { SessionsProjector } from './sessions.projector';

const META = { actor: { kind: 'system' as const, id: 'test' }, correlationId: 'groups-projector' };
const NAMES = ['groups', 'sessions'];
const G = 'g1';
const user = (uid: string): GroupActor => ({ kind: 'user', uid });
const ADMIN: GroupActor = { kind: 'admin' };

/** Distributes Omit over a union, so each command keeps its own fields. */
type WithoutBase<C> = C extends unknown ? Omit<C, 'groupId' | 'nowUs' | 'commandId'> : never;

describe('groups projector', () => {
  let pool: Pool;
  let store: PostgresEventStore;
  let groups: GroupStore;
  let conversations: ConversationStore;
  let sessions: SessionEventsWriter;
  let live: ProjectionRunner;
  let nowUs: number;
  const keys = new MsgKeyGenerator(11);
  const projectors = (): Projector[] => [new GroupsProjector(), new SessionsProjector()];

  // Declared first: it runs before the store's close (after-hooks run in the order declared).
  afterEach(() => live.stop());
  useTestStore((t) => ({ pool, store } = t), { connections: 10, pollIntervalMs: 20 });
  beforeEach(() => {
    groups = new GroupStore(store);
    conversations = new ConversationStore(store);
    sessions = new SessionEventsWriter(store);
    nowUs = 1_900_000_000_000_000;
    // The projector follows the log live, one event per batch.
    live = new ProjectionRunner(store, pool, projectors(), { batchSize: 1 });
    live.start();
  });

  const tick = () => (nowUs += 1000);

  /** A group command through the aggregate. */
  async function run(groupId: string, command: WithoutBase<GroupCommand>): Promise<GroupResult> {
    const full = { ...command, groupId, nowUs: tick(), commandId: randomUUID() } as GroupCommand;
    return (await groups.execute(full, META)).result;
  }

  function create(
    owner: string,
    members: { uid: string; roleLevel?: 1 | 3 }[],
    policy: JoinPolicy,
  ) {
    return run(G, {
      kind: 'CreateGroup',
      actor: user(owner),
      name: 'the group',
      faceUrl: 'face',
      introduction: 'intro',
      notification: '',
      ex: '',
      groupType: 2,
      temporary: true,
      joinPolicy: policy,
      ownerUid: owner,
      members: members.map((m) => ({ uid: m.uid, roleLevel: m.roleLevel ?? ROLE_MEMBER })),
      maxMembers: 50,
    });
  }
  const join = (uid: string, reqMessage = '') =>
    run(G, { kind: 'JoinGroup', actor: user(uid), reqMessage, maxMembers: 50 });
  const invite = (by: GroupActor, uids: string[]) =>
    run(G, { kind: 'AddMembers', actor: by, uids, unknown: new Set(), maxMembers: 50 });
  const kick = (by: GroupActor, uids: string[], reason = 'bye') =>
    run(G, { kind: 'RemoveMembers', actor: by, uids, reason });
  const quit = (uid: string) => run(G, { kind: 'QuitGroup', actor: user(uid) });
  const handle = (by: string, uid: string, result: 1 | -1, handledMsg = '') =>
    run(G, {
      kind: 'HandleApplication',
      actor: user(by),
      uid,
      result,
      handledMsg,
      maxMembers: 50,
    });
  const setRole = (by: string, uid: string, roleLevel: 1 | 3) =>
    run(G, { kind: 'SetMemberRole', actor: user(by), uid, roleLevel });

  /** A message to the group; its seqno. */
  async function say(from: string, atUids: string[] | null = null): Promise<number> {
    const { result } = await conversations.execute(
      {
        kind: 'SendMessage',
        conversationId: groupConversationId(G),
        senderUid: from,
        receiverType: 2,
        receiverId: G,
        msgType: 1,
        content: 'sealed',
        atUids,
        msgSource: 0,
        newFaceVersion: 0,
        devId: randomUUID(),
        msgKey: keys.next(),
        nowUs: tick(),
        receiverFollowsSender: true,
        system: false,
      },
      META,
    );
    return result.seqno;
  }
  const ack = (owner: string, ackSeqno: number) =>
    sessions.append(
      owner,
      SESSION_ACKED,
      { ownerUid: owner, acks: [{ sessionType: 2, talkerId: G, ackSeqno }], atUs: tick() },
      META,
    );
  const ackAssistant = (owner: string, ackSeqno: number) =>
    sessions.append(
      owner,
      GROUP_ASSISTANT_ACKED,
      { ownerUid: owner, ackSeqno, atUs: tick() },
      META,
    );

  /** Waits for the live projection to apply everything written so far. */
  const settle = () => waitFor(() => caughtUp(pool, NAMES), 'the groups projection', 20_000);

  async function query<R extends Record<string, unknown>>(sql: string, params: unknown[] = []) {
    await settle();
    return (await pool.query<R>(sql, params)).rows;
  }
  const group = async () =>
    (
      await query(
        `SELECT version, member_count, member_seq::int, max_seqno::int, at_all_seqno::int,
                last_ts::float8, updated_at_us::float8, owner_uid, status
           FROM rm_groups WHERE group_id = $1`,
        [G],
      )
    )[0];
  const members = () =>
    query(
      `SELECT uid, role_level, member_seq::int, join_seqno::int, left_seqno::int, join_how,
              inviter_uid
         FROM rm_group_members WHERE group_id = $1 ORDER BY uid`,
      [G],
    );
  const session = async (owner: string) =>
    (
      await query(
        `SELECT max_seqno::int, ack_seqno::int, (max_seqno - ack_seqno)::int AS unread,
                at_seqno::int, hidden_upto_seqno::int, session_ts::float8, top_ts::float8, is_dnd,
                conversation_id
           FROM rm_session_view WHERE owner_uid = $1 AND session_type = 2 AND talker_id = $2`,
        [owner, G],
      )
    )[0];
  const requests = () =>
    query(
      `SELECT uid, req_message, status, handled_msg, handled_by FROM rm_group_requests
        WHERE group_id = $1 ORDER BY uid`,
      [G],
    );
  const notices = () =>
    query(
      `SELECT owner_uid, seqno::int, op, uids, by_uid, detail FROM rm_group_notices
        ORDER BY owner_uid, seqno`,
    );
  const assistant = () =>
    query(`SELECT owner_uid, max_seqno::int, ack_seqno::int FROM rm_group_assistant
            ORDER BY owner_uid`);

  /** Rebuilt from position zero in one batch, the read models are what the live ones were. */
  async function expectOneBatchRebuildToMatch(): Promise<void> {
    await settle();
    await live.stop();
    const built = await dumpReadModels(pool);
    const all = projectors();
    await resetAll(pool, all);
    const rebuild = new ProjectionRunner(store, pool, all, { batchSize: 10_000 });
    rebuild.start();
    await settle();
    await rebuild.stop();
    expect(await dumpReadModels(pool)).toEqual(built);
  }

  it('gives a member the history after the group newest message at their join, up to their leaving, and a rejoiner a new window', async () => {
    // Given a group of ann (owner) and bob, with two messages
    await create('ann', [{ uid: 'bob' }], 'open');
    await say('ann');
    await say('bob');
    // When cy joins after them, three more messages go by and cy is kicked after them
    await join('cy');
    await say('ann');
    await say('cy');
    await kick(user('ann'), ['cy']);
    // Then cy's window opened at 2 and closed at 4
    expect((await members()).find((m) => m.uid === 'cy')).toEqual({
      uid: 'cy',
      role_level: ROLE_MEMBER,
      member_seq: 3,
      join_seqno: 2,
      left_seqno: 4,
      join_how: 'joined',
      inviter_uid: 'cy',
    });

    // When two more messages go by and ann invites cy back
    await say('ann');
    await say('bob');
    await invite(user('ann'), ['cy']);
    await say('bob');
    // Then cy's window starts again at 6, open, with a new place in the member order
    expect(await members()).toEqual([
      {
        uid: 'ann',
        role_level: ROLE_OWNER,
        member_seq: 1,
        join_seqno: 0,
        left_seqno: null,
        join_how: 'created',
        inviter_uid: 'ann',
      },
      {
        uid: 'bob',
        role_level: ROLE_MEMBER,
        member_seq: 2,
        join_seqno: 0,
        left_seqno: null,
        join_how: 'created',
        inviter_uid: 'ann',
      },
      {
        uid: 'cy',
        role_level: ROLE_MEMBER,
        member_seq: 4,
        join_seqno: 6,
        left_seqno: null,
        join_how: 'invited',
        inviter_uid: 'ann',
      },
    ]);
    expect(await group()).toMatchObject({ max_seqno: 7, member_count: 3, member_seq: 4 });
    // And the same windows come from a rebuild in one batch (messages and joins in one batch)
    await expectOneBatchRebuildToMatch();
  });

  it('counts members and numbers them in join order across adds, leaves and rejoins', async () => {
    const counts: unknown[] = [];
    const snapshot = async () => {
      const g = await group();
      const current = (await members()).filter((m) => m.left_seqno === null);
      counts.push({
        count: g.member_count,
        seq: g.member_seq,
        current: current.map((m) => `${String(m.uid)}:${String(m.member_seq)}`).join(' '),
      });
    };
    // Given a group created with three members
    await create('ann', [{ uid: 'bob' }, { uid: 'cy' }], 'open');
    await snapshot();
    // When two are invited at once, two kicked at once, one quits, one joins and one rejoins
    await invite(user('bob'), ['dee', 'eve']);
    await snapshot();
    await kick(user('ann'), ['bob', 'dee']);
    await snapshot();
    await quit('cy');
    await snapshot();
    await join('fay');
    await snapshot();
    await join('bob');
    await snapshot();
    // Then the count follows the members, and the order numbers only grow
    expect(counts).toEqual([
      { count: 3, seq: 3, current: 'ann:1 bob:2 cy:3' },
      { count: 5, seq: 5, current: 'ann:1 bob:2 cy:3 dee:4 eve:5' },
      { count: 3, seq: 5, current: 'ann:1 cy:3 eve:5' },
      { count: 2, seq: 5, current: 'ann:1 eve:5' },
      { count: 3, seq: 6, current: 'ann:1 eve:5 fay:6' },
      { count: 4, seq: 7, current: 'ann:1 bob:7 eve:5 fay:6' },
    ]);
    await expectOneBatchRebuildToMatch();
  });

  it("shows a member's group session from their join: unread, mentions by name and @all, hidden history", async () => {
    // Given a group of ann (owner) and bob with three messages, and cy joining after them
    await create('ann', [{ uid: 'bob' }], 'open');
    await say('ann');
    await say('ann');
    await say('bob');
    await join('cy');
    // Then cy's session shows nothing unread and hides what came before the join
    expect(await session('cy')).toMatchObject({
      max_seqno: 3,
      ack_seqno: 3,
      unread: 0,
      at_seqno: 0,
      hidden_upto_seqno: 3,
      conversation_id: `g_${G}`,
    });

    // When bob mentions cy, and ann mentions everyone
    await say('bob', ['cy']);
    expect(await session('cy')).toMatchObject({ max_seqno: 4, unread: 1, at_seqno: 4 });
    const atAll = await say('ann', [AT_ALL]);
    // Then cy's newest mention is the @all; bob's too, who read up to his own message
    expect(await session('cy')).toMatchObject({ max_seqno: 5, unread: 2, at_seqno: atAll });
    expect(await session('bob')).toMatchObject({ ack_seqno: 4, unread: 1, at_seqno: atAll });
    // And ann, who sent it, has read everything and has no mention
    expect(await session('ann')).toMatchObject({ ack_seqno: 5, unread: 0, at_seqno: 0 });

    // When cy reads up to bob's mention, then everything
    await ack('cy', 4);
    expect(await session('cy')).toMatchObject({ ack_seqno: 4, unread: 1, at_seqno: 5 });
    await ack('cy', 5);
    expect(await session('cy')).toMatchObject({ ack_seqno: 5, unread: 0, at_seqno: 0 });
    // And an older ack does not move read progress back
    await ack('cy', 2);
    expect(await session('cy')).toMatchObject({ ack_seqno: 5, unread: 0 });

    // When cy pins the session, silences it, and the session goes on
    await sessions.append(
      'cy',
      SESSION_TOP_SET,
      { ownerUid: 'cy', sessionType: 2, talkerId: G, topTs: 77 },
      META,
    );
    await sessions.append(
      'cy',
      SESSION_DND_SET,
      { ownerUid: 'cy', sessionType: 2, talkerId: G, dnd: true },
      META,
    );
    await say('ann');
    const last = await group();
    // Then the session has the group's newest time, the pin and the silence
    expect(await session('cy')).toMatchObject({
      max_seqno: 6,
      unread: 1,
      session_ts: last.last_ts,
      top_ts: 77,
      is_dnd: 1,
    });
    // And a user who never was a member has no group session
    expect(await session('dee')).toBeUndefined();
    await expectOneBatchRebuildToMatch();
  });

  it("ends a former member's session where they left", async () => {
    // Given cy a member of ann's group with one unread message when cy quits
    await create('ann', [{ uid: 'cy' }], 'open');
    await say('ann');
    await ack('cy', 1);
    await say('ann');
    await quit('cy');
    const leftAt = nowUs;
    // When the group goes on, with an @all among its messages
    await say('ann');
    await say('ann', [AT_ALL]);
    // Then cy's session stops at their leaving: one unread, no mention, the time they left
    expect(await session('cy')).toMatchObject({
      max_seqno: 2,
      ack_seqno: 1,
      unread: 1,
      at_seqno: 0,
      session_ts: leftAt,
    });
    expect((await members()).find((m) => m.uid === 'cy')).toMatchObject({
      join_seqno: 0,
      left_seqno: 2,
    });

    // When dee joins after that @all, is mentioned by another and leaves without reading it
    await join('dee');
    expect(await session('dee')).toMatchObject({ max_seqno: 4, unread: 0, at_seqno: 0 });
    await say('ann', [AT_ALL]);
    await quit('dee');
    await say('ann');
    // Then dee's session holds that message, unread, and the mention
    expect(await session('dee')).toMatchObject({
      max_seqno: 5,
      ack_seqno: 4,
      unread: 1,
      at_seqno: 5,
      hidden_upto_seqno: 4,
    });
    await expectOneBatchRebuildToMatch();
  });

  it('moves the group version by one with each event of the group', async () => {
    const versions: unknown[] = [];
    const step = async (what: string, command: Promise<GroupResult>) => {
      const result = await command;
      versions.push({ what, result: result.version, read: (await group()).version });
    };
    // Given a group with its changes, one of them two events (an accepted application)
    await step('create', create('ann', [{ uid: 'bob' }], 'approval'));
    await say('bob'); // a message is not an event of the group
    await step('apply', join('cy', 'hi'));
    await step('accept', handle('ann', 'cy', 1));
    await step('role', setRole('ann', 'bob', 3));
    await step(
      'info',
      run(G, { kind: 'SetGroupInfo', actor: user('bob'), changes: { name: 'x' } }),
    );
    await step(
      'mute',
      run(G, { kind: 'MuteMember', actor: user('ann'), uid: 'cy', mutedUntilUs: nowUs + 10e6 }),
    );
    await step(
      'transfer',
      run(G, { kind: 'TransferOwner', actor: user('ann'), fromUid: null, toUid: 'bob' }),
    );
    await step('status', run(G, { kind: 'SetGroupStatus', actor: user('bob'), groupStatus: 3 }));
    await step('kick', kick(user('bob'), ['cy']));
    await step('dismiss', run(G, { kind: 'DismissGroup', actor: user('bob') }));
    // Then the read model's version is the aggregate's after each
    expect(versions).toEqual([
      { what: 'create', result: 1, read: 1 },
      { what: 'apply', result: 2, read: 2 },
      { what: 'accept', result: 4, read: 4 },
      { what: 'role', result: 5, read: 5 },
      { what: 'info', result: 6, read: 6 },
      { what: 'mute', result: 7, read: 7 },
      { what: 'transfer', result: 8, read: 8 },
      { what: 'status', result: 9, read: 9 },
      { what: 'kick', result: 10, read: 10 },
      { what: 'dismiss', result: 11, read: 11 },
    ]);
    expect(await group()).toMatchObject({ owner_uid: 'bob', status: 2, updated_at_us: nowUs });
    expect(await members()).toEqual([
      expect.objectContaining({ uid: 'ann', role_level: ROLE_MEMBER }),
      expect.objectContaining({ uid: 'bob', role_level: ROLE_OWNER }),
      expect.objectContaining({ uid: 'cy', left_seqno: 1 }),
    ]);
    await expectOneBatchRebuildToMatch();
  });

  it('follows an application through refusal, a new application, acceptance and an invitation', async () => {
    const states: unknown[] = [];
    const snapshot = async (what: string) =>
      states.push({ what, rows: (await requests()).map((r) => ({ ...r })) });
    // Given an approval group of ann, where dee applies, and applies again while it is pending
    // (which writes nothing: the first message stands)
    await create('ann', [{ uid: 'bob' }], 'approval');
    await join('dee', 'first');
    await snapshot('applied');
    await join('dee', 'second');
    await snapshot('applied again');
    // When ann refuses, dee applies once more and bob (an admin) accepts
    await handle('ann', 'dee', -1, 'no');
    await snapshot('refused');
    await join('dee', 'third');
    await snapshot('reapplied');
    await setRole('ann', 'bob', 3);
    await handle('bob', 'dee', 1, 'welcome');
    await snapshot('accepted');
    // And eve applies and is invited in by a member before anyone handles it
    await join('eve', 'me too');
    await invite(user('dee'), ['eve']);
    await snapshot('invited');
    const pending = (msg: string) => ({
      req_message: msg,
      status: 0,
      handled_msg: '',
      handled_by: null,
    });
    // Then each application went pending, refused, pending, accepted
    expect(states).toEqual([
      { what: 'applied', rows: [{ uid: 'dee', ...pending('first') }] },
      { what: 'applied again', rows: [{ uid: 'dee', ...pending('first') }] },
      {
        what: 'refused',
        rows: [
          { uid: 'dee', req_message: 'first', status: -1, handled_msg: 'no', handled_by: 'ann' },
        ],
      },
      { what: 'reapplied', rows: [{ uid: 'dee', ...pending('third') }] },
      {
        what: 'accepted',
        rows: [
          {
            uid: 'dee',
            req_message: 'third',
            status: 1,
            handled_msg: 'welcome',
            handled_by: 'bob',
          },
        ],
      },
      {
        what: 'invited',
        rows: [
          {
            uid: 'dee',
            req_message: 'third',
            status: 1,
            handled_msg: 'welcome',
            handled_by: 'bob',
          },
          { uid: 'eve', req_message: 'me too', status: 1, handled_msg: '', handled_by: null },
        ],
      },
    ]);
    expect((await members()).filter((m) => ['dee', 'eve'].includes(String(m.uid)))).toEqual([
      expect.objectContaining({ uid: 'dee', join_how: 'approved', inviter_uid: 'bob' }),
      expect.objectContaining({ uid: 'eve', join_how: 'invited', inviter_uid: 'dee' }),
    ]);
    await expectOneBatchRebuildToMatch();
  });

  it("numbers the group assistant's notices per manager and does not tell a manager of their own doing", async () => {
    // Given ann's approval group with bob an admin and cy a member
    await create('ann', [{ uid: 'bob', roleLevel: ROLE_ADMIN }, { uid: 'cy' }], 'approval');
    // When dee applies, bob accepts, ann kicks cy, an administrator adds eve, bob quits, and
    // eve, made an admin, then hears of fay's application
    await join('dee', 'hi');
    await handle('bob', 'dee', 1, 'ok');
    await kick(user('ann'), ['cy'], 'spam');
    await invite(ADMIN, ['eve']);
    await quit('bob');
    await setRole('ann', 'eve', 3);
    await join('fay', 'me');
    // Then each manager has their own numbered notices, none of their own doing
    expect(await notices()).toEqual([
      { owner_uid: 'ann', seqno: 1, op: 'applied', uids: ['dee'], by_uid: null, detail: 'hi' },
      { owner_uid: 'ann', seqno: 2, op: 'accepted', uids: ['dee'], by_uid: 'bob', detail: 'ok' },
      { owner_uid: 'ann', seqno: 3, op: 'approved', uids: ['dee'], by_uid: 'bob', detail: '' },
      { owner_uid: 'ann', seqno: 4, op: 'added', uids: ['eve'], by_uid: null, detail: '' },
      { owner_uid: 'ann', seqno: 5, op: 'quit', uids: ['bob'], by_uid: 'bob', detail: '' },
      { owner_uid: 'ann', seqno: 6, op: 'applied', uids: ['fay'], by_uid: null, detail: 'me' },
      { owner_uid: 'bob', seqno: 1, op: 'applied', uids: ['dee'], by_uid: null, detail: 'hi' },
      { owner_uid: 'bob', seqno: 2, op: 'kicked', uids: ['cy'], by_uid: 'ann', detail: 'spam' },
      { owner_uid: 'bob', seqno: 3, op: 'added', uids: ['eve'], by_uid: null, detail: '' },
      { owner_uid: 'eve', seqno: 1, op: 'applied', uids: ['fay'], by_uid: null, detail: 'me' },
    ]);
    expect(await assistant()).toEqual([
      { owner_uid: 'ann', max_seqno: 6, ack_seqno: 0 },
      { owner_uid: 'bob', max_seqno: 3, ack_seqno: 0 },
      { owner_uid: 'eve', max_seqno: 1, ack_seqno: 0 },
    ]);
    // And each notice has a message key of its own
    const keysOf = await query<{ n: number; distinct: number }>(
      `SELECT count(*)::int AS n, count(DISTINCT msg_key)::int AS distinct FROM rm_group_notices`,
    );
    expect(keysOf).toEqual([{ n: 10, distinct: 10 }]);
    await expectOneBatchRebuildToMatch();
  });

  it("keeps the newest of the group assistant's acks", async () => {
    // Given ann's group and three applications she has notices of
    await create('ann', [], 'approval');
    await join('bob', 'a');
    await join('cy', 'b');
    await join('dee', 'c');
    // When she acks 2, then 1 (a late, older ack), and cy (no notices) acks 0
    await ackAssistant('ann', 2);
    await ackAssistant('ann', 1);
    await ackAssistant('cy', 0);
    // Then her progress is the newest, and more notices do not move it
    await join('eve', 'd');
    expect(await assistant()).toEqual([
      { owner_uid: 'ann', max_seqno: 4, ack_seqno: 2 },
      { owner_uid: 'cy', max_seqno: 0, ack_seqno: 0 },
    ]);
    await ackAssistant('ann', 4);
    expect(await assistant()).toContainEqual({ owner_uid: 'ann', max_seqno: 4, ack_seqno: 4 });
    await expectOneBatchRebuildToMatch();
  });
});
