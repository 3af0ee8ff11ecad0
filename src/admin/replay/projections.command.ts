import { Command, Help, Option } from 'nest-commander';
import { AdminCommand } from '../admin-context';
import { formatCount } from '../progress-line';
import { ProjectionsReport, projectionStatus } from './projection-status';
import { ReplayCliOptions, runReplayCommand } from './replay-cli';

/** `npm run admin -- projections [--json]`: each projection's checkpoint, lag and rate. */
@Command({
  name: 'projections',
  description:
    "each projection's checkpoint, events applied, lag (events, seconds), events/s, last error",
})
export class ProjectionsCommand extends AdminCommand {
  @Option({ flags: '--json', description: 'print the result as JSON on stdout' })
  parseJson(): boolean {
    return true;
  }

  @Help('after')
  helpAfter(): string {
    return `
Lag: events after the checkpoint, and the age of the oldest of them (0 at the head). Events/s:
the rate the runner wrote with its last checkpoint, over 10 s (0 when it wrote none for 10 s).
Rebuilds and verifies under way, or left by an interruption, are listed below the projections.
Exit status: 0; 2 bad usage or configuration.
`;
  }

  protected execute(_params: string[], options: Record<string, unknown>): Promise<number> {
    return runReplayCommand(this.context, options as ReplayCliOptions, {
      operation: null,
      args: {},
      keys: false,
      label: 'projections',
      run: (c) =>
        projectionStatus(
          c.deps.pool,
          c.deps.store,
          c.deps.projectors.map((p) => p.name),
        ),
      render: renderStatus,
    });
  }
}

function renderStatus(report: ProjectionsReport, say: (line: string) => void): void {
  const rows = report.projections.map((p) => [
    p.name,
    p.checkpoint,
    formatCount(p.eventsApplied),
    formatCount(p.lagEvents),
    p.lagSeconds.toFixed(1),
    formatCount(p.eventsPerSecond),
    p.updatedAt ?? '-',
    p.lastError ? `${p.lastError} (${p.lastErrorAt ?? '?'})` : '-',
  ]);
  table(
    [
      'projection',
      'checkpoint',
      'applied',
      'lag events',
      'lag s',
      'events/s',
      'updated',
      'last error',
    ],
    rows,
    say,
  );
  say(`event store: ${report.adapter}, head ${report.head ?? '(empty log)'}`);
  for (const c of report.copies) {
    say(
      `${c.kind} of ${c.projections.join(', ')} in ${c.schema}: ${c.state}, ` +
        `${formatCount(c.eventsApplied)} events applied (at ${c.checkpoint})` +
        (c.state === 'interrupted' && c.kind === 'rebuild'
          ? `; resume with npm run admin -- rebuild ${c.projections.map((n) => `--projection ${n}`).join(' ')}`
          : ''),
    );
  }
}

/** Columns padded to their widest cell; numbers right-aligned would need types, so left. */
export function table(head: string[], rows: string[][], say: (line: string) => void): void {
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const line = (cells: string[]) =>
    cells
      .map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i])))
      .join('  ')
      .trimEnd();
  say(line(head));
  for (const r of rows) say(line(r));
}
