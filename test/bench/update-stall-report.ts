/**
 * The figures of test/bench/update-stall.ts: what one measured window of requests and scrapes
 * comes to, and its section of docs/benchmarks.md.
 */
import { quantile } from './bench-env.ts';
import { type LoopGap, longestGap, RECORD_OVER_MS } from './loop-gap-recorder.ts';
import { mib } from './proxy-throughput-report.ts';
import type { SampledRequest, SampledScrape } from './request-sampler.ts';

/** Issue 18's targets, ms. */
export const STALL_TARGET_MS = 50;
export const P99_TARGET_MS = 100;

/** One live update as measured. */
export interface UpdateFigures {
  /** The serving thread's longest garbage-collection pause in the window, ms (over 5 ms only). */
  longestGcMs?: number;
  /** The longest event-loop gap in the window ({@link LoopGap}), ms; 0 when none over 15 ms. */
  stallMs: number;
  /** When that gap began, from the publication, ms. */
  stallAtMs: number;
  /** Gaps in the window over the stall target. */
  gapsOverTarget: number;
  /**
   * The largest `pier_nodejs_eventloop_lag_max_seconds` a scrape read, ms (an idle loop reads
   * 10); NaN if none did. See {@link lagMetricText} for what it misses.
   */
  lagMetricMs: number;
  /**
   * Scrapes that failed, and readings of 0 (no tick between two collections, so another came
   * between: a scrape the dataplane answered after its client gave up). Either way part of the
   * histogram went unread.
   */
  scrapeFailures: number;
  emptyReadings: number;
  requests: number;
  failed: number;
  /** Failed requests by reason (`HTTP 503 PIER_NO_ENDPOINT`, `ECONNRESET`...). */
  failures: Record<string, number>;
  p50Ms: number;
  p99Ms: number;
  maxMs: number;
  /** Probes sent in the window. */
  probes: number;
  /** V8's used heap at the last scrape, bytes. */
  heapUsed: number;
  /** The last scrape: page size and how long it took. */
  scrapeBytes: number;
  scrapeMs: number;
  /** How long the benchmark took to publish the table to Redis, ms; absent with no update. */
  publishMs?: number;
  /** From the start of the publication until a scrape showed the revision, ms. */
  appliedMs?: number;
  /** RSS and its peak (VmHWM) at the end of the window, bytes. */
  memory: { rss: number; hwm: number };
}

/** What one window of samples is. */
export interface WindowSamples {
  requests: readonly SampledRequest[];
  scrapes: readonly SampledScrape[];
  scrapeFailures: readonly string[];
  /** The loop gaps of the dataplane process, all recorded so far. */
  gaps: readonly LoopGap[];
  /** When the window began and ended, and when the update was published (or would have been). */
  from: number;
  to: number;
  publishedAt: number;
}

/**
 * Request and stall figures of a window. Of the scrapes, the first only resets prom-client's
 * event-loop histogram (it read the time before the window); each later one reads the largest
 * delay since the one before it.
 */
export function measuredWindow(
  w: WindowSamples,
  names: { lagMax: string; probes: string; heapUsed: string },
): Omit<UpdateFigures, 'publishMs' | 'appliedMs' | 'memory'> {
  const longest = longestGap(w.gaps, w.from, w.to);
  const readings = w.scrapes.slice(1).map((s) => (s.values[names.lagMax] ?? 0) * 1000);
  const latencies = w.requests.map((r) => r.ms);
  const failures: Record<string, number> = {};
  for (const r of w.requests) {
    if (r.failure !== undefined) failures[r.failure] = (failures[r.failure] ?? 0) + 1;
  }
  const first = w.scrapes[0];
  const last = w.scrapes.at(-1);
  return {
    stallMs: longest.ms,
    stallAtMs: longest.end - longest.ms - w.publishedAt,
    gapsOverTarget: w.gaps.filter(
      (g) => g.end >= w.from && g.end - g.ms <= w.to && g.ms > STALL_TARGET_MS,
    ).length,
    lagMetricMs: readings.length > 0 ? Math.max(...readings) : Number.NaN,
    scrapeFailures: w.scrapeFailures.length,
    emptyReadings: readings.filter((ms) => ms === 0).length,
    requests: w.requests.length,
    failed: w.requests.filter((r) => !r.ok).length,
    failures,
    p50Ms: quantile(latencies, 0.5),
    p99Ms: quantile(latencies, 0.99),
    maxMs: Math.max(...latencies),
    probes: (last?.values[names.probes] ?? 0) - (first?.values[names.probes] ?? 0),
    heapUsed: last?.values[names.heapUsed] ?? 0,
    scrapeBytes: last?.bytes ?? 0,
    scrapeMs: last ? last.doneAt - last.at : 0,
  };
}

export const passes = (f: UpdateFigures): boolean =>
  f.stallMs < STALL_TARGET_MS && f.p99Ms < P99_TARGET_MS;

const num = (v: number, digits = 0): string =>
  v.toLocaleString('en', { minimumFractionDigits: digits, maximumFractionDigits: digits });

/** The longest stall as a table shows it. */
export const stallText = (f: UpdateFigures): string =>
  f.stallMs === 0 ? `< ${RECORD_OVER_MS} ms` : `${num(f.stallMs)} ms`;

