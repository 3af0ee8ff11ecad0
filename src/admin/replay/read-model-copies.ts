import { createHash } from 'node:crypto';
import type { Pool, PoolClient } from 'pg';
import { quoteIdent, quoteLiteral } from '../../../projections/projection-runner';
import { inTransaction } from '../../database/with-client';
import type { EventStore } from '../../event-store/event-store.port';

/**
 * Copies of the read models in schemas of their own, beside the live ones in `public`: a
 * rebuild's shadow (`rebuild_<hash of its projections>`), a verify's (`verify_<id>`), a
 * time-travel snapshot (`asof_<id>`). Each holds empty copies of the chosen projectors' tables
 * (same columns, defaults, checks, constraints and index names as the live ones) and its own
 * `projection_checkpoints`, so a ProjectionRunner given the schema builds it exactly as it
 * builds the live read models, and resumes after an interruption. What a copy is, is written on
 * the schema itself (COMMENT ON SCHEMA, JSON), so a copy and its description live and die together.
 */

export type CopyKind = 'rebuild' | 'verify' | 'asof';

export interface CopyMeta {
  readonly kind: CopyKind;
  readonly projections: readonly string[];
  readonly store: EventStore['adapter'];
  /** The live tables' definitions it copies: a copy of other definitions is not resumed. */
  readonly fingerprint: string;
  readonly createdAt: string;
  /** Time travel: the point of the log it shows. */
  readonly target?: { readonly at?: string; readonly position: string };
  /**
   * Time travel: `building` until its indexes and views exist; `dropping` once its drop has
   * begun (no read is let through from then on, while its tables go one by one).
   */
  readonly state?: 'building' | 'ready' | 'dropping';
  readonly readyAt?: string;
  /** Time travel: events the snapshot was built from. */
  readonly events?: number;
}

export interface Copy {
  readonly schema: string;
  readonly meta: CopyMeta | null;
}

type Db = Pick<Pool, 'query'> | PoolClient;

/** An index of a live table, as `pg_get_indexdef` gives it with `public` on the search path. */
interface LiveIndex {
  readonly table: string;
  readonly name: string;
  readonly unique: boolean;
  /** Set when the index backs a constraint (primary key, unique, exclusion). */
  readonly constraint: string | null;
  readonly constraintDef: string | null;
  readonly def: string;
}

/** A view of `public` over the given tables, in the order they can be created. */
export interface LiveView {
  readonly name: string;
  readonly def: string;
}

const PREFIX: Record<CopyKind, string> = { rebuild: 'rebuild_', verify: 'verify_', asof: 'asof_' };

export function copySchema(kind: CopyKind, id: string): string {
  return `${PREFIX[kind]}${id}`;
}

/** A rebuild of the same projections finds the same shadow, whoever started it and when. */
export function rebuildId(projections: readonly string[]): string {
  return createHash('sha256')
    .update([...projections].sort().join(','))
    .digest('hex')
    .slice(0, 12);
}

export async function readCopy(db: Db, schema: string): Promise<Copy | null> {
  const { rows } = await db.query<{ comment: string | null }>(
    `SELECT obj_description(oid, 'pg_namespace') AS comment FROM pg_namespace WHERE nspname = $1`,
    [schema],
  );
  return rows.length === 0 ? null : { schema, meta: parseMeta(rows[0].comment) };
}

export async function listCopies(db: Db, kind: CopyKind): Promise<Copy[]> {
  const { rows } = await db.query<{ nspname: string; comment: string | null }>(
    `SELECT nspname, obj_description(oid, 'pg_namespace') AS comment FROM pg_namespace
      WHERE starts_with(nspname, $1) ORDER BY nspname`,
    [PREFIX[kind]],
  );
  return rows.map((r) => ({ schema: r.nspname, meta: parseMeta(r.comment) }));
}

export async function writeMeta(db: Db, schema: string, meta: CopyMeta): Promise<void> {
  await db.query(
    `COMMENT ON SCHEMA ${quoteIdent(schema)} IS ${quoteLiteral(JSON.stringify(meta))}`,
  );
}

