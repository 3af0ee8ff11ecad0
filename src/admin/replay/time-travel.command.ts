import { Command, Help, Option } from 'nest-commander';
import { AdminCommand, InvalidOptionValueError, UsageError } from '../admin-context';
import { DomainError } from '../../common/errors';
import { parseInstant } from '../audit/audit-query';
import { formatCount, formatDuration } from '../progress-line';
import { tablesOf } from './projection-set';
import { table } from './projections.command';
import { ReplayCliOptions, runReplayCommand } from './replay-cli';
import {
  buildSnapshot,
  dropSnapshot,
  listSnapshots,
  SnapshotInfo,
  TimeTravelResult,
} from './time-travel';

interface TimeTravelCommandOptions extends ReplayCliOptions {
  readonly at?: Date;
  readonly position?: { commit: bigint; prepare: bigint };
  readonly list?: boolean;
  readonly drop?: string;
}

type Outcome =
  | { readonly built: TimeTravelResult }
  | { readonly snapshots: SnapshotInfo[] }
  | { readonly dropped: SnapshotInfo };

/** `npm run admin -- time-travel --at <time> | --position <c/p> | --list | --drop <id>`. */
@Command({
  name: 'time-travel',
  description:
    'build the read models as they were at a time or position (a snapshot to query with ?as_of=), list or drop snapshots',
})
export class TimeTravelCommand extends AdminCommand {
  @Option({
    flags: '--at <time>',
    description: 'an ISO 8601 time with its zone, e.g. 2025-12-09T09:00:00Z or …T17:00:00+08:00',
  })
  parseAt(value: string): Date {
    // As the audit and the export read times: a time without a zone would be this host's.
    try {
      return new Date(Number(parseInstant(value, '--at').us / 1000n));
    } catch (err) {
      if (err instanceof DomainError) throw new InvalidOptionValueError(err.message);
      throw err;
    }
  }

  @Option({ flags: '--position <commit/prepare>', description: 'a position of the log' })
  parsePosition(value: string): { commit: bigint; prepare: bigint } {
    const m = /^(\d{1,20})\/(\d{1,20})$/.exec(value);
    if (!m) throw new InvalidOptionValueError('expected commit/prepare, e.g. 1234/5678');
    return { commit: BigInt(m[1]), prepare: BigInt(m[2]) };
  }

  @Option({ flags: '--list', description: 'list the snapshots' })
  parseList(): boolean {
    return true;
  }

  @Option({ flags: '--drop <id>', description: 'drop a snapshot' })
  parseDrop(value: string): string {
    return value;
  }

  @Option({ flags: '--json', description: 'print the result as JSON on stdout' })
  parseJson(): boolean {
    return true;
  }

  @Help('after')
  helpAfter(): string {
    return `
A snapshot holds every read model as it was after the last event recorded at or before --at (or
up to --position), in a schema of its own (asof_<id>), kept until dropped. Query it through the
API with ?as_of=<id> on any GET endpoint, with the admin key (X-Admin-Key) on top of the user's
token. An interrupted build is listed as interrupted; asking for the same point again resumes it.
Needs MASTER_KEY (as the server has it) to open message content.

A time is a date (midnight UTC) or a date and time with its zone (Z, +08:00). A snapshot made
before a migration of the read models is listed as stale: it cannot be read; drop it.

Exit status: 0 done; 1 failed; 2 bad usage (no such snapshot, a time without a zone, in the
future or before the first event); 130 interrupted.
`;
  }

  protected execute(_params: string[], raw: Record<string, unknown>): Promise<number> {
    const o = raw as TimeTravelCommandOptions;
    const chosen = [o.at, o.position, o.list, o.drop].filter((x) => x !== undefined).length;
    const building = o.at !== undefined || o.position !== undefined;
    return runReplayCommand<Outcome>(this.context, o, {
      operation: o.list ? null : building ? 'time-travel' : 'time-travel-drop',
      args: o.at
        ? { at: o.at.toISOString() }
        : o.position
          ? { position: `${o.position.commit}/${o.position.prepare}` }
          : { snapshot: o.drop },
      keys: building,
      label: 'time-travel',
      run: async (c) => {
        if (chosen !== 1) {
          throw new UsageError(
            'give one of --at <time>, --position <commit/prepare>, --list, --drop <id>',
          );
        }
        const tables = tablesOf(c.deps.projectors);
        if (o.list) return { snapshots: await listSnapshots(c.deps.pool, tables) };
        if (o.drop !== undefined) {
          c.began();
          return { dropped: await dropSnapshot(c.deps.pool, o.drop, tables) };
        }
        return {
          built: await buildSnapshot(c.deps, {
            at: o.at,
            position: o.position,
            signal: c.signal,
            onProgress: c.onProgress,
            onStarted: c.began,
          }),
        };
      },
      render: renderTimeTravel,
    });
  }
}

function renderTimeTravel(r: Outcome, say: (line: string) => void): void {
  if ('built' in r) {
    const s = r.built.snapshot;
    say(
      `snapshot ${s.id} ready${r.built.resumed ? ' (resumed)' : ''}: ${s.at ? `as of ${s.at}, ` : ''}` +
        `up to ${s.position}, ${formatCount(s.events ?? 0)} events in ${formatDuration(r.built.elapsedMs / 1000)}`,
    );
    say(
      `query it with ?as_of=${s.id} (and X-Admin-Key); drop it with npm run admin -- time-travel --drop ${s.id}`,
    );
    return;
  }
  if ('dropped' in r) {
    say(`dropped snapshot ${r.dropped.id}`);
    return;
  }
  if (r.snapshots.length === 0) {
    say('no snapshots');
    return;
  }
  table(
    ['id', 'state', 'at', 'position', 'events', 'size', 'created'],
    r.snapshots.map((s) => [
      s.id,
      s.state,
      s.at ?? '-',
      s.position,
      s.events === null ? '-' : formatCount(s.events),
      `${formatCount(s.bytes / 1_048_576)} MiB`,
      s.createdAt,
    ]),
    say,
  );
}
