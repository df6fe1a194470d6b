/**
 * deploy/ against the code it runs, without a cluster or Docker: the manifests as
 * `kubectl kustomize` renders them, fed to the real configuration parsers of the controller
 * and dataplane, so a flag or variable renamed in the code and not in deploy/ (or the other
 * way round) fails here, not on a user's cluster. Also the Dockerfile: every file it copies
 * exists, and the entrypoints it installs run from the built `dist/` without the source
 * condition, as they do in the image. (The image itself is not built here: no Docker daemon.)
 */
import assert from 'node:assert/strict';
import {
  accessSync,
  constants,
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  symlinkSync,
} from 'node:fs';
import { join } from 'node:path';
import { before, test } from 'node:test';
import { KeyRing } from '@pier/shared';
import { parseAllDocuments } from 'yaml';
import { CONTROLLER_FLAGS, parseControllerConfig } from '../../packages/controller/src/config.ts';
import {
  generateKeyRing,
  KEY_RING_KEY,
  KEY_RING_SECRET_NAME,
  REDIS_PASSWORD_KEY,
  REDIS_SECRET_NAME,
} from '../../packages/controller/src/install-secrets.ts';
import { DATAPLANE_FLAGS, parseDataplaneConfig } from '../../packages/dataplane/src/config.ts';
import { buildAsShipped } from '../lib/build-as-shipped.ts';
import { run } from '../lib/child-process.ts';
import { testEnv } from '../lib/env.ts';
import { KUBECTL_BIN, REPO_ROOT } from '../lib/test-cluster.ts';

// ---- the rendered manifests ----

interface EnvVar {
  name: string;
  value?: string;
  valueFrom?: {
    fieldRef?: { fieldPath: string };
    secretKeyRef?: { name: string; key: string };
  };
}
interface Container {
  name: string;
  image: string;
  command?: string[];
  args?: string[];
  env?: EnvVar[];
  ports?: Array<{ name?: string; containerPort: number }>;
  livenessProbe?: { httpGet?: { path: string; port: number | string } };
  readinessProbe?: { httpGet?: { path: string; port: number | string } };
  securityContext?: {
    allowPrivilegeEscalation?: boolean;
    readOnlyRootFilesystem?: boolean;
    capabilities?: { add?: string[]; drop?: string[] };
  };
  volumeMounts?: Array<{ name: string; mountPath: string }>;
}
interface PodSpec {
  serviceAccountName?: string;
  automountServiceAccountToken?: boolean;
  hostNetwork?: boolean;
  dnsPolicy?: string;
  nodeSelector?: Record<string, string>;
  terminationGracePeriodSeconds?: number;
  securityContext?: { runAsNonRoot?: boolean; runAsUser?: number };
  containers: Container[];
  volumes?: Array<{ name: string; secret?: { secretName: string }; emptyDir?: object }>;
}
interface KubeObject {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string };
  spec?: {
    replicas?: number;
    template?: { spec: PodSpec };
    updateStrategy?: { rollingUpdate?: { maxUnavailable?: number } };
    ports?: Array<{ port: number }>;
  };
  subjects?: Array<{ kind: string; name: string }>;
  automountServiceAccountToken?: boolean;
}

async function render(dir: string): Promise<KubeObject[]> {
  const { stdout } = await run(KUBECTL_BIN, ['kustomize', dir]);
  return parseAllDocuments(stdout).map((d) => d.toJSON() as KubeObject);
}

function find(objects: readonly KubeObject[], kind: string, name: string): KubeObject {
  const found = objects.find((o) => o.kind === kind && o.metadata.name === name);
  assert.ok(found, `deploy/ renders ${kind} ${name}`);
  return found;
}

function podSpec(object: KubeObject): PodSpec {
  const spec = object.spec?.template?.spec;
  assert.ok(spec, `${object.kind} ${object.metadata.name} has a pod template`);
  return spec;
}

