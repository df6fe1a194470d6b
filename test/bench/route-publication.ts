/**
 * Benchmark: the route table at scale. For `ingresses` Ingresses, each to its own
 * selector-less Service with a hand-made EndpointSlice of `endpoints` endpoints: the time to
 * compile and publish the whole table, the controller's RSS and Redis' memory, and the delay
 * from one EndpointSlice change to a route log reader holding it. Real API server,
 * pier-controller under its own RBAC, real Redis.
 *
 *   node test/bench/route-publication.ts [--ingresses 10000] [--endpoints 5] [--changes 50]
 *
 * Set-up creates the objects while no controller runs. Scenario 1, first start: a controller
 * starts on Ingresses that have no address yet, allocates one to each (all share the default
 * sharing key, so one address), publishes and writes status. Scenario 2, restart: that
 * controller stops, the route keys are deleted from Redis, and a second controller starts; it
 * restores the allocations from status and has the whole table to compile and publish at once.
 * Each runs from process start (and from its "became leader" log line) until a revision whose
 * snapshot holds every virtual host with all its endpoints is seen in Redis. Then, on the
 * second controller, `changes` times in a row: replace the first address of one EndpointSlice
 * and time from sending the request until a RouteLogReader (as a dataplane runs it) emits a
 * table with the new address; then a rollout: `rolloutRate` changes per second for `rolloutSeconds`
 * s, each to another EndpointSlice, sent without waiting for the one before. A dataplane started
 * on the whole table meanwhile reports its memory and what each revision cost its serving thread
 * (`pier_dataplane_route_apply_seconds`); the controller reports the bytes each publication wrote
 * (`pier_route_publish_bytes`) and its peak RSS (VmHWM). Prints the figures and writes them to
 * docs/benchmarks.md.
 *
 * Endpoint addresses are documentation addresses; nothing is sent to them.
 */

