import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { V1EndpointSlice, V1Ingress, V1Service } from '@kubernetes/client-node';
import type { Backend, Endpoint, VirtualHost } from '@pier/shared';
import { DEFAULT_HEALTH_CHECK, RouteIndex, validateRouteTable } from '@pier/shared';
import {
  type CompileInput,
  type CompileOutput,
  type CompileProblem,
  compileRoutes,
} from './route-compiler.ts';
import {
  A_CERT,
  A_KEY,
  ADDRESS,
  B_CERT,
  B_KEY,
  backend,
  CERT_NOT_AFTER,
  compileInput,
  fakeSealer,
  ingress,
  NS,
  OTHER_KEY,
  path,
  policy,
  rule,
  service,
  slice,
  tlsSecret,
} from './route-fixtures.test.ts';

/** Compiles and checks that the table validates whole: nothing the dataplane would drop. */
function compile(parts: Partial<CompileInput>): CompileOutput {
  const out = compileRoutes(compileInput(parts));
  const checked = validateRouteTable({ revision: 1, ...out.table });
  assert.deepEqual(checked.problems, [], 'the compiled table validates with no problems');
  assert.deepEqual(checked.table, { revision: 1, ...out.table }, 'validation keeps everything');
  return out;
}

const vh = (out: CompileOutput, host: string, address = ADDRESS): VirtualHost | undefined =>
  out.table.virtualHosts[`${address}|${host}`];

const reasons = (out: CompileOutput): string[][] =>
  out.problems.map((p) => [p.object.kind, `${p.object.namespace}/${p.object.name}`, p.reason]);

const ready = (address: string, port = 8080): Endpoint => ({
  address,
  port,
  ready: true,
  serving: true,
  terminating: false,
});

/** A Service `name` with port http 80 → 8080 and one ready endpoint. */
function app(name: string, address: string, namespace = NS): [V1Service, V1EndpointSlice] {
  return [
    service(name, undefined, { namespace }),
    slice(`${name}-abc`, name, [{ name: 'http', port: 8080 }], [[address]], { namespace }),
  ];
}

function world(...apps: Array<[V1Service, V1EndpointSlice]>) {
  return { services: apps.map((a) => a[0]), endpointSlices: apps.map((a) => a[1]) };
}

test('compile: hosts, paths and the default backend of one Ingress', () => {
  const out = compile({
    ingresses: [
      ingress('shop', {
        rules: [
          rule('a.example.test', path('/', 'web', 80), path('/api', 'api', 'http', 'Exact')),
          rule(undefined, path('/status', 'web', 80)),
        ],
        defaultBackend: backend('fallback', 80),
      }),
    ],
    ...world(app('web', '192.0.2.1'), app('api', '192.0.2.2'), app('fallback', '192.0.2.3')),
  });
  const source = { namespace: NS, name: 'shop' };
  assert.deepEqual(out.table.virtualHosts, {
    [`${ADDRESS}|`]: {
      address: ADDRESS,
      host: '',
      routes: [{ path: '/status', pathType: 'Prefix', backend: 'shop/web:80', source }],
      defaultBackend: 'shop/fallback:80',
    },
    [`${ADDRESS}|a.example.test`]: {
      address: ADDRESS,
      host: 'a.example.test',
      routes: [
        { path: '/', pathType: 'Prefix', backend: 'shop/web:80', source },
        { path: '/api', pathType: 'Exact', backend: 'shop/api:http', source },
      ],
    },
  });
  assert.deepEqual(Object.keys(out.table.backends), [
    'shop/api:http',
    'shop/fallback:80',
    'shop/web:80',
  ]);
  assert.deepEqual(out.table.backends['shop/web:80'], {
    id: 'shop/web:80',
    service: { namespace: NS, name: 'web' },
    servicePort: 80,
    endpoints: [ready('192.0.2.1')],
    healthCheck: structuredClone(DEFAULT_HEALTH_CHECK),
    balancing: { algorithm: 'p2c' },
  } satisfies Backend);
  assert.deepEqual(out.table.backends['shop/api:http']?.endpoints, [ready('192.0.2.2')]);
  assert.deepEqual(out.table.certificates, {});
  assert.deepEqual(out.problems, []);
  assert.deepEqual(out.servedIngresses, ['shop/shop']);

  // What the dataplane will do with it.
  const index = new RouteIndex({ revision: 1, ...out.table });
  const served = (host: string, p: string) => index.lookup(ADDRESS, host, p)?.backend.id;
  assert.equal(served('a.example.test', '/x'), 'shop/web:80');
  assert.equal(served('a.example.test', '/api'), 'shop/api:http');
  assert.equal(served('other.example.test', '/status/1'), 'shop/web:80');
  assert.equal(served('other.example.test', '/nothing'), 'shop/fallback:80');
});

test('compile: wildcard hosts become their own virtual host and match one label', () => {
  const out = compile({
    ingresses: [ingress('wild', { rules: [rule('*.example.test', path('/', 'web', 80))] })],
    ...world(app('web', '192.0.2.1')),
  });
  assert.deepEqual(Object.keys(out.table.virtualHosts), [`${ADDRESS}|*.example.test`]);
  const index = new RouteIndex({ revision: 1, ...out.table });
  assert.equal(index.lookup(ADDRESS, 'a.example.test', '/')?.backend.id, 'shop/web:80');
  assert.equal(index.lookup(ADDRESS, 'b.a.example.test', '/'), undefined);
});