/**
 * Drops a copy: its views (those no other view reads first), then its tables, one per statement,
 * then the schema with whatever is left. A reader of the copy (an `?as_of=` request) locks a view
 * and then what it reads, or tables one after another; one `DROP SCHEMA … CASCADE` would lock them
 * all in its own order, and could hold one while waiting for another that reader holds: a
 * deadlock, which PostgreSQL breaks after deadlock_timeout (1 s) by failing one of the two.
 * Dropping one object holds nothing else while it waits. Each statement commits on its own
 * (`pool`, not a client in a transaction, which would hold every lock to the end).
 */
export async function dropCopy(pool: Pick<Pool, 'query'>, schema: string): Promise<void> {
  const s = quoteIdent(schema);
  for (;;) {
    const { rows: views } = await pool.query<{ relname: string; relkind: string }>(
      `SELECT c.relname, c.relkind FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE n.nspname = $1 AND c.relkind IN ('v', 'm')
          AND NOT EXISTS (
            SELECT 1 FROM pg_depend d JOIN pg_rewrite r ON r.oid = d.objid
             WHERE d.classid = 'pg_rewrite'::regclass AND d.refclassid = 'pg_class'::regclass
               AND d.refobjid = c.oid AND r.ev_class <> c.oid)
        ORDER BY c.relname`,
      [schema],
    );
    if (views.length === 0) break;
    for (const v of views) {
      const kind = v.relkind === 'm' ? 'MATERIALIZED VIEW' : 'VIEW';
      await pool.query(`DROP ${kind} IF EXISTS ${s}.${quoteIdent(v.relname)} CASCADE`);
    }
  }
  for (const table of await tablesIn(pool, schema)) {
    await pool.query(`DROP TABLE IF EXISTS ${s}.${quoteIdent(table)} CASCADE`);
  }
  await pool.query(`DROP SCHEMA IF EXISTS ${s} CASCADE`);
}

/** The tables of `schema`, by name. */
export async function tablesIn(db: Db, schema: string): Promise<string[]> {
  const { rows } = await db.query<{ relname: string }>(
    `SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
      WHERE n.nspname = $1 AND c.relkind IN ('r', 'p') ORDER BY c.relname`,
    [schema],
  );
  return rows.map((r) => r.relname);
}

/**
 * What the live tables look like (columns, types, defaults, indexes), hashed: a copy made from
 * other definitions (a migration ran since) is dropped rather than resumed.
 */
export async function liveFingerprint(pool: Pool, tables: readonly string[]): Promise<string> {
  return inPublic(pool, async (client) => {
    const { rows } = await client.query<{
      relname: string;
      columns: string;
      indexes: string;
      statistics: string;
    }>(
      `SELECT c.relname,
              (SELECT string_agg(a.attname || ' ' || format_type(a.atttypid, a.atttypmod)
                                 || CASE WHEN a.attnotnull THEN ' not null' ELSE '' END
                                 || COALESCE(' default ' || pg_get_expr(d.adbin, d.adrelid), ''),
                                 ', ' ORDER BY a.attnum)
                 FROM pg_attribute a
                 LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
                WHERE a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped) AS columns,
              (SELECT COALESCE(string_agg(pg_get_indexdef(i.indexrelid, 0, true), '; '
                                          ORDER BY pg_get_indexdef(i.indexrelid, 0, true)), '')
                 FROM pg_index i WHERE i.indrelid = c.oid) AS indexes,
              (SELECT COALESCE(string_agg(pg_get_statisticsobjdef(x.oid), '; '
                                          ORDER BY x.stxname), '')
                 FROM pg_statistic_ext x WHERE x.stxrelid = c.oid) AS statistics
         FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE n.nspname = 'public' AND c.relkind = 'r' AND c.relname = ANY($1::text[])`,
      [tables],
    );
    const missing = tables.filter((t) => !rows.some((r) => r.relname === t));
    if (missing.length > 0) {
      throw new Error(`the live read-model tables ${missing.join(', ')} do not exist in public`);
    }
    const hash = createHash('sha256');
    for (const t of [...tables, 'projection_checkpoints'].sort()) {
      const r = rows.find((x) => x.relname === t);
      hash.update(`${t}(${r?.columns ?? ''})[${r?.indexes ?? ''}]{${r?.statistics ?? ''}}\n`);
    }
    return hash.digest('hex').slice(0, 16);
  });
}

