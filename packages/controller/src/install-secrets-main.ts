#!/usr/bin/env node
/**
 * pier-install-secrets: creates the Redis password and key-ring Secrets in
 * the Pier namespace if they are absent (deploy/install/install-secrets.yaml
 * runs it as a Job). Prints one line per Secret; exits non-zero on any error,
 * so the Job retries.
 */
import { CoreV1Api, KubeConfig } from '@kubernetes/client-node';
import { FlagReader, type FlagSpecs, flagUsage, isPierError } from '@pier/shared';
import { ensureInstallSecrets } from './install-secrets.ts';

const FLAGS: FlagSpecs = Object.freeze({
  kubeconfig: { env: 'KUBECONFIG', help: 'kubeconfig file (default: in-cluster service account)' },
  namespace: {
    env: 'POD_NAMESPACE',
    default: 'pier-system',
    help: 'namespace of the Secrets',
  },
});

const argv = process.argv.slice(2);
if (argv.includes('--help') || argv.includes('-h')) {
  console.log(flagUsage('pier-install-secrets', FLAGS));
  process.exit(0);
}

let kubeconfig: string | undefined;
let namespace: string;
try {
  const flags = new FlagReader(FLAGS, argv, process.env);
  kubeconfig = flags.string('kubeconfig');
  namespace = flags.required('namespace');
  flags.finish();
} catch (err) {
  if (!isPierError(err)) throw err;
  for (const line of err.message.split('\n')) console.error(`pier-install-secrets: ${line}`);
  process.exit(2);
}

const kc = new KubeConfig();
if (kubeconfig) kc.loadFromFile(kubeconfig);
else kc.loadFromCluster();
try {
  for (const outcome of await ensureInstallSecrets(kc.makeApiClient(CoreV1Api), namespace)) {
    console.log(
      `secret ${namespace}/${outcome.name} ${outcome.created ? 'created' : 'exists, left unchanged'}`,
    );
  }
} catch (err) {
  const { code, body } = err as { code?: number; body?: unknown };
  console.error(
    `pier-install-secrets: creating Secrets in ${namespace} failed${code ? ` (HTTP ${code})` : ''}: ${
      typeof body === 'string' ? body : (err as Error).message
    }`,
  );
  process.exit(1);
}
