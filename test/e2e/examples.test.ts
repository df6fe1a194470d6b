/**
 * End to end, as an operator and a user would see Pier: the shipped examples applied with the
 * real `kubectl`, the controller running under its shipped RBAC (its ServiceAccount's token),
 * a real Redis, two `pier-dataplane` processes as two edge nodes, and traffic sent with real
 * `curl` through each of them.
 *
 * Adapted only where the suite must: there is no kubelet, so the example Deployments are not
 * applied; their pods are stood in for by echo servers on documentation addresses inside the
 * suite's private network namespace, published as Pods with the Deployments' labels and marked
 * Ready by the suite, so that the real EndpointSlice controller fills the example Services.
 * The dataplanes listen on the Ingress's address (local to the namespace) on ports of their own.
 *
 * The steps build on each other, in order.
 */
import assert from 'node:assert/strict';
import { chmodSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import tls from 'node:tls';
import { CoreV1Api } from '@kubernetes/client-node';
import { parseAllDocuments } from 'yaml';
import { run, waitUntil } from '../lib/child-process.ts';
import { type ControllerProcess, startController } from '../lib/controller-process.ts';
import { type DataplaneProcess, startDataplane } from '../lib/dataplane-process.ts';
import { type EchoPod, exposeAsPod, startEchoPod } from '../lib/echo-pod.ts';
import { testEnv } from '../lib/env.ts';
import { adminKubeConfig } from '../lib/kube.ts';
import { opensslCertificate } from '../lib/route-tables.ts';
import { KUBECTL_BIN, kubectl, REPO_ROOT } from '../lib/test-cluster.ts';

const env = testEnv();
const kc = adminKubeConfig();
const core = kc.makeApiClient(CoreV1Api);
const EXAMPLES = join(REPO_ROOT, 'deploy', 'examples');
const DIR = join(env.stateDir, `e2e-examples-${process.pid}`);
mkdirSync(DIR, { recursive: true });
const NS = 'demo';
const HOST = 'demo.example.com';
const PROBE_UA = 'pier-health-check/';

let controller: ControllerProcess | undefined;
const dataplanes: DataplaneProcess[] = [];
const pods = new Map<string, EchoPod>();
let address = '';

// ---- what an operator types ----

function k(args: readonly string[], options: { input?: string; allowFailure?: boolean } = {}) {
  return kubectl(env.kubeconfig, args, options);
}

/** The example file's documents, as objects. */
function exampleObjects(file: string): Array<Record<string, unknown> & { kind: string }> {
  return parseAllDocuments(readFileSync(join(EXAMPLES, file), 'utf8')).map(
    (d) => d.toJSON() as Record<string, unknown> & { kind: string },
  );
}

/** A column of `kubectl get` table output, by header, for the row whose NAME is `name`. */
function column(table: string, name: string, header: string): string {
  const [head = '', ...rows] = table.trimEnd().split('\n');
  const start = head.indexOf(header);
  assert.ok(start >= 0, `kubectl prints a ${header} column:\n${table}`);
  const row = rows.find((r) => r.split(/\s+/).includes(name));
  assert.ok(row, `kubectl lists ${name}:\n${table}`);
  return row.slice(start).split(/\s+/)[0] ?? '';
}

async function poolCounts(): Promise<{ assigned: number; available: number }> {
  const { stdout } = await k(['get', 'ippools', 'public']);
  return {
    assigned: Number(column(stdout, 'public', 'USED')),
    available: Number(column(stdout, 'public', 'FREE')),
  };
}

// ---- what a user of the load balancer sees ----

interface CurlReply {
  status: number;
  /** The echo pod that answered, if one did. */
  pod: string | undefined;
  pierError: string | undefined;
}

/**
 * `curl` through one dataplane with the name resolved to the Ingress's address: HTTPS is
 * verified against the example's certificate (curl fails on any other), so a 2xx proves SNI
 * chose the right one.
 */
async function curl(
  dp: DataplaneProcess,
  scheme: 'http' | 'https',
  path: string,
): Promise<CurlReply> {
  const port = scheme === 'https' ? dp.httpsPort : dp.httpPort;
  const { stdout } = await run('curl', [
    '--silent',
    '--show-error',
    '--max-time',
    '5',
    '--resolve',
    `${HOST}:${port}:${address}`,
    '--cacert',
    join(DIR, 'demo.crt'),
    '--dump-header',
    '-',
    '--output',
    '/dev/null',
    `${scheme}://${HOST}:${port}${path}`,
  ]);
  const status = Number(/^HTTP\/[\d.]+ (\d{3})/m.exec(stdout)?.[1]);
  return {
    status,
    pod: /^x-echo-pod: (\S+)/im.exec(stdout)?.[1],
    pierError: /^x-pier-error: (\S+)/im.exec(stdout)?.[1],
  };
}

/** The subject CN of the certificate a dataplane presents for `servername`. */
function certificateFor(dp: DataplaneProcess, servername: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = tls.connect(
      { host: address, port: dp.httpsPort, servername, rejectUnauthorized: false },
      () => {
        const cn = socket.getPeerCertificate().subject?.CN;
        socket.end();
        resolve(String(cn));
      },
    );
    socket.once('error', reject);
  });
}

