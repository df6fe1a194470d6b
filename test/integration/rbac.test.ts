import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { CoreV1Api, NetworkingV1Api, RbacAuthorizationV1Api } from '@kubernetes/client-node';
import { waitUntil } from '../lib/child-process.ts';
import { adminKubeConfig, createTestNamespace, serviceAccountKubeconfig } from '../lib/kube.ts';
import { kubectl } from '../lib/test-cluster.ts';

const kc = adminKubeConfig();
let ns: Awaited<ReturnType<typeof createTestNamespace>>;

before(async () => {
  ns = await createTestNamespace(kc, 'rbac');
  await kc
    .makeApiClient(CoreV1Api)
    .createNamespacedServiceAccount({ namespace: ns.name, body: { metadata: { name: 'reader' } } });
});
after(() => ns.remove());

function statusCode(err: unknown): number | undefined {
  return (err as { code?: number }).code;
}

test('a ServiceAccount token is refused until a Role grants it, then allowed', async () => {
  const sa = await serviceAccountKubeconfig(kc, ns.name, 'reader');
  const asReader = sa.kubeConfig.makeApiClient(NetworkingV1Api);

  await assert.rejects(asReader.listNamespacedIngress({ namespace: ns.name }), (err) => {
    assert.equal(statusCode(err), 403);
    return true;
  });
  const denied = await kubectl(sa.kubeconfigPath, ['get', 'ingress', '-n', ns.name], {
    allowFailure: true,
  });
  assert.notEqual(denied.code, 0);
  assert.match(denied.stderr, /forbidden/i);
  assert.match(denied.stderr, new RegExp(`system:serviceaccount:${ns.name}:reader`));

  const rbac = kc.makeApiClient(RbacAuthorizationV1Api);
  await rbac.createNamespacedRole({
    namespace: ns.name,
    body: {
      metadata: { name: 'ingress-reader' },
      rules: [
        { apiGroups: ['networking.k8s.io'], resources: ['ingresses'], verbs: ['get', 'list'] },
      ],
    },
  });
  await rbac.createNamespacedRoleBinding({
    namespace: ns.name,
    body: {
      metadata: { name: 'ingress-reader' },
      roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: 'ingress-reader' },
      subjects: [{ kind: 'ServiceAccount', name: 'reader', namespace: ns.name }],
    },
  });
  // The authorizer's informer sees the binding within moments.
  const list = await waitUntil('the RoleBinding to take effect', async () => {
    try {
      return await asReader.listNamespacedIngress({ namespace: ns.name });
    } catch (err) {
      if (statusCode(err) === 403) return undefined;
      throw err;
    }
  });
  assert.deepEqual(list.items, []);
  const allowed = await kubectl(sa.kubeconfigPath, ['get', 'ingress', '-n', ns.name]);
  assert.match(allowed.stderr + allowed.stdout, /No resources found/);

  // The grant is exactly what the Role says: other namespaces and verbs stay closed.
  await assert.rejects(asReader.listIngressForAllNamespaces(), (err) => statusCode(err) === 403);
  await assert.rejects(
    asReader.deleteCollectionNamespacedIngress({ namespace: ns.name }),
    (err) => statusCode(err) === 403,
  );
});
