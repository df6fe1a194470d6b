/**
 * Where a proxied request's CPU time goes: CPU time per request (user + system, from /proc), for
 * Pier's dataplane (one worker), nginx (one worker) and HAProxy (one thread) proxying to the same
 * nginx backend, for a bare node:http server answering itself (what Node's HTTP server costs
 * before any proxying), and for the upstream client alone: undici's Pool as Pier's proxy uses it,
 * and a minimal client on node:net for reference. CPU time per request stays comparable on a busy
 * machine, unlike requests per second; its inverse is the rate one fully busy core would reach.
 *
 *   node test/bench/proxy-cpu.ts [--rounds 5] [--seconds 5] [--connections 50] [--no-write]
 *
 * Writes its section of docs/benchmarks.md (unless --no-write).
 */
import { execFile } from 'node:child_process';
import { mkdirSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs, promisify } from 'node:util';
import { createLogger } from '@pier/shared';
import { Redis } from 'ioredis';
import {
  ROUTE_PUBLISHER_REDIS_OPTIONS,
  RoutePublisher,
} from '../../packages/controller/src/routes/route-publisher.ts';
import { waitUntil } from '../lib/child-process.ts';
import { freePort, startRedis } from '../lib/redis-server.ts';
import { writeBenchKeyRing } from './bench-dataplane.ts';
import { machineLine, writeBenchSection } from './bench-env.ts';
import { type GroupProcess, startGroup, trackChild } from './bench-processes.ts';
import { BenchProgress } from './bench-progress.ts';
import {
  haproxyConf,
  haproxyMaxconn,
  proxyNginxConf,
  startBackendNginx,
  startHaproxy,
  startNginx,
  startNodeBare,
  waitForBody,
} from './proxy-peers.ts';
import { benchTable, BENCH_HOST as HOST } from './proxy-routes.ts';
import { runWrk } from './wrk.ts';

const { values } = parseArgs({
  options: {
    rounds: { type: 'string', default: '5' },
    seconds: { type: 'string', default: '5' },
    connections: { type: 'string', default: '50' },
    'no-write': { type: 'boolean', default: false },
    /** Comma-separated subset of pier,nginx,haproxy,node-bare,undici,raw (implies --no-write). */
    only: { type: 'string' },
  },
});
const ROUNDS = Number(values.rounds);
const SECONDS = Number(values.seconds);
const CONNS = Number(values.connections);
const ONLY = values.only === undefined ? undefined : new Set(values.only.split(','));
const wanted = (name: string): boolean => ONLY === undefined || ONLY.has(name);
const REPO_ROOT = join(import.meta.dirname, '..', '..');
const STATE = join(REPO_ROOT, '.test-state', 'bench-proxy-cpu');
const OK = 'ok\n';
/** The measured server (or client) runs on this core; wrk and the backend on the other. */
const MEASURED_CORE = '0';
const LOAD_CORE = '1';
/** Clock ticks per second of /proc/<pid>/stat (USER_HZ, 100 on Linux). */
const TICK_US = 10_000;
const execFileAsync = promisify(execFile);

interface Cost {
  userUs: number;
  sysUs: number;
}
const total = (c: Cost): number => c.userUs + c.sysUs;

/** User and system clock ticks used so far by a process group. */
function groupTicks(pgid: number): [number, number] {
  let user = 0;
  let sys = 0;
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      if (Number(f[2]) !== pgid) continue;
      user += Number(f[11]);
      sys += Number(f[12]);
    } catch {
      // The process ended while we looked.
    }
  }
  return [user, sys];
}

/** The median of each component over rounds, by total. */
function median(costs: readonly Cost[]): Cost {
  const sorted = [...costs].sort((a, b) => total(a) - total(b));
  return sorted[Math.floor(sorted.length / 2)] as Cost;
}

const log = (line: string): void => console.log(line);

