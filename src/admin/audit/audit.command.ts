import { Command, Help, Option } from 'nest-commander';
import { Pool } from 'pg';
import { DomainError } from '../../common/errors';
import { ConfigError, loadConfig } from '../../config/app-config';
import { AdminCommand, EXIT, parseCount, UsageError } from '../admin-context';
import { InstallationDatabase, openInstallationDatabase } from '../installation-database';
import { AuditInputNames, DEFAULT_LIMIT, MAX_LIMIT, parseAuditQuery } from './audit-query';
import { AuditEventView, AuditPage, AuditReader } from './audit-reader';

export interface AuditCommandOptions {
  readonly databaseUrl?: string;
  readonly actor?: string;
  readonly stream?: string;
  readonly category?: string;
  readonly type?: string[];
  readonly action?: string;
  readonly since?: string;
  readonly until?: string;
  readonly correlationId?: string;
  readonly subject?: string;
  readonly limit?: number;
  readonly cursor?: string;
  readonly json?: boolean;
}

/** The CLI's names of the query's inputs, for error messages. */
const CLI_NAMES: AuditInputNames = {
  actor: '--actor',
  stream: '--stream',
  category: '--category',
  types: '--type',
  action: '--action',
  from: '--since',
  to: '--until',
  correlationId: '--correlation-id',
  subject: '--subject',
  cursor: '--cursor',
  limit: '--limit',
};

/** PostgreSQL refused the URL itself (password, user, database name): configuration. */
const CONFIG_SQLSTATES = new Set(['28P01', '28000', '3D000']);
/** Subjects shown per row of the table; the rest are counted. */
const SUBJECTS_SHOWN = 3;

@Command({
  name: 'audit',
  description: 'who did what, when and from where: the audit log, newest first, filtered and paged',
})
export class AuditCommand extends AdminCommand {
  @Option({
    flags: '--actor <kind:id>',
    description:
      'who: user:<uid>, admin:<id>, system:<id>, or a kind alone (admin: every administrator)',
  })
  parseActor(value: string): string {
    return value;
  }

  @Option({ flags: '--stream <stream-id>', description: 'one stream, e.g. group-tea' })
  parseStream(value: string): string {
    return value;
  }

  @Option({
    flags: '--category <category>',
    description: "streams of a category (a stream id's part before its first dash)",
  })
  parseCategory(value: string): string {
    return value;
  }

  @Option({
    flags: '--type <type>',
    description: 'an event type, e.g. MessageRecalled (repeat, or separate by commas: any of them)',
  })
  parseType(value: string, previous: string[] = []): string[] {
    return [...previous, value];
  }

  @Option({
    flags: '--action <action>',
    description: 'what the events did, where a type covers several: kicked, quit, sys_cancel, …',
  })
  parseAction(value: string): string {
    return value;
  }

  @Option({
    flags: '--since <time>',
    description: 'recorded at or after (inclusive): 2026-12-05 (UTC) or 2026-12-05T09:00:00Z',
  })
  parseSince(value: string): string {
    return value;
  }

  @Option({ flags: '--until <time>', description: 'recorded before (exclusive), as --since' })
  parseUntil(value: string): string {
    return value;
  }

  @Option({
    flags: '--correlation-id <id>',
    description: "one request's events (its X-Request-Id), or one CLI run's",
  })
  parseCorrelationId(value: string): string {
    return value;
  }

  @Option({
    flags: '--subject <key>',
    description: 'what the events are about: a msg_key, a target user, a token id',
  })
  parseSubject(value: string): string {
    return value;
  }

  @Option({
    flags: '--limit <n>',
    description: `events per page, 1 to ${MAX_LIMIT}`,
    defaultValue: DEFAULT_LIMIT,
  })
  parseLimit(value: string): number {
    return parseCount(value, 1, MAX_LIMIT);
  }

  @Option({ flags: '--cursor <cursor>', description: 'the next page: the cursor a page printed' })
  parseCursor(value: string): string {
    return value;
  }

  @Option({ flags: '--json', description: 'print the page as JSON on stdout (as the REST API)' })
  parseJson(): boolean {
    return true;
  }

  @Help('after')
  helpAfter(): string {
    return `
Every filter given narrows the result (AND). Newest first; a page ends with the cursor of the
next (older) page. Examples:
  npm run admin -- audit --actor user:alice --since 2026-12-05 --until 2026-12-06
  npm run admin -- audit --type MessageRecalled --subject 1234567890123
  npm run admin -- audit --stream group-tea --type GroupMembersLeft --action kicked
  npm run admin -- audit --actor admin --json

Metadata and ids only: the audit index holds no message content (docs/admin/audit.md).

Exit status: 0 a page was printed (it may be empty); 1 the database could not be read; 2 bad usage
(an unknown actor kind, a time that is not ISO-8601, since after until, a bad cursor).
`;
  }

