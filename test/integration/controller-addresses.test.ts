/**
 * The controller against the real API server, running under its own RBAC:
 * pools, addresses in `kubectl get ingress`, pool counts, Events for bad
 * input, foreign classes left alone.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, test } from 'node:test';
import { NetworkingV1Api } from '@kubernetes/client-node';
import { waitUntil } from '../lib/child-process.ts';
import { type ControllerProcess, startController } from '../lib/controller-process.ts';
import { testEnv } from '../lib/env.ts';
import {
  eventsFor,
  ingressAddresses,
  ingressManifest,
  listDocument,
  poolDocument,
  waitForAddresses,
} from '../lib/ingress-fixtures.ts';
import { adminKubeConfig, createTestNamespace } from '../lib/kube.ts';
import { kubectl } from '../lib/test-cluster.ts';

const kc = adminKubeConfig();
const { kubeconfig } = testEnv();
const suffix = randomBytes(3).toString('hex');
const pool = `main-${suffix}`;
const smallPool = `small-${suffix}`;
const overlapPool = `overlap-${suffix}`;
const foreignClass = `other-${suffix}`;
let ns: Awaited<ReturnType<typeof createTestNamespace>>;
let controller: ControllerProcess;

async function apply(doc: string): Promise<void> {
  await kubectl(kubeconfig, ['apply', '-f', '-'], { input: doc });
}

/** USED, FREE and HOLDERS as `kubectl get ippools` prints them (by the header's offsets: a cell may be blank). */
async function poolColumns(
  name: string,
): Promise<{ assigned: string; available: string; holders: string }> {
  const { stdout } = await kubectl(kubeconfig, ['get', 'ippools', name]);
  const [header = '', row = ''] = stdout.trimEnd().split('\n');
  const col = (n: string): string => {
    const start = header.indexOf(n);
    const next = header.slice(start + n.length).search(/\S/);
    return row.slice(start, next < 0 ? undefined : start + n.length + next).trim();
  };
  return { assigned: col('USED'), available: col('FREE'), holders: col('HOLDERS') };
}

before(async () => {
  ns = await createTestNamespace(kc, 'addr');
  await apply(poolDocument(pool, ['203.0.113.0/28']));
  await apply(
    JSON.stringify({
      apiVersion: 'networking.k8s.io/v1',
      kind: 'IngressClass',
      metadata: { name: foreignClass },
      spec: { controller: 'example.com/another-controller' },
    }),
  );
  controller = await startController({ identity: `addr-${suffix}` });
  await controller.waitForLeadership();
});

after(async () => {
  await controller?.stop();
  await kubectl(kubeconfig, [
    'delete',
    'ippool',
    pool,
    smallPool,
    overlapPool,
    '--ignore-not-found',
  ]);
  await kubectl(kubeconfig, ['delete', 'ingressclass', foreignClass, '--ignore-not-found']);
  await ns.remove();
});

test('three Ingresses get addresses from the pool within a second, shown by kubectl', async () => {
  await apply(
    listDocument([
      ingressManifest(ns.name, 'web-a', { className: 'pier' }),
      ingressManifest(ns.name, 'web-b'),
      ingressManifest(ns.name, 'web-c', { annotations: { 'pier.dev/ip-sharing-key': 'team-c' } }),
    ]),
  );
  // From the moment kubectl has created them (starting kubectl itself is not Pier's time).
  const started = performance.now();
  const addresses = await waitForAddresses(kc, ns.name, ['web-a', 'web-b', 'web-c'], 5_000);
  const elapsed = performance.now() - started;
  assert.ok(elapsed < 1_000, `addresses took ${elapsed.toFixed(0)}ms`);

  const a = addresses.get('web-a');
  assert.deepEqual(addresses.get('web-b'), a, 'the default key shares one address per pool');
  assert.notDeepEqual(addresses.get('web-c'), a, 'another sharing key gets its own address');
  for (const ip of [...(a ?? []), ...(addresses.get('web-c') ?? [])]) {
    assert.match(ip, /^203\.0\.113\.([0-9]|1[0-5])$/);
  }

  const { stdout } = await kubectl(kubeconfig, ['get', 'ingress', '-n', ns.name]);
  assert.match(stdout, new RegExp(`web-a\\s+pier\\s+\\S+\\s+${a?.[0]?.replace(/\./g, '\\.')}\\s`));

  await waitUntil('pool counts', async () => {
    const c = await poolColumns(pool);
    return c.assigned === '2' && c.available === '14' ? c : undefined;
  });
  assert.equal((await poolColumns(pool)).holders, '', 'a pool without spec.l2 has no holders');
  const events = await eventsFor(kc, ns.name, 'web-c');
  assert.ok(
    events.some(
      (e) =>
        e.reason === 'AddressAssigned' &&
        e.message.includes(pool) &&
        e.source === 'pier-controller',
    ),
    JSON.stringify(events),
  );
});

