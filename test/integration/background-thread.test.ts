/**
 * The dataplane's route table followed on a worker thread (RouteSyncThread) against a real
 * redis-server and the controller's real publisher: unchanged entries keep their objects from
 * one table to the next (what DataplaneApp finds changes by), a 10,000-host table arrives
 * without holding the serving thread, and the copy on disk is served at the next start.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { createLogger, type Problem, type RouteTable } from '@pier/shared';
import { RouteSyncThread } from '../../packages/dataplane/src/sync/route-sync-thread.ts';
import { testEnv } from '../lib/env.ts';
import { watchLoopGaps } from '../lib/loop-gaps.ts';
import { startRedis, type TestRedis } from '../lib/redis-server.ts';
import {
  backend,
  connectPublisher,
  endpoint,
  routeContent,
  type TestPublisher,
  virtualHost,
} from '../lib/route-tables.ts';

const env = testEnv();
const DIR = join(env.stateDir, `route-sync-thread-${process.pid}`);
const cleanups: Array<() => Promise<unknown> | unknown> = [];
after(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup();
});

/** A RouteSyncThread on `redis` that records every table it hands over. */
function follow(redis: TestRedis, name: string) {
  const tables: RouteTable[] = [];
  const problems: Problem[] = [];
  const sync = new RouteSyncThread({
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

test('the table saved by the worker is served at the next start, with Redis unreachable', async () => {
  // Nothing listens on port 1: the worker keeps retrying while the saved table is served.
  const { sync, tables } = follow({ ...redis, url: 'redis://127.0.0.1:1' }, 'large');
  cleanups.push(() => sync.stop());
  await sync.start();
  assert.ok(tables.length > 0, 'start() resolved with the saved table handed over');
  assert.equal(Object.keys(tables[0]?.virtualHosts ?? {}).length, 10_000);
  await sync.stop();
});
