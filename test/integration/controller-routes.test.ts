/**
 * Route compilation and publication, end to end on the control side: the real
 * API server and EndpointSlice controller, pier-controller under its RBAC,
 * and the tables it publishes to a real Redis, read back through the shared
 * codec and the shared log reader.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { CoreV1Api } from '@kubernetes/client-node';
import {
  RouteLogReader,
  type RouteTable,
  routeLogReaderRedisOptions,
  routesRevisionKey,
  virtualHostKey,
} from '@pier/shared';
import { Redis } from 'ioredis';
import { waitUntil } from '../lib/child-process.ts';
import { type ControllerProcess, startController } from '../lib/controller-process.ts';
import { createService, type EchoPod, exposeAsPod, startEchoPod } from '../lib/echo-pod.ts';
import { testEnv } from '../lib/env.ts';
import {
  eventsFor,
  ingressManifest,
  listDocument,
  tlsSecretManifest,
  waitForAddresses,
} from '../lib/ingress-fixtures.ts';
import { adminKubeConfig, createTestNamespace } from '../lib/kube.ts';
import { startRedis } from '../lib/redis-server.ts';
import { opensslCertificate, publishedTable } from '../lib/route-tables.ts';
import { kubectl } from '../lib/test-cluster.ts';

const kc = adminKubeConfig();
const core = kc.makeApiClient(CoreV1Api);
const env = testEnv();
const suffix = randomBytes(3).toString('hex');
const pool = `routes-${suffix}`;
let ns: Awaited<ReturnType<typeof createTestNamespace>>;
let controller: ControllerProcess | undefined;
let redis: Redis;
let reader: RouteLogReader;
const echos: EchoPod[] = [];
const certDir = mkdtempSync(join(tmpdir(), 'pier-certs-'));

async function apply(doc: unknown): Promise<void> {
  await kubectl(env.kubeconfig, ['apply', '-f', '-'], {
    input: typeof doc === 'string' ? doc : JSON.stringify(doc),
  });
}

async function snapshot(client: Redis = redis): Promise<RouteTable | undefined> {
  return publishedTable(client);
}

function waitForTable<T>(
  what: string,
  check: (t: RouteTable) => T | undefined,
  timeoutMs = 10_000,
): Promise<T> {
  return waitUntil(
    what,
    async () => {
      const t = await snapshot();
      return t ? check(t) : undefined;
    },
    timeoutMs,
    25,
  );
}

/** A self-signed certificate for `host`, made with openssl as an operator would. */
async function makeCertificate(name: string, host: string): Promise<{ crt: string; key: string }> {
  const pair = await opensslCertificate(certDir, name, host);
  return { crt: pair.certPem, key: pair.keyPem };
}

function tlsSecret(name: string, crt: string, key: string): Record<string, unknown> {
  return tlsSecretManifest(ns.name, name, crt, key);
}

before(async () => {
  ns = await createTestNamespace(kc, 'routes');
  await apply({
    apiVersion: 'pier.dev/v1alpha1',
    kind: 'IPAddressPool',
    metadata: { name: pool },
    spec: { addresses: ['203.0.113.64/28'] },
  });
  redis = new Redis({ host: env.redisHost, port: env.redisPort, password: env.redisPassword });
  reader = new RouteLogReader({
    redis: new Redis({
      host: env.redisHost,
      port: env.redisPort,
      password: env.redisPassword,
      ...routeLogReaderRedisOptions(1000),
    }),
    blockMs: 1000,
  });
  controller = await startController({ identity: `routes-${suffix}` });
  await controller.waitForLeadership();
  await reader.start();
});

after(async () => {
  await reader?.stop();
  await controller?.stop();
  redis?.disconnect();
  await Promise.all(echos.map((e) => e.close()));
  await kubectl(env.kubeconfig, ['delete', 'ippool', pool, '--ignore-not-found']);
  rmSync(certDir, { recursive: true, force: true });
  await ns.remove();
});

