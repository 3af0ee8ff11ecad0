import { randomUUID } from 'node:crypto';
import type { Pool } from 'pg';
import { MsgKeyGenerator } from '../../src/common/ids';
import { KeyRing } from '../../src/crypto/key-ring';
import { StreamCommandProcessor } from '../../src/common/stream-command-processor';
import {
  conversationDecider,
  ConversationCommand,
  ConversationState,
  conversationStream,
  privateConversationId,
  SendResult,
} from '../../src/messaging/domain/conversation';
import {
  EventStore,
  Position,
  START,
  comparePositions,
} from '../../src/event-store/event-store.port';
import { resetProjection } from '../../projections/projection-runner';
import type { Projector } from '../../projections/projector';
import { allProjectors } from '../../projections';
import { TEST_MASTER_KEY } from './test-keys';

/** A key ring over `pool` with the tests' master key. */
export const testKeyRing = (pool: Pool): KeyRing => new KeyRing(pool, TEST_MASTER_KEY);

/** Every projector, opening content with the tests' master key. */
export const testProjectors = (pool: Pool): Projector[] => allProjectors(testKeyRing(pool));

let clockUs = 1_800_000_000_000_000;

/** Sends through the real write path (decider + processor), without HTTP. */
export class DirectSender {
  private readonly processor: StreamCommandProcessor<
    ConversationState,
    ConversationCommand,
    SendResult
  >;
  private readonly keys = new MsgKeyGenerator(7);

  constructor(
    store: EventStore,
    private readonly keyRing: KeyRing,
  ) {
    this.processor = new StreamCommandProcessor(store, conversationDecider);
  }

  async send(from: string, to: string, text = 'hello', devId = randomUUID()) {
    const conversationId = privateConversationId(from, to);
    return this.processor.execute(
      conversationStream(conversationId),
      {
        kind: 'SendMessage',
        conversationId,
        senderUid: from,
        receiverType: 1,
        receiverId: to,
        msgType: 1,
        content: await this.keyRing.encryptFor(from, JSON.stringify({ content: text })),
        atUids: null,
        msgSource: 0,
        newFaceVersion: 0,
        devId,
        msgKey: this.keys.next(),
        nowUs: clockUs++,
        receiverFollowsSender: true,
        system: false,
      },
      { actor: { kind: 'user', id: from }, correlationId: randomUUID() },
    );
  }
}

const TABLES: Record<string, string> = {
  rm_users: 'SELECT uid, platform FROM rm_users ORDER BY uid',
  rm_messages: 'SELECT * FROM rm_messages ORDER BY conversation_id, msg_seqno',
  rm_sessions: 'SELECT * FROM rm_sessions ORDER BY owner_uid, session_type, talker_id',
  rm_daily_sends: 'SELECT * FROM rm_daily_sends ORDER BY uid, day',
  rm_relations: 'SELECT * FROM rm_relations ORDER BY owner_uid, kind, target_uid',
  rm_relation_oplog: 'SELECT * FROM rm_relation_oplog ORDER BY owner_uid, seqno',
  rm_user_settings: 'SELECT * FROM rm_user_settings ORDER BY uid',
  rm_profiles: 'SELECT * FROM rm_profiles ORDER BY uid',
  rm_groups: 'SELECT * FROM rm_groups ORDER BY group_id',
  rm_group_members: 'SELECT * FROM rm_group_members ORDER BY group_id, uid',
  rm_group_requests: 'SELECT * FROM rm_group_requests ORDER BY group_id, uid',
  rm_group_assistant: 'SELECT * FROM rm_group_assistant ORDER BY owner_uid',
  rm_group_notices: 'SELECT * FROM rm_group_notices ORDER BY owner_uid, seqno',
  // The session list as readers see it: one-to-one rows and each member's group session.
  rm_session_view: 'SELECT * FROM rm_session_view ORDER BY owner_uid, session_type, talker_id',
  rm_audit: 'SELECT * FROM rm_audit ORDER BY commit_position, prepare_position',
  rm_audit_hours: 'SELECT * FROM rm_audit_hours ORDER BY hour',
};

/** Every read-model row, in a stable order, for comparing two builds of the read models. */
export async function dumpReadModels(pool: Pool): Promise<Record<string, unknown[]>> {
  const out: Record<string, unknown[]> = {};
  for (const [table, sql] of Object.entries(TABLES)) out[table] = (await pool.query(sql)).rows;
  return out;
}

export async function checkpoints(pool: Pool): Promise<Map<string, Position>> {
  const { rows } = await pool.query<{ name: string; c: string; p: string }>(
    'SELECT name, commit_position AS c, prepare_position AS p FROM projection_checkpoints',
  );
  return new Map(rows.map((r) => [r.name, { commit: BigInt(r.c), prepare: BigInt(r.p) }]));
}

/**
 * True when every projector's checkpoint has reached the last committed event. Deliberately not
 * `store.headPosition()`: that is the head readers may see, which an open transaction (say, one
 * left by a killed client) can hold back; a test must wait for every committed event.
 */
export async function caughtUp(pool: Pool, names: string[]): Promise<boolean> {
  const { rows } = await pool.query<{ c: string; p: string }>(
    `SELECT transaction_id::text AS c, global_position AS p FROM es_events
      ORDER BY transaction_id DESC, global_position DESC LIMIT 1`,
  );
  const head = rows.length ? { commit: BigInt(rows[0].c), prepare: BigInt(rows[0].p) } : START;
  const cps = await checkpoints(pool);
  return names.every((n) => comparePositions(cps.get(n) ?? START, head) >= 0);
}

export async function resetAll(pool: Pool, projectors: readonly Projector[]): Promise<void> {
  for (const p of projectors) await resetProjection(pool, p);
}