/** Which pods answered `count` requests for `path` through `dp`, with how many each. */
async function spread(
  dp: DataplaneProcess,
  path: string,
  count: number,
): Promise<Map<string, number>> {
  const seen = new Map<string, number>();
  for (let i = 0; i < count; i++) {
    const reply = await curl(dp, 'http', path);
    assert.equal(reply.status, 200, `${path} through ${dp.node}`);
    seen.set(reply.pod ?? '?', (seen.get(reply.pod ?? '?') ?? 0) + 1);
  }
  return seen;
}

// ---- stand-in pods for the example Deployments ----

/** The pod labels of the example Deployment `name`. */
function deploymentLabels(name: string): Record<string, string> {
  const deployment = exampleObjects('app.yaml').find(
    (o) => o.kind === 'Deployment' && (o.metadata as { name: string }).name === name,
  ) as { spec: { template: { metadata: { labels: Record<string, string> } } } } | undefined;
  assert.ok(deployment, `app.yaml has Deployment ${name}`);
  return deployment.spec.template.metadata.labels;
}

async function standInPod(name: string, deployment: string, ip: string): Promise<EchoPod> {
  const echo = await startEchoPod(name, ip);
  pods.set(name, echo);
  await exposeAsPod(kc, NS, echo, deploymentLabels(deployment));
  return echo;
}

function pod(name: string): EchoPod {
  const found = pods.get(name);
  assert.ok(found, `pod ${name}`);
  return found;
}

// ---- set-up and clean-up ----

before(async () => {
  controller = await startController({ identity: 'e2e-controller' });
  await controller.waitForLeadership();
});

after(async () => {
  await Promise.allSettled(dataplanes.map((dp) => dp.stop()));
  await controller?.stop();
  await Promise.allSettled([...pods.values()].map((p) => p.close()));
  await k(['delete', '-f', join(EXAMPLES, 'address-pool.yaml'), '--ignore-not-found']);
  await k(['delete', 'namespace', NS, '--ignore-not-found', '--wait=false']);
  // No kubelet confirms that a Pod stopped: confirm it for it, so the namespace can go.
  await waitUntil(
    `namespace ${NS} to be deleted`,
    async () => {
      await core
        .deleteCollectionNamespacedPod({ namespace: NS, gracePeriodSeconds: 0 })
        .catch(() => undefined);
      const { code } = await k(['get', 'namespace', NS], { allowFailure: true });
      return code === 0 ? undefined : true;
    },
    60_000,
    250,
  );
});

// ---- the story ----

