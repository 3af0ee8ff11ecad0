/**
 * Sending into a conversation that already holds 1,000,000 messages against sending into new
 * conversations, through the conversation aggregate's write path.
 *   npm run bench:long-conversation        (MESSAGES=1000000 SENDS=2000 COLD=20)
 * 1. Fills one conversation stream (alice~bob) with MESSAGES `MessageSent` events, appends of
 *    1,000 at their expected revision, every content sealed with the sender's data key (KeyRing),
 *    as the send path writes it.
 * 2. COLD sends into it, each through a new ConversationStore (empty cache: the state is loaded
 *    from the stream's last 256 events), timed one by one; the first is also reported alone.
 * 3. SENDS sends one after another into it through one ConversationStore (warm cache: each send
 *    reads the events after the cached revision, decides, appends at the expected revision);
 *    as many into a conversation of 1,000 messages (alice~carol: the state's window of 256 recent
 *    messages is full, the stream is short); as many each into a new conversation (alice~freshN).
 *    The three take turns in 4 rounds.
 * Each send seals its content with the KeyRing as SendMessageHandler does; the receiver's relation
 * lookups, limits and HTTP are not part of this figure (bench:http-send has them).
 */
import { randomUUID } from 'node:crypto';
import { KeyRing } from '../src/crypto/key-ring';
import { EventData, EventMetadata } from '../src/event-store/event-store.port';
import { PostgresEventStore } from '../src/event-store/postgres/postgres-event-store';
import { ConversationStore } from '../src/messaging/conversation.store';
import {
  conversationDecider,
  conversationStream,
  privateConversationId,
} from '../src/messaging/domain/conversation';
import { MESSAGE_SENT, MessageSentData } from '../src/messaging/messaging.events';
import { CpuMeter } from './cpu';
import { explain, latency, printLatency } from './measure';
import { benchDatabase, report } from './support';

const MESSAGES = Number(process.env.MESSAGES ?? 1_000_000);
const SENDS = Number(process.env.SENDS ?? 2000);
const COLD = Number(process.env.COLD ?? 20);
const BATCH = 1000;

const A = 'alice';
const B = 'bob';
const C = 'carol';
/** A conversation long enough to fill the state's window (256) and no longer. */
const SHORT = 1000;
const ROUNDS = 4;
const LONG = privateConversationId(A, B);

let nextKey = 1_000_000_000_000n;
let nextUs = 1_800_000_000_000_000;
const msgKey = () => String(nextKey++);
const nowUs = () => nextUs++;
const metadata = (uid: string): EventMetadata => ({
  actor: { kind: 'user', id: uid },
  correlationId: randomUUID(),
});
const text = (i: number) =>
  JSON.stringify({ content: `message ${i} of an ordinary length, with some words in it` });

async function fill(
  store: PostgresEventStore,
  keyRing: KeyRing,
  a: string,
  b: string,
  count: number,
): Promise<void> {
  const conversationId = privateConversationId(a, b);
  let revision: number | 'no_stream' = 'no_stream';
  for (let from = 1; from <= count; from += BATCH) {
    const events: EventData<MessageSentData>[] = [];
    for (let seqno = from; seqno < from + BATCH && seqno <= count; seqno++) {
      const sender = seqno % 2 ? a : b;
      events.push({
        id: randomUUID(),
        type: MESSAGE_SENT,
        data: {
          conversationId,
          seqno,
          msgKey: msgKey(),
          senderUid: sender,
          receiverType: 1,
          receiverId: sender === a ? b : a,
          msgType: 1,
          content: await keyRing.encryptFor(sender, text(seqno)),
          atUids: null,
          msgSource: 7,
          newFaceVersion: 1,
          devId: randomUUID(),
          sentAtUs: nowUs(),
        },
        metadata: metadata(sender),
      });
    }
    revision = (await store.append(conversationStream(conversationId), events, revision))
      .nextExpectedRevision;
  }
}

/** One send as SendMessageHandler makes it: content sealed, then the conversation decides. */
async function send(
  conversations: ConversationStore,
  keyRing: KeyRing,
  sender: string,
  receiver: string,
  i: number,
): Promise<number> {
  const t0 = performance.now();
  const content = await keyRing.encryptFor(sender, text(i));
  const { result } = await conversations.execute(
    {
      kind: 'SendMessage',
      conversationId: privateConversationId(sender, receiver),
      senderUid: sender,
      receiverType: 1,
      receiverId: receiver,
      msgType: 1,
      content,
      atUids: null,
      msgSource: 7,
      newFaceVersion: 1,
      devId: randomUUID(),
      msgKey: msgKey(),
      nowUs: nowUs(),
      receiverFollowsSender: false,
      system: false,
    },
    metadata(sender),
  );
  if (result.duplicate) throw new Error('a new dev_id was taken for a retry');
  return performance.now() - t0;
}

