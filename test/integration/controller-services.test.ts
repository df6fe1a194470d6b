/**
 * Services of type LoadBalancer against the real API server, the controller running under its
 * own RBAC: an EXTERNAL-IP within a second, MetalLB's sharing rule with an Event that says why,
 * requested addresses (MetalLB's annotation, spec.loadBalancerIP), classes left alone, release
 * on a change to ClusterIP, and pools limited by allocateTo and serviceAllocation.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, test } from 'node:test';
import { CoreV1Api } from '@kubernetes/client-node';
import { waitUntil } from '../lib/child-process.ts';
import { type ControllerProcess, startController } from '../lib/controller-process.ts';
import { testEnv } from '../lib/env.ts';
import {
  eventsFor,
  ingressManifest,
  listDocument,
  poolDocument,
  waitForAddresses,
} from '../lib/ingress-fixtures.ts';
import { adminKubeConfig, createTestNamespace } from '../lib/kube.ts';
import {
  loadBalancerService,
  serviceAddresses,
  serviceAddressMap,
  waitForServiceAddresses,
} from '../lib/service-fixtures.ts';
import { kubectl } from '../lib/test-cluster.ts';

const kc = adminKubeConfig();
const core = kc.makeApiClient(CoreV1Api);
const { kubeconfig } = testEnv();
const suffix = randomBytes(3).toString('hex');
/** Sorts after the others by name: only what rules them out keeps objects from them. */
const pool = `z-svc-${suffix}`;
/** First by name, but for Ingresses only. */
const ingressOnlyPool = `a-ingress-${suffix}`;
/** For the `ranked` namespace's Services first (serviceAllocation). */
const rankedPool = `m-ranked-${suffix}`;
let ns: Awaited<ReturnType<typeof createTestNamespace>>;
let ranked: Awaited<ReturnType<typeof createTestNamespace>>;
let controller: ControllerProcess;

async function apply(doc: string): Promise<void> {
  await kubectl(kubeconfig, ['apply', '-f', '-'], { input: doc });
}

async function service(
  namespace: string,
  name: string,
): Promise<ReturnType<typeof serviceAddresses>> {
  return serviceAddresses(await core.readNamespacedService({ namespace, name }));
}

/** Waits for a Warning AllocationFailed Event on the named Service; returns its message. */
function failureEvent(namespace: string, name: string, code: string): Promise<string> {
  return waitUntil(`AllocationFailed ${code} on Service ${name}`, async () => {
    const events = await eventsFor(kc, namespace, name);
    return events.find((e) => e.reason === 'AllocationFailed' && e.message.startsWith(code))
      ?.message;
  });
}

before(async () => {
  ns = await createTestNamespace(kc, 'svc');
  ranked = await createTestNamespace(kc, 'svc-ranked');
  await apply(poolDocument(pool, ['198.51.100.0/26']));
  await apply(poolDocument(ingressOnlyPool, ['198.51.100.64/28'], { allocateTo: ['Ingress'] }));
  await apply(
    poolDocument(rankedPool, ['198.51.100.80/28'], {
      autoAssign: true,
      serviceAllocation: { priority: 10, namespaces: [ranked.name] },
    }),
  );
  controller = await startController({
    identity: `svc-${suffix}`,
    args: ['--services-without-class=true'],
  });
  await controller.waitForLeadership();
});

after(async () => {
  await controller?.stop();
  await kubectl(kubeconfig, [
    'delete',
    'ippool',
    pool,
    ingressOnlyPool,
    rankedPool,
    '--ignore-not-found',
  ]);
  await Promise.all([ns?.remove(), ranked?.remove()]);
});

