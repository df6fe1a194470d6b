import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  type Backend,
  DEFAULT_HEALTH_CHECK,
  ownerOf,
  probeKey,
  type RouteTable,
  type SharedHealthState,
} from '@pier/shared';
import { addressViews } from './address-views.ts';
import { backendViews, healthSummary, nodeViews, routeViews } from './dashboard-state.ts';

const NOW = Date.parse('2026-12-01T00:00:00Z');

function backend(id: string, addresses: string[], ready = true): Backend {
  const [namespace = '', rest = ''] = id.split('/');
  const [name = ''] = rest.split(':');
  return {
    id,
    service: { namespace, name },
    servicePort: 80,
    endpoints: addresses.map((address) => ({
      address,
      port: 8080,
      ready,
      serving: ready,
      terminating: false,
      targetRef: { namespace, name: `${name}-${address.split('.').at(-1)}` },
    })),
    healthCheck: { ...DEFAULT_HEALTH_CHECK, policy: { namespace, name: 'hc' } },
    balancing: { algorithm: 'p2c' },
  };
}

const table: Omit<RouteTable, 'revision'> = {
  virtualHosts: {
    'a|shop.example.test': {
      address: '192.0.2.10',
      host: 'shop.example.test',
      tls: { certificate: 'shop/tls' },
      routes: [
        {
          path: '/cart',
          pathType: 'Prefix',
          backend: 'shop/cart:80',
          source: { namespace: 'shop', name: 'web' },
        },
        {
          path: '/',
          pathType: 'Prefix',
          backend: 'shop/web:80',
          source: { namespace: 'shop', name: 'web' },
        },
      ],
    },
    'a|': {
      address: '192.0.2.10',
      host: '',
      routes: [],
      defaultBackend: 'shop/web:80',
    },
  },
  backends: {
    'shop/web:80': backend('shop/web:80', ['198.51.100.1', '198.51.100.2', '198.51.100.3']),
    'shop/cart:80': backend('shop/cart:80', ['198.51.100.9']),
  },
  certificates: {
    'shop/tls': {
      id: 'shop/tls',
      secret: { namespace: 'shop', name: 'tls' },
      certificatePem: '',
      key: { keyId: 'k', iv: '', tag: '', data: '' } as never,
      notAfter: '2026-12-11T12:00:00.000Z',
    },
  },
};

test('routes: one row per path and per default backend, sorted, with the certificate expiry', () => {
  const rows = routeViews(table, NOW);
  assert.deepEqual(
    rows.map((r) => [r.host, r.path, r.pathType, r.backend, r.tls?.secret, r.tls?.daysLeft]),
    [
      ['', '', 'default', 'shop/web:80', undefined, undefined],
      ['shop.example.test', '/', 'Prefix', 'shop/web:80', 'shop/tls', 10],
      ['shop.example.test', '/cart', 'Prefix', 'shop/cart:80', 'shop/tls', 10],
    ],
  );
});

test('backends: shared health, who probes each endpoint, and running ejections', () => {
  const state = (status: SharedHealthState['status'], by: string): SharedHealthState => ({
    status,
    since: NOW - 5_000,
    failures: status === 'unhealthy' ? 3 : 0,
    successes: status === 'healthy' ? 4 : 0,
    by,
  });
  const health = new Map([
    [
      'shop/web:80',
      new Map([
        ['198.51.100.1:8080', state('healthy', 'edge-1')],
        ['198.51.100.2:8080', state('unhealthy', 'edge-2')],
      ]),
    ],
  ]);
  const live = ['edge-1', 'edge-2'];
  const views = backendViews(
    table,
    health,
    [
      { backendId: 'shop/web:80', endpoint: '198.51.100.3:8080', by: 'edge-1', until: NOW + 9_000 },
      // Ended: not shown.
      { backendId: 'shop/web:80', endpoint: '198.51.100.1:8080', by: 'edge-2', until: NOW - 1 },
    ],
    live,
    NOW,
  );
  assert.deepEqual(
    views.map((b) => b.id),
    ['shop/cart:80', 'shop/web:80'],
  );
  const web = views[1];
  assert.equal(web?.policy, 'shop/hc');
  const hc = table.backends['shop/web:80']?.healthCheck ?? DEFAULT_HEALTH_CHECK;
  assert.deepEqual(
    web?.endpoints.map((e) => [e.id, e.status, e.decidedBy, e.prober, e.ejection?.by, e.pod]),
    [
      [
        '198.51.100.1:8080',
        'healthy',
        'edge-1',
        ownerOf(probeKey({ address: '198.51.100.1', port: 8080 }, hc), live),
        undefined,
        'shop/web-1',
      ],
      [
        '198.51.100.2:8080',
        'unhealthy',
        'edge-2',
        ownerOf(probeKey({ address: '198.51.100.2', port: 8080 }, hc), live),
        undefined,
        'shop/web-2',
      ],
      [
        '198.51.100.3:8080',
        'unknown',
        undefined,
        ownerOf(probeKey({ address: '198.51.100.3', port: 8080 }, hc), live),
        'edge-1',
        'shop/web-3',
      ],
    ],
  );
  assert.deepEqual(healthSummary(views), {
    backends: 2,
    endpoints: 4,
    healthy: 1,
    unhealthy: 1,
    unknown: 1,
    ejected: 1,
    backendsDown: 0,
  });
});