import { spawn } from 'node:child_process';
import { mkdirSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { cpus } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import {
  CoreV1Api,
  CustomObjectsApi,
  DiscoveryV1Api,
  NetworkingV1Api,
  type V1EndpointSlice,
  type V1Ingress,
} from '@kubernetes/client-node';
import {
  ROUTE_SECTIONS,
  RouteLogReader,
  type RouteTable,
  routeLogReaderRedisOptions,
  routesFormatKey,
  routesLogKey,
  routesRevisionKey,
  routesSectionKey,
  routesSnapshotKey,
} from '@pier/shared';
import { Redis } from 'ioredis';
import { PooledKubeConfig } from '../../packages/controller/src/kube/pooled-kube-config.ts';
import { buildAsShipped } from '../lib/build-as-shipped.ts';
import { type ControllerProcess, startController } from '../lib/controller-process.ts';
import { testEnv } from '../lib/env.ts';
import { ingressManifest } from '../lib/ingress-fixtures.ts';
import { createTestNamespace } from '../lib/kube.ts';
import { inPrivateNetwork, NETNS_ENV, prepareLoopback } from '../lib/private-network.ts';
import { freePort } from '../lib/redis-server.ts';
import { publishedTable, publishedTableBytes } from '../lib/route-tables.ts';
import { buildTestCluster, kubectl, REPO_ROOT } from '../lib/test-cluster.ts';
import { writeBenchKeyRing } from './bench-dataplane.ts';
import { machineLine, quantile, startBenchEnv, writeBenchSection } from './bench-env.ts';
import { type GroupProcess, groupMemory, startGroup } from './bench-processes.ts';
import { BenchProgress } from './bench-progress.ts';

const { values } = parseArgs({
  options: {
    ingresses: { type: 'string', default: '10000' },
    endpoints: { type: 'string', default: '5' },
    changes: { type: 'string', default: '50' },
    'rollout-rate': { type: 'string', default: '20' },
    'rollout-seconds': { type: 'string', default: '10' },
  },
});
const ingresses = Number(values.ingresses);
const endpoints = Number(values.endpoints);
const changes = Number(values.changes);
if (!Number.isInteger(ingresses) || ingresses < 1) throw new Error('--ingresses: 1 or more');
if (!Number.isInteger(endpoints) || endpoints < 1 || endpoints > 200) {
  throw new Error('--endpoints: 1 to 200');
}
if (!Number.isInteger(changes) || changes < 1 || changes > 254) {
  throw new Error('--changes: 1 to 254 (each gets its own address in 203.0.113.0/24)');
}
const rolloutRate = Number(values['rollout-rate']);
const rolloutSeconds = Number(values['rollout-seconds']);
if (!Number.isInteger(rolloutRate) || rolloutRate < 1 || rolloutRate > 200) {
  throw new Error('--rollout-rate: 1 to 200 changes per second');
}
if (!Number.isInteger(rolloutSeconds) || rolloutSeconds < 1 || rolloutSeconds > 60) {
  throw new Error('--rollout-seconds: 1 to 60');
}
/** Each rollout change goes to an EndpointSlice no other change touched. */
const rolloutChanges = Math.min(rolloutRate * rolloutSeconds, ingresses - changes);
if (rolloutChanges < 1) throw new Error('--ingresses: more than --changes, for the rollout');

/** Requests in flight while creating objects. */
const IN_FLIGHT = 50;
/** The lease timings of the shipped defaults, not the test suite's short ones. */
const LEASE_ARGS = ['--lease-duration', '15s', '--renew-deadline', '10s', '--retry-period', '2s'];
const POOL = 'bench-routes';
/** Generous bounds; a run that exceeds one fails with the name of what it waited for. */
const FIRST_START_TIMEOUT_MS = Math.max(120_000, ingresses * 60);
/** Status and Event writes, after the table is published. */
const STATUS_TIMEOUT_MS = Math.max(120_000, ingresses * 200);
const RESTART_TIMEOUT_MS = Math.max(60_000, ingresses * 20);
const CHANGE_TIMEOUT_MS = 60_000;
/** A change slower than this is logged with its breakdown. */
const SLOW_CHANGE_MS = 100;
const STATE_DIR = join(REPO_ROOT, '.test-state', 'bench-route-publication');

// The dataplane probes the endpoints (documentation addresses): the whole benchmark runs in a
// network namespace of its own (`unshare -rn`), as the test suite does, where those addresses are
// local and nothing listens on them. Nothing leaves the machine.
if (!inPrivateNetwork()) {
  await buildTestCluster();
  const child = spawn(
    'unshare',
    ['--net', '--map-root-user', process.execPath, ...process.execArgv, ...process.argv.slice(1)],
    { cwd: REPO_ROOT, env: { ...process.env, [NETNS_ENV]: '1' }, stdio: 'inherit' },
  );
  const code = await new Promise<number>((resolve) =>
    child.on('exit', (c, signal) => resolve(c ?? (signal ? 1 : 0))),
  );
  process.exit(code);
}
await prepareLoopback();

const log = (text: string): void =>
  console.log(`[${new Date().toISOString().slice(11, 19)}] ${text}`);
const progress = new BenchProgress('route-publication', { parts: 7 });
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** The changes logged by {@link logSlowChange}, for the figures. */
const slowChanges: Array<{ what: string; tookMs: number; repliedMs: number }> = [];

/**
 * Logs a change slower than SLOW_CHANGE_MS with where its time went: the API server's reply
 * (NaN: not replied yet when the reader had it), or after it; and when it was sent, to the
 * millisecond, to line it up with the controller's and the dataplane's logs.
 */
function logSlowChange(what: string, tookMs: number, repliedMs: number): void {
  const sentAt = new Date(Date.now() - tookMs).toISOString();
  slowChanges.push({ what, tookMs, repliedMs });
  log(
    `  slow ${what}: ${tookMs.toFixed(1)} ms (API server replied after ${repliedMs.toFixed(1)} ms), sent at ${sentAt}`,
  );
}

/** Rejects with a message naming `what` when `promise` takes longer than `ms`. */
async function within<T>(what: string, ms: number, promise: Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms waiting for ${what}`)), ms);
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/** Runs `task(0..count-1)` with at most IN_FLIGHT running at once, logging progress. */
async function inParallel(
  what: string,
  count: number,
  task: (i: number) => Promise<unknown>,
): Promise<void> {
  let next = 0;
  let done = 0;
  const step = Math.max(1000, Math.ceil(count / 10));
  await Promise.all(
    Array.from({ length: Math.min(IN_FLIGHT, count) }, async () => {
      while (next < count) {
        const i = next++;
        await task(i);
        if (++done % step === 0) log(`  ${what}: ${done}/${count}`);
        progress.step(done, count, `${what} created`);
      }
    }),
  );
}

/**
 * The sum of the samples of metric `name` in Prometheus text; each of `labels` (`stage="apply"`)
 * must be among a sample's labels.
 */
function metricValue(text: string, name: string, ...labels: string[]): number {
  let total = 0;
  let found = false;
  for (const line of text.split('\n')) {
    if (!line.startsWith(name) || line.startsWith('#')) continue;
    const rest = line.slice(name.length);
    if (rest[0] !== ' ' && rest[0] !== '{') continue;
    if (!labels.every((label) => rest.includes(label))) continue;
    total += Number(line.slice(line.lastIndexOf(' ') + 1));
    found = true;
  }
  return found ? total : Number.NaN;
}

interface ControllerFigures {
  compiles: number;
  compileSeconds: number;
  publishes: number;
  publishSeconds: number;
  rssBytes: number;
  statusWrites: number;
  publishBytes: number;
  /** VmHWM: the most the controller's RSS has been. */
  peakRssBytes: number;
  /** V8's heap: what it holds (live and not yet collected) and what it has taken from the OS. */
  heapUsedBytes: number;
  heapTotalBytes: number;
}

async function controllerFigures(controller: ControllerProcess): Promise<ControllerFigures> {
  const res = await fetch(`http://127.0.0.1:${controller.opsPort}/metrics`);
  if (!res.ok) throw new Error(`controller /metrics answered ${res.status}`);
  const text = await res.text();
  return {
    compiles: metricValue(text, 'pier_route_compile_duration_seconds_count'),
    compileSeconds: metricValue(text, 'pier_route_compile_duration_seconds_sum'),
    publishes: metricValue(text, 'pier_route_publish_duration_seconds_count'),
    publishSeconds: metricValue(text, 'pier_route_publish_duration_seconds_sum'),
    rssBytes: metricValue(text, 'pier_process_resident_memory_bytes'),
    statusWrites: metricValue(text, 'pier_api_writes_total', 'kind="ingress-status",result="ok"'),
    publishBytes: metricValue(text, 'pier_route_publish_bytes_sum'),
    peakRssBytes: peakRss(controller.process.child.pid),
    heapUsedBytes: metricValue(text, 'pier_nodejs_heap_size_used_bytes'),
    heapTotalBytes: metricValue(text, 'pier_nodejs_heap_size_total_bytes'),
  };
}

/** VmHWM of process `pid`, bytes. */
function peakRss(pid: number | undefined): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  return Number(/^VmHWM:\s+(\d+) kB/m.exec(status)?.[1] ?? Number.NaN) * 1024;
}