test('a Service of type LoadBalancer gets an EXTERNAL-IP within a second, shown by kubectl get svc', async () => {
  await apply(listDocument([loadBalancerService(ns.name, 'db')]));
  // From the moment kubectl has created it (starting kubectl itself is not Pier's time).
  const started = performance.now();
  const addresses = await waitForServiceAddresses(kc, ns.name, ['db'], 5_000);
  const elapsed = performance.now() - started;
  assert.ok(elapsed < 1_000, `the address took ${elapsed.toFixed(0)}ms`);
  const ip = addresses.get('db')?.[0] ?? '';
  assert.match(ip, /^198\.51\.100\.([0-9]|[1-5][0-9]|6[0-3])$/, 'from the pool that serves it');

  const { stdout } = await kubectl(kubeconfig, ['get', 'svc', '-n', ns.name, 'db']);
  assert.match(stdout, new RegExp(`db\\s+LoadBalancer\\s+\\S+\\s+${ip.replace(/\./g, '\\.')}\\s`));
  const live = await core.readNamespacedService({ namespace: ns.name, name: 'db' });
  assert.deepEqual(
    (live.status?.loadBalancer?.ingress ?? []).map((i) => ({ ip: i.ip, ipMode: i.ipMode })),
    [{ ip, ipMode: 'VIP' }],
  );
  await waitUntil('AddressAssigned on the Service', async () => {
    const events = await eventsFor(kc, ns.name, 'db');
    return events.find((e) => e.reason === 'AddressAssigned' && e.message.includes(ip));
  });
});

test('two Services with one sharing key and distinct ports share; a port collision does not, and the Event says why', async () => {
  await apply(
    listDocument([
      loadBalancerService(ns.name, 'mqtt', {
        ports: [{ port: 1883 }],
        annotations: { 'pier.dev/ip-sharing-key': 'broker' },
      }),
      // MetalLB's annotation means the same key.
      loadBalancerService(ns.name, 'mqtt-tls', {
        ports: [{ port: 8883 }],
        annotations: { 'metallb.universe.tf/allow-shared-ip': 'broker' },
      }),
    ]),
  );
  const shared = await waitForServiceAddresses(kc, ns.name, ['mqtt', 'mqtt-tls'], 5_000);
  assert.deepEqual(shared.get('mqtt-tls'), shared.get('mqtt'), 'same key, distinct ports: shared');
  const ip = shared.get('mqtt')?.[0] ?? '';

  await apply(
    listDocument([
      loadBalancerService(ns.name, 'mqtt-clash', {
        ports: [{ port: 1883 }],
        annotations: { 'pier.dev/ip-sharing-key': 'broker' },
      }),
      loadBalancerService(ns.name, 'mqtt-local', {
        ports: [{ port: 9001 }],
        externalTrafficPolicy: 'Local',
        annotations: { 'pier.dev/ip-sharing-key': 'broker' },
      }),
    ]),
  );
  const clash = await failureEvent(ns.name, 'mqtt-clash', 'PIER_SHARING_CONFLICT');
  assert.match(clash, new RegExp(`port TCP/1883 on ${ip.replace(/\./g, '\\.')}`));
  assert.match(clash, /Service svc-[0-9a-f]+\/mqtt\b/, 'names the Service that holds the port');
  const policy = await failureEvent(ns.name, 'mqtt-local', 'PIER_SHARING_CONFLICT');
  assert.match(policy, /externalTrafficPolicy Cluster.*asks for Local/);
  assert.deepEqual(await service(ns.name, 'mqtt-clash'), [], 'no address in status');
  assert.deepEqual(await service(ns.name, 'mqtt-local'), []);
});

test('a requested address: MetalLB loadBalancerIPs and spec.loadBalancerIP are honoured', async () => {
  await apply(
    listDocument([
      loadBalancerService(ns.name, 'ssh', {
        ports: [{ port: 22 }],
        annotations: { 'metallb.universe.tf/loadBalancerIPs': '198.51.100.40' },
      }),
      loadBalancerService(ns.name, 'game', {
        ports: [{ port: 27015, protocol: 'UDP' }],
        loadBalancerIP: '198.51.100.41',
      }),
      loadBalancerService(ns.name, 'nowhere', { loadBalancerIP: '192.0.2.99' }),
    ]),
  );
  const addresses = await waitForServiceAddresses(kc, ns.name, ['ssh', 'game'], 5_000);
  assert.deepEqual(addresses.get('ssh'), ['198.51.100.40']);
  assert.deepEqual(addresses.get('game'), ['198.51.100.41']);
  const outside = await failureEvent(ns.name, 'nowhere', 'PIER_ADDRESS_OUTSIDE_POOLS');
  assert.match(outside, /192\.0\.2\.99/);
});