test('compile: ImplementationSpecific without a path serves everything, as /', () => {
  const out = compile({
    ingresses: [
      ingress('is', {
        rules: [
          rule(
            'a.example.test',
            path(undefined, 'web', 80, 'ImplementationSpecific'),
            path('/x', 'web', 80, 'ImplementationSpecific'),
          ),
        ],
      }),
    ],
    ...world(app('web', '192.0.2.1')),
  });
  assert.deepEqual(
    vh(out, 'a.example.test')?.routes.map((r) => [r.pathType, r.path]),
    [
      ['ImplementationSpecific', '/'],
      ['ImplementationSpecific', '/x'],
    ],
  );
});

test('compile: Ingresses on one host merge, oldest first, whatever the input order', () => {
  const older = ingress('z-older', {
    age: 1,
    rules: [rule('a.example.test', path('/a', 'web', 80))],
  });
  const newer = ingress('a-newer', {
    age: 2,
    rules: [rule('a.example.test', path('/b', 'api', 80))],
  });
  for (const ingresses of [
    [older, newer],
    [newer, older],
  ]) {
    const out = compile({ ingresses, ...world(app('web', '192.0.2.1'), app('api', '192.0.2.2')) });
    assert.deepEqual(
      vh(out, 'a.example.test')?.routes.map((r) => [r.path, r.source.name]),
      [
        ['/a', 'z-older'],
        ['/b', 'a-newer'],
      ],
    );
    assert.deepEqual(out.servedIngresses, ['shop/a-newer', 'shop/z-older']);
    assert.deepEqual(out.problems, []);
  }
});

const conflicts: Array<[string, [string, string], [string, string], boolean]> = [
  ['same Prefix path', ['Prefix', '/app'], ['Prefix', '/app'], true],
  ['a trailing slash does not count', ['Prefix', '/app'], ['Prefix', '/app/'], true],
  [
    'ImplementationSpecific is Prefix',
    ['Prefix', '/app'],
    ['ImplementationSpecific', '/app'],
    true,
  ],
  ['same Exact path', ['Exact', '/app'], ['Exact', '/app'], true],
  ['Exact and Prefix do not conflict', ['Exact', '/app'], ['Prefix', '/app'], false],
  ['Exact paths differ by a slash', ['Exact', '/app'], ['Exact', '/app/'], false],
];

for (const [name, [oldType, oldPath], [newType, newPath], conflict] of conflicts) {
  test(`compile: route conflict: ${name}`, () => {
    const winner = ingress('winner', {
      age: 1,
      rules: [rule('a.example.test', path(oldPath, 'web', 80, oldType))],
    });
    const loser = ingress('loser', {
      namespace: 'team',
      age: 2,
      rules: [rule('a.example.test', path(newPath, 'api', 80, newType))],
    });
    const services = world(app('web', '192.0.2.1'), app('api', '192.0.2.2', 'team'));
    const alone = compile({ ingresses: [winner], ...services });
    const out = compile({ ingresses: [loser, winner], ...services });
    const routes = vh(out, 'a.example.test')?.routes ?? [];
    if (!conflict) {
      assert.equal(routes.length, 2);
      assert.deepEqual(out.problems, []);
      return;
    }
    assert.deepEqual(vh(out, 'a.example.test'), vh(alone, 'a.example.test'), 'winner unchanged');
    assert.deepEqual(out.table.backends, alone.table.backends, 'loser backend unused');
    assert.deepEqual(reasons(out), [['Ingress', 'team/loser', 'RouteConflict']]);
    const message = out.problems[0]?.message ?? '';
    assert.match(message, /shop\/winner/);
    assert.match(message, /a\.example\.test/);
    assert.ok(message.includes(`'${newPath}'`));
    assert.deepEqual(out.servedIngresses, ['shop/winner'], 'the loser contributes nothing');
  });
}

test('compile: the oldest wins by creationTimestamp first, then namespace/name', () => {
  const make = (name: string, namespace: string, age: number) =>
    ingress(name, { namespace, age, rules: [rule('a.example.test', path('/', 'web', 80))] });
  const services = world(app('web', '192.0.2.1'), app('web', '192.0.2.2', 'a'));
  const byTime = compile({ ingresses: [make('a', 'a', 2), make('z', NS, 1)], ...services });
  assert.equal(vh(byTime, 'a.example.test')?.routes[0]?.source.name, 'z');
  const byName = compile({ ingresses: [make('z', NS, 1), make('a', 'a', 1)], ...services });
  assert.equal(vh(byName, 'a.example.test')?.routes[0]?.source.name, 'a');
});

test('compile: a duplicate path inside one Ingress keeps the first', () => {
  const out = compile({
    ingresses: [
      ingress('dup', {
        rules: [
          rule('a.example.test', path('/x', 'web', 80)),
          rule('a.example.test', path('/x', 'api', 80)),
        ],
      }),
    ],
    ...world(app('web', '192.0.2.1'), app('api', '192.0.2.2')),
  });
  assert.deepEqual(
    vh(out, 'a.example.test')?.routes.map((r) => r.backend),
    ['shop/web:80'],
  );
  assert.deepEqual(reasons(out), [['Ingress', 'shop/dup', 'RouteConflict']]);
  assert.match(out.problems[0]?.message ?? '', /earlier entry of this Ingress/);
});

