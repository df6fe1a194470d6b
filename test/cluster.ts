/**
 * Keeps a test API server (with kube-controller-manager) and a redis-server
 * running for manual use with kubectl, until Ctrl-C.
 *
 *   ./run-tests is not needed for this:  node test/cluster.ts   (or pnpm cluster)
 *
 * Unlike the suite it runs in the host's network namespace (only loopback is
 * used), so no stand-in pods on documentation addresses are reachable here.
 */
import { join } from 'node:path';
import { startRedis } from './lib/redis-server.ts';
import {
  buildTestCluster,
  KUBECTL_BIN,
  kubectl,
  REPO_ROOT,
  startTestCluster,
} from './lib/test-cluster.ts';

const stateDir = join(REPO_ROOT, '.test-state', 'manual');
console.log('building the test cluster (cached after the first time)...');
await buildTestCluster();
const [cluster, redis] = await Promise.all([
  startTestCluster(join(stateDir, 'cluster')),
  startRedis(join(stateDir, 'redis')),
]);
await kubectl(
  cluster.kubeconfig,
  ['apply', '--server-side', '-f', join(REPO_ROOT, 'deploy', 'crds')],
  {
    allowFailure: true,
  },
);
console.log(`
API server ready: ${cluster.server}
  export KUBECONFIG=${cluster.kubeconfig}
  alias kubectl=${KUBECTL_BIN}
Redis: ${redis.url}
Logs: ${stateDir}
Ctrl-C stops everything.`);

const stop = async (): Promise<void> => {
  await Promise.allSettled([cluster.stop(), redis.stop()]);
  process.exit(0);
};
process.once('SIGINT', () => void stop());
process.once('SIGTERM', () => void stop());
await cluster.process.exited;
