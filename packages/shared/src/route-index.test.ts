import assert from 'node:assert/strict';
import { test } from 'node:test';
import { backend, certificate, route, seededRandom, table, vhost } from './fixtures.test.ts';
import type { PathType } from './path-match.ts';
import { bestPathMatch } from './path-match.ts';
import { ENTRY_TEXT_PROBE } from './route-entries.ts';
import { RouteIndex } from './route-index.ts';
import type { Route, VirtualHost } from './route-table.ts';

const A = '203.0.113.1';
const V6 = '2001:db8::1';
const OTHER = '198.51.100.1';

const be = Object.fromEntries(
  ['web', 'api', 'v1', 'exact', 'wild', 'public', 'def', 'star', 'stardef'].map((n) => [
    n,
    backend(n),
  ]),
);
const id = (name: string) => (be[name] as { id: string }).id;

const index = new RouteIndex(
  table(8, {
    backends: Object.values(be),
    certificates: [certificate('shop/shop-tls'), certificate('shop/wild-tls')],
    vhosts: [
      vhost(
        A,
        'shop.example.com',
        [
          route('/', 'Prefix', id('web')),
          route('/api/v1', 'Prefix', id('v1')),
          route('/api', 'Prefix', id('api')),
          route('/api', 'Exact', id('exact')),
        ],
        { tls: { certificate: 'shop/shop-tls' } },
      ),
      vhost(A, '*.example.com', [route('/', 'Prefix', id('wild'))], {
        tls: { certificate: 'shop/wild-tls' },
      }),
      vhost(A, 'plain.example.com', [route('/', 'Prefix', id('web'))]),
      vhost(A, '', [route('/public', 'Prefix', id('public'))], { defaultBackend: id('def') }),
      vhost('*', 'shop.example.com', [route('/', 'Prefix', id('star'))]),
      vhost('*', 'other.example.org', [route('/', 'Prefix', id('star'))]),
      vhost('*', '', [], { defaultBackend: id('stardef') }),
      vhost(V6, 'v6.example.com', [route('/app', 'Prefix', id('web'))]),
    ],
  }),
);

/** [local address, Host header, path] → [backend name, route path or 'default', vhost host]. */
const ROWS: Array<[string, string, string, [string, string, string] | undefined]> = [
  // Within a host: deepest Prefix wins, Exact beats Prefix, the query is ignored.
  [A, 'shop.example.com', '/', ['web', '/', 'shop.example.com']],
  [A, 'shop.example.com:8443', '/api/v1/users', ['v1', '/api/v1', 'shop.example.com']],
  [A, 'SHOP.example.com.', '/api', ['exact', '/api', 'shop.example.com']],
  [A, 'shop.example.com', '/api?next=/api/v1', ['exact', '/api', 'shop.example.com']],
  [A, 'shop.example.com', '/api/', ['api', '/api', 'shop.example.com']],
  [A, 'shop.example.com', '/apix', ['web', '/', 'shop.example.com']],
  // Wildcards cover one label; the exact host wins over the wildcard.
  [A, 'bar.example.com', '/x', ['wild', '/', '*.example.com']],
  [A, 'plain.example.com', '/x', ['web', '/', 'plain.example.com']],
  [A, 'baz.bar.example.com', '/x', ['def', 'default', '']],
  [A, 'example.com', '/public/a', ['public', '/public', '']],
  // No host matches: the any-host routes, then the default backend.
  [A, 'unknown.org', '/public', ['public', '/public', '']],
  [A, 'unknown.org', '/nothing', ['def', 'default', '']],
  [A, '', '/', ['def', 'default', '']],
  // An IPv4-mapped local address is the IPv4 address.
  [`::ffff:${A}`, 'shop.example.com', '/', ['web', '/', 'shop.example.com']],
  // Address scoping: an address with any candidate decides; '*' serves the rest.
  [A, 'other.example.org', '/', ['def', 'default', '']],
  [OTHER, 'shop.example.com', '/', ['star', '/', 'shop.example.com']],
  [OTHER, 'other.example.org', '/x', ['star', '/', 'other.example.org']],
  [OTHER, 'nothing.example', '/', ['stardef', 'default', '']],
  [V6, 'v6.example.com', '/app/x', ['web', '/app', 'v6.example.com']],
  [V6, 'nope.example', '/', ['stardef', 'default', '']],
  // A host that matched but has no path and no any-host default on its address is a 404.
  [V6, 'v6.example.com', '/other', undefined],
];