async function main(): Promise<void> {
  const db = await benchDatabase(16);
  const store = new PostgresEventStore(db.pool);
  const keyRing = new KeyRing(db.pool, Buffer.alloc(32, 7));
  try {
    let t0 = performance.now();
    await fill(store, keyRing, A, B, MESSAGES);
    await fill(store, keyRing, A, C, SHORT);
    report(
      `fill alice~bob, alice~carol (appends of ${BATCH}, sealed)`,
      MESSAGES + SHORT,
      performance.now() - t0,
      'events',
    );
    await db.pool.query('VACUUM ANALYZE es_events');
    await db.pool.query('VACUUM ANALYZE es_streams');

    // Cold: a new aggregate cache each time, as after a restart or an eviction.
    const cold: number[] = [];
    for (let i = 0; i < COLD; i++) {
      const fresh = new ConversationStore(store);
      cold.push(await send(fresh, keyRing, i % 2 ? A : B, i % 2 ? B : A, i));
    }
    process.stdout.write(
      `first send into the ${MESSAGES.toLocaleString('en-US')}-message conversation, cold cache: ${cold[0].toFixed(2)} ms\n`,
    );
    printLatency(`cold-cache sends into it (new cache each)`, latency(cold));
    // Where a cold send's time goes: reading the stream's tail, and folding it into the state.
    const reads: number[] = [];
    const folds: number[] = [];
    for (let i = 0; i < COLD; i++) {
      let t = performance.now();
      const tail = await store.readStream(conversationStream(LONG), {
        direction: 'backwards',
        limit: conversationDecider.tailWindow,
      });
      reads.push(performance.now() - t);
      t = performance.now();
      tail
        .reverse()
        .reduce((st, e) => conversationDecider.evolve(st, e), conversationDecider.initialState());
      folds.push(performance.now() - t);
    }
    printLatency(
      `  of which: read the last ${conversationDecider.tailWindow} events`,
      latency(reads),
    );
    printLatency(`  of which: fold them into the state (evolve)`, latency(folds));

    // Warm: one cache for all. The three kinds take turns, ROUNDS times SENDS / ROUNDS each, so
    // a slower moment of the machine does not fall on one kind only. Sends alternate between the
    // two users (both have written lately: the one-message-before-a-reply rule does not apply).
    const conversations = new ConversationStore(store);
    await send(conversations, keyRing, A, B, 0); // loads the states once
    await send(conversations, keyRing, A, C, 0);
    const kinds = [
      {
        name: `sends into the ${MESSAGES.toLocaleString('en-US')}-message conversation`,
        to: (i: number): [string, string] => (i % 2 ? [A, B] : [B, A]),
      },
      {
        name: `sends into a ${SHORT.toLocaleString('en-US')}-message conversation`,
        to: (i: number): [string, string] => (i % 2 ? [A, C] : [C, A]),
      },
      {
        name: 'sends, each into a new conversation',
        to: (i: number): [string, string] => [A, `fresh${i}`],
      },
    ].map((k) => ({ ...k, times: [] as number[], ms: 0 }));
    const cpu = new CpuMeter({});
    cpu.start();
    const per = Math.ceil(SENDS / ROUNDS);
    for (let r = 0; r < ROUNDS; r++) {
      for (const k of kinds) {
        t0 = performance.now();
        for (let i = r * per; i < (r + 1) * per; i++)
          k.times.push(await send(conversations, keyRing, ...k.to(i), i));
        k.ms += performance.now() - t0;
      }
    }
    const rates = kinds.map((k) => {
      const rate = report(k.name, k.times.length, k.ms, 'sends');
      printLatency('  per send', latency(k.times));
      return rate;
    });
    process.stdout.write(
      `long-conversation / new-conversation rate ratio: ${(rates[0] / rates[2]).toFixed(2)}` +
        `  (long / ${SHORT.toLocaleString('en-US')}-message: ${(rates[0] / rates[1]).toFixed(2)})\n${cpu.stop()}\n`,
    );

    if (process.env.EXPLAIN) {
      const stream = conversationStream(LONG);
      const { rows } = await db.pool.query<{ revision: string }>(
        'SELECT revision FROM es_streams WHERE stream_id = $1',
        [stream],
      );
      const head = Number(rows[0].revision);
      const read = (dir: 'ASC' | 'DESC', op: string) =>
        `SELECT global_position, transaction_id, stream_id, revision, event_id, type, data,
                metadata, created_at
           FROM es_events WHERE stream_id = $1 AND revision ${op} $2
          ORDER BY revision ${dir} LIMIT $3`;
      process.stdout.write(
        `\nload, cold (last 256 events):\n${await explain(db.pool, read('DESC', '<='), [stream, Number.MAX_SAFE_INTEGER, 256])}\n`,
      );
      process.stdout.write(
        `\nload, warm (events after the cached revision):\n${await explain(db.pool, read('ASC', '>='), [stream, head + 1, 2 ** 31 - 1])}\n`,
      );
    }
  } finally {
    await store.close();
    await db.close();
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`${err instanceof Error ? err.stack : String(err)}\n`);
  process.exit(1);
});
