/**
 * The controller as the image ships it: the bundle `dist/pier-controller.js`
 * (scripts/bundle-controller.ts) with the image's Node flags, against the real API server and
 * Redis. The other controller suites run it from source; this one proves the bundle holds
 * everything the controller reaches at run time (a module esbuild could not follow would fail
 * only here): leader election, watches, allocation, the status write and the route publication;
 * and that the tests start it with the environment the image's wrapper sets.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { after, before, test } from 'node:test';
import { routesRevisionKey, virtualHostKey } from '@pier/shared';
import { Redis } from 'ioredis';
import { buildAsShipped } from '../lib/build-as-shipped.ts';
import { waitUntil } from '../lib/child-process.ts';
import { type ControllerProcess, startController } from '../lib/controller-process.ts';
import { createService, type EchoPod, exposeAsPod, startEchoPod } from '../lib/echo-pod.ts';
import { testEnv } from '../lib/env.ts';
import {
  eventsFor,
  ingressManifest,
  listDocument,
  poolDocument,
  waitForAddresses,
} from '../lib/ingress-fixtures.ts';
import { adminKubeConfig, createTestNamespace } from '../lib/kube.ts';
import { publishedTable } from '../lib/route-tables.ts';
import { kubectl } from '../lib/test-cluster.ts';

const kc = adminKubeConfig();
const env = testEnv();
const suffix = randomBytes(3).toString('hex');
const pool = `shipped-${suffix}`;
let ns: Awaited<ReturnType<typeof createTestNamespace>>;
let controller: ControllerProcess | undefined;
let redis: Redis;
let echo: EchoPod | undefined;

before(async () => {
  await buildAsShipped();
  ns = await createTestNamespace(kc, 'shipped');
  await kubectl(env.kubeconfig, ['apply', '-f', '-'], {
    input: poolDocument(pool, ['203.0.113.96/29']),
  });
  redis = new Redis({ host: env.redisHost, port: env.redisPort, password: env.redisPassword });
  controller = await startController({ identity: `shipped-${suffix}`, built: true });
  await controller.waitForLeadership();
});

after(async () => {
  await controller?.stop();
  redis?.disconnect();
  await echo?.close();
  await kubectl(env.kubeconfig, ['delete', 'ippool', pool, '--ignore-not-found']);
  await ns?.remove();
});

test('the bundled controller gives an Ingress an address and publishes its pod', async () => {
  echo = await startEchoPod('web-0', '198.51.100.41');
  await exposeAsPod(kc, ns.name, echo, { app: 'web' });
  await createService(kc, ns.name, 'web', { port: 80, targetPort: 'http' }, { app: 'web' });
  await kubectl(env.kubeconfig, ['apply', '-f', '-'], {
    input: listDocument([ingressManifest(ns.name, 'site', { host: 'shipped.example.test' })]),
  });

  const [address] = (await waitForAddresses(kc, ns.name, ['site'])).get('site') ?? [];
  assert.match(address ?? '', /^203\.0\.113\.(9[6-9]|10[0-3])$/, 'an address from the pool');
  const { stdout } = await kubectl(env.kubeconfig, ['get', 'ingress', 'site', '-n', ns.name]);
  assert.ok(stdout.includes(address ?? '?'), `kubectl shows the address:\n${stdout}`);

  const backend = await waitUntil(
    'the pod as the backend endpoint in Redis',
    async () => {
      const table = await publishedTable(redis);
      if (
        table?.virtualHosts[virtualHostKey(address ?? '', 'shipped.example.test')] === undefined
      ) {
        return undefined;
      }
      const b = table.backends[`${ns.name}/web:80`];
      return b?.endpoints.some((e) => e.address === echo?.address && e.ready) ? b : undefined;
    },
    15_000,
  );
  assert.deepEqual(
    backend.endpoints.map((e) => `${e.address}:${e.port}`),
    [`${echo.address}:${echo.port}`],
  );
  assert.ok(Number(await redis.get(routesRevisionKey())) > 0);
  const events = await eventsFor(kc, ns.name, 'site');
  assert.ok(
    events.some((e) => e.reason === 'AddressAssigned' && e.source === 'pier-controller'),
    JSON.stringify(events),
  );
});

test("the bundled controller runs with the image's allocator settings", () => {
  const environ = readFileSync(`/proc/${controller?.process.child.pid}/environ`, 'utf8');
  const env = new Set(environ.split('\0'));
  assert.ok(
    env.has('MALLOC_ARENA_MAX=2'),
    'MALLOC_ARENA_MAX from deploy/image/bin/pier-controller',
  );
  assert.ok(env.has('MALLOC_MMAP_THRESHOLD_=131072'), 'MALLOC_MMAP_THRESHOLD_ from the wrapper');
});

test('the bundled controller serves its metrics and stops cleanly on SIGTERM', async () => {
  const res = await fetch(`http://127.0.0.1:${controller?.opsPort}/metrics`);
  assert.equal(res.status, 200);
  const text = await res.text();
  assert.match(text, /^pier_route_publish_duration_seconds_count [1-9]/m);
  assert.match(text, /^pier_controller_leader 1$/m);
  await controller?.stop();
  assert.ok(
    controller?.logs().some((l) => l.msg === 'stopped'),
    'it logs "stopped" after a graceful shutdown',
  );
  controller = undefined;
});