test('compile: two default backends on one address: the oldest keeps it', () => {
  const out = compile({
    ingresses: [
      ingress('second', { age: 2, defaultBackend: backend('api', 80) }),
      ingress('first', { age: 1, defaultBackend: backend('web', 80) }),
    ],
    ...world(app('web', '192.0.2.1'), app('api', '192.0.2.2')),
  });
  assert.equal(vh(out, '')?.defaultBackend, 'shop/web:80');
  assert.deepEqual(Object.keys(out.table.backends), ['shop/web:80']);
  assert.deepEqual(reasons(out), [['Ingress', 'shop/second', 'DefaultBackendConflict']]);
  assert.match(out.problems[0]?.message ?? '', /shop\/first/);
  assert.deepEqual(out.servedIngresses, ['shop/first']);
});

test('compile: endpoints by readiness: ready and draining kept, the rest left out', () => {
  const out = compile({
    ingresses: [ingress('i', { rules: [rule('a.example.test', path('/', 'web', 80))] })],
    services: [service('web')],
    endpointSlices: [
      slice(
        'web-1',
        'web',
        [{ name: 'http', port: 8080 }],
        [
          ['192.0.2.1'],
          ['192.0.2.2', { ready: false, serving: true, terminating: true }],
          ['192.0.2.3', { ready: false, serving: false, terminating: true }],
          ['192.0.2.4', { ready: false, serving: false }],
        ],
      ),
    ],
  });
  assert.deepEqual(out.table.backends['shop/web:80']?.endpoints, [
    ready('192.0.2.1'),
    { address: '192.0.2.2', port: 8080, ready: false, serving: true, terminating: true },
  ]);
});

test('compile: named target ports resolve per slice; hand-made slices; IPv6', () => {
  const out = compile({
    ingresses: [
      ingress('i', {
        rules: [rule('a.example.test', path('/', 'web', 'web'), path('/admin', 'web', 9000))],
      }),
    ],
    services: [
      service('web', [
        { name: 'web', port: 80, targetPort: 'http' },
        { name: 'admin', port: 9000, targetPort: 'admin' },
      ]),
    ],
    endpointSlices: [
      slice(
        'web-v4',
        'web',
        [
          { name: 'web', port: 8080 },
          { name: 'admin', port: 9901 },
        ],
        [['192.0.2.1', { nodeName: 'n1', zone: 'z1', pod: 'web-1' }]],
      ),
      slice('by-hand', 'web', [{ name: 'web', port: 8081 }], [['198.51.100.5']]),
      slice('web-v6', 'web', [{ name: 'web', port: 8080 }], [['2001:DB8::0:7']], {
        addressType: 'IPv6',
      }),
    ],
  });
  assert.deepEqual(out.table.backends['shop/web:web']?.endpoints, [
    {
      ...ready('192.0.2.1'),
      nodeName: 'n1',
      zone: 'z1',
      targetRef: { namespace: NS, name: 'web-1' },
    },
    ready('198.51.100.5', 8081),
    ready('2001:db8::7'),
  ]);
  assert.deepEqual(out.table.backends['shop/web:9000']?.endpoints, [
    {
      ...ready('192.0.2.1', 9901),
      nodeName: 'n1',
      zone: 'z1',
      targetRef: { namespace: NS, name: 'web-1' },
    },
  ]);
});

test('compile: a missing Service or port keeps the route on an empty backend (503)', () => {
  const out = compile({
    ingresses: [
      ingress('i', {
        rules: [
          rule('a.example.test', path('/gone', 'gone', 80), path('/port', 'web', 81)),
          rule('b.example.test', path('/gone', 'gone', 80)),
        ],
      }),
    ],
    ...world(app('web', '192.0.2.1')),
  });
  assert.deepEqual(
    vh(out, 'a.example.test')?.routes.map((r) => r.backend),
    ['shop/gone:80', 'shop/web:81'],
  );
  assert.deepEqual(out.table.backends['shop/gone:80']?.endpoints, []);
  assert.deepEqual(out.table.backends['shop/web:81']?.endpoints, []);
  assert.deepEqual(
    reasons(out),
    [
      ['Ingress', 'shop/i', 'ServiceNotFound'],
      ['Ingress', 'shop/i', 'ServicePortNotFound'],
    ],
    'once per Service, not per path',
  );
  assert.deepEqual(out.servedIngresses, ['shop/i']);
  const index = new RouteIndex({ revision: 1, ...out.table });
  assert.deepEqual(index.lookup(ADDRESS, 'a.example.test', '/gone')?.backend.endpoints, []);
});

