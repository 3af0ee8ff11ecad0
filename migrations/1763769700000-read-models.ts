import { MigrationInterface, QueryRunner } from 'typeorm';

/** Read models of the first slice: the user directory, message history and session lists. */
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
        sent_at_us bigint NOT NULL,
        PRIMARY KEY (conversation_id, msg_seqno)
      )`);
    await q.query(`CREATE UNIQUE INDEX rm_messages_msg_key ON rm_messages (msg_key)`);

    // One row per (owner, talker). One-to-one sessions keep an unread counter; ack_seqno only
    // moves forward.
    await q.query(`
      CREATE TABLE rm_sessions (
        owner_uid text NOT NULL,
        session_type smallint NOT NULL,
        talker_id text NOT NULL,
        conversation_id text NOT NULL,
        max_seqno bigint NOT NULL DEFAULT 0,
        ack_seqno bigint NOT NULL DEFAULT 0,
        ack_ts bigint NOT NULL DEFAULT 0,
        unread_count int NOT NULL DEFAULT 0,
        session_ts bigint NOT NULL,
        top_ts bigint NOT NULL DEFAULT 0,
        is_dnd smallint NOT NULL DEFAULT 0,
        PRIMARY KEY (owner_uid, session_type, talker_id)
      )`);
    // The session list order: pinned first, then newest; the trailing columns make the cursor
    // unique.
    await q.query(`
      CREATE INDEX rm_sessions_list ON rm_sessions
        (owner_uid, top_ts DESC, session_ts DESC, session_type DESC, talker_id DESC)`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP TABLE rm_sessions`);
    await q.query(`DROP TABLE rm_messages`);
    await q.query(`DROP TABLE rm_users`);
  }
}