/**
 * Fill factor of the tables a bulk load upserts over and over (Projector.upserted) while it
 * loads. At the default (100) a page has no room for the new version of a row, so an update
 * moves it to another page: rm_sessions grew to 13 times its size over a rebuild of 1,000,000
 * events, and its upserts cost twice as much (bench/README.md, "Rebuild without downtime").
 */
export const BULK_LOAD_FILLFACTOR = 50;

export interface CopyOptions {
  /** Create every index now (default: unique ones only; the rest after the load). */
  readonly allIndexes?: boolean;
  /** The tables and the checkpoints are UNLOGGED until {@link makeCopyLogged}. */
  readonly unlogged?: boolean;
  /** Tables upserted over and over: BULK_LOAD_FILLFACTOR while loading. */
  readonly upserted?: readonly string[];
  /**
   * Tables whose primary key and unique constraints wait, with the other indexes, for
   * {@link createMissingIndexes} (Projector.keysAfterLoadFromLog).
   */
  readonly keysAfterLoad?: readonly string[];
}

/**
 * Creates a copy: the schema, its description, its own `projection_checkpoints`, and an empty
 * copy of each table with its constraints, unique indexes (the projectors' upserts and lookups
 * need them while loading), extended statistics (same names; {@link moveStatistics}) and storage
 * parameters, autovacuum off, and BULK_LOAD_FILLFACTOR for the `upserted` ones. Other indexes,
 * and the keys of the `keysAfterLoad` tables, wait for {@link createMissingIndexes}, after the
 * bulk load, unless `allIndexes`. One transaction: a copy exists whole or not at all.
 */
export async function createCopy(
  pool: Pool,
  schema: string,
  tables: readonly string[],
  meta: CopyMeta,
  { allIndexes = false, unlogged = false, upserted = [], keysAfterLoad = [] }: CopyOptions = {},
): Promise<void> {
  await inPublic(pool, async (client) => {
    const s = quoteIdent(schema);
    const table = unlogged ? 'UNLOGGED TABLE' : 'TABLE';
    await client.query(`CREATE SCHEMA ${s}`);
    await writeMeta(client, schema, meta);
    await client.query(
      `CREATE ${table} ${s}.projection_checkpoints
         (LIKE public.projection_checkpoints INCLUDING ALL)`,
    );
    const options = await storageOptionsOf(client, 'public', tables);
    for (const t of tables) {
      await client.query(
        `CREATE ${table} ${s}.${quoteIdent(t)} (LIKE public.${quoteIdent(t)}
           INCLUDING DEFAULTS INCLUDING CONSTRAINTS INCLUDING GENERATED INCLUDING IDENTITY
           INCLUDING STORAGE INCLUDING COMMENTS INCLUDING COMPRESSION)`,
      );
      // The live table's storage parameters (handed back at a swap), and no autovacuum while
      // the copy is built: a vacuum of freshly loaded rows would hold a lock the swap needs (the
      // copy is analyzed when loaded; the swap gives autovacuum back).
      const roomy = upserted.includes(t);
      const own = (options.get(t) ?? []).filter(
        (o) => !/^(toast\.)?autovacuum_enabled=/.test(o) && !(roomy && /^fillfactor=/.test(o)),
      );
      const load = [
        ...(roomy ? [`fillfactor = ${BULK_LOAD_FILLFACTOR}`] : []),
        'autovacuum_enabled = false',
        'toast.autovacuum_enabled = false',
      ];
      await client.query(`ALTER TABLE ${s}.${quoteIdent(t)} SET (${[...own, ...load].join(', ')})`);
    }
    const indexes = await liveIndexes(client, tables);
    await client.query(`SET LOCAL search_path = ${s}, public`);
    for (const index of indexes) {
      const keyWaits = !allIndexes && keysAfterLoad.includes(index.table);
      if (index.constraint && keyWaits) continue;
      if (index.constraint) {
        await client.query(
          `ALTER TABLE ${s}.${quoteIdent(index.table)}
             ADD CONSTRAINT ${quoteIdent(index.constraint)} ${index.constraintDef}`,
        );
      } else if ((index.unique && !keyWaits) || allIndexes) {
        // Unqualified (pg_get_indexdef with public on the path): the copy's table, first on it.
        await client.query(index.def);
      }
    }
    for (const st of await statisticsOf(client, 'public', tables)) {
      await client.query(
        `CREATE STATISTICS ${s}.${quoteIdent(st.name)}${st.kinds.length > 0 ? ` (${st.kinds.join(', ')})` : ''}
           ON ${st.columns} FROM ${s}.${quoteIdent(st.table)}`,
      );
      if (st.target !== null) {
        await client.query(
          `ALTER STATISTICS ${s}.${quoteIdent(st.name)} SET STATISTICS ${st.target}`,
        );
      }
    }
  });
}