test('lookup: host and path precedence, fallback and address scoping', () => {
  for (const [address, host, path, expected] of ROWS) {
    const m = index.lookup(address, host, path);
    const label = `${address} ${host} ${path}`;
    if (expected === undefined) {
      assert.equal(m, undefined, label);
      continue;
    }
    const [backendName, routePath, vhostHost] = expected;
    assert.equal(m?.backend.id, id(backendName), label);
    assert.equal(m?.viaDefault, routePath === 'default', label);
    assert.equal(m?.route?.path ?? 'default', routePath, label);
    assert.equal(m?.virtualHost.host, vhostHost, label);
  }
});

test('lookup: among equal rules the first in the routes array wins', () => {
  const b1 = backend('one');
  const b2 = backend('two');
  const idx = new RouteIndex(
    table(1, {
      backends: [b1, b2],
      vhosts: [
        vhost(A, 'h.example', [
          route('/a', 'Prefix', b1.id),
          route('/a/', 'Prefix', b2.id),
          route('/x', 'Exact', b2.id),
          route('/x', 'Exact', b1.id),
        ]),
      ],
    }),
  );
  assert.equal(idx.lookup(A, 'h.example', '/a/b')?.backend.id, b1.id);
  assert.equal(idx.lookup(A, 'h.example', '/x')?.backend.id, b2.id);
});

test('lookup: routes to a backend missing from the table are ignored', () => {
  const b = backend('here');
  const idx = new RouteIndex(
    table(1, {
      backends: [b],
      vhosts: [
        vhost(A, 'h.example', [route('/', 'Prefix', b.id), route('/gone', 'Prefix', 'x/y:1')]),
      ],
    }),
  );
  assert.equal(idx.lookup(A, 'h.example', '/gone/1')?.backend.id, b.id);
});

test('lookup agrees with the reference precedence (bestPathMatch) on random rule sets', () => {
  const random = seededRandom(42);
  const pick = <T>(items: readonly T[]): T => items[Math.floor(random() * items.length)] as T;
  const randomPath = (maxDepth: number) => {
    const depth = Math.floor(random() * (maxDepth + 1));
    const path = `/${Array.from({ length: depth }, () => pick(['a', 'b', 'ab'])).join('/')}`;
    return depth > 0 && random() < 0.3 ? `${path}/` : path;
  };
  const backends = [backend('b0'), backend('b1'), backend('b2')];
  const types: PathType[] = ['Exact', 'Prefix', 'ImplementationSpecific'];
  let matched = 0;
  for (let i = 0; i < 200; i++) {
    const routes: Route[] = Array.from({ length: 1 + Math.floor(random() * 8) }, () =>
      route(randomPath(3), pick(types), pick(backends).id),
    );
    const idx = new RouteIndex(table(1, { backends, vhosts: [vhost(A, 'h.example', routes)] }));
    for (let j = 0; j < 20; j++) {
      const path = randomPath(4) + (random() < 0.2 ? '?q=/a' : '');
      const expected = routes[bestPathMatch(routes, path)];
      const actual = idx.lookup(A, 'h.example', path)?.route;
      assert.equal(actual, expected, `${JSON.stringify(routes)} ${path}`);
      if (expected !== undefined) matched++;
    }
  }
  assert.ok(matched > 1000, `only ${matched} lookups matched`);
});

test('certificateFor: exact host with TLS, then the wildcard, then nothing', () => {
  const rows: Array<[string, string | undefined, string | undefined]> = [
    ['shop.example.com', undefined, 'shop/shop-tls'],
    ['SHOP.EXAMPLE.COM', undefined, 'shop/shop-tls'],
    ['x.example.com', undefined, 'shop/wild-tls'],
    // The exact host has no TLS, the wildcard certificate covers it.
    ['plain.example.com', undefined, 'shop/wild-tls'],
    ['a.b.example.com', undefined, undefined],
    ['example.com', undefined, undefined],
    ['', undefined, undefined],
    ['shop.example.com', A, 'shop/shop-tls'],
    ['shop.example.com', `::ffff:${A}`, 'shop/shop-tls'],
    // Not served over TLS on this address (nor on '*'): no certificate leaks from another.
    ['shop.example.com', OTHER, undefined],
  ];
  for (const [serverName, address, expected] of rows) {
    assert.equal(
      index.certificateFor(serverName, address)?.id,
      expected,
      `${serverName} ${address}`,
    );
  }
  assert.equal(index.revision, 8);
});

