/**
 * ServedRoutes: balancers follow the table lazily (made by the first request, brought up to
 * date when the backend changed, gone with the backend), and the pools of endpoints that left
 * are closed once a table without them is applied.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  type Backend,
  createLogger,
  DEFAULT_HEALTH_CHECK,
  emptyRouteTable,
  endpointField,
  type RouteTable,
  runSliced,
} from '@pier/shared';
import { createDataplaneMetrics } from './dataplane-metrics.ts';
import { UpstreamDispatchers } from './proxy/upstream-dispatchers.ts';
import { ServedRoutes } from './served-routes.ts';

function backend(name: string, ports: number[]): Backend {
  return {
    id: `shop/${name}:80`,
    service: { namespace: 'shop', name },
    servicePort: 80,
    endpoints: ports.map((port) => ({
      address: '192.0.2.10',
      port,
      ready: true,
      serving: true,
      terminating: false,
    })),
    healthCheck: structuredClone(DEFAULT_HEALTH_CHECK) as Backend['healthCheck'],
    balancing: { algorithm: 'round-robin' },
  };
}

function table(revision: number, backends: Backend[]): RouteTable {
  return {
    ...emptyRouteTable(),
    revision,
    backends: Object.fromEntries(backends.map((b) => [b.id, b])),
  };
}

async function apply(routes: ServedRoutes, next: RouteTable): Promise<void> {
  await runSliced(routes.apply(next, undefined, undefined));
}

function setup() {
  const dispatchers = new UpstreamDispatchers({ connectTimeoutMs: 1_000 });
  const routes = new ServedRoutes({
    dispatchers,
    metrics: createDataplaneMetrics(),
    logger: createLogger({ name: 'test', level: 'silent' }),
  });
  return { dispatchers, routes };
}

const usable = { usable: () => true };

test('a balancer is made by the first request and follows a changed backend, keeping its counts', async () => {
  const { routes, dispatchers } = setup();
  const web = backend('web', [8080, 8081]);
  await apply(routes, table(1, [web]));
  const balancer = routes.balancer(web.id);
  assert.ok(balancer !== undefined);
  assert.equal(routes.balancer(web.id), balancer, 'one balancer per backend');
  const first = balancer.pick(usable)?.id as string;
  balancer.begin(first);
  // The backend changes: one endpoint more. The next request sees it, in-flight counts remain.
  const grown = backend('web', [8080, 8081, 8082]);
  await apply(routes, table(2, [grown]));
  assert.equal(routes.balancer(web.id), balancer, 'the same balancer, brought up to date');
  assert.equal(balancer.backend, grown);
  assert.equal(balancer.outstanding(first), 1);
  assert.equal(balancer.eligibleCount(usable), 3);
  // Gone from the table: no balancer.
  await apply(routes, table(3, []));
  assert.equal(routes.balancer(web.id), undefined);
  await dispatchers.close(0);
});

test('the pools of endpoints that left close when the table is applied; the others stay', async () => {
  const { routes, dispatchers } = setup();
  const web = backend('web', [8080, 8081]);
  const api = backend('api', [9090]);
  await apply(routes, table(1, [web, api]));
  const a = dispatchers.for('192.0.2.10', 8080, endpointField('192.0.2.10', 8080), web.id);
  dispatchers.for('192.0.2.10', 8081, endpointField('192.0.2.10', 8081), web.id);
  dispatchers.for('192.0.2.10', 9090, endpointField('192.0.2.10', 9090), api.id);
  // web loses 8081; api is unchanged.
  await apply(routes, table(2, [backend('web', [8080]), api]));
  const open = () => [...dispatchers.owners()].map(([id]) => id).sort();
  assert.deepEqual(open(), [endpointField('192.0.2.10', 8080), endpointField('192.0.2.10', 9090)]);
  assert.equal(
    dispatchers.for('192.0.2.10', 8080, endpointField('192.0.2.10', 8080), web.id),
    a,
    'a pool that stays is the same pool',
  );
  // api leaves the table: its pool closes too.
  await apply(routes, table(3, [backend('web', [8080])]));
  assert.deepEqual(open(), [endpointField('192.0.2.10', 8080)]);
  await dispatchers.close(0);
});

test('patch: the table changed in place; balancers, pools and lookups follow the named backends', async () => {
  const { routes, dispatchers } = setup();
  const web = backend('web', [8080, 8081]);
  const api = backend('api', [9090]);
  const live = table(1, [web, api]);
  live.virtualHosts['*|web.example.test'] = {
    address: '*',
    host: 'web.example.test',
    routes: [
      {
        path: '/',
        pathType: 'Prefix',
        backend: web.id,
        source: { namespace: 'shop', name: 'web' },
      },
    ],
  };
  await apply(routes, live);
  const balancer = routes.balancer(web.id);
  const a = dispatchers.for('192.0.2.10', 8080, endpointField('192.0.2.10', 8080), web.id);
  dispatchers.for('192.0.2.10', 8081, endpointField('192.0.2.10', 8081), web.id);
  dispatchers.for('192.0.2.10', 9090, endpointField('192.0.2.10', 9090), api.id);
  assert.equal(routes.index.lookup('192.0.2.1', 'web.example.test', '/')?.backend, web);

  // web loses 8081 and api leaves, in place.
  const smaller = backend('web', [8080]);
  live.backends[web.id] = smaller;
  delete live.backends[api.id];
  const next = { ...live, revision: 2 };
  const none = new Set<string>();
  routes.patch(
    next,
    { virtualHosts: none, backends: new Set([web.id, api.id]), certificates: none },
    undefined,
    undefined,
  );
  assert.equal(routes.table, next);
  assert.equal(routes.index.revision, 2);
  assert.equal(routes.index.lookup('192.0.2.1', 'web.example.test', '/')?.backend, smaller);
  assert.equal(routes.balancer(web.id), balancer, 'the same balancer, brought up to date');
  assert.equal(balancer?.backend, smaller);
  assert.equal(routes.balancer(api.id), undefined);
  const open = [...dispatchers.owners()].map(([id]) => id);
  assert.deepEqual(open, [endpointField('192.0.2.10', 8080)]);
  assert.equal(
    dispatchers.for('192.0.2.10', 8080, endpointField('192.0.2.10', 8080), web.id),
    a,
    'a pool that stays is the same pool',
  );
  await dispatchers.close(0);
});
