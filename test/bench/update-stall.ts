/**
 * Benchmark: how long the dataplane's event loop stalls, and how slow other requests get, while
 * it applies a large route table as a live update (issue 18).
 *
 *   flock /tmp/pier-bench.lock node --conditions=@pier/source test/bench/update-stall.ts
 *
 * Sizes and windows from the environment (defaults in brackets): PIER_BENCH_HOSTS [10000] for
 * the host update; PIER_BENCH_ENDPOINTS [50000] spread over PIER_BENCH_ENDPOINT_HOSTS [10000]
 * backends for the endpoint update (1: one backend gains them all); PIER_BENCH_SETTLE_S [10],
 * the least time measured after the update shows; PIER_BENCH_WARM_S [10] of wrk traffic before
 * a warm run; PIER_BENCH_SCENARIOS [hosts,endpoints,endpoints-5s] to run only some;
 * PIER_BENCH_BEFORE=1 also records the figures as the "before" section; PIER_BENCH_CPU_PROF=<dir>
 * writes a CPU profile of each dataplane there (`--cpu-prof`; it slows the dataplane down).
 *
 * One dataplane (one worker, pinned to core 0; everything else on core 1) serves the one bench
 * route. Each update goes from that small table to a large one: on a cold process (started
 * fresh, the update published 3 s after it first serves), then on the same process made warm
 * (reverted to the small table, wrk traffic), so that it applies the same update a second time;
 * then that process is sampled with no update. A worker thread meanwhile keeps four closed
 * request loops on the bench host (request, 5 ms pause) and scrapes /metrics, from 1 s before
 * the publication until the settle window after the new revision shows on /metrics.
 *
 * The longest stall is the longest gap between the runs of a 5 ms timer that
 * loop-gap-recorder.ts, preloaded into the dataplane, keeps on its main thread. The dataplane's
 * own `pier_nodejs_eventloop_lag_max_seconds` is shown beside it: prom-client resets Node's
 * histogram at every scrape, and Node then drops the interval up to its next tick, so the metric
 * misses work that begins in the turn of the loop that answered a scrape (on a busy loop, most).
 * Every request, scrape and gap of a window is kept in .test-state/bench-update-stall/.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  FIRST_PROBES_PER_SECOND,
  SETTINGS_CHANGE_MS,
} from '../../packages/dataplane/src/health/probe-scheduler.ts';
import { startRedis, type TestRedis } from '../lib/redis-server.ts';
import { connectPublisher, type RouteContent, type TestPublisher } from '../lib/route-tables.ts';
import { REPO_ROOT } from '../lib/test-cluster.ts';
import { type BenchDataplane, startBenchDataplane, writeBenchKeyRing } from './bench-dataplane.ts';
import { machineLine, writeBenchSection } from './bench-env.ts';
import { type GroupProcess, groupMemory, runTracked, trackChild } from './bench-processes.ts';
import { BenchProgress } from './bench-progress.ts';
import { LOOP_GAPS_ENV, readGcPauses, readLoopGaps } from './loop-gap-recorder.ts';
import { startBackendNginx } from './proxy-peers.ts';
import { BENCH_HOST, benchTable, largeTable } from './proxy-routes.ts';
import { mib } from './proxy-throughput-report.ts';
import { nowMs, startRequestSampler } from './request-sampler.ts';
import {
  lagMetricText,
  measuredWindow,
  RUN_NAMES,
  renderUpdateStall,
  STALL_TARGET_MS,
  stallText,
  type UpdateFigures,
} from './update-stall-report.ts';
import { runWrk } from './wrk.ts';

const CPU_PROF_DIR = process.env.PIER_BENCH_CPU_PROF || undefined;
const envInt = (name: string, fallback: number, min: number, max: number): number => {
  const text = process.env[name];
  const value = text === undefined || text === '' ? fallback : Number(text);
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new Error(`${name}: an integer from ${min} to ${max}, not ${text}`);
  }
  return value;
};
const HOSTS = envInt('PIER_BENCH_HOSTS', 10_000, 1, 50_000);
const ENDPOINTS = envInt('PIER_BENCH_ENDPOINTS', 50_000, 1, 50_000);
const ENDPOINT_HOSTS = envInt('PIER_BENCH_ENDPOINT_HOSTS', Math.min(10_000, ENDPOINTS), 1, 50_000);
const SETTLE_MS = envInt('PIER_BENCH_SETTLE_S', 10, 1, 600) * 1000;
const WARM_S = envInt('PIER_BENCH_WARM_S', 10, 1, 60);
const BEFORE = process.env.PIER_BENCH_BEFORE === '1';
if (ENDPOINTS % ENDPOINT_HOSTS !== 0) {
  throw new Error('PIER_BENCH_ENDPOINTS must be a multiple of PIER_BENCH_ENDPOINT_HOSTS');
}

const OK = 'ok\n';
const PROXY_CORE = '0';
const LOAD_CORE = '1';
/** The interval of the endpoint update's variant whose probes recur within the window. */
const SHORT_INTERVAL_MS = 5_000;
const HOURLY_MS = 3_600_000;
/** A cold process gets its update this long after it first serves. */
const COLD_WAIT_MS = 3_000;
/** Requests and scrapes start this long before the publication. */
const LEAD_MS = 1_000;
/** After the warm run, the process is sampled this long with no update; and after a revert. */
const SETTLED_MS = 5_000;
/** A request or scrape unanswered this long fails (and bounds how long a window overruns). */
const REQUEST_TIMEOUT_MS = 60_000;
/** Bound on the wait for a revision to show (it may block the event loop for long). */
const APPLY_TIMEOUT_MS = 600_000;
const STATE = join(REPO_ROOT, '.test-state', 'bench-update-stall');
const REVISION = 'pier_dataplane_route_revision';
const LAG_MAX = 'pier_nodejs_eventloop_lag_max_seconds';
const PROBES = 'pier_dataplane_probes_total';
const HEAP_USED = 'pier_nodejs_heap_size_used_bytes';