test('compile: resource backends, ExternalName Services and invalid rules drop only their path', () => {
  const out = compile({
    ingresses: [
      ingress('i', {
        rules: [
          rule(
            'a.example.test',
            {
              pathType: 'Prefix',
              path: '/bucket',
              backend: { resource: { kind: 'Bucket', name: 'b' } },
            },
            path('/ext', 'ext', 80),
            path('relative', 'web', 80),
            path('/bad', 'web', 80, 'Regex'),
            path('/ok', 'web', 80),
          ),
          rule('Upper.example.test', path('/', 'web', 80)),
          rule('192.0.2.9', path('/', 'web', 80)),
        ],
      }),
    ],
    services: [
      ...world(app('web', '192.0.2.1')).services,
      service('ext', [{ port: 80 }], { type: 'ExternalName' }),
    ],
    endpointSlices: world(app('web', '192.0.2.1')).endpointSlices,
  });
  assert.deepEqual(Object.keys(out.table.virtualHosts), [`${ADDRESS}|a.example.test`]);
  assert.deepEqual(
    vh(out, 'a.example.test')?.routes.map((r) => r.path),
    ['/ok'],
  );
  assert.deepEqual(
    out.problems.map((p) => p.reason),
    [
      'InvalidRule',
      'InvalidRule',
      'InvalidRule',
      'InvalidRule',
      'UnsupportedBackend',
      'UnsupportedBackend',
    ],
  );
  for (const p of out.problems) assert.match(p.message, /spec\.rules\[\d\]/, 'names the field');
});

test('compile: TLS from a valid Secret: certificate with sealed key, public chain only', () => {
  const sealer = fakeSealer();
  const out = compile({
    ingresses: [
      ingress('i', {
        rules: [
          rule('a.example.test', path('/', 'web', 80)),
          rule('plain.example.test', path('/', 'web', 80)),
        ],
        tls: [{ hosts: ['a.example.test'], secretName: 'a-tls' }],
      }),
    ],
    secrets: [
      tlsSecret('a-tls', { crt: A_CERT, key: A_KEY }),
      tlsSecret('unused', { crt: B_CERT, key: B_KEY }),
    ],
    sealKey: sealer.sealKey,
    ...world(app('web', '192.0.2.1')),
  });
  assert.deepEqual(vh(out, 'a.example.test')?.tls, { certificate: 'shop/a-tls' });
  assert.equal(vh(out, 'plain.example.test')?.tls, undefined);
  assert.deepEqual(Object.keys(out.table.certificates), ['shop/a-tls'], 'only what is used');
  const certificate = out.table.certificates['shop/a-tls'];
  assert.deepEqual(sealer.calls, [['shop/a-tls', A_KEY]]);
  assert.deepEqual(certificate, {
    id: 'shop/a-tls',
    secret: { namespace: NS, name: 'a-tls' },
    certificatePem: A_CERT,
    key: fakeSealer().sealKey('shop/a-tls', A_KEY),
    notAfter: CERT_NOT_AFTER,
  });
  assert.doesNotMatch(certificate?.certificatePem ?? '', /PRIVATE KEY/);
  assert.deepEqual(out.problems, []);
  const index = new RouteIndex({ revision: 1, ...out.table });
  assert.equal(index.certificateFor('a.example.test', ADDRESS)?.id, 'shop/a-tls');
});

test('compile: a key pasted into tls.crt never reaches the table', () => {
  const out = compile({
    ingresses: [
      ingress('i', {
        rules: [rule('a.example.test', path('/', 'web', 80))],
        tls: [{ hosts: ['a.example.test'], secretName: 'a-tls' }],
      }),
    ],
    secrets: [tlsSecret('a-tls', { crt: `${A_CERT}${A_KEY}`, key: A_KEY })],
    ...world(app('web', '192.0.2.1')),
  });
  assert.equal(out.table.certificates['shop/a-tls']?.certificatePem, A_CERT);
});

const badTls: Array<[string, ReturnType<typeof tlsSecret>[], string]> = [
  ['missing Secret', [], 'TLSSecretNotFound'],
  [
    'Opaque Secret',
    [tlsSecret('a-tls', { crt: A_CERT, key: A_KEY }, { type: 'Opaque' })],
    'TLSSecretInvalid',
  ],
  ['no tls.key', [tlsSecret('a-tls', { crt: A_CERT })], 'TLSSecretInvalid'],
  [
    'unparsable certificate',
    [
      tlsSecret('a-tls', {
        crt: '-----BEGIN CERTIFICATE-----\nAA==\n-----END CERTIFICATE-----',
        key: A_KEY,
      }),
    ],
    'TLSSecretInvalid',
  ],
  [
    'key of another certificate',
    [tlsSecret('a-tls', { crt: A_CERT, key: OTHER_KEY })],
    'TLSSecretInvalid',
  ],
];

for (const [name, secrets, reason] of badTls) {
  test(`compile: TLS ${name}: routes kept, no TLS, ${reason}`, () => {
    const sealer = fakeSealer();
    const out = compile({
      ingresses: [
        ingress('i', {
          rules: [rule('a.example.test', path('/', 'web', 80))],
          tls: [{ hosts: ['a.example.test'], secretName: 'a-tls' }],
        }),
      ],
      secrets,
      sealKey: sealer.sealKey,
      ...world(app('web', '192.0.2.1')),
    });
    assert.equal(vh(out, 'a.example.test')?.routes.length, 1);
    assert.equal(vh(out, 'a.example.test')?.tls, undefined);
    assert.deepEqual(out.table.certificates, {});
    assert.deepEqual(sealer.calls, [], 'nothing sealed');
    assert.deepEqual(reasons(out), [['Ingress', 'shop/i', reason]]);
    assert.match(out.problems[0]?.message ?? '', /shop\/a-tls/);
    assert.deepEqual(out.servedIngresses, ['shop/i']);
  });
}

