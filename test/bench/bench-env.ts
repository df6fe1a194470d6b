/**
 * Shared set-up for benchmarks: the same real API server and Redis the test
 * suite uses, started once for a benchmark script, and the writer of
 * docs/benchmarks.md sections.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus, totalmem } from 'node:os';
import { join } from 'node:path';
import { startRedis, type TestRedis } from '../lib/redis-server.ts';
import {
  buildTestCluster,
  kubectl,
  REPO_ROOT,
  startTestCluster,
  type TestCluster,
} from '../lib/test-cluster.ts';

export interface BenchEnv {
  cluster: TestCluster;
  redis: TestRedis;
  stop(): Promise<void>;
}

/** Builds and starts the test cluster and Redis, and exports PIER_TEST_* as the runner does. */
export async function startBenchEnv(name: string): Promise<BenchEnv> {
  const stateDir = join(REPO_ROOT, '.test-state', `bench-${name}`);
  mkdirSync(stateDir, { recursive: true });
  await buildTestCluster();
  const [cluster, redis] = await Promise.all([
    startTestCluster(join(stateDir, 'cluster')),
    startRedis(join(stateDir, 'redis')),
  ]);
  await kubectl(cluster.kubeconfig, [
    'apply',
    '--server-side',
    '-f',
    join(REPO_ROOT, 'deploy', 'crds'),
  ]);
  await kubectl(cluster.kubeconfig, [
    'wait',
    '--for=condition=Established',
    '--timeout=60s',
    'crd',
    '--all',
  ]);
  Object.assign(process.env, {
    PIER_TEST_KUBECONFIG: cluster.kubeconfig,
    PIER_TEST_SERVER: cluster.server,
    PIER_TEST_REDIS_URL: redis.url,
    PIER_TEST_REDIS_HOST: redis.host,
    PIER_TEST_REDIS_PORT: String(redis.port),
    PIER_TEST_REDIS_PASSWORD: redis.password,
    PIER_TEST_STATE_DIR: stateDir,
  });
  return {
    cluster,
    redis,
    stop: async () => {
      await Promise.allSettled([cluster.stop(), redis.stop()]);
    },
  };
}

/** The value at quantile `q` (0..1) of `values` (nearest rank). */
export function quantile(values: readonly number[], q: number): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const rank = Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1));
  return sorted[rank] as number;
}

export function machineLine(): string {
  const cpu = cpus()[0]?.model ?? 'unknown CPU';
  return `${cpus().length} cores (${cpu}), ${(totalmem() / 2 ** 30).toFixed(0)} GiB, Node ${process.version}`;
}

const BENCH_DOC = join(REPO_ROOT, 'docs', 'benchmarks.md');

/**
 * Replaces the section of docs/benchmarks.md between
 * `<!-- bench:<id>:start -->` and `<!-- bench:<id>:end -->` (appending it if
 * absent), so each benchmark rewrites only its own figures.
 */
export function writeBenchSection(id: string, markdown: string): void {
  const start = `<!-- bench:${id}:start -->`;
  const end = `<!-- bench:${id}:end -->`;
  const block = `${start}\n${markdown.trim()}\n${end}`;
  let doc = existsSync(BENCH_DOC) ? readFileSync(BENCH_DOC, 'utf8') : '# Benchmarks\n';
  const from = doc.indexOf(start);
  const to = doc.indexOf(end);
  if (from >= 0 && to > from) doc = doc.slice(0, from) + block + doc.slice(to + end.length);
  else doc = `${doc.trimEnd()}\n\n${block}\n`;
  writeFileSync(BENCH_DOC, doc);
  // Keep the page as the formatter wants it, so the test command's check stays green.
  spawnSync(join(REPO_ROOT, 'node_modules', '.bin', 'biome'), ['format', '--write', BENCH_DOC], {
    stdio: 'ignore',
  });
}