test('an Ingress of a foreign class is never touched', async () => {
  await apply(listDocument([ingressManifest(ns.name, 'foreign', { className: foreignClass })]));
  // A later Ingress getting its address proves the controller has processed the earlier one.
  await apply(listDocument([ingressManifest(ns.name, 'marker-1')]));
  await waitForAddresses(kc, ns.name, ['marker-1']);
  const all = await ingressAddresses(kc, ns.name);
  assert.deepEqual(all.get('foreign'), []);
  assert.deepEqual(await eventsFor(kc, ns.name, 'foreign'), []);
});

test('bad requests get an Event naming the cause and no address; others are unaffected', async () => {
  const before = await ingressAddresses(kc, ns.name);
  await apply(poolDocument(smallPool, ['192.0.2.10-192.0.2.11'], { autoAssign: false }));
  await apply(
    listDocument([
      ingressManifest(ns.name, 'outside', {
        annotations: { 'pier.dev/load-balancer-ips': '198.51.100.200' },
      }),
      ingressManifest(ns.name, 'unknown-pool', {
        annotations: { 'pier.dev/address-pool': 'no-such-pool' },
      }),
      ...[1, 2, 3].map((i) =>
        ingressManifest(ns.name, `small-${i}`, {
          annotations: {
            'pier.dev/address-pool': smallPool,
            'pier.dev/ip-sharing-key': `small-${i}`,
          },
        }),
      ),
      ingressManifest(ns.name, 'bad-annotation', {
        annotations: { 'pier.dev/load-balancer-ips': 'not-an-ip' },
      }),
    ]),
  );
  const expectations: Array<[string, RegExp]> = [
    ['outside', /PIER_ADDRESS_OUTSIDE_POOLS.*198\.51\.100\.200/],
    ['unknown-pool', /PIER_UNKNOWN_POOL.*no-such-pool/],
    ['bad-annotation', /pier\.dev\/load-balancer-ips.*not-an-ip/],
  ];
  for (const [name, message] of expectations) {
    const event = await waitUntil(`AllocationFailed on ${name}`, async () =>
      (await eventsFor(kc, ns.name, name)).find((e) => e.reason === 'AllocationFailed'),
    );
    assert.equal(event.type, 'Warning');
    assert.match(event.message, message);
  }
  const small = await waitForAddresses(kc, ns.name, ['small-1', 'small-2']);
  assert.notDeepEqual(small.get('small-1'), small.get('small-2'));
  const exhausted = await waitUntil('PIER_POOL_EXHAUSTED on small-3', async () =>
    (await eventsFor(kc, ns.name, 'small-3')).find((e) =>
      e.message.includes('PIER_POOL_EXHAUSTED'),
    ),
  );
  assert.equal(exhausted.reason, 'AllocationFailed');

  const after = await ingressAddresses(kc, ns.name);
  for (const name of ['outside', 'unknown-pool', 'small-3', 'bad-annotation']) {
    assert.deepEqual(after.get(name), [], `${name} must have no address`);
  }
  for (const name of ['web-a', 'web-b', 'web-c']) {
    assert.deepEqual(after.get(name), before.get(name), `${name} keeps its address`);
  }
});

test('a freed address goes to the Ingress that was waiting for one', async () => {
  await kubectl(kubeconfig, ['delete', 'ingress', '-n', ns.name, 'small-1']);
  const got = await waitForAddresses(kc, ns.name, ['small-3']);
  assert.match(got.get('small-3')?.[0] ?? '', /^192\.0\.2\.1[01]$/);
});

test('overlapping pools are flagged on both', async () => {
  await apply(poolDocument(overlapPool, ['203.0.113.8/29']));
  for (const name of [pool, overlapPool]) {
    const condition = await waitUntil(`Overlapping condition on ${name}`, async () => {
      const { stdout } = await kubectl(kubeconfig, ['get', 'ippool', name, '-o', 'json']);
      const conditions = (
        JSON.parse(stdout) as { status?: { conditions?: Array<Record<string, string>> } }
      ).status?.conditions;
      return conditions?.find((c) => c.type === 'Overlapping' && c.status === 'True');
    });
    assert.equal(condition.reason, 'OverlapsPool');
    assert.match(
      condition.message ?? '',
      name === pool ? new RegExp(overlapPool) : new RegExp(pool),
    );
  }
});

test('an Ingress that leaves the class loses its address and the pool gets it back', async () => {
  const networking = kc.makeApiClient(NetworkingV1Api);
  const c = await networking.readNamespacedIngress({ name: 'web-c', namespace: ns.name });
  assert.equal(c.status?.loadBalancer?.ingress?.length, 1);
  const assignedBefore = Number((await poolColumns(pool)).assigned);
  await kubectl(kubeconfig, [
    'patch',
    'ingress',
    '-n',
    ns.name,
    'web-c',
    '--type=merge',
    '-p',
    JSON.stringify({ spec: { ingressClassName: foreignClass } }),
  ]);
  await waitUntil('web-c status cleared', async () =>
    ((await ingressAddresses(kc, ns.name)).get('web-c')?.length ?? 1) === 0 ? true : undefined,
  );
  await waitUntil('pool assigned count to drop', async () =>
    Number((await poolColumns(pool)).assigned) === assignedBefore - 1 ? true : undefined,
  );
});
