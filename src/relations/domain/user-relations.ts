import { randomUUID } from 'node:crypto';
import { USER_REGISTERED, UserRegisteredData } from '../../accounts/accounts.events';
import { Errors } from '../../common/errors';
import type { Decision, NewEvent, StreamDecider } from '../../common/stream-command-processor';
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

/**
 * The relation side of a user's stream (`user-<uid>`): whom they follow and block, their privacy
 * settings and profile. Account events on the same stream (registration, tokens) pass through.
 */
export interface UserRelationsState {
  readonly registered: boolean;
  readonly follows: ReadonlySet<string>;
  readonly blocks: ReadonlySet<string>;
  readonly oplogSeqno: number;
  readonly followedOnly: boolean;
  readonly intercept: boolean;
  readonly systemMsgType: number;
}

/** Follow lists are bounded, as every serious network bounds them. */
export const MAX_FOLLOWS = 5_000;
export const MAX_BLOCKS = 5_000;

export type UserRelationsCommand =
  | {
      readonly kind: 'ChangeRelation';
      readonly uid: string;
      readonly targetUid: string;
      readonly op: 'follow' | 'unfollow' | 'block' | 'unblock';
      readonly nowUs: number;
    }
  | {
      readonly kind: 'SetPrivacy';
      readonly uid: string;
      readonly followedOnly?: boolean;
      readonly intercept?: boolean;
      readonly nowUs: number;
    }
  | {
      readonly kind: 'UpdateProfile';
      readonly uid: string;
      readonly name: string;
      readonly face: string;
      readonly officialType: number;
      readonly systemMsgType: number;
      readonly nowUs: number;
    };

export interface RelationsResult {
  /** The op-log sequence number after the command (unchanged when nothing changed). */
  readonly oplogSeqno: number;
  readonly changed: boolean;
}

export function initialRelations(): UserRelationsState {
  return {
    registered: false,
    follows: new Set(),
    blocks: new Set(),
    oplogSeqno: 0,
    followedOnly: false,
    intercept: false,
    systemMsgType: 0,
  };
}

function withSet(set: ReadonlySet<string>, uid: string, add: boolean): Set<string> {
  const next = new Set(set);
  if (add) next.add(uid);
  else next.delete(uid);
  return next;
}

export function evolveRelations(state: UserRelationsState, event: NewEvent): UserRelationsState {
  switch (event.type) {
    case USER_REGISTERED:
      return { ...state, registered: true };
    case FOLLOWED:
    case UNFOLLOWED: {
      const d = event.data as RelationChangedData;
      return {
        ...state,
        follows: withSet(state.follows, d.targetUid, event.type === FOLLOWED),
        oplogSeqno: d.oplogSeqno,
      };
    }
    case BLOCKED:
    case UNBLOCKED: {
      const d = event.data as RelationChangedData;
      return {
        ...state,
        blocks: withSet(state.blocks, d.targetUid, event.type === BLOCKED),
        oplogSeqno: d.oplogSeqno,
      };
    }
    case PRIVACY_CHANGED: {
      const d = event.data as PrivacyChangedData;
      return { ...state, followedOnly: d.followedOnly, intercept: d.intercept };
    }
    case PROFILE_UPDATED: {
      const d = event.data as ProfileUpdatedData;
      return { ...state, registered: true, systemMsgType: d.systemMsgType };
    }
    default:
      return state;
  }
}

const OP_EVENT = { follow: FOLLOWED, unfollow: UNFOLLOWED, block: BLOCKED, unblock: UNBLOCKED };

export function decideRelations(
  command: UserRelationsCommand,
  state: UserRelationsState,
): Decision<RelationsResult> {
  const unchanged = { events: [], result: { oplogSeqno: state.oplogSeqno, changed: false } };
  switch (command.kind) {
    case 'ChangeRelation': {
      const { uid, targetUid, op } = command;
      if (uid === targetUid) throw Errors.validation(`you cannot ${op} yourself`);
      const set = op === 'follow' || op === 'unfollow' ? state.follows : state.blocks;
      const adding = op === 'follow' || op === 'block';
      // Idempotent: following someone already followed changes nothing and logs nothing.
      if (set.has(targetUid) === adding) return unchanged;
      if (adding && set.size >= (op === 'follow' ? MAX_FOLLOWS : MAX_BLOCKS)) {
        throw Errors.validation(`at most ${op === 'follow' ? MAX_FOLLOWS : MAX_BLOCKS} ${op}s`);
      }
      const oplogSeqno = state.oplogSeqno + 1;
      const data: RelationChangedData = { uid, targetUid, oplogSeqno, atUs: command.nowUs };
      return { events: [{ type: OP_EVENT[op], data }], result: { oplogSeqno, changed: true } };
    }
    case 'SetPrivacy': {
      const followedOnly = command.followedOnly ?? state.followedOnly;
      const intercept = command.intercept ?? state.intercept;
      if (followedOnly === state.followedOnly && intercept === state.intercept) return unchanged;
      const data: PrivacyChangedData = {
        uid: command.uid,
        followedOnly,
        intercept,
        atUs: command.nowUs,
      };
      return {
        events: [{ type: PRIVACY_CHANGED, data }],
        result: { oplogSeqno: state.oplogSeqno, changed: true },
      };
    }
    case 'UpdateProfile': {
      const { kind, nowUs, ...profile } = command;
      const data: ProfileUpdatedData = { ...profile, atUs: nowUs };
      // A profile for a user who never signed in registers them (platform 0: made by an operator).
      const registration: UserRegisteredData = { uid: command.uid, platform: 0 };
      return {
        events: [
          ...(state.registered ? [] : [{ type: USER_REGISTERED, data: registration }]),
          { type: PROFILE_UPDATED, data },
        ],
        result: { oplogSeqno: state.oplogSeqno, changed: true },
      };
    }
  }
}

/**
 * Why `sender` may not message `receiver`, or null. The seed's rules, in its order of precedence:
 * a block either way (25005), then the receiver's followed-only setting (25003). System accounts
 * are exempt from privacy but not from blocks.
 */
export function messagingRefusal(
  senderUid: string,
  sender: UserRelationsState,
  receiverUid: string,
  receiver: UserRelationsState,
): Error | null {
  if (sender.blocks.has(receiverUid)) return Errors.blocked(true);
  if (receiver.blocks.has(senderUid)) return Errors.blocked(false);
  if (sender.systemMsgType > 0) return null;
  if (receiver.followedOnly && !receiver.follows.has(senderUid)) {
    return Errors.privacyFollowedOnly();
  }
  return null;
}

export const userRelationsDecider: StreamDecider<
  UserRelationsState,
  UserRelationsCommand,
  RelationsResult
> = {
  initialState: initialRelations,
  evolve: evolveRelations,
  decide: decideRelations,
  // Relation changes are idempotent by state (a retried follow changes nothing), so ids are fresh.
  eventId: () => randomUUID(),
  resultOfStored: () => ({ oplogSeqno: 0, changed: false }),
};
