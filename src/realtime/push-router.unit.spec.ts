import type { RecordedEvent } from '../event-store/event-store.port';
import {
  MESSAGE_RECALLED,
  MESSAGE_SENT,
  MessageRecalledData,
  MessageSentData,
  MSG_TYPE_RECALL,
} from '../messaging/messaging.events';
import {
  BLOCKED,
  FOLLOWED,
  PRIVACY_CHANGED,
  PrivacyChangedData,
  PROFILE_UPDATED,
  RelationChangedData,
  UNBLOCKED,
  UNFOLLOWED,
} from '../relations/relations.events';
import {
  SESSION_ACKED,
  SESSION_DND_SET,
  SESSION_TOP_SET,
  SESSION_TRUST_SET,
  SessionAckedData,
  SESSIONS_REMOVED,
  SessionsRemovedData,
} from '../sessions/sessions.events';
import { GROUP_APPLIED, GROUP_INFO_SET, GROUP_MEMBERS_LEFT } from '../groups/groups.events';
import { GroupAudience, MessagePush, Push, routeEvent, Routed, sealedMessage } from './push-router';

const ALICE = 'alice';
const BOB = 'bob';
const CAROL = 'carol';
const CONVERSATION = 'alice:bob';
const T0_US = 1_720_000_000_000_000;
const SEALED = 'e1.sealed-content';
const OPENED = JSON.stringify({ content: 'hello' });

let nextId = 0;

/** An event as the store hands it out; only `type` and `data` matter to the router. */
function recorded<T>(type: string, data: T, streamId = 'stream-1'): RecordedEvent<T> {
  nextId += 1;
  return {
    id: `00000000-0000-4000-8000-${String(nextId).padStart(12, '0')}`,
    type,
    streamId,
    revision: 0,
    position: { commit: BigInt(100 + nextId), prepare: 0n },
    data,
    metadata: { actor: { kind: 'user', id: ALICE }, correlationId: `corr-${nextId}` },
    createdAt: new Date(T0_US / 1000),
  };
}

/** Alice's text message to bob, seqno 7; override what the test is about. */
function sentData(overrides: Partial<MessageSentData> = {}): MessageSentData {
  return {
    conversationId: CONVERSATION,
    seqno: 7,
    msgKey: '1001',
    senderUid: ALICE,
    receiverType: 1,
    receiverId: BOB,
    msgType: 1,
    content: SEALED,
    atUids: null,
    msgSource: 0,
    newFaceVersion: 0,
    devId: 'dev-1',
    sentAtUs: T0_US,
    ...overrides,
  };
}

/** Alice recalls her message 1001 (seqno 7) with notice 9001 at seqno 8. */
function recalledData(overrides: Partial<MessageRecalledData> = {}): MessageRecalledData {
  return {
    conversationId: CONVERSATION,
    senderUid: ALICE,
    receiverType: 1,
    receiverId: BOB,
    targetMsgKey: '1001',
    targetSeqno: 7,
    system: false,
    seqno: 8,
    msgKey: '9001',
    sentAtUs: T0_US + 5_000_000,
    devId: 'dev-recall',
    msgSource: 0,
    ...overrides,
  };
}

function relationData(overrides: Partial<RelationChangedData> = {}): RelationChangedData {
  return { uid: ALICE, targetUid: BOB, oplogSeqno: 12, atUs: T0_US, ...overrides };
}

/** given(event).whenRouted(content?) → what the router decided. */
function given<T>(type: string, data: T, revision = 0) {
  const event = { ...recorded(type, data, 'group-g_1'), revision };
  return {
    whenRouted: (content?: string, groups?: GroupAudience): Routed =>
      routeEvent(event, content, groups),
  };
}

