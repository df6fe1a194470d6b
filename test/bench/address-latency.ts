/**
 * Benchmark: time from an Ingress's creation to its address in status, with
 * the real API server and pier-controller under its own RBAC.
 *
 *   node test/bench/address-latency.ts [--trials 20] [--burst 500]
 *
 * Scenario 1: one Ingress at a time, `trials` times. Scenario 2: `burst`
 * Ingresses created at once (50 requests in flight). Each latency runs from
 * the moment the create request is sent to the moment a watch delivers the
 * Ingress with an address. Prints the figures and writes them to
 * docs/benchmarks.md.
 */
import { parseArgs } from 'node:util';
import { NetworkingV1Api, type V1Ingress, Watch } from '@kubernetes/client-node';
import { startController } from '../lib/controller-process.ts';
import { ingressManifest } from '../lib/ingress-fixtures.ts';
import { adminKubeConfig, createTestNamespace } from '../lib/kube.ts';
import { kubectl } from '../lib/test-cluster.ts';
import { machineLine, quantile, startBenchEnv, writeBenchSection } from './bench-env.ts';
import { BenchProgress } from './bench-progress.ts';

const { values } = parseArgs({
  options: { trials: { type: 'string', default: '20' }, burst: { type: 'string', default: '500' } },
});
const trials = Number(values.trials);
const burst = Number(values.burst);

const progress = new BenchProgress('address-latency', { parts: 3 });
progress.part('set-up: API server, Redis, controller');
const env = await startBenchEnv('address-latency');
const kc = adminKubeConfig();
const networking = kc.makeApiClient(NetworkingV1Api);
await kubectl(env.cluster.kubeconfig, ['apply', '-f', '-'], {
  input: JSON.stringify({
    apiVersion: 'pier.dev/v1alpha1',
    kind: 'IPAddressPool',
    metadata: { name: 'bench' },
    spec: { addresses: ['198.51.100.0/24', '203.0.113.0/24', '192.0.2.0/24'] },
  }),
});
const controller = await startController({ identity: 'bench-0' });
await controller.waitForLeadership();

/** Sent-at times by Ingress name, and resolvers for the watch to call. */
const sentAt = new Map<string, number>();
const latencies = new Map<string, number>();
const waiters = new Map<string, () => void>();

const ns = await createTestNamespace(kc, 'bench');
const watch = new Watch(kc);
const request = await watch.watch(
  `/apis/networking.k8s.io/v1/namespaces/${ns.name}/ingresses`,
  {},
  (_phase: string, obj: V1Ingress) => {
    const name = obj.metadata?.name ?? '';
    const sent = sentAt.get(name);
    if (sent === undefined || latencies.has(name)) return;
    if ((obj.status?.loadBalancer?.ingress?.length ?? 0) === 0) return;
    latencies.set(name, performance.now() - sent);
    waiters.get(name)?.();
  },
  () => undefined,
);

async function createAndWait(name: string, key: string): Promise<number> {
  const done = new Promise<void>((resolve) => waiters.set(name, resolve));
  sentAt.set(name, performance.now());
  await networking.createNamespacedIngress({
    namespace: ns.name,
    body: ingressManifest(ns.name, name, {
      annotations: { 'pier.dev/ip-sharing-key': key },
    }) as V1Ingress,
  });
  await done;
  return latencies.get(name) as number;
}

// Warm-up: the first creation pays for connection set-up on both sides.
await createAndWait('warmup', 'warmup');

progress.part('one Ingress at a time');
const single: number[] = [];
for (let i = 0; i < trials; i++) {
  single.push(await createAndWait(`single-${i}`, `single-${i}`));
  progress.step(i + 1, trials, 'Ingresses addressed');
}

progress.part('Ingresses created at once, 50 in flight');

const burstStart = performance.now();
let next = 0;
const burstLatencies: number[] = [];
await Promise.all(
  Array.from({ length: 50 }, async () => {
    while (next < burst) {
      const i = next++;
      burstLatencies.push(await createAndWait(`burst-${i}`, `burst-${i}`));
      progress.step(burstLatencies.length, burst, 'Ingresses addressed');
    }
  }),
);
const burstTotal = performance.now() - burstStart;

request.abort();
await controller.stop();
await ns.remove(120_000);
await kubectl(env.cluster.kubeconfig, ['delete', 'ippool', 'bench']);
await env.stop();

const ms = (v: number): string => `${v.toFixed(1)} ms`;
const table = [
  '| scenario | Ingresses | p50 | p99 | max | all addressed after |',
  '| --- | --- | --- | --- | --- | --- |',
  `| one at a time | ${trials} | ${ms(quantile(single, 0.5))} | ${ms(quantile(single, 0.99))} | ${ms(Math.max(...single))} | n/a |`,
  `| created at once (50 in flight) | ${burst} | ${ms(quantile(burstLatencies, 0.5))} | ${ms(quantile(burstLatencies, 0.99))} | ${ms(Math.max(...burstLatencies))} | ${ms(burstTotal)} |`,
].join('\n');
console.log(table);
writeBenchSection(
  'address-latency',
  `## Ingress creation to address in status

\`node test/bench/address-latency.ts --trials ${trials} --burst ${burst}\`: real kube-apiserver (v1.36.3, embedded etcd,
fsync off) and \`pier-controller\` under its RBAC ServiceAccount, on ${machineLine()}, ${new Date().toISOString().slice(0, 10)}.
Each Ingress has its own sharing key, so each needs an allocation of its own. Latency runs from sending the create request
to a watch delivering the Ingress with its address.

${table}

Anchors: MetalLB and Cilium LB-IPAM publish no comparable figure; both also go through a watch, a reconcile and a status
write per Service.`,
);
progress.done();