/** A dataplane following the route table, as `pier-dataplane` runs on an edge node. */
interface TableDataplane {
  process: GroupProcess;
  opsPort: number;
}

/** What route revisions cost a dataplane's serving thread so far, per stage. */
interface ApplyFigures {
  revisions: number;
  receiveSeconds: number;
  applySeconds: number;
  /** Revisions whose stage took at most 5 ms (the histogram's 0.005 bucket). */
  receiveUnder5ms: number;
  applyUnder5ms: number;
}

async function dataplaneMetrics(dataplane: TableDataplane): Promise<string> {
  const res = await fetch(`http://127.0.0.1:${dataplane.opsPort}/metrics`);
  if (!res.ok) throw new Error(`dataplane /metrics answered ${res.status}`);
  return res.text();
}

async function applyFigures(dataplane: TableDataplane): Promise<ApplyFigures> {
  const text = await dataplaneMetrics(dataplane);
  const name = 'pier_dataplane_route_apply_seconds';
  const stage = (s: string): string => `stage="${s}"`;
  return {
    revisions: metricValue(text, `${name}_count`, stage('apply')),
    receiveSeconds: metricValue(text, `${name}_sum`, stage('receive')),
    applySeconds: metricValue(text, `${name}_sum`, stage('apply')),
    receiveUnder5ms: metricValue(text, `${name}_bucket`, stage('receive'), 'le="0.005"'),
    applyUnder5ms: metricValue(text, `${name}_bucket`, stage('apply'), 'le="0.005"'),
  };
}

/**
 * Starts one dataplane (one worker, health checks on, nothing listening but loopback) on Redis and
 * resolves once it serves `revision` or a later one.
 */
async function startTableDataplane(
  redisUrl: string,
  stateDir: string,
  revision: number,
): Promise<TableDataplane> {
  // A fresh node: a table saved by an earlier run would be loaded first, then replaced whole.
  const dir = join(stateDir, 'dataplane');
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  const [httpPort, httpsPort, opsPort] = [await freePort(), await freePort(), await freePort()];
  const args = [
    join(REPO_ROOT, 'packages', 'dataplane', 'dist', 'main.js'),
    ...['--redis-url', redisUrl, '--key-ring-file', writeBenchKeyRing(dir)],
    ...['--http-listen', `127.0.0.1:${httpPort}`, '--https-listen', `127.0.0.1:${httpsPort}`],
    ...['--ops-listen', `127.0.0.1:${opsPort}`, '--state-file', join(dir, 'routes.json')],
    ...['--node-name', 'bench', '--workers', '1', '--log-level', 'warn'],
  ];
  const proc = startGroup('dataplane', process.execPath, args, join(dir, 'dataplane.log'), {
    cwd: REPO_ROOT,
  });
  const dataplane = { process: proc, opsPort };
  const deadline = Date.now() + RESTART_TIMEOUT_MS;
  for (;;) {
    try {
      const served = metricValue(
        await dataplaneMetrics(dataplane),
        'pier_dataplane_route_revision',
      );
      if (served >= revision) return dataplane;
    } catch {
      // Not listening yet.
    }
    if (Date.now() > deadline) {
      await proc.stop();
      throw new Error(`timed out waiting for the dataplane to serve revision ${revision}`);
    }
    await sleep(200);
  }
}

/** CPU time (clock ticks) of the whole machine, and of this process and its descendants. */
interface CpuSample {
  at: number;
  busy: number;
  ours: number;
}

function cpuSample(): CpuSample {
  // cpu user nice system idle iowait irq softirq steal ...: busy is all but idle and iowait.
  const ticks = (readFileSync('/proc/stat', 'utf8').split('\n')[0] ?? '')
    .trim()
    .split(/\s+/)
    .slice(1)
    .map(Number);
  const busy = ticks.reduce((a, b) => a + b, 0) - (ticks[3] ?? 0) - (ticks[4] ?? 0);
  // utime + stime + cutime + cstime of this process and every live descendant (a reaped child's
  // time moves into its parent's cutime/cstime, so nothing is lost or counted twice).
  const stats = new Map<number, { ppid: number; ticks: number }>();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const text = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const f = text.slice(text.lastIndexOf(')') + 2).split(' ');
      stats.set(Number(entry), {
        ppid: Number(f[1]),
        ticks: Number(f[11]) + Number(f[12]) + Number(f[13]) + Number(f[14]),
      });
    } catch {
      // Gone meanwhile.
    }
  }
  const ourPids = new Set([process.pid]);
  for (let grew = true; grew; ) {
    grew = false;
    for (const [pid, st] of stats) {
      if (!ourPids.has(pid) && ourPids.has(st.ppid)) {
        ourPids.add(pid);
        grew = true;
      }
    }
  }
  let ours = 0;
  for (const pid of ourPids) ours += stats.get(pid)?.ticks ?? 0;
  return { at: Date.now(), busy, ours };
}

/** Share (%) of the machine's CPU time other processes than this benchmark's used between a and b. */
function othersShare(a: CpuSample, b: CpuSample): number {
  const available = ((b.at - a.at) / 1000) * 100 * cpus().length; // USER_HZ is 100 on Linux
  return Math.max(0, (100 * (b.busy - a.busy - (b.ours - a.ours))) / available);
}

