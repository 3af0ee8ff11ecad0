import { Command, Help, Option } from 'nest-commander';
import { AdminCommand, parseCount, EXIT } from '../admin-context';
import { formatCount, formatDuration } from '../progress-line';
import { collectProjection, ReplayCliOptions, runReplayCommand } from './replay-cli';
import { verify, VerifyResult } from './verify';

interface VerifyCommandOptions extends ReplayCliOptions {
  readonly projection?: string[];
  readonly maxRows?: number;
  readonly batchSize?: number;
  readonly lanes?: number;
}

/** `npm run admin -- verify [--projection <name>]... [--json]`. */
@Command({
  name: 'verify',
  description:
    'rebuild projections beside the live ones, up to their position, and report every difference',
})
export class VerifyCommand extends AdminCommand {
  @Option({
    flags: '--projection <name>',
    description: 'a projection to verify (repeat, or a,b); default: all',
  })
  parseProjection(value: string, previous?: string[]): string[] {
    return collectProjection(value, previous);
  }

  @Option({
    flags: '--max-rows <n>',
    description: 'rows shown per table and side of a difference (default 20; counts are complete)',
  })
  parseMaxRows(value: string): number {
    return parseCount(value, 0, 100_000);
  }

  @Option({ flags: '--batch-size <n>', description: 'events per batch (default 2000)' })
  parseBatchSize(value: string): number {
    return parseCount(value, 1, 100_000);
  }

  @Option({
    flags: '--lanes <n>',
    description:
      'projectors applied side by side, each lane on a connection of its own (default: one per projector; 1 leaves more of a small machine to the API)',
  })
  parseLanes(value: string): number {
    return parseCount(value, 1, 64);
  }

  @Option({ flags: '--json', description: 'print the result as JSON on stdout' })
  parseJson(): boolean {
    return true;
  }

  @Help('after')
  helpAfter(): string {
    return `
Builds the read models from position zero in a schema of its own (dropped at the end), up to
exactly the live projections' checkpoints (they are paused for a moment to line the two up), and
compares every table row by row: rows only in the live table, rows only in the rebuild.

Exit status: 0 equal; 1 they differ (or it failed); 2 bad usage; 130 interrupted.
`;
  }

  protected execute(_params: string[], raw: Record<string, unknown>): Promise<number> {
    const options = raw as VerifyCommandOptions;
    const projections = options.projection ?? [];
    return runReplayCommand(this.context, options, {
      operation: 'verify',
      args: { projection: projections },
      keys: true,
      label: 'verify',
      run: (c) =>
        verify(c.deps, {
          projections,
          maxRows: options.maxRows,
          batchSize: options.batchSize,
          lanes: options.lanes,
          signal: c.signal,
          onProgress: c.onProgress,
          onStarted: c.began,
        }),
      exitCode: (r) => (r.equal ? EXIT.ok : EXIT.failed),
      outcome: (r) => (r.equal ? 'equal' : 'differs'),
      render: renderVerify,
    });
  }
}

function renderVerify(r: VerifyResult, say: (line: string) => void): void {
  const at = [...new Set(r.projections.map((p) => p.position))].join(', ');
  say(
    `${r.equal ? 'equal' : 'DIFFERENT'}: ${r.projections.map((p) => p.name).join(', ')} at ${at}; ` +
      `${formatCount(r.eventsApplied)} events rebuilt in ${formatDuration(r.elapsedMs / 1000)}, ` +
      `live projections paused ${r.pausedMs} ms`,
  );
  for (const t of r.tables) {
    const state =
      t.onlyLive === 0 && t.onlyRebuilt === 0
        ? 'equal'
        : `${formatCount(t.onlyLive)} row(s) only live, ${formatCount(t.onlyRebuilt)} only rebuilt`;
    const ignored = t.ignoredColumns.length
      ? ` (not compared: ${t.ignoredColumns.join(', ')})`
      : '';
    say(
      `  ${t.table}: ${formatCount(t.liveRows)} live, ${formatCount(t.rebuiltRows)} rebuilt: ${state}${ignored}`,
    );
    for (const row of t.onlyLiveRows) say(`    only live:    ${JSON.stringify(row)}`);
    for (const row of t.onlyRebuiltRows) say(`    only rebuilt: ${JSON.stringify(row)}`);
    const more = t.onlyLive + t.onlyRebuilt - t.onlyLiveRows.length - t.onlyRebuiltRows.length;
    if (more > 0) say(`    … and ${formatCount(more)} more (--max-rows, --json)`);
  }
}