test('building reads no entry of the table; a lookup reads only the host and backend it serves', () => {
  const backends = Array.from({ length: 50 }, (_, i) => backend(`svc-${i}`));
  const t = table(2, {
    backends,
    vhosts: backends.map((b, i) => vhost('*', `h-${i}.example.test`, [route('/', 'Prefix', b.id)])),
  });
  // Sections whose values count their reads, as a dataplane's lazily parsed ones would parse,
  // and that answer whether an entry's text may hold a field, as those do.
  const read: string[] = [];
  const counted = <T extends object>(record: Record<string, T>) =>
    new Proxy(record, {
      get: (target, key) => {
        if (key === ENTRY_TEXT_PROBE)
          return (k: string, needle: string) => JSON.stringify(target[k]).includes(needle);
        if (typeof key === 'string' && Object.hasOwn(target, key)) read.push(key);
        return Reflect.get(target, key);
      },
    });
  const index = new RouteIndex({
    ...t,
    backends: counted(t.backends),
    virtualHosts: counted(t.virtualHosts),
  });
  assert.deepEqual(read, []);
  assert.equal(index.lookup(A, 'h-7.example.test', '/x')?.backend.id, backends[7]?.id);
  assert.deepEqual(read, ['*|h-7.example.test', backends[7]?.id]);
  index.lookup(A, 'h-7.example.test', '/y');
  assert.equal(read.length, 2, 'a host is indexed once');
});

test('patch: an index patched change by change answers as one built afresh (seeded)', () => {
  const random = seededRandom(20_261_207);
  const pick = <T>(items: readonly T[]): T => items[Math.floor(random() * items.length)] as T;
  const addresses = [A, OTHER, '*'];
  const hosts = ['a.example', 'b.example', '*.example', '', 'c.example'];
  const services = ['s0', 's1', 's2', 's3'];
  const certificates = ['shop/c0', 'shop/c1'];
  const paths = ['/', '/x', '/x/y', '/z'];
  const aliasNames = ['q.example', 'r.example', 'a.example', 'c.example'];
  const randomBackend = () =>
    backend(pick(services), 80, [`192.0.2.${1 + Math.floor(random() * 5)}`]);
  const randomHost = (address: string, host: string) =>
    vhost(
      address,
      host,
      Array.from({ length: 1 + Math.floor(random() * 3) }, () =>
        route(pick(paths), pick(['Exact', 'Prefix'] as const), backend(pick(services)).id),
      ),
      {
        ...(random() < 0.3 ? { defaultBackend: backend(pick(services)).id } : {}),
        ...(host !== '' && random() < 0.5 ? { tls: { certificate: pick(certificates) } } : {}),
        // Aliases naming real hosts, each other's and unserved names, so claims come and go.
        ...(random() < 0.4 ? { aliases: [pick(aliasNames), pick(aliasNames)] } : {}),
      },
    );
  // The live table: one object per section, changed in place as a dataplane's is.
  const live = table(1, { backends: services.map((s) => backend(s)) });
  const index = new RouteIndex(live);
  const requests = addresses.flatMap((a) =>
    ['a.example', 'b.example', 'q.example', 'r.example', 'c.example', 'none.test'].flatMap((h) =>
      paths.map((p) => [a === '*' ? '192.0.2.99' : a, h, `${p}/more`] as const),
    ),
  );
  const answer = (idx: RouteIndex) =>
    requests.map(([a, h, p]) => {
      const m = idx.lookup(a, h, p);
      return m && [m.virtualHost.host, m.route?.path, m.backend.id, m.backend.endpoints[0]];
    });
  const certificatesOf = (idx: RouteIndex) =>
    requests.map(([a, h]) => idx.certificateFor(h, a)?.certificatePem.length ?? 0);
  let matched = 0;
  for (let step = 2; step < 400; step++) {
    const changed = {
      virtualHosts: new Set<string>(),
      backends: new Set<string>(),
      certificates: new Set<string>(),
    };
    for (let n = 1 + Math.floor(random() * 3); n > 0; n--) {
      const what = random();
      if (what < 0.45) {
        const [address, host] = [pick(addresses), pick(hosts)];
        const key = `${address}|${host}`;
        if (random() < 0.3) delete live.virtualHosts[key];
        else live.virtualHosts[key] = randomHost(address, host);
        changed.virtualHosts.add(key);
      } else if (what < 0.85) {
        const b = randomBackend();
        if (random() < 0.2) delete live.backends[b.id];
        else live.backends[b.id] = b;
        changed.backends.add(b.id);
      } else {
        const id = pick(certificates);
        if (random() < 0.3) delete live.certificates[id];
        else live.certificates[id] = { ...certificate(id), certificatePem: 'x'.repeat(step) };
        changed.certificates.add(id);
      }
    }
    // Lookups between changes index some hosts, so that patching has indexed entries to drop.
    if (random() < 0.7) answer(index);
    const next = { ...live, revision: step };
    index.patch(next, changed);
    const fresh = new RouteIndex(next);
    const got = answer(index);
    assert.deepEqual(got, answer(fresh), `step ${step}`);
    assert.deepEqual(certificatesOf(index), certificatesOf(fresh), `certificates, step ${step}`);
    assert.equal(index.revision, step);
    matched += got.filter((m) => m !== undefined).length;
  }
  assert.ok(matched > 5_000, `only ${matched} lookups matched`);
});