function container(spec: PodSpec, name: string): Container {
  const found = spec.containers.find((c) => c.name === name);
  assert.ok(found, `container ${name}`);
  return found;
}

/** What the kubelet resolves a fieldRef to, for a pod of `owner` on node edge-1. */
function fieldValue(owner: KubeObject, fieldPath: string): string {
  const values: Record<string, string> = {
    'metadata.name': `${owner.metadata.name}-7d9f-x2x4q`,
    'metadata.namespace': owner.metadata.namespace ?? 'default',
    'spec.nodeName': 'edge-1',
  };
  const value = values[fieldPath];
  assert.ok(value, `fieldRef ${fieldPath} is one this test knows`);
  return value;
}

/**
 * The environment the kubelet would give the container: literal values as they are, field
 * references resolved, Secret references as a recognisable `secret:<name>/<key>`.
 */
function containerEnv(owner: KubeObject, c: Container): Record<string, string> {
  const env: Record<string, string> = {};
  for (const v of c.env ?? []) {
    if (v.value !== undefined) env[v.name] = v.value;
    else if (v.valueFrom?.secretKeyRef) {
      env[v.name] = `secret:${v.valueFrom.secretKeyRef.name}/${v.valueFrom.secretKeyRef.key}`;
    } else if (v.valueFrom?.fieldRef)
      env[v.name] = fieldValue(owner, v.valueFrom.fieldRef.fieldPath);
  }
  return env;
}

/** The file a mounted path resolves to: `secret:<name>/<key>` or `<volume kind>:<sub path>`. */
function mountedAt(spec: PodSpec, c: Container, path: string): string | undefined {
  for (const m of c.volumeMounts ?? []) {
    if (!path.startsWith(`${m.mountPath}/`)) continue;
    const volume = spec.volumes?.find((v) => v.name === m.name);
    const rest = path.slice(m.mountPath.length + 1);
    if (volume?.secret) return `secret:${volume.secret.secretName}/${rest}`;
    if (volume?.emptyDir) return `emptyDir:${rest}`;
  }
  return undefined;
}

function envNames(flags: Readonly<Record<string, { env: string }>>): Set<string> {
  return new Set(Object.values(flags).map((f) => f.env));
}

let base: KubeObject[];
let l2: KubeObject[];

before(async () => {
  base = await render(join(REPO_ROOT, 'deploy'));
  // The L2 component as an operator's own overlay would use it (kustomize refuses an
  // overlay inside the base it includes, so it lives beside it).
  const overlay = join(testEnv().stateDir, `l2-overlay-${process.pid}`);
  mkdirSync(overlay, { recursive: true });
  if (!existsSync(join(overlay, 'pier')))
    symlinkSync(join(REPO_ROOT, 'deploy'), join(overlay, 'pier'));
  await run('sh', [
    '-c',
    `printf 'resources: [pier]\\ncomponents: [pier/l2]\\n' > '${overlay}/kustomization.yaml'`,
  ]);
  l2 = await render(overlay);
});