test('compile: two Ingresses give one host different Secrets: the older wins', () => {
  const make = (name: string, age: number, secretName: string): V1Ingress =>
    ingress(name, {
      age,
      rules: [rule('a.example.test', path(`/${name}`, 'web', 80))],
      tls: [{ hosts: ['a.example.test'], secretName }],
    });
  const out = compile({
    ingresses: [make('newer', 2, 'b-tls'), make('older', 1, 'a-tls'), make('same', 3, 'a-tls')],
    secrets: [
      tlsSecret('a-tls', { crt: A_CERT, key: A_KEY }),
      tlsSecret('b-tls', { crt: B_CERT, key: B_KEY }),
    ],
    ...world(app('web', '192.0.2.1')),
  });
  assert.deepEqual(vh(out, 'a.example.test')?.tls, { certificate: 'shop/a-tls' });
  assert.deepEqual(Object.keys(out.table.certificates), ['shop/a-tls']);
  assert.deepEqual(reasons(out), [['Ingress', 'shop/newer', 'TLSConflict']]);
  assert.match(out.problems[0]?.message ?? '', /shop\/older/);
  assert.equal(vh(out, 'a.example.test')?.routes.length, 3, 'routes of all three stay');
});

test('compile: an older Ingress with a broken Secret does not take TLS from a newer valid one', () => {
  const out = compile({
    ingresses: [
      ingress('older', {
        age: 1,
        rules: [rule('a.example.test', path('/o', 'web', 80))],
        tls: [{ hosts: ['a.example.test'], secretName: 'gone' }],
      }),
      ingress('newer', {
        age: 2,
        rules: [rule('a.example.test', path('/n', 'web', 80))],
        tls: [{ hosts: ['a.example.test'], secretName: 'a-tls' }],
      }),
    ],
    secrets: [tlsSecret('a-tls', { crt: A_CERT, key: A_KEY })],
    ...world(app('web', '192.0.2.1')),
  });
  assert.deepEqual(vh(out, 'a.example.test')?.tls, { certificate: 'shop/a-tls' });
  assert.deepEqual(reasons(out), [['Ingress', 'shop/older', 'TLSSecretNotFound']]);
});

test('compile: TLS applies only to hosts of the Ingress’s own rules; hostless entries are reported', () => {
  const out = compile({
    ingresses: [
      ingress('owner', { age: 1, rules: [rule('b.example.test', path('/', 'web', 80))] }),
      ingress('i', {
        age: 2,
        rules: [rule('a.example.test', path('/', 'web', 80))],
        tls: [
          { hosts: ['b.example.test', 'c.example.test'], secretName: 'b-tls' },
          { secretName: 'a-tls' },
        ],
      }),
    ],
    secrets: [
      tlsSecret('a-tls', { crt: A_CERT, key: A_KEY }),
      tlsSecret('b-tls', { crt: B_CERT, key: B_KEY }),
    ],
    ...world(app('web', '192.0.2.1')),
  });
  assert.equal(vh(out, 'b.example.test')?.tls, undefined, 'not the other Ingress’s host');
  assert.equal(vh(out, 'c.example.test'), undefined, 'no host from a TLS entry alone');
  assert.deepEqual(out.table.certificates, {});
  assert.deepEqual(reasons(out), [['Ingress', 'shop/i', 'InvalidRule']]);
  assert.match(out.problems[0]?.message ?? '', /spec\.tls\[1\] lists no hosts/);
});

test('compile: a key that cannot be sealed drops that certificate only', () => {
  const out = compile({
    ingresses: [
      ingress('i', {
        rules: [
          rule('a.example.test', path('/', 'web', 80)),
          rule('b.example.test', path('/', 'web', 80)),
        ],
        tls: [
          { hosts: ['a.example.test'], secretName: 'a-tls' },
          { hosts: ['b.example.test'], secretName: 'b-tls' },
        ],
      }),
    ],
    secrets: [
      tlsSecret('a-tls', { crt: A_CERT, key: A_KEY }),
      tlsSecret('b-tls', { crt: B_CERT, key: B_KEY }),
    ],
    sealKey: (id, pem) => {
      if (id === 'shop/a-tls') throw new Error('no current key');
      return fakeSealer().sealKey(id, pem);
    },
    ...world(app('web', '192.0.2.1')),
  });
  assert.equal(vh(out, 'a.example.test')?.tls, undefined);
  assert.deepEqual(vh(out, 'b.example.test')?.tls, { certificate: 'shop/b-tls' });
  assert.deepEqual(reasons(out), [['Secret', 'shop/a-tls', 'KeySealFailed']]);
});

