/**
 * The server's on-CPU time by area, from `perf script` output of a `perf record -g` of the server
 * process (all its threads: the GC helpers too). Run the server with `--perf-basic-prof` so
 * JavaScript frames have names; each sample goes to the innermost frame of a known area.
 *   NODE_OPTIONS=--perf-basic-prof MESSAGES=30000 npm run bench:http-send &
 *   perf record -F 1999 -g -p <server pid> -o /tmp/perf.data -- sleep 10
 *   perf script -i /tmp/perf.data > /tmp/perf.txt
 *   npx ts-node --transpile-only bench/perf-summary.ts /tmp/perf.txt
 */
import { readFileSync } from 'node:fs';

const AREAS: [string, RegExp][] = [
  [
    'conversation state (domain/conversation.ts: evolve, bounded)',
    /messaging\/domain\/conversation\.js/,
  ],
  ['projections (in the API process)', /projections\/|projection-runner/],
  ['request logging (pino, pino-http)', /pino|sonic-boom/],
  ['JWT verification', /jsonwebtoken|\/jws\/|\/jwa\/|jwt\.service/],
  [
    'validation (class-validator, class-transformer)',
    /class-validator|class-transformer|validation\.pipe/,
  ],
  ['content encryption (KeyRing)', /key-ring\.js/],
  [
    'send handler, limits, relations, command processor',
    /dist\/src\/(messaging|relations|common|accounts)\//,
  ],
  ['event store adapter', /dist\/src\/event-store\//],
  [
    'pg client (pg, pg-protocol, pg-pool)',
    /node_modules\/(pg|pg-pool|pg-protocol|postgres-[a-z]+)\//,
  ],
  [
    'HTTP, Express, Nest',
    /_http_|node_modules\/(router|express|body-parser|raw-body|@nestjs|on-finished|parseurl)\/|dist\/src\/(app\.factory|server|main)\.js/,
  ],
];
const GC =
  /v8::internal::(Heap|Scavenge|Mark|Sweep|Concurrent|MinorGC|MinorMark|Evacuat|IncrementalMarking|\w*GC)/;

function main(): void {
  const file = process.argv[2];
  if (!file) throw new Error('usage: perf-summary.ts <perf script output>');
  const counts = new Map<string, number>();
  let total = 0;
  let kernel = 0;
  for (const sample of readFileSync(file, 'utf8').split('\n\n')) {
    const frames = sample
      .trim()
      .split('\n')
      .slice(1)
      .map((l) => l.trim())
      .filter(Boolean);
    if (frames.length === 0) continue;
    total++;
    if (frames[0].includes('[kernel.kallsyms]')) kernel++;
    let area: string | undefined;
    if (frames.slice(0, 4).some((f) => GC.test(f))) area = 'garbage collection';
    for (const f of frames) {
      if (area) break;
      area = AREAS.find(([, rx]) => rx.test(f))?.[0];
    }
    area ??= frames[0].includes('[kernel.kallsyms]')
      ? 'kernel (not under a known area)'
      : 'other (node internals, V8, libuv)';
    counts.set(area, (counts.get(area) ?? 0) + 1);
  }
  for (const [area, n] of [...counts].sort((a, b) => b[1] - a[1])) {
    process.stdout.write(`${((100 * n) / total).toFixed(1).padStart(5)} %  ${area}\n`);
  }
  process.stdout.write(
    `${total} samples; ${((100 * kernel) / total).toFixed(1)} % of them end in the kernel\n`,
  );
}

main();