test('an Ingress, its Service and Pods are published, and status follows publication', async () => {
  const revisionBefore = Number((await redis.get(routesRevisionKey())) ?? 0);
  for (const [i, address] of ['198.51.100.31', '198.51.100.32'].entries()) {
    const echo = await startEchoPod(`web-${i}`, address);
    echos.push(echo);
    await exposeAsPod(kc, ns.name, echo, { app: 'web' });
  }
  await createService(kc, ns.name, 'web', { port: 80, targetPort: 'http' }, { app: 'web' });
  await apply(listDocument([ingressManifest(ns.name, 'site', { host: 'site.example.test' })]));
  // Status appears only after publication: when it is there, Redis already has the route.
  const [address] = (await waitForAddresses(kc, ns.name, ['site'])).get('site') ?? [];
  assert.ok(address);
  const table = await snapshot();
  const vhost = table?.virtualHosts[virtualHostKey(address, 'site.example.test')];
  assert.ok(vhost, `no virtual host for ${address}|site.example.test when status was written`);
  assert.deepEqual(
    vhost.routes.map((r) => [r.path, r.pathType, r.backend]),
    [['/', 'Prefix', `${ns.name}/web:80`]],
  );

  const backend = await waitForTable('both pods as endpoints', (t) => {
    const b = t.backends[`${ns.name}/web:80`];
    return b?.endpoints.filter((e) => e.ready).length === 2 ? b : undefined;
  });
  assert.deepEqual(
    backend.endpoints.map((e) => `${e.address}:${e.port}`).sort(),
    echos.map((e) => `${e.address}:${e.port}`).sort(),
  );
  assert.ok(Number(await redis.get(routesRevisionKey())) > revisionBefore, 'the revision grew');
});

test('scaling endpoints up and down changes the published backend', async () => {
  const echo = await startEchoPod('web-2', '198.51.100.33');
  echos.push(echo);
  await exposeAsPod(kc, ns.name, echo, { app: 'web' });
  await waitForTable('three endpoints', (t) =>
    t.backends[`${ns.name}/web:80`]?.endpoints.length === 3 ? true : undefined,
  );
  await core.deleteNamespacedPod({ name: 'web-0', namespace: ns.name, gracePeriodSeconds: 0 });
  const b = await waitForTable('two endpoints', (t) => {
    const backend = t.backends[`${ns.name}/web:80`];
    return backend?.endpoints.length === 2 ? backend : undefined;
  });
  assert.deepEqual(b.endpoints.map((e) => e.address).sort(), ['198.51.100.32', '198.51.100.33']);
});

test('a HealthCheckPolicy is compiled in, and kubectl edits reach the table', async () => {
  await apply({
    apiVersion: 'pier.dev/v1alpha1',
    kind: 'HealthCheckPolicy',
    metadata: { name: 'web', namespace: ns.name },
    spec: {
      targetRef: { name: 'web' },
      http: { path: '/healthz' },
      interval: '2s',
      timeout: '500ms',
    },
  });
  await waitForTable('the policy in the backend', (t) => {
    const hc = t.backends[`${ns.name}/web:80`]?.healthCheck;
    return hc?.http.path === '/healthz' && hc.intervalMs === 2000 && hc.policy?.name === 'web'
      ? true
      : undefined;
  });
  const edited = performance.now();
  await kubectl(env.kubeconfig, [
    'patch',
    'hcp',
    'web',
    '-n',
    ns.name,
    '--type=merge',
    '-p',
    JSON.stringify({ spec: { http: { path: '/ready' } } }),
  ]);
  await waitForTable('the edited path', (t) =>
    t.backends[`${ns.name}/web:80`]?.healthCheck.http.path === '/ready' ? true : undefined,
  );
  assert.ok(performance.now() - edited < 1_000, 'an edit is published within a second');
  const accepted = await waitUntil('Accepted=True on the policy', async () => {
    const { stdout } = await kubectl(env.kubeconfig, [
      'get',
      'hcp',
      'web',
      '-n',
      ns.name,
      '-o',
      'json',
    ]);
    const conditions = (
      JSON.parse(stdout) as { status?: { conditions?: Array<Record<string, string>> } }
    ).status?.conditions;
    return conditions?.find((c) => c.type === 'Accepted' && c.status === 'True');
  });
  assert.equal(accepted.reason, 'Accepted');
});

