import { MigrationInterface, QueryRunner } from 'typeorm';

/** Read models of private messaging: users, profiles, messages, sessions, relations, limits. */
export class ReadModels1763769700000 implements MigrationInterface {
  name = 'ReadModels1763769700000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      CREATE TABLE rm_users (
        uid text PRIMARY KEY,
        platform int NOT NULL,
        registered_at timestamptz NOT NULL,
        last_token_at timestamptz NOT NULL
      )`);

    // One row per message; the primary key serves history pages by sequence number.
    await q.query(`
      CREATE TABLE rm_messages (
        conversation_id text NOT NULL,
        msg_seqno bigint NOT NULL,
        msg_key bigint NOT NULL,
        sender_uid text NOT NULL,
        receiver_type smallint NOT NULL,
        receiver_id text NOT NULL,
        msg_type int NOT NULL,
        content text NOT NULL,
        msg_status smallint NOT NULL DEFAULT 0,
        at_uids text[],
        msg_source int NOT NULL DEFAULT 0,
        new_face_version int NOT NULL DEFAULT 0,
        notify_code text NOT NULL DEFAULT '',
        sys_cancel boolean NOT NULL DEFAULT false,
        sent_at_us bigint NOT NULL,
        PRIMARY KEY (conversation_id, msg_seqno)
      )`);
    await q.query(`CREATE UNIQUE INDEX rm_messages_msg_key ON rm_messages (msg_key)`);

    // One row per (owner, talker). Unread counts are max_seqno - ack_seqno (a user's own send
    // acks up to it, so every later message is the other side's); ack_seqno only moves forward.
    // A removed session stays hidden while max_seqno <= hidden_upto_seqno.
    await q.query(`
      CREATE TABLE rm_sessions (
        owner_uid text NOT NULL,
        session_type smallint NOT NULL,
        talker_id text NOT NULL,
        conversation_id text NOT NULL,
        max_seqno bigint NOT NULL DEFAULT 0,
        ack_seqno bigint NOT NULL DEFAULT 0,
        ack_ts bigint NOT NULL DEFAULT 0,
        session_ts bigint NOT NULL DEFAULT 0,
        top_ts bigint NOT NULL DEFAULT 0,
        is_dnd smallint NOT NULL DEFAULT 0,
        is_trust smallint NOT NULL DEFAULT 0,
        at_seqno bigint NOT NULL DEFAULT 0,
        hidden_upto_seqno bigint NOT NULL DEFAULT 0,
        PRIMARY KEY (owner_uid, session_type, talker_id)
      )`);
    // The session list order: pinned first, then newest; the trailing columns make the cursor
    // unique.
    await q.query(`
      CREATE INDEX rm_sessions_list ON rm_sessions
        (owner_uid, top_ts DESC, session_ts DESC, session_type DESC, talker_id DESC)`);
    // Unread counts read only the sessions that have something unread.
    await q.query(
      `CREATE INDEX rm_sessions_unread ON rm_sessions (owner_uid) WHERE max_seqno > ack_seqno`,
    );

    // Relations: follows (kind 1) and blocks (kind 2), and each user's relation op-log.
    await q.query(`
      CREATE TABLE rm_relations (
        owner_uid text NOT NULL,
        kind smallint NOT NULL,
        target_uid text NOT NULL,
        since_us bigint NOT NULL,
        PRIMARY KEY (owner_uid, kind, target_uid)
      )`);
    await q.query(`
      CREATE TABLE rm_relation_oplog (
        owner_uid text NOT NULL,
        seqno bigint NOT NULL,
        target_uid text NOT NULL,
        op smallint NOT NULL,
        at_us bigint NOT NULL,
        PRIMARY KEY (owner_uid, seqno)
      )`);
    await q.query(`
      CREATE TABLE rm_user_settings (
        uid text PRIMARY KEY,
        followed_only boolean NOT NULL DEFAULT false,
        intercept boolean NOT NULL DEFAULT false
      )`);
    await q.query(`
      CREATE TABLE rm_profiles (
        uid text PRIMARY KEY,
        name text NOT NULL,
        face text NOT NULL,
        official_type smallint NOT NULL,
        system_msg_type smallint NOT NULL
      )`);
    // Messages sent per user and UTC day (days since the epoch), for the daily send cap.
    await q.query(`
      CREATE TABLE rm_daily_sends (
        uid text NOT NULL,
        day int NOT NULL,
        sent int NOT NULL,
        PRIMARY KEY (uid, day)
      )`);
  }

  async down(q: QueryRunner): Promise<void> {
    for (const t of ['rm_daily_sends', 'rm_profiles', 'rm_user_settings', 'rm_relation_oplog']) {
      await q.query(`DROP TABLE ${t}`);
    }
    await q.query(`DROP TABLE rm_relations`);
    await q.query(`DROP TABLE rm_sessions`);
    await q.query(`DROP TABLE rm_messages`);
    await q.query(`DROP TABLE rm_users`);
  }
}