test('compile: health policies apply per Service; statuses and problems for the rest', () => {
  const out = compile({
    ingresses: [
      ingress('i', {
        rules: [
          rule(
            'a.example.test',
            path('/', 'web', 80),
            path('/x', 'web', 'http'),
            path('/api', 'api', 80),
          ),
        ],
      }),
    ],
    policies: [
      policy('web-hc', 'web', { http: { path: '/healthz' }, interval: '10s' }, { age: 1 }),
      policy('web-hc-2', 'web', { interval: '20s' }, { age: 2 }),
      policy('api-bad', 'api', { timeout: 'soon' }),
      policy('ghost', 'gone', {}),
    ],
    ...world(app('web', '192.0.2.1'), app('api', '192.0.2.2')),
  });
  for (const id of ['shop/web:80', 'shop/web:http']) {
    const hc = out.table.backends[id]?.healthCheck;
    assert.deepEqual(hc?.policy, { namespace: NS, name: 'web-hc' });
    assert.equal(hc?.http.path, '/healthz');
    assert.equal(hc?.intervalMs, 10_000);
    assert.equal(hc?.timeoutMs, DEFAULT_HEALTH_CHECK.timeoutMs);
  }
  assert.deepEqual(
    out.table.backends['shop/api:80']?.healthCheck,
    structuredClone(DEFAULT_HEALTH_CHECK),
  );
  assert.deepEqual(
    out.policyStatuses.map((s) => [s.name, s.accepted.reason, s.resolvedRefs.reason]),
    [
      ['api-bad', 'Invalid', 'ResolvedRefs'],
      ['ghost', 'Accepted', 'ServiceNotFound'],
      ['web-hc', 'Accepted', 'ResolvedRefs'],
      ['web-hc-2', 'Conflicted', 'ResolvedRefs'],
    ],
  );
  assert.deepEqual(reasons(out), [
    ['HealthCheckPolicy', 'shop/api-bad', 'Invalid'],
    ['HealthCheckPolicy', 'shop/ghost', 'ServiceNotFound'],
    ['HealthCheckPolicy', 'shop/web-hc-2', 'Conflicted'],
  ]);
  assert.match(out.problems[0]?.message ?? '', /spec\.timeout/);
});

test('compile: a custom default health check applies where no policy does', () => {
  const defaultHealthCheck = { ...structuredClone(DEFAULT_HEALTH_CHECK), intervalMs: 7_000 };
  const out = compile({
    ingresses: [ingress('i', { rules: [rule('a.example.test', path('/', 'web', 80))] })],
    defaultHealthCheck,
    ...world(app('web', '192.0.2.1')),
  });
  assert.deepEqual(out.table.backends['shop/web:80']?.healthCheck, defaultHealthCheck);
});

test('compile: balancing annotations apply to the Ingress’s backends; the oldest wins a conflict', () => {
  const annotated = (name: string, age: number, annotations: Record<string, string>) =>
    ingress(name, {
      age,
      annotations,
      rules: [rule(`${name}.example.test`, path('/', 'web', 80), path('/own', name, 80))],
    });
  const out = compile({
    ingresses: [
      annotated('plain', 0, {}),
      annotated('rr', 1, {
        'pier.dev/load-balance': 'round-robin',
        'pier.dev/affinity': 'cookie',
        'pier.dev/affinity-cookie-ttl': '60',
      }),
      annotated('p2c', 2, { 'pier.dev/load-balance': 'p2c' }),
      annotated('bad', 3, { 'pier.dev/load-balance': 'fastest' }),
    ],
    ...world(
      app('web', '192.0.2.1'),
      app('plain', '192.0.2.2'),
      app('rr', '192.0.2.3'),
      app('p2c', '192.0.2.4'),
      app('bad', '192.0.2.5'),
    ),
  });
  const rr = {
    algorithm: 'round-robin',
    affinity: { cookieName: 'pier-affinity', ttlSeconds: 60 },
  };
  assert.deepEqual(
    out.table.backends['shop/web:80']?.balancing,
    rr,
    'shared: the oldest that asks',
  );
  assert.deepEqual(out.table.backends['shop/rr:80']?.balancing, rr);
  assert.deepEqual(out.table.backends['shop/plain:80']?.balancing, { algorithm: 'p2c' });
  assert.deepEqual(out.table.backends['shop/bad:80']?.balancing, { algorithm: 'p2c' });
  assert.deepEqual(reasons(out), [
    ['Ingress', 'shop/bad', 'BackendSettingsConflict'],
    ['Ingress', 'shop/bad', 'InvalidAnnotation'],
    ['Ingress', 'shop/p2c', 'BackendSettingsConflict'],
  ]);
  assert.match(out.problems[2]?.message ?? '', /shop\/web:80.*shop\/rr/);
});

test('compile: backend-protocol HTTPS makes the backend speak TLS, its health check too; the oldest user decides', () => {
  const https = { 'nginx.ingress.kubernetes.io/backend-protocol': 'HTTPS' };
  const out = compile({
    ingresses: [
      ingress('secure', {
        age: 0,
        annotations: https,
        rules: [rule('s.example.test', path('/', 'api', 80))],
      }),
      ingress('plain', {
        age: 1,
        rules: [rule('p.example.test', path('/', 'api', 80), path('/web', 'web', 80))],
      }),
    ],
    ...world(app('api', '192.0.2.1'), app('web', '192.0.2.2')),
  });
  const api = out.table.backends['shop/api:80'];
  assert.equal(api?.protocol, 'https');
  assert.equal(api?.healthCheck.http.tls, true);
  const web = out.table.backends['shop/web:80'];
  assert.equal(web?.protocol, undefined);
  assert.equal(web?.healthCheck.http.tls, undefined);
  assert.deepEqual(reasons(out), [['Ingress', 'shop/plain', 'BackendSettingsConflict']]);
  assert.match(
    out.problems[0]?.message ?? '',
    /shop\/api:80 speaks HTTPS as the older Ingress shop\/secure says/,
  );
});

