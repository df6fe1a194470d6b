/**
 * The controller's part of L2 mode against the real API server, under its own RBAC: for a pool
 * with `spec.l2` it publishes each assigned address with the pool's interfaces and the Nodes its
 * selector matches (following label changes), and shows in the pool's `status.holders` the node
 * whose lease Redis holds for each address (written here as a dataplane would), and counts in its
 * metrics the addresses nobody holds and the takeovers. A Service with
 * `externalTrafficPolicy: Local` is announced only by the nodes with a ready endpoint of it.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, test } from 'node:test';
import { CoreV1Api, DiscoveryV1Api } from '@kubernetes/client-node';
import {
  decodeL2Announcements,
  formatL2Lease,
  type L2Announcement,
  l2AnnouncementsKey,
  vipLeaseKey,
} from '@pier/shared';
import { Redis } from 'ioredis';
import { waitUntil } from '../lib/child-process.ts';
import { type ControllerProcess, startController } from '../lib/controller-process.ts';
import { testEnv } from '../lib/env.ts';
import {
  eventsFor,
  ingressManifest,
  listDocument,
  waitForAddresses,
} from '../lib/ingress-fixtures.ts';
import { adminKubeConfig, createTestNamespace } from '../lib/kube.ts';
import { metricValue, scrape } from '../lib/prometheus-text.ts';
import { loadBalancerService, waitForServiceAddresses } from '../lib/service-fixtures.ts';
import { kubectl } from '../lib/test-cluster.ts';

const kc = adminKubeConfig();
const { kubeconfig, redisUrl } = testEnv();
const suffix = randomBytes(3).toString('hex');
const pool = `l2-${suffix}`;
const label = 'pier.dev/l2-test';
const nodes = [`l2-a-${suffix}`, `l2-b-${suffix}`, `l2-other-${suffix}`];
const core = kc.makeApiClient(CoreV1Api);
let ns: Awaited<ReturnType<typeof createTestNamespace>>;
let controller: ControllerProcess;
let redis: Redis;
let address = '';

async function announced(): Promise<L2Announcement | undefined> {
  const text = await redis.get(l2AnnouncementsKey());
  return decodeL2Announcements(text ?? '{}').announcements.addresses.find(
    (a) => a.address === address,
  );
}

async function holders(): Promise<string> {
  const { stdout } = await kubectl(kubeconfig, [
    'get',
    'ippool',
    pool,
    '-o',
    'jsonpath={range .status.holders[*]}{.address}={.node}{"\\n"}{end}',
  ]);
  return stdout.trim();
}

/** The HOLDERS column of `kubectl get ippools` for the pool. */
async function holdersColumn(): Promise<string> {
  const { stdout } = await kubectl(kubeconfig, ['get', 'ippools', pool]);
  const [header = '', row = ''] = stdout.trimEnd().split('\n');
  const start = header.indexOf('HOLDERS');
  return row.slice(start, header.indexOf('AGE')).trim();
}

before(async () => {
  redis = new Redis(redisUrl);
  ns = await createTestNamespace(kc, 'l2');
  for (const [i, name] of nodes.entries()) {
    await core.createNode({
      body: { metadata: { name, labels: i < 2 ? { [label]: suffix } : {} } },
    });
  }
  await kubectl(kubeconfig, ['apply', '-f', '-'], {
    input: JSON.stringify({
      apiVersion: 'pier.dev/v1alpha1',
      kind: 'IPAddressPool',
      metadata: { name: pool },
      spec: {
        addresses: ['198.51.100.240/29'],
        autoAssign: false,
        l2: { interfaces: ['eth0'], nodeSelector: { matchLabels: { [label]: suffix } } },
      },
    }),
  });
  controller = await startController({ identity: `l2-${suffix}` });
  await controller.waitForLeadership();
});

after(async () => {
  await controller?.stop();
  await kubectl(kubeconfig, ['delete', 'ippool', pool, '--ignore-not-found']);
  await kubectl(kubeconfig, ['delete', 'node', ...nodes, '--ignore-not-found']);
  await redis?.del(vipLeaseKey(address || '198.51.100.240'));
  redis?.disconnect();
  await ns?.remove();
});