test('applying the examples gives the Ingress an address from the example pool', async () => {
  await k(['apply', '-f', join(EXAMPLES, 'address-pool.yaml')]);
  // Everything of app.yaml but the Deployments, which no kubelet would run.
  const app = exampleObjects('app.yaml').filter((o) => o.kind !== 'Deployment');
  await k(['apply', '-f', '-'], {
    input: JSON.stringify({ apiVersion: 'v1', kind: 'List', items: app }),
  });
  // The TLS Secret, made as app.yaml tells the operator to.
  await opensslCertificate(DIR, 'demo', HOST);
  await k([
    'create',
    'secret',
    'tls',
    'demo-tls',
    '-n',
    NS,
    '--cert',
    join(DIR, 'demo.crt'),
    '--key',
    join(DIR, 'demo.key'),
  ]);
  await k(['apply', '-f', join(EXAMPLES, 'health-check-policy.yaml')]);
  await standInPod('web-1', 'web', '192.0.2.81');
  await standInPod('web-2', 'web', '192.0.2.82');
  await standInPod('api-1', 'api', '192.0.2.91');

  address = await waitUntil(
    'kubectl get ingress to show an address',
    async () => {
      const { stdout } = await k(['get', 'ingress', '-n', NS]);
      const value = column(stdout, 'demo', 'ADDRESS');
      return value === '' ? undefined : value;
    },
    30_000,
    200,
  );
  // 203.0.113.240/28, the example pool.
  const last = Number(address.split('.')[3]);
  assert.ok(address.startsWith('203.0.113.') && last >= 240 && last <= 255, address);

  const counts = await poolCounts();
  assert.deepEqual(counts, { assigned: 1, available: 15 }, 'a /28 holds 16 addresses');
  // The printer columns, once the controller has accepted the policy.
  const { stdout } = await waitUntil(
    'kubectl get ippools,hcp to show the policy accepted',
    async () => {
      const out = await k(['get', 'ippools,hcp', '-A']);
      return /demo\s+healthcheckpolicy\.pier\.dev\/web\s+web\s+\/hostname\s+2s\s+True\s/.test(
        out.stdout,
      )
        ? out
        : undefined;
    },
    10_000,
    200,
  ).catch(async (err: Error) => {
    throw new Error(`${err.message}:\n${(await k(['get', 'ippools,hcp', '-A'])).stdout}`);
  });
  for (const header of [
    'ADDRESSES',
    'USED',
    'FREE',
    'HOLDERS',
    'TARGET',
    'PATH',
    'INTERVAL',
    'ACCEPTED',
  ]) {
    assert.match(stdout, new RegExp(`\\b${header}\\b`), `kubectl get ippools,hcp shows ${header}`);
  }
  assert.match(stdout, /ipaddresspool\.pier\.dev\/public\s+\["203\.0\.113\.240\/28"\]\s+1\s+15\s/);
});

test('curl through each dataplane reaches the right backend with the right certificate', async () => {
  for (const node of ['e2e-edge-a', 'e2e-edge-b']) {
    dataplanes.push(await startDataplane({ node, host: address }));
  }
  for (const dp of dataplanes) {
    // The TLS route is served once the Secret's certificate is published with it.
    await waitUntil(
      `HTTPS for ${HOST} through ${dp.node}`,
      async () => ((await curl(dp, 'https', '/')).status === 200 ? true : undefined),
      15_000,
      100,
    );
    const api = await curl(dp, 'https', '/api/orders');
    assert.deepEqual([api.status, api.pod], [200, 'api-1'], `/api through ${dp.node}`);
    const web = await curl(dp, 'https', '/');
    assert.equal(web.status, 200);
    assert.match(web.pod ?? '', /^web-[12]$/);
    const plain = await curl(dp, 'http', '/api');
    assert.deepEqual([plain.status, plain.pod], [200, 'api-1']);

    assert.equal(await certificateFor(dp, HOST), HOST, `certificate for SNI ${HOST}`);
    assert.notEqual(
      await certificateFor(dp, 'other.example.com'),
      HOST,
      'another SNI name gets the default certificate, not the demo one',
    );
  }
});

