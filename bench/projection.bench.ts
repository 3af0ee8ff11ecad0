/**
 * Projection catch-up: rebuild every read model from position zero over 200,000 message events.
 *   npm run bench:projection
 * The log is filled through the real event store (MessageSent events over 2,000 one-to-one
 * conversations among 1,000 users, content sealed with each sender's data key), then the
 * projections are reset and timed until their checkpoints reach the head.
 */
import { randomUUID } from 'node:crypto';
import { allProjectors } from '../projections';
import { ProjectionRunner, resetProjection } from '../projections/projection-runner';
import { comparePositions, EventData, START } from '../src/event-store/event-store.port';
import { PostgresEventStore } from '../src/event-store/postgres/postgres-event-store';
import { KeyRing } from '../src/crypto/key-ring';
import { conversationStream, privateConversationId } from '../src/messaging/domain/conversation';
import { MESSAGE_SENT, MessageSentData } from '../src/messaging/messaging.events';
import { benchDatabase, report } from './support';

const EVENTS = Number(process.env.EVENTS ?? 200_000);
const CONVERSATIONS = 2000;
const USERS = 1000;

async function fill(store: PostgresEventStore, keyRing: KeyRing): Promise<void> {
  const perConversation = Math.ceil(EVENTS / CONVERSATIONS);
  let key = 1_000_000_000_000n;
  let ts = 1_800_000_000_000_000;
  const appends: Promise<unknown>[] = [];
  for (let c = 0; c < CONVERSATIONS; c++) {
    const a = `user${c % USERS}`;
    const b = `user${(c + 1 + Math.floor(c / USERS)) % USERS}`;
    if (a === b) continue;
    const conversationId = privateConversationId(a, b);
    const events: EventData<MessageSentData>[] = [];
    for (let s = 1; s <= perConversation; s++) {
      const from = s % 3 === 0 ? b : a;
      events.push({
        id: randomUUID(),
        type: MESSAGE_SENT,
        data: {
          conversationId,
          seqno: s,
          msgKey: String(key++),
          senderUid: from,
          receiverType: 1,
          receiverId: from === a ? b : a,
          msgType: 1,
          // Sealed with the sender's data key, as the send path writes it.
          content: await keyRing.encryptFor(
            from,
            JSON.stringify({ content: `message ${s} of an ordinary length, with some words` }),
          ),
          atUids: null,
          msgSource: 7,
          newFaceVersion: 1,
          devId: randomUUID(),
          sentAtUs: ts++,
        },
        metadata: { actor: { kind: 'user', id: from }, correlationId: randomUUID() },
      });
    }
    appends.push(store.append(conversationStream(conversationId), events, 'any'));
    if (appends.length >= 16) await Promise.all(appends.splice(0));
  }
  await Promise.all(appends);
}

async function main(): Promise<void> {
  const db = await benchDatabase(16);
  const store = new PostgresEventStore(db.pool);
  try {
    let t0 = performance.now();
    const keyRing = new KeyRing(db.pool, Buffer.alloc(32, 7));
    await fill(store, keyRing);
    const { rows } = await db.pool.query<{ n: string }>('SELECT count(*) AS n FROM es_events');
    const total = Number(rows[0].n);
    report('fill the log (appends of 100 events)', total, performance.now() - t0, 'events');

    // A fresh key ring: the rebuild loads every data key as a real restart would.
    const projectors = allProjectors(new KeyRing(db.pool, Buffer.alloc(32, 7)));
    for (const p of projectors) await resetProjection(db.pool, p);
    const head = (await store.headPosition()) ?? START;
    const runner = new ProjectionRunner(store, db.pool, projectors, {
      batchSize: Number(process.env.BATCH ?? 2000),
    });
    t0 = performance.now();
    runner.start();
    await runner.waitFor(head);
    const ms = performance.now() - t0;
    await runner.stop();
    report(`rebuild ${projectors.map((p) => p.name).join(' + ')}`, total, ms, 'events');
    for (const s of runner.status()) {
      if (comparePositions(s.position, head) < 0)
        throw new Error(`${s.name} did not reach the head`);
    }
    const counts = await db.pool.query<{ m: string; s: string }>(
      'SELECT (SELECT count(*) FROM rm_messages) AS m, (SELECT count(*) FROM rm_sessions) AS s',
    );
    process.stdout.write(
      `read models: ${counts.rows[0].m} messages, ${counts.rows[0].s} sessions\n`,
    );
  } finally {
    await store.close();
    await db.close();
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`${String(err)}\n`);
  process.exit(1);
});
