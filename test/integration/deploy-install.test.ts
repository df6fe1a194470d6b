/**
 * Installing Pier as an operator does, against the real API server: `kubectl apply
 * --dry-run=server -k deploy/` (and with the L2 component) is accepted object by object, and
 * the install Job's program, run under the Job's own ServiceAccount token, creates the Redis
 * password and key-ring Secrets once and never replaces them.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { CoreV1Api } from '@kubernetes/client-node';
import { readKeyRingFile } from '@pier/shared';
import { parseAllDocuments } from 'yaml';
import {
  KEY_RING_KEY,
  KEY_RING_SECRET_NAME,
  REDIS_PASSWORD_KEY,
  REDIS_SECRET_NAME,
} from '../../packages/controller/src/install-secrets.ts';
import { run } from '../lib/child-process.ts';
import { testEnv } from '../lib/env.ts';
import { adminKubeConfig, serviceAccountKubeconfig } from '../lib/kube.ts';
import { kubectl, REPO_ROOT } from '../lib/test-cluster.ts';

const env = testEnv();
const kc = adminKubeConfig();
const core = kc.makeApiClient(CoreV1Api);
const NAMESPACE = 'pier-system';
const DEPLOY = join(REPO_ROOT, 'deploy');

/** `kind/name` of every object `kubectl kustomize dir` renders. */
async function rendered(dir: string): Promise<string[]> {
  const { stdout } = await kubectl(env.kubeconfig, ['kustomize', dir]);
  return parseAllDocuments(stdout).map((d) => {
    const o = d.toJSON() as { kind: string; metadata: { name: string } };
    return `${o.kind}/${o.metadata.name}`.toLowerCase();
  });
}

/** The objects kubectl reports from a server dry run, as `kind/name`. */
function dryRunObjects(stdout: string): string[] {
  return stdout
    .split('\n')
    .filter((l) => l.endsWith('(server dry run)'))
    .map((l) => {
      const [ref = ''] = l.split(' ');
      const slash = ref.indexOf('/');
      // kubectl prints kind.group/name; keep the kind.
      return `${ref.slice(0, slash).split('.')[0]}/${ref.slice(slash + 1)}`;
    });
}

async function deleteInstallSecrets(): Promise<void> {
  for (const name of [REDIS_SECRET_NAME, KEY_RING_SECRET_NAME]) {
    await core.deleteNamespacedSecret({ name, namespace: NAMESPACE }).catch(() => undefined);
  }
}

async function secretValue(name: string, key: string): Promise<string> {
  const secret = await core.readNamespacedSecret({ name, namespace: NAMESPACE });
  const data = secret.data?.[key];
  assert.ok(data, `Secret ${name} has key ${key}`);
  return Buffer.from(data, 'base64').toString('utf8');
}

before(async () => {
  await kubectl(env.kubeconfig, ['apply', '-f', join(DEPLOY, 'namespace.yaml')]);
  await deleteInstallSecrets();
});

after(deleteInstallSecrets);

test('kubectl apply --dry-run=server -k deploy/ accepts every object', async () => {
  const { stdout } = await kubectl(env.kubeconfig, ['apply', '--dry-run=server', '-k', DEPLOY]);
  const expected = await rendered(DEPLOY);
  assert.ok(expected.length >= 15, `deploy/ renders the whole installation (${expected})`);
  assert.deepEqual(dryRunObjects(stdout).sort(), expected.sort());
});

test('kubectl apply --dry-run=server accepts deploy/ with the L2 component', async () => {
  const overlay = join(env.stateDir, `install-l2-${process.pid}`);
  mkdirSync(overlay, { recursive: true });
  if (!existsSync(join(overlay, 'pier'))) symlinkSync(DEPLOY, join(overlay, 'pier'));
  writeFileSync(join(overlay, 'kustomization.yaml'), 'resources: [pier]\ncomponents: [pier/l2]\n');
  const { stdout } = await kubectl(env.kubeconfig, ['apply', '--dry-run=server', '-k', overlay]);
  assert.deepEqual(dryRunObjects(stdout).sort(), (await rendered(overlay)).sort());
  assert.match(
    stdout,
    /daemonset\.apps\/pier-dataplane (created|configured|unchanged) \(server dry run\)/,
  );
});