test('TLS Secrets become certificates with sealed keys; no private key reaches Redis', async () => {
  const cert = await makeCertificate('site', 'site.example.test');
  await apply(tlsSecret('site-tls', cert.crt, cert.key));
  await apply(
    listDocument([
      {
        ...ingressManifest(ns.name, 'site', { host: 'site.example.test' }),
        spec: {
          ...(ingressManifest(ns.name, 'site', { host: 'site.example.test' }).spec as object),
          tls: [{ hosts: ['site.example.test'], secretName: 'site-tls' }],
        },
      },
    ]),
  );
  const id = `${ns.name}/site-tls`;
  const certificate = await waitForTable('the certificate', (t) => t.certificates[id]);
  assert.equal(certificate.key.alg, 'AES-256-GCM');
  assert.match(certificate.certificatePem, /BEGIN CERTIFICATE/);
  const table = await snapshot();
  assert.ok(Object.values(table?.virtualHosts ?? {}).some((v) => v.tls?.certificate === id));

  // Every key of every type: no PEM private key anywhere.
  let cursor = '0';
  let scanned = 0;
  do {
    const [next, keys] = await redis.scan(cursor, 'COUNT', 200);
    cursor = next;
    for (const key of keys) {
      scanned++;
      const type = await redis.type(key);
      let text = '';
      if (type === 'string') text = (await redis.get(key)) ?? '';
      else if (type === 'hash') text = JSON.stringify(await redis.hgetall(key));
      else if (type === 'stream') text = JSON.stringify(await redis.xrange(key, '-', '+'));
      else if (type === 'list') text = JSON.stringify(await redis.lrange(key, 0, -1));
      else if (type === 'set') text = JSON.stringify(await redis.smembers(key));
      assert.doesNotMatch(text, /PRIVATE KEY/, `${key} (${type}) holds a private key`);
      assert.ok(!text.includes(cert.key.split('\n')[1] ?? 'unused'), `${key} holds key material`);
    }
  } while (cursor !== '0');
  assert.ok(scanned >= 3);
});

test('bad input is reported on the object at fault, and every other route stays published', async () => {
  const broken = await makeCertificate('broken', 'broken.example.test');
  const other = await makeCertificate('other', 'other.example.test');
  await apply(
    listDocument([
      // A Secret whose key does not belong to its certificate.
      tlsSecret('mismatched', broken.crt, other.key),
      ingressManifest(ns.name, 'no-service', { host: 'missing.example.test', service: 'gone' }),
      {
        ...ingressManifest(ns.name, 'no-secret', { host: 'nosecret.example.test' }),
        spec: {
          rules: (
            ingressManifest(ns.name, 'x', { host: 'nosecret.example.test' }).spec as {
              rules: unknown;
            }
          ).rules,
          tls: [{ hosts: ['nosecret.example.test'], secretName: 'does-not-exist' }],
        },
      },
      {
        ...ingressManifest(ns.name, 'bad-secret', { host: 'broken.example.test' }),
        spec: {
          rules: (
            ingressManifest(ns.name, 'x', { host: 'broken.example.test' }).spec as {
              rules: unknown;
            }
          ).rules,
          tls: [{ hosts: ['broken.example.test'], secretName: 'mismatched' }],
        },
      },
      // Same host and path as 'site', created later: it loses. creationTimestamp has whole
      // seconds, and on a tie the name decides; 'site-copycat' sorts after 'site', so the
      // outcome does not depend on how fast the tests before this one ran.
      ingressManifest(ns.name, 'site-copycat', { host: 'site.example.test' }),
      {
        apiVersion: 'pier.dev/v1alpha1',
        kind: 'HealthCheckPolicy',
        metadata: { name: 'orphan', namespace: ns.name },
        spec: { targetRef: { name: 'no-such-service' } },
      },
    ]),
  );
  const expectations: Array<[string, string]> = [
    ['no-service', 'ServiceNotFound'],
    ['no-secret', 'TLSSecretNotFound'],
    ['bad-secret', 'TLSSecretInvalid'],
    ['site-copycat', 'RouteConflict'],
  ];
  for (const [name, reason] of expectations) {
    const event = await waitUntil(`${reason} on ${name}`, async () =>
      (await eventsFor(kc, ns.name, name)).find((e) => e.reason === reason),
    );
    assert.equal(event.type, 'Warning');
    assert.equal(event.source, 'pier-controller');
  }
  const resolved = await waitUntil('ResolvedRefs=False on the orphan policy', async () => {
    const { stdout } = await kubectl(env.kubeconfig, [
      'get',
      'hcp',
      'orphan',
      '-n',
      ns.name,
      '-o',
      'json',
    ]);
    return (
      JSON.parse(stdout) as { status?: { conditions?: Array<Record<string, string>> } }
    ).status?.conditions?.find((c) => c.type === 'ResolvedRefs' && c.status === 'False');
  });
  assert.equal(resolved.reason, 'ServiceNotFound');

  const table = await snapshot();
  const hosts = Object.values(table?.virtualHosts ?? {});
  const site = hosts.find((v) => v.host === 'site.example.test');
  assert.equal(site?.routes[0]?.source.name, 'site', 'the older Ingress keeps the route');
  assert.ok(site?.tls, 'and its certificate');
  for (const host of ['missing.example.test', 'nosecret.example.test', 'broken.example.test']) {
    const v = hosts.find((h) => h.host === host);
    assert.ok(v && v.routes.length > 0, `${host} keeps its routes`);
    assert.equal(v.tls, undefined, `${host} falls back to the default certificate`);
  }
  assert.equal(table?.backends[`${ns.name}/web:80`]?.endpoints.length, 2);
});