test('the controller Deployment passes the controller’s own flag parser, with the shipped values', () => {
  const deployment = find(base, 'Deployment', 'pier-controller');
  const spec = podSpec(deployment);
  const c = container(spec, 'controller');
  assert.deepEqual(c.command, ['pier-controller']);
  const env = containerEnv(deployment, c);
  const known = envNames(CONTROLLER_FLAGS);
  for (const name of Object.keys(env)) assert.ok(known.has(name), `controller flag for $${name}`);

  const config = parseControllerConfig(c.args ?? [], env);
  assert.equal(config.kubeconfig, undefined, 'in-cluster ServiceAccount');
  assert.equal(config.identity, 'pier-controller-7d9f-x2x4q', 'Lease identity is the pod name');
  assert.equal(config.leaseNamespace, 'pier-system', 'the Lease is in the pod’s namespace');
  const leaseRole = find(base, 'Role', 'pier-controller-leader-election') as KubeObject & {
    rules: Array<{ resources: string[]; resourceNames?: string[]; verbs: string[] }>;
  };
  assert.equal(leaseRole.metadata.namespace, config.leaseNamespace);
  assert.ok(
    leaseRole.rules.some(
      (r) => r.resourceNames?.includes(config.leaseName) && r.verbs.includes('update'),
    ),
    'the Role lets the controller renew the Lease it is configured to use',
  );
  assert.equal(config.redisPassword, `secret:${REDIS_SECRET_NAME}/${REDIS_PASSWORD_KEY}`);
  assert.equal(
    mountedAt(spec, c, config.keyRingFile),
    `secret:${KEY_RING_SECRET_NAME}/${KEY_RING_KEY}`,
  );
  assertRedisUrlNamesTheService(config.redisUrl);

  assert.equal(deployment.spec?.replicas, 2);
  assert.equal(spec.serviceAccountName, 'pier-controller');
  const metricsPort = c.ports?.find((p) => p.name === 'metrics')?.containerPort;
  assert.equal(metricsPort, config.listenPort);
  assert.equal(c.livenessProbe?.httpGet?.path, '/healthz');
  assert.equal(c.readinessProbe?.httpGet?.path, '/readyz');
  assert.ok(
    (spec.terminationGracePeriodSeconds ?? 30) * 1000 > config.shutdownGraceMs,
    'the kubelet waits longer than the controller’s shutdown grace',
  );
  assert.equal(spec.securityContext?.runAsNonRoot, true);
  assert.notEqual(spec.securityContext?.runAsUser, 0);
  assert.equal(c.securityContext?.allowPrivilegeEscalation, false);
  assert.equal(c.securityContext?.readOnlyRootFilesystem, true);
  assert.deepEqual(c.securityContext?.capabilities?.drop, ['ALL']);
  assert.equal(c.securityContext?.capabilities?.add, undefined);
});

test('the dataplane DaemonSet passes the dataplane’s own flag parser, with the shipped values', () => {
  const daemonSet = find(base, 'DaemonSet', 'pier-dataplane');
  const spec = podSpec(daemonSet);
  const c = container(spec, 'dataplane');
  assert.deepEqual(c.command, ['pier-dataplane']);
  const env = containerEnv(daemonSet, c);
  const known = envNames(DATAPLANE_FLAGS);
  for (const name of Object.keys(env)) assert.ok(known.has(name), `dataplane flag for $${name}`);

  const config = parseDataplaneConfig(c.args ?? [], env);
  assert.equal(config.nodeName, 'edge-1', 'the node name comes from the pod’s node');
  assert.deepEqual(config.http, { host: '0.0.0.0', port: 80 });
  assert.deepEqual(config.https, { host: '0.0.0.0', port: 443 });
  assert.equal(config.redisPassword, `secret:${REDIS_SECRET_NAME}/${REDIS_PASSWORD_KEY}`);
  assert.equal(
    mountedAt(spec, c, config.keyRingFile),
    `secret:${KEY_RING_SECRET_NAME}/${KEY_RING_KEY}`,
  );
  assert.equal(
    mountedAt(spec, c, config.stateFile),
    'emptyDir:routes.json',
    'the state file is on a writable volume (the root filesystem is read-only)',
  );
  assertRedisUrlNamesTheService(config.redisUrl);
  for (const probe of [c.livenessProbe, c.readinessProbe]) {
    assert.equal(probe?.httpGet?.port, config.ops.port, 'probes ask the ops listener');
  }
  assert.ok(
    (spec.terminationGracePeriodSeconds ?? 30) * 1000 > config.drainGraceMs,
    'the kubelet waits longer than the drain',
  );

  assert.equal(spec.hostNetwork, true);
  assert.equal(spec.dnsPolicy, 'ClusterFirstWithHostNet');
  assert.deepEqual(spec.nodeSelector, { 'pier.dev/edge': 'true' });
  assert.equal(daemonSet.spec?.updateStrategy?.rollingUpdate?.maxUnavailable, 1);
  assert.equal(spec.securityContext?.runAsNonRoot, true);
  assert.equal(c.securityContext?.readOnlyRootFilesystem, true);
  assert.deepEqual(c.securityContext?.capabilities, {
    drop: ['ALL'],
    add: ['NET_BIND_SERVICE'],
  });

  // No Kubernetes API access: no token, and nothing binds a Role to its ServiceAccount.
  assert.equal(spec.automountServiceAccountToken, false);
  assert.equal(find(base, 'ServiceAccount', 'pier-dataplane').automountServiceAccountToken, false);
  const bindings = base.filter((o) => o.kind === 'RoleBinding' || o.kind === 'ClusterRoleBinding');
  for (const binding of bindings) {
    for (const subject of binding.subjects ?? []) {
      assert.notEqual(
        subject.name,
        'pier-dataplane',
        `${binding.metadata.name} binds the dataplane`,
      );
    }
  }
});