/** A group g_1 whose connected members are alice (owner), bob and carol (admin). */
const MEMBERS = [ALICE, BOB, CAROL];
const AUDIENCE: GroupAudience = {
  ofMessage: (groupId) => (groupId === 'g_1' ? MEMBERS : []),
  ofChange: (groupId) => (groupId === 'g_1' ? MEMBERS : []),
  managers: (groupId) => (groupId === 'g_1' ? [ALICE, CAROL] : []),
};
const groupSent = (overrides: Partial<MessageSentData> = {}) =>
  sentData({ receiverType: 2, receiverId: 'g_1', conversationId: 'g_g_1', ...overrides });

const to = (routed: Routed, uid: string): Push[] => routed.pushes.filter((p) => p.to === uid);

describe('routeEvent', () => {
  describe('MessageSent, one-to-one', () => {
    it('pushes the message to both users, each with the other as talker, skipping the origin', () => {
      const routed = given(MESSAGE_SENT, sentData()).whenRouted(OPENED);

      const view = {
        sender_uid: ALICE,
        receiver_type: 1,
        receiver_id: BOB,
        msg_type: 1,
        content: OPENED,
        msg_seqno: 7,
        timestamp: T0_US / 1_000_000,
        at_uids: null,
        msg_key: '1001',
        msg_status: 0,
        notify_code: '',
        new_face_version: 0,
        msg_source: 0,
      };
      expect(routed.pushes).toHaveLength(2);
      expect(to(routed, BOB)).toEqual([
        {
          to: BOB,
          event: 'message',
          data: { ...view, talker_id: ALICE, session_type: 1 },
          skipOrigin: true,
        },
      ]);
      expect(to(routed, ALICE)).toEqual([
        {
          to: ALICE,
          event: 'message',
          data: { ...view, talker_id: BOB, session_type: 1 },
          skipOrigin: true,
        },
      ]);
    });

    it('touches the session of each user with the other', () => {
      const routed = given(MESSAGE_SENT, sentData()).whenRouted(OPENED);
      expect(routed.touched).toHaveLength(2);
      expect(routed.touched).toEqual(
        expect.arrayContaining([
          { owner: BOB, sessionType: 1, talkerId: ALICE },
          { owner: ALICE, sessionType: 1, talkerId: BOB },
        ]),
      );
    });

    it('pushes the opened content, never the sealed text of the event', () => {
      const routed = given(MESSAGE_SENT, sentData()).whenRouted(OPENED);
      for (const push of routed.pushes) {
        expect((push.data as MessagePush).content).toBe(OPENED);
      }
      expect(JSON.stringify(routed)).not.toContain(SEALED);
    });

    it('pushes empty content when no opened content is given (the sender’s key is gone)', () => {
      const routed = given(MESSAGE_SENT, sentData()).whenRouted();
      expect(routed.pushes).toHaveLength(2);
      for (const push of routed.pushes) {
        expect((push.data as MessagePush).content).toBe('');
      }
    });

    it('gives the time in whole seconds, rounded down', () => {
      const routed = given(MESSAGE_SENT, sentData({ sentAtUs: T0_US + 999_999 })).whenRouted(
        OPENED,
      );
      expect((routed.pushes[0].data as MessagePush).timestamp).toBe(T0_US / 1_000_000);
    });

    it('carries at_uids, notify_code and the message’s own fields as history shows them', () => {
      const atUids = [BOB, CAROL];
      const routed = given(
        MESSAGE_SENT,
        sentData({
          msgType: 10,
          atUids,
          notifyCode: '1_2',
          newFaceVersion: 3,
          msgSource: 4,
          senderUid: BOB,
          receiverId: ALICE,
        }),
      ).whenRouted(OPENED);

      const toAlice = to(routed, ALICE)[0].data as MessagePush;
      expect(toAlice).toMatchObject({
        sender_uid: BOB,
        receiver_id: ALICE,
        talker_id: BOB,
        msg_type: 10,
        at_uids: [BOB, CAROL],
        notify_code: '1_2',
        new_face_version: 3,
        msg_source: 4,
      });
      expect(to(routed, BOB)[0].data).toMatchObject({ talker_id: ALICE });
      // A copy: a consumer changing the push cannot change the event.
      expect(toAlice.at_uids).not.toBe(atUids);
      expect(toAlice).not.toHaveProperty('sys_cancel');
    });
  });

  describe('MessageSent to a group', () => {
    it('pushes one shared payload to every member of the audience, the group as talker', () => {
      const routed = given(MESSAGE_SENT, groupSent()).whenRouted(OPENED, AUDIENCE);
      expect(routed.pushes.map((p) => p.to)).toEqual(MEMBERS);
      const [first, ...rest] = routed.pushes;
      expect(first).toMatchObject({ event: 'message', skipOrigin: true });
      expect(first.data).toMatchObject({
        talker_id: 'g_1',
        session_type: 2,
        receiver_type: 2,
        receiver_id: 'g_1',
        content: OPENED,
        msg_seqno: 7,
      });
      // One object for all: a sink encodes it once.
      for (const p of rest) expect(p.data).toBe(first.data);
    });

    it('touches only the sender and the mentioned members (everyone for @all)', () => {
      const plain = given(MESSAGE_SENT, groupSent()).whenRouted(OPENED, AUDIENCE);
      expect(plain.touched).toEqual([{ owner: ALICE, sessionType: 2, talkerId: 'g_1' }]);
      const mention = given(MESSAGE_SENT, groupSent({ atUids: [CAROL] })).whenRouted(
        OPENED,
        AUDIENCE,
      );
      expect(mention.touched.map((t) => t.owner)).toEqual([ALICE, CAROL]);
      const all = given(MESSAGE_SENT, groupSent({ atUids: ['@all'] })).whenRouted(OPENED, AUDIENCE);
      expect(all.touched.map((t) => t.owner)).toEqual(MEMBERS);
    });

    it('routes nothing without an audience (no member connected)', () => {
      expect(given(MESSAGE_SENT, groupSent()).whenRouted(OPENED)).toEqual({
        pushes: [],
        touched: [],
      });
    });
  });

  describe('group events', () => {
    it('tells the members of a change, with the version after it (stream revision + 1)', () => {
      const routed = given(
        GROUP_INFO_SET,
        { groupId: 'g_1', changes: { name: 'tea', joinPolicy: 'open' }, byUid: ALICE, atUs: T0_US },
        4,
      ).whenRouted(undefined, AUDIENCE);
      expect(routed.pushes.map((p) => p.to)).toEqual(MEMBERS);
      expect(routed.pushes[0]).toMatchObject({
        event: 'group_updated',
        data: {
          group_id: 'g_1',
          version: 5,
          op: 'info',
          changes: { name: 'tea', join_policy: 'open' },
          by_uid: ALICE,
        },
      });
    });

    it('tells the members before a leave and the users who left', () => {
      const audience = { ...AUDIENCE, ofChange: () => [ALICE, CAROL] };
      const routed = given(GROUP_MEMBERS_LEFT, {
        groupId: 'g_1',
        uids: [BOB],
        how: 'kicked',
        reason: 'spam',
        byUid: ALICE,
        atUs: T0_US,
      }).whenRouted(undefined, audience);
      expect(routed.pushes.map((p) => p.to).sort()).toEqual([ALICE, BOB, CAROL]);
      expect(routed.pushes[0].data).toMatchObject({
        op: 'left',
        uids: [BOB],
        how: 'kicked',
        reason: 'spam',
      });
    });

    it('tells the owner and admins of an application, and the applicant', () => {
      const routed = given(GROUP_APPLIED, {
        groupId: 'g_1',
        uid: 'dave',
        reqMessage: 'hi',
        atUs: T0_US,
      }).whenRouted(undefined, AUDIENCE);
      expect(routed.pushes.map((p) => p.to)).toEqual([ALICE, CAROL, 'dave']);
      expect(routed.pushes[0]).toMatchObject({
        event: 'group_application',
        data: { group_id: 'g_1', op: 'applied', uid: 'dave', req_message: 'hi' },
      });
    });
  });

  describe('MessageRecalled', () => {
    it('pushes the recall notice as a message and a message_recalled to both users', () => {
      const routed = given(MESSAGE_RECALLED, recalledData()).whenRouted();

      const notice = {
        sender_uid: ALICE,
        receiver_type: 1,
        receiver_id: BOB,
        msg_type: MSG_TYPE_RECALL,
        content: '1001',
        msg_seqno: 8,
        timestamp: T0_US / 1_000_000 + 5,
        at_uids: null,
        msg_key: '9001',
        msg_status: 0,
        notify_code: '',
        new_face_version: 0,
        msg_source: 0,
      };
      const recalled = {
        session_type: 1,
        msg_key: '1001',
        msg_seqno: 7,
        sys_cancel: 0,
        notice_msg_key: '9001',
        notice_msg_seqno: 8,
      };
      expect(routed.pushes).toHaveLength(4);
      for (const [uid, talker] of [
        [BOB, ALICE],
        [ALICE, BOB],
      ]) {
        const pushes = to(routed, uid);
        expect(pushes).toHaveLength(2);
        expect(pushes).toEqual(
          expect.arrayContaining([
            {
              to: uid,
              event: 'message',
              data: { ...notice, talker_id: talker, session_type: 1 },
              skipOrigin: true,
            },
            {
              to: uid,
              event: 'message_recalled',
              data: { ...recalled, talker_id: talker },
              skipOrigin: false,
            },
          ]),
        );
      }
    });

    it('has msg_type 5 and the recalled msg_key as the notice’s content', () => {
      const routed = given(MESSAGE_RECALLED, recalledData({ targetMsgKey: '4242' })).whenRouted();
      const notices = routed.pushes.filter((p) => p.event === 'message');
      expect(notices).toHaveLength(2);
      for (const n of notices) {
        expect(n.data).toMatchObject({ msg_type: 5, content: '4242', msg_key: '9001' });
      }
    });

    it('marks neither the notice nor the notification as a system recall when the sender recalls', () => {
      const routed = given(MESSAGE_RECALLED, recalledData({ system: false })).whenRouted();
      for (const p of routed.pushes) {
        if (p.event === 'message') expect(p.data).not.toHaveProperty('sys_cancel');
        else expect(p.data).toMatchObject({ sys_cancel: 0 });
      }
    });

    it('marks the notice sys_cancel and the notification sys_cancel 1 on a system recall', () => {
      const routed = given(MESSAGE_RECALLED, recalledData({ system: true })).whenRouted();
      expect(routed.pushes).toHaveLength(4);
      for (const p of routed.pushes) {
        if (p.event === 'message') expect(p.data).toMatchObject({ sys_cancel: true });
        else expect(p.data).toMatchObject({ sys_cancel: 1 });
      }
    });

    it('touches the session of each user with the other', () => {
      const routed = given(MESSAGE_RECALLED, recalledData()).whenRouted();
      expect(routed.touched).toHaveLength(2);
      expect(routed.touched).toEqual(
        expect.arrayContaining([
          { owner: BOB, sessionType: 1, talkerId: ALICE },
          { owner: ALICE, sessionType: 1, talkerId: BOB },
        ]),
      );
    });

    it('pushes a group recall to the audience: the notice and message_recalled each', () => {
      const routed = given(
        MESSAGE_RECALLED,
        recalledData({ receiverType: 2, receiverId: 'g_1', conversationId: 'g_g_1' }),
      ).whenRouted(undefined, AUDIENCE);
      expect(routed.pushes).toHaveLength(MEMBERS.length * 2);
      expect(to(routed, BOB).map((p) => p.event)).toEqual(['message', 'message_recalled']);
      expect(to(routed, BOB)[1].data).toMatchObject({ talker_id: 'g_1', session_type: 2 });
    });
  });

  describe('SessionAcked', () => {
    it('pushes one ack_updated per ack to the owner only, skipping the origin', () => {
      const data: SessionAckedData = {
        ownerUid: BOB,
        acks: [
          { sessionType: 1, talkerId: ALICE, ackSeqno: 7 },
          { sessionType: 1, talkerId: CAROL, ackSeqno: 3 },
          { sessionType: 2, talkerId: 'g-1', ackSeqno: 40 },
        ],
        atUs: T0_US,
      };
      const routed = given(SESSION_ACKED, data).whenRouted();

      expect(routed.pushes).toEqual([
        {
          to: BOB,
          event: 'ack_updated',
          data: { talker_id: ALICE, session_type: 1, ack_seqno: 7 },
          skipOrigin: true,
        },
        {
          to: BOB,
          event: 'ack_updated',
          data: { talker_id: CAROL, session_type: 1, ack_seqno: 3 },
          skipOrigin: true,
        },
        {
          to: BOB,
          event: 'ack_updated',
          data: { talker_id: 'g-1', session_type: 2, ack_seqno: 40 },
          skipOrigin: true,
        },
      ]);
      expect(routed.touched).toEqual([
        { owner: BOB, sessionType: 1, talkerId: ALICE },
        { owner: BOB, sessionType: 1, talkerId: CAROL },
        { owner: BOB, sessionType: 2, talkerId: 'g-1' },
      ]);
    });

    it('routes nothing for an ack of no sessions', () => {
      const routed = given(SESSION_ACKED, { ownerUid: BOB, acks: [], atUs: T0_US }).whenRouted();
      expect(routed).toEqual({ pushes: [], touched: [] });
    });
  });

  describe('session settings', () => {
    it.each([
      [SESSION_TOP_SET, { topTs: T0_US }],
      [SESSION_TOP_SET, { topTs: 0 }],
      [SESSION_DND_SET, { dnd: true }],
      [SESSION_TRUST_SET, { trusted: true }],
    ])('%s only touches the owner’s session (%o)', (type, setting) => {
      const routed = given(type, {
        ownerUid: BOB,
        sessionType: 1,
        talkerId: ALICE,
        ...setting,
      }).whenRouted();
      expect(routed).toEqual({
        pushes: [],
        touched: [{ owner: BOB, sessionType: 1, talkerId: ALICE }],
      });
    });

    it('SessionsRemoved touches every removed session of the owner, and pushes nothing', () => {
      const data: SessionsRemovedData = {
        ownerUid: BOB,
        sessions: [
          { sessionType: 1, talkerId: ALICE, uptoSeqno: 7 },
          { sessionType: 2, talkerId: 'g-1', uptoSeqno: 40 },
        ],
        atUs: T0_US,
      };
      const routed = given(SESSIONS_REMOVED, data).whenRouted();
      expect(routed).toEqual({
        pushes: [],
        touched: [
          { owner: BOB, sessionType: 1, talkerId: ALICE },
          { owner: BOB, sessionType: 2, talkerId: 'g-1' },
        ],
      });
    });
  });

  describe('follows', () => {
    it.each([
      [FOLLOWED, 'follow'],
      [UNFOLLOWED, 'unfollow'],
    ])('%s reaches the actor with their op-log number and the target with 0', (type, op) => {
      const routed = given(type, relationData()).whenRouted();
      const data = { op, uid: ALICE, target_uid: BOB };
      expect(routed.pushes).toEqual([
        {
          to: ALICE,
          event: 'relation_updated',
          data: { ...data, oplog_seqno: 12 },
          skipOrigin: false,
        },
        {
          to: BOB,
          event: 'relation_updated',
          data: { ...data, oplog_seqno: 0 },
          skipOrigin: false,
        },
      ]);
    });

    it.each([FOLLOWED, UNFOLLOWED])('%s touches the actor’s session with the target', (type) => {
      const routed = given(type, relationData()).whenRouted();
      expect(routed.touched).toEqual([{ owner: ALICE, sessionType: 1, talkerId: BOB }]);
    });
  });

  describe('blocks', () => {
    it.each([
      [BLOCKED, 'block'],
      [UNBLOCKED, 'unblock'],
    ])('%s reaches only the actor: blocks are private', (type, op) => {
      const routed = given(type, relationData({ oplogSeqno: 5 })).whenRouted();
      expect(routed.pushes).toEqual([
        {
          to: ALICE,
          event: 'relation_updated',
          data: { op, uid: ALICE, target_uid: BOB, oplog_seqno: 5 },
          skipOrigin: false,
        },
      ]);
      expect(to(routed, BOB)).toEqual([]);
      expect(routed.touched).toEqual([]);
    });
  });

  describe('PrivacyChanged', () => {
    it.each([
      [false, false, 0, 0],
      [true, false, 1, 0],
      [false, true, 0, 1],
      [true, true, 1, 1],
    ])(
      'pushes followedOnly %s, intercept %s to the user alone as %i / %i',
      (followedOnly, intercept, followedOnlyFlag, interceptFlag) => {
        const data: PrivacyChangedData = { uid: BOB, followedOnly, intercept, atUs: T0_US };
        const routed = given(PRIVACY_CHANGED, data).whenRouted();
        expect(routed).toEqual({
          pushes: [
            {
              to: BOB,
              event: 'relation_updated',
              data: {
                op: 'privacy',
                uid: BOB,
                followed_only: followedOnlyFlag,
                intercept: interceptFlag,
              },
              skipOrigin: false,
            },
          ],
          touched: [],
        });
      },
    );
  });

  describe('other events', () => {
    it.each([
      ['UserRegistered', { uid: CAROL, atUs: T0_US }],
      [
        PROFILE_UPDATED,
        { uid: CAROL, name: 'Carol', face: '', officialType: -1, systemMsgType: 0 },
      ],
      [
        'SomethingNobodyKnows',
        { senderUid: ALICE, receiverId: BOB, receiverType: 1, ownerUid: BOB },
      ],
    ])('routes nothing for %s', (type, data) => {
      expect(given(type, data).whenRouted(OPENED)).toEqual({ pushes: [], touched: [] });
    });
  });
});

