import { randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { CoreV1Api, KubeConfig } from '@kubernetes/client-node';
import { waitUntil } from './child-process.ts';
import { testEnv } from './env.ts';

/** A KubeConfig for the test API server as its admin (system:masters). */
export function adminKubeConfig(): KubeConfig {
  const kc = new KubeConfig();
  kc.loadFromFile(testEnv().kubeconfig);
  return kc;
}

/**
 * Creates a namespace with a unique name for one test file; tests isolate
 * themselves by namespace. Returns its name and a function that deletes it and
 * waits until the namespace controller has really removed it.
 */
export async function createTestNamespace(
  kc: KubeConfig,
  prefix: string,
): Promise<{ name: string; remove: (waitMs?: number) => Promise<void> }> {
  const core = kc.makeApiClient(CoreV1Api);
  const name = `${prefix}-${randomBytes(3).toString('hex')}`;
  await core.createNamespace({ body: { metadata: { name, labels: { 'pier.dev/test': 'true' } } } });
  const remove = async (waitMs = 60_000): Promise<void> => {
    await core.deleteNamespace({ name }).catch(() => undefined);
    await waitUntil(
      `namespace ${name} to be deleted`,
      async () => {
        // There is no kubelet to confirm that a Pod's containers stopped, so a
        // deleted Pod would stay Terminating and hold the namespace forever.
        // Play the kubelet's part: confirm with a zero grace period.
        await core
          .deleteCollectionNamespacedPod({ namespace: name, gracePeriodSeconds: 0 })
          .catch(() => undefined);
        try {
          await core.readNamespace({ name });
          return undefined;
        } catch (err) {
          if ((err as { code?: number }).code === 404) return true;
          throw err;
        }
      },
      waitMs,
      250,
    );
  };
  return { name, remove };
}

/**
 * Mints a token for a ServiceAccount through the TokenRequest API (as the
 * kubelet would) and writes a kubeconfig that authenticates with it, so that
 * RBAC is exercised for real.
 */
export async function serviceAccountKubeconfig(
  kc: KubeConfig,
  namespace: string,
  serviceAccount: string,
  expirationSeconds = 3600,
): Promise<{ token: string; kubeconfigPath: string; kubeConfig: KubeConfig }> {
  const core = kc.makeApiClient(CoreV1Api);
  const request = await core.createNamespacedServiceAccountToken({
    name: serviceAccount,
    namespace,
    body: { spec: { audiences: [], expirationSeconds } },
  });
  const token = request.status?.token;
  if (!token) throw new Error(`no token issued for ${namespace}/${serviceAccount}`);
  const cluster = kc.getCurrentCluster();
  if (!cluster) throw new Error('admin kubeconfig has no current cluster');
  const caFile = cluster.caFile ?? '';
  const kubeconfigPath = join(testEnv().stateDir, `sa-${namespace}-${serviceAccount}.kubeconfig`);
  writeFileSync(
    kubeconfigPath,
    [
      'apiVersion: v1',
      'kind: Config',
      'clusters:',
      '- name: test',
      '  cluster:',
      `    server: ${cluster.server}`,
      `    certificate-authority: ${caFile}`,
      'users:',
      `- name: ${serviceAccount}`,
      '  user:',
      `    token: ${token}`,
      'contexts:',
      '- name: test',
      '  context:',
      '    cluster: test',
      `    user: ${serviceAccount}`,
      `    namespace: ${namespace}`,
      'current-context: test',
      '',
    ].join('\n'),
    { mode: 0o600 },
  );
  const kubeConfig = new KubeConfig();
  kubeConfig.loadFromFile(kubeconfigPath);
  return { token, kubeconfigPath, kubeConfig };
}
