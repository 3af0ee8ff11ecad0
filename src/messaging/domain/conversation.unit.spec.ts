import { DomainError, ErrorCodes } from '../../common/errors';
import type { NewEvent } from '../../common/stream-command-processor';
import type { RecordedEvent } from '../../event-store/event-store.port';
import {
  MESSAGE_RECALLED,
  MESSAGE_SENT,
  MessageRecalledData,
  MessageSentData,
} from '../messaging.events';
import {
  conversationDecider,
  ConversationCommand,
  conversationStream,
  ConversationState,
  decide,
  evolve,
  initialState,
  privateConversationId,
  RecallMessage,
  RecallTargetUnknown,
  RECENT_SENDS,
  recentSend,
  SendMessage,
  SendResult,
} from './conversation';

const ALICE = 'alice';
const BOB = 'bob';
const CONVERSATION = privateConversationId(ALICE, BOB);
const T0_US = 1_720_000_000_000_000;
const WINDOW_US = 120_000_000;
/** Overrides that turn alice's send into bob's. */
const FROM_BOB = { senderUid: BOB, receiverId: ALICE } as const;

const text = (t: string): string => JSON.stringify({ content: t });

/** A valid text message from alice to bob; override what the test is about. */
function send(overrides: Partial<SendMessage> = {}): SendMessage {
  return {
    kind: 'SendMessage',
    conversationId: CONVERSATION,
    senderUid: ALICE,
    receiverType: 1,
    receiverId: BOB,
    msgType: 1,
    content: text('hello'),
    atUids: null,
    msgSource: 0,
    newFaceVersion: 0,
    devId: 'dev-1',
    msgKey: '1001',
    nowUs: T0_US,
    receiverFollowsSender: true,
    system: false,
    ...overrides,
  };
}

/** The event a send produces when it is given `seqno`. */
function sentBy(command: SendMessage, seqno: number): NewEvent {
  const data: MessageSentData = {
    conversationId: command.conversationId,
    seqno,
    msgKey: command.msgKey,
    senderUid: command.senderUid,
    receiverType: command.receiverType,
    receiverId: command.receiverId,
    msgType: command.msgType,
    content: command.content,
    atUids: command.atUids,
    msgSource: command.msgSource,
    newFaceVersion: command.newFaceVersion,
    devId: command.devId,
    sentAtUs: command.nowUs,
  };
  return { type: MESSAGE_SENT, data };
}

/** A past send of the conversation, as it sits in the stream. */
function sent(seqno: number, devId: string, overrides: Partial<SendMessage> = {}): NewEvent {
  return sentBy(
    send({ devId, msgKey: String(5000 + seqno), nowUs: T0_US + seqno, ...overrides }),
    seqno,
  );
}

/** Alice recalls the first message of the conversation (msg_key 5001) a second after it. */
function recall(overrides: Partial<RecallMessage> = {}): RecallMessage {
  return {
    kind: 'RecallMessage',
    conversationId: CONVERSATION,
    senderUid: ALICE,
    receiverType: 1,
    receiverId: BOB,
    targetMsgKey: '5001',
    msgKey: '9001',
    nowUs: T0_US + 1_000_000,
    devId: 'dev-recall',
    msgSource: 0,
    system: false,
    windowUs: WINDOW_US,
    ...overrides,
  };
}

/** The event a recall produces when its notice gets `seqno` and its target is `targetSeqno`. */
function recalledBy(command: RecallMessage, seqno: number, targetSeqno: number): NewEvent {
  const data: MessageRecalledData = {
    conversationId: command.conversationId,
    senderUid: command.senderUid,
    receiverType: command.receiverType,
    receiverId: command.receiverId,
    targetMsgKey: command.targetMsgKey,
    targetSeqno,
    system: command.system,
    seqno,
    msgKey: command.msgKey,
    sentAtUs: command.nowUs,
    devId: command.devId,
    msgSource: command.msgSource,
  };
  return { type: MESSAGE_RECALLED, data };
}

type ActiveState = Extract<ConversationState, { status: 'active' }>;

function active(state: ConversationState): ActiveState {
  expect(state.status).toBe('active');
  return state as ActiveState;
}