/**
 * Makes an unlogged copy (createCopy's `unlogged`) durable: its tables and its checkpoints, in one
 * transaction. Unlogged, a bulk load writes no WAL; PostgreSQL empties unlogged tables after a
 * crash of its own, and the copy's checkpoints are unlogged with them, so such a crash sends the
 * copy back to position zero as a whole rather than leaving rows without their checkpoints. Each
 * table is rewritten once into the WAL here, which costs much less than logging every row.
 */
export async function makeCopyLogged(
  pool: Pool,
  schema: string,
  tables: readonly string[],
): Promise<void> {
  const s = quoteIdent(schema);
  await inTransaction(pool, async (client) => {
    // The live tables' fill factor first, so that the rewrite below packs the loaded rows as the
    // live table would hold them (BULK_LOAD_FILLFACTOR was for the load).
    const live = await storageOptionsOf(client, 'public', tables);
    for (const t of tables) {
      const fillfactor = (live.get(t) ?? []).find((o) => o.startsWith('fillfactor='));
      await client.query(
        `ALTER TABLE ${s}.${quoteIdent(t)} ${fillfactor ? `SET (${fillfactor})` : 'RESET (fillfactor)'}`,
      );
    }
    const { rows } = await client.query<{ relname: string }>(
      `SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE n.nspname = $1 AND c.relkind = 'r' AND c.relpersistence = 'u'
          AND c.relname = ANY($2::text[])`,
      [schema, [...tables, 'projection_checkpoints']],
    );
    for (const r of rows)
      await client.query(`ALTER TABLE ${s}.${quoteIdent(r.relname)} SET LOGGED`);
  });
}

/**
 * Storage parameters (`WITH (…)`) of the tables of `schema`, the TOAST table's prefixed `toast.`,
 * as `SET (…)` takes them, by table.
 */
export async function storageOptionsOf(
  client: PoolClient,
  schema: string,
  tables: readonly string[],
): Promise<Map<string, string[]>> {
  const { rows } = await client.query<{ relname: string; options: string[] }>(
    `SELECT c.relname,
            COALESCE(c.reloptions, '{}')
              || COALESCE(ARRAY(SELECT 'toast.' || o FROM unnest(t.reloptions) AS o), '{}')
              AS options
       FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
       LEFT JOIN pg_class t ON t.oid = c.reltoastrelid
      WHERE n.nspname = $1 AND c.relname = ANY($2::text[])`,
    [schema, tables],
  );
  return new Map(rows.map((r) => [r.relname, r.options]));
}

/**
 * Gives tables of a copy moved into `public` (a swap) the storage parameters the live tables had
 * (`live`: {@link storageOptionsOf}, read before the move), autovacuum included.
 */
