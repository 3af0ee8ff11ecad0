import { TOKEN_ISSUED, USER_REGISTERED } from '../../accounts/accounts.events';
import { DomainError, ErrorCodes, Errors } from '../../common/errors';
import type { NewEvent } from '../../common/stream-command-processor';
import {
  BLOCKED,
  FOLLOWED,
  PRIVACY_CHANGED,
  PrivacyChangedData,
  PROFILE_UPDATED,
  ProfileUpdatedData,
  RelationChangedData,
  UNBLOCKED,
  UNFOLLOWED,
} from '../relations.events';
import {
  decideRelations,
  evolveRelations,
  initialRelations,
  MAX_BLOCKS,
  MAX_FOLLOWS,
  messagingRefusal,
  RelationsResult,
  UserRelationsCommand,
  userRelationsDecider,
  UserRelationsState,
} from './user-relations';

const ALICE = 'alice';
const BOB = 'bob';
const CAROL = 'carol';
const T0_US = 1_720_000_000_000_000;

type Op = 'follow' | 'unfollow' | 'block' | 'unblock';
const OP_EVENT: Record<Op, string> = {
  follow: FOLLOWED,
  unfollow: UNFOLLOWED,
  block: BLOCKED,
  unblock: UNBLOCKED,
};

/** Alice changes her relation to `targetUid`. */
function change(op: Op, targetUid: string, uid = ALICE): UserRelationsCommand {
  return { kind: 'ChangeRelation', uid, targetUid, op, nowUs: T0_US };
}

/** The event a relation change produces with `oplogSeqno`. */
function changed(op: Op, targetUid: string, oplogSeqno: number, uid = ALICE): NewEvent {
  const data: RelationChangedData = { uid, targetUid, oplogSeqno, atUs: T0_US };
  return { type: OP_EVENT[op], data };
}

function privacyChanged(followedOnly: boolean, intercept: boolean, uid = ALICE): NewEvent {
  const data: PrivacyChangedData = { uid, followedOnly, intercept, atUs: T0_US };
  return { type: PRIVACY_CHANGED, data };
}

function profileUpdated(systemMsgType: number, uid = ALICE): NewEvent {
  const data: ProfileUpdatedData = {
    uid,
    name: uid,
    face: `https://faces.example/${uid}.png`,
    officialType: -1,
    systemMsgType,
    atUs: T0_US,
  };
  return { type: PROFILE_UPDATED, data };
}

const registered = (uid = ALICE): NewEvent => ({
  type: USER_REGISTERED,
  data: { uid, platform: 1 },
});

const stateOf = (...history: NewEvent[]): UserRelationsState =>
  history.reduce(evolveRelations, initialRelations());

