import { randomBytes, randomUUID } from 'node:crypto';
import type { Pool, PoolClient } from 'pg';
import { USER_ERASED } from '../src/accounts/accounts.events';
import { KeyRing } from '../src/crypto/key-ring';
import { inTransaction } from '../src/database/with-client';
import type { EventData, RecordedEvent } from '../src/event-store/event-store.port';
import { PostgresEventStore } from '../src/event-store/postgres/postgres-event-store';
import { AT_ALL, groupConversationId } from '../src/groups/groups.events';
import { privateConversationId } from '../src/messaging/domain/conversation';
import { MESSAGE_RECALLED, MESSAGE_SENT } from '../src/messaging/messaging.events';
import {
  SESSION_ACKED,
  SESSION_DND_SET,
  SESSION_TOP_SET,
  SESSION_TRUST_SET,
  SESSIONS_REMOVED,
} from '../src/sessions/sessions.events';
import { useTestStore } from '../test/support/test-store';
import { seeded } from '../test/support/seeded-random';
import { MessagesProjector } from './messages.projector';
import type { Projector } from './projector';
import { SessionsProjector } from './sessions.projector';

/**
 * The messages and sessions read models must not depend on how the log is cut into batches: the
 * live projections apply a few events at a time, a rebuild thousands, and `verify` compares the
 * two. Over a log of every event type the two projectors take, with the cases where order within
 * a batch decides: acks of equal seqnos at different times, a session first touched by an ack,
 * settings set twice (and events without a value), mentions of the sender and of @all, duplicate
 * messages, recalls by the sender and by the system, erasures between a user's plain messages,
 * and sealed contents whose key is destroyed.
 */