export async function restoreStorageOptions(
  client: PoolClient,
  tables: readonly string[],
  live: ReadonlyMap<string, readonly string[]>,
): Promise<void> {
  for (const t of tables) {
    const table = `public.${quoteIdent(t)}`;
    await client.query(
      `ALTER TABLE ${table} RESET (autovacuum_enabled, toast.autovacuum_enabled, fillfactor)`,
    );
    const own = live.get(t) ?? [];
    if (own.length > 0) await client.query(`ALTER TABLE ${table} SET (${own.join(', ')})`);
  }
}

/** Who owns a live table, and what it grants to whom (ACL entries of other roles than its owner). */
export interface TableAccess {
  readonly owner: string;
  readonly grants: readonly { grantee: string; privilege: string; grantable: boolean }[];
}

/**
 * The owner and the grants of `schema`'s `tables` (table privileges; column privileges are not
 * read), by table, grantees quoted as GRANT takes them (`PUBLIC` for everyone).
 */
export async function accessOf(
  client: Db,
  schema: string,
  tables: readonly string[],
): Promise<Map<string, TableAccess>> {
  const { rows } = await client.query<{
    relname: string;
    owner: string;
    grantee: string | null;
    privilege: string | null;
    grantable: boolean | null;
  }>(
    `SELECT c.relname, quote_ident(pg_get_userbyid(c.relowner)) AS owner,
            CASE WHEN a.grantee = 0 THEN 'PUBLIC'
                 ELSE quote_ident(pg_get_userbyid(a.grantee)) END AS grantee,
            a.privilege_type AS privilege, a.is_grantable AS grantable
       FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
       LEFT JOIN LATERAL aclexplode(c.relacl) AS a ON a.grantee <> c.relowner
      WHERE n.nspname = $1 AND c.relname = ANY($2::text[])
      ORDER BY c.relname, a.grantee, a.privilege_type`,
    [schema, tables],
  );
  const access = new Map<string, { owner: string; grants: TableAccess['grants'][number][] }>();
  for (const r of rows) {
    let a = access.get(r.relname);
    if (!a) access.set(r.relname, (a = { owner: r.owner, grants: [] }));
    if (r.grantee !== null && r.privilege !== null) {
      a.grants.push({
        grantee: r.grantee,
        privilege: r.privilege,
        grantable: r.grantable === true,
      });
    }
  }
  return access;
}

/**
 * Gives `schema`'s `tables` (a copy about to be swapped in) the owner and grants the live tables
 * have (`live`: {@link accessOf}), so that the roles that used the live tables (the server's, a
 * reporting role) use the swapped-in ones alike, whatever role ran the rebuild. The grants come
 * first, while the rebuilding role owns the copy; then the owner (which the swap may set: moving
 * the live tables out already takes their ownership, or a membership in their owner's role).
 */
export async function giveAccess(
  client: PoolClient,
  schema: string,
  tables: readonly string[],
  live: ReadonlyMap<string, TableAccess>,
): Promise<void> {
  const copies = await accessOf(client, schema, tables);
  for (const t of tables) {
    const access = live.get(t);
    if (!access) continue;
    const table = `${quoteIdent(schema)}.${quoteIdent(t)}`;
    // One GRANT per grantee and grant option: the swap runs this with the tables locked.
    const byGrantee = new Map<string, string[]>();
    for (const g of access.grants) {
      const key = `${g.grantee}${g.grantable ? ' WITH GRANT OPTION' : ''}`;
      byGrantee.set(key, [...(byGrantee.get(key) ?? []), g.privilege]);
    }
    for (const [grantee, privileges] of byGrantee) {
      await client.query(`GRANT ${privileges.join(', ')} ON ${table} TO ${grantee}`);
    }
    if (copies.get(t)?.owner !== access.owner) {
      await client.query(`ALTER TABLE ${table} OWNER TO ${access.owner}`);
    }
  }
}

/**
 * Cancels autovacuum workers holding locks on `public`'s `tables` (best effort: it needs the
 * right to signal them). A vacuum holds a lock that the swap's ACCESS EXCLUSIVE waits for, and
 * PostgreSQL cancels it for a waiter only after deadlock_timeout (1 s), longer than the swap lets
 * readers wait; it runs again later. Returns how many were cancelled. Runs inside the swap's
 * transaction, in a savepoint: a role without that right (not a superuser, nor a member of
 * pg_signal_autovacuum_worker) gets an error from pg_cancel_backend, which must not abort the
 * swap; the swap then tries its locks as usual, and again later if the vacuum holds them.
 */