test('compile: an Ingress without addresses contributes nothing, not even problems', () => {
  const unserved = ingress('unserved', {
    rules: [rule('a.example.test', path('/', 'gone', 80)), rule('BAD', path('/', 'web', 80))],
    defaultBackend: backend('web', 80),
    tls: [{ hosts: ['a.example.test'], secretName: 'missing' }],
  });
  const out = compile({
    ingresses: [unserved],
    addressesOf: () => [],
    ...world(app('web', '192.0.2.1')),
  });
  assert.deepEqual(out, {
    table: { virtualHosts: {}, backends: {}, certificates: {} },
    problems: [],
    policyStatuses: [],
    servedIngresses: [],
  });
});

test('compile: every address of an Ingress gets its virtual hosts; addresses are canonicalised', () => {
  const out = compile({
    ingresses: [
      ingress('dual', {
        rules: [rule('a.example.test', path('/', 'web', 80))],
        tls: [{ hosts: ['a.example.test'], secretName: 'a-tls' }],
      }),
      ingress('v4only', { age: 1, rules: [rule('a.example.test', path('/', 'api', 80))] }),
    ],
    addressesOf: (i) =>
      i.metadata?.name === 'dual'
        ? ['203.0.113.10', '2001:DB8::10', '2001:db8::10']
        : ['203.0.113.10'],
    secrets: [tlsSecret('a-tls', { crt: A_CERT, key: A_KEY })],
    ...world(app('web', '192.0.2.1'), app('api', '192.0.2.2')),
  });
  assert.deepEqual(Object.keys(out.table.virtualHosts), [
    '2001:db8::10|a.example.test',
    '203.0.113.10|a.example.test',
  ]);
  for (const vhost of Object.values(out.table.virtualHosts)) {
    assert.deepEqual(vhost.tls, { certificate: 'shop/a-tls' });
    assert.equal(vhost.routes[0]?.backend, 'shop/web:80');
  }
  assert.deepEqual(reasons(out), [['Ingress', 'shop/v4only', 'RouteConflict']], 'reported once');
});

/** A world with a bit of everything, for determinism checks. */
function kitchenSink(): CompileInput {
  return compileInput({
    ingresses: [
      ingress('a', {
        age: 3,
        rules: [rule('a.example.test', path('/', 'web', 80), path('/api', 'api', 'http', 'Exact'))],
        tls: [{ hosts: ['a.example.test'], secretName: 'a-tls' }],
        annotations: { 'pier.dev/load-balance': 'round-robin' },
      }),
      ingress('b', {
        age: 1,
        rules: [rule('a.example.test', path('/', 'api', 80))],
        defaultBackend: backend('web', 80),
      }),
      ingress('c', {
        age: 1,
        namespace: 'other',
        rules: [rule('*.example.test', path('/', 'gone', 80))],
        tls: [{ hosts: ['*.example.test'], secretName: 'nope' }],
      }),
      ingress('d', {
        age: 2,
        defaultBackend: backend('api', 80),
        annotations: { 'pier.dev/load-balance': 'p2c' },
      }),
    ],
    services: [service('web'), service('api'), service('web', undefined, { namespace: 'other' })],
    endpointSlices: [
      slice(
        'web-1',
        'web',
        [{ name: 'http', port: 8080 }],
        [['192.0.2.3'], ['192.0.2.1', { ready: false, serving: true, terminating: true }]],
      ),
      slice('web-2', 'web', [{ name: 'http', port: 8080 }], [['192.0.2.1'], ['2001:db8::5']], {}),
      slice('api-1', 'api', [{ name: 'http', port: 9000 }], [['192.0.2.9'], ['192.0.2.8']]),
    ],
    secrets: [
      tlsSecret('a-tls', { crt: A_CERT, key: A_KEY }),
      tlsSecret('b-tls', { crt: B_CERT, key: B_KEY }),
    ],
    policies: [
      policy('p1', 'web', { interval: '9s' }, { age: 2 }),
      policy('p2', 'web', {}, { age: 1 }),
      policy('p3', 'api', { interval: 'x' }),
    ],
  });
}

function shuffled<T>(items: readonly T[], seed: number): T[] {
  const out = [...items];
  let s = seed;
  for (let i = out.length - 1; i > 0; i--) {
    s = (s * 1103515245 + 12345) % 2147483648;
    const j = s % (i + 1);
    [out[i], out[j]] = [out[j] as T, out[i] as T];
  }
  return out;
}

test('compile: deterministic: the same objects in any order give the same output, byte for byte', () => {
  const base = kitchenSink();
  const expected = compile(base);
  assert.deepEqual(expected.servedIngresses, ['other/c', 'shop/a', 'shop/b'], 'd lost its default');
  assert.ok(expected.problems.length >= 6, 'and it has problems to order');
  for (let seed = 1; seed <= 20; seed++) {
    const input: CompileInput = {
      ...base,
      ingresses: shuffled(base.ingresses, seed),
      services: shuffled(base.services, seed + 1),
      endpointSlices: shuffled(base.endpointSlices, seed + 2),
      secrets: shuffled(base.secrets, seed + 3),
      policies: shuffled(base.policies, seed + 4),
    };
    const out = compileRoutes(input);
    assert.deepEqual(out, expected);
    assert.equal(JSON.stringify(out), JSON.stringify(expected), 'same key order too');
  }
});

