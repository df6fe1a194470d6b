/**
 * The dataplane's background thread (BackgroundThread) against a real redis-server and the
 * controller's real publisher. Routes: unchanged entries keep their objects from one table to
 * the next (what DataplaneApp finds changes by), a 10,000-host table arrives without holding the
 * serving thread, and the copy on disk is served at the next start. Health: real probes of
 * stand-in pods on loopback and passive ejections, decided on the worker, shared through Redis,
 * and seen by the serving thread's mirror.
 */
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { readFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { after, test } from 'node:test';
import {
  type ChangedKeys,
  createLogger,
  ejectionKey,
  endpointField,
  healthChannel,
  type Problem,
  type RouteTable,
  routeLogReaderRedisOptions,
} from '@pier/shared';
import { Redis } from 'ioredis';
import { BackgroundThread } from '../../packages/dataplane/src/background/background-thread.ts';
import { encodeHealthMessage } from '../../packages/dataplane/src/health/health-messages.ts';
import { RouteSync } from '../../packages/dataplane/src/sync/route-sync.ts';
import { testEnv } from '../lib/env.ts';
import { watchLoopGaps } from '../lib/loop-gaps.ts';
import { startRedis, type TestRedis } from '../lib/redis-server.ts';
import {
  backend,
  connectPublisher,
  endpoint,
  healthCheck,
  routeContent,
  type TestPublisher,
  virtualHost,
} from '../lib/route-tables.ts';

const env = testEnv();
const DIR = join(env.stateDir, `background-thread-${process.pid}`);
const cleanups: Array<() => Promise<unknown> | unknown> = [];
after(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup();
});