test('the L2 component turns L2 mode on, adds NET_ADMIN and NET_RAW, and changes nothing else', () => {
  const daemonSet = find(l2, 'DaemonSet', 'pier-dataplane');
  const spec = podSpec(daemonSet);
  const c = container(spec, 'dataplane');
  const env = containerEnv(daemonSet, c);
  assert.ok(parseDataplaneConfig(c.args ?? [], env).l2, 'the dataplane runs its L2 speaker');
  const baseDaemonSet = find(base, 'DaemonSet', 'pier-dataplane');
  const baseContainer = container(podSpec(baseDaemonSet), 'dataplane');
  const baseEnv = containerEnv(baseDaemonSet, baseContainer);
  assert.equal(
    parseDataplaneConfig(baseContainer.args ?? [], baseEnv).l2,
    undefined,
    'L2 mode is off without it',
  );
  assert.deepEqual({ ...env, PIER_L2: undefined }, { ...baseEnv, PIER_L2: undefined });
  assert.deepEqual(c.securityContext?.capabilities, {
    drop: ['ALL'],
    add: ['NET_BIND_SERVICE', 'NET_ADMIN', 'NET_RAW'],
  });
  assert.equal(c.securityContext?.allowPrivilegeEscalation, false);
  assert.equal(c.securityContext?.readOnlyRootFilesystem, true);
  const baseSpec = podSpec(find(base, 'DaemonSet', 'pier-dataplane'));
  assert.deepEqual(c.args, container(baseSpec, 'dataplane').args);
  assert.equal(l2.length, base.length);
});

test('Redis takes its password from the generated Secret and serves on the URL the others use', () => {
  const statefulSet = find(base, 'StatefulSet', 'pier-redis');
  const spec = podSpec(statefulSet);
  const c = container(spec, 'redis');
  const env = containerEnv(statefulSet, c);
  const args = c.args ?? [];
  const at = args.indexOf('--requirepass');
  assert.ok(at >= 0, 'redis-server gets --requirepass');
  const reference = /^\$\(([A-Z_]+)\)$/.exec(args[at + 1] ?? '')?.[1];
  assert.ok(reference, '--requirepass takes an expanded variable, not a literal');
  assert.equal(env[reference], `secret:${REDIS_SECRET_NAME}/${REDIS_PASSWORD_KEY}`);
  assert.equal(spec.securityContext?.runAsNonRoot, true);
  assert.equal(c.securityContext?.readOnlyRootFilesystem, true);
  assert.equal(c.securityContext?.allowPrivilegeEscalation, false);
});

test('the install Job runs the image’s pier-install-secrets, whose key ring the controller reads', () => {
  const spec = podSpec(find(base, 'Job', 'pier-install-secrets'));
  assert.deepEqual(container(spec, 'install-secrets').command, ['pier-install-secrets']);
  assert.equal(spec.serviceAccountName, 'pier-install-secrets');
  const ring = KeyRing.fromSpecText(generateKeyRing(new Date('2026-01-02T03:04:05Z')));
  assert.equal(ring.currentKeyId, 'k20260102');
});