test('compile: problems are sorted by object, then reason, and not repeated', () => {
  const out = compileRoutes(kitchenSink());
  const keys = out.problems.map((p: CompileProblem) =>
    JSON.stringify([p.object.kind, p.object.namespace, p.object.name, p.reason, p.message]),
  );
  assert.deepEqual(keys, [...new Set(keys)].sort());
});

test('compile: the output shares no objects with the input or between backends', () => {
  const input = kitchenSink();
  const out = compileRoutes(input);
  const [first, second] = Object.values(out.table.backends);
  assert.ok(first && second);
  assert.notEqual(first.healthCheck, second.healthCheck);
  first.healthCheck.intervalMs = 1;
  assert.deepEqual(compileRoutes(input), compileRoutes(kitchenSink()), 'input untouched');
});

test('compile: 10,000 Ingresses × 5 endpoints compile in well under a few seconds', () => {
  const n = 10_000;
  const ingresses: V1Ingress[] = [];
  const services: V1Service[] = [];
  const endpointSlices: V1EndpointSlice[] = [];
  for (let i = 0; i < n; i++) {
    const name = `app-${i}`;
    ingresses.push(
      ingress(name, {
        age: i,
        rules: [rule(`${name}.example.test`, path('/', name, 80), path('/api', name, 80, 'Exact'))],
      }),
    );
    services.push(service(name));
    const base = 10 + (i % 200);
    endpointSlices.push(
      slice(
        `${name}-x`,
        name,
        [{ name: 'http', port: 8080 }],
        [0, 1, 2, 3, 4].map((k) => [`10.${(i >> 8) & 255}.${i & 255}.${base + k}`] as [string]),
      ),
    );
  }
  const started = performance.now();
  const out = compileRoutes(compileInput({ ingresses, services, endpointSlices }));
  const ms = performance.now() - started;
  console.log(`# compiled ${n} Ingresses × 5 endpoints in ${ms.toFixed(0)} ms`);
  assert.equal(Object.keys(out.table.virtualHosts).length, n);
  assert.equal(Object.keys(out.table.backends).length, n);
  assert.equal(out.table.backends['shop/app-9999:80']?.endpoints.length, 5);
  assert.equal(out.servedIngresses.length, n);
  assert.deepEqual(out.problems, []);
  assert.ok(ms < 10_000, `took ${ms} ms`);
  assert.deepEqual(validateRouteTable({ revision: 1, ...out.table }).problems, []);
});

// annotations.md#authentication: the users apply to every path of the Ingress.
test('compile: basic authentication on every route of the Ingress, its users sealed once for their Secret', () => {
  const sealer = fakeSealer();
  const users = 'foo:$apr1$elxsI/fT$SdAO/Y.voO91B1raUvhNA.\n';
  const input = compileInput({
    sealKey: sealer.sealKey,
    services: [service('web')],
    secrets: [
      {
        metadata: { namespace: NS, name: 'basic-auth' },
        type: 'Opaque',
        data: { auth: Buffer.from(users).toString('base64') },
      },
    ],
    ingresses: [
      ingress('staff', {
        annotations: {
          'nginx.ingress.kubernetes.io/auth-type': 'basic',
          'nginx.ingress.kubernetes.io/auth-secret': 'basic-auth',
          'nginx.ingress.kubernetes.io/auth-realm': 'Staff only',
        },
        rules: [rule('staff.test', path('/', 'web', 80), path('/admin', 'web', 80))],
      }),
      ingress('open', { rules: [rule('open.test', path('/', 'web', 80))] }),
    ],
  });
  const out = compileRoutes(input);
  assert.deepEqual(out.problems, []);
  const staff = out.table.virtualHosts[`${ADDRESS}|staff.test`]?.routes ?? [];
  assert.equal(staff.length, 2);
  const expected = {
    realm: 'Staff only',
    secret: { namespace: NS, name: 'basic-auth' },
    users: fakeSealer().sealKey('basic-auth:shop/basic-auth', users),
  };
  for (const route of staff) assert.deepEqual(route.basicAuth, expected);
  assert.equal(out.table.virtualHosts[`${ADDRESS}|open.test`]?.routes[0]?.basicAuth, undefined);
  assert.deepEqual(sealer.calls, [['basic-auth:shop/basic-auth', users]]);
  // What the dataplane reads back is what was compiled.
  const checked = validateRouteTable({ revision: 1, ...out.table });
  assert.deepEqual(
    checked.table.virtualHosts[`${ADDRESS}|staff.test`]?.routes[1]?.basicAuth,
    expected,
  );

  const missing = compileRoutes({ ...input, secrets: [] });
  assert.deepEqual(
    missing.table.virtualHosts[`${ADDRESS}|staff.test`]?.routes.map((r) => r.basicAuth),
    [{ realm: 'Staff only' }, { realm: 'Staff only' }],
    'a missing Secret keeps the routes, failing closed',
  );
  assert.deepEqual(
    missing.problems.map((p) => [p.object.name, p.reason]),
    [['staff', 'AuthSecretNotFound']],
  );
});