/** Set-up, then one part per round. */
const progress = new BenchProgress('proxy-cpu', { parts: ROUNDS + 1 });
progress.part('set-up: Redis, backend, Pier, nginx, HAProxy, node:http');
rmSync(STATE, { recursive: true, force: true });
mkdirSync(STATE, { recursive: true });
const started: GroupProcess[] = [];
const redis = await startRedis(join(STATE, 'redis'));
trackChild(redis.process.child);
const connection = new Redis(redis.url, { ...ROUTE_PUBLISHER_REDIS_OPTIONS });
connection.on('error', () => undefined);
const servers: Record<string, Cost[]> = { pier: [], nginx: [], haproxy: [], 'node-bare': [] };
const clients: Record<string, Cost[]> = { undici: [], raw: [] };
try {
  const keyRingFile = writeBenchKeyRing(STATE);
  const backend = await startBackendNginx(STATE, HOST, undefined);
  started.push(backend.process);
  const backendPort = backend.port;
  await waitUntil('the publisher connection', () =>
    connection.status === 'ready' ? true : undefined,
  );
  await new RoutePublisher({
    redis: connection,
    logger: createLogger({ name: 'bench', level: 'warn' }),
  }).publish(benchTable(backendPort));

  const pierPort = await freePort();
  const pier = startGroup(
    'pier',
    'taskset',
    [
      '-c',
      MEASURED_CORE,
      process.execPath,
      ...(process.env.PIER_BENCH_NODE_ARGS?.split(' ').filter(Boolean) ?? []),
      '--conditions=@pier/source',
      join(REPO_ROOT, 'packages/dataplane/src/main.ts'),
      '--redis-url',
      redis.url,
      '--key-ring-file',
      keyRingFile,
      '--http-listen',
      `127.0.0.1:${pierPort}`,
      '--https-listen',
      'off',
      '--ops-listen',
      `127.0.0.1:${await freePort()}`,
      '--state-file',
      join(STATE, 'routes.json'),
      '--node-name',
      'bench',
      '--workers',
      '1',
      '--log-level',
      'warn',
    ],
    join(STATE, 'pier.log'),
    { cwd: REPO_ROOT },
  );
  started.push(pier);
  await waitForBody('Pier', `http://127.0.0.1:${pierPort}/`, HOST, OK, pier, 60_000);

  const nginxPort = await freePort();
  const nginxDir = join(STATE, 'nginx');
  const nginx = startNginx(
    'nginx',
    nginxDir,
    proxyNginxConf(nginxDir, { port: nginxPort, backendPort, workers: 1 }),
    MEASURED_CORE,
  );
  started.push(nginx);
  await waitForBody('nginx', `http://127.0.0.1:${nginxPort}/`, HOST, OK, nginx);

  const haproxyPort = await freePort();
  const haproxy = startHaproxy(
    'haproxy',
    join(STATE, 'haproxy'),
    haproxyConf({ port: haproxyPort, backendPort, threads: 1, maxconn: haproxyMaxconn() }),
    MEASURED_CORE,
  );
  started.push(haproxy);
  await waitForBody('HAProxy', `http://127.0.0.1:${haproxyPort}/`, HOST, OK, haproxy);

  const barePort = await freePort();
  const bare = startNodeBare(join(STATE, 'node-bare'), barePort, MEASURED_CORE);
  started.push(bare);
  await waitForBody('node:http', `http://127.0.0.1:${barePort}/`, HOST, OK, bare);

  const targets: [string, GroupProcess, number][] = [
    ['pier', pier, pierPort],
    ['nginx', nginx, nginxPort],
    ['haproxy', haproxy, haproxyPort],
    ['node-bare', bare, barePort],
  ];
  const measured = [...targets.map(([name]) => name), 'undici', 'raw'].filter(wanted);
  for (let round = 0; round < ROUNDS; round++) {
    progress.part(`round ${round + 1}`);
    let inRound = 0;
    for (const [name, proc, port] of targets) {
      if (!wanted(name)) continue;
      const url = `http://127.0.0.1:${port}/`;
      const load = { url, connections: CONNS, host: HOST, cores: LOAD_CORE };
      if (round === 0) await runWrk({ ...load, seconds: 2 });
      const [u0, s0] = groupTicks(proc.pid);
      const r = await runWrk({ ...load, seconds: SECONDS });
      const [u1, s1] = groupTicks(proc.pid);
      const requests = r.rps * SECONDS;
      const cost = {
        userUs: ((u1 - u0) * TICK_US) / requests,
        sysUs: ((s1 - s0) * TICK_US) / requests,
      };
      servers[name]?.push(cost);
      log(
        `${name} round ${round + 1}: ${Math.round(r.rps)} req/s, ${total(cost).toFixed(1)} µs CPU`,
      );
      progress.step(++inRound, measured.length, `measured (${name})`);
    }
    for (const client of ['undici', 'raw'] as const) {
      if (!wanted(client)) continue;
      const { stdout } = await execFileAsync('taskset', [
        '-c',
        MEASURED_CORE,
        process.execPath,
        join(import.meta.dirname, 'upstream-client-cost.ts'),
        String(backendPort),
        client,
        '100000',
        String(CONNS),
      ]);
      const cost = JSON.parse(stdout) as Cost;
      clients[client]?.push(cost);
      log(`${client} client round ${round + 1}: ${total(cost).toFixed(1)} µs CPU`);
      progress.step(++inRound, measured.length, `measured (${client})`);
    }
  }
} finally {
  await Promise.allSettled(started.map((p) => p.stop(5_000)));
  connection.disconnect();
  await redis.stop();
}

