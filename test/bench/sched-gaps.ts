/**
 * What the kernel saw during the longest event-loop stalls of a benchmark: matches the gaps that
 * `loop-gap-recorder.ts` wrote with a scheduler trace of the dataplane's core, and prints, for
 * each gap, how long the serving thread ran, slept and waited for the core, what held the core
 * meanwhile, and the call chain of its longest absence. CPU profiles (`profile-gaps.ts`) show
 * only JavaScript and collections; this shows a thread that was runnable and not run, or blocked
 * on a lock.
 *
 *   perf record -C 0 -k mono -g -e sched:sched_switch -e sched:sched_wakeup -o sched.data &
 *   flock /tmp/pier-bench.lock node --conditions=@pier/source test/bench/update-stall.ts
 *   kill -INT %1; perf script -i sched.data -F comm,pid,tid,cpu,time,event,trace,ip,sym > sched.txt
 *   node test/bench/sched-gaps.ts sched.txt .test-state/bench-update-stall/<run>-loop-gaps.txt [count=5]
 *
 * `-C 0` is the core update-stall.ts pins the dataplane to; `-k mono` puts the trace on the
 * monotonic clock the gap file's header gives. A wake-up is traced on the core of the waker, so
 * one from another core is missing: the time from it to the next run then counts as asleep.
 */
import { createReadStream } from 'node:fs';
import { createInterface } from 'node:readline';
import { type LoopGap, readLoopGaps, readRecordingClock } from './loop-gap-recorder.ts';

const [traceFile, gapsFile, countArg] = process.argv.slice(2);
if (traceFile === undefined || gapsFile === undefined) {
  console.error('usage: node test/bench/sched-gaps.ts <perf-script.txt> <loop-gaps.txt> [count]');
  process.exit(2);
}
const clock = readRecordingClock(gapsFile);
if (clock.pid === undefined) throw new Error(`${gapsFile}: no '# pid' line (an older run)`);
const serving = clock.pid;
/** Epoch ms → the trace's clock (monotonic s). */
const toTrace = (epochMs: number): number =>
  clock.monotonicUs / 1e6 + (epochMs - clock.epochMs) / 1000;

/** The recorder starts with the process: the gaps of its first seconds are the start itself. */
const STARTING_MS = 2_000;
const windows = readLoopGaps(gapsFile)
  .filter((g) => g.end - g.ms > clock.epochMs + STARTING_MS)
  .sort((a, b) => b.ms - a.ms)
  .slice(0, Number(countArg ?? 5))
  .map((gap) => ({ gap, from: toTrace(gap.end - gap.ms), to: toTrace(gap.end) }));

interface Switch {
  at: number;
  prevTid: number;
  prevComm: string;
  prevState: string;
  nextTid: number;
  nextComm: string;
  chain: string[];
}
interface Window {
  gap: LoopGap;
  from: number;
  to: number;
  switches: Switch[];
  wakeups: number[];
}
const traced: Window[] = windows.map((w) => ({ ...w, switches: [], wakeups: [] }));
/** Events a little before a gap tell who held the core when it began. */
const MARGIN_S = 0.05;
const inWindows = (t: number): Window[] =>
  traced.filter((w) => t >= w.from - MARGIN_S && t <= w.to);

const EVENT = /^\s*(.+?)\s+(\d+)\/(\d+)\s+\[\d+\]\s+([\d.]+):\s+(?:\d+\s+)?([\w:-]+):\s*(.*)$/;
const SWITCH =
  /prev_comm=(.*?) prev_pid=(\d+) prev_prio=\d+ prev_state=(\S+) ==> next_comm=(.*?) next_pid=(\d+)/;
const WAKEUP = /comm=.*? pid=(\d+) /;
let current: Switch | undefined;
const lines = createInterface({ input: createReadStream(traceFile), crlfDelay: Infinity });
for await (const line of lines) {
  const event = EVENT.exec(line);
  if (event === null) {
    // A call-chain line of the event before: "\t ffffffff symbol+0x12 (dso)".
    const frame = line.trim().split(/\s+/)[1];
    if (current !== undefined && frame !== undefined && current.chain.length < 16)
      current.chain.push(frame.replace(/\+0x[\da-f]+$/, ''));
    continue;
  }
  current = undefined;
  const [, , , , time, name, rest] = event;
  const at = Number(time);
  const ws = inWindows(at);
  if (ws.length === 0) continue;
  if (name === 'sched:sched_switch') {
    const s = SWITCH.exec(rest ?? '');
    if (s === null) continue;
    current = {
      at,
      prevComm: s[1] ?? '',
      prevTid: Number(s[2]),
      prevState: s[3] ?? '',
      nextComm: s[4] ?? '',
      nextTid: Number(s[5]),
      chain: [],
    };
    for (const w of ws) w.switches.push(current);
  } else if (name === 'sched:sched_wakeup') {
    const s = WAKEUP.exec(rest ?? '');
    if (s !== null && Number(s[1]) === serving) for (const w of ws) w.wakeups.push(at);
  }
}

const ms = (s: number): string => `${(s * 1000).toFixed(1)} ms`;
for (const w of traced) {
  const clip = (t: number): number => Math.min(Math.max(t, w.from), w.to);
  const ran = new Map<string, number>();
  let onCore: string | undefined;
  let since = w.from;
  let out: Switch | undefined;
  let running = 0;
  let waiting = 0;
  let asleep = 0;
  let longest: { s: number; state: string; chain: string[] } = { s: 0, state: '', chain: [] };
  const absence = (sw: Switch, back: number): void => {
    const woken = sw.prevState === 'R' ? sw.at : (w.wakeups.find((t) => t >= sw.at) ?? back);
    const wokenAt = Math.min(woken, back);
    asleep += clip(wokenAt) - clip(sw.at);
    waiting += clip(back) - clip(wokenAt);
    if (clip(back) - clip(sw.at) > longest.s)
      longest = { s: clip(back) - clip(sw.at), state: sw.prevState, chain: sw.chain };
  };
  for (const sw of w.switches) {
    const at = clip(sw.at);
    if (onCore !== undefined) ran.set(onCore, (ran.get(onCore) ?? 0) + at - since);
    onCore = `${sw.nextComm}/${sw.nextTid}`;
    since = at;
    if (sw.prevTid === serving) out = sw;
    if (sw.nextTid === serving) {
      if (out !== undefined) absence(out, sw.at);
      out = undefined;
    }
  }
  if (onCore !== undefined) ran.set(onCore, (ran.get(onCore) ?? 0) + w.to - since);
  if (out !== undefined) absence(out, w.to);
  for (const [who, s] of ran) if (who.endsWith(`/${serving}`)) running += s;
  const others = [...ran.entries()]
    .filter(([who]) => !who.endsWith(`/${serving}`) && !who.startsWith('swapper'))
    .sort((a, b) => b[1] - a[1])
    .slice(0, 6);
  console.log(`\ngap of ${w.gap.ms.toFixed(1)} ms ending at ${w.gap.end.toFixed(1)} (epoch ms)`);
  console.log(
    `  serving thread ${serving}: ran ${ms(running)}, runnable and waiting ${ms(waiting)}, asleep or blocked ${ms(asleep)}`,
  );
  console.log(`  on the core meanwhile: ${others.map(([who, s]) => `${who} ${ms(s)}`).join(', ')}`);
  if (longest.s > 0)
    console.log(
      `  longest absence ${ms(longest.s)} (left in state ${longest.state}): ${longest.chain.join(' < ')}`,
    );
}