export async function cancelAutovacuumOn(
  client: Pick<PoolClient, 'query'>,
  tables: readonly string[],
): Promise<number> {
  await client.query('SAVEPOINT cancel_autovacuum');
  try {
    const { rows } = await client.query<{ n: number }>(
      `SELECT count(*) FILTER (WHERE pg_cancel_backend(a.pid))::int AS n
         FROM pg_stat_activity a
        WHERE a.backend_type = 'autovacuum worker'
          AND EXISTS (SELECT 1 FROM pg_locks l
                       WHERE l.pid = a.pid AND l.locktype = 'relation'
                         AND l.relation = ANY(SELECT to_regclass('public.' || quote_ident(t))
                                                FROM unnest($1::text[]) AS t))`,
      [tables],
    );
    await client.query('RELEASE SAVEPOINT cancel_autovacuum');
    return rows[0].n;
  } catch {
    await client.query('ROLLBACK TO SAVEPOINT cancel_autovacuum');
    return 0;
  }
}

/** Extended statistics (CREATE STATISTICS) of the tables of `schema`, as they were defined. */
interface TableStatistics {
  readonly table: string;
  readonly name: string;
  /** ndistinct, dependencies, mcv; none for statistics of a single expression. */
  readonly kinds: readonly string[];
  /** Columns and expressions, printed for the table's own schema. */
  readonly columns: string;
  readonly target: number | null;
}

const STATISTICS_KINDS: Record<string, string> = {
  d: 'ndistinct',
  f: 'dependencies',
  m: 'mcv',
};

async function statisticsOf(
  client: PoolClient,
  schema: string,
  tables: readonly string[],
): Promise<TableStatistics[]> {
  const { rows } = await client.query<{
    table: string;
    name: string;
    kinds: string[];
    columns: string;
    target: number | null;
  }>(
    `SELECT t.relname AS table, x.stxname AS name, x.stxkind::text[] AS kinds,
            pg_get_statisticsobjdef_columns(x.oid) AS columns,
            CASE WHEN x.stxstattarget >= 0 THEN x.stxstattarget::int END AS target
       FROM pg_statistic_ext x
       JOIN pg_class t ON t.oid = x.stxrelid
       JOIN pg_namespace n ON n.oid = t.relnamespace
      WHERE n.nspname = $1 AND t.relname = ANY($2::text[])
      ORDER BY t.relname, x.stxname`,
    [schema, tables],
  );
  return rows.map((r) => ({
    table: r.table,
    name: r.name,
    kinds: r.kinds.filter((k) => k in STATISTICS_KINDS).map((k) => STATISTICS_KINDS[k]),
    columns: r.columns,
    target: r.target,
  }));
}

/**
 * Moves the extended statistics of `tables` (in schema `from`) to schema `to`. `ALTER TABLE …
 * SET SCHEMA` leaves a table's statistics objects where they were, so a swap moves them itself:
 * the live tables' out with them (dropped with them), the shadow's in under the live names.
 */
export async function moveStatistics(
  client: PoolClient,
  from: string,
  to: string,
  tables: readonly string[],
): Promise<void> {
  for (const st of await statisticsOf(client, from, tables)) {
    await client.query(
      `ALTER STATISTICS ${quoteIdent(from)}.${quoteIdent(st.name)} SET SCHEMA ${quoteIdent(to)}`,
    );
  }
}

/**
 * Creates the indexes of the live tables that the copy lacks (by name), after a bulk load: one
 * sort per index costs much less than keeping each up to date row by row. One build at a time,
 * without parallel workers, with a larger maintenance_work_mem: a build takes one core and leaves
 * the others to the live traffic (parallel builds starved the API for their duration: bench/
 * README.md). Returns how many were created.
 */
