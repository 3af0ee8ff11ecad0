import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * `rm_messages.erased`: the message's content is gone because its sender was erased (their data
 * key destroyed), as history shows it (`erased: true`), apart from a recall (msg_status).
 */
export class MessageErasure1765238400000 implements MigrationInterface {
  name = 'MessageErasure1765238400000';

  async up(q: QueryRunner): Promise<void> {
    // A constant default: no table rewrite.
    await q.query(`ALTER TABLE rm_messages ADD COLUMN erased boolean NOT NULL DEFAULT false`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE rm_messages DROP COLUMN erased`);
  }
}