function assertRedisUrlNamesTheService(redisUrl: string): void {
  const service = find(base, 'Service', 'pier-redis');
  const url = new URL(redisUrl);
  assert.equal(url.hostname, `${service.metadata.name}.${service.metadata.namespace}.svc`);
  assert.equal(Number(url.port), service.spec?.ports?.[0]?.port);
  assert.equal(url.password, '', 'no password in the URL: it comes from the Secret');
}

// ---- the image ----

const dockerfile = readFileSync(join(REPO_ROOT, 'Dockerfile'), 'utf8');

test('every file the Dockerfile copies from the repository exists', () => {
  const copies = [...dockerfile.matchAll(/^COPY\s+(?!--from)(.+)$/gm)].map((m) =>
    (m[1] ?? '').trim().split(/\s+/).slice(0, -1),
  );
  assert.ok(copies.length >= 5, 'the Dockerfile copies the workspace');
  for (const source of copies.flat()) {
    assert.ok(existsSync(join(REPO_ROOT, source)), `COPY source ${source} exists`);
  }
  // `pnpm install --frozen-lockfile` and `tsc --build` need every workspace package the root
  // depends on or references: a package added to the workspace must be added here too.
  const copied = new Set(copies.flat());
  for (const dir of readdirSync(join(REPO_ROOT, 'packages'))) {
    for (const file of ['package.json', 'tsconfig.json', 'src']) {
      const source = `packages/${dir}/${file}`;
      assert.ok(copied.has(source), `the Dockerfile copies ${source}`);
    }
  }
  const pnpm = /PIER_PNPM_VERSION="([^"]+)"/.exec(
    readFileSync(join(REPO_ROOT, 'scripts', 'env.sh'), 'utf8'),
  )?.[1];
  assert.match(dockerfile, new RegExp(`^ARG PNPM_VERSION=${pnpm?.replaceAll('.', '\\.')}$`, 'm'));
  assert.match(dockerfile, /^FROM \$\{NODE_IMAGE\} AS build$/m);
  assert.match(dockerfile, /^ARG NODE_IMAGE=node:24-slim$/m);
  assert.match(dockerfile, /^USER 1000:1000$/m, 'the image runs as the node user');
});

test('each entrypoint the manifests name is in the image and runs from the built dist/', async () => {
  // The image holds what `tsc --build` and the controller's bundler make; build as it does.
  await buildAsShipped();
  const commands = new Set(
    base
      .flatMap((o) => o.spec?.template?.spec.containers ?? [])
      .filter((c) => c.image.includes('pier'))
      .map((c) => c.command?.[0] ?? ''),
  );
  assert.deepEqual([...commands].sort(), [
    'pier-controller',
    'pier-dataplane',
    'pier-install-secrets',
  ]);
  for (const command of commands) {
    const wrapper = join(REPO_ROOT, 'deploy', 'image', 'bin', command);
    accessSync(wrapper, constants.X_OK);
    // `exec node [node flags] /app/<package>/<file> "$@"`
    const exec = /^exec node ((?:--\S+ )*)\/app\/(\S+) "\$@"$/m.exec(readFileSync(wrapper, 'utf8'));
    const target = exec?.[2];
    assert.ok(target, `${command} execs node on a file under /app`);
    const flags = (exec?.[1] ?? '').split(' ').filter((flag) => flag !== '');
    const [pkg, ...rest] = target.split('/');
    const built = join(REPO_ROOT, 'packages', pkg ?? '', ...rest);
    assert.ok(existsSync(built), `${built} is built`);
    // No --conditions=@pier/source: workspace packages resolve to their dist/, as in the image.
    // The wrapper's Node flags too: this Node must accept them.
    const { stdout } = await run(process.execPath, [...flags, built, '--help'], { cwd: REPO_ROOT });
    assert.match(stdout, new RegExp(`^usage: ${command} \\[flags\\]`));
  }
});