describe('sealedMessage', () => {
  it('gives the sealed content of a one-to-one message and both its users', () => {
    const sealed = sealedMessage(recorded(MESSAGE_SENT, sentData()));
    expect(sealed).not.toBeNull();
    expect(sealed!.content).toBe(SEALED);
    expect([...sealed!.to].sort()).toEqual([ALICE, BOB]);
  });

  it('names the same users the message is routed to', () => {
    const event = recorded(MESSAGE_SENT, sentData({ senderUid: CAROL, receiverId: ALICE }));
    const routedTo = new Set(routeEvent(event, OPENED).pushes.map((p) => p.to));
    expect(new Set(sealedMessage(event)!.to)).toEqual(routedTo);
  });

  it('names the audience of a group message', () => {
    const event = recorded(MESSAGE_SENT, groupSent());
    expect(sealedMessage(event, AUDIENCE)).toEqual({ content: SEALED, to: MEMBERS });
    expect(sealedMessage(event)).toEqual({ content: SEALED, to: [] });
  });

  it.each([
    [MESSAGE_RECALLED, recalledData()],
    [FOLLOWED, relationData()],
    [SESSION_ACKED, { ownerUid: BOB, acks: [], atUs: T0_US }],
    ['UserRegistered', { uid: CAROL }],
  ])('is null for %s', (type, data) => {
    expect(sealedMessage(recorded(type, data))).toBeNull();
  });
});