test('a backend whose every endpoint is unhealthy or not ready counts as down', () => {
  const down = { ...table, backends: { 'x/y:80': backend('x/y:80', ['198.51.100.7'], false) } };
  assert.equal(healthSummary(backendViews(down, new Map(), [], ['edge-1'], NOW)).backendsDown, 1);
  const none = { ...table, backends: { 'x/z:80': backend('x/z:80', []) } };
  assert.equal(healthSummary(backendViews(none, new Map(), [], ['edge-1'], NOW)).backendsDown, 0);
});

test('nodes: revision lag against the newest, and the addresses each announces', () => {
  const views = nodeViews(
    new Map([
      ['edge-2', { revision: 7, revisionSince: NOW, startedAt: NOW - 1 }],
      ['edge-1', { revision: 9, revisionSince: NOW, startedAt: NOW - 1 }],
      ['edge-3', undefined],
    ]),
    9,
    [{ address: '192.0.2.10', pool: 'p', owners: [], holder: 'edge-2', l2: true }],
  );
  assert.deepEqual(
    views.map((n) => [n.name, n.revision, n.lag, n.holds]),
    [
      ['edge-1', 9, 0, []],
      ['edge-2', 7, 2, ['192.0.2.10']],
      ['edge-3', undefined, undefined, []],
    ],
  );
});

test('pools: counts from the status when written, from the spec otherwise; holders and problems', () => {
  const pools = [
    {
      metadata: { name: 'l2' },
      spec: { addresses: ['192.0.2.0/30'], l2: {} },
      status: {
        assigned: 1,
        available: 3,
        holders: [{ address: '192.0.2.1', node: 'edge-1' }],
      },
    },
    {
      metadata: { name: 'plain' },
      spec: { addresses: ['198.51.100.0/24'], avoidBuggyIPs: true },
    },
    {
      metadata: { name: 'broken' },
      spec: { addresses: ['198.51.100.9-198.51.100.1'] },
      status: {
        conditions: [
          {
            type: 'Accepted',
            status: 'False',
            reason: 'InvalidAddresses',
            message: 'start after end',
            lastTransitionTime: new Date(NOW),
          },
        ],
      },
    },
  ];
  const { pools: views, addresses } = addressViews(pools, [
    { owner: 'Ingress a/one', addresses: ['192.0.2.1'] },
    { owner: 'Service a/two', addresses: ['198.51.100.7'] },
    { owner: 'Ingress a/three', addresses: ['198.51.100.7'] },
    { owner: 'Ingress a/four', addresses: ['192.0.2.2'] },
  ]);
  assert.deepEqual(
    views.map((p) => [p.name, p.size, p.used, p.free, p.l2, p.problems.length]),
    [
      ['broken', '—', 0, 0, false, 1],
      ['l2', '4', 1, 3, true, 0],
      ['plain', '254', 1, 253, false, 0],
    ],
  );
  assert.match(
    views[0]?.problems[0] ?? '',
    /^Accepted=False: InvalidAddresses \(start after end\)/,
  );
  assert.deepEqual(
    addresses.map((a) => [a.address, a.pool, a.owners, a.holder]),
    [
      ['192.0.2.1', 'l2', ['Ingress a/one'], 'edge-1'],
      // Assigned in an L2 pool, announced by nobody: the dashboard flags it.
      ['192.0.2.2', 'l2', ['Ingress a/four'], undefined],
      ['198.51.100.7', 'plain', ['Ingress a/three', 'Service a/two'], undefined],
    ],
  );
});
