/**
 * Summary of a V8 CPU profile (`node --cpu-prof`, e.g. `PROF=1 npm run bench:http-send`): self
 * time by function and by package (or source folder), and total time (self + callees) of
 * selected frames.
 *   npx ts-node --transpile-only bench/profile-summary.ts /tmp/prof/<file>.cpuprofile [TOP]
 */
import { readFileSync } from 'node:fs';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}

interface Profile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
  startTime: number;
  endTime: number;
}

/** node_modules/<package>, or the project folder (src/messaging, projections), or (program). */
function area(url: string, name: string): string {
  if (!url) return name.startsWith('(') ? name : '(native)';
  const m = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url);
  if (m) return m[1];
  if (url.startsWith('node:')) return url.replace(/^node:(internal\/)?/, 'node:').split('/')[0];
  const d =
    /\/dist\/((?:src|projections)\/[^/]+)/.exec(url) ?? /\/((?:src|projections)\/[^/]+)/.exec(url);
  return d ? d[1] : url;
}

/** The project file of a frame (src/…, projections/…), or '' for anything else. */
function projectFile(url: string): string {
  if (url.includes('node_modules')) return '';
  const m =
    /\/dist\/((?:src|projections)\/.*)$/.exec(url) ?? /\/((?:src|projections)\/.*)$/.exec(url);
  return m ? m[1] : '';
}

function main(): void {
  const [file, topArg] = process.argv.slice(2);
  if (!file) throw new Error('usage: profile-summary.ts <file.cpuprofile> [top]');
  const top = Number(topArg ?? 30);
  const p = JSON.parse(readFileSync(file, 'utf8')) as Profile;
  const byId = new Map(p.nodes.map((n) => [n.id, n]));
  const parent = new Map<number, number>();
  for (const n of p.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const self = new Map<number, number>();
  p.samples.forEach((id, i) => self.set(id, (self.get(id) ?? 0) + (p.timeDeltas[i] ?? 0)));
  const total = [...self.values()].reduce((a, b) => a + b, 0);

  const byFunction = new Map<string, number>();
  const byArea = new Map<string, number>();
  // Inclusive time per function name (counted once per sample even when recursive).
  const inclusive = new Map<string, number>();
  for (const [id, us] of self) {
    const n = byId.get(id)!;
    const f = n.callFrame;
    const key = `${f.functionName || '(anonymous)'} ${projectFile(f.url) || area(f.url, f.functionName)}:${f.lineNumber + 1}`;
    byFunction.set(key, (byFunction.get(key) ?? 0) + us);
    const a = area(f.url, f.functionName);
    byArea.set(a, (byArea.get(a) ?? 0) + us);
    const seen = new Set<string>();
    for (let cur: number | undefined = id; cur !== undefined; cur = parent.get(cur)) {
      const cf = byId.get(cur)!.callFrame;
      const k = `${cf.functionName || '(anonymous)'} ${projectFile(cf.url) || area(cf.url, cf.functionName)}`;
      if (seen.has(k)) continue;
      seen.add(k);
      inclusive.set(k, (inclusive.get(k) ?? 0) + us);
    }
  }
  const pct = (us: number) => `${((100 * us) / total).toFixed(1).padStart(5)} %`;
  const print = (title: string, m: Map<string, number>, n: number) => {
    process.stdout.write(`\n${title}\n`);
    for (const [k, us] of [...m].sort((a, b) => b[1] - a[1]).slice(0, n)) {
      process.stdout.write(`${pct(us)}  ${(us / 1000).toFixed(0).padStart(7)} ms  ${k}\n`);
    }
  };
  process.stdout.write(
    `${file}: ${(total / 1e6).toFixed(1)} s sampled over ${((p.endTime - p.startTime) / 1e6).toFixed(1)} s\n`,
  );
  print('self time by package / folder', byArea, 25);
  print('self time by function', byFunction, top);
  print('total time (self + callees) by function', inclusive, top);
}

main();
