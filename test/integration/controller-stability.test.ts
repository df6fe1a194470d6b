/**
 * Addresses never move and are never given twice: across SIGKILLed
 * restarts, and with two replicas whose leader dies mid-way through a burst
 * of concurrent creations.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, test } from 'node:test';
import { NetworkingV1Api, type V1Ingress } from '@kubernetes/client-node';
import { waitUntil } from '../lib/child-process.ts';
import { type ControllerProcess, startController } from '../lib/controller-process.ts';
import { testEnv } from '../lib/env.ts';
import {
  ingressAddresses,
  ingressManifest,
  listDocument,
  waitForAddresses,
} from '../lib/ingress-fixtures.ts';
import { adminKubeConfig, createTestNamespace } from '../lib/kube.ts';
import { loadBalancerService, waitForServiceAddresses } from '../lib/service-fixtures.ts';
import { kubectl } from '../lib/test-cluster.ts';

const kc = adminKubeConfig();
const networking = kc.makeApiClient(NetworkingV1Api);
const { kubeconfig } = testEnv();
const suffix = randomBytes(3).toString('hex');
const pool = `stable-${suffix}`;
const running: ControllerProcess[] = [];

before(async () => {
  await kubectl(kubeconfig, ['apply', '-f', '-'], {
    input: JSON.stringify({
      apiVersion: 'pier.dev/v1alpha1',
      kind: 'IPAddressPool',
      metadata: { name: pool },
      // 512 addresses for 2 x 200 keys and a few more.
      spec: { addresses: ['198.51.100.0/24', '203.0.113.0/24'] },
    }),
  });
});

after(async () => {
  await Promise.all(running.map((c) => c.stop()));
  await kubectl(kubeconfig, ['delete', 'ippool', pool, '--ignore-not-found']);
});

async function start(identity: string): Promise<ControllerProcess> {
  const c = await startController({ identity });
  running.push(c);
  return c;
}

/** Asserts no address is held by two sharing keys (here: two Ingresses with distinct keys). */
function assertNoSharedAddress(addresses: Map<string, string[]>): void {
  const holder = new Map<string, string>();
  for (const [name, ips] of addresses) {
    for (const ip of ips) {
      const other = holder.get(ip);
      assert.equal(other, undefined, `${ip} is held by both ${other} and ${name}`);
      holder.set(ip, name);
    }
  }
}

const names = Array.from({ length: 200 }, (_, i) => `ing-${String(i).padStart(3, '0')}`);

test('200 Ingresses keep every address across 5 SIGKILLed restarts', {
  timeout: 300_000,
}, async () => {
  const ns = await createTestNamespace(kc, 'restart');
  let controller = await start(`restart-${suffix}`);
  await controller.waitForLeadership();
  await kubectl(kubeconfig, ['apply', '-f', '-'], {
    input: listDocument(
      names.map((n) =>
        ingressManifest(ns.name, n, { annotations: { 'pier.dev/ip-sharing-key': n } }),
      ),
    ),
  });
  const original = await waitForAddresses(kc, ns.name, names, 60_000);
  assertNoSharedAddress(original);

  for (let round = 1; round <= 5; round++) {
    await controller.kill();
    // Changes while no controller runs: an unrelated Ingress is deleted, a new one is created.
    await kubectl(kubeconfig, ['delete', 'ingress', '-n', ns.name, names[round * 7] as string]);
    original.delete(names[round * 7] as string);
    await kubectl(kubeconfig, ['apply', '-f', '-'], {
      input: listDocument([
        ingressManifest(ns.name, `late-${round}`, {
          annotations: { 'pier.dev/ip-sharing-key': `late-${round}` },
        }),
      ]),
    });
    controller = await start(`restart-${suffix}`);
    await controller.waitForLeadership();
    const now = await waitForAddresses(kc, ns.name, [`late-${round}`], 30_000);
    for (const [name, ips] of original) {
      assert.deepEqual(now.get(name), ips, `round ${round}: ${name} moved`);
    }
    assertNoSharedAddress(now);
  }
  await controller.stop();
  await ns.remove();
});

