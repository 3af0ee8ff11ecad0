import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Per-user data keys for personal content in events (src/crypto/key-ring.ts), kept outside the
 * log so that erasing a user can destroy their key while the log stays append-only.
 */
export class UserKeys1763769800000 implements MigrationInterface {
  name = 'UserKeys1763769800000';

  async up(q: QueryRunner): Promise<void> {
    // wrapped_key is the data key sealed under the master key (iv || ciphertext || tag). A
    // destroyed key keeps its row with wrapped_key NULL, so it is never created again.
    await q.query(`
      CREATE TABLE user_keys (
        uid text PRIMARY KEY,
        wrapped_key bytea NULL,
        created_at timestamptz NOT NULL DEFAULT now(),
        destroyed_at timestamptz NULL,
        CONSTRAINT user_keys_key_xor_destroyed CHECK ((wrapped_key IS NULL) = (destroyed_at IS NOT NULL))
      )`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP TABLE user_keys`);
  }
}