test('the log reader, following patches, ends with the snapshot', async () => {
  const want = await snapshot();
  const got = await waitUntil('the reader to catch up', () =>
    reader.revision === want?.revision ? reader.table : undefined,
  );
  assert.deepEqual(got, want);
});

test('deleting an Ingress removes its routes', async () => {
  await kubectl(env.kubeconfig, ['delete', 'ingress', '-n', ns.name, 'no-service']);
  await waitForTable('missing.example.test gone', (t) =>
    Object.values(t.virtualHosts).some((v) => v.host === 'missing.example.test') ? undefined : true,
  );
});

test('Redis killed and restarted empty mid-stream: no change is lost', {
  timeout: 120_000,
}, async () => {
  // This test needs a Redis of its own to kill, and the controller on it.
  await controller?.stop();
  controller = undefined;
  const dir = join(env.stateDir, `redis-restart-${suffix}`);
  const own = await startRedis(dir);
  const ownClient = new Redis({ host: own.host, port: own.port, password: own.password });
  const c = await startController({
    identity: `restart-redis-${suffix}`,
    args: ['--redis-url', own.url],
  });
  try {
    await c.waitForLeadership();
    await apply(
      listDocument([ingressManifest(ns.name, 'during-0', { host: 'during-0.example.test' })]),
    );
    await waitForAddresses(kc, ns.name, ['during-0']);
    await own.process.child.kill('SIGKILL');
    await own.process.exited;
    // Changes while Redis is down.
    await apply(
      listDocument(
        [1, 2, 3].map((i) =>
          ingressManifest(ns.name, `during-${i}`, { host: `during-${i}.example.test` }),
        ),
      ),
    );
    await kubectl(env.kubeconfig, ['delete', 'ingress', '-n', ns.name, 'site-copycat']);
    await new Promise((r) => setTimeout(r, 2_000));
    const restarted = await startRedis(dir, { port: own.port, password: own.password });
    try {
      const table = await waitUntil(
        'the newest table republished to the restarted Redis',
        async () => {
          const t = await snapshot(ownClient);
          const hosts = new Set(Object.values(t?.virtualHosts ?? {}).map((v) => v.host));
          const complete = [0, 1, 2, 3].every((i) => hosts.has(`during-${i}.example.test`));
          return complete &&
            !Object.values(t?.virtualHosts ?? {}).some((v) =>
              v.routes.some((r) => r.source.name === 'site-copycat'),
            )
            ? t
            : undefined;
        },
        30_000,
        100,
      );
      assert.ok(table.revision >= 1);
      await waitForAddresses(kc, ns.name, ['during-1', 'during-2', 'during-3']);
    } finally {
      ownClient.disconnect();
      await restarted.stop();
    }
  } finally {
    await c.stop();
  }
});