export async function createMissingIndexes(
  pool: Pool,
  schema: string,
  tables: readonly string[],
  signal?: AbortSignal,
  concurrency = 1,
): Promise<number> {
  const live = await inPublic(pool, (client) => liveIndexes(client, tables));
  const { rows } = await pool.query<{ indexname: string }>(
    `SELECT indexname FROM pg_indexes WHERE schemaname = $1`,
    [schema],
  );
  const present = new Set(rows.map((r) => r.indexname));
  const missing = live.filter(
    (i) => !present.has(i.name) && !(i.constraint && present.has(i.constraint)),
  );
  let next = 0;
  const worker = async () => {
    while (next < missing.length) {
      signal?.throwIfAborted();
      const index = missing[next++];
      await inTransaction(pool, async (client) => {
        await client.query(`SET LOCAL search_path = ${quoteIdent(schema)}, public`);
        await client.query(`SET LOCAL maintenance_work_mem = '256MB'`);
        await client.query('SET LOCAL max_parallel_maintenance_workers = 0');
        // A key left for after the load (CopyOptions.keysAfterLoad): its constraint, which
        // builds its index under the same name.
        await client.query(
          index.constraint
            ? `ALTER TABLE ${quoteIdent(index.table)}
                 ADD CONSTRAINT ${quoteIdent(index.constraint)} ${index.constraintDef}`
            : index.def,
        );
      });
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, concurrency) }, worker));
  return missing.length;
}

/** Fresh statistics for the copy's tables, so that queries plan well as soon as they read it. */
export async function analyzeCopy(
  pool: Pool,
  schema: string,
  tables: readonly string[],
): Promise<void> {
  for (const t of tables) await pool.query(`ANALYZE ${quoteIdent(schema)}.${quoteIdent(t)}`);
}

/**
 * The views of `public` that read any of `tables`, directly or through another view, base views
 * first, with definitions as `pg_get_viewdef` prints them with `public` on the search path
 * (table names unqualified): run with another schema first on the path, a definition reads that
 * schema's tables. The caller's transaction must have `public` alone on its search path.
 */
export async function viewsOver(
  client: PoolClient,
  tables: readonly string[],
): Promise<LiveView[]> {
  const { rows } = await client.query<{ name: string; def: string }>(
    `WITH RECURSIVE over(view, depth) AS (
       SELECT r.ev_class, 1
         FROM pg_depend d JOIN pg_rewrite r ON r.oid = d.objid
        WHERE d.classid = 'pg_rewrite'::regclass AND d.refclassid = 'pg_class'::regclass
          AND d.refobjid = ANY(SELECT ('public.' || quote_ident(t))::regclass
                                 FROM unnest($1::text[]) AS t)
          AND r.ev_class <> d.refobjid
       UNION
       SELECT r.ev_class, over.depth + 1
         FROM over
         JOIN pg_depend d ON d.refobjid = over.view AND d.classid = 'pg_rewrite'::regclass
                         AND d.refclassid = 'pg_class'::regclass
         JOIN pg_rewrite r ON r.oid = d.objid
        WHERE r.ev_class <> d.refobjid)
     SELECT c.relname AS name, pg_get_viewdef(c.oid) AS def
       FROM over JOIN pg_class c ON c.oid = over.view
       JOIN pg_namespace n ON n.oid = c.relnamespace
      WHERE c.relkind = 'v' AND n.nspname = 'public'
      GROUP BY c.oid, c.relname
      ORDER BY max(over.depth), c.relname`,
    [tables],
  );
  return rows;
}

/** Creates, in `schema`, the views of `public` over `tables`, reading the copy's tables. */
export async function copyViews(
  pool: Pool,
  schema: string,
  tables: readonly string[],
): Promise<number> {
  return inPublic(pool, async (client) => {
    const views = await viewsOver(client, tables);
    const s = quoteIdent(schema);
    await client.query(`SET LOCAL search_path = ${s}, public`);
    for (const v of views) {
      await client.query(`CREATE OR REPLACE VIEW ${s}.${quoteIdent(v.name)} AS ${v.def}`);
    }
    return views.length;
  });
}

