import assert from 'node:assert/strict';
import { once } from 'node:events';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, test } from 'node:test';
import { type Backend, DEFAULT_HEALTH_CHECK, endpointField, type RouteTable } from '@pier/shared';
import type { HealthStatus } from './health-state.ts';
import { LocalHealthChecker } from './local-health-checker.ts';

/** A pod stand-in on loopback whose /healthz answers `status()`. */
async function pod(status: () => number): Promise<{ server: Server; port: number }> {
  const server = createServer((req, res) => {
    res.writeHead(req.url === '/healthz' ? status() : 200).end();
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  after(() => new Promise<void>((r) => server.close(() => r())));
  return { server, port: (server.address() as AddressInfo).port };
}

function table(ports: number[], revision = 1): RouteTable {
  const backend: Backend = {
    id: 'default/web:80',
    service: { namespace: 'default', name: 'web' },
    servicePort: 80,
    endpoints: ports.map((port) => ({
      address: '127.0.0.1',
      port,
      ready: true,
      serving: true,
      terminating: false,
    })),
    healthCheck: {
      ...structuredClone(DEFAULT_HEALTH_CHECK),
      http: { path: '/healthz', expectedStatuses: [[200, 299]] },
      intervalMs: 100,
      timeoutMs: 80,
      healthyThreshold: 2,
      unhealthyThreshold: 2,
      passive: { consecutiveFailures: 2, ejectionMs: 60_000, maxEjectionPercent: 50 },
    },
    balancing: { algorithm: 'round-robin' },
  };
  return { revision, virtualHosts: {}, backends: { [backend.id]: backend }, certificates: {} };
}

async function until(what: string, check: () => boolean, timeoutMs = 3_000): Promise<number> {
  const started = Date.now();
  while (!check()) {
    assert.ok(Date.now() - started < timeoutMs, `${what} within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 10));
  }
  return Date.now() - started;
}

test('probes every endpoint itself: a failing health endpoint goes out of use and comes back', async () => {
  let status = 200;
  const a = await pod(() => status);
  const b = await pod(() => 200);
  const transitions: Array<[string, HealthStatus, HealthStatus]> = [];
  const checker = new LocalHealthChecker({
    node: 'standalone',
    events: { onTransition: (_b, endpoint, from, to) => transitions.push([endpoint, from, to]) },
  });
  after(() => checker.stop());
  checker.update(table([a.port, b.port]));
  await checker.start();
  assert.equal(checker.owned, 2, 'one node probes every target');
  const idA = endpointField('127.0.0.1', a.port);
  const idB = endpointField('127.0.0.1', b.port);
  assert.equal(checker.usable('default/web:80', idA, Date.now()), true, 'unknown counts as usable');
  await until('both healthy', () => transitions.length === 2);

  status = 503;
  // Two failures at a 100 ms interval (±10 %): out of use well within a second.
  await until('a unhealthy', () => !checker.usable('default/web:80', idA, Date.now()), 1_000);
  assert.equal(checker.usable('default/web:80', idB, Date.now()), true);
  status = 200;
  await until('a back', () => checker.usable('default/web:80', idA, Date.now()), 1_000);
  assert.deepEqual(
    transitions.filter(([id]) => id === idA).map(([, from, to]) => `${from}→${to}`),
    ['unknown→healthy', 'healthy→unhealthy', 'unhealthy→healthy'],
  );
});

test('failed requests eject an endpoint (within maxEjectionPercent); a table without it forgets it', async () => {
  const a = await pod(() => 200);
  const b = await pod(() => 200);
  const checker = new LocalHealthChecker({ node: 'standalone' });
  after(() => checker.stop());
  checker.update(table([a.port, b.port]));
  const idA = endpointField('127.0.0.1', a.port);
  const idB = endpointField('127.0.0.1', b.port);
  const now = Date.now();
  checker.reportResult('default/web:80', idA, false, now);
  assert.equal(checker.usable('default/web:80', idA, now), true, 'one failure is not enough');
  checker.reportResult('default/web:80', idA, false, now);
  assert.equal(checker.usable('default/web:80', idA, now), false, 'two consecutive failures eject');
  checker.reportResult('default/web:80', idB, false, now);
  checker.reportResult('default/web:80', idB, false, now);
  assert.equal(checker.usable('default/web:80', idB, now), true, 'never more than 50 % ejected');
  checker.update(table([b.port], 2));
  assert.equal(checker.owned, 1);
  checker.update(table([a.port, b.port], 3));
  assert.equal(
    checker.usable('default/web:80', idA, now),
    true,
    'a returning endpoint starts afresh',
  );
});