test('an assigned address of an L2 pool is published with its interfaces and eligible nodes', async () => {
  await kubectl(kubeconfig, ['apply', '-f', '-'], {
    input: listDocument([
      ingressManifest(ns.name, 'web', { annotations: { 'pier.dev/address-pool': pool } }),
    ]),
  });
  const addresses = await waitForAddresses(kc, ns.name, ['web']);
  address = addresses.get('web')?.[0] ?? '';
  assert.match(address, /^198\.51\.100\.24[0-7]$/);
  const entry = await waitUntil('the address to be announced', announced, 5_000);
  assert.deepEqual(entry, {
    address,
    pool,
    interfaces: ['eth0'],
    nodes: [nodes[0], nodes[1]].sort(),
  });

  // A node labelled later becomes eligible.
  await kubectl(kubeconfig, ['label', 'node', nodes[2] ?? '', `${label}=${suffix}`]);
  await waitUntil(
    'the newly labelled node to be eligible',
    async () => ((await announced())?.nodes.includes(nodes[2] ?? '') ? true : undefined),
    5_000,
  );
});

test('the pool status names the node holding each address, as the leases in Redis say', async () => {
  assert.notEqual(address, '', 'the first test assigned an address');
  assert.equal(await holders(), '');
  await waitUntil('HOLDERS to show an empty list', async () =>
    (await holdersColumn()) === '[]' ? true : undefined,
  );
  await redis.set(
    vipLeaseKey(address),
    formatL2Lease({ epoch: 7, node: nodes[1] ?? '', token: 'test' }),
    'PX',
    60_000,
  );
  await waitUntil(
    'status.holders to name the node',
    async () => ((await holders()) === `${address}=${nodes[1]}` ? true : undefined),
    5_000,
  );
  assert.equal(await holdersColumn(), JSON.stringify([nodes[1]]), 'kubectl get ippools');
  await redis.del(vipLeaseKey(address));
  await waitUntil(
    'status.holders to be empty again',
    async () => ((await holders()) === '' ? true : undefined),
    5_000,
  );
  assert.equal(await holdersColumn(), '[]');
});

test('metrics: addresses of the pool without holder, and takeovers by another node', async () => {
  assert.notEqual(address, '', 'the first test assigned an address');
  const metric = async (name: string): Promise<number> =>
    metricValue(await scrape(controller.opsPort), name, { pool }) ?? 0;
  const becomes = (name: string, want: number, why: string): Promise<true> =>
    waitUntil(why, async () => ((await metric(name)) === want ? true : undefined), 5_000);
  const lease = (node: string, epoch: number) =>
    redis.set(vipLeaseKey(address), formatL2Lease({ epoch, node, token: 'test' }), 'PX', 60_000);
  const unheld = 'pier_l2_addresses_unheld';
  const moves = 'pier_l2_holder_changes_total';
  await becomes(unheld, 1, 'the address to count as held by no node');
  const before = await metric(moves);
  try {
    // Back on the node that held it in the test before: no takeover.
    await lease(nodes[1] ?? '', 8);
    await becomes(unheld, 0, 'the address to count as held');
    assert.equal(await metric(moves), before, 'the same node again is no takeover');
    // Another node takes it over.
    await lease(nodes[0] ?? '', 9);
    await becomes(moves, before + 1, 'the takeover to be counted');
    assert.equal(await metric(unheld), 0);
  } finally {
    await redis.del(vipLeaseKey(address));
  }
  await becomes(unheld, 1, 'the address without holder again once the lease is gone');
});

