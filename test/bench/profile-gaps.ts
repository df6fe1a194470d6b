/**
 * What ran during the longest event-loop stalls of a benchmark: matches the gaps that
 * `loop-gap-recorder.ts` wrote with the samples of a CPU profile of the same process
 * (`PIER_BENCH_CPU_PROF=<dir>`), and prints, for each of the longest gaps, the functions that
 * took its time (self, and with what they called).
 *
 *   node test/bench/profile-gaps.ts <loop-gaps.txt> <file.cpuprofile> [count=5]
 *
 * The profile of the main thread is the one whose samples cover the gaps; a worker thread's
 * profile shows its own work during them.
 */
import { readFileSync } from 'node:fs';
import { readLoopGaps, readRecordingClock } from './loop-gap-recorder.ts';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}
interface CpuProfile {
  nodes: ProfileNode[];
  startTime: number;
  samples: number[];
  timeDeltas: number[];
}

const [gapsFile, profileFile, countArg] = process.argv.slice(2);
if (gapsFile === undefined || profileFile === undefined) {
  console.error('usage: node test/bench/profile-gaps.ts <loop-gaps.txt> <file.cpuprofile> [count]');
  process.exit(2);
}
const clock = readRecordingClock(gapsFile);
/** Epoch ms → the profile's clock (monotonic µs). */
const toMonotonic = (epochMs: number): number =>
  clock.monotonicUs + (epochMs - clock.epochMs) * 1000;

const profile = JSON.parse(readFileSync(profileFile, 'utf8')) as CpuProfile;
const nodes = new Map(profile.nodes.map((n) => [n.id, n]));
const parents = new Map<number, number>();
for (const n of profile.nodes) for (const c of n.children ?? []) parents.set(c, n.id);
const label = (id: number): string => {
  const f = (nodes.get(id) as ProfileNode).callFrame;
  const where = f.url === '' ? '' : ` ${f.url.split('/').slice(-2).join('/')}:${f.lineNumber + 1}`;
  return `${f.functionName || '(anonymous)'}${where}`;
};
const times: number[] = [];
let t = profile.startTime;
for (const delta of profile.timeDeltas) {
  t += delta;
  times.push(t);
}
const end = times.at(-1) ?? profile.startTime;

const gaps = readLoopGaps(gapsFile)
  .filter((g) => toMonotonic(g.end) >= profile.startTime && toMonotonic(g.end - g.ms) <= end)
  .sort((a, b) => b.ms - a.ms)
  .slice(0, Number(countArg ?? 5));
const top = (m: Map<string, number>, n: number): string =>
  [...m]
    .sort((a, b) => b[1] - a[1])
    .slice(0, n)
    .map(([name, us]) => `    ${(us / 1000).toFixed(1).padStart(6)} ms  ${name}`)
    .join('\n');
for (const gap of gaps) {
  const from = toMonotonic(gap.end - gap.ms);
  const to = toMonotonic(gap.end);
  const self = new Map<string, number>();
  const total = new Map<string, number>();
  for (let i = 0; i < profile.samples.length; i++) {
    const at = times[i] as number;
    if (at < from || at > to) continue;
    const us = (times[i + 1] ?? at) - at;
    const id = profile.samples[i] as number;
    self.set(label(id), (self.get(label(id)) ?? 0) + us);
    const seen = new Set<string>();
    for (let x: number | undefined = id; x !== undefined; x = parents.get(x)) {
      const name = label(x);
      if (seen.has(name)) continue;
      seen.add(name);
      total.set(name, (total.get(name) ?? 0) + us);
    }
  }
  console.log(`\ngap of ${gap.ms.toFixed(1)} ms ending at ${new Date(gap.end).toISOString()}`);
  console.log(`  self:\n${top(self, 8)}\n  with callees:\n${top(total, 16)}`);
}
