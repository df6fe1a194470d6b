import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { ApiException, type KubernetesObject, NetworkingV1Api } from '@kubernetes/client-node';
import { listInPages } from '../../packages/controller/src/kube/paged-list.ts';
import { PooledKubeConfig } from '../../packages/controller/src/kube/pooled-kube-config.ts';
import { rawListPage } from '../../packages/controller/src/kube/raw-list.ts';
import { controllerKubeconfig } from '../lib/controller-process.ts';
import { testEnv } from '../lib/env.ts';
import { adminKubeConfig, createTestNamespace } from '../lib/kube.ts';
import { kubectl } from '../lib/test-cluster.ts';

const kc = adminKubeConfig();
const networking = kc.makeApiClient(NetworkingV1Api);
let ns: Awaited<ReturnType<typeof createTestNamespace>>;

before(async () => {
  ns = await createTestNamespace(kc, 'kube-api');
});
after(async () => {
  await networking.deleteIngressClass({ name: `${ns.name}-class` }).catch(() => undefined);
  await ns.remove();
});

test('an address written through the status subresource shows in kubectl get ingress', async () => {
  const className = `${ns.name}-class`;
  await networking.createIngressClass({
    body: {
      metadata: { name: className },
      spec: { controller: 'pier.dev/ingress-controller' },
    },
  });
  const ingress = await networking.createNamespacedIngress({
    namespace: ns.name,
    body: {
      metadata: { name: 'web' },
      spec: {
        ingressClassName: className,
        rules: [
          {
            host: 'web.example.test',
            http: {
              paths: [
                {
                  path: '/',
                  pathType: 'Prefix',
                  backend: { service: { name: 'web', port: { number: 80 } } },
                },
              ],
            },
          },
        ],
      },
    },
  });
  assert.equal(ingress.status?.loadBalancer?.ingress, undefined, 'a new Ingress has no address');

  ingress.status = { loadBalancer: { ingress: [{ ip: '203.0.113.10' }] } };
  const updated = await networking.replaceNamespacedIngressStatus({
    name: 'web',
    namespace: ns.name,
    body: ingress,
  });
  assert.equal(updated.status?.loadBalancer?.ingress?.[0]?.ip, '203.0.113.10');

  const { stdout } = await kubectl(testEnv().kubeconfig, ['get', 'ingress', '-A']);
  const lines = stdout.trim().split('\n');
  const header = lines[0]?.split(/\s+/) ?? [];
  const addressColumn = header.indexOf('ADDRESS');
  assert.notEqual(addressColumn, -1, `no ADDRESS column in:\n${stdout}`);
  const row = lines.find((l) => l.startsWith(`${ns.name} `))?.split(/\s+/);
  assert.ok(row, `no row for namespace ${ns.name} in:\n${stdout}`);
  assert.equal(row[header.indexOf('NAME')], 'web');
  assert.equal(row[addressColumn], '203.0.113.10');
});

test('a spec update through the main resource cannot change the status', async () => {
  const current = await networking.readNamespacedIngress({ name: 'web', namespace: ns.name });
  current.status = { loadBalancer: { ingress: [{ ip: '203.0.113.99' }] } };
  const replaced = await networking.replaceNamespacedIngress({
    name: 'web',
    namespace: ns.name,
    body: current,
  });
  assert.equal(replaced.status?.loadBalancer?.ingress?.[0]?.ip, '203.0.113.10');
});

test('the controller lists in pages as plain JSON under its ServiceAccount, and a forbidden list rejects with 403', async () => {
  const kubeConfig = new PooledKubeConfig();
  kubeConfig.loadFromFile(await controllerKubeconfig());
  // Three more Ingresses than a page holds: the pages are joined, each object once.
  for (const name of ['page-a', 'page-b', 'page-c']) {
    await networking.createNamespacedIngress({
      namespace: ns.name,
      body: {
        metadata: { name },
        spec: { defaultBackend: { service: { name: 'web', port: { number: 80 } } } },
      },
    });
  }
  const path = `/apis/networking.k8s.io/v1/namespaces/${ns.name}/ingresses`;
  const list = await listInPages(rawListPage<KubernetesObject>(kubeConfig, path), undefined, 2);
  const names = list.items.map((i) => i.metadata?.name).sort();
  assert.deepEqual(names, ['page-a', 'page-b', 'page-c', 'web']);
  assert.match(
    list.metadata?.resourceVersion ?? '',
    /^\d+$/,
    'the list has a resourceVersion to watch from',
  );
  // Plain JSON, as watch events arrive: timestamps are RFC 3339 text, not Date objects.
  assert.equal(typeof list.items[0]?.metadata?.creationTimestamp, 'string');

  const selected = await listInPages(
    rawListPage<KubernetesObject>(kubeConfig, path, 'metadata.name=page-b'),
  );
  assert.deepEqual(
    selected.items.map((i) => i.metadata?.name),
    ['page-b'],
  );

  // The shipped RBAC grants no ConfigMaps: the API server's 403 comes back as the library's
  // ApiException, with the status code the caches' error handling logs.
  await assert.rejects(
    listInPages(rawListPage(kubeConfig, `/api/v1/namespaces/${ns.name}/configmaps`)),
    (err: unknown) => err instanceof ApiException && err.code === 403,
  );
});