const m = Object.fromEntries(
  [...Object.entries(servers), ...Object.entries(clients)].map(([k, v]) => [k, median(v)]),
) as Record<string, Cost>;
const us = (name: string): number => total(m[name] as Cost);
const perCore = (name: string): string => Math.round(1e6 / us(name)).toLocaleString('en-US');
const row = (label: string, name: string, ratio: boolean): string => {
  const c = m[name] as Cost;
  return `| ${label} | ${total(c).toFixed(1)} µs | ${c.userUs.toFixed(1)} µs | ${c.sysUs.toFixed(1)} µs | ${perCore(name)} | ${ratio ? `${(us('nginx') / total(c)).toFixed(2)}×` : 'n/a'} |`;
};
/** The section of docs/benchmarks.md, from the medians. */
function report(): string {
  const floor = us('node-bare') + us('undici');
  return `## Where a proxied request's CPU time goes

\`node test/bench/proxy-cpu.ts --rounds ${ROUNDS} --seconds ${SECONDS} --connections ${CONNS}\`: on ${machineLine()},
${new Date().toISOString().slice(0, 10)}, medians of ${ROUNDS} rounds. CPU time per request (user + system, from /proc) while wrk
(${CONNS} keep-alive connections, on core ${LOAD_CORE} with the backend) loads each server in turn, pinned to core ${MEASURED_CORE};
every proxy forwards to the same nginx backend. It holds on a busy machine better than req/s; its inverse is the rate one
fully busy core would reach.

| what | CPU per request | user | system | requests per core-second | nginx's CPU per request ÷ this |
| --- | --- | --- | --- | --- | --- |
${row('Pier dataplane, 1 worker (proxy)', 'pier', true)}
${row('nginx, 1 worker (proxy)', 'nginx', true)}
${row('HAProxy, 1 thread (proxy)', 'haproxy', true)}
${row('node:http answering itself (no proxying)', 'node-bare', true)}
${row("undici Pool, the proxy's upstream client alone", 'undici', false)}
${row('a minimal keep-alive client on node:net (reference)', 'raw', false)}

**What limits Pier.** A Node proxy pays for Node's HTTP server (${us('node-bare').toFixed(1)} µs per request with no proxying at
all) plus its upstream client: undici's Pool costs ${us('undici').toFixed(1)} µs per request on its own, against
${us('raw').toFixed(1)} µs for a bare socket client doing the same exchange. Those two alone come to ${floor.toFixed(1)} µs, that is
at most ${(us('nginx') / floor).toFixed(2)}× nginx's requests per core, before routing, balancing, health, headers and metrics, which
Pier's own modules add on top (Pier measures ${us('pier').toFixed(1)} µs). Reaching 0.5× nginx per core would need the whole
request in ${(2 * us('nginx')).toFixed(1)} µs: below what Node's HTTP server and undici's client cost together, so not reachable
with the two stacks the design prescribes; the client is the larger and the more reducible part.`;
}

if (ONLY !== undefined) {
  for (const [name, costs] of [...Object.entries(servers), ...Object.entries(clients)]) {
    if (costs.length > 0)
      log(`median ${name}: ${total(median(costs)).toFixed(1)} µs CPU per request`);
  }
} else {
  const markdown = report();
  log('');
  log(markdown);
  if (!values['no-write']) writeBenchSection('proxy-cpu', markdown);
}
progress.done();
