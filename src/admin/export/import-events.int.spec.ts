import { randomUUID } from 'node:crypto';
import type { Pool } from 'pg';
import { useTestStore } from '../../../test/support/test-store';
import { PostgresEventStore } from '../../event-store/postgres/postgres-event-store';
import { ImportAppendError, importEvents, validateExport } from './import-events';
import { EXPORT_FORMAT, EXPORT_VERSION } from './ndjson-format';

/**
 * The import's appends into the PostgreSQL log: a page of an export's runs goes in one
 * transaction, and an append that fails is still told by its line, with exactly the events
 * before it imported.
 */
describe('import into the PostgreSQL log', () => {
  let pool: Pool;
  let store: PostgresEventStore;

  useTestStore((t) => ({ pool, store } = t));

  /** An export of `n` events over three interleaved streams (runs of one event). */
  function exportOf(n: number, idOf: (i: number) => string = () => randomUUID()): string[] {
    const revisions = new Map<string, number>();
    const lines = [JSON.stringify({ format: EXPORT_FORMAT, version: EXPORT_VERSION })];
    for (let i = 0; i < n; i++) {
      const stream = `s-${i % 3}`;
      const revision = revisions.get(stream) ?? 0;
      revisions.set(stream, revision + 1);
      lines.push(
        JSON.stringify({
          position: `${i + 1}/${i + 1}`,
          id: idOf(i),
          stream,
          revision,
          type: 'Noted',
          created_at: new Date(Date.UTC(2026, 0, 1, 0, 0, i)).toISOString(),
          metadata: { actor: { kind: 'system', id: 'test' }, correlationId: `c${i}` },
          data: { i },
        }),
      );
    }
    lines.push(JSON.stringify({ summary: { events: n } }));
    return lines;
  }

  async function* each(lines: readonly string[]): AsyncIterable<string> {
    yield* lines;
  }

  const transactions = async () =>
    (await pool.query<{ n: string }>('SELECT count(DISTINCT transaction_id) AS n FROM es_events'))
      .rows[0].n;

  it('appends a page of interleaved runs in one transaction, in file order, with their times', async () => {
    const lines = exportOf(30);
    const validated = await validateExport(each(lines));
    const result = await importEvents(store, each(lines), validated, { batchSize: 10 });
    expect(result).toMatchObject({ status: 'completed', imported: 30 });
    // Three pages of ten events (runs of one), three transactions
    expect(await transactions()).toBe('3');
    const all = await store.readAll({ limit: 100 });
    expect(all.map((e) => (e.data as { i: number }).i)).toEqual([...Array(30).keys()]);
    expect(all[29].createdAt.toISOString()).toBe('2026-01-01T00:00:29.000Z');
  });

  it('tells the line of an append that fails, the events before it imported, none after', async () => {
    // Given an export whose 8th event (stream s-1) reuses the id of its 1st (s-0): line 9
    const ids = Array.from({ length: 20 }, () => randomUUID());
    ids[7] = ids[0];
    const lines = exportOf(20, (i) => ids[i]);
    const validated = await validateExport(each(lines));
    // When it is imported in pages of ten
    const failed = await importEvents(store, each(lines), validated, { batchSize: 10 }).catch(
      (err: unknown) => err,
    );
    // Then the import stops at that line, with the seven events before it imported
    expect(failed).toBeInstanceOf(ImportAppendError);
    expect(failed).toMatchObject({ line: 9, imported: 7 });
    expect((failed as Error).message).toMatch(/already belong to another stream/);
    const all = await store.readAll({ limit: 100 });
    expect(all.map((e) => (e.data as { i: number }).i)).toEqual([0, 1, 2, 3, 4, 5, 6]);
  });
});
