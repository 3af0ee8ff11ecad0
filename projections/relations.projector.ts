import type { PoolClient } from 'pg';
import type { RecordedEvent } from '../src/event-store/event-store.port';
import {
  BLOCKED,
  FOLLOWED,
  PRIVACY_CHANGED,
  PrivacyChangedData,
  PROFILE_UPDATED,
  ProfileUpdatedData,
  RelationChangedData,
  RelationOp,
  UNBLOCKED,
  UNFOLLOWED,
} from '../src/relations/relations.events';
import type { Projector } from './projector';

const KIND = { follow: 1, block: 2 } as const;
const CHANGE: Record<string, { kind: number; add: boolean; op: number }> = {
  [FOLLOWED]: { kind: KIND.follow, add: true, op: RelationOp.follow },
  [UNFOLLOWED]: { kind: KIND.follow, add: false, op: RelationOp.unfollow },
  [BLOCKED]: { kind: KIND.block, add: true, op: RelationOp.block },
  [UNBLOCKED]: { kind: KIND.block, add: false, op: RelationOp.unblock },
};

/**
 * rm_relations (current follows and blocks), rm_relation_oplog (every change, for SyncRelation),
 * rm_user_settings (privacy) and rm_profiles. Relation changes are applied one statement per
 * kind of change, in log order within the batch.
 */
export class RelationsProjector implements Projector {
  readonly name = 'relations';
  readonly usesMetadata = false;
  readonly eventTypes = new Set([...Object.keys(CHANGE), PRIVACY_CHANGED, PROFILE_UPDATED]);
  readonly tables = ['rm_relations', 'rm_relation_oplog', 'rm_user_settings', 'rm_profiles'];

  async apply(events: readonly RecordedEvent[], tx: PoolClient): Promise<void> {
    // The final state of each (owner, kind, target) in this batch, and every op-log entry.
    const finals = new Map<string, { d: RelationChangedData; kind: number; add: boolean }>();
    const oplog: { d: RelationChangedData; op: number }[] = [];
    const privacy = new Map<string, PrivacyChangedData>();
    const profiles = new Map<string, ProfileUpdatedData>();
    for (const e of events) {
      const change = CHANGE[e.type];
      if (change) {
        const d = e.data as RelationChangedData;
        finals.set(`${d.uid}\u0000${change.kind}\u0000${d.targetUid}`, { d, ...change });
        oplog.push({ d, op: change.op });
      } else if (e.type === PRIVACY_CHANGED) {
        const d = e.data as PrivacyChangedData;
        privacy.set(d.uid, d);
      } else if (e.type === PROFILE_UPDATED) {
        const d = e.data as ProfileUpdatedData;
        profiles.set(d.uid, d);
      }
    }
    const all = [...finals.values()];
    const added = all.filter((f) => f.add);
    const removed = all.filter((f) => !f.add);
    if (removed.length > 0) {
      await tx.query(
        `DELETE FROM rm_relations r USING unnest($1::text[], $2::int2[], $3::text[]) AS i(o, k, t)
          WHERE r.owner_uid = i.o AND r.kind = i.k AND r.target_uid = i.t`,
        [
          removed.map((f) => f.d.uid),
          removed.map((f) => f.kind),
          removed.map((f) => f.d.targetUid),
        ],
      );
    }
    if (added.length > 0) {
      await tx.query(
        // A Followed/Blocked event always starts a new relation (the decider emits none for one
        // that already holds), so its time wins even over a row an earlier batch left.
        `INSERT INTO rm_relations (owner_uid, kind, target_uid, since_us)
         SELECT * FROM unnest($1::text[], $2::int2[], $3::text[], $4::bigint[])
         ON CONFLICT (owner_uid, kind, target_uid) DO UPDATE SET since_us = EXCLUDED.since_us`,
        [
          added.map((f) => f.d.uid),
          added.map((f) => f.kind),
          added.map((f) => f.d.targetUid),
          added.map((f) => f.d.atUs),
        ],
      );
    }
    if (oplog.length > 0) {
      await tx.query(
        `INSERT INTO rm_relation_oplog (owner_uid, seqno, target_uid, op, at_us)
         SELECT * FROM unnest($1::text[], $2::bigint[], $3::text[], $4::int2[], $5::bigint[])
         ON CONFLICT DO NOTHING`,
        [
          oplog.map((l) => l.d.uid),
          oplog.map((l) => l.d.oplogSeqno),
          oplog.map((l) => l.d.targetUid),
          oplog.map((l) => l.op),
          oplog.map((l) => l.d.atUs),
        ],
      );
    }
    if (privacy.size > 0) {
      const rows = [...privacy.values()];
      await tx.query(
        `INSERT INTO rm_user_settings (uid, followed_only, intercept)
         SELECT * FROM unnest($1::text[], $2::bool[], $3::bool[])
         ON CONFLICT (uid) DO UPDATE
           SET followed_only = EXCLUDED.followed_only, intercept = EXCLUDED.intercept`,
        [rows.map((r) => r.uid), rows.map((r) => r.followedOnly), rows.map((r) => r.intercept)],
      );
    }
    if (profiles.size > 0) {
      const rows = [...profiles.values()];
      await tx.query(
        `INSERT INTO rm_profiles (uid, name, face, official_type, system_msg_type)
         SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::int2[], $5::int2[])
         ON CONFLICT (uid) DO UPDATE SET name = EXCLUDED.name, face = EXCLUDED.face,
           official_type = EXCLUDED.official_type, system_msg_type = EXCLUDED.system_msg_type`,
        [
          rows.map((r) => r.uid),
          rows.map((r) => r.name),
          rows.map((r) => r.face),
          rows.map((r) => r.officialType),
          rows.map((r) => r.systemMsgType),
        ],
      );
    }
  }
}
