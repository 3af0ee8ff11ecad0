import type { PoolClient } from 'pg';
import { from as copyFrom } from 'pg-copy-streams';
import { prepareValue } from './array-param';

/** Characters COPY's text format escapes: its escape, its field and its row separators. */
const SPECIAL = /[\\\t\n\r]/g;
const NEEDS_ESCAPE = /[\\\t\n\r]/;
const ESCAPED: Readonly<Record<string, string>> = {
  '\\': '\\\\',
  '\t': '\\t',
  '\n': '\\n',
  '\r': '\\r',
};

/**
 * `value` as a field of COPY's text format: the text the pg driver would send for it as a query
 * parameter (so PostgreSQL reads the same value either way), escaped; null and undefined are
 * NULL (`\N`), a Buffer bytea's hex form.
 */
export function copyField(value: unknown): string {
  if (value === null || value === undefined) return '\\N';
  // The common cases first, without a replacement (a bulk load writes millions of fields).
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  if (typeof value === 'string' && !NEEDS_ESCAPE.test(value)) return value;
  const prepared =
    typeof value === 'string'
      ? value
      : typeof value === 'bigint'
        ? String(value)
        : (prepareValue(value) as string | Buffer | null);
  if (prepared === null) return '\\N';
  // A Buffer (the driver sends it as binary): bytea's hex form.
  const text = typeof prepared === 'string' ? prepared : `\\x${prepared.toString('hex')}`;
  return text.replace(SPECIAL, (c) => ESCAPED[c]);
}

/** Rows (one array of values per row, in the columns' order) as COPY's text format. */
export function copyText(rows: readonly (readonly unknown[])[]): string {
  let out = '';
  for (const row of rows) {
    for (let i = 0; i < row.length; i++)
      out += i === 0 ? copyField(row[i]) : `\t${copyField(row[i])}`;
    out += '\n';
  }
  return out;
}

const UNIQUE_VIOLATION = '23505';

/**
 * Writes `rows` into `table` with `COPY … FROM STDIN`, inside a savepoint of the transaction `tx`
 * holds, and returns true; or, when a row collides with a unique index, writes nothing and
 * returns false (the caller then writes them its own way, say `INSERT … ON CONFLICT DO NOTHING`).
 * Any other error is thrown. For bulk writes: PostgreSQL reads COPY's text for about half the CPU
 * of the same rows as parameter arrays of an `INSERT … SELECT FROM unnest(…)` (bench/README.md),
 * at three round trips more (the savepoint, the copy's start, the release). Each COPY that writes
 * is a subtransaction with an id of its own: keep them few per transaction (PostgreSQL keeps 64
 * per transaction in shared memory before other sessions' snapshots get dearer).
 */
export async function copyUnlessDuplicate(
  tx: PoolClient,
  table: string,
  columns: readonly string[],
  rows: readonly (readonly unknown[])[],
): Promise<boolean> {
  await tx.query('SAVEPOINT copy_rows');
  try {
    await new Promise<void>((resolve, reject) => {
      const stream = tx.query(copyFrom(`COPY ${table} (${columns.join(', ')}) FROM STDIN`));
      stream.on('finish', resolve);
      stream.on('error', reject);
      stream.end(copyText(rows));
    });
  } catch (err) {
    if ((err as { code?: string }).code !== UNIQUE_VIOLATION) throw err;
    await tx.query('ROLLBACK TO SAVEPOINT copy_rows; RELEASE SAVEPOINT copy_rows');
    return false;
  }
  // Released, so that what follows in the transaction (another COPY, say) does not run one
  // subtransaction deeper each time.
  await tx.query('RELEASE SAVEPOINT copy_rows');
  return true;
}