/** Wall-clock time (ms) of the controller's "became leader" log line. */
function leaderSince(controller: ControllerProcess): number {
  const line = controller.logs().find((l) => l.msg === 'became leader');
  if (typeof line?.time !== 'number') throw new Error(`${controller.identity}: no leader log line`);
  return line.time;
}

progress.part(`set-up: API server, Redis, ${ingresses} Services, EndpointSlices and Ingresses`);
// The controller and the dataplane run as the image ships them: built, the controller bundled
// (from source, Node's type stripping adds about 30 MiB to each process).
await buildAsShipped();
const env = await startBenchEnv('route-publication');
// The benchmark's own requests keep their connection to the API server, as client-go's do (a
// kubelet, the EndpointSlice controller): the library alone opens a new TLS connection per
// request, whose handshake would be counted in every change's latency.
const kc = new PooledKubeConfig();
kc.loadFromFile(testEnv().kubeconfig);
const core = kc.makeApiClient(CoreV1Api);
const networking = kc.makeApiClient(NetworkingV1Api);
const discovery = kc.makeApiClient(DiscoveryV1Api);
const custom = kc.makeApiClient(CustomObjectsApi);
const redisOptions = {
  host: env.redis.host,
  port: env.redis.port,
  password: env.redis.password,
};
const redis = new Redis(redisOptions);
const controllers: ControllerProcess[] = [];
let reader: RouteLogReader | undefined;
let dataplane: TableDataplane | undefined;
let ns: Awaited<ReturnType<typeof createTestNamespace>> | undefined;

async function cleanUp(): Promise<void> {
  await reader?.stop();
  await dataplane?.process.stop();
  await Promise.all(controllers.map((c) => c.stop()));
  redis.disconnect();
  if (ns !== undefined) {
    log(`deleting namespace ${ns.name}`);
    await ns.remove(Math.max(120_000, ingresses * 60));
  }
  await kubectl(env.cluster.kubeconfig, ['delete', 'ippool', POOL, '--ignore-not-found']);
}

const backendOf = (i: number): string => `${ns?.name}/svc-${i}:80`;
const sliceName = (i: number): string => `svc-${i}-bench`;

function endpointSlice(namespace: string, i: number): V1EndpointSlice {
  return {
    metadata: {
      name: sliceName(i),
      labels: {
        'kubernetes.io/service-name': `svc-${i}`,
        'endpointslice.kubernetes.io/managed-by': 'pier.dev-bench',
      },
    },
    addressType: 'IPv4',
    ports: [{ name: 'http', port: 8080, protocol: 'TCP' }],
    endpoints: Array.from({ length: endpoints }, (_, j) => ({
      addresses: [`198.51.100.${10 + j}`],
      conditions: { ready: true, serving: true, terminating: false },
      targetRef: { kind: 'Pod', name: `svc-${i}-${j}`, namespace },
    })),
  };
}

/** Virtual hosts of `table` whose backend has every endpoint. */
function completeHosts(table: RouteTable): number {
  let complete = 0;
  for (const vhost of Object.values(table.virtualHosts)) {
    const backend = table.backends[vhost.routes[0]?.backend ?? ''];
    if (backend !== undefined && backend.endpoints.length === endpoints) complete++;
  }
  return complete;
}

/**
 * Polls the revision every 50 ms; decodes the snapshot of a new revision (at most every
 * `decodeEveryMs`, decoding 10,000 hosts is not free and shares the cores with the controller)
 * until one holds all the hosts. Returns the wall-clock time that revision was first seen.
 */
async function waitForFullTable(
  what: string,
  timeoutMs: number,
  decodeEveryMs: number,
): Promise<{ seenAt: number; revision: number }> {
  const deadline = Date.now() + timeoutMs;
  const firstSeen = new Map<number, number>();
  let checked = -1;
  let lastDecode = 0;
  let best = 0;
  let lastReport = Date.now();
  while (Date.now() < deadline) {
    const revision = Number((await redis.get(routesRevisionKey())) ?? 0);
    if (!firstSeen.has(revision)) firstSeen.set(revision, Date.now());
    if (revision !== checked && Date.now() - lastDecode >= decodeEveryMs) {
      lastDecode = Date.now();
      const table = await publishedTable(redis);
      if (table !== undefined) {
        checked = table.revision;
        best = completeHosts(table);
        progress.step(best, ingresses, 'hosts complete');
        if (best === ingresses) {
          return { seenAt: firstSeen.get(table.revision) ?? Date.now(), revision: table.revision };
        }
      }
    }
    if (Date.now() - lastReport > 15_000) {
      lastReport = Date.now();
      log(`  ${what}: revision ${revision}, ${best}/${ingresses} hosts complete`);
    }
    await sleep(50);
  }
  throw new Error(
    `timed out after ${timeoutMs} ms waiting for ${what}: ${best}/${ingresses} hosts complete`,
  );
}

async function redisMemory(): Promise<{ usedBytes: number; usedHuman: string }> {
  const info = await redis.info('memory');
  const field = (name: string): string =>
    new RegExp(`^${name}:(.*)$`, 'm').exec(info)?.[1]?.trim() ?? '';
  return { usedBytes: Number(field('used_memory')), usedHuman: field('used_memory_human') };
}