test('Services of another class or of type ClusterIP are left alone; one without a class is served with --services-without-class', async () => {
  await apply(
    listDocument([
      loadBalancerService(ns.name, 'foreign', { className: 'example.com/other-lb' }),
      { ...loadBalancerService(ns.name, 'plain'), spec: { ports: [{ port: 80 }] } },
      loadBalancerService(ns.name, 'classless', { className: null }),
    ]),
  );
  // The classless one is served; by then the others have been seen (one watch, in order).
  await waitForServiceAddresses(kc, ns.name, ['classless'], 5_000);
  await new Promise((r) => setTimeout(r, 500));
  assert.deepEqual(await service(ns.name, 'foreign'), []);
  assert.deepEqual(await service(ns.name, 'plain'), []);
  for (const name of ['foreign', 'plain']) {
    const events = await eventsFor(kc, ns.name, name);
    assert.deepEqual(
      events.filter((e) => e.source.startsWith('pier')),
      [],
      `no Event from Pier on ${name}`,
    );
  }
});

test('turning a Service into ClusterIP releases its address for another Service', async () => {
  await apply(listDocument([loadBalancerService(ns.name, 'broker', { ports: [{ port: 5672 }] })]));
  const ip = (await waitForServiceAddresses(kc, ns.name, ['broker'], 5_000)).get('broker')?.[0];
  assert.ok(ip);
  await kubectl(kubeconfig, [
    'patch',
    'svc',
    '-n',
    ns.name,
    'broker',
    '--type=merge',
    '-p',
    JSON.stringify({ spec: { type: 'ClusterIP' } }),
  ]);
  await waitUntil('AddressReleased on the pool', async () => {
    const events = await eventsFor(kc, 'default', pool);
    return events.find((e) => e.reason === 'AddressReleased' && e.message.startsWith(`${ip} `));
  });
  // The address is free: another Service may ask for it by name.
  await apply(listDocument([loadBalancerService(ns.name, 'broker-2', { loadBalancerIP: ip })]));
  const after = await waitForServiceAddresses(kc, ns.name, ['broker-2'], 5_000);
  assert.deepEqual(after.get('broker-2'), [ip]);
  assert.deepEqual(await service(ns.name, 'broker'), []);
});

test('allocateTo keeps Services off an Ingress-only pool; serviceAllocation ranks a pool first for its namespace', async () => {
  await apply(
    listDocument([
      ingressManifest(ns.name, 'site'),
      loadBalancerService(ns.name, 'cache', { ports: [{ port: 6379 }] }),
      loadBalancerService(ns.name, 'wants-ingress-pool', {
        annotations: { 'pier.dev/address-pool': ingressOnlyPool },
      }),
      loadBalancerService(ranked.name, 'ranked-db', { ports: [{ port: 5432 }] }),
    ]),
  );
  const ingress = await waitForAddresses(kc, ns.name, ['site'], 5_000);
  assert.match(
    ingress.get('site')?.[0] ?? '',
    /^198\.51\.100\.(6[4-9]|7[0-9])$/,
    'Ingress: first pool by name',
  );
  const services = await waitForServiceAddresses(kc, ns.name, ['cache'], 5_000);
  assert.match(
    services.get('cache')?.[0] ?? '',
    /^198\.51\.100\.([0-9]|[1-5][0-9]|6[0-3])$/,
    "Service: not the Ingress-only pool, not the other namespace's",
  );
  const refused = await failureEvent(ns.name, 'wants-ingress-pool', 'PIER_POOL_NOT_ALLOWED');
  assert.match(refused, new RegExp(ingressOnlyPool));
  const rankedAddresses = await waitForServiceAddresses(kc, ranked.name, ['ranked-db'], 5_000);
  assert.match(
    rankedAddresses.get('ranked-db')?.[0] ?? '',
    /^198\.51\.100\.(8[0-9]|9[0-5])$/,
    "its namespace's pool first",
  );

  // The pools count Services too.
  const all = await serviceAddressMap(kc, ns.name);
  const inMain = new Set(
    [...all.values()].flat().filter((ip) => /^198\.51\.100\.([0-9]|[1-5][0-9]|6[0-3])$/.test(ip)),
  );
  await waitUntil('the pool to count its Services', async () => {
    const { stdout } = await kubectl(kubeconfig, [
      'get',
      'ippool',
      pool,
      '-o',
      'jsonpath={.status.assigned}',
    ]);
    return Number(stdout) === inMain.size ? true : undefined;
  });
});