describe('messages and sessions: the same read models whatever the batches', () => {
  let pool: Pool;
  let store: PostgresEventStore;
  let keyRing: KeyRing;

  useTestStore(
    (t) => {
      ({ pool, store } = t);
      keyRing = new KeyRing(pool, randomBytes(32));
    },
    { perFile: true },
  );

  const USERS = ['u1', 'u2', 'u3', 'u4', 'u5', 'u6'];
  const GROUPS = ['ga', 'gb'];
  /** Their keys are destroyed before the read models are built. */
  const ERASED = new Set(['u5']);

  async function makeLog(next: () => number): Promise<number> {
    const pick = <T>(list: readonly T[]): T => list[Math.floor(next() * list.length)];
    const seqnos = new Map<string, number>();
    const sent: { msgKey: string; conversationId: string; sender: string; seqno: number }[] = [];
    let msgKey = 9_000_000_000_000n;
    let clock = 1_800_000_000_000_000;
    // Times repeat now and then, and cross a day.
    const tick = () => (clock += pick([0, 1, 7, 3_600_000_000, 20_000_000_000]));
    let written = 0;
    const write = async (stream: string, type: string, data: unknown) => {
      const event: EventData = {
        id: randomUUID(),
        type,
        data,
        metadata: { actor: { kind: 'system', id: 'test' }, correlationId: randomUUID() },
      };
      await store.append(stream, [event], 'any');
      written++;
    };
    const message = async (sender: string, group: string | null, atUids: string[] | null) => {
      const receiver = group ?? pick(USERS.filter((u) => u !== sender));
      const conversationId = group
        ? groupConversationId(group)
        : privateConversationId(sender, receiver);
      const seqno = (seqnos.get(conversationId) ?? 0) + 1;
      seqnos.set(conversationId, seqno);
      // Now and then with the characters COPY's text format escapes.
      const plain = `hello ${seqno} from ${sender} 😀${seqno % 4 === 0 ? ' tab\there\nline \\N\r"' : ''}`;
      const content =
        next() < 0.8 || ERASED.has(sender) ? await keyRing.encryptFor(sender, plain) : plain;
      const data = {
        senderUid: sender,
        receiverType: group ? 2 : 1,
        receiverId: receiver,
        msgType: pick([1, 2, 7]),
        content,
        atUids,
        msgSource: pick([0, 5]),
        newFaceVersion: pick([0, 1]),
        devId: randomUUID(),
        ...(next() < 0.1 ? { notifyCode: '1_2' } : {}),
        conversationId,
        seqno,
        msgKey: (msgKey++).toString(),
        sentAtUs: tick(),
      };
      await write(`conversation-${conversationId}`, MESSAGE_SENT, data);
      sent.push({ msgKey: data.msgKey, conversationId, sender, seqno });
      // The same message again (a retry that reached the log twice): the first one stands.
      if (next() < 0.02) await write(`conversation-${conversationId}`, MESSAGE_SENT, data);
    };

    for (let i = 0; i < 700; i++) {
      const r = next();
      const owner = pick(USERS);
      if (r < 0.45) {
        await message(owner, null, null);
      } else if (r < 0.6) {
        const mentions =
          next() < 0.5
            ? null
            : [pick(USERS), pick(USERS), owner, AT_ALL, 'odd "u\\\t"'].slice(0, 1 + (i % 5));
        await message(owner, pick(GROUPS), mentions);
      } else if (r < 0.67 && sent.length > 0) {
        const target = pick(sent);
        const group = target.conversationId.startsWith(groupConversationId(''));
        const recall = async (system: boolean) => {
          const seqno = (seqnos.get(target.conversationId) ?? 0) + 1;
          seqnos.set(target.conversationId, seqno);
          await write(`conversation-${target.conversationId}`, MESSAGE_RECALLED, {
            conversationId: target.conversationId,
            senderUid: target.sender,
            receiverType: group ? 2 : 1,
            receiverId: group
              ? target.conversationId.slice(groupConversationId('').length)
              : (target.conversationId.split('~').find((u) => u !== target.sender) ??
                target.sender),
            targetMsgKey: target.msgKey,
            targetSeqno: target.seqno,
            system,
            seqno,
            msgKey: (msgKey++).toString(),
            sentAtUs: tick(),
            devId: randomUUID(),
            msgSource: 0,
          });
        };
        // Now and then recalled twice in a row, by the system first: the higher status stands.
        const twice = next() < 0.4;
        await recall(twice || next() < 0.3);
        if (twice) await recall(false);
      } else if (r < 0.8) {
        const acks = Array.from({ length: 1 + Math.floor(next() * 3) }, () => {
          const group = next() < 0.3;
          return {
            sessionType: group ? 2 : 1,
            talkerId: group ? pick(GROUPS) : pick(USERS),
            ackSeqno: Math.floor(next() * 12),
          };
        });
        await write(`sessions-${owner}`, SESSION_ACKED, { ownerUid: owner, acks, atUs: tick() });
      } else if (r < 0.85) {
        const sessions = [
          { sessionType: 1, talkerId: pick(USERS), uptoSeqno: Math.floor(next() * 8) },
        ];
        await write(`sessions-${owner}`, SESSIONS_REMOVED, {
          ownerUid: owner,
          sessions,
          atUs: tick(),
        });
      } else if (r < 0.97) {
        const group = next() < 0.3;
        const ref = {
          ownerUid: owner,
          sessionType: group ? 2 : 1,
          talkerId: group ? pick(GROUPS) : pick(USERS),
        };
        const kind = pick([SESSION_TOP_SET, SESSION_DND_SET, SESSION_TRUST_SET]);
        const value =
          kind === SESSION_TOP_SET
            ? { topTs: pick<number | null | undefined>([0, tick(), tick(), null, undefined]) }
            : kind === SESSION_DND_SET
              ? { dnd: pick<boolean | null | undefined>([true, false, null, undefined]) }
              : { trusted: pick<boolean | undefined>([true, false, undefined]) };
        await write(`sessions-${owner}`, kind, { ...ref, ...value });
      } else {
        // An erasure amid a user's messages: its plain ones before it are emptied, not after.
        const uid = pick(['u2', 'u3']);
        await write(`user-${uid}`, USER_ERASED, { uid });
      }
    }
    return written;
  }

  async function rows(): Promise<Record<string, string[]>> {
    const dump = async (table: string, order: string) =>
      (
        await pool.query<{ r: string }>(
          `SELECT to_jsonb(t)::text AS r FROM ${table} t ORDER BY ${order}`,
        )
      ).rows.map((x) => x.r);
    return {
      rm_messages: await dump('rm_messages', 'conversation_id, msg_seqno'),
      rm_sessions: await dump('rm_sessions', 'owner_uid, session_type, talker_id'),
      rm_daily_sends: await dump('rm_daily_sends', 'uid, day'),
    };
  }

  /** Applies the log in batches of `size`; returns the statements sent, by their first word. */
  async function applyInBatches(projectors: Projector[], events: RecordedEvent[], size: number) {
    const sent = new Map<string, number>();
    for (let i = 0; i < events.length; i += size) {
      const batch = events.slice(i, i + size);
      await inTransaction(pool, async (tx) => {
        const query = tx.query.bind(tx) as (q: unknown, ...rest: unknown[]) => unknown;
        const counting = Object.create(tx) as PoolClient;
        counting.query = ((q: unknown, ...rest: unknown[]) => {
          const text = typeof q === 'string' ? q : (q as { text: string }).text;
          const verb = text.trim().split(/\s+/)[0].toUpperCase();
          sent.set(verb, (sent.get(verb) ?? 0) + 1);
          return query(q, ...rest);
        }) as PoolClient['query'];
        for (const p of projectors) {
          const relevant = batch.filter((e) => p.eventTypes.has(e.type));
          if (relevant.length > 0) await p.apply(relevant, counting);
        }
      });
    }
    return sent;
  }

  it('writes the same messages, sessions and daily sends in batches of 7, of 11 and in one, by INSERT and by COPY', async () => {
    const written = await makeLog(seeded(20261207));
    for (const uid of ERASED) await keyRing.destroyKey(uid);
    const events = await store.readAll({ limit: 10_000 });
    expect(events).toHaveLength(written);
    const truncate = () => pool.query('TRUNCATE rm_messages, rm_sessions, rm_daily_sends');

    const sessionsProjector = new SessionsProjector();
    const byInsert = [new MessagesProjector(keyRing, Infinity), sessionsProjector];
    // Every write of messages by COPY where it can (a duplicate message makes it give way).
    const byCopy = [new MessagesProjector(keyRing, 1), sessionsProjector];

    expect((await applyInBatches(byInsert, events, 7)).get('COPY')).toBeUndefined();
    const live = await rows();
    await truncate();
    const copied = await applyInBatches(byCopy, events, 11);
    const elevens = await rows();
    await truncate();
    // One batch for the whole log: every fold at its widest.
    await applyInBatches(byCopy, events, events.length);
    const wide = await rows();
    // Some batches went by COPY, and some gave way to the INSERT (a duplicate message).
    expect(copied.get('COPY')).toBeGreaterThan(10);
    expect(copied.get('ROLLBACK')).toBeGreaterThan(0);

    for (const table of Object.keys(live)) {
      for (const [name, other] of [
        ['batches of 11', elevens],
        ['one batch', wide],
      ] as const) {
        const a = live[table];
        const b = other[table];
        for (let i = 0; i < Math.max(a.length, b.length); i++) {
          if (a[i] !== b[i]) {
            throw new Error(
              `${table} row ${i} differs (${name})\n  batches of 7: ${a[i]}\n  ${name}: ${b[i]}`,
            );
          }
        }
      }
    }
    // The log reached the cases that order decides.
    const messages = live.rm_messages.map((r) => JSON.parse(r) as Record<string, unknown>);
    const sessions = live.rm_sessions.map((r) => JSON.parse(r) as Record<string, unknown>);
    expect(messages.some((m) => m.erased === true && m.sender_uid === 'u5')).toBe(true);
    expect(messages.some((m) => m.erased === true && m.sender_uid !== 'u5')).toBe(true);
    expect(
      messages.some(
        (m) =>
          m.erased === false &&
          ['u2', 'u3'].includes(m.sender_uid as string) &&
          !String(m.content).startsWith('e1.') &&
          m.content !== '',
      ),
    ).toBe(true);
    expect(messages.some((m) => m.msg_status === 2)).toBe(true);
    expect(messages.some((m) => m.msg_status === 1)).toBe(true);
    expect(messages.some((m) => Array.isArray(m.at_uids))).toBe(true);
    expect(messages.some((m) => (m.content as string).includes('😀'))).toBe(true);
    expect(messages.some((m) => /\t.*\n.*\\N\r/s.test(m.content as string))).toBe(true);
    expect(messages.some((m) => (m.at_uids as string[] | null)?.includes('odd "u\\\t"'))).toBe(
      true,
    );
    expect(sessions.some((s) => Number(s.top_ts) > 0)).toBe(true);
    expect(sessions.some((s) => s.is_dnd === 1)).toBe(true);
    expect(sessions.some((s) => s.is_trust === 1)).toBe(true);
    expect(sessions.some((s) => Number(s.at_seqno) > 0 && s.session_type === 2)).toBe(true);
    expect(sessions.some((s) => Number(s.hidden_upto_seqno) > 0)).toBe(true);
    expect(sessions.some((s) => Number(s.max_seqno) === 0)).toBe(true);
    expect(live.rm_daily_sends.length).toBeGreaterThan(USERS.length);
  });
});