test('kubectl edit hcp to another path: the probes follow within a second or two', async () => {
  const editor = join(DIR, 'edit-path.sh');
  // The operator's change, made by the "editor" kubectl starts on the object's YAML.
  writeFileSync(editor, '#!/bin/sh\nexec sed -i "s#path: /hostname\\$#path: /clientip#" "$1"\n');
  chmodSync(editor, 0o755);
  const web = [pod('web-1'), pod('web-2')];
  const probesAt = (path: string, since: number) =>
    web
      .flatMap((p) => p.seen)
      .filter((s) => s.at >= since && s.userAgent.startsWith(PROBE_UA) && s.url === path);
  // The example's probes run (every 2s) before the edit.
  await waitUntil(
    'probes of /hostname',
    () => (probesAt('/hostname', 0).length > 0 ? true : undefined),
    10_000,
  );

  const { stdout } = await run(
    KUBECTL_BIN,
    ['--kubeconfig', env.kubeconfig, 'edit', 'hcp', 'web', '-n', NS],
    { env: { ...process.env, KUBE_EDITOR: editor } },
  );
  const edited = Date.now();
  assert.match(stdout, /healthcheckpolicy\.pier\.dev\/web edited/);
  const first = await waitUntil(
    'a probe of the new path',
    () => probesAt('/clientip', edited)[0],
    10_000,
    10,
  );
  const tookMs = first.at - edited;
  console.log(`  first probe of the edited path ${tookMs} ms after kubectl edit returned`);
  // New settings are first probed within a second of reaching the dataplane (spread so that
  // thousands of endpoints are not probed at once); publication adds milliseconds.
  assert.ok(tookMs < 2_000, `first probe of /clientip ${tookMs} ms after the edit`);
  // And the old path is probed no more, one interval later.
  await new Promise((r) => setTimeout(r, 2_500));
  const settled = Date.now();
  await new Promise((r) => setTimeout(r, 2_500));
  assert.equal(probesAt('/hostname', settled).length, 0, 'no probe of the old path');
  assert.ok(probesAt('/clientip', settled).length >= 2, 'the new path is probed every interval');
  const { stdout: table } = await k(['get', 'hcp', 'web', '-n', NS]);
  assert.equal(column(table, 'web', 'PATH'), '/clientip');
});

test('scaling the endpoints up and down: traffic follows on every edge node', async () => {
  await standInPod('web-3', 'web', '192.0.2.83');
  for (const dp of dataplanes) {
    await waitUntil(
      `traffic to the new pod web-3 through ${dp.node}`,
      async () => ((await curl(dp, 'http', '/')).pod === 'web-3' ? true : undefined),
      10_000,
      20,
    );
    const seen = await spread(dp, '/', 30);
    assert.deepEqual(
      [...seen.keys()].sort(),
      ['web-1', 'web-2', 'web-3'],
      `all three through ${dp.node}`,
    );
  }

  await k(['delete', 'pod', 'web-1', '-n', NS, '--grace-period=0', '--force']);
  for (const dp of dataplanes) {
    // Once a burst misses web-1, the removal has reached this edge node; after that, it stays out.
    await waitUntil(
      `web-1 to leave ${dp.node}`,
      async () => (!(await spread(dp, '/', 10)).has('web-1') ? true : undefined),
      10_000,
      20,
    );
    const seen = await spread(dp, '/', 30);
    assert.deepEqual([...seen.keys()].sort(), ['web-2', 'web-3'], `web-1 gone through ${dp.node}`);
  }
});

test('deleting the Ingress: 404 on both edge nodes and the address back in the pool', async () => {
  const before = await poolCounts();
  assert.equal(before.assigned, 1);
  await k(['delete', 'ingress', 'demo', '-n', NS]);
  for (const dp of dataplanes) {
    const reply = await waitUntil(
      `404 through ${dp.node}`,
      async () => {
        const r = await curl(dp, 'http', '/');
        return r.status === 404 ? r : undefined;
      },
      10_000,
      20,
    );
    assert.equal(reply.pierError, 'PIER_NO_ROUTE');
  }
  const released = await waitUntil(
    'kubectl get ippools to count the address free',
    async () => {
      const counts = await poolCounts();
      return counts.assigned === 0 ? counts : undefined;
    },
    10_000,
    200,
  );
  assert.equal(released.available, before.available + 1);
  const { stdout } = await k(['get', 'ingress', '-n', NS], { allowFailure: true });
  assert.doesNotMatch(stdout, /demo/);
});