test('200 Services of type LoadBalancer keep every address across 5 SIGKILLed restarts', {
  timeout: 300_000,
}, async () => {
  const ns = await createTestNamespace(kc, 'svc-restart');
  let controller = await start(`svc-restart-${suffix}`);
  await controller.waitForLeadership();
  // The first two of every twenty share an address under one key, on distinct ports.
  const keyOf = (i: number): string | undefined =>
    i % 20 < 2 ? `pair-${Math.floor(i / 20)}` : undefined;
  const serviceNames = names.map((n) => n.replace('ing-', 'svc-'));
  const manifest = (name: string, i: number): Record<string, unknown> => {
    const key = keyOf(i);
    return loadBalancerService(ns.name, name, {
      ports: [{ port: 8000 + (i % 2) }],
      ...(key ? { annotations: { 'pier.dev/ip-sharing-key': key } } : {}),
    });
  };
  await kubectl(kubeconfig, ['apply', '-f', '-'], {
    input: listDocument(serviceNames.map(manifest)),
  });
  const original = await waitForServiceAddresses(kc, ns.name, serviceNames, 60_000);
  // One address per key: a pair shares its own, nobody else's.
  const byKey = new Map<string, string[]>();
  for (const [i, name] of serviceNames.entries()) {
    byKey.set(keyOf(i) ?? name, original.get(name) ?? []);
  }
  assertNoSharedAddress(byKey);
  for (const [i, name] of serviceNames.entries()) {
    const key = keyOf(i);
    if (key !== undefined) assert.deepEqual(original.get(name), byKey.get(key), `${name} shares`);
  }

  for (let round = 1; round <= 5; round++) {
    await controller.kill();
    // Changes while no controller runs: one Service is deleted, a new one is created.
    const gone = serviceNames[round * 7 + 2] as string;
    await kubectl(kubeconfig, ['delete', 'svc', '-n', ns.name, gone]);
    original.delete(gone);
    await kubectl(kubeconfig, ['apply', '-f', '-'], {
      input: listDocument([loadBalancerService(ns.name, `late-${round}`)]),
    });
    controller = await start(`svc-restart-${suffix}`);
    await controller.waitForLeadership();
    const now = await waitForServiceAddresses(kc, ns.name, [`late-${round}`], 30_000);
    for (const [name, ips] of original) {
      assert.deepEqual(now.get(name), ips, `round ${round}: ${name} moved`);
    }
    // No address is held by two keys (a pair's two Services are one key).
    const byKeyNow = new Map<string, string[]>();
    for (const [name, ips] of now) {
      const i = serviceNames.indexOf(name);
      if (ips.length > 0) byKeyNow.set((i >= 0 ? keyOf(i) : undefined) ?? name, ips);
    }
    assertNoSharedAddress(byKeyNow);
  }
  await controller.stop();
  await ns.remove();
});

test('two replicas, 200 concurrent creations, leader killed mid-way: one address per key, each key served', {
  timeout: 300_000,
}, async () => {
  const ns = await createTestNamespace(kc, 'ha');
  const first = await start(`ha-a-${suffix}`);
  await first.waitForLeadership();
  const second = await start(`ha-b-${suffix}`);

  // Create concurrently, 20 requests in flight at a time.
  let next = 0;
  let killed = false;
  const create = async (): Promise<void> => {
    while (next < names.length) {
      const name = names[next++] as string;
      const body = ingressManifest(ns.name, name, {
        annotations: { 'pier.dev/ip-sharing-key': `ha-${name}` },
      }) as V1Ingress;
      await networking.createNamespacedIngress({ namespace: ns.name, body });
      if (next === 100 && !killed) {
        killed = true;
        await first.kill();
      }
    }
  };
  await Promise.all(Array.from({ length: 20 }, create));
  assert.equal(killed, true);

  await second.waitForLeadership(30_000);
  const all = await waitForAddresses(kc, ns.name, names, 90_000);
  assertNoSharedAddress(all);
  for (const name of names) assert.equal(all.get(name)?.length, 1, `${name} has one address`);

  // The new leader's view is stable: nothing moves on a further reconcile.
  await kubectl(kubeconfig, ['apply', '-f', '-'], {
    input: listDocument([
      ingressManifest(ns.name, 'after', { annotations: { 'pier.dev/ip-sharing-key': 'after' } }),
    ]),
  });
  const later = await waitForAddresses(kc, ns.name, ['after']);
  for (const name of names) assert.deepEqual(later.get(name), all.get(name));
  assertNoSharedAddress(later);
  await second.stop();
  await ns.remove();
});

test('a leader stopped gracefully hands over at once', { timeout: 120_000 }, async () => {
  const ns = await createTestNamespace(kc, 'handover');
  const leader = await start(`hand-a-${suffix}`);
  await leader.waitForLeadership();
  const standby = await start(`hand-b-${suffix}`);
  const stopped = performance.now();
  await leader.stop();
  await standby.waitForLeadership(10_000);
  const takeover = performance.now() - stopped;
  // The Lease lasts 4 s in these tests; a released Lease is taken at the next 500 ms attempt.
  assert.ok(takeover < 3_000, `takeover took ${takeover.toFixed(0)}ms`);
  await kubectl(kubeconfig, ['apply', '-f', '-'], {
    input: listDocument([ingressManifest(ns.name, 'served')]),
  });
  const got = await waitUntil('the new leader to assign', async () => {
    const all = await ingressAddresses(kc, ns.name);
    return (all.get('served')?.length ?? 0) > 0 ? all : undefined;
  });
  assert.equal(got.get('served')?.length, 1);
  await standby.stop();
  await ns.remove();
});
