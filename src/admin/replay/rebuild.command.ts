import { Command, Help, Option } from 'nest-commander';
import { AdminCommand, parseCount } from '../admin-context';
import { formatCount, formatDuration } from '../progress-line';
import { rebuild, RebuildResult } from './rebuild';
import { collectProjection, ReplayCliOptions, runReplayCommand } from './replay-cli';

interface RebuildCommandOptions extends ReplayCliOptions {
  readonly projection?: string[];
  readonly batchSize?: number;
  readonly lanes?: number;
  readonly indexesDuringLoad?: boolean;
}

/** `npm run admin -- rebuild [--projection <name>]... [--json]`. */
@Command({
  name: 'rebuild',
  description:
    'rebuild projections from position zero in shadow tables while the live ones serve, then swap them in',
})
export class RebuildCommand extends AdminCommand {
  @Option({
    flags: '--projection <name>',
    description: 'a projection to rebuild (repeat, or a,b); default: all',
  })
  parseProjection(value: string, previous?: string[]): string[] {
    return collectProjection(value, previous);
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

  @Option({
    flags: '--indexes-during-load',
    description:
      'keep every index up to date while loading, instead of building the non-unique ones after the load (slower; for comparison)',
  })
  parseIndexesDuringLoad(): boolean {
    return true;
  }

  @Option({ flags: '--json', description: 'print the result as JSON on stdout' })
  parseJson(): boolean {
    return true;
  }

  @Help('after')
  helpAfter(): string {
    return `
The live read models keep serving and the live projections keep running: the tables are built in
a schema of their own (rebuild_<id>), caught up to the head, then swapped in in one transaction
that pauses the live projections' writes for a moment (docs/admin/replay.md).

Interrupted at any point (Ctrl-C, a crash), the live read models are untouched; run the same
command again to resume. Needs MASTER_KEY (as the server has it) to open message content.

Exit status: 0 swapped in; 1 failed (run again to resume); 2 bad usage (an unknown projection);
130 interrupted (run again to resume).
`;
  }

  protected execute(_params: string[], raw: Record<string, unknown>): Promise<number> {
    const options = raw as RebuildCommandOptions;
    const projections = options.projection ?? [];
    return runReplayCommand(this.context, options, {
      operation: 'rebuild',
      args: { projection: projections },
      keys: true,
      label: 'rebuild',
      run: (c) =>
        rebuild(c.deps, {
          projections,
          batchSize: options.batchSize,
          lanes: options.lanes,
          deferIndexes: options.indexesDuringLoad !== true,
          signal: c.signal,
          onProgress: c.onProgress,
          onStarted: c.began,
        }),
      render: renderRebuild,
    });
  }
}

function renderRebuild(r: RebuildResult, say: (line: string) => void): void {
  say(
    `rebuilt ${r.projections.join(', ')} (${r.tables.length} tables)` +
      `${r.resumed ? ', resumed' : ''}: ${formatCount(r.eventsApplied)} events in ` +
      `${formatDuration(r.elapsedMs / 1000)} (${formatCount(r.eventsPerSecond)} events/s while loading)`,
  );
  say(
    `phases: load ${formatDuration(r.phasesMs.load / 1000)}, indexes ${formatDuration(r.phasesMs.index / 1000)} ` +
      `(${r.indexesCreated} created), catch-up ${formatDuration(r.phasesMs.catchUp / 1000)}, swap ${r.phasesMs.swap} ms`,
  );
  say(
    `swapped in at ${r.position}: live projections paused ${r.swap.pausedMs} ms, readers ` +
      `${r.swap.lockedMs} ms, ${r.swap.eventsApplied} events applied in the swap, ` +
      `${r.swap.attempts} attempt${r.swap.attempts === 1 ? '' : 's'}`,
  );
}