const LOOP_GAP_RECORDER = join(REPO_ROOT, 'test', 'bench', 'loop-gap-recorder.ts');

/** A dataplane with the loop-gap recorder preloaded, and where it writes. */
type Dataplane = BenchDataplane & { gapsFile: string };

const log = (text: string): void =>
  console.log(`[${new Date().toISOString().slice(11, 19)}] ${text}`);
const sleep = (t: number): Promise<void> => new Promise((r) => setTimeout(r, t));

interface Scenario {
  id: string;
  title: string;
  build: (backendPort: number) => RouteContent;
  /** Endpoints new to the table: each a probe target. */
  targets: number;
  intervalMs: number;
}

const perHost = ENDPOINTS / ENDPOINT_HOSTS;
const endpointsTitle = (every: string): string =>
  `${ENDPOINTS.toLocaleString('en')} endpoints (${ENDPOINT_HOSTS.toLocaleString('en')} hosts × ${perHost}), probes ${every}`;
const SCENARIOS: Scenario[] = [
  {
    id: 'hosts',
    title: `${HOSTS.toLocaleString('en')} hosts × 1 endpoint, probes hourly`,
    build: (port) => largeTable(port, HOSTS, 1),
    targets: HOSTS,
    intervalMs: HOURLY_MS,
  },
  {
    id: 'endpoints',
    title: endpointsTitle('hourly'),
    build: (port) => largeTable(port, ENDPOINT_HOSTS, perHost),
    targets: ENDPOINTS,
    intervalMs: HOURLY_MS,
  },
  {
    id: 'endpoints-5s',
    title: endpointsTitle('every 5 s'),
    build: (port) => largeTable(port, ENDPOINT_HOSTS, perHost, { intervalMs: SHORT_INTERVAL_MS }),
    targets: ENDPOINTS,
    intervalMs: SHORT_INTERVAL_MS,
  },
];

/** PIER_BENCH_SCENARIOS: the ids of the scenarios to run, all unless told. */
const ONLY = (process.env.PIER_BENCH_SCENARIOS || SCENARIOS.map((s) => s.id).join(',')).split(',');
for (const id of ONLY) {
  if (!SCENARIOS.some((s) => s.id === id)) {
    throw new Error(
      `PIER_BENCH_SCENARIOS: ${id} is none of ${SCENARIOS.map((s) => s.id).join(', ')}`,
    );
  }
}

/**
 * Over how long the probe scheduler spreads the first probes of `targets` new to a live update
 * (`ProbeScheduler.#scheduleFirst`): the window must hold them all.
 */
const firstProbeSpreadMs = (s: Scenario): number =>
  Math.min(
    s.intervalMs,
    Math.max(SETTINGS_CHANGE_MS, (s.targets / FIRST_PROBES_PER_SECOND) * 1000),
  );

/** Pins every thread of `pid` to `cores`. */
const pin = (pid: number, cores: string) =>
  runTracked('taskset', ['-a', '-p', '-c', cores, String(pid)]);