test('a Service with externalTrafficPolicy Local is announced only by the nodes with a ready endpoint, and follows them', async () => {
  const discovery = kc.makeApiClient(DiscoveryV1Api);
  await kubectl(kubeconfig, ['apply', '-f', '-'], {
    input: listDocument([
      loadBalancerService(ns.name, 'db', {
        ports: [{ port: 5432 }],
        externalTrafficPolicy: 'Local',
        annotations: { 'pier.dev/address-pool': pool },
      }),
    ]),
  });
  const serviceAddress =
    (await waitForServiceAddresses(kc, ns.name, ['db'], 5_000)).get('db')?.[0] ?? '';
  assert.match(serviceAddress, /^198\.51\.100\.24[0-7]$/);
  const entryOf = async (): Promise<L2Announcement | undefined> => {
    const text = await redis.get(l2AnnouncementsKey());
    return decodeL2Announcements(text ?? '{}').announcements.addresses.find(
      (a) => a.address === serviceAddress,
    );
  };
  const nodesBecome = (want: readonly string[], why: string): Promise<true> =>
    waitUntil(
      why,
      async () =>
        JSON.stringify((await entryOf())?.nodes) === JSON.stringify(want) ? true : undefined,
      5_000,
    );
  // No ready endpoint anywhere: no node may announce it (kube-proxy would drop the traffic).
  await nodesBecome([], 'no node to be eligible without an endpoint');

  // Stand-in pods on documentation-range addresses (no kubelet here: the slice is written as the
  // EndpointSlice controller would).
  const slice = (endpoints: Array<{ ip: string; node: string; ready: boolean }>) => ({
    metadata: {
      name: 'db-local',
      namespace: ns.name,
      labels: {
        'kubernetes.io/service-name': 'db',
        'endpointslice.kubernetes.io/managed-by': 'pier-test',
      },
    },
    addressType: 'IPv4',
    ports: [{ name: 'tcp-5432', port: 5432, protocol: 'TCP' }],
    endpoints: endpoints.map((e) => ({
      addresses: [e.ip],
      nodeName: e.node,
      conditions: { ready: e.ready },
    })),
  });
  await discovery.createNamespacedEndpointSlice({
    namespace: ns.name,
    body: slice([
      { ip: '192.0.2.10', node: nodes[0] ?? '', ready: true },
      { ip: '192.0.2.11', node: nodes[1] ?? '', ready: false },
    ]),
  });
  await nodesBecome([nodes[0] ?? ''], 'only the node with a ready endpoint');

  // The pod moves: the other node now has the ready endpoint.
  await discovery.replaceNamespacedEndpointSlice({
    name: 'db-local',
    namespace: ns.name,
    body: slice([
      { ip: '192.0.2.10', node: nodes[0] ?? '', ready: false },
      { ip: '192.0.2.11', node: nodes[1] ?? '', ready: true },
    ]),
  });
  await nodesBecome([nodes[1] ?? ''], 'the eligible node to follow the endpoint');

  // With policy Cluster every node of the pool may announce it again.
  await kubectl(kubeconfig, [
    'patch',
    'svc',
    '-n',
    ns.name,
    'db',
    '--type=merge',
    '-p',
    JSON.stringify({ spec: { externalTrafficPolicy: 'Cluster' } }),
  ]);
  await nodesBecome([...nodes].sort(), 'every labelled node under policy Cluster');

  // The holder is visible on the Service itself (`kubectl describe svc`) and on the pool.
  await redis.set(
    vipLeaseKey(serviceAddress),
    formatL2Lease({ epoch: 3, node: nodes[1] ?? '', token: 'test' }),
    'PX',
    60_000,
  );
  try {
    await waitUntil('an AddressAnnounced Event on the Service', async () => {
      const events = await eventsFor(kc, ns.name, 'db');
      return events.find(
        (e) =>
          e.reason === 'AddressAnnounced' &&
          e.message === `${serviceAddress} announced by node ${nodes[1]}`,
      );
    });
    await waitUntil('status.holders to name the node', async () =>
      (await holders()).includes(`${serviceAddress}=${nodes[1]}`) ? true : undefined,
    );
    const { stdout } = await kubectl(kubeconfig, ['describe', 'svc', '-n', ns.name, 'db']);
    assert.match(
      stdout,
      new RegExp(
        `AddressAnnounced\\s+\\S+\\s+pier-controller\\s+${serviceAddress.replace(/\./g, '\\.')} announced by node ${nodes[1]}`,
      ),
    );

    // HOLDERS names each node once, however many of the pool's addresses it holds.
    await waitUntil('HOLDERS to name the node', async () =>
      (await holdersColumn()) === JSON.stringify([nodes[1]]) ? true : undefined,
    );
    await redis.set(
      vipLeaseKey(address),
      formatL2Lease({ epoch: 4, node: nodes[1] ?? '', token: 'test' }),
      'PX',
      60_000,
    );
    await waitUntil('status.holders to list both addresses', async () =>
      (await holders()).split('\n').length === 2 ? true : undefined,
    );
    assert.equal(await holdersColumn(), JSON.stringify([nodes[1]]), 'one node, two addresses');
    await redis.set(
      vipLeaseKey(address),
      formatL2Lease({ epoch: 5, node: nodes[0] ?? '', token: 'test' }),
      'PX',
      60_000,
    );
    await waitUntil('HOLDERS to name both nodes, sorted', async () =>
      (await holdersColumn()) === JSON.stringify([nodes[0], nodes[1]].sort()) ? true : undefined,
    );
  } finally {
    await redis.del(vipLeaseKey(serviceAddress), vipLeaseKey(address));
  }
});