test('the install Job’s program creates both Secrets once, under its own narrow token', async () => {
  // The Job's ServiceAccount, Role and RoleBinding as shipped (not the Job: no kubelet runs it).
  const installYaml = readFileSync(join(DEPLOY, 'install', 'install-secrets.yaml'), 'utf8');
  const rbac = parseAllDocuments(installYaml)
    .map((d) => d.toJSON() as { kind: string })
    .filter((o) => o.kind !== 'Job');
  await kubectl(env.kubeconfig, ['apply', '-f', '-'], {
    input: JSON.stringify({ apiVersion: 'v1', kind: 'List', items: rbac }),
  });
  const sa = await serviceAccountKubeconfig(kc, NAMESPACE, 'pier-install-secrets');
  const install = () =>
    run(
      process.execPath,
      [
        '--conditions=@pier/source',
        join(REPO_ROOT, 'packages', 'controller', 'src', 'install-secrets-main.ts'),
        '--kubeconfig',
        sa.kubeconfigPath,
      ],
      { cwd: REPO_ROOT, env: { ...process.env, POD_NAMESPACE: NAMESPACE } },
    );

  // The RoleBinding reaches the authorizer within moments; until then the program fails
  // (as the Job's pod would, and be retried).
  let first = await install().catch((err: Error) => ({ stdout: err.message }));
  const deadline = Date.now() + 15_000;
  while (!first.stdout.includes(`secret ${NAMESPACE}/${REDIS_SECRET_NAME}`)) {
    assert.ok(Date.now() < deadline, `install-secrets never succeeded: ${first.stdout}`);
    await new Promise((r) => setTimeout(r, 250));
    first = await install().catch((err: Error) => ({ stdout: err.message }));
  }
  assert.equal(
    first.stdout,
    `secret ${NAMESPACE}/${REDIS_SECRET_NAME} created\nsecret ${NAMESPACE}/${KEY_RING_SECRET_NAME} created\n`,
  );
  const password = await secretValue(REDIS_SECRET_NAME, REDIS_PASSWORD_KEY);
  const keys = await secretValue(KEY_RING_SECRET_NAME, KEY_RING_KEY);
  assert.match(password, /^[A-Za-z0-9_-]{43}$/, '32 random bytes, base64url');

  // The key ring opens as the controller and dataplanes read it from the mounted file.
  const file = join(env.stateDir, `install-key-ring-${process.pid}`);
  writeFileSync(file, keys, { mode: 0o600 });
  const ring = readKeyRingFile(file, '--key-ring-file');
  assert.match(ring.currentKeyId, /^k\d{8}$/);
  const sealed = ring.seal('-----BEGIN PRIVATE KEY-----\n', 'demo/demo-tls');
  assert.equal(ring.open(sealed, 'demo/demo-tls'), '-----BEGIN PRIVATE KEY-----\n');

  // Again (a re-applied Job): nothing is replaced.
  const second = await install();
  assert.equal(
    second.stdout,
    `secret ${NAMESPACE}/${REDIS_SECRET_NAME} exists, left unchanged\nsecret ${NAMESPACE}/${KEY_RING_SECRET_NAME} exists, left unchanged\n`,
  );
  assert.equal(await secretValue(REDIS_SECRET_NAME, REDIS_PASSWORD_KEY), password);
  assert.equal(await secretValue(KEY_RING_SECRET_NAME, KEY_RING_KEY), keys);

  // The token can create, nothing more: it reads no Secret, here or elsewhere.
  for (const args of [
    ['get', 'secret', REDIS_SECRET_NAME, '-n', NAMESPACE],
    ['get', 'secrets', '-n', NAMESPACE],
    ['delete', 'secret', KEY_RING_SECRET_NAME, '-n', NAMESPACE],
    ['create', 'secret', 'generic', 'x', '--from-literal=a=b', '-n', 'default'],
  ]) {
    const denied = await kubectl(sa.kubeconfigPath, args, { allowFailure: true });
    assert.notEqual(denied.code, 0, `kubectl ${args.join(' ')} is refused`);
    assert.match(denied.stderr, /forbidden/i);
  }
});

test('install-secrets says which setting is wrong and exits 2', async () => {
  const result = await run(
    process.execPath,
    [
      '--conditions=@pier/source',
      join(REPO_ROOT, 'packages', 'controller', 'src', 'install-secrets-main.ts'),
      '--namspace',
      'x',
    ],
    { cwd: REPO_ROOT, allowFailure: true },
  );
  assert.equal(result.code, 2);
  assert.match(result.stderr, /^pier-install-secrets: .*namspace/m);
});