/**
 * Session-level advisory lock of one copy, held by the job working on it: a second job on the
 * same copy is refused, and a copy whose lock nobody holds was left by an interrupted job.
 * Key: "repl" and a hash of the schema name.
 */
export function copyLockKey(schema: string): bigint {
  let h = 0x811c9dc5;
  for (const byte of Buffer.from(schema, 'utf8')) {
    h ^= byte;
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return (0x7265706cn << 32n) | BigInt(h);
}

export async function tryLockCopy(client: PoolClient, schema: string): Promise<boolean> {
  const { rows } = await client.query<{ ok: boolean }>(
    'SELECT pg_try_advisory_lock($1::bigint) AS ok',
    [BigInt.asIntN(64, copyLockKey(schema)).toString()],
  );
  return rows[0].ok;
}

export async function unlockCopy(client: PoolClient, schema: string): Promise<void> {
  await client.query('SELECT pg_advisory_unlock($1::bigint)', [
    BigInt.asIntN(64, copyLockKey(schema)).toString(),
  ]);
}

/** Which of `schemas` a job holds (its lock is taken), as pg_locks shows it. */
export async function copiesInUse(db: Db, schemas: readonly string[]): Promise<Set<string>> {
  if (schemas.length === 0) return new Set();
  const keys = schemas.map(copyLockKey);
  const { rows } = await db.query<{ classid: string; objid: string }>(
    `SELECT classid::text, objid::text FROM pg_locks
      WHERE locktype = 'advisory' AND granted AND objsubid = 1
        AND database = (SELECT oid FROM pg_database WHERE datname = current_database())`,
  );
  const held = new Set(rows.map((r) => `${r.classid}/${r.objid}`));
  return new Set(schemas.filter((_s, i) => held.has(`${keys[i] >> 32n}/${keys[i] & 0xffffffffn}`)));
}

/** Rows and size of a copy, for listings. */
export async function copySize(db: Db, schema: string): Promise<number> {
  const { rows } = await db.query<{ bytes: string | null }>(
    `SELECT sum(pg_total_relation_size(c.oid))::text AS bytes
       FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
      WHERE n.nspname = $1 AND c.relkind = 'r'`,
    [schema],
  );
  return Number(rows[0].bytes ?? 0);
}

async function liveIndexes(client: PoolClient, tables: readonly string[]): Promise<LiveIndex[]> {
  const { rows } = await client.query<{
    table: string;
    name: string;
    unique: boolean;
    constraint: string | null;
    constraint_def: string | null;
    def: string;
  }>(
    `SELECT t.relname AS table, i.relname AS name, x.indisunique AS unique,
            con.conname AS constraint, pg_get_constraintdef(con.oid) AS constraint_def,
            pg_get_indexdef(x.indexrelid, 0, true) AS def
       FROM pg_index x
       JOIN pg_class i ON i.oid = x.indexrelid
       JOIN pg_class t ON t.oid = x.indrelid
       JOIN pg_namespace n ON n.oid = t.relnamespace
       LEFT JOIN pg_constraint con ON con.conindid = x.indexrelid AND con.conrelid = x.indrelid
                                  AND con.contype IN ('p', 'u', 'x')
      WHERE n.nspname = 'public' AND t.relname = ANY($1::text[])
      ORDER BY t.relname, i.relname`,
    [tables],
  );
  return rows.map((r) => ({
    table: r.table,
    name: r.name,
    unique: r.unique,
    constraint: r.constraint,
    constraintDef: r.constraint_def,
    def: r.def,
  }));
}

/** A transaction with `public` alone on the search path (definitions print unqualified). */
function inPublic<T>(pool: Pool, fn: (client: PoolClient) => Promise<T>): Promise<T> {
  return inTransaction(pool, async (client) => {
    await client.query('SET LOCAL search_path = public');
    return fn(client);
  });
}

function parseMeta(comment: string | null): CopyMeta | null {
  if (!comment) return null;
  try {
    const meta = JSON.parse(comment) as CopyMeta;
    return typeof meta === 'object' && meta !== null && typeof meta.kind === 'string' ? meta : null;
  } catch {
    return null;
  }
}
