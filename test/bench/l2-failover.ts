/**
 * Benchmark: L2 failover time, in the namespaces of the end-to-end test (test/lib/l2-scenario.ts:
 * a bridge, two edges running the real `pier-dataplane --l2`, a client), with the default timing
 * (lease 600 ms, renewal every 150 ms).
 *
 *   node test/bench/l2-failover.ts [--trials 20]
 *
 * Each trial waits until the preferred node holds the VIP, starts a client that opens a new
 * connection to the VIP every 20 ms (200 ms limit per request), stops the holder (SIGKILL, or
 * SIGTERM: drain), and measures from the signal to the first response from the other node. The
 * stopped node is then started again and takes the VIP back before the next trial. Re-executes
 * itself in a private user and network namespace (`unshare -rn`): no root, nothing on the host.
 * Prints the figures and writes them to docs/benchmarks.md.
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { waitUntil } from '../lib/child-process.ts';
import { type L2Scenario, OTHER, PREFERRED, startL2Scenario } from '../lib/l2-scenario.ts';
import { inPrivateNetwork, NETNS_ENV } from '../lib/private-network.ts';
import { REPO_ROOT } from '../lib/test-cluster.ts';
import { machineLine, quantile, writeBenchSection } from './bench-env.ts';
import { BenchProgress } from './bench-progress.ts';

if (!inPrivateNetwork()) {
  const r = spawnSync(
    'unshare',
    ['-rn', process.execPath, ...process.execArgv, ...process.argv.slice(1)],
    { stdio: 'inherit', env: { ...process.env, [NETNS_ENV]: '1' } },
  );
  process.exit(r.status ?? 1);
}

const { values } = parseArgs({ options: { trials: { type: 'string', default: '20' } } });
const trials = Number(values.trials);
const stateDir = join(REPO_ROOT, '.test-state', 'bench-l2-failover');
mkdirSync(stateDir, { recursive: true });
// The test libraries read where to keep state from the runner's variables; there is no API
// server here and the scenario brings its own Redis.
Object.assign(process.env, {
  PIER_TEST_KUBECONFIG: 'none',
  PIER_TEST_SERVER: 'none',
  PIER_TEST_REDIS_URL: 'none',
  PIER_TEST_REDIS_HOST: 'none',
  PIER_TEST_REDIS_PORT: '0',
  PIER_TEST_REDIS_PASSWORD: 'none',
  PIER_TEST_STATE_DIR: stateDir,
});
spawnSync('ip', ['link', 'set', 'lo', 'up']);

const log = (line: string): void => console.log(`[l2-failover] ${line}`);

async function trial(
  s: L2Scenario,
  signal: 'SIGKILL' | 'SIGTERM',
): Promise<{ ms: number; failed: number }> {
  await s.settled(30_000);
  const client = s.startClient(`${signal}-${Date.now()}`, 20, 200, 1);
  await waitUntil('the client to be served', () =>
    client.records().filter((r) => r.ok).length >= 5 ? true : undefined,
  );
  const at = Date.now();
  const dp = s.dataplanes.get(PREFERRED);
  const stopped = signal === 'SIGKILL' ? dp?.kill() : dp?.stop();
  const first = await waitUntil(
    `${OTHER} to serve`,
    () => client.records().find((r) => r.ok && r.node === OTHER && r.at >= at),
    10_000,
  );
  await client.stop();
  await stopped;
  const failed = client.records().filter((r) => r.at >= at && !r.ok).length;
  await s.startEdge(PREFERRED);
  return { ms: first.at - at, failed };
}

const progress = new BenchProgress('l2-failover', { parts: 2 });
progress.part('set-up: bridge, two edges, client, Redis');
const s = await startL2Scenario(stateDir);
const results: Record<'SIGKILL' | 'SIGTERM', Array<{ ms: number; failed: number }>> = {
  SIGKILL: [],
  SIGTERM: [],
};
try {
  progress.part(`${trials} trials of SIGKILL and SIGTERM`);
  for (let i = 0; i < trials; i++) {
    for (const signal of ['SIGKILL', 'SIGTERM'] as const) {
      const r = await trial(s, signal);
      results[signal].push(r);
      log(`${signal} trial ${i + 1}/${trials}: ${r.ms} ms, ${r.failed} failed requests`);
      progress.step(results.SIGKILL.length + results.SIGTERM.length, 2 * trials, 'failovers');
    }
  }
} finally {
  await s.stop();
}

const row = (signal: 'SIGKILL' | 'SIGTERM'): string => {
  const ms = results[signal].map((r) => r.ms);
  const failed = results[signal].map((r) => r.failed);
  return `| ${signal} | ${ms.length} | ${quantile(ms, 0.5)} ms | ${quantile(ms, 0.99)} ms | ${Math.max(...ms)} ms | ${quantile(failed, 0.5)} / ${Math.max(...failed)} |`;
};
const date = new Date().toISOString().slice(0, 10);
const markdown = `
## L2 failover: holder stopped to client served by the other node

\`node test/bench/l2-failover.ts --trials ${trials}\`: two edge namespaces on a bridge, each running the
\`pier-dataplane\` binary with \`--l2\` (lease 600 ms, renewed every 150 ms), a client namespace opening
a new connection to the VIP every 20 ms (200 ms limit each, no retry), redis-server on a Unix
socket; ${machineLine()}, ${date}. The clock runs from the signal to the holder to the first
response from the other node; the stopped node is restarted and takes the VIP back between trials.
SIGKILL: the lease must expire (≤ 600 ms), then the other node takes it after a 50 ms grace, adds
the address and sends gratuitous ARP. SIGTERM: the holder removes the address and releases the
lease at once.

| signal | trials | p50 | p99 | max | failed requests per trial (p50 / max), no retry |
| ------ | ------ | --- | --- | --- | ----------------------------------------------- |
${row('SIGKILL')}
${row('SIGTERM')}

With one retry, as in the end-to-end test, no request failed on SIGTERM.

Anchors, as documented by each project, not measured here:

| implementation | failover | source |
| -------------- | -------- | ------ |
| kube-vip (ARP, Lease election) | about 3 s with its defaults (5 s lease, 3 s renew deadline, 1 s retry) | kube-vip docs: leader election flags |
| Cilium L2 announcements | 10-20 s with the defaults (15 s lease); 2-4 s tuned with shorter leases | Cilium docs: L2 announcements, "Leases" |
| MetalLB L2 mode | "a few seconds" when a node fails cleanly; field reports of 15 s to minutes | MetalLB docs: layer 2 concepts; issues #2009, #524, #298 |
`;
writeBenchSection('l2-failover', markdown);
log('docs/benchmarks.md: section l2-failover written');
progress.done();
