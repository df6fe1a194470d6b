/**
 * The whole test suite, as the README's test command runs it:
 *
 *   1. static checks: Biome (format + lint), the type check, the build;
 *   2. the Go build of the test cluster (kube-apiserver, kube-controller-manager, kubectl);
 *   3. re-executes itself inside a private network namespace (`unshare -rn`),
 *      starts the real API server and a real redis-server there, applies the CRDs,
 *      runs every test file with node's test runner, and stops everything.
 *
 * Usage: node test/run.ts [--unit] [--skip-static] [test files...]
 *   --unit         unit tests only (no API server, Redis or namespace)
 *   --skip-static  skip format, lint, type check and build
 *   files          run only these test files (implies --skip-static)
 */
import { spawn } from 'node:child_process';
import { existsSync, globSync, mkdirSync, readdirSync, rmSync } from 'node:fs';
import { join, relative } from 'node:path';
import { parseArgs } from 'node:util';
import { run } from './lib/child-process.ts';
import { inPrivateNetwork, NETNS_ENV, prepareLoopback } from './lib/private-network.ts';
import { FILE_COUNT_ENV } from './lib/progress-reporter.ts';
import { startRedis, type TestRedis } from './lib/redis-server.ts';
import {
  buildTestCluster,
  kubectl,
  REPO_ROOT,
  startTestCluster,
  type TestCluster,
} from './lib/test-cluster.ts';

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    unit: { type: 'boolean', default: false },
    'skip-static': { type: 'boolean', default: false },
  },
});

const STATE_ROOT = join(REPO_ROOT, '.test-state');
/**
 * Each run keeps its logs in a directory of its own, so runs side by side do
 * not disturb each other; the re-executed child inherits the parent's.
 */
const STATE_DIR = process.env.PIER_TEST_RUN_DIR ?? join(STATE_ROOT, `run-${process.pid}`);

/** Removes the state of earlier runs whose process is gone. */
function removeStaleRuns(): void {
  if (!existsSync(STATE_ROOT)) return;
  for (const entry of readdirSync(STATE_ROOT)) {
    const pid = /^run-(\d+)$/.exec(entry)?.[1];
    if (pid === undefined) continue;
    let alive = true;
    try {
      process.kill(Number(pid), 0);
    } catch {
      alive = false;
    }
    if (!alive) rmSync(join(STATE_ROOT, entry), { recursive: true, force: true });
  }
}
const UNIT_GLOBS = ['packages/*/src/**/*.test.ts'];
const SUITE_GLOBS = [...UNIT_GLOBS, 'test/integration/**/*.test.ts', 'test/e2e/**/*.test.ts'];

function elapsed(since: number): string {
  return `${((performance.now() - since) / 1000).toFixed(1)}s`;
}

async function stage<T>(name: string, body: () => Promise<T>): Promise<T> {
  const started = performance.now();
  console.log(`\n▶ ${name}`);
  const result = await body();
  console.log(`✔ ${name} (${elapsed(started)})`);
  return result;
}

/** Runs a workspace tool with its output shown; a failure stops the run. */
async function tool(bin: string, args: string[]): Promise<void> {
  await run(join(REPO_ROOT, 'node_modules', '.bin', bin), args, {
    cwd: REPO_ROOT,
    stdio: 'inherit',
  });
}

/**
 * Every workspace package's scripts must run on the Node 24 the repository
 * brings, whatever Node the machine has: `node --version` from inside each
 * package's `node-version` script must print v24.
 */
async function checkPackageNode(): Promise<void> {
  const pnpm = `pnpm@${process.env.PIER_PNPM_VERSION ?? '12.21.0'}`;
  const { stdout } = await run(
    'npx',
    ['--yes', pnpm, '-r', '--reporter=append-only', 'run', 'node-version'],
    { cwd: REPO_ROOT },
  );
  const versions = [...stdout.matchAll(/^(\S+) node-version: (v\d+\.\d+\.\d+)$/gm)];
  const packages = [
    'packages/shared',
    'packages/controller',
    'packages/dataplane',
    'deploy',
    'test',
  ];
  for (const pkg of packages) {
    const version = versions.find((m) => m[1] === pkg)?.[2];
    if (!version?.startsWith('v24.')) {
      throw new Error(`${pkg}: node --version in its scripts printed ${version ?? 'nothing'}`);
    }
    console.log(`  ${pkg}: ${version}`);
  }
}

function testFiles(globs: readonly string[]): string[] {
  return globs
    .flatMap((g) => globSync(g, { cwd: REPO_ROOT, exclude: (p) => p.includes('node_modules') }))
    .sort();
}

/**
 * Runs node's test runner over `files` with `env`, returning its exit code. The reporter is
 * spec with a line as each file begins (`▶ [12/57] file (3m12s elapsed)`) and the failed files
 * before the totals (test/lib/progress-reporter.ts).
 */