/** given(...history).when(command).then(...newEvents) / .thenThrows(code) */
function given(...history: NewEvent[]) {
  const state = history.reduce(evolve, initialState());
  return {
    state,
    when(command: ConversationCommand) {
      return {
        /** Asserts the events decided and returns the result for further checks. */
        then(...expected: NewEvent[]): SendResult {
          const decision = decide(command, state);
          expect(decision.events).toEqual(expected);
          return decision.result;
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

describe('conversation', () => {
  describe('sequence numbers', () => {
    it('gives the first message of a conversation seqno 1', () => {
      const command = send();
      const result = given().when(command).then(sentBy(command, 1));
      expect(result).toEqual({
        msgKey: '1001',
        seqno: 1,
        sentAtUs: T0_US,
        conversationId: CONVERSATION,
        duplicate: false,
      });
    });

    it('gives the next message the last seqno plus one', () => {
      const command = send({ devId: 'dev-3', msgKey: '7003' });
      const result = given(sent(1, 'dev-a'), sent(2, 'dev-b'))
        .when(command)
        .then(sentBy(command, 3));
      expect(result.seqno).toBe(3);
      expect(result.duplicate).toBe(false);
    });

    it('continues from the last seqno when only the tail of the stream is loaded', () => {
      const command = send({ devId: 'dev-new' });
      given(sent(41, 'dev-41'), sent(42, 'dev-42')).when(command).then(sentBy(command, 43));
    });

    it('keeps the content text verbatim in the event', () => {
      const command = send({ content: '{"content":"hi","extra":[1,2]}' });
      given().when(command).then(sentBy(command, 1));
    });
  });

  describe('retried dev_id', () => {
    it('answers a retried dev_id with the first send and no events', () => {
      const result = given(sent(1, 'dev-a'), sent(2, 'dev-b'))
        .when(send({ devId: 'dev-a', msgKey: '9999', nowUs: T0_US + 1_000_000 }))
        .then();
      expect(result).toEqual({
        msgKey: '5001',
        seqno: 1,
        sentAtUs: T0_US + 1,
        conversationId: CONVERSATION,
        duplicate: true,
      });
    });

    it('recognises a retry by its dev_id even when the content differs', () => {
      const result = given(sent(1, 'dev-a'))
        .when(send({ devId: 'dev-a', content: text('edited') }))
        .then();
      expect(result.duplicate).toBe(true);
      expect(result.seqno).toBe(1);
    });

    it('answers a retry from memory even if the one-message rule would now refuse it', () => {
      const result = given(sent(1, 'dev-a'))
        .when(send({ devId: 'dev-a', receiverFollowsSender: false }))
        .then();
      expect(result).toMatchObject({ seqno: 1, duplicate: true });
    });

    it(`still remembers the oldest of the last ${RECENT_SENDS} dev_ids`, () => {
      const history = Array.from({ length: RECENT_SENDS }, (_, i) => sent(i + 1, `dev-${i + 1}`));
      const result = given(...history)
        .when(send({ devId: 'dev-1' }))
        .then();
      expect(result).toMatchObject({ seqno: 1, duplicate: true });
    });

    it(`forgets dev_ids older than the last ${RECENT_SENDS} sends`, () => {
      const history = Array.from({ length: RECENT_SENDS + 1 }, (_, i) =>
        sent(i + 1, `dev-${i + 1}`),
      );
      const command = send({ devId: 'dev-1', msgKey: '8888' });
      // Forgotten in memory: decided as a new send (the store's event id catches a true retry).
      given(...history)
        .when(command)
        .then(sentBy(command, RECENT_SENDS + 2));
      // The second oldest is still within the window.
      given(...history)
        .when(send({ devId: 'dev-2' }))
        .then();
    });

    it('bounds the remembered dev_ids however long the conversation is', () => {
      const history = Array.from({ length: RECENT_SENDS * 3 }, (_, i) =>
        sent(i + 1, `dev-${i + 1}`),
      );
      const { state } = given(...history);
      expect(state.status).toBe('active');
      const active = state as Extract<ConversationState, { status: 'active' }>;
      expect(active.lastSeqno).toBe(RECENT_SENDS * 3);
      expect(active.messages.size).toBe(RECENT_SENDS);
      const oldestKept = `dev-${RECENT_SENDS * 2 + 1}`;
      const newestForgotten = `dev-${RECENT_SENDS * 2}`;
      expect(decide(send({ devId: oldestKept }), state).result.duplicate).toBe(true);
      expect(decide(send({ devId: newestForgotten }), state).result.duplicate).toBe(false);
    });

    // A send's identity is (sender, dev_id), as its event id is: in a one-to-one conversation
    // bob's new message must not be swallowed because alice recently used the same dev_id.
    it('does not treat another sender’s dev_id as a retry', () => {
      const fromBob = send({ senderUid: BOB, receiverId: ALICE, devId: 'dev-a', msgKey: '7777' });
      given(sent(1, 'dev-a')).when(fromBob).then(sentBy(fromBob, 2));
    });
  });

  describe('rejections', () => {
    it('rejects a message to yourself with 21026', () => {
      given()
        .when(send({ receiverId: ALICE, conversationId: privateConversationId(ALICE, ALICE) }))
        .thenThrows(ErrorCodes.SEND_TO_SELF);
      expect(ErrorCodes.SEND_TO_SELF).toBe(21026);
    });

    it('does not count a group whose id equals the sender’s uid as a send to yourself', () => {
      const command = send({ receiverType: 2, receiverId: ALICE, conversationId: 'g-alice' });
      given().when(command).then(sentBy(command, 1));
    });

    it('leaves the sequence untouched by a rejected send', () => {
      given(sent(1, 'dev-a'))
        .when(send({ devId: 'dev-b', receiverFollowsSender: false }))
        .thenThrows(ErrorCodes.ONE_MESSAGE_BEFORE_REPLY);
      const next = send({ devId: 'dev-c' });
      given(sent(1, 'dev-a')).when(next).then(sentBy(next, 2));
    });
  });

  describe('one message before a reply (21047)', () => {
    it('allows the first message to a receiver who does not follow the sender', () => {
      const command = send({ receiverFollowsSender: false });
      given().when(command).then(sentBy(command, 1));
    });

    it('refuses a second message to a non-follower who never replied with 21047', () => {
      given(sent(1, 'dev-a'))
        .when(send({ devId: 'dev-b', receiverFollowsSender: false }))
        .thenThrows(ErrorCodes.ONE_MESSAGE_BEFORE_REPLY);
      expect(ErrorCodes.ONE_MESSAGE_BEFORE_REPLY).toBe(21047);
    });

    it('allows more messages once the receiver has replied', () => {
      const command = send({ devId: 'dev-c', receiverFollowsSender: false });
      given(sent(1, 'dev-a'), sent(2, 'dev-b', FROM_BOB), sent(3, 'dev-x'))
        .when(command)
        .then(sentBy(command, 4));
    });

    it('lets the receiver reply to a sender they do not follow', () => {
      const reply = send({ ...FROM_BOB, devId: 'dev-b', receiverFollowsSender: false });
      given(sent(1, 'dev-a')).when(reply).then(sentBy(reply, 2));
    });

    it('does not apply when the receiver follows the sender', () => {
      const command = send({ devId: 'dev-c', receiverFollowsSender: true });
      given(sent(1, 'dev-a'), sent(2, 'dev-b')).when(command).then(sentBy(command, 3));
    });

    it('does not apply to system senders', () => {
      const command = send({ devId: 'dev-c', receiverFollowsSender: false, system: true });
      given(sent(1, 'dev-a'), sent(2, 'dev-b')).when(command).then(sentBy(command, 3));
    });

    it('does not apply to groups (receiver_type 2)', () => {
      const inGroup = { receiverType: 2, receiverId: 'g-1', conversationId: 'g-1' } as const;
      const command = send({ ...inGroup, devId: 'dev-c', receiverFollowsSender: false });
      given(sent(1, 'dev-a', inGroup), sent(2, 'dev-b', inGroup))
        .when(command)
        .then(sentBy(command, 3));
    });
  });

  describe('recall', () => {
    it('recalls the sender’s own message within the window with a notice at the next seqno', () => {
      const command = recall();
      const history = given(sent(1, 'dev-a'), sent(2, 'dev-b', FROM_BOB));
      const result = history.when(command).then(recalledBy(command, 3, 1));
      expect(result).toEqual({
        msgKey: '9001',
        seqno: 3,
        sentAtUs: command.nowUs,
        conversationId: CONVERSATION,
        duplicate: false,
      });
      expect(decide(command, history.state).events[0].data).toMatchObject({
        targetMsgKey: '5001',
        targetSeqno: 1,
        system: false,
      });
    });

    it('accepts a recall at exactly the end of the window', () => {
      const command = recall({ nowUs: T0_US + 1 + WINDOW_US });
      given(sent(1, 'dev-a'))
        .when(command)
        .then(recalledBy(command, 2, 1));
    });

    it('rejects a recall after the window has passed with 21041', () => {
      const err = given(sent(1, 'dev-a'))
        .when(recall({ nowUs: T0_US + 1 + WINDOW_US + 1 }))
        .thenThrows(ErrorCodes.RECALL_WINDOW_PASSED);
      expect(ErrorCodes.RECALL_WINDOW_PASSED).toBe(21041);
      expect(err.message).toContain('120 seconds');
    });

    it('rejects a recall of an already recalled message with 21042', () => {
      given(sent(1, 'dev-a'), recalledBy(recall(), 2, 1))
        .when(recall({ devId: 'dev-recall-2', msgKey: '9002', nowUs: T0_US + 2_000_000 }))
        .thenThrows(ErrorCodes.ALREADY_RECALLED);
      expect(ErrorCodes.ALREADY_RECALLED).toBe(21042);
    });

    it('rejects a recall by the other user with 40300', () => {
      given(sent(1, 'dev-a'), sent(2, 'dev-b', FROM_BOB))
        .when(recall(FROM_BOB))
        .thenThrows(ErrorCodes.FORBIDDEN);
      expect(ErrorCodes.FORBIDDEN).toBe(40300);
    });

    it('lets a system recall take anyone’s message at any age, and hide it', () => {
      const command = recall({ ...FROM_BOB, system: true, nowUs: T0_US + 100 * WINDOW_US });
      const history = given(sent(1, 'dev-a'));
      history.when(command).then(recalledBy(command, 2, 1));
      expect(decide(command, history.state).events[0].data).toMatchObject({
        senderUid: BOB,
        targetSeqno: 1,
        system: true,
      });
    });

    it('rejects a system recall of an already recalled message with 21042', () => {
      given(sent(1, 'dev-a'), recalledBy(recall(), 2, 1))
        .when(recall({ devId: 'dev-sys', msgKey: '9002', system: true }))
        .thenThrows(ErrorCodes.ALREADY_RECALLED);
    });

    it('throws RecallTargetUnknown for a msg_key not among the recent messages', () => {
      const { state } = given(sent(1, 'dev-a'));
      expect(() => decide(recall({ targetMsgKey: '424242' }), state)).toThrow(RecallTargetUnknown);
      expect(() => decide(recall(), initialState())).toThrow(
        expect.objectContaining({ msgKey: '5001' }),
      );
    });

    it('throws RecallTargetUnknown for a message that fell out of the recent window', () => {
      const history = Array.from({ length: RECENT_SENDS + 1 }, (_, i) =>
        sent(i + 1, `dev-${i + 1}`),
      );
      const { state } = given(...history);
      expect(() => decide(recall({ targetMsgKey: '5001' }), state)).toThrow(RecallTargetUnknown);
      // The oldest message still remembered can be recalled (the window is the caller's to set).
      const command = recall({ targetMsgKey: '5002', windowUs: Number.MAX_SAFE_INTEGER });
      given(...history)
        .when(command)
        .then(recalledBy(command, RECENT_SENDS + 2, 2));
    });

    it('answers a retried recall (same sender and dev_id) with the first result and no events', () => {
      const first = recall();
      const result = given(sent(1, 'dev-a'), recalledBy(first, 2, 1))
        .when(recall({ msgKey: '9999', nowUs: T0_US + 5_000_000 }))
        .then();
      expect(result).toEqual({
        msgKey: '9001',
        seqno: 2,
        sentAtUs: first.nowUs,
        conversationId: CONVERSATION,
        duplicate: true,
      });
    });

    it('does not let a recall notice itself be recalled (21042)', () => {
      given(sent(1, 'dev-a'), recalledBy(recall(), 2, 1))
        .when(recall({ targetMsgKey: '9001', devId: 'dev-recall-2', msgKey: '9002' }))
        .thenThrows(ErrorCodes.ALREADY_RECALLED);
    });

    it('gives a recall the same event id as a send with that sender and dev_id', () => {
      expect(conversationDecider.eventId(recall({ devId: 'dev-z' }), 0)).toBe(
        conversationDecider.eventId(send({ devId: 'dev-z' }), 0),
      );
    });
  });

  describe('evolve', () => {
    it('starts empty', () => {
      expect(initialState()).toEqual({ status: 'empty' });
    });

    it('ignores events of other types', () => {
      const state = given(sent(1, 'dev-a')).state;
      expect(evolve(state, { type: 'SomethingElse', data: { seqno: 99 } })).toBe(state);
      expect(evolve(initialState(), { type: 'SomethingElse', data: {} })).toEqual({
        status: 'empty',
      });
    });

    it('marks the target of MessageRecalled recalled and bumps the last seqno', () => {
      const state = active(
        given(sent(1, 'dev-a'), sent(2, 'dev-b', FROM_BOB), recalledBy(recall(), 3, 1)).state,
      );
      expect(state.lastSeqno).toBe(3);
      expect(state.messages.get('5001')).toMatchObject({ seqno: 1, recalled: true });
      expect(state.messages.get('5002')).toMatchObject({ seqno: 2, recalled: false });
      expect(state.messages.get('9001')).toMatchObject({
        seqno: 3,
        senderUid: ALICE,
        recalled: true,
      });
      expect(recentSend(state, ALICE, 'dev-recall')).toEqual({
        msgKey: '9001',
        seqno: 3,
        sentAtUs: T0_US + 1_000_000,
      });
    });

    it('records a MessageRecalled whose target is outside the known suffix', () => {
      const recalled = recalledBy(recall({ targetMsgKey: '1' }), 42, 1);
      const state = active(given(sent(41, 'dev-41'), recalled).state);
      expect(state.lastSeqno).toBe(42);
      expect(state.messages.has('1')).toBe(false);
      expect(state.messages.get('9001')?.recalled).toBe(true);
    });

    it(`bounds the recent maps at ${RECENT_SENDS} with sends and recalls mixed`, () => {
      const history: NewEvent[] = [];
      for (let seqno = 1; history.length < RECENT_SENDS * 3; seqno += 2) {
        history.push(sent(seqno, `dev-${seqno}`));
        history.push(
          recalledBy(
            recall({
              targetMsgKey: String(5000 + seqno),
              msgKey: `r-${seqno}`,
              devId: `r-${seqno}`,
            }),
            seqno + 1,
            seqno,
          ),
        );
      }
      const state = active(given(...history).state);
      expect(state.lastSeqno).toBe(RECENT_SENDS * 3);
      expect(state.messages.size).toBe(RECENT_SENDS);
      expect(state.messages.size).toBe(RECENT_SENDS);
    });

    it('decides the one-message rule alike from the whole stream and from its tail', () => {
      // Given bob wrote once, then alice wrote more than the remembered suffix (bob followed her)
      const history = [sent(1, 'bob-1', FROM_BOB)];
      for (let seqno = 2; seqno <= RECENT_SENDS + 50; seqno++)
        history.push(sent(seqno, `a-${seqno}`));
      const whole = given(...history).state;
      const tail = given(...history.slice(-RECENT_SENDS)).state;
      // When bob no longer follows her and she sends again
      const next = send({ devId: 'a-next', receiverFollowsSender: false });
      // Then both states refuse it: bob's reply is outside the suffix either way
      expect(() => decide(next, whole)).toThrow(expect.objectContaining({ code: 21047 }));
      expect(() => decide(next, tail)).toThrow(expect.objectContaining({ code: 21047 }));
    });

    it('does not mutate the state it is given', () => {
      const before = given(sent(1, 'dev-a')).state as Extract<
        ConversationState,
        { status: 'active' }
      >;
      evolve(before, sent(2, 'dev-b', FROM_BOB));
      evolve(before, recalledBy(recall(), 2, 1));
      expect(before.lastSeqno).toBe(1);
      expect(before.messages.size).toBe(1);
      expect(before.messages.size).toBe(1);
      expect(before.messages.get('5001')?.recalled).toBe(false);
      expect(decide(send({ devId: 'dev-b' }), before).result).toMatchObject({
        seqno: 2,
        duplicate: false,
      });
    });
  });

  describe('privateConversationId', () => {
    it('names the same conversation from either side', () => {
      expect(privateConversationId('alice', 'bob')).toBe(privateConversationId('bob', 'alice'));
      expect(privateConversationId('u-10', 'u-9')).toBe(privateConversationId('u-9', 'u-10'));
    });

    it('gives different pairs different ids', () => {
      const ids = [
        privateConversationId('alice', 'bob'),
        privateConversationId('alice', 'carol'),
        privateConversationId('bob', 'carol'),
        privateConversationId('ab', 'c'),
        privateConversationId('a', 'bc'),
        privateConversationId('alice', 'alice'),
      ];
      expect(new Set(ids).size).toBe(ids.length);
    });

    it('puts the smaller uid first, as stored stream names expect', () => {
      expect(privateConversationId('bob', 'alice')).toBe('alice~bob');
    });

    it('names the stream of a conversation', () => {
      expect(conversationStream(CONVERSATION)).toBe(`conversation-${CONVERSATION}`);
    });
  });

  describe('conversationDecider', () => {
    const UUID_V5 = /^[0-9a-f]{8}-[0-9a-f]{4}-5[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

    it('wires the pure functions and loads only the remembered tail', () => {
      expect(conversationDecider.initialState).toBe(initialState);
      expect(conversationDecider.evolve).toBe(evolve);
      expect(conversationDecider.decide).toBe(decide);
      expect(conversationDecider.tailWindow).toBe(RECENT_SENDS);
    });

    it('derives the event id from sender and dev_id only, deterministically', () => {
      const first = conversationDecider.eventId(send({ devId: 'dev-a' }), 0);
      expect(first).toMatch(UUID_V5);
      const retried = send({ devId: 'dev-a', msgKey: '42', nowUs: T0_US + 5, content: text('x') });
      expect(conversationDecider.eventId(retried, 0)).toBe(first);
    });

    it('gives different senders with the same dev_id different event ids', () => {
      const fromAlice = conversationDecider.eventId(send({ devId: 'dev-a' }), 0);
      const fromBob = conversationDecider.eventId(
        send({ senderUid: BOB, receiverId: ALICE, devId: 'dev-a' }),
        0,
      );
      expect(fromBob).toMatch(UUID_V5);
      expect(fromBob).not.toBe(fromAlice);
    });

    it('gives different dev_ids of one sender different event ids', () => {
      expect(conversationDecider.eventId(send({ devId: 'dev-a' }), 0)).not.toBe(
        conversationDecider.eventId(send({ devId: 'dev-b' }), 0),
      );
    });

    it('keeps sender and dev_id apart in the event id', () => {
      expect(conversationDecider.eventId(send({ senderUid: 'ab', devId: 'c' }), 0)).not.toBe(
        conversationDecider.eventId(send({ senderUid: 'a', devId: 'bc' }), 0),
      );
    });

    it('maps a stored send back to the result of a retry', () => {
      const stored = sent(7, 'dev-a');
      const recorded: RecordedEvent = {
        id: conversationDecider.eventId(send({ devId: 'dev-a' }), 0),
        type: stored.type,
        streamId: conversationStream(CONVERSATION),
        revision: 6,
        position: { commit: 10n, prepare: 3n },
        data: stored.data,
        metadata: { actor: { kind: 'user', id: ALICE }, correlationId: 'c-1' },
        createdAt: new Date(0),
      };
      const result = conversationDecider.resultOfStored(
        send({ devId: 'dev-a', msgKey: 'unused', nowUs: 1 }),
        [recorded],
      );
      expect(result).toEqual({
        msgKey: '5007',
        seqno: 7,
        sentAtUs: T0_US + 7,
        conversationId: CONVERSATION,
        duplicate: true,
      });
    });
  });
});