test('lookup: a route with a split carries it compiled; patching a split backend reindexes', () => {
  const main = backend('main');
  const canary = backend('canary', 80, ['192.0.2.30']);
  const split = {
    rules: [
      {
        source: 'header' as const,
        name: 'x-canary',
        type: 'Exact' as const,
        value: 'always',
        backend: canary.id,
      },
    ],
  };
  const live = table(1, {
    backends: [main, canary],
    vhosts: [
      vhost(A, 'shop.example.com', [
        { ...route('/', 'Prefix', main.id), split },
        route('/plain', 'Prefix', main.id),
      ]),
    ],
  });
  const index = new RouteIndex(live);
  const match = index.lookup(A, 'shop.example.com', '/');
  assert.equal(match?.backend.id, main.id);
  assert.equal(match?.split?.choose({ 'x-canary': 'always' }, () => 0).id, canary.id);
  assert.equal(index.lookup(A, 'shop.example.com', '/plain/x')?.split, undefined);
  live.backends[canary.id] = backend('canary', 80, ['192.0.2.31']);
  index.patch(
    { ...live, revision: 2 },
    {
      virtualHosts: new Set(),
      backends: new Set([canary.id]),
      certificates: new Set(),
    },
  );
  const chosen = index
    .lookup(A, 'shop.example.com', '/')
    ?.split?.choose({ 'x-canary': 'always' }, () => 0);
  assert.equal(chosen?.endpoints[0]?.address, '192.0.2.31');
});

test('server aliases: a host answers to its aliases, after exact hosts and before wildcards', () => {
  const [web, api, wild, other] = ['web', 'api', 'wild', 'other'].map((n) => backend(n));
  const b = (x: typeof web) => (x as { id: string }).id;
  const live = table(1, {
    backends: [web, api, wild, other] as ReturnType<typeof backend>[],
    certificates: [certificate('shop/shop-tls')],
    vhosts: [
      vhost(
        A,
        'shop.example.com',
        [route('/', 'Prefix', b(web)), route('/api', 'Prefix', b(api))],
        {
          tls: { certificate: 'shop/shop-tls' },
          aliases: ['www.example.com', 'other.example.com', 'x.wild.example'],
        },
      ),
      vhost(A, 'other.example.com', [route('/', 'Prefix', b(other))]),
      vhost(A, '*.wild.example', [route('/', 'Prefix', b(wild))]),
    ],
  });
  const index = new RouteIndex(live);
  const served = (host: string, path = '/') => {
    const m = index.lookup(A, host, path);
    return m && [m.virtualHost.host, m.backend.id];
  };
  assert.deepEqual(served('WWW.example.com:80', '/api/x'), ['shop.example.com', b(api)]);
  assert.deepEqual(
    served('other.example.com'),
    ['other.example.com', b(other)],
    'a real host wins',
  );
  assert.deepEqual(
    served('x.wild.example'),
    ['shop.example.com', b(web)],
    'an alias beats a wildcard',
  );
  assert.deepEqual(served('y.wild.example'), ['*.wild.example', b(wild)]);
  assert.equal(
    index.lookup(OTHER, 'www.example.com', '/'),
    undefined,
    'aliases keep to their address',
  );
  assert.equal(index.certificateFor('www.example.com', A)?.id, 'shop/shop-tls', 'SNI of an alias');
  assert.equal(index.certificateFor('other.example.com', A), undefined);

  // The host goes: its aliases go with it; it comes back without them: they stay gone.
  const changed = (key: string) => ({
    virtualHosts: new Set([key]),
    backends: new Set<string>(),
    certificates: new Set<string>(),
  });
  const key = `${A}|shop.example.com`;
  const kept = live.virtualHosts[key] as VirtualHost;
  delete live.virtualHosts[key];
  index.patch({ ...live, revision: 2 }, changed(key));
  assert.equal(served('www.example.com'), undefined);
  live.virtualHosts[key] = { ...kept, aliases: ['new.example.com'] };
  index.patch({ ...live, revision: 3 }, changed(key));
  assert.equal(served('www.example.com'), undefined);
  assert.deepEqual(served('new.example.com'), ['shop.example.com', b(web)]);
});