/**
 * prom-client's reading as a table shows it: `≥` when part of the histogram went unread. Even
 * without that it can miss a stall: Node's histogram forgets its last tick when reset, so work
 * that starts in the turn of the loop that answers a scrape, before the next tick, is not
 * counted; on a loop busy with long turns most of them are lost.
 */
export const lagMetricText = (f: UpdateFigures): string =>
  Number.isNaN(f.lagMetricMs)
    ? 'not read'
    : `${f.scrapeFailures + f.emptyReadings > 0 ? '≥ ' : ''}${num(f.lagMetricMs)} ms`;

export interface UpdateStallReport {
  command: string;
  machine: string;
  date: string;
  /** The product code measured (`git log -1 -- packages`). */
  commit: string;
  /** The least time measured after an update shows, and the wrk traffic before a warm run, s. */
  settleS: number;
  warmS: number;
  rows: Array<{ title: string; run: string; figures: UpdateFigures }>;
}

/** How each window of a scenario is named in the table. */
export const RUN_NAMES: Record<string, string> = {
  cold: 'cold',
  revert: 'revert to one route',
  warm: 'warm',
  settled: 'warm, 5 s later, no update',
};

function table(r: UpdateStallReport): string {
  const rows = r.rows.map(({ title, run, figures: f }) =>
    [
      title,
      RUN_NAMES[run] ?? run,
      stallText(f),
      lagMetricText(f),
      `${num(f.p50Ms, 1)} ms`,
      `${num(f.p99Ms, 1)} ms`,
      `${num(f.maxMs)} ms`,
      num(f.requests),
      num(f.failed),
      f.appliedMs === undefined ? '-' : `${num(f.appliedMs / 1000, 1)} s`,
      num(f.probes),
      mib(f.heapUsed),
      mib(f.memory.rss),
      passes(f) ? 'PASS' : 'FAIL',
    ].join(' | '),
  );
  const failures = r.rows
    .filter(({ figures: f }) => f.failed > 0)
    .map(({ title, run, figures: f }) => {
      const why = Object.entries(f.failures).map(([reason, n]) => `${num(n)} \`${reason}\``);
      return `- ${title}, ${RUN_NAMES[run] ?? run}: ${why.join(', ')}`;
    });
  return [
    '| update | process | longest stall | lag metric | p50 | p99 | max | requests | failed | shown after | probes | heap used | RSS | targets |',
    '| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |',
    ...rows.map((row) => `| ${row} |`),
    ...(failures.length > 0 ? ['', 'Failed requests:', '', ...failures] : []),
  ].join('\n');
}

/** The section of docs/benchmarks.md, and the same figures as the "before" section. */
export function renderUpdateStall(r: UpdateStallReport): { section: string; before: string } {
  const runLine = `\`${r.command}\`, on ${r.machine}, ${r.date}, dataplane code at commit ${r.commit}.`;
  const section = `## Event-loop stalls during large table updates

${runLine}

One dataplane (one worker, pinned to core 0; Redis, the backend nginx, wrk and the benchmark on
core 1) serves one route. Each update replaces that table with a large one: the one route plus
hosts whose endpoints are loopback ports where nothing listens, so that probes are refused at once.
It runs first on a **cold** process, 3 s after the process first served; then the same process is
reverted to the one route (itself a large update, measured for 5 s after it shows), serves wrk
traffic for ${r.warmS} s, and applies the same update again, **warm**; the last row of each group is
5 s of that process with no update.

From 1 s before the publication until a settle window after the new revision shows on /metrics
(at least ${r.settleS} s, and 2 s past the spread of the first probes of the new endpoints: 2,000
per second, over at most one interval), four closed loops ask for the one route (request, 5 ms
pause; kept-alive connections) from a worker thread, whose clock the benchmark's own work does not
hold up; /metrics is scraped every 250 ms until the revision shows, then every second.
Percentiles and the maximum are those of every request in the window.

The **longest stall** is the longest time the dataplane's main thread ran none of its timers: a
module preloaded into it by the benchmark (\`test/bench/loop-gap-recorder.ts\`, no change to the
dataplane) runs a timer every 5 ms and writes down every gap between its runs over 15 ms. The
**lag metric** is what the dataplane reports itself, the largest
\`pier_nodejs_eventloop_lag_max_seconds\` of the scrapes (prom-client: the maximum of Node's
event-loop delay histogram since the previous scrape, sampled every 10 ms). It reads low: Node's
histogram forgets its last tick when prom-client resets it at each scrape, so work that starts in
the turn of the loop that answered the scrape is not counted, and on a loop busy with long turns
most of them are lost; \`≥\`: a scrape failed or another collection came between two (a reading of
0). Both measure the longest single turn of the loop; a loop busy with many shorter turns keeps
requests waiting far longer, as the max column shows. Probes: \`pier_dataplane_probes_total\` over
the window; heap used (V8) and RSS at its end. Targets (issue 18): longest stall under
${STALL_TARGET_MS} ms, p99 under ${P99_TARGET_MS} ms.

${table(r)}`;
  const before = `### Before: dataplane code at commit ${r.commit}

${runLine}

${table(r)}`;
  return { section, before };
}