async function nodeTest(files: string[], env: NodeJS.ProcessEnv): Promise<number> {
  const child = spawn(
    process.execPath,
    [
      '--conditions=@pier/source',
      '--test',
      '--test-reporter=./test/lib/progress-reporter.ts',
      '--test-reporter-destination=stdout',
      '--test-concurrency=1',
      '--test-timeout=600000',
      ...files,
    ],
    { cwd: REPO_ROOT, env: { ...env, [FILE_COUNT_ENV]: String(files.length) }, stdio: 'inherit' },
  );
  return new Promise((resolve) =>
    child.on('exit', (code, signal) => resolve(code ?? (signal ? 1 : 0))),
  );
}

async function applyCrds(cluster: TestCluster): Promise<void> {
  const dir = join(REPO_ROOT, 'deploy', 'crds');
  if (!existsSync(dir) || readdirSync(dir).filter((f) => f.endsWith('.yaml')).length === 0) return;
  await kubectl(cluster.kubeconfig, ['apply', '--server-side', '-f', dir]);
  await kubectl(cluster.kubeconfig, [
    'wait',
    '--for=condition=Established',
    '--timeout=60s',
    'crd',
    '--all',
  ]);
}

/** Inside the private namespace: bring up the real peers, run the files, tear down. */
async function runInsideNamespace(files: string[]): Promise<number> {
  await prepareLoopback();
  let cluster: TestCluster | undefined;
  let redis: TestRedis | undefined;
  const teardown = async (): Promise<void> => {
    await Promise.allSettled([cluster?.stop(), redis?.stop()]);
  };
  process.once('SIGINT', () => void teardown().then(() => process.exit(130)));
  process.once('SIGTERM', () => void teardown().then(() => process.exit(143)));
  try {
    [cluster, redis] = await stage(
      'start kube-apiserver, kube-controller-manager and redis-server',
      () =>
        Promise.all([
          startTestCluster(join(STATE_DIR, 'cluster')),
          startRedis(join(STATE_DIR, 'redis')),
        ]),
    );
    console.log(
      `  API server ${cluster.server} ready in ${cluster.startupMillis}ms; Redis on port ${redis.port}`,
    );
    const ready = cluster;
    await stage('apply CRDs from deploy/crds', () => applyCrds(ready));
    const env = {
      ...process.env,
      PIER_TEST_KUBECONFIG: cluster.kubeconfig,
      PIER_TEST_SERVER: cluster.server,
      PIER_TEST_REDIS_URL: redis.url,
      PIER_TEST_REDIS_HOST: redis.host,
      PIER_TEST_REDIS_PORT: String(redis.port),
      PIER_TEST_REDIS_PASSWORD: redis.password,
      PIER_TEST_STATE_DIR: STATE_DIR,
    };
    console.log(`\n▶ tests (${files.length} files)`);
    return await nodeTest(files, env);
  } finally {
    await teardown();
  }
}

async function main(): Promise<number> {
  const started = performance.now();
  const explicitFiles = positionals.map((p) => relative(REPO_ROOT, join(process.cwd(), p)));
  const files =
    explicitFiles.length > 0 ? explicitFiles : testFiles(values.unit ? UNIT_GLOBS : SUITE_GLOBS);

  if (inPrivateNetwork()) return runInsideNamespace(files);

  if (!values['skip-static'] && explicitFiles.length === 0) {
    await stage('format and lint (biome)', () => tool('biome', ['check', '.']));
    await stage('type check (tsc)', () => tool('tsc', ['-p', 'tsconfig.check.json']));
    await stage('build (tsc --build)', () => tool('tsc', ['--build']));
    await stage('Node 24 in every package script', checkPackageNode);
  }
  if (values.unit) {
    console.log(`\n▶ unit tests (${files.length} files)`);
    return nodeTest(files, process.env);
  }
  await stage('build the test cluster (Go)', () => buildTestCluster());
  removeStaleRuns();
  mkdirSync(STATE_DIR, { recursive: true });
  console.log(`  logs of this run: ${relative(REPO_ROOT, STATE_DIR)}`);

  // Re-execute inside a private network namespace: no root needed, nothing
  // changes on the host, and everything in it vanishes when the run ends.
  const child = spawn(
    'unshare',
    [
      '--net',
      '--map-root-user',
      process.execPath,
      ...process.execArgv,
      import.meta.filename,
      '--skip-static',
      ...files,
    ],
    {
      cwd: REPO_ROOT,
      env: { ...process.env, [NETNS_ENV]: '1', PIER_TEST_RUN_DIR: STATE_DIR },
      stdio: 'inherit',
    },
  );
  const code = await new Promise<number>((resolve) =>
    child.on('exit', (c, signal) => resolve(c ?? (signal ? 1 : 0))),
  );
  console.log(`\nwhole run: ${elapsed(started)}`);
  return code;
}

process.exitCode = await main();