/** given(...history).when(command).then(...newEvents) / .thenThrows(code) */
function given(...history: NewEvent[]) {
  const state = stateOf(...history);
  return {
    state,
    when(command: UserRelationsCommand) {
      return {
        /** Asserts the events decided and returns the result for further checks. */
        then(...expected: NewEvent[]): RelationsResult {
          const decision = decideRelations(command, state);
          expect(decision.events).toEqual(expected);
          return decision.result;
        },
        thenThrows(code: number): DomainError {
          let thrown: unknown;
          try {
            decideRelations(command, state);
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

/** A state with `count` users already in the follow or block list, built without 5,000 events. */
function withMany(list: 'follows' | 'blocks', count: number): UserRelationsState {
  const uids = Array.from({ length: count }, (_, i) => `u-${i}`);
  return { ...initialRelations(), [list]: new Set(uids), oplogSeqno: count };
}

describe('user relations', () => {
  describe('follow, unfollow, block, unblock', () => {
    it('gives the first change op-log seqno 1', () => {
      const result = given(registered())
        .when(change('follow', BOB))
        .then(changed('follow', BOB, 1));
      expect(result).toEqual({ oplogSeqno: 1, changed: true });
    });

    it('gives each change the next op-log seqno, whatever its kind', () => {
      const history = [
        changed('follow', BOB, 1),
        changed('block', CAROL, 2),
        changed('unfollow', BOB, 3),
      ];
      expect(
        given(...history)
          .when(change('unblock', CAROL))
          .then(changed('unblock', CAROL, 4)),
      ).toEqual({ oplogSeqno: 4, changed: true });
      expect(
        given(...history)
          .when(change('follow', CAROL))
          .then(changed('follow', CAROL, 4)),
      ).toEqual({ oplogSeqno: 4, changed: true });
      expect(
        given(...history)
          .when(change('block', BOB))
          .then(changed('block', BOB, 4)),
      ).toEqual({ oplogSeqno: 4, changed: true });
    });

    it('produces consecutive op-log seqnos when changes are decided one after another', () => {
      const commands = [
        change('follow', BOB),
        change('block', CAROL),
        change('unfollow', BOB),
        change('unblock', CAROL),
        change('follow', CAROL),
      ];
      let state = stateOf(registered());
      const seqnos: number[] = [];
      for (const command of commands) {
        const decision = decideRelations(command, state);
        expect(decision.events).toHaveLength(1);
        seqnos.push((decision.events[0].data as RelationChangedData).oplogSeqno);
        state = decision.events.reduce(evolveRelations, state);
      }
      expect(seqnos).toEqual([1, 2, 3, 4, 5]);
      expect(state.oplogSeqno).toBe(5);
      expect([...state.follows]).toEqual([CAROL]);
      expect(state.blocks.size).toBe(0);
    });

    it('treats a repeated follow as a no-op with no events', () => {
      const result = given(changed('follow', BOB, 1))
        .when(change('follow', BOB))
        .then();
      expect(result).toEqual({ oplogSeqno: 1, changed: false });
    });

    it('treats a repeated block as a no-op with no events', () => {
      const result = given(changed('follow', BOB, 1), changed('block', CAROL, 2))
        .when(change('block', CAROL))
        .then();
      expect(result).toEqual({ oplogSeqno: 2, changed: false });
    });

    it('treats unfollowing or unblocking someone not in the list as a no-op', () => {
      expect(given().when(change('unfollow', BOB)).then()).toEqual({
        oplogSeqno: 0,
        changed: false,
      });
      expect(
        given(changed('follow', BOB, 1))
          .when(change('unblock', BOB))
          .then(),
      ).toEqual({
        oplogSeqno: 1,
        changed: false,
      });
    });

    it('keeps follows and blocks apart', () => {
      const state = stateOf(changed('follow', BOB, 1), changed('block', CAROL, 2));
      expect([...state.follows]).toEqual([BOB]);
      expect([...state.blocks]).toEqual([CAROL]);
    });

    it.each<Op>(['follow', 'unfollow', 'block', 'unblock'])(
      'rejects a %s of yourself with 40000',
      (op) => {
        const err = given().when(change(op, ALICE)).thenThrows(ErrorCodes.VALIDATION_FAILED);
        expect(err.message).toContain(`${op} yourself`);
        expect(ErrorCodes.VALIDATION_FAILED).toBe(40000);
      },
    );

    it(`accepts the ${MAX_FOLLOWS}th follow and rejects the next with 40000`, () => {
      const almostFull = withMany('follows', MAX_FOLLOWS - 1);
      const decision = decideRelations(change('follow', BOB), almostFull);
      expect(decision.events).toEqual([changed('follow', BOB, MAX_FOLLOWS)]);
      const full = decision.events.reduce(evolveRelations, almostFull);
      expect(full.follows.size).toBe(MAX_FOLLOWS);
      expect(() => decideRelations(change('follow', CAROL), full)).toThrow(
        expect.objectContaining({ code: ErrorCodes.VALIDATION_FAILED }),
      );
    });

    it('still lets a full follow list unfollow, re-follow nobody new, and block', () => {
      const full = withMany('follows', MAX_FOLLOWS);
      expect(decideRelations(change('unfollow', 'u-0'), full).events).toHaveLength(1);
      // Following someone already followed is a no-op, not a bound violation.
      expect(decideRelations(change('follow', 'u-0'), full).events).toEqual([]);
      expect(decideRelations(change('block', BOB), full).events).toHaveLength(1);
    });

    it(`bounds the block list at ${MAX_BLOCKS}`, () => {
      expect(() => decideRelations(change('block', BOB), withMany('blocks', MAX_BLOCKS))).toThrow(
        expect.objectContaining({ code: ErrorCodes.VALIDATION_FAILED }),
      );
    });
  });

  describe('privacy', () => {
    it('records a change of a flag, keeping the unspecified one', () => {
      const result = given(privacyChanged(false, true))
        .when({ kind: 'SetPrivacy', uid: ALICE, followedOnly: true, nowUs: T0_US })
        .then(privacyChanged(true, true));
      expect(result).toEqual({ oplogSeqno: 0, changed: true });
    });

    it('keeps followed-only when only intercept is given', () => {
      given(privacyChanged(true, false))
        .when({ kind: 'SetPrivacy', uid: ALICE, intercept: true, nowUs: T0_US })
        .then(privacyChanged(true, true));
    });

    it('emits nothing when the settings are already as asked', () => {
      const result = given(changed('follow', BOB, 1), privacyChanged(true, false))
        .when({ kind: 'SetPrivacy', uid: ALICE, followedOnly: true, intercept: false, nowUs: 1 })
        .then();
      expect(result).toEqual({ oplogSeqno: 1, changed: false });
    });

    it('emits nothing when no flag is given', () => {
      given().when({ kind: 'SetPrivacy', uid: ALICE, nowUs: T0_US }).then();
    });

    it('does not move the relation op-log', () => {
      const state = stateOf(changed('follow', BOB, 1), privacyChanged(true, true));
      expect(state.oplogSeqno).toBe(1);
      expect(state).toMatchObject({ followedOnly: true, intercept: true });
    });
  });

  describe('profile', () => {
    it('records the profile as given', () => {
      const result = given(registered())
        .when({
          kind: 'UpdateProfile',
          uid: ALICE,
          name: ALICE,
          face: `https://faces.example/${ALICE}.png`,
          officialType: -1,
          systemMsgType: 7,
          nowUs: T0_US,
        })
        .then(profileUpdated(7));
      expect(result).toEqual({ oplogSeqno: 0, changed: true });
    });

    it('marks the user registered and a system account by its systemMsgType', () => {
      expect(stateOf(profileUpdated(8))).toMatchObject({ registered: true, systemMsgType: 8 });
      expect(stateOf(profileUpdated(8), profileUpdated(0)).systemMsgType).toBe(0);
    });
  });

  describe('evolve', () => {
    it('starts unregistered with empty lists and default privacy', () => {
      expect(initialRelations()).toEqual({
        registered: false,
        follows: new Set(),
        blocks: new Set(),
        oplogSeqno: 0,
        followedOnly: false,
        intercept: false,
        systemMsgType: 0,
      });
    });

    it('marks the user registered on UserRegistered', () => {
      expect(stateOf(registered()).registered).toBe(true);
    });

    it('ignores the other account events and unknown events', () => {
      const state = stateOf(registered(), changed('follow', BOB, 1));
      const token: NewEvent = {
        type: TOKEN_ISSUED,
        data: { uid: ALICE, platform: 1, tokenId: 'jti-1', expiresAt: '2030-01-01T00:00:00Z' },
      };
      expect(evolveRelations(state, token)).toBe(state);
      expect(evolveRelations(state, { type: 'SomethingElse', data: {} })).toBe(state);
    });

    it('does not mutate the state it is given', () => {
      const before = stateOf(changed('follow', BOB, 1), changed('block', CAROL, 2));
      const snapshot = {
        ...before,
        follows: new Set(before.follows),
        blocks: new Set(before.blocks),
      };
      evolveRelations(before, changed('unfollow', BOB, 3));
      evolveRelations(before, changed('follow', CAROL, 3));
      evolveRelations(before, changed('unblock', CAROL, 3));
      evolveRelations(before, changed('block', BOB, 3));
      evolveRelations(before, privacyChanged(true, true));
      evolveRelations(before, profileUpdated(1));
      evolveRelations(before, registered());
      expect(before).toEqual(snapshot);
    });
  });

  describe('messagingRefusal', () => {
    const plain = initialRelations();

    it('refuses with 25005 when the sender has blocked the receiver', () => {
      const sender = stateOf(changed('block', BOB, 1));
      const refusal = messagingRefusal(ALICE, sender, BOB, plain);
      expect(refusal).toMatchObject({
        code: ErrorCodes.BLOCKED,
        message: Errors.blocked(true).message,
      });
      expect(ErrorCodes.BLOCKED).toBe(25005);
    });

    it('refuses with 25005 when the receiver has blocked the sender', () => {
      const receiver = stateOf(changed('block', ALICE, 1, BOB));
      const refusal = messagingRefusal(ALICE, plain, BOB, receiver);
      expect(refusal).toMatchObject({
        code: ErrorCodes.BLOCKED,
        message: Errors.blocked(false).message,
      });
      expect(Errors.blocked(false).message).not.toBe(Errors.blocked(true).message);
    });

    it('puts the sender’s own block first when both have blocked', () => {
      const sender = stateOf(changed('block', BOB, 1));
      const receiver = stateOf(changed('block', ALICE, 1, BOB));
      expect(messagingRefusal(ALICE, sender, BOB, receiver)?.message).toBe(
        Errors.blocked(true).message,
      );
    });

    it('refuses with 25003 when a followed-only receiver does not follow the sender', () => {
      const receiver = stateOf(changed('follow', CAROL, 1, BOB), privacyChanged(true, false, BOB));
      expect(messagingRefusal(ALICE, plain, BOB, receiver)).toMatchObject({
        code: ErrorCodes.PRIVACY_FOLLOWED_ONLY,
      });
      expect(ErrorCodes.PRIVACY_FOLLOWED_ONLY).toBe(25003);
    });

    it('allows a sender the followed-only receiver follows', () => {
      const receiver = stateOf(changed('follow', ALICE, 1, BOB), privacyChanged(true, false, BOB));
      expect(messagingRefusal(ALICE, plain, BOB, receiver)).toBeNull();
    });

    it('allows anyone when nobody blocks and the receiver is not followed-only', () => {
      expect(messagingRefusal(ALICE, plain, BOB, plain)).toBeNull();
      expect(
        messagingRefusal(ALICE, plain, BOB, stateOf(privacyChanged(false, true, BOB))),
      ).toBeNull();
    });

    it('lets a system sender past followed-only (25003) but not past a block (25005)', () => {
      const system = stateOf(profileUpdated(1));
      const followedOnly = stateOf(privacyChanged(true, false, BOB));
      expect(messagingRefusal(ALICE, system, BOB, followedOnly)).toBeNull();
      const blocking = stateOf(changed('block', ALICE, 1, BOB), privacyChanged(true, false, BOB));
      expect(messagingRefusal(ALICE, system, BOB, blocking)).toMatchObject({
        code: ErrorCodes.BLOCKED,
      });
      const systemBlocking = stateOf(profileUpdated(1), changed('block', BOB, 1));
      expect(messagingRefusal(ALICE, systemBlocking, BOB, plain)).toMatchObject({
        code: ErrorCodes.BLOCKED,
      });
    });
  });

  describe('userRelationsDecider', () => {
    it('wires the pure functions', () => {
      expect(userRelationsDecider.initialState).toBe(initialRelations);
      expect(userRelationsDecider.evolve).toBe(evolveRelations);
      expect(userRelationsDecider.decide).toBe(decideRelations);
      expect(userRelationsDecider.tailWindow).toBeUndefined();
    });

    it('gives each event a fresh id: retries are recognised by state, not by id', () => {
      const command = change('follow', BOB);
      expect(userRelationsDecider.eventId(command, 0)).not.toBe(
        userRelationsDecider.eventId(command, 0),
      );
    });
  });
});