  protected async execute(_params: string[], raw: Record<string, unknown>): Promise<number> {
    const options = raw as AuditCommandOptions;
    const { stdout, stderr } = this.context;
    let database: InstallationDatabase | null = null;
    let pool: Pool | null = null;
    try {
      const query = parseAuditQuery(
        {
          actor: options.actor,
          stream: options.stream,
          category: options.category,
          types: options.type,
          action: options.action,
          from: options.since,
          to: options.until,
          correlationId: options.correlationId,
          subject: options.subject,
          cursor: options.cursor,
          limit: options.limit,
        },
        CLI_NAMES,
      );
      const config = loadConfig({
        ...this.context.env,
        ...(options.databaseUrl === undefined ? {} : { DATABASE_URL: options.databaseUrl }),
      });
      database = await openInstallationDatabase(config);
      pool = new Pool({ connectionString: database.url, max: 1 });
      pool.on('error', () => undefined);
      const note = await checkAuditIndex(pool, database.description);
      if (note) stderr.write(`note: ${note}\n`);
      const page = await new AuditReader(pool).query(query);
      stdout.write(options.json ? `${JSON.stringify(page, null, 2)}\n` : formatPage(page));
      return EXIT.ok;
    } catch (err) {
      const message = err instanceof Error ? err.message : String(err);
      stderr.write(`error: ${message}\n`);
      return isUsageError(err) ? EXIT.usage : EXIT.failed;
    } finally {
      await pool?.end().catch(() => undefined);
      await database?.close().catch(() => undefined);
    }
  }
}

function isUsageError(err: unknown): boolean {
  if (err instanceof UsageError || err instanceof ConfigError || err instanceof DomainError) {
    return true;
  }
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'string' && CONFIG_SQLSTATES.has(code);
}

/**
 * Refuses a database without the audit index, and says when the index has not been built yet
 * (the server's projections build it; a server of an older version never did).
 */
async function checkAuditIndex(pool: Pool, description: string): Promise<string | null> {
  const { rows } = await pool.query<{ audit: string | null; checkpoints: string | null }>(
    `SELECT to_regclass('rm_audit')::text AS audit,
            to_regclass('projection_checkpoints')::text AS checkpoints`,
  );
  if (rows[0].audit === null) {
    throw new UsageError(
      `${description} has no audit index (table rm_audit): start the server of this version ` +
        'once, it migrates the database and builds the index',
    );
  }
  const built = await pool.query(
    `SELECT 1 FROM projection_checkpoints WHERE name = 'audit'
        AND (commit_position > 0 OR prepare_position > 0)`,
  );
  return built.rowCount === 0
    ? 'the audit index has not been built yet: the server builds it from the event log'
    : null;
}

/** A page as a table: time, actor, type, stream@revision, subjects, ip/device; then the cursor. */
export function formatPage(page: AuditPage): string {
  if (page.events.length === 0) return 'no events\n';
  const header = ['TIME (UTC)', 'ACTOR', 'TYPE', 'STREAM@REVISION', 'SUBJECTS', 'IP/DEVICE'];
  const rows = page.events.map(tableRow);
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const line = (cells: string[]) =>
    cells
      .map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i])))
      .join('  ')
      .trimEnd();
  const out = [line(header), ...rows.map(line)];
  out.push(
    page.next_cursor === null
      ? `${page.events.length} event(s); no more`
      : `${page.events.length} event(s); older ones: --cursor ${page.next_cursor}`,
  );
  return `${out.join('\n')}\n`;
}

function tableRow(e: AuditEventView): string[] {
  const time = `${e.recorded_at.slice(0, 10)} ${e.recorded_at.slice(11, 23)}`;
  const actor = e.actor ? `${e.actor.kind}:${e.actor.id ?? '?'}` : '-';
  const shown = e.subjects.slice(0, SUBJECTS_SHOWN).join(',');
  const more = e.subjects.length > SUBJECTS_SHOWN ? ` +${e.subjects.length - SUBJECTS_SHOWN}` : '';
  const where = [e.ip, e.device].filter((x) => x !== null).join(' ');
  return [
    time,
    actor,
    e.action === null ? e.type : `${e.type} (${e.action})`,
    `${e.stream_id}@${e.revision}`,
    shown + more || '-',
    where || '-',
  ].map(printable);
}

/** Control characters would move the terminal's cursor: shown escaped. */
function printable(text: string): string {
  return text.replace(
    // eslint-disable-next-line no-control-regex
    /[\u0000-\u001f\u007f]/g,
    (c) => `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`,
  );
}