test('server aliases: of two hosts claiming one alias the host sorting first wins, in any order', () => {
  const [one, two] = ['one', 'two'].map((n) => backend(n)) as ReturnType<typeof backend>[];
  const hostOf = (host: string, id: string) =>
    vhost(A, host, [route('/', 'Prefix', id)], { aliases: ['shared.example'] });
  const first = hostOf('a.example', (one as { id: string }).id);
  const second = hostOf('b.example', (two as { id: string }).id);
  for (const order of [
    [first, second],
    [second, first],
  ]) {
    const live = table(1, { backends: [one, two] as ReturnType<typeof backend>[] });
    const index = new RouteIndex(live);
    let revision = 1;
    const add = (v: VirtualHost) => {
      const key = `${v.address}|${v.host}`;
      live.virtualHosts[key] = v;
      index.patch(
        { ...live, revision: ++revision },
        { virtualHosts: new Set([key]), backends: new Set(), certificates: new Set() },
      );
    };
    for (const v of order) add(v);
    assert.equal(index.lookup(A, 'shared.example', '/')?.virtualHost.host, 'a.example');
    delete live.virtualHosts[`${A}|a.example`];
    index.patch(
      { ...live, revision: ++revision },
      { virtualHosts: new Set([`${A}|a.example`]), backends: new Set(), certificates: new Set() },
    );
    assert.equal(index.lookup(A, 'shared.example', '/')?.virtualHost.host, 'b.example');
  }
});

test('server aliases: only entries whose text may hold aliases are read when placing', () => {
  const live = table(1, {
    backends: [backend('web')],
    vhosts: [
      vhost(A, 'plain.example', [route('/', 'Prefix', backend('web').id)]),
      vhost(A, 'aliased.example', [route('/', 'Prefix', backend('web').id)], {
        aliases: ['alias.example'],
      }),
    ],
  });
  const read: string[] = [];
  const virtualHosts = new Proxy(live.virtualHosts, {
    get: (target, key, receiver) => {
      if (key === ENTRY_TEXT_PROBE)
        return (k: string, needle: string) => JSON.stringify(target[k]).includes(needle);
      if (typeof key === 'string') read.push(key);
      return Reflect.get(target, key, receiver);
    },
  });
  const index = new RouteIndex({ ...live, virtualHosts });
  assert.deepEqual(read, [`${A}|aliased.example`]);
  assert.equal(index.lookup(A, 'alias.example', '/')?.virtualHost.host, 'aliased.example');
});

test('lookup: a route with errors carries its error backend; patching that backend reindexes', () => {
  const main = backend('main');
  const errors = backend('errors', 80, ['192.0.2.40']);
  const live = table(1, {
    backends: [main, errors],
    vhosts: [
      vhost(A, 'shop.example.com', [
        { ...route('/', 'Prefix', main.id), errors: { backend: errors.id, codes: [404] } },
        route('/plain', 'Prefix', main.id),
      ]),
    ],
  });
  const index = new RouteIndex(live);
  assert.equal(index.lookup(A, 'shop.example.com', '/')?.errorBackend?.id, errors.id);
  assert.equal(index.lookup(A, 'shop.example.com', '/plain')?.errorBackend, undefined);
  live.backends[errors.id] = backend('errors', 80, ['192.0.2.41']);
  index.patch(
    { ...live, revision: 2 },
    { virtualHosts: new Set(), backends: new Set([errors.id]), certificates: new Set() },
  );
  const patched = index.lookup(A, 'shop.example.com', '/')?.errorBackend;
  assert.equal(patched?.endpoints[0]?.address, '192.0.2.41');
});
