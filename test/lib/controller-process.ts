import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { SHIPPED_CONTROLLER } from './build-as-shipped.ts';
import {
  jsonLines,
  type ManagedProcess,
  startProcess,
  unlessExited,
  waitUntil,
} from './child-process.ts';
import { testEnv } from './env.ts';
import { adminKubeConfig, serviceAccountKubeconfig } from './kube.ts';
import { kubectl, REPO_ROOT } from './test-cluster.ts';

/** A pier-controller process started by a test. */
export interface ControllerProcess {
  readonly process: ManagedProcess;
  readonly identity: string;
  readonly opsPort: number;
  /** JSON log lines so far. */
  logs(): Array<Record<string, unknown>>;
  /** Resolves once this replica's log says it became leader. */
  waitForLeadership(timeoutMs?: number): Promise<void>;
  /** SIGTERM and wait: releases the Lease. */
  stop(): Promise<void>;
  /** SIGKILL: no clean-up, the Lease stays until it expires. */
  kill(): Promise<void>;
}

let installed: Promise<string> | undefined;

/**
 * Applies the namespace, RBAC and IngressClass from deploy/ (once per test
 * process) and returns a kubeconfig with a token of the controller's own
 * ServiceAccount: the controller under test has exactly the permissions the
 * shipped RBAC grants, not admin.
 */
export function controllerKubeconfig(): Promise<string> {
  installed ??= (async () => {
    const { kubeconfig } = testEnv();
    for (const file of ['namespace.yaml', 'rbac/controller.yaml', 'ingressclass.yaml']) {
      await kubectl(kubeconfig, ['apply', '-f', join(REPO_ROOT, 'deploy', file)]);
    }
    const sa = await serviceAccountKubeconfig(
      adminKubeConfig(),
      'pier-system',
      'pier-controller',
      7200,
    );
    return sa.kubeconfigPath;
  })();
  return installed;
}

/**
 * The key ring the controller seals TLS keys with (and dataplanes open them
 * with), as the mounted Secret file would hold it: one per test run.
 */
export function testKeyRingFile(): string {
  const path = join(testEnv().stateDir, 'key-ring');
  if (!existsSync(path)) {
    writeFileSync(path, `test-1=${randomBytes(32).toString('base64')}\n`, { mode: 0o600 });
  }
  return path;
}

/**
 * How the image's `pier-controller` starts the controller, read from
 * deploy/image/bin/pier-controller so the tests run what is shipped: the Node flags of its
 * `exec node` line (V8's heap sizing) and the environment of its `export NAME="${NAME:-value}"`
 * lines (glibc's allocator settings).
 */
function shippedLaunch(): { nodeFlags: string[]; env: Record<string, string> } {
  const path = join(REPO_ROOT, 'deploy', 'image', 'bin', 'pier-controller');
  const text = readFileSync(path, 'utf8');
  const exec = /^exec node (.*?) *\/app\/controller\/dist\/pier-controller\.js/m.exec(text);
  if (exec === null) {
    throw new Error(`${path}: no "exec node … /app/controller/dist/pier-controller.js" line`);
  }
  const exports = text.matchAll(/^export (\w+)="\$\{\1:-([^}"]*)\}"$/gm);
  return {
    nodeFlags: (exec[1] ?? '').split(/\s+/).filter((flag) => flag !== ''),
    env: Object.fromEntries([...exports].map((m) => [m[1] ?? '', m[2] ?? ''])),
  };
}

/**
 * Starts `pier-controller` on Node 24 with the image's Node flags and environment: from source,
 * or with `built` the bundle the image ships (`buildAsShipped()` first; benchmarks of memory use
 * it, since running from source adds Node's type stripping and every module of the client
 * library).
 */
export async function startController(
  options: { identity: string; args?: string[]; kubeconfig?: string; built?: boolean } = {
    identity: 'controller-0',
  },
): Promise<ControllerProcess> {
  const kubeconfig = options.kubeconfig ?? (await controllerKubeconfig());
  const launch = shippedLaunch();
  const logFile = join(testEnv().stateDir, `controller-${options.identity}-${Date.now()}.log`);
  const proc = startProcess(
    process.execPath,
    [
      ...launch.nodeFlags,
      ...(options.built === true
        ? [SHIPPED_CONTROLLER]
        : [
            '--conditions=@pier/source',
            join(REPO_ROOT, 'packages', 'controller', 'src', 'main.ts'),
          ]),
      '--kubeconfig',
      kubeconfig,
      '--identity',
      options.identity,
      '--listen',
      '127.0.0.1:0',
      '--lease-duration',
      '4s',
      '--renew-deadline',
      '3s',
      '--retry-period',
      '500ms',
      '--redis-url',
      testEnv().redisUrl,
      '--key-ring-file',
      testKeyRingFile(),
      ...(options.args ?? []),
    ],
    logFile,
    { cwd: REPO_ROOT, env: { ...process.env, ...launch.env } },
  );
  const logs = (): Array<Record<string, unknown>> => jsonLines(logFile);
  const opsPort = await unlessExited(
    proc,
    `controller ${options.identity}`,
    waitUntil(`controller ${options.identity} to sync its caches`, async () => {
      const exited = await Promise.race([proc.exited, Promise.resolve(undefined)]);
      if (exited !== undefined)
        throw new Error(`controller exited (${exited}): ${readFileSync(logFile, 'utf8')}`);
      const line = logs().find((l) => l.msg === 'caches synced; campaigning');
      return line ? Number(line.opsPort) : undefined;
    }),
  );
  return {
    process: proc,
    identity: options.identity,
    opsPort,
    logs,
    waitForLeadership: async (timeoutMs = 30_000) => {
      await waitUntil(
        `controller ${options.identity} to lead`,
        () => (logs().some((l) => l.msg === 'allocations restored') ? true : undefined),
        timeoutMs,
      );
    },
    stop: () => proc.stop(15_000),
    kill: async () => {
      proc.child.kill('SIGKILL');
      await proc.exited;
    },
  };
}
