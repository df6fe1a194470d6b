/**
 * CPU time per proxied request, µs, for Pier's dataplane (one worker) and nginx (one worker),
 * both proxying to the same nginx backend: a figure that stays comparable on a busy machine,
 * unlike requests per second. For working on the proxy's hot path.
 *
 *   node test/bench/proxy-cpu.ts [--rounds 3] [--seconds 5] [--connections 50]
 */
import { randomBytes } from 'node:crypto';
import { mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { createLogger } from '@pier/shared';
import { Redis } from 'ioredis';
import {
  ROUTE_PUBLISHER_REDIS_OPTIONS,
  RoutePublisher,
} from '../../packages/controller/src/route-publisher.ts';
import { waitUntil } from '../lib/child-process.ts';
import { freePort, startRedis } from '../lib/redis-server.ts';
import { type GroupProcess, groupCpuTicks, startGroup, trackChild } from './bench-processes.ts';
import { backendNginxConf, proxyNginxConf, startNginx, waitForBody } from './proxy-peers.ts';
import { benchTable, BENCH_HOST as HOST } from './proxy-routes.ts';
import { runWrk } from './wrk.ts';

const { values } = parseArgs({
  options: {
    rounds: { type: 'string', default: '3' },
    seconds: { type: 'string', default: '5' },
    connections: { type: 'string', default: '50' },
  },
});
const ROUNDS = Number(values.rounds);
const SECONDS = Number(values.seconds);
const CONNS = Number(values.connections);
const REPO_ROOT = join(import.meta.dirname, '..', '..');
const STATE = join(REPO_ROOT, '.test-state', 'bench-proxy-cpu');
const OK = 'ok\n';
const TICK_US = 10_000;

rmSync(STATE, { recursive: true, force: true });
mkdirSync(STATE, { recursive: true });
const started: GroupProcess[] = [];
const redis = await startRedis(join(STATE, 'redis'));
trackChild(redis.process.child);
const connection = new Redis(redis.url, { ...ROUTE_PUBLISHER_REDIS_OPTIONS });
try {
  const keyRingFile = join(STATE, 'key-ring');
  writeFileSync(keyRingFile, `bench-1=${randomBytes(32).toString('base64')}\n`, { mode: 0o600 });
  const backendPort = await freePort();
  const backend = startNginx(
    'backend',
    join(STATE, 'backend'),
    backendNginxConf(join(STATE, 'backend'), backendPort),
    undefined,
  );
  started.push(backend);
  await waitForBody('backend', `http://127.0.0.1:${backendPort}/`, HOST, OK, backend);
  await waitUntil('publisher', () => (connection.status === 'ready' ? true : undefined));
  await new RoutePublisher({
    redis: connection,
    logger: createLogger({ name: 'bench', level: 'warn' }),
  }).publish(benchTable(backendPort));

  const pierPort = await freePort();
  const pier = startGroup(
    'pier',
    process.execPath,
    [
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
  await waitForBody('pier', `http://127.0.0.1:${pierPort}/`, HOST, OK, pier, 60_000);

  const nginxPort = await freePort();
  const nginx = startNginx(
    'nginx',
    join(STATE, 'nginx'),
    proxyNginxConf(join(STATE, 'nginx'), { port: nginxPort, backendPort, workers: 1 }),
    undefined,
  );
  started.push(nginx);
  await waitForBody('nginx', `http://127.0.0.1:${nginxPort}/`, HOST, OK, nginx);

  const targets = { pier: [pier, pierPort], nginx: [nginx, nginxPort] } as const;
  const results: Record<string, number[]> = { pier: [], nginx: [] };
  for (let round = 0; round < ROUNDS; round++) {
    for (const [name, [proc, port]] of Object.entries(targets)) {
      const url = `http://127.0.0.1:${port}/`;
      if (round === 0) await runWrk({ url, connections: CONNS, seconds: 2, host: HOST });
      const before = groupCpuTicks(proc.pid);
      const split0 = userSys(proc.pid);
      const r = await runWrk({ url, connections: CONNS, seconds: SECONDS, host: HOST });
      const ticks = groupCpuTicks(proc.pid) - before;
      const split1 = userSys(proc.pid);
      const n = r.rps * SECONDS;
      console.log(
        `  user ${(((split1[0] - split0[0]) * TICK_US) / n).toFixed(1)} µs, sys ${(((split1[1] - split0[1]) * TICK_US) / n).toFixed(1)} µs`,
      );
      const us = (ticks * TICK_US) / (r.rps * SECONDS);
      results[name]?.push(us);
      console.log(
        `${name} round ${round + 1}: ${Math.round(r.rps)} req/s, ${us.toFixed(1)} µs CPU/request`,
      );
    }
  }
  const median = (v: number[]) =>
    [...v].sort((a, b) => a - b)[Math.floor(v.length / 2)] ?? Number.NaN;
  const p = median(results.pier ?? []);
  const n = median(results.nginx ?? []);
  console.log(
    `median: pier ${p.toFixed(1)} µs, nginx ${n.toFixed(1)} µs per request; pier/nginx ${(n / p).toFixed(2)}x nginx's requests per CPU`,
  );
} finally {
  await Promise.allSettled(started.map((p) => p.stop(5_000)));
  connection.disconnect();
  await redis.stop();
}

/** User and system clock ticks of a process group. */
function userSys(pgid: number): [number, number] {
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
      // gone
    }
  }
  return [user, sys];
}
