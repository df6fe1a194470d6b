import { existsSync, mkdirSync, readFileSync, rmSync, symlinkSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { type ManagedProcess, run, startProcess, waitUntil } from './child-process.ts';

/** Repository root (test/lib/ is two levels down). */
export const REPO_ROOT = resolve(import.meta.dirname, '..', '..');
/** Where the Go build puts the test-cluster binary and its kubectl link. */
export const BIN_DIR = join(REPO_ROOT, '.cache', 'bin');
export const TESTCLUSTER_BIN = join(BIN_DIR, 'pier-testcluster');
/** The real kubectl, built from the same k8s.io/kubernetes release as the API server. */
export const KUBECTL_BIN = join(BIN_DIR, 'kubectl');

/** What `pier-testcluster up` writes to DIR/cluster.json once ready. */
export interface ClusterInfo {
  server: string;
  kubeconfig: string;
  caFile: string;
  etcdUrl: string;
  apiserverPid: number;
  controllerManagerPid: number;
  startupMillis: number;
}

export interface TestCluster extends ClusterInfo {
  readonly process: ManagedProcess;
  stop(): Promise<void>;
}

/**
 * Builds kube-apiserver, kube-controller-manager and kubectl (one binary) from
 * the official Kubernetes modules. The Go build cache makes a rebuild take
 * seconds; a cold build takes several minutes on two cores.
 */
export async function buildTestCluster(): Promise<void> {
  mkdirSync(BIN_DIR, { recursive: true });
  const harness = join(REPO_ROOT, 'test', 'harness');
  const version = kubernetesVersion(readFileSync(join(harness, 'go.mod'), 'utf8'));
  await run(
    'go',
    ['build', '-trimpath', '-ldflags', versionLdflags(version), '-o', TESTCLUSTER_BIN, '.'],
    {
      cwd: harness,
      stdio: 'inherit',
    },
  );
  if (!existsSync(KUBECTL_BIN)) symlinkSync('pier-testcluster', KUBECTL_BIN);
}

/** The k8s.io/kubernetes release the harness module requires, e.g. `v1.36.3`. */
export function kubernetesVersion(goMod: string): string {
  const match = /^\s*(?:require\s+)?k8s\.io\/kubernetes\s+(v\d+\.\d+\.\d+)/m.exec(goMod);
  if (!match?.[1]) throw new Error('test/harness/go.mod does not require k8s.io/kubernetes');
  return match[1];
}

/**
 * Stamps the binaries with their real release, as the Kubernetes build does:
 * without it they report v0.0.0-master, which kubectl cannot parse and which
 * would put the API server's compatibility version in an odd place.
 */
function versionLdflags(version: string): string {
  const [major, minor] = version.slice(1).split('.');
  const vars = {
    gitVersion: version,
    gitMajor: major,
    gitMinor: minor,
    gitTreeState: 'clean',
    buildDate: '1970-01-01T00:00:00Z',
  };
  const flags = ['-s', '-w'];
  for (const pkg of ['k8s.io/component-base/version', 'k8s.io/client-go/pkg/version']) {
    for (const [name, value] of Object.entries(vars)) flags.push(`-X ${pkg}.${name}=${value}`);
  }
  return flags.join(' ');
}

/**
 * Starts etcd, kube-apiserver and kube-controller-manager on loopback with
 * fresh certificates in `stateDir`, and resolves once the API server is ready
 * and the controller-manager is running controllers.
 */
export async function startTestCluster(
  stateDir: string,
  timeoutMs = 180_000,
): Promise<TestCluster> {
  rmSync(stateDir, { recursive: true, force: true });
  mkdirSync(stateDir, { recursive: true });
  const proc = startProcess(TESTCLUSTER_BIN, ['up', '--dir', stateDir], join(stateDir, 'up.log'));
  const infoPath = join(stateDir, 'cluster.json');
  const info = await waitUntil(
    'the test API server to become ready',
    async () => {
      const exited = await Promise.race([proc.exited, Promise.resolve(undefined)]);
      if (exited !== undefined) {
        throw new Error(`pier-testcluster exited (${exited}); see ${stateDir}/*.log`);
      }
      if (!existsSync(infoPath)) return undefined;
      return JSON.parse(readFileSync(infoPath, 'utf8')) as ClusterInfo;
    },
    timeoutMs,
    200,
  );
  return { ...info, process: proc, stop: () => proc.stop(20_000) };
}

/** Runs the real kubectl against a kubeconfig. */
export function kubectl(
  kubeconfig: string,
  args: readonly string[],
  options: { input?: string; allowFailure?: boolean } = {},
): Promise<{ code: number; stdout: string; stderr: string }> {
  return run(KUBECTL_BIN, ['--kubeconfig', kubeconfig, ...args], options);
}