try {
  // --- Set-up, no controller running.
  const setupStart = performance.now();
  const cpuSetup = cpuSample();
  await kubectl(env.cluster.kubeconfig, ['apply', '-f', '-'], {
    input: JSON.stringify({
      apiVersion: 'pier.dev/v1alpha1',
      kind: 'IPAddressPool',
      metadata: { name: POOL },
      spec: { addresses: ['192.0.2.0/28'] },
    }),
  });
  ns = await createTestNamespace(kc, 'bench');
  const namespace = ns.name;
  log(`set-up: ${ingresses} Services, EndpointSlices (${endpoints} endpoints) and Ingresses`);
  // Headless: the API server allocates a cluster IP to each Service in turn, and with tens of
  // thousands in the range each allocation took longer (19 ms at 13,000, 37 Services/s). Pier
  // reads a Service's ports and its EndpointSlices, never its cluster IP.
  await inParallel('Services', ingresses, (i) =>
    core.createNamespacedService({
      namespace,
      body: {
        metadata: { name: `svc-${i}` },
        spec: { clusterIP: 'None', ports: [{ name: 'http', port: 80, targetPort: 8080 as never }] },
      },
    }),
  );
  await inParallel('EndpointSlices', ingresses, (i) =>
    discovery.createNamespacedEndpointSlice({ namespace, body: endpointSlice(namespace, i) }),
  );
  // Probes hourly: the dataplane's first probes spread over the hour (a few per second), so they
  // neither load the machine nor change the health of what the changes measure.
  await inParallel('HealthCheckPolicies', ingresses, (i) =>
    custom.createNamespacedCustomObject({
      group: 'pier.dev',
      version: 'v1alpha1',
      namespace,
      plural: 'healthcheckpolicies',
      body: {
        apiVersion: 'pier.dev/v1alpha1',
        kind: 'HealthCheckPolicy',
        metadata: { name: `svc-${i}` },
        spec: { targetRef: { name: `svc-${i}` }, interval: '1h' },
      },
    }),
  );
  await inParallel('Ingresses', ingresses, (i) =>
    networking.createNamespacedIngress({
      namespace,
      body: ingressManifest(namespace, `ing-${i}`, {
        host: `h-${i}.example.test`,
        service: `svc-${i}`,
      }) as V1Ingress,
    }),
  );
  const setupMs = performance.now() - setupStart;
  log(`set-up took ${(setupMs / 1000).toFixed(1)} s`);

  // --- Scenario 1: first start, every address to allocate.
  progress.part('first start: allocate, compile, publish, write status');
  const cpuFirst = cpuSample();
  log('first start: controller allocates, compiles, publishes');
  const firstStart = Date.now();
  const first = await startController({ identity: 'bench-first', args: LEASE_ARGS, built: true });
  controllers.push(first);
  await first.waitForLeadership(60_000);
  const firstFull = await waitForFullTable('first start', FIRST_START_TIMEOUT_MS, 1000);
  const firstLeader = leaderSince(first);
  log(`first start: full table after ${((firstFull.seenAt - firstStart) / 1000).toFixed(1)} s`);
  // All statuses written: the restart restores them.
  const firstFigures = await within(
    'all Ingress statuses to be written',
    STATUS_TIMEOUT_MS,
    (async () => {
      for (;;) {
        const f = await controllerFigures(first);
        progress.step(Math.min(f.statusWrites, ingresses), ingresses, 'statuses written');
        if (f.statusWrites >= ingresses) return { ...f, at: Date.now() };
        await sleep(250);
      }
    })(),
  );
  const cpuFirstEnd = cpuSample();
  await first.stop();
  controllers.splice(controllers.indexOf(first), 1);

  // --- Scenario 2: restart with an empty Redis: one full compile and publication.
  await redis.del(
    routesRevisionKey(),
    routesFormatKey(),
    ...ROUTE_SECTIONS.map(routesSectionKey),
    routesSnapshotKey(),
    routesLogKey(),
  );
  progress.part('restart: restore, compile, publish');
  const cpuRestart = cpuSample();
  log('restart: controller restores allocations, compiles, publishes');
  const restartStart = Date.now();
  const second = await startController({
    identity: 'bench-restart',
    args: LEASE_ARGS,
    built: true,
  });
  controllers.push(second);
  await second.waitForLeadership(60_000);
  const restartFull = await waitForFullTable('restart', RESTART_TIMEOUT_MS, 0);
  const restartLeader = leaderSince(second);
  log(`restart: full table after ${((restartFull.seenAt - restartStart) / 1000).toFixed(1)} s`);
  // Let the publication settle (a second compile may follow the first) before measuring.
  await sleep(3000);
  const restartFigures = await controllerFigures(second);
  const snapshotBytes = await publishedTableBytes(redis);
  const logBytes = Number(await redis.call('MEMORY', 'USAGE', routesLogKey()));
  const memoryAfterPublish = await redisMemory();

  // --- A dataplane on the whole table.
  progress.part('dataplane: start on the whole table');
  log('dataplane: starts and loads the whole table');
  const dataplaneStart = Date.now();
  dataplane = await startTableDataplane(env.redis.url, STATE_DIR, restartFull.revision);
  const dataplaneLoadMs = Date.now() - dataplaneStart;
  await sleep(3000);
  const dataplaneLoaded = groupMemory(dataplane.process.pid);

  // --- Change latency, measured by a reader as a dataplane runs it.
  reader = new RouteLogReader({
    redis: new Redis({ ...redisOptions, ...routeLogReaderRedisOptions(1000) }),
    blockMs: 1000,
  });
  await reader.start();
  /** Addresses awaited, by backend: resolved by the first table that lists them. */
  const awaited = new Map<string, { address: string; resolve: () => void }>();
  // Looks up only the awaited backends in the state, as a dataplane reads what a delta changed:
  // the reader's whole-table 'table' event would copy the table per revision (O(table) in this
  // process, tens of milliseconds at 50,000 hosts, counted in every change's latency).
  reader.on('change', (state) => {
    for (const [id, want] of awaited) {
      const backend = state.served('backends').get(id)?.value;
      if (backend?.endpoints.some((e) => e.address === want.address)) {
        awaited.delete(id);
        want.resolve();
      }
    }
  });
  const arrival = (backend: string, address: string): Promise<void> =>
    new Promise<void>((resolve) => awaited.set(backend, { address, resolve }));
  /** Slices a change touched: each change goes to another one. */
  const touched = new Set<number>();
  const inputBytes = async (): Promise<number> =>
    Number(/total_net_input_bytes:(\d+)/.exec(await redis.info('stats'))?.[1]);

  progress.part(`change latency: ${changes} EndpointSlice changes`);
  log(`change latency: ${changes} EndpointSlice changes`);
  const beforeChanges = await controllerFigures(second);
  const applyBefore = await applyFigures(dataplane);
  const redisInBefore = await inputBytes();
  const latencies: number[] = [];
  for (let k = 0; k < changes; k++) {
    const i = Math.floor((k * ingresses) / changes) % ingresses;
    touched.add(i);
    const address = `203.0.113.${1 + k}`;
    const slice = await discovery.readNamespacedEndpointSlice({
      name: sliceName(i),
      namespace,
    });
    const endpoint = slice.endpoints?.[0];
    if (endpoint === undefined) throw new Error(`${sliceName(i)} has no endpoints`);
    endpoint.addresses = [address];
    const seen = arrival(backendOf(i), address);
    const sent = performance.now();
    await discovery.replaceNamespacedEndpointSlice({ name: sliceName(i), namespace, body: slice });
    const replied = performance.now() - sent;
    await within(
      `change ${k} (${address} in ${backendOf(i)}) to reach the reader`,
      CHANGE_TIMEOUT_MS,
      seen,
    );
    const took = performance.now() - sent;
    latencies.push(took);
    // A slow one is logged with where its time went: the API server's reply, or after it.
    if (took > SLOW_CHANGE_MS) logSlowChange(`change ${k}`, took, replied);
    progress.step(k + 1, changes, 'changes seen by the reader');
    await sleep(200);
  }
  // The dataplane applies the last change too before its figures are read.
  await sleep(1000);
  const redisInAfter = await inputBytes();
  const afterChanges = await controllerFigures(second);
  const applyAfter = await applyFigures(dataplane);

  // --- A rollout: changes at a steady rate, each sent without waiting for the one before.
  progress.part(`rollout: ${rolloutRate} changes per second for ${rolloutSeconds} s`);
  log(`rollout: ${rolloutChanges} changes, ${rolloutRate} per second`);
  const rolloutSlices = await Promise.all(
    Array.from({ length: rolloutChanges }, async (_, k) => {
      let i = Math.floor(((k + 0.5) * ingresses) / rolloutChanges) % ingresses;
      while (touched.has(i)) i = (i + 1) % ingresses;
      touched.add(i);
      const slice = await discovery.readNamespacedEndpointSlice({ name: sliceName(i), namespace });
      const endpoint = slice.endpoints?.[0];
      if (endpoint === undefined) throw new Error(`${sliceName(i)} has no endpoints`);
      endpoint.addresses = [`203.0.113.${1 + (k % 254)}`];
      return { i, slice, address: endpoint.addresses[0] as string };
    }),
  );
  const rolloutStart = performance.now();
  const rolloutSeen: Array<Promise<number>> = [];
  const sendErrors: unknown[] = [];
  for (const [k, { i, slice, address }] of rolloutSlices.entries()) {
    const due = rolloutStart + (k * 1000) / rolloutRate;
    await sleep(Math.max(0, due - performance.now()));
    const sent = performance.now();
    let replied = Number.NaN;
    const seen = arrival(backendOf(i), address).then(() => {
      const took = performance.now() - sent;
      if (took > SLOW_CHANGE_MS) logSlowChange(`rollout change ${k}`, took, replied);
      return took;
    });
    rolloutSeen.push(
      within(`rollout change ${k} (${address} in ${backendOf(i)})`, CHANGE_TIMEOUT_MS, seen),
    );
    discovery
      .replaceNamespacedEndpointSlice({ name: sliceName(i), namespace, body: slice })
      .then(() => {
        replied = performance.now() - sent;
      })
      .catch((err: unknown) => sendErrors.push(err));
    progress.step(k + 1, rolloutChanges, 'rollout changes sent');
  }
  const rolloutSendMs = performance.now() - rolloutStart;
  const rolloutLatencies = await Promise.all(rolloutSeen);
  if (sendErrors.length > 0) throw sendErrors[0];
  await sleep(1000);
  const cpuEnd = cpuSample();
  const afterRollout = await controllerFigures(second);
  const applyRollout = await applyFigures(dataplane);
  const dataplaneEnd = groupMemory(dataplane.process.pid);
  // And once the collector has had a quiet moment (V8 gives back heap when idle).
  await sleep(15_000);
  const dataplaneSettled = groupMemory(dataplane.process.pid);
  const controllerSettled = await controllerFigures(second);
  const memoryAfterChanges = await redisMemory();

  // --- Figures.
  const s = (ms: number): string => `${(ms / 1000).toFixed(1)} s`;
  const ms = (v: number): string => `${v.toFixed(1)} ms`;
  const mib = (bytes: number): string => `${(bytes / 2 ** 20).toFixed(1)} MiB`;
  const kib = (bytes: number): string => `${(bytes / 1024).toFixed(2)} KiB`;
  const avgMs = (seconds: number, count: number): string =>
    count > 0 ? `${((seconds / count) * 1000).toFixed(2)} ms` : 'n/a';
  const perPublication = ingresses / firstFigures.publishes;
  const firstPerPublication = Number.isInteger(perPublication)
    ? String(perPublication)
    : perPublication.toFixed(1);
  const others = {
    setup: othersShare(cpuSetup, cpuFirst).toFixed(0),
    first: othersShare(cpuFirst, cpuFirstEnd).toFixed(0),
    rest: othersShare(cpuRestart, cpuEnd).toFixed(0),
  };
  const changeCompiles = afterChanges.compiles - beforeChanges.compiles;
  const changePublishes = afterChanges.publishes - beforeChanges.publishes;
  const changeBytes = afterChanges.publishBytes - beforeChanges.publishBytes;
  const rolloutPublishes = afterRollout.publishes - afterChanges.publishes;
  const rolloutBytes = afterRollout.publishBytes - afterChanges.publishBytes;
  const stageLine = (label: string, a: ApplyFigures, b: ApplyFigures): string => {
    const revisions = b.revisions - a.revisions;
    const under = Math.min(
      b.receiveUnder5ms - a.receiveUnder5ms,
      b.applyUnder5ms - a.applyUnder5ms,
    );
    return `| ${label} | ${revisions} | ${avgMs(b.receiveSeconds - a.receiveSeconds, revisions)} | ${avgMs(b.applySeconds - a.applySeconds, revisions)} | ${under} of ${revisions} |`;
  };
  const scenarios = [
    '| scenario | from process start | from "became leader" | compiles | publications | all statuses written after |',
    '| --- | --- | --- | --- | --- | --- |',
    `| first start: ${ingresses} addresses to allocate | ${s(firstFull.seenAt - firstStart)} | ${s(firstFull.seenAt - firstLeader)} | ${firstFigures.compiles} | ${firstFigures.publishes} | ${s(firstFigures.at - firstStart)} |`,
    `| restart: addresses in status, Redis emptied | ${s(restartFull.seenAt - restartStart)} | ${s(restartFull.seenAt - restartLeader)} | ${restartFigures.compiles} | ${restartFigures.publishes} | n/a |`,
  ].join('\n');
  const resources = [
    '| figure | value |',
    '| --- | --- |',
    `| compile of the full table (restart, average of ${restartFigures.compiles}) | ${avgMs(restartFigures.compileSeconds, restartFigures.compiles)} |`,
    `| publication of the full table (restart, average of ${restartFigures.publishes}) | ${avgMs(restartFigures.publishSeconds, restartFigures.publishes)} |`,
    `| compile after one EndpointSlice change (average of ${changeCompiles}) | ${avgMs(afterChanges.compileSeconds - beforeChanges.compileSeconds, changeCompiles)} |`,
    `| publication of one change (average of ${changePublishes}) | ${avgMs(afterChanges.publishSeconds - beforeChanges.publishSeconds, changePublishes)} |`,
    `| bytes written per single-endpoint change (\`pier_route_publish_bytes\`, average of ${changePublishes}) | ${changePublishes > 0 ? kib(changeBytes / changePublishes) : 'n/a'} |`,
    `| bytes Redis received from every client during those changes (\`total_net_input_bytes\`), per change | ${kib((redisInAfter - redisInBefore) / changes)} |`,
    `| bytes written per publication during the rollout (${rolloutPublishes} publications) | ${rolloutPublishes > 0 ? kib(rolloutBytes / rolloutPublishes) : 'n/a'} |`,
    `| the table's pieces (\`MEMORY USAGE\` of the \`${routesSectionKey('virtualHosts')}\`, backends and certificates hashes) | ${mib(snapshotBytes)} |`,
    `| change log after the restart's publication (\`MEMORY USAGE\`) | ${mib(logBytes)} |`,
    `| Redis \`used_memory\` after the full publication / after the changes | ${mib(memoryAfterPublish.usedBytes)} (${memoryAfterPublish.usedHuman}) / ${mib(memoryAfterChanges.usedBytes)} (${memoryAfterChanges.usedHuman}) |`,
    `| controller RSS after the first start's statuses / its peak (VmHWM) | ${mib(firstFigures.rssBytes)} / ${mib(firstFigures.peakRssBytes)} |`,
    `| controller RSS after the restart's table / after the changes and the rollout / 15 s later / its peak (VmHWM) | ${mib(restartFigures.rssBytes)} / ${mib(afterRollout.rssBytes)} / ${mib(controllerSettled.rssBytes)} / ${mib(controllerSettled.peakRssBytes)} |`,
    `| controller V8 heap used / taken from the OS, after the changes and the rollout; 15 s later | ${mib(afterRollout.heapUsedBytes)} / ${mib(afterRollout.heapTotalBytes)}; ${mib(controllerSettled.heapUsedBytes)} / ${mib(controllerSettled.heapTotalBytes)} |`,
    `| dataplane: start to serving the whole table | ${s(dataplaneLoadMs)} |`,
    `| dataplane RSS with the whole table / right after the changes and the rollout / 15 s later / its peak (VmHWM) | ${mib(dataplaneLoaded.rss)} / ${mib(dataplaneEnd.rss)} / ${mib(dataplaneSettled.rss)} / ${mib(dataplaneSettled.hwm)} |`,
  ].join('\n');
  const latency = [
    '| changes | p50 | p99 | max |',
    '| --- | --- | --- | --- |',
    `| ${changes} one after another | ${ms(quantile(latencies, 0.5))} | ${ms(quantile(latencies, 0.99))} | ${ms(Math.max(...latencies))} |`,
    `| ${rolloutChanges} at ${rolloutRate} per second (sent over ${s(rolloutSendMs)}) | ${ms(quantile(rolloutLatencies, 0.5))} | ${ms(quantile(rolloutLatencies, 0.99))} | ${ms(Math.max(...rolloutLatencies))} |`,
  ].join('\n');
  const slowList =
    slowChanges.length === 0
      ? `No change took longer than ${SLOW_CHANGE_MS} ms.`
      : `Changes that took longer than ${SLOW_CHANGE_MS} ms, with the time the API server took to reply to the change (its watch event goes out about then; "not yet" when the reader had the table first): ${slowChanges
          .map(
            (c) =>
              `${c.what}, ${ms(c.tookMs)} (reply: ${Number.isNaN(c.repliedMs) ? 'not yet' : ms(c.repliedMs)})`,
          )
          .join('; ')}.`;
  const serving = [
    '| revisions applied by the dataplane | count | receive, average | apply, average | both stages ≤ 5 ms |',
    '| --- | --- | --- | --- | --- |',
    stageLine('one change at a time', applyBefore, applyAfter),
    stageLine('the rollout', applyAfter, applyRollout),
  ].join('\n');
  console.log(
    `set-up: ${s(setupMs)}; other processes' share of the CPU: set-up ${others.setup} %, first start ${others.first} %, restart and changes ${others.rest} %\n\n${scenarios}\n\n${resources}\n\n${latency}\n\n${serving}`,
  );

  const command = `node test/bench/route-publication.ts --ingresses ${ingresses} --endpoints ${endpoints} --changes ${changes}`;
  writeBenchSection(
    ingresses === 10_000 ? 'route-publication' : `route-publication-${ingresses}`,
    `## Route table at scale (${ingresses.toLocaleString('en')} Ingresses): publication, memory, change latency

\`${command}\`: real kube-apiserver (v1.36.3, embedded etcd, fsync off), \`pier-controller\` (the bundle the image ships, with its Node flags and environment) under
its RBAC ServiceAccount with the shipped lease timings (15 s / 10 s / 2 s), redis-server and one
\`pier-dataplane\` (one worker, built as the image ships it), all on ${machineLine()}, ${new Date().toISOString().slice(0, 10)}, in a
network namespace of the benchmark's own. One namespace holds ${ingresses} Ingresses (host
\`h-i.example.test\`, path \`/\`, each to its own Service), ${ingresses} headless Services without selector,
${ingresses} hand-made EndpointSlices of ${endpoints} endpoints each and a HealthCheckPolicy per Service
(probes hourly, so that probing does not load the machine): ${ingresses} virtual hosts and backends,
${ingresses * endpoints} endpoints. All Ingresses share the default sharing key, so one address. Set-up
(creating the ${4 * ingresses} objects, ${IN_FLIGHT} requests in flight, no controller running) took ${s(setupMs)}.
Other processes than this benchmark's used ${others.setup} % of the machine's CPU time during the set-up,
${others.first} % during the first start and ${others.rest} % during the restart and the change test (from
\`/proc/stat\` and \`/proc/<pid>/stat\`): the machine was ${Math.max(Number(others.first), Number(others.rest)) >= 10 ? 'shared, so the figures are slower than on an idle machine' : 'otherwise idle'}.

Time until Redis holds a revision whose table has every virtual host with all its endpoints: the
revision key is polled every 50 ms and a new revision's pieces read (at most once a second during
the first start); the time is when that revision was first seen. First start: the Ingresses have no
address; the controller allocates one to each and writes their status in batches, each once a table
holding their routes is published (${firstPerPublication} Ingresses per publication on average). Restart: the
first controller stops, the route keys are deleted from Redis, and a second controller restores the
allocations from status and compiles and publishes the whole table at once. A change recompiles
only what depends on the objects that changed and writes only the pieces that differ (route keys
format 2, docs/redis-keyspace.md).

${scenarios}

${resources}

Change latency: first ${changes} changes one after another (200 ms apart), each replacing the first
address of a different EndpointSlice (\`replace\` through the API); then a rollout of ${rolloutChanges}
changes at ${rolloutRate} per second, each to another EndpointSlice, sent without waiting for the one
before. Each runs from sending the request (on the connection the benchmark keeps to the API
server, as client-go does) to a \`RouteLogReader\` on its own connection, as a
dataplane runs it, emitting a table with the new address: watch delivery, the controller's 5 ms
coalescing window, the incremental compile, the publication of the changed pieces, then \`XREAD\`
and the reader's patch, which validates the entries it touches.

${latency}

${slowList}

What each revision cost the dataplane's serving thread, from its
\`pier_dataplane_route_apply_seconds\` histogram (the sum of a stage's slices, not the time between
them): *receive* makes the entries the background thread sent into a table, *apply* switches the
route index, TLS contexts and balancers to it. "≤ 5 ms" counts revisions by the histogram's 5 ms
bucket, the lower of the two stages' counts.

${serving}

Anchors, not measured here side by side: Traefik waits at least 2 s between two applications of
dynamic configuration by default (\`providersThrottleDuration\`); an ingress-nginx reload takes from
about 0.2 s to 12 s, the upper end on very large configurations (kubernetes/ingress-nginx#1386),
though it applies endpoint-only changes through Lua without a reload.`,
  );
} finally {
  progress.part('clean-up');
  await cleanUp();
  await env.stop();
}
progress.done();
