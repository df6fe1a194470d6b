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
 * table with the new address. Prints the figures and writes them to docs/benchmarks.md.
 *
 * Endpoint addresses are documentation addresses; nothing is sent to them.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { parseArgs } from 'node:util';
import {
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
import { type ControllerProcess, startController } from '../lib/controller-process.ts';
import { createService } from '../lib/echo-pod.ts';
import { ingressManifest } from '../lib/ingress-fixtures.ts';
import { adminKubeConfig, createTestNamespace } from '../lib/kube.ts';
import { publishedTable, publishedTableBytes } from '../lib/route-tables.ts';
import { kubectl } from '../lib/test-cluster.ts';
import { machineLine, quantile, startBenchEnv, writeBenchSection } from './bench-env.ts';
import { BenchProgress } from './bench-progress.ts';

const { values } = parseArgs({
  options: {
    ingresses: { type: 'string', default: '10000' },
    endpoints: { type: 'string', default: '5' },
    changes: { type: 'string', default: '50' },
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

const log = (text: string): void =>
  console.log(`[${new Date().toISOString().slice(11, 19)}] ${text}`);
const progress = new BenchProgress('route-publication', { parts: 5 });
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

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

/** The sum of the samples of metric `name` in Prometheus text (labels filter by substring). */
function metricValue(text: string, name: string, labels = ''): number {
  let total = 0;
  let found = false;
  for (const line of text.split('\n')) {
    if (!line.startsWith(name) || line.startsWith('#')) continue;
    const rest = line.slice(name.length);
    if (rest[0] !== ' ' && rest[0] !== '{') continue;
    if (labels !== '' && !rest.includes(labels)) continue;
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
  };
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
const env = await startBenchEnv('route-publication');
const kc = adminKubeConfig();
const networking = kc.makeApiClient(NetworkingV1Api);
const discovery = kc.makeApiClient(DiscoveryV1Api);
const redisOptions = {
  host: env.redis.host,
  port: env.redis.port,
  password: env.redis.password,
};
const redis = new Redis(redisOptions);
const controllers: ControllerProcess[] = [];
let reader: RouteLogReader | undefined;
let ns: Awaited<ReturnType<typeof createTestNamespace>> | undefined;

async function cleanUp(): Promise<void> {
  await reader?.stop();
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
  await inParallel('Services', ingresses, (i) =>
    createService(kc, namespace, `svc-${i}`, { port: 80, targetPort: 8080 }),
  );
  await inParallel('EndpointSlices', ingresses, (i) =>
    discovery.createNamespacedEndpointSlice({ namespace, body: endpointSlice(namespace, i) }),
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
  const first = await startController({ identity: 'bench-first', args: LEASE_ARGS });
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
  const second = await startController({ identity: 'bench-restart', args: LEASE_ARGS });
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

  // --- Change latency, measured by a reader as a dataplane runs it.
  reader = new RouteLogReader({
    redis: new Redis({ ...redisOptions, ...routeLogReaderRedisOptions(1000) }),
    blockMs: 1000,
  });
  await reader.start();
  let expect: { backend: string; address: string; resolve: () => void } | undefined;
  reader.on('table', (table) => {
    if (expect === undefined) return;
    const backend = table.backends[expect.backend];
    if (backend?.endpoints.some((e) => e.address === expect?.address)) expect.resolve();
  });
  progress.part(`change latency: ${changes} EndpointSlice changes`);
  log(`change latency: ${changes} EndpointSlice changes`);
  const latencies: number[] = [];
  for (let k = 0; k < changes; k++) {
    const i = Math.floor((k * ingresses) / changes) % ingresses;
    const address = `203.0.113.${1 + k}`;
    const slice = await discovery.readNamespacedEndpointSlice({
      name: sliceName(i),
      namespace,
    });
    const endpoint = slice.endpoints?.[0];
    if (endpoint === undefined) throw new Error(`${sliceName(i)} has no endpoints`);
    endpoint.addresses = [address];
    const seen = new Promise<void>((resolve) => {
      expect = { backend: backendOf(i), address, resolve };
    });
    const sent = performance.now();
    await discovery.replaceNamespacedEndpointSlice({ name: sliceName(i), namespace, body: slice });
    await within(
      `change ${k} (${address} in ${backendOf(i)}) to reach the reader`,
      CHANGE_TIMEOUT_MS,
      seen,
    );
    latencies.push(performance.now() - sent);
    progress.step(k + 1, changes, 'changes seen by the reader');
    expect = undefined;
    await sleep(200);
  }
  const cpuEnd = cpuSample();
  const afterChanges = await controllerFigures(second);
  const memoryAfterChanges = await redisMemory();

  // --- Figures.
  const s = (ms: number): string => `${(ms / 1000).toFixed(1)} s`;
  const ms = (v: number): string => `${v.toFixed(1)} ms`;
  const mib = (bytes: number): string => `${(bytes / 2 ** 20).toFixed(1)} MiB`;
  const avgMs = (seconds: number, count: number): string =>
    count > 0 ? ms((seconds / count) * 1000) : 'n/a';
  const perPublication = ingresses / firstFigures.publishes;
  const firstPerPublication = Number.isInteger(perPublication)
    ? String(perPublication)
    : perPublication.toFixed(1);
  const others = {
    setup: othersShare(cpuSetup, cpuFirst).toFixed(0),
    first: othersShare(cpuFirst, cpuFirstEnd).toFixed(0),
    rest: othersShare(cpuRestart, cpuEnd).toFixed(0),
  };
  const changeCompiles = afterChanges.compiles - restartFigures.compiles;
  const changePublishes = afterChanges.publishes - restartFigures.publishes;
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
    `| compile after one EndpointSlice change (average of ${changeCompiles}) | ${avgMs(afterChanges.compileSeconds - restartFigures.compileSeconds, changeCompiles)} |`,
    `| publication of one change (average of ${changePublishes}) | ${avgMs(afterChanges.publishSeconds - restartFigures.publishSeconds, changePublishes)} |`,
    `| the table's pieces (\`MEMORY USAGE\` of the \`${routesSectionKey('virtualHosts')}\`, backends and certificates hashes) | ${mib(snapshotBytes)} |`,
    `| change log after the restart's publication (\`MEMORY USAGE\`) | ${mib(logBytes)} |`,
    `| Redis \`used_memory\` after the full publication / after the changes | ${mib(memoryAfterPublish.usedBytes)} (${memoryAfterPublish.usedHuman}) / ${mib(memoryAfterChanges.usedBytes)} (${memoryAfterChanges.usedHuman}) |`,
    `| controller RSS after the first start's table | ${mib(firstFigures.rssBytes)} |`,
    `| controller RSS after the restart's table / after the changes | ${mib(restartFigures.rssBytes)} / ${mib(afterChanges.rssBytes)} |`,
  ].join('\n');
  const latency = [
    '| changes | p50 | p99 | max |',
    '| --- | --- | --- | --- |',
    `| ${changes} | ${ms(quantile(latencies, 0.5))} | ${ms(quantile(latencies, 0.99))} | ${ms(Math.max(...latencies))} |`,
  ].join('\n');
  console.log(
    `set-up: ${s(setupMs)}; other processes' share of the CPU: set-up ${others.setup} %, first start ${others.first} %, restart and changes ${others.rest} %\n\n${scenarios}\n\n${resources}\n\n${latency}`,
  );

  const command = `node test/bench/route-publication.ts --ingresses ${ingresses} --endpoints ${endpoints} --changes ${changes}`;
  writeBenchSection(
    'route-publication',
    `## Route table at scale: full publication, memory, change latency

\`${command}\`: real kube-apiserver (v1.36.3, embedded etcd, fsync off), \`pier-controller\` under
its RBAC ServiceAccount with the shipped lease timings (15 s / 10 s / 2 s), and redis-server, all on
${machineLine()}, ${new Date().toISOString().slice(0, 10)}. One namespace holds ${ingresses} Ingresses
(host \`h-i.example.test\`, path \`/\`, each to its own Service), ${ingresses} Services without selector and
${ingresses} hand-made EndpointSlices of ${endpoints} endpoints each: ${ingresses} virtual hosts and backends,
${ingresses * endpoints} endpoints. All Ingresses share the default sharing key, so one address. Set-up
(creating the ${3 * ingresses} objects, ${IN_FLIGHT} requests in flight, no controller running) took ${s(setupMs)}.
Other processes than this benchmark's used ${others.setup} % of the machine's CPU time during the set-up,
${others.first} % during the first start and ${others.rest} % during the restart and the change test (from
\`/proc/stat\` and \`/proc/<pid>/stat\`): the machine was ${Math.max(Number(others.first), Number(others.rest)) >= 10 ? 'shared, so the figures are slower than on an idle machine' : 'otherwise idle'}.

Time until Redis holds a revision whose snapshot has every virtual host with all its endpoints: the
revision key is polled every 50 ms and a new revision's snapshot decoded (at most once a second during
the first start); the time is when that revision was first seen. First start: the Ingresses have no
address; the controller allocates one to each and writes their status in batches, each once a table
holding their routes is published (${firstPerPublication} Ingresses per publication on average). Restart: the
first controller stops, the route keys are deleted from Redis, and a second controller restores the
allocations from status and compiles and publishes the whole table at once. Every publication,
however small the change, hashes, diffs, encodes and writes the whole table, which is why a change's
publication costs about as much as the full one.

${scenarios}

${resources}

Change latency: ${changes} changes one after another (200 ms apart), each replacing the first address
of a different EndpointSlice (\`replace\` through the API). It runs from sending the request to a
\`RouteLogReader\` on its own connection, as a dataplane runs it, emitting a table with the new
address: watch delivery, the controller's 20 ms coalescing window, a full recompile, the diff and
the publication, then \`XREAD\`, the patch and the reader's validation of the whole table.

${latency}

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
