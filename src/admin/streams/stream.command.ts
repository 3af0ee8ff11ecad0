import { Command, Help, Option } from 'nest-commander';
import { DomainError } from '../../common/errors';
import { cliMetadata, recordAdminOperation } from '../admin-actions';
import {
  AdminCommand,
  EXIT,
  InvalidOptionValueError,
  parseCount,
  UsageError,
} from '../admin-context';
import { AdminInstallation, isUsageError, openAdminInstallation } from './admin-installation';
import type { SealedField } from './sealed-fields';
import { DEFAULT_PAGE, inspectStream, MAX_PAGE, StreamPage } from './stream-inspection';
import { STREAM_ID_PATTERN, STREAM_ID_RULE } from './streams.request.dto';

export interface StreamCommandOptions {
  readonly databaseUrl?: string;
  readonly from?: number;
  readonly limit?: number;
  readonly backwards?: boolean;
  readonly json?: boolean;
}

@Command({
  name: 'stream',
  arguments: '<stream-id>',
  description:
    "show a stream's events: revisions, positions, metadata, and data with sealed content opened",
})
export class StreamCommand extends AdminCommand {
  @Option({
    flags: '--from <revision>',
    description: 'first revision shown (default 0), or last with --backwards (default the newest)',
  })
  parseFrom(value: string): number {
    const n = Number(value);
    if (!/^\d+$/.test(value) || !Number.isSafeInteger(n)) {
      throw new InvalidOptionValueError('expected a revision: an integer from 0');
    }
    return n;
  }

  @Option({
    flags: '--limit <n>',
    description: `events shown, 1 to ${MAX_PAGE}`,
    defaultValue: DEFAULT_PAGE,
  })
  parseLimit(value: string): number {
    return parseCount(value, 1, MAX_PAGE);
  }

  @Option({ flags: '--backwards', description: 'newest first' })
  parseBackwards(): boolean {
    return true;
  }

  @Option({ flags: '--json', description: 'print the page as JSON on stdout (as the REST API)' })
  parseJson(): boolean {
    return true;
  }

  @Help('after')
  helpAfter(): string {
    return `
Sealed fields (message content) are opened with the installation's keys (MASTER_KEY, or the
embedded secrets under DATA_DIR) and marked; an erased user's show null, marked erased. The event
store is EventStoreDB with EVENTSTORE_CONNECTION_STRING, else the PostgreSQL log. Each inspection is
recorded in the log (AdminOperationRecorded), since it shows users' content.

Examples:
  npm run admin -- stream conversation-alice~bob --limit 20
  npm run admin -- stream user-alice --backwards --json

Exit status: 0 shown; 1 no such stream, or the store could not be read; 2 bad usage.
`;
  }

  protected async execute(params: string[], raw: Record<string, unknown>): Promise<number> {
    const options = raw as StreamCommandOptions;
    const [streamId] = params;
    const { stdout, stderr } = this.context;
    let installation: AdminInstallation | null = null;
    try {
      if (!STREAM_ID_PATTERN.test(streamId)) throw new UsageError(`<stream-id>: ${STREAM_ID_RULE}`);
      installation = await openAdminInstallation(this.context, {
        databaseUrl: options.databaseUrl,
        keys: true,
      });
      const { store, keyRing } = installation;
      if (!keyRing) {
        stderr.write('note: no MASTER_KEY: sealed fields are listed, not opened\n');
      }
      const args = {
        stream: streamId,
        from_revision: options.from,
        limit: options.limit,
        direction: options.backwards ? 'backwards' : 'forwards',
      };
      const metadata = cliMetadata(this.context.env);
      let page: StreamPage;
      try {
        page = await inspectStream(store, keyRing, streamId, {
          fromRevision: options.from,
          limit: options.limit,
          direction: options.backwards ? 'backwards' : 'forwards',
        });
      } catch (err) {
        await recordAdminOperation(store, metadata, {
          operation: 'stream',
          args,
          outcome: 'failed',
          detail: { error: (err as Error).message },
        }).catch(() => undefined);
        throw err;
      }
      await recordAdminOperation(store, metadata, {
        operation: 'stream',
        args,
        outcome: 'completed',
        detail: { events: page.events.length },
      });
      stdout.write(options.json ? `${JSON.stringify(page, null, 2)}\n` : formatPage(page));
      return EXIT.ok;
    } catch (err) {
      stderr.write(`error: ${(err as Error).message}\n`);
      if (err instanceof DomainError) return err.status === 400 ? EXIT.usage : EXIT.failed;
      return isUsageError(err) ? EXIT.usage : EXIT.failed;
    } finally {
      await installation?.close();
    }
  }
}

/** The page as text: a block per event, then where the next page starts. */
export function formatPage(page: StreamPage): string {
  const lines: string[] = [];
  const { events } = page;
  const range = events.length
    ? `revisions ${events[0].revision}-${events[events.length - 1].revision}`
    : 'no events in this range';
  lines.push(
    `${page.stream_id}: ${range} (${page.direction}); last revision ${page.last_revision}`,
  );
  for (const e of events) {
    lines.push('');
    lines.push(
      `#${e.revision}  ${e.type}  ${e.created_at}  position ${e.position.commit}/${e.position.prepare}`,
    );
    lines.push(`  id        ${e.id}`);
    lines.push(`  metadata  ${JSON.stringify(e.metadata)}`);
    lines.push(`  data      ${JSON.stringify(e.data)}`);
    for (const s of e.sealed) lines.push(`  sealed    ${describeSealed(s)}`);
  }
  lines.push('');
  lines.push(
    page.next_from_revision === null
      ? 'end of stream'
      : `next page: --from ${page.next_from_revision}${page.direction === 'backwards' ? ' --backwards' : ''}`,
  );
  return `${lines.join('\n')}\n`;
}

function describeSealed(s: SealedField): string {
  const what = s.opened
    ? 'opened'
    : s.erased
      ? 'ERASED (the owner’s key is destroyed): null'
      : s.reason === 'no_key'
        ? 'no key for its owner here: null'
        : s.reason === 'invalid'
          ? 'does not open (tampered, or not sealed with the owner’s key)'
          : 'not opened (no master key)';
  return `${s.path} (of ${s.owner}): ${what}`;
}