/** The product code measured: the last commit that touched packages/, and whether it is edited. */
function productCommit(): string {
  const git = (...args: string[]) =>
    execFileSync('git', args, { cwd: REPO_ROOT, encoding: 'utf8' }).trim();
  const commit = git('log', '-1', '--format=%h', '--', 'packages');
  return git('status', '--porcelain', '--', 'packages') === '' ? commit : `${commit}+edits`;
}

/**
 * Publishes `table` while the sampler runs, from {@link LEAD_MS} before until `settleMs` after
 * the revision shows on /metrics; without a table, samples `settleMs` of the process as it is.
 * Every request and scrape is kept in `STATE/<name>.json`.
 */
async function measureWindow(
  name: string,
  dp: Dataplane,
  publisher: TestPublisher,
  table: RouteContent | undefined,
  settleMs: number,
): Promise<UpdateFigures> {
  const from = nowMs();
  const sampler = await startRequestSampler({
    url: `http://127.0.0.1:${dp.httpPort}/`,
    host: BENCH_HOST,
    body: OK,
    loops: 4,
    pauseMs: 5,
    timeoutMs: REQUEST_TIMEOUT_MS,
    metricsUrl: `http://127.0.0.1:${dp.opsPort}/metrics`,
    scrapeMs: 250,
    metrics: [REVISION, LAG_MAX, PROBES, HEAP_USED],
  });
  let samples: Awaited<ReturnType<typeof sampler.stop>>;
  let publishedAt = nowMs();
  let update: Pick<UpdateFigures, 'publishMs' | 'appliedMs'> = {};
  try {
    await sleep(LEAD_MS);
    publishedAt = nowMs();
    if (table) {
      const revision = await publisher.publish(table);
      const publishMs = nowMs() - publishedAt;
      const shown = await sampler.scrapeWhere(
        (s) => (s.values[REVISION] ?? 0) >= revision,
        APPLY_TIMEOUT_MS,
      );
      update = { publishMs, appliedMs: shown.doneAt - publishedAt };
      sampler.scrapeEvery(1_000);
    }
    await sleep(settleMs);
  } finally {
    samples = await sampler.stop();
  }
  const window = { ...samples, gaps: readLoopGaps(dp.gapsFile), from, to: nowMs(), publishedAt };
  writeFileSync(join(STATE, `${name}.json`), JSON.stringify(window));
  const servingGc = readGcPauses(dp.gapsFile).filter(
    (p) => p.thread === 0 && p.start + p.ms >= window.from && p.start <= window.to,
  );
  return {
    ...measuredWindow(window, { lagMax: LAG_MAX, probes: PROBES, heapUsed: HEAP_USED }),
    longestGcMs: Math.max(0, ...servingGc.map((p) => p.ms)),
    ...update,
    memory: groupMemory(dp.process.pid),
  };
}

const seconds = (v: number | undefined): string =>
  v === undefined ? '-' : `${(v / 1000).toFixed(1)} s`;
const show = (what: string, f: UpdateFigures): void => {
  const failures = Object.entries(f.failures)
    .map(([why, n]) => `${n} ${why}`)
    .join(', ');
  log(
    `  ${what.padEnd(22)} stall ${stallText(f)}${f.stallMs > 0 ? ` (at ${seconds(f.stallAtMs)}; ${f.gapsOverTarget} over ${STALL_TARGET_MS} ms)` : ''}, serving thread's longest GC pause ${(f.longestGcMs ?? 0).toFixed(0)} ms, lag metric ${lagMetricText(f)}${f.scrapeFailures ? ` (${f.scrapeFailures} scrapes failed)` : ''}${f.emptyReadings ? ` (${f.emptyReadings} read 0)` : ''}, requests p50 ${f.p50Ms.toFixed(1)} / p99 ${f.p99Ms.toFixed(1)} / max ${f.maxMs.toFixed(0)} ms, ${f.failed} of ${f.requests} failed${failures ? ` (${failures})` : ''}`,
  );
  log(
    `  ${''.padEnd(22)} shown after ${seconds(f.appliedMs)} (published in ${seconds(f.publishMs)}), ${f.probes} probes, last scrape ${mib(f.scrapeBytes)} in ${f.scrapeMs.toFixed(0)} ms, heap used ${mib(f.heapUsed)}, RSS ${mib(f.memory.rss)} (peak ${mib(f.memory.hwm)})`,
  );
};

