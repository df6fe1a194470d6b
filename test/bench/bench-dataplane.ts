/**
 * The dataplane as benchmarks run it: `pier-dataplane` from source in a process group of its own
 * (see bench-processes.ts), optionally pinned, started once it serves the bench host; and its
 * /metrics read as numbers.
 */
import { randomBytes } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { freePort } from '../lib/redis-server.ts';
import { REPO_ROOT } from '../lib/test-cluster.ts';
import { type GroupProcess, startGroup } from './bench-processes.ts';
import { pinned, waitForBody } from './proxy-peers.ts';
import { BENCH_HOST } from './proxy-routes.ts';

/** Writes a key ring of one fresh key to `dir/key-ring` (mode 600) and returns its path. */
export function writeBenchKeyRing(dir: string): string {
  const file = join(dir, 'key-ring');
  writeFileSync(file, `bench-1=${randomBytes(32).toString('base64')}\n`, { mode: 0o600 });
  return file;
}

/** A running dataplane and its ports on 127.0.0.1. */
export interface BenchDataplane {
  process: GroupProcess;
  httpPort: number;
  httpsPort: number;
  opsPort: number;
}

export interface BenchDataplaneOptions {
  /** Names the process and its folder under `stateDir`. */
  label: string;
  stateDir: string;
  redisUrl: string;
  keyRingFile: string;
  workers: number;
  /** `taskset -c` cores; unpinned when absent. */
  cores?: string;
  /** Node flags before the script (`--cpu-prof`...). */
  nodeArgs?: string[];
  /** Environment variables added to this process's. */
  env?: Record<string, string>;
  /** What the bench host answers once the first table is in: `ok\n` from the backend nginx. */
  body: string;
  /** How long it may take to serve, ms. */
  timeoutMs?: number;
}

/**
 * Starts a dataplane with log level warn and a 2 s drain grace; resolves once it answers
 * `body` for {@link BENCH_HOST}, and stops it if it does not.
 */
export async function startBenchDataplane(options: BenchDataplaneOptions): Promise<BenchDataplane> {
  const [httpPort, httpsPort, opsPort] = [await freePort(), await freePort(), await freePort()];
  const dir = join(options.stateDir, options.label);
  mkdirSync(dir, { recursive: true });
  const [command, args] = pinned(options.cores, process.execPath, [
    ...(options.nodeArgs ?? []),
    '--conditions=@pier/source',
    join(REPO_ROOT, 'packages', 'dataplane', 'src', 'main.ts'),
    '--redis-url',
    options.redisUrl,
    '--key-ring-file',
    options.keyRingFile,
    '--http-listen',
    `127.0.0.1:${httpPort}`,
    '--https-listen',
    `127.0.0.1:${httpsPort}`,
    '--ops-listen',
    `127.0.0.1:${opsPort}`,
    '--state-file',
    join(dir, 'routes.json'),
    '--node-name',
    'bench',
    '--workers',
    String(options.workers),
    '--log-level',
    'warn',
    '--drain-grace',
    '2s',
  ]);
  const proc = startGroup(options.label, command, args, join(dir, 'dataplane.log'), {
    cwd: REPO_ROOT,
    ...(options.env ? { env: { ...process.env, ...options.env } } : {}),
  });
  try {
    await waitForBody(
      `${options.label} to serve ${BENCH_HOST}`,
      `http://127.0.0.1:${httpPort}/`,
      BENCH_HOST,
      options.body,
      proc,
      options.timeoutMs ?? 120_000,
    );
  } catch (err) {
    await proc.stop();
    throw err;
  }
  return { process: proc, httpPort, httpsPort, opsPort };
}

/** The sum of each metric's samples (every label set) in a Prometheus text page. */
export function metricSums(text: string): Map<string, number> {
  const sums = new Map<string, number>();
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const end = line.search(/[{ ]/);
    if (end <= 0) continue;
    const name = line.slice(0, end);
    sums.set(name, (sums.get(name) ?? 0) + Number(line.slice(line.lastIndexOf(' ') + 1)));
  }
  return sums;
}

/** The sum of a metric's samples on a dataplane's /metrics, undefined when absent. */
export async function metricValue(opsPort: number, name: string): Promise<number | undefined> {
  const res = await fetch(`http://127.0.0.1:${opsPort}/metrics`);
  return metricSums(await res.text()).get(name);
}
