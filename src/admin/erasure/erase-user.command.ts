import { Command, Help, Option } from 'nest-commander';
import { UID_PATTERN, UID_RULE } from '../../accounts/commands/issue-token/get-token.request.dto';
import { DomainError } from '../../common/errors';
import { SYSTEM_CLOCK } from '../../core/clock';
import { destroyDataKey } from '../../crypto/key-ring';
import { cliMetadata, recordAdminOperation } from '../admin-actions';
import { AdminCommand, EXIT, UsageError } from '../admin-context';
import {
  AdminInstallation,
  isUsageError,
  openAdminInstallation,
} from '../streams/admin-installation';
import { EraseUserResult, eraseUser } from './erase-user';

export interface EraseUserCommandOptions {
  readonly databaseUrl?: string;
  readonly yes?: boolean;
  readonly json?: boolean;
}

@Command({
  name: 'erase-user',
  arguments: '<uid>',
  description:
    'erase a user: destroy their data key (their content can no longer be read anywhere), redact it in the read models, record the erasure',
})
export class EraseUserCommand extends AdminCommand {
  @Option({ flags: '--yes', description: 'confirm: the erasure cannot be undone' })
  parseYes(): boolean {
    return true;
  }

  @Option({ flags: '--json', description: 'print the result as JSON on stdout' })
  parseJson(): boolean {
    return true;
  }

  @Help('after')
  helpAfter(): string {
    return `
Destroys the user's data key in user_keys (every node drops it at once), so the content they
sent (sealed in the log) opens to nothing in the log, exports, backups taken from now on and every
rebuild; then appends UserErased to user-<uid>, on which the projections empty their messages'
content (history shows them with erased: true) and the texts they wrote in groups; the same is
done now in every copy of the read models (time-travel snapshots, rebuild and verify copies,
retired tables), which no projection will bring to the erasure. Ids, metadata,
times and the other party's messages stay. The user can no longer send (41000). Running it again
is harmless (the key is destroyed again: do so after restoring a backup older than the erasure).

Without --yes nothing is done. The event store is EventStoreDB with EVENTSTORE_CONNECTION_STRING,
else the PostgreSQL log. See docs/admin/streams-export-erasure.md.

Exit status: 0 erased (or already erased); 1 no such user, or it failed (run it again); 2 bad
usage, or not confirmed.
`;
  }

  protected async execute(params: string[], raw: Record<string, unknown>): Promise<number> {
    const options = raw as EraseUserCommandOptions;
    const [uid] = params;
    const { stdout, stderr } = this.context;
    let installation: AdminInstallation | null = null;
    try {
      if (!UID_PATTERN.test(uid)) throw new UsageError(`<uid>: ${UID_RULE}`);
      if (!options.yes) {
        throw new UsageError(
          `erasing ${uid} destroys their data key for good: their messages' content can never ` +
            'be read again. Run again with --yes to erase',
        );
      }
      installation = await openAdminInstallation(this.context, {
        databaseUrl: options.databaseUrl,
      });
      const { store, pool } = installation;
      const metadata = cliMetadata(this.context.env);
      let result: EraseUserResult;
      try {
        result = await eraseUser(
          {
            store,
            pool,
            destroyKey: (u) => destroyDataKey(pool, u),
            nowUs: () => SYSTEM_CLOCK.nowUs(),
          },
          uid,
          metadata,
        );
      } catch (err) {
        await recordAdminOperation(store, metadata, {
          operation: 'erase-user',
          args: { uid },
          outcome: err instanceof DomainError && err.status === 404 ? 'not_found' : 'failed',
          detail: { error: (err as Error).message },
        }).catch(() => undefined);
        throw err;
      }
      await recordAdminOperation(store, metadata, {
        operation: 'erase-user',
        args: { uid },
        outcome: result.status,
        detail: { event_id: result.event.id },
      });
      if (options.json) {
        stdout.write(`${JSON.stringify(result, null, 2)}\n`);
      } else {
        stdout.write(
          `${result.status === 'erased' ? 'erased' : 'already erased (key destroyed again)'}: ` +
            `${uid}; the key is destroyed, UserErased is ${result.event.stream}@` +
            `${result.event.revision} (${result.event.erased_at}); the read models are redacted ` +
            `as the projections reach it; ${result.copies_redacted} copies of them (time-travel ` +
            'snapshots, rebuild and verify copies) redacted now\n',
        );
      }
      return EXIT.ok;
    } catch (err) {
      stderr.write(`error: ${(err as Error).message}\n`);
      if (err instanceof DomainError) return EXIT.failed;
      return isUsageError(err) ? EXIT.usage : EXIT.failed;
    } finally {
      await installation?.close();
    }
  }
}