rmSync(STATE, { recursive: true, force: true });
mkdirSync(STATE, { recursive: true });
await pin(process.pid, LOAD_CORE);
const started: GroupProcess[] = [];
let redis: TestRedis | undefined;
let publisher: TestPublisher | undefined;
const figures: Array<{ scenario: Scenario; run: string; figures: UpdateFigures }> = [];
/** Each scenario measures four windows: cold, revert, warm, settled. */
const progress = new BenchProgress('update-stall', {
  parts: SCENARIOS.filter((s) => ONLY.includes(s.id)).length * 4,
});
try {
  redis = await startRedis(join(STATE, 'redis'));
  trackChild(redis.process.child);
  if (redis.process.child.pid) await pin(redis.process.child.pid, LOAD_CORE);
  const keyRingFile = writeBenchKeyRing(STATE);
  const backend = await startBackendNginx(STATE, BENCH_HOST, LOAD_CORE);
  started.push(backend.process);
  const backendPort = backend.port;
  const pub = await connectPublisher(redis);
  publisher = pub;
  const small = benchTable(backendPort);

  for (const scenario of SCENARIOS.filter((s) => ONLY.includes(s.id))) {
    const settleMs = Math.max(SETTLE_MS, firstProbeSpreadMs(scenario) + 2_000);
    log(`${scenario.title}: measured until ${(settleMs / 1000).toFixed(0)} s after it shows`);
    await pub.publish(small);
    const label = `dataplane-${scenario.id}`;
    const gapsFile = join(STATE, `${label}-loop-gaps.txt`);
    const dp: Dataplane = {
      ...(await startBenchDataplane({
        label,
        stateDir: STATE,
        redisUrl: redis.url,
        keyRingFile,
        workers: 1,
        cores: PROXY_CORE,
        body: OK,
        nodeArgs: [
          '--import',
          LOOP_GAP_RECORDER,
          // PIER_BENCH_CPU_PROF=<dir>: a CPU profile of each dataplane, written when it stops.
          ...(CPU_PROF_DIR === undefined ? [] : ['--cpu-prof', `--cpu-prof-dir=${CPU_PROF_DIR}`]),
          // PIER_BENCH_NODE_ARGS: more Node flags for the dataplane (e.g. --trace-gc).
          ...(process.env.PIER_BENCH_NODE_ARGS?.split(' ').filter((a) => a !== '') ?? []),
        ],
        env: { [LOOP_GAPS_ENV]: gapsFile },
      })),
      gapsFile,
    };
    started.push(dp.process);
    log(`  dataplane serving, RSS ${mib(groupMemory(dp.process.pid).rss)}`);
    const table = scenario.build(backendPort);
    /** Measures one window (see {@link measureWindow}), shows it and keeps its figures. */
    const run = async (name: string, update: RouteContent | undefined, windowMs: number) => {
      progress.part(`${scenario.id}: ${RUN_NAMES[name] ?? name}`);
      const f = await measureWindow(`${scenario.id}-${name}`, dp, pub, update, windowMs);
      show(RUN_NAMES[name] ?? name, f);
      figures.push({ scenario, run: name, figures: f });
    };
    await sleep(COLD_WAIT_MS);
    await run('cold', table, settleMs);
    await run('revert', small, SETTLED_MS);
    const wrk = await runWrk({
      url: `http://127.0.0.1:${dp.httpPort}/`,
      connections: 16,
      seconds: WARM_S,
      host: BENCH_HOST,
      cores: LOAD_CORE,
    });
    log(`  warm-up: ${Math.round(wrk.rps)} req/s for ${WARM_S} s`);
    await sleep(2_000);
    await run('warm', table, settleMs);
    await run('settled', undefined, SETTLED_MS);
    await dp.process.stop(30_000);
  }
} finally {
  await Promise.allSettled(started.map((p) => p.stop(10_000)));
  publisher?.close();
  await redis?.stop();
}

const envShown = ['HOSTS', 'ENDPOINTS', 'ENDPOINT_HOSTS', 'SETTLE_S', 'WARM_S']
  .map((k) => `PIER_BENCH_${k}`)
  .filter((k) => process.env[k])
  .map((k) => `${k}=${process.env[k]} `)
  .join('');
const report = {
  command: `${envShown}flock /tmp/pier-bench.lock node --conditions=@pier/source test/bench/update-stall.ts`,
  machine: machineLine(),
  date: new Date().toISOString().slice(0, 10),
  commit: productCommit(),
  settleS: SETTLE_MS / 1000,
  warmS: WARM_S,
  rows: figures.map((f) => ({ title: f.scenario.title, run: f.run, figures: f.figures })),
};
const { section, before } = renderUpdateStall(report);
console.log(`\n${section}\n`);
writeBenchSection('update-stall', section);
if (BEFORE) writeBenchSection('update-stall-before', before);
log(`docs/benchmarks.md: section update-stall${BEFORE ? ' and update-stall-before' : ''} written`);
progress.done();