/** A BackgroundThread on `redis` (routes only) that records every table it hands over. */
function follow(redis: TestRedis, name: string) {
  const tables: RouteTable[] = [];
  const problems: Problem[] = [];
  const sync = new BackgroundThread({
    redisUrl: redis.url,
    stateFile: join(DIR, `${name}.json`),
    logLevel: 'silent',
    persistEveryMs: 50,
    logger: createLogger({ name: 'test', level: 'silent' }),
    handlers: {
      onTable: (table) => tables.push(table),
      onProblems: (p) => problems.push(...p),
    },
  });
  return { sync, tables, problems };
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

async function until(what: string, check: () => boolean, timeoutMs: number): Promise<void> {
  const started = performance.now();
  while (!check()) {
    if (performance.now() - started > timeoutMs) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

let redis: TestRedis;
let publisher: TestPublisher;

test('setup: redis-server and the publisher', async () => {
  redis = await startRedis(join(DIR, 'redis'));
  cleanups.push(() => redis.stop());
  publisher = await connectPublisher(redis);
  cleanups.push(() => publisher.close());
});

const web = backend('shop', 'web', [endpoint({ address: '198.51.100.1', port: 8080 })]);
const api = backend('shop', 'api', [endpoint({ address: '198.51.100.2', port: 8080 })]);
const content = (apiEndpoints: number) => {
  const changed = {
    ...api,
    endpoints: Array.from({ length: apiEndpoints }, (_, i) =>
      endpoint({ address: '198.51.100.2', port: 8080 + i }),
    ),
  };
  return routeContent({
    virtualHosts: [
      virtualHost('web.example.test', [['Prefix', '/', web]]),
      virtualHost('api.example.test', [['Prefix', '/', changed]]),
    ],
    backends: [web, changed],
  });
};

test('a change hands over a table whose unchanged entries are the objects of the one before', async () => {
  const first = await publisher.publish(content(1));
  const { sync, tables } = follow(redis, 'identity');
  cleanups.push(() => sync.stop());
  await sync.start();
  await until('the first table', () => tables.at(-1)?.revision === first, 5_000);
  const before = tables.at(-1) as RouteTable;
  const second = await publisher.publish(content(3));
  await until('the second table', () => tables.at(-1)?.revision === second, 5_000);
  const after = tables.at(-1) as RouteTable;
  assert.equal(after.backends[api.id]?.endpoints.length, 3, 'the change arrived');
  assert.notEqual(after.backends[api.id], before.backends[api.id]);
  assert.equal(after.backends[web.id], before.backends[web.id], 'unchanged backend: same object');
  for (const key of Object.keys(before.virtualHosts)) {
    assert.equal(after.virtualHosts[key], before.virtualHosts[key], `virtual host ${key}`);
  }
  await sync.stop();
});

test('a 10,000-host table arrives without a stall of the serving thread', async () => {
  const { sync, tables } = follow(redis, 'large');
  cleanups.push(() => sync.stop());
  await sync.start();
  const small = await publisher.publish(content(1));
  await until('the small table', () => tables.at(-1)?.revision === small, 5_000);
  const hosts = Array.from({ length: 10_000 }, (_, i) =>
    backend('bulk', `svc-${i}`, [
      endpoint({ address: '198.51.100.3', port: 10_000 + i }),
      endpoint({ address: '198.51.100.4', port: 10_000 + i }),
    ]),
  );
  const large = routeContent({
    virtualHosts: hosts.map((b) =>
      virtualHost(`h-${b.service.name}.example.test`, [['Prefix', '/', b]]),
    ),
    backends: hosts,
  });
  const gaps = watchLoopGaps(5);
  try {
    // The publisher's own encoding runs on this thread too: only the wait for the table counts.
    const revision = await publisher.publish(large);
    gaps.reset();
    await until('the large table', () => tables.at(-1)?.revision === revision, 30_000);
    assert.equal(Object.keys(tables.at(-1)?.virtualHosts ?? {}).length, 10_000);
  } finally {
    gaps.stop();
  }
  assert.ok(gaps.worst < 100, `the serving thread stalled for ${Math.round(gaps.worst)} ms`);
  await sync.stop();
});

test('a small change to a 10,000-host table is patched into the served one in one short step', async () => {
  const patches: Array<{ table: RouteTable; changed: ChangedKeys }> = [];
  const received: number[] = [];
  let ready = true;
  const tables: RouteTable[] = [];
  const sync = new BackgroundThread({
    redisUrl: redis.url,
    stateFile: join(DIR, 'patch.json'),
    logLevel: 'silent',
    logger: createLogger({ name: 'test', level: 'silent' }),
    onReceived: (ms) => received.push(ms),
    handlers: {
      onTable: (table) => tables.push(table),
      patch: { ready: () => ready, apply: (table, changed) => patches.push({ table, changed }) },
      onProblems: () => undefined,
    },
  });
  cleanups.push(() => sync.stop());
  const hosts = Array.from({ length: 10_000 }, (_, i) =>
    backend('patch', `svc-${i}`, [endpoint({ address: '198.51.100.5', port: 10_000 + i })]),
  );
  const withEndpoint = (i: number, port: number) => {
    const backends = hosts.map((b, j) =>
      j === i ? { ...b, endpoints: [endpoint({ address: '198.51.100.6', port })] } : b,
    );
    return routeContent({
      virtualHosts: backends.map((b) =>
        virtualHost(`h-${b.service.name}.example.test`, [['Prefix', '/', b]]),
      ),
      backends,
    });
  };
  const first = await publisher.publish(withEndpoint(-1, 0));
  await sync.start();
  await until('the large table', () => tables.at(-1)?.revision === first, 30_000);
  const whole = tables.at(-1) as RouteTable;
  const target = hosts[42]?.id as string;

  const second = await publisher.publish(withEndpoint(42, 4242));
  await until('the patch', () => patches.at(-1)?.table.revision === second, 5_000);
  assert.equal(tables.length, 1, 'no whole table was handed over for the change');
  const { table, changed } = patches.at(-1) as (typeof patches)[number];
  assert.deepEqual([...changed.backends], [target]);
  assert.deepEqual([...changed.virtualHosts], [], 'the virtual host did not change');
  assert.equal(table.backends, whole.backends, 'the served section, changed in place');
  assert.equal(table.backends[target]?.endpoints[0]?.port, 4242);
  // Generous bound for a shared machine; the route-publication benchmark carries the figure.
  const ms = received.at(-1) ?? Number.NaN;
  assert.ok(ms < 20, `the patch held the serving thread ${ms.toFixed(2)} ms`);

  // While the serving side is busy, the change comes as a whole table of its own instead.
  ready = false;
  const third = await publisher.publish(withEndpoint(42, 4343));
  await until('the whole table', () => tables.at(-1)?.revision === third, 10_000);
  const rebuilt = tables.at(-1) as RouteTable;
  assert.notEqual(rebuilt.backends, whole.backends);
  assert.equal(rebuilt.backends[target]?.endpoints[0]?.port, 4343);
  assert.equal(whole.backends[target]?.endpoints[0]?.port, 4242, 'the served table is untouched');
  assert.equal(patches.at(-1)?.table.revision, second);
  await sync.stop();
});

test('the table saved by the worker is served at the next start, with Redis unreachable', async () => {
  // Nothing listens on port 1: the worker keeps retrying while the saved table is served.
  const { sync, tables } = follow({ ...redis, url: 'redis://127.0.0.1:1' }, 'large');
  cleanups.push(() => sync.stop());
  await sync.start();
  assert.ok(tables.length > 0, 'start() resolved with the saved table handed over');
  assert.equal(Object.keys(tables[0]?.virtualHosts ?? {}).length, 10_000);
  await sync.stop();
});

/** A stand-in pod on loopback: /healthz answers 200 or 503 as `healthy` says. */
test('the copy on disk follows a stream of changes at most once per interval, and the last one on stop', async () => {
  const file = join(DIR, 'throttled.json');
  const connection = new Redis(redis.url, routeLogReaderRedisOptions(200));
  cleanups.push(() => connection.disconnect());
  const sync = new RouteSync({
    redis: connection,
    stateFile: file,
    logger: createLogger({ name: 'test', level: 'silent' }),
    onTable: () => undefined,
    blockMs: 200,
    persistEveryMs: 20,
    persistMinIntervalMs: 2_000,
  });
  cleanups.push(() => sync.stop());
  const saved = async (): Promise<number> => {
    try {
      return JSON.parse(await readFile(file, 'utf8')).revision as number;
    } catch {
      return -1;
    }
  };
  await sync.start();
  const first = await publisher.publish(content(1));
  const deadline = performance.now() + 3_000;
  while ((await saved()) !== first && performance.now() < deadline) await sleep(10);
  assert.equal(await saved(), first, 'a change after a quiet time is saved soon');
  // Ten changes in the next half second: none reaches the disk until the interval is over.
  let last = first;
  for (let i = 2; i <= 11; i++) {
    last = await publisher.publish(content(i));
    await sleep(50);
  }
  assert.equal(await saved(), first, 'no save within the interval');
  const later = performance.now() + 3_000;
  while ((await saved()) !== last && performance.now() < later) await sleep(20);
  assert.equal(await saved(), last, 'the newest table is saved once the interval is over');
  const final = await publisher.publish(content(12));
  await sleep(300);
  await sync.stop();
  assert.equal(await saved(), final, 'stop saves what is pending');
});

async function pod(healthy: boolean): Promise<{ server: Server; port: number; healthy: boolean }> {
  const state = { server: createServer(), port: 0, healthy };
  state.server.on('request', (req, res) => {
    res.writeHead(req.url === '/healthz' && !state.healthy ? 503 : 200).end('ok\n');
  });
  state.server.listen(0, '127.0.0.1');
  await once(state.server, 'listening');
  state.port = (state.server.address() as AddressInfo).port;
  cleanups.push(() => new Promise((r) => state.server.close(r)));
  return state;
}

test('health on the worker: probes, passive and shared ejections reach the serving thread', async () => {
  const good = await pod(true);
  const sick = await pod(false);
  const checks = healthCheck({
    intervalMs: 200,
    timeoutMs: 150,
    healthyThreshold: 1,
    unhealthyThreshold: 1,
    passive: { consecutiveFailures: 3, ejectionMs: 60_000, maxEjectionPercent: 100 },
  });
  const shop = backend(
    'probed',
    'web',
    [
      endpoint({ address: '127.0.0.1', port: good.port }),
      endpoint({ address: '127.0.0.1', port: sick.port }),
    ],
    { healthCheck: { ...checks, http: { ...checks.http, path: '/healthz' } } },
  );
  const goodId = endpointField('127.0.0.1', good.port);
  const sickId = endpointField('127.0.0.1', sick.port);
  await publisher.publish(
    routeContent({
      virtualHosts: [virtualHost('probed.example.test', [['Prefix', '/', shop]])],
      backends: [shop],
    }),
  );
  const transitions: string[] = [];
  let probes = 0;
  const thread = new BackgroundThread({
    redisUrl: redis.url,
    stateFile: join(DIR, 'health.json'),
    logLevel: 'silent',
    logger: createLogger({ name: 'test', level: 'silent' }),
    handlers: { onTable: () => undefined, onProblems: () => undefined },
    health: {
      node: 'bg-node',
      probes: true,
      events: {
        onProbe: () => {
          probes += 1;
        },
        onTransition: (_b, e, from, to) => transitions.push(`${e} ${from}->${to}`),
      },
    },
  });
  cleanups.push(() => thread.stop());
  const health = thread.health;
  assert.ok(health !== undefined);
  const started = health.start();
  await thread.start();
  await started;
  const now = (): number => Date.now();
  await until('the sick pod unusable', () => !health.usable(shop.id, sickId, now()), 5_000);
  assert.equal(health.usable(shop.id, goodId, now()), true, 'the good pod stays usable');
  assert.ok(transitions.includes(`${sickId} unknown->unhealthy`), transitions.join(', '));
  await until('probes counted for the metrics', () => probes >= 2, 5_000);
  assert.ok(health.owned >= 2, `${health.owned} targets owned`);

  // Passive: three failed attempts eject the good pod; the ejection is shared through Redis.
  for (let i = 0; i < 3; i++) health.reportResult(shop.id, goodId, false, now());
  await until('the ejection', () => !health.usable(shop.id, goodId, now()), 5_000);
  const command = new Redis(redis.url);
  cleanups.push(() => command.disconnect());
  assert.equal(await command.get(ejectionKey(shop.id, goodId)), 'bg-node', 'shared with the fleet');

  // An ejection decided by another node reaches the serving thread too.
  sick.healthy = true;
  await until('the sick pod healthy again', () => health.usable(shop.id, sickId, now()), 5_000);
  await command.set(ejectionKey(shop.id, sickId), 'other-node', 'PX', 60_000);
  await command.publish(
    healthChannel(),
    encodeHealthMessage({
      type: 'ejection',
      backend: shop.id,
      endpoint: sickId,
      ms: 60_000,
      by: 'other-node',
    }),
  );
  await until('the shared ejection', () => !health.usable(shop.id, sickId, now()), 5_000);
  await health.synced();
  await health.stop();
  await thread.stop();
});
