import { randomUUID } from 'node:crypto';
import type { Pool } from 'pg';
import type { RecordedEvent } from '../src/event-store/event-store.port';
import { FOLLOWED, RelationChangedData, UNFOLLOWED } from '../src/relations/relations.events';
import { createTestDatabase, createTestPool, TestDatabase } from '../test/support/database';
import { RelationsProjector } from './relations.projector';

let position = 0n;
function relationEvent(type: string, oplogSeqno: number, atUs: number): RecordedEvent {
  const data: RelationChangedData = { uid: 'ann', targetUid: 'ben', oplogSeqno, atUs };
  position += 1n;
  return {
    id: randomUUID(),
    type,
    data,
    metadata: { actor: { kind: 'user', id: 'ann' }, correlationId: 'c' },
    streamId: 'user-ann',
    revision: oplogSeqno,
    position: { commit: position, prepare: position },
    createdAt: new Date(0),
  };
}

describe('relations projector', () => {
  let db: TestDatabase;
  let pool: Pool;

  beforeEach(async () => {
    db = await createTestDatabase();
    pool = createTestPool(db.url, 4);
  });
  afterEach(async () => {
    await pool.end();
    await db.drop();
  });

  async function project(batches: RecordedEvent[][]) {
    await pool.query('TRUNCATE rm_relations, rm_relation_oplog');
    const projector = new RelationsProjector();
    for (const batch of batches) {
      const client = await pool.connect();
      try {
        await client.query('BEGIN');
        await projector.apply(batch, client);
        await client.query('COMMIT');
      } finally {
        client.release();
      }
    }
    return (await pool.query<Record<string, unknown>>('SELECT * FROM rm_relations')).rows;
  }

  it('gives a follow that was undone and redone the same row whatever the batch cuts', async () => {
    // Given follow, unfollow and follow again
    const events = [
      relationEvent(FOLLOWED, 1, 100),
      relationEvent(UNFOLLOWED, 2, 200),
      relationEvent(FOLLOWED, 3, 300),
    ];
    // When they are projected in one batch, and cut after the unfollow
    const whole = await project([events]);
    const cut = await project([events.slice(0, 2), events.slice(2)]);
    const cutEarly = await project([events.slice(0, 1), events.slice(1)]);
    // Then the follow holds from the last Followed, in every case
    expect(whole).toEqual([{ owner_uid: 'ann', kind: 1, target_uid: 'ben', since_us: '300' }]);
    expect(cut).toEqual(whole);
    expect(cutEarly).toEqual(whole);
  });
});
