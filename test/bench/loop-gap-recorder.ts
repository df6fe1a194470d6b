/**
 * Records the event-loop stalls of a process it is preloaded into (`node --import <this file>`),
 * for benchmarks that must not change the process they measure: a timer every
 * {@link TICK_MS} on the main thread appends each gap between its runs longer than
 * {@link RECORD_OVER_MS} to the file named by `PIER_BENCH_LOOP_GAPS`, as `<end> <gap>` (epoch ms
 * with fractions, ms). Nothing resets it and nothing reads it in the process, so unlike a
 * scraped histogram it misses no stall; a gap of G ms means the loop ran no timer for G − 5 to G
 * ms. A first line `# monotonic <µs> epoch <ms>` ties the epoch to the monotonic clock of CPU
 * profiles (`--cpu-prof`) and scheduler traces (`perf record -k mono`), so that a gap can be found
 * in one, and `# pid <pid>` names the process (its main thread's tid, in a trace). Without the
 * variable it does nothing.
 */
import { closeSync, openSync, readFileSync, writeSync } from 'node:fs';
import { PerformanceObserver } from 'node:perf_hooks';
import { isMainThread, threadId } from 'node:worker_threads';

export const TICK_MS = 5;
/** Shorter gaps are not written: an idle loop's are 5 to 6 ms. */
export const RECORD_OVER_MS = 15;
export const LOOP_GAPS_ENV = 'PIER_BENCH_LOOP_GAPS';
/** Shorter collections are not written. */
export const GC_RECORD_OVER_MS = 5;

/** One recorded gap: when the timer ran again, and how long after its previous run. */
export interface LoopGap {
  end: number;
  ms: number;
}

/** The lines of `file` so far; none when it does not exist (yet). */
function recordedLines(file: string): string[] {
  try {
    return readFileSync(file, 'utf8').split('\n');
  } catch {
    return [];
  }
}

/** The gaps recorded in `file` so far. */
export function readLoopGaps(file: string): LoopGap[] {
  return recordedLines(file)
    .filter((line) => line !== '' && !line.startsWith('#'))
    .map((line) => {
      const [end, ms] = line.split(' ').map(Number);
      return { end: end as number, ms: ms as number };
    });
}

/** One recorded collection: on which thread (0: the main one), when, how long, of which kind. */
export interface GcPause {
  thread: number;
  start: number;
  ms: number;
  kind: number;
}

/** The collections recorded in `file` so far. */
export function readGcPauses(file: string): GcPause[] {
  return recordedLines(file)
    .filter((line) => line.startsWith('# gc '))
    .map((line) => {
      const [thread, start, ms, kind] = line.slice(5).split(' ').map(Number);
      return { thread: thread ?? 0, start: start ?? 0, ms: ms ?? 0, kind: kind ?? 0 };
    });
}

/** What a gap file's header ties together: the clocks, and the process that recorded it. */
export interface RecordingClock {
  /** `process.hrtime` (monotonic) at the start of the recording, µs. */
  monotonicUs: number;
  /** The same instant as epoch ms (the clock of the gaps and pauses). */
  epochMs: number;
  /** The recording process (its main thread's tid); undefined for files of older runs. */
  pid: number | undefined;
}

/** The header of `file`; throws when it has none (recorded by an older run). */
export function readRecordingClock(file: string): RecordingClock {
  const text = recordedLines(file).join('\n');
  const clock = /^# monotonic (\d+) epoch ([\d.]+)$/m.exec(text);
  if (clock === null) throw new Error(`${file}: no '# monotonic' line (recorded by an older run)`);
  const pid = /^# pid (\d+)$/m.exec(text);
  return {
    monotonicUs: Number(clock[1]),
    epochMs: Number(clock[2]),
    pid: pid === null ? undefined : Number(pid[1]),
  };
}

/** The longest gap that overlaps `[from, to]`, ms; 0 when none over {@link RECORD_OVER_MS} did. */
export function longestGap(gaps: readonly LoopGap[], from: number, to: number): LoopGap {
  let longest: LoopGap = { end: from, ms: 0 };
  for (const g of gaps) {
    if (g.end >= from && g.end - g.ms <= to && g.ms > longest.ms) longest = g;
  }
  return longest;
}

const file = process.env[LOOP_GAPS_ENV];
if (file && isMainThread) {
  const fd = openSync(file, 'a');
  const now = (): number => performance.timeOrigin + performance.now();
  let last = now();
  const monotonic = process.hrtime.bigint() / 1000n;
  writeSync(fd, `# monotonic ${monotonic} epoch ${last.toFixed(3)}\n`);
  writeSync(fd, `# pid ${process.pid}\n`);
  setInterval(() => {
    const t = now();
    const gap = t - last;
    last = t;
    if (gap > RECORD_OVER_MS) writeSync(fd, `${t.toFixed(1)} ${gap.toFixed(1)}\n`);
  }, TICK_MS).unref();
  process.once('exit', () => closeSync(fd));
}

/**
 * Garbage-collection pauses of every thread (the main one and workers, which load this module
 * too) longer than {@link GC_RECORD_OVER_MS}, as `# gc <thread id> <start> <ms> <kind>` lines in
 * the same file (epoch ms; kind as `PerformanceEntry.detail.kind`: 1 scavenge, 2 young-generation
 * mark-sweep, 4 mark-compact, 8 incremental marking), so that a gap can be told from a pause.
 */
if (file) {
  const fd = openSync(file, 'a');
  new PerformanceObserver((list) => {
    for (const e of list.getEntries()) {
      if (e.duration <= GC_RECORD_OVER_MS) continue;
      const kind = (e as unknown as { detail?: { kind?: number } }).detail?.kind ?? 0;
      const start = (performance.timeOrigin + e.startTime).toFixed(1);
      writeSync(fd, `# gc ${threadId} ${start} ${e.duration.toFixed(1)} ${kind}\n`);
    }
  }).observe({ entryTypes: ['gc'] });
}
