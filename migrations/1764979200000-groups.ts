import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Read models of groups: the groups, their members (current and former, for the history window),
 * join applications, and `rm_session_view`, the session list of one-to-one and group sessions.
 */
export class Groups1764979200000 implements MigrationInterface {
  name = 'Groups1764979200000';

  async up(q: QueryRunner): Promise<void> {
    // One row per group. max_seqno and last_ts follow its messages (one update per projected
    // batch, never one per member); at_all_seqno is the newest "@all" mention.
    await q.query(`
      CREATE TABLE rm_groups (
        group_id text PRIMARY KEY,
        conversation_id text NOT NULL,
        name text NOT NULL,
        face_url text NOT NULL,
        introduction text NOT NULL,
        notification text NOT NULL,
        ex text NOT NULL,
        group_type int NOT NULL,
        temporary boolean NOT NULL,
        join_policy text NOT NULL,
        status smallint NOT NULL DEFAULT 0,
        owner_uid text NOT NULL,
        creator_uid text,
        member_count int NOT NULL DEFAULT 0,
        member_seq bigint NOT NULL DEFAULT 0,
        version int NOT NULL,
        created_at_us bigint NOT NULL,
        updated_at_us bigint NOT NULL,
        max_seqno bigint NOT NULL DEFAULT 0,
        last_ts bigint NOT NULL DEFAULT 0,
        at_all_seqno bigint NOT NULL DEFAULT 0
      )`);
    await q.query(
      `CREATE INDEX rm_groups_created ON rm_groups (created_at_us DESC, group_id DESC)`,
    );
    await q.query(`CREATE INDEX rm_groups_owner ON rm_groups (owner_uid)`);

    // One row per (group, user) who was ever a member. A member sees the messages after
    // join_seqno and, once gone (left_seqno set), none after left_seqno; and the group's changes
    // between the group-stream revisions of their join and of their leaving (and, as an owner or
    // admin, the applications since the revision that made them one). member_seq orders the
    // member list (a cursor that pages, in join order).
    await q.query(`
      CREATE TABLE rm_group_members (
        group_id text NOT NULL,
        uid text NOT NULL,
        role_level smallint NOT NULL,
        member_seq bigint NOT NULL,
        joined_at_us bigint NOT NULL,
        join_seqno bigint NOT NULL,
        join_how text NOT NULL,
        inviter_uid text,
        muted_until_us bigint NOT NULL DEFAULT 0,
        join_revision bigint NOT NULL,
        manager_since_revision bigint,
        left_seqno bigint,
        left_at_us bigint,
        left_revision bigint,
        PRIMARY KEY (group_id, uid)
      )`);
    await q.query(
      `CREATE UNIQUE INDEX rm_group_members_page ON rm_group_members (group_id, member_seq)
        WHERE left_seqno IS NULL`,
    );
    await q.query(
      `CREATE INDEX rm_group_members_role ON rm_group_members (group_id, role_level, member_seq)
        WHERE left_seqno IS NULL`,
    );
    await q.query(`CREATE INDEX rm_group_members_user ON rm_group_members (uid, group_id)`);

    // Join applications: status 0 pending, 1 accepted, -1 refused.
    await q.query(`
      CREATE TABLE rm_group_requests (
        group_id text NOT NULL,
        uid text NOT NULL,
        req_message text NOT NULL,
        req_at_us bigint NOT NULL,
        status smallint NOT NULL DEFAULT 0,
        handled_msg text NOT NULL DEFAULT '',
        handled_by text,
        handled_at_us bigint NOT NULL DEFAULT 0,
        PRIMARY KEY (group_id, uid)
      )`);
    await q.query(
      `CREATE INDEX rm_group_requests_user ON rm_group_requests (uid, req_at_us DESC, group_id DESC)`,
    );
    // The pending applications of the groups one manages (handled ones are never listed there).
    await q.query(
      `CREATE INDEX rm_group_requests_pending ON rm_group_requests (group_id, req_at_us DESC)
        WHERE status = 0`,
    );

    // The group assistant (Bilibili's GroupAssisMsg): notices of applications and membership for
    // each group's owner and admins, numbered per recipient, with their own read progress.
    await q.query(`
      CREATE TABLE rm_group_assistant (
        owner_uid text PRIMARY KEY,
        max_seqno bigint NOT NULL DEFAULT 0,
        ack_seqno bigint NOT NULL DEFAULT 0
      )`);
    await q.query(`
      CREATE TABLE rm_group_notices (
        owner_uid text NOT NULL,
        seqno bigint NOT NULL,
        msg_key bigint NOT NULL,
        group_id text NOT NULL,
        op text NOT NULL,
        uids text[] NOT NULL,
        by_uid text,
        detail text NOT NULL,
        at_us bigint NOT NULL,
        PRIMARY KEY (owner_uid, seqno)
      )`);

    // Every session in one shape. One-to-one sessions are rm_sessions rows; a group session is
    // the membership joined with its group (max_seqno, session_ts, "@all") and with the member's
    // own rm_sessions row of type 2 (acks, pins, do-not-disturb, removal, mentions), so a group
    // message updates one row whatever the size of the group. Before a member's join the
    // messages count as read and hidden; after they left, their session ends at left_seqno.
    await q.query(`
      CREATE VIEW rm_group_session_view AS
      SELECT gm.uid AS owner_uid, 2::int2 AS session_type, gm.group_id AS talker_id,
             g.conversation_id, gs.max_seqno, gs.ack_seqno, COALESCE(s.ack_ts, 0) AS ack_ts,
             CASE WHEN gm.left_seqno IS NULL THEN g.last_ts ELSE gm.left_at_us END AS session_ts,
             COALESCE(s.top_ts, 0) AS top_ts, COALESCE(s.is_dnd, 0::int2) AS is_dnd,
             0::int2 AS is_trust,
             CASE WHEN gs.at_seqno > gs.ack_seqno THEN gs.at_seqno ELSE 0 END AS at_seqno,
             GREATEST(COALESCE(s.hidden_upto_seqno, 0), gm.join_seqno) AS hidden_upto_seqno
        FROM rm_group_members gm
        JOIN rm_groups g ON g.group_id = gm.group_id
        LEFT JOIN rm_sessions s
          ON s.owner_uid = gm.uid AND s.session_type = 2 AND s.talker_id = gm.group_id
        CROSS JOIN LATERAL (SELECT
             COALESCE(gm.left_seqno, g.max_seqno) AS max_seqno,
             GREATEST(COALESCE(s.ack_seqno, 0), gm.join_seqno) AS ack_seqno,
             GREATEST(COALESCE(s.at_seqno, 0),
                      CASE WHEN g.at_all_seqno <= COALESCE(gm.left_seqno, g.at_all_seqno)
                           THEN g.at_all_seqno ELSE 0 END) AS at_seqno) gs`);
    // Lookups by owner and talker read both kinds through one view; the session list pages each
    // kind on its own (src/sessions/session-reader.ts), since an ordered page over the union
    // cannot use rm_sessions_list.
    await q.query(`
      CREATE VIEW rm_session_view AS
      SELECT owner_uid, session_type, talker_id, conversation_id, max_seqno, ack_seqno, ack_ts,
             session_ts, top_ts, is_dnd, is_trust, at_seqno, hidden_upto_seqno
        FROM rm_sessions WHERE session_type = 1
      UNION ALL
      SELECT * FROM rm_group_session_view`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP VIEW rm_session_view`);
    await q.query(`DROP VIEW rm_group_session_view`);
    await q.query(`DROP TABLE rm_group_notices`);
    await q.query(`DROP TABLE rm_group_assistant`);
    await q.query(`DROP TABLE rm_group_requests`);
    await q.query(`DROP TABLE rm_group_members`);
    await q.query(`DROP TABLE rm_groups`);
  }
}
